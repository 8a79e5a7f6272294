# Unit tier: one CUnit binary, one suite per module.
check_PROGRAMS += tests/unit/vusim-unit
tests_unit_vusim_unit_SOURCES = \
	tests/cu_run.c tests/cu_run.h \
	tests/unit/main.c tests/unit/suites.h \
	tests/unit/test_time.c \
	tests/unit/test_cal.c \
	tests/unit/test_clock.c \
	tests/unit/test_rng.c
tests_unit_vusim_unit_SOURCES += tests/unit/test_msg.c
tests_unit_vusim_unit_SOURCES += tests/unit/test_mem.c tests/unit/test_vq.c
tests_unit_vusim_unit_SOURCES += tests/unit/fakehost.c tests/unit/fakehost.h \
	tests/unit/test_blk.c tests/unit/test_rng_dev.c
tests_unit_vusim_unit_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_vusim_unit_LDADD = libvusim.la $(CUNIT_LIBS)
TESTS += tests/unit/vusim-unit
