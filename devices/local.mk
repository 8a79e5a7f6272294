# devices fragment: the device API (dev.h), a device's guest side (work.h)
# and the registry; one folder per device (devices/NAME/local.mk).
libvusim_la_SOURCES += %reldir%/registry.c %reldir%/dev.c
nobase_pkginclude_HEADERS += %reldir%/dev.h %reldir%/work.h
include %reldir%/blk/local.mk
include %reldir%/rng/local.mk
include %reldir%/sc-blk/local.mk

# Fault and timing rules: the generic engine devices use.
libvusim_la_SOURCES += %reldir%/faults/faults.c
nobase_pkginclude_HEADERS += %reldir%/faults/faults.h
