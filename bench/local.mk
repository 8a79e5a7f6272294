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

# bench-inband: in-band kick round trip and full request cycle against a raw
# AF_UNIX ping-pong of the same message sizes.
BENCHES += inband
EXTRA_PROGRAMS += bench/inband
bench_inband_SOURCES = bench/inband.c \
	tests/support/echodev.c tests/support/echodev.h
bench_inband_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_inband_LDADD = libvusim.la $(LIBEVENT_LIBS)
CLEANFILES += bench/inband$(EXEEXT)

bench-inband: bench/inband$(EXEEXT)
	bench/inband$(EXEEXT)
