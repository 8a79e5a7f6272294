# devices fragment
libvusim_la_SOURCES += \
	%reldir%/registry.c \
	%reldir%/blk.c \
	%reldir%/rng.c

nobase_pkginclude_HEADERS += \
	%reldir%/dev.h \
	%reldir%/blk.h \
	%reldir%/rng.h

# Fault and timing rules: the generic engine devices use.
libvusim_la_SOURCES += %reldir%/faults/faults.c
nobase_pkginclude_HEADERS += %reldir%/faults/faults.h
