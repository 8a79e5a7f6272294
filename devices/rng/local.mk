# devices/rng fragment: the virtio-rng model.
libvusim_la_SOURCES += %reldir%/rng.c
nobase_pkginclude_HEADERS += %reldir%/rng.h
