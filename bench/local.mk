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
