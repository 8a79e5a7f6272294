# cosim/wire fragment: what both ends of the socket share (protocol
# constants, message framing, guest memory regions and their SIGBUS guard,
# split virtqueues, the inflight region).
libvusim_la_SOURCES += \
	%reldir%/proto.c \
	%reldir%/msg.c \
	%reldir%/mem.c \
	%reldir%/memguard.c \
	%reldir%/vq.c \
	%reldir%/inflight.c
nobase_pkginclude_HEADERS += \
	%reldir%/proto.h \
	%reldir%/msg.h \
	%reldir%/mem.h \
	%reldir%/memguard.h \
	%reldir%/vq.h \
	%reldir%/inflight.h
