# cosim/frontend fragment: vufe, the reference front-end, as a library of
# its own (not part of the installed libvusim) for the tests, the benches
# and the demo, with work.c, which puts a device's guest side
# (devices/work.h) in its guest memory. It uses libvusim (wire layer, log):
# link both, libvufe first.
noinst_LTLIBRARIES += libvufe.la
libvufe_la_SOURCES = \
	%reldir%/vufe.c \
	%reldir%/vufe_io.c \
	%reldir%/vufe_ring.c \
	%reldir%/work.c \
	%reldir%/vufe-internal.h
noinst_HEADERS += %reldir%/vufe.h %reldir%/work.h
