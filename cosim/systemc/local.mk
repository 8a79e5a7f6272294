# cosim/systemc fragment: libvusim-systemc, the SystemC/TLM-2.0 bridge
# (C++17; built only when configure found SystemC >= 2.3.3). It knows no
# device: device models on it live in their folders (devices/sc-blk adds
# its sources to this library).
EXTRA_DIST += vusim-systemc.pc.in cosim/systemc/DESIGN.md
if HAVE_SYSTEMC
lib_LTLIBRARIES += libvusim-systemc.la
libvusim_systemc_la_SOURCES = \
	%reldir%/kernel.cc \
	%reldir%/bridge.cc \
	%reldir%/program.cc
libvusim_systemc_la_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS)
libvusim_systemc_la_LIBADD = libvusim-program.la libvusim.la \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS) $(SYSTEMC_LIBS) -lpthread
libvusim_systemc_la_LDFLAGS = -version-info 0:0:0
nobase_pkginclude_HEADERS += \
	%reldir%/kernel.h \
	%reldir%/bridge.h \
	%reldir%/program.h
pkgconfig_DATA += vusim-systemc.pc
endif
