# cosim fragment

# msg framing, proto names (vufe helper)
libvusim_la_SOURCES += \
	%reldir%/proto.c \
	%reldir%/msg.c
nobase_pkginclude_HEADERS += \
	%reldir%/proto.h \
	%reldir%/msg.h

# back-end core (lead)
libvusim_la_SOURCES += \
	%reldir%/loop.c \
	%reldir%/backend.c \
	%reldir%/backend_queue.c \
	%reldir%/backend-internal.h \
	%reldir%/server.c
nobase_pkginclude_HEADERS += \
	%reldir%/loop.h \
	%reldir%/backend.h \
	%reldir%/server.h

# guest memory and split virtqueue
libvusim_la_SOURCES += \
	%reldir%/mem.c \
	%reldir%/vq.c
nobase_pkginclude_HEADERS += \
	%reldir%/mem.h \
	%reldir%/vq.h

# reference front-end (vufe helper)
libvusim_la_SOURCES += \
	%reldir%/vufe.c \
	%reldir%/vufe_io.c \
	%reldir%/vufe_ring.c \
	%reldir%/vufe-internal.h
nobase_pkginclude_HEADERS += \
	%reldir%/vufe.h
