# cosim/program fragment: the vusim program (main, multi, the one option
# parser, serving, the embedded demo, the --stats summary, the trace and
# replay subcommands) and libvusim-program, the same without main().
bin_PROGRAMS += vusim
vusim_SOURCES = \
	%reldir%/vusim.c \
	%reldir%/vusim_run.c \
	%reldir%/vusim-internal.h \
	%reldir%/vusim-main.h \
	%reldir%/opts.c \
	%reldir%/opts.h \
	%reldir%/stats.c \
	%reldir%/stats.h \
	%reldir%/demo.c \
	%reldir%/demo.h \
	%reldir%/demo-internal.h \
	%reldir%/demo_probe.c \
	%reldir%/demo_report.c \
	%reldir%/demo_work.c \
	%reldir%/trace_tool.c \
	%reldir%/trace_tool.h
vusim_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS)
vusim_LDADD = libvufe.la libvusim.la $(LIBEVENT_LIBS) $(JANSSON_LIBS) \
	-lpthread
dist_man_MANS += man/vusim.1 man/vusim-blk.1 man/vusim-rng.1

# The vusim program without its main(): vusim_main() for a program that
# brings its own device (an out-of-tree model, examples/ramdisk;
# libvusim-systemc's vusim_sc::main). Installed with vusim-main.h; vusim.pc
# links it.
lib_LTLIBRARIES += libvusim-program.la
libvusim_program_la_SOURCES = $(vusim_SOURCES)
libvusim_program_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) \
	-DVUSIM_NO_MAIN
libvusim_program_la_LIBADD = libvufe.la libvusim.la $(LIBEVENT_LIBS) \
	$(JANSSON_LIBS) -lpthread
libvusim_program_la_LDFLAGS = -version-info 0:0:0
nobase_pkginclude_HEADERS += %reldir%/vusim-main.h

# One entry point per device (vusim-blk, ...): symlinks to vusim, which
# takes the device from its name; the vhost-user JSON descriptors that QEMU
# and libvirt read (docs/interop/vhost-user.json) point at them.
vusim_devices = blk rng
vhostuserdir = $(datadir)/qemu/vhost-user
vhostuser_DATA = \
	share/qemu/vhost-user/50-vusim-blk.json \
	share/qemu/vhost-user/50-vusim-rng.json
EXTRA_DIST += \
	share/qemu/vhost-user/50-vusim-blk.json.in \
	share/qemu/vhost-user/50-vusim-rng.json.in
CLEANFILES += $(vhostuser_DATA)
vusim_json_gen = $(AM_V_GEN)$(MKDIR_P) $(@D) && \
	sed -e 's|@bindir[@]|$(bindir)|g' -e 's|@VERSION[@]|$(VERSION)|g' \
	    $(srcdir)/$@.in > $@.tmp && mv $@.tmp $@
share/qemu/vhost-user/50-vusim-blk.json: \
		$(srcdir)/share/qemu/vhost-user/50-vusim-blk.json.in Makefile
	$(vusim_json_gen)
share/qemu/vhost-user/50-vusim-rng.json: \
		$(srcdir)/share/qemu/vhost-user/50-vusim-rng.json.in Makefile
	$(vusim_json_gen)

install-exec-hook:
	cd $(DESTDIR)$(bindir) && for d in $(vusim_devices); do \
	    rm -f vusim-$$d$(EXEEXT) && \
	    $(LN_S) vusim$(EXEEXT) vusim-$$d$(EXEEXT) || exit 1; \
	done
uninstall-hook:
	for d in $(vusim_devices); do \
	    rm -f $(DESTDIR)$(bindir)/vusim-$$d$(EXEEXT); \
	done
