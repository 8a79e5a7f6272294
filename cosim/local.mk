# cosim fragment: one product per folder.
#   wire/      what both ends of the socket share (libvusim)
#   backend/   the vhost-user back-end (libvusim)
#   frontend/  vufe, the reference front-end (libvufe, not installed)
#   program/   the vusim program, and libvusim-program (vusim_main())
#   control/   its control socket (below)
include %reldir%/wire/local.mk
include %reldir%/backend/local.mk
include %reldir%/frontend/local.mk
include %reldir%/program/local.mk

# the control socket and its client (jansson: the QMP side's JSON)
vusim_SOURCES += \
	%reldir%/control/control.c \
	%reldir%/control/control.h \
	%reldir%/control/client.c
