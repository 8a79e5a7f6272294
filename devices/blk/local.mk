# devices/blk fragment: the virtio-blk model.
libvusim_la_SOURCES += %reldir%/blk.c %reldir%/blk_describe.c \
	%reldir%/blk_work.c
nobase_pkginclude_HEADERS += %reldir%/blk.h
