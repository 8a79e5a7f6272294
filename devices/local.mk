# devices fragment: the device API and registry; one folder per device.
libvusim_la_SOURCES += %reldir%/registry.c %reldir%/dev.c
nobase_pkginclude_HEADERS += %reldir%/dev.h %reldir%/work.h
include %reldir%/blk/local.mk
include %reldir%/rng/local.mk
include %reldir%/sc-blk/local.mk

# Fault and timing rules: the generic engine devices use.
libvusim_la_SOURCES += %reldir%/faults/faults.c
nobase_pkginclude_HEADERS += %reldir%/faults/faults.h
