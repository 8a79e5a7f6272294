# Benchmarks: built only by their `make bench-NAME` rule, never by `make`.

# bench-calendar: the calendar against SystemC's kernel on the hold model.
BENCHES += calendar
EXTRA_PROGRAMS += bench/calendar
bench_calendar_SOURCES = bench/calendar.c bench/calendar-hold.h
bench_calendar_LDADD = libvusim.la
CLEANFILES += bench/calendar$(EXEEXT)
EXTRA_DIST += bench/calendar_systemc.cc
if HAVE_SYSTEMC
EXTRA_PROGRAMS += bench/calendar-systemc
bench_calendar_systemc_SOURCES = bench/calendar_systemc.cc \
	bench/calendar-hold.h
bench_calendar_systemc_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS)
bench_calendar_systemc_LDADD = libvusim.la $(SYSTEMC_LIBS)
CLEANFILES += bench/calendar-systemc$(EXEEXT)
bench_calendar_sc = bench/calendar-systemc$(EXEEXT)
bench_calendar_sc_arg = --systemc=bench/calendar-systemc$(EXEEXT)
endif

bench-calendar: bench/calendar$(EXEEXT) $(bench_calendar_sc)
	bench/calendar$(EXEEXT) $(bench_calendar_sc_arg)

# bench-inband: in-band kick round trip and full request cycle against raw
# AF_UNIX baselines of the same messages (polling as vusim, and blocking).
BENCHES += inband
EXTRA_PROGRAMS += bench/inband
bench_inband_SOURCES = bench/inband.c bench/bench-util.c bench/bench-util.h \
	tests/support/echodev.c tests/support/echodev.h
bench_inband_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_inband_LDADD = libvufe.la libvusim.la $(LIBEVENT_LIBS)
CLEANFILES += bench/inband$(EXEEXT)

bench-inband: bench/inband$(EXEEXT)
	bench/inband$(EXEEXT)

# bench-guests: real guests (UML, QEMU) on vusim blk against their own disk
# drivers (UML's ubd, QEMU's virtio-blk-pci) on the same file.
BENCHES += guests
EXTRA_DIST += bench/guests.sh tests/guest/fsbench.sh
bench-guests: vusim$(EXEEXT)
	builddir='$(abs_top_builddir)' bash $(srcdir)/bench/guests.sh

# bench-timetravel: simulation speed of time-travel UML guests under vusim's
# controller (guest seconds per wall second, idle and I/O), and the
# controller's message round trip against a raw AF_UNIX ping-pong (ttrtt).
BENCHES += timetravel
EXTRA_DIST += bench/timetravel.sh

bench-timetravel: vusim$(EXEEXT) bench/ttrtt$(EXEEXT)
	builddir='$(abs_top_builddir)' bash $(srcdir)/bench/timetravel.sh

# bench-trace: recording overhead on the in-band request cycle, and replay
# speed against the wall time of a recorded demo run (bench/trace.sh).
BENCHES += trace
EXTRA_PROGRAMS += bench/trace
bench_trace_SOURCES = bench/trace.c bench/bench-util.c bench/bench-util.h
bench_trace_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_trace_LDADD = libvufe.la libvusim.la $(LIBEVENT_LIBS)
CLEANFILES += bench/trace$(EXEEXT)
EXTRA_DIST += bench/trace.sh

bench-trace: vusim$(EXEEXT) bench/trace$(EXEEXT)
	builddir='$(abs_top_builddir)' bash $(srcdir)/bench/trace.sh


# bench-ttrtt: the time-travel controller's message round trip against raw
# ping-pongs of 16-byte messages, polling and blocking (used by
# bench-timetravel too).
BENCHES += ttrtt
EXTRA_PROGRAMS += bench/ttrtt
bench_ttrtt_SOURCES = bench/ttrtt.c bench/bench-util.c bench/bench-util.h
bench_ttrtt_LDADD = libvufe.la libvusim.la
CLEANFILES += bench/ttrtt$(EXEEXT)

bench-ttrtt: bench/ttrtt$(EXEEXT)
	bench/ttrtt$(EXEEXT)

# bench-systemc: devices/sc-blk/local.mk (the SystemC virtio-blk adapter
# against the C blk model, the device's own benchmark).
# bench-qemu: vusim's QEMU (scripts/build-qemu.sh) with in-band
# notifications against Debian's QEMU with eventfds on the same I/O
# workload (both TCG), and its speed as a time-travel participant.
BENCHES += qemu
EXTRA_DIST += bench/qemu.sh
bench-qemu: vusim$(EXEEXT)
	builddir='$(abs_top_builddir)' bash $(srcdir)/bench/qemu.sh

# bench-rules: the in-band request cycle on blk with 10 fault rules that
# never match against none.
BENCHES += rules
EXTRA_PROGRAMS += bench/rules
bench_rules_SOURCES = bench/rules.c bench/bench-util.c bench/bench-util.h
bench_rules_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_rules_LDADD = libvufe.la libvusim.la $(LIBEVENT_LIBS)
CLEANFILES += bench/rules$(EXEEXT)

bench-rules: bench/rules$(EXEEXT)
	bench/rules$(EXEEXT)
