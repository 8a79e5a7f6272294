# devices/blk fragment: the virtio-blk model, its words for hosts
# (blk_describe.c) and its guest side (blk_work.c).
libvusim_la_SOURCES += %reldir%/blk.c %reldir%/blk_describe.c \
	%reldir%/blk_work.c
nobase_pkginclude_HEADERS += %reldir%/blk.h
