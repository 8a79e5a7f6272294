# sim fragment: the discrete-event kernel (calendar, time, clocks, rng,
# log, the time-travel controller); uses nothing else in vusim.
libvusim_la_SOURCES += \
	%reldir%/log.c \
	%reldir%/time.c \
	%reldir%/wallclock.c \
	%reldir%/cal.c \
	%reldir%/clock.c \
	%reldir%/rng.c \
	%reldir%/sock.c \
	%reldir%/tt.c

nobase_pkginclude_HEADERS += \
	%reldir%/log.h \
	%reldir%/time.h \
	%reldir%/wallclock.h \
	%reldir%/cal.h \
	%reldir%/clock.h \
	%reldir%/rng.h \
	%reldir%/sock.h \
	%reldir%/tt.h
