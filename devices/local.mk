# devices fragment
libvusim_la_SOURCES += \
	%reldir%/registry.c \
	%reldir%/blk.c \
	%reldir%/rng.c

nobase_pkginclude_HEADERS += \
	%reldir%/dev.h \
	%reldir%/blk.h \
	%reldir%/rng.h
