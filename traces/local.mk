# traces fragment: deterministic traces (issue #6), traces/FORMAT.md
libvusim_la_SOURCES += \
	%reldir%/writer.c \
	%reldir%/digest.c \
	%reldir%/crc32c.c \
	%reldir%/crc32c-internal.h \
	%reldir%/reader.c \
	%reldir%/reader_scan.c \
	%reldir%/reader-internal.h \
	%reldir%/describe.c \
	%reldir%/replay.c \
	%reldir%/replay_setup.c \
	%reldir%/replay_digest.c \
	%reldir%/replay-internal.h \
	%reldir%/export.c \
	%reldir%/record.c
nobase_pkginclude_HEADERS += \
	%reldir%/trace.h \
	%reldir%/record.h \
	%reldir%/reader.h \
	%reldir%/replay.h \
	%reldir%/export.h
# nettle's SHA-256 and libxxhash's XXH3-128 (traces/digest.c).
libvusim_la_CFLAGS += $(NETTLE_CFLAGS) $(XXHASH_CFLAGS)
libvusim_la_LIBADD += $(NETTLE_LIBS) $(XXHASH_LIBS)
# the lazy reader validates on a thread of its own (traces/reader_scan.c),
# replay checks digests on one (traces/replay_digest.c)
libvusim_la_LIBADD += -lpthread
EXTRA_DIST += %reldir%/FORMAT.md
