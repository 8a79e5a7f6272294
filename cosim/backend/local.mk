# cosim/backend fragment: the vhost-user back-end (lifecycle and socket,
# dispatch, queues, back-end channel, the loop, the server).
libvusim_la_SOURCES += \
	%reldir%/loop.c \
	%reldir%/backend.c \
	%reldir%/backend_queue.c \
	%reldir%/backend_channel.c \
	%reldir%/backend-internal.h \
	%reldir%/server.c
nobase_pkginclude_HEADERS += \
	%reldir%/loop.h \
	%reldir%/backend.h \
	%reldir%/server.h \
	%reldir%/observer.h
