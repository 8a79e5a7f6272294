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
	tests/unit/test_blk.c tests/unit/test_rng_dev.c \
	tests/unit/test_loop.c
tests_unit_vusim_unit_SOURCES += tests/unit/test_vufe.c
tests_unit_vusim_unit_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_vusim_unit_LDADD = libvusim.la $(CUNIT_LIBS) -lpthread
TESTS += tests/unit/vusim-unit

# Integration tier: the back-end and the reference front-end over real
# sockets and memfd memory, in both notification modes.
check_PROGRAMS += tests/integration/vusim-integ
tests_integration_vusim_integ_SOURCES = \
	tests/cu_run.c tests/cu_run.h \
	tests/support/echodev.c tests/support/echodev.h \
	tests/support/harness.c tests/support/harness.h \
	tests/integration/itest.c tests/integration/itest.h \
	tests/integration/main.c \
	tests/integration/test_backend.c \
	tests/integration/test_badinput.c
tests_integration_vusim_integ_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_integration_vusim_integ_LDADD = libvusim.la $(CUNIT_LIBS) $(LIBEVENT_LIBS) -lpthread
TESTS += tests/integration/vusim-integ
