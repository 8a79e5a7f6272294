# examples fragment: SystemC models built on libvusim-systemc, installed
# as programs (vusim-sc-ssd, vusim-sc-rng) and tested in the tree; and
# ramdisk, a model built out of the tree against the installed vusim.
EXTRA_DIST += \
	examples/systemc-ssd/main.cc examples/systemc-ssd/ssd.cc \
	examples/systemc-ssd/ssd.h examples/systemc-rng/main.cc \
	examples/systemc-rng/rng.cc examples/systemc-rng/rng.h
if HAVE_SYSTEMC
bin_PROGRAMS += vusim-sc-ssd vusim-sc-rng
vusim_sc_ssd_SOURCES = examples/systemc-ssd/main.cc \
	examples/systemc-ssd/ssd.cc examples/systemc-ssd/ssd.h
vusim_sc_ssd_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS)
vusim_sc_ssd_LDADD = libvusim-systemc.la libvusim.la $(SYSTEMC_LIBS)
vusim_sc_rng_SOURCES = examples/systemc-rng/main.cc \
	examples/systemc-rng/rng.cc examples/systemc-rng/rng.h
vusim_sc_rng_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS)
vusim_sc_rng_LDADD = libvusim-systemc.la libvusim.la $(SYSTEMC_LIBS)
dist_man_MANS += man/vusim-sc-ssd.1 man/vusim-sc-rng.1
endif

# examples/ramdisk: an out-of-tree device model. make check installs vusim
# into a staging directory (DESTDIR) and builds the example there with its
# own Makefile, through pkg-config alone (the staged vusim.pc, read with
# PKG_CONFIG_SYSROOT_DIR); tests/examples/ramdisk.sh and
# tests/guest/uml-ramdisk.sh run the program. The stamp holds the staged
# library directory.
EXTRA_DIST += examples/ramdisk/ramdisk.c examples/ramdisk/Makefile
RAMDISK_STAGE = $(abs_top_builddir)/tests/examples/stage
RAMDISK_BUILD = $(abs_top_builddir)/tests/examples/ramdisk
SCRNG_BUILD = $(abs_top_builddir)/tests/examples/sc-rng
check_DATA += tests/examples/ramdisk.stamp
CLEANFILES += tests/examples/ramdisk.stamp tests/examples/install.log
tests/examples/ramdisk.stamp: $(lib_LTLIBRARIES) vusim.pc \
		$(nobase_pkginclude_HEADERS) \
		$(srcdir)/examples/ramdisk/ramdisk.c \
		$(srcdir)/examples/ramdisk/Makefile
	$(AM_V_GEN)rm -rf $(RAMDISK_STAGE) $(RAMDISK_BUILD) && \
	$(MKDIR_P) $(RAMDISK_BUILD) && \
	$(MAKE) $(AM_MAKEFLAGS) install DESTDIR=$(RAMDISK_STAGE) \
	    >tests/examples/install.log 2>&1 && \
	cp $(srcdir)/examples/ramdisk/ramdisk.c \
	    $(srcdir)/examples/ramdisk/Makefile $(RAMDISK_BUILD)/ && \
	chmod u+w $(RAMDISK_BUILD)/* && \
	PKG_CONFIG_SYSROOT_DIR=$(RAMDISK_STAGE) \
	PKG_CONFIG_PATH=$(RAMDISK_STAGE)$(libdir)/pkgconfig \
	$(MAKE) -C $(RAMDISK_BUILD) PKG_CONFIG="$(PKG_CONFIG)" CC="$(CC)" \
	    CFLAGS="$(CFLAGS) $(VUSIM_CFLAGS)" LDFLAGS="$(LDFLAGS)" && \
	echo '$(RAMDISK_STAGE)$(libdir)' >$@
clean-local: clean-local-ramdisk
.PHONY: clean-local-ramdisk
clean-local-ramdisk:
	rm -rf $(RAMDISK_STAGE) $(RAMDISK_BUILD) $(SCRNG_BUILD)

if HAVE_SYSTEMC
# examples/systemc-rng built as README tells a user to: c++ with
# `pkg-config --cflags --libs vusim-systemc` alone, against the staged
# install that tests/examples/ramdisk.stamp makes (vusim-systemc.pc, the
# headers under include/vusim, libvusim-systemc), with -Wall -Wextra
# -Werror: the installed headers must not warn in a user's build.
# tests/systemc/programs.sh runs the program. The stamp holds the staged
# library directory.
check_DATA += tests/examples/sc-rng.stamp
CLEANFILES += tests/examples/sc-rng.stamp
tests/examples/sc-rng.stamp: tests/examples/ramdisk.stamp vusim-systemc.pc \
		$(srcdir)/examples/systemc-rng/main.cc \
		$(srcdir)/examples/systemc-rng/rng.cc \
		$(srcdir)/examples/systemc-rng/rng.h
	$(AM_V_GEN)rm -rf $(SCRNG_BUILD) && \
	$(MKDIR_P) $(SCRNG_BUILD)/examples/systemc-rng && \
	cp $(srcdir)/examples/systemc-rng/main.cc \
	    $(srcdir)/examples/systemc-rng/rng.cc \
	    $(srcdir)/examples/systemc-rng/rng.h \
	    $(SCRNG_BUILD)/examples/systemc-rng/ && \
	chmod u+w $(SCRNG_BUILD)/examples/systemc-rng/* && \
	flags=`PKG_CONFIG_SYSROOT_DIR=$(RAMDISK_STAGE) \
	    PKG_CONFIG_PATH=$(RAMDISK_STAGE)$(libdir)/pkgconfig \
	    $(PKG_CONFIG) --cflags --libs vusim-systemc` && \
	(cd $(SCRNG_BUILD) && \
	 $(CXX) -std=c++17 $(CXXFLAGS) -Wall -Wextra -Werror -I. \
	    -o vusim-sc-rng examples/systemc-rng/main.cc \
	    examples/systemc-rng/rng.cc $$flags $(LDFLAGS)) && \
	echo '$(RAMDISK_STAGE)$(libdir)' >$@
endif
