# Unit tier: one CUnit binary, one suite per module.
check_PROGRAMS += tests/unit/vusim-unit
tests_unit_vusim_unit_SOURCES = \
	tests/cu_run.c tests/cu_run.h \
	tests/unit/main.c tests/unit/suites.h \
	tests/unit/sim/test_time.c \
	tests/unit/sim/test_cal.c \
	tests/unit/sim/test_clock.c \
	tests/unit/sim/test_rng.c
tests_unit_vusim_unit_SOURCES += tests/unit/cosim/wire/test_msg.c
tests_unit_vusim_unit_SOURCES += tests/unit/cosim/wire/test_mem.c \
	tests/unit/cosim/wire/test_vq.c
tests_unit_vusim_unit_SOURCES += \
	tests/unit/devices/fakehost.c tests/unit/devices/fakehost.h \
	tests/unit/devices/blk/test_blk.c tests/unit/devices/blk/test_blk_work.c \
	tests/unit/devices/rng/test_rng_dev.c \
	tests/unit/cosim/backend/test_loop.c
tests_unit_vusim_unit_SOURCES += tests/unit/cosim/frontend/test_vufe.c
tests_unit_vusim_unit_SOURCES += tests/unit/devices/faults/test_faults.c
# The program's option parser is not in a library: its source is built in.
tests_unit_vusim_unit_SOURCES += tests/unit/cosim/program/test_opts.c \
	cosim/program/opts.c cosim/program/opts.h
tests_unit_vusim_unit_SOURCES += tests/unit/traces/test_trace.c \
	tests/unit/traces/test_trace_replay.c \
	tests/unit/traces/test_trace_lazy.c \
	tests/support/tmpfile.c tests/support/tmpfile.h
tests_unit_vusim_unit_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_vusim_unit_LDADD = libvufe.la libvusim.la $(CUNIT_LIBS) $(LIBEVENT_LIBS) -lpthread
# test_trace_replay parses the Perfetto export back with jansson.
tests_unit_vusim_unit_CFLAGS += $(JANSSON_CFLAGS)
tests_unit_vusim_unit_LDADD += $(JANSSON_LIBS)
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
	tests/integration/test_badinput.c \
	tests/integration/test_devices.c \
	tests/integration/test_tt.c \
	tests/integration/test_inflight.c
tests_integration_vusim_integ_SOURCES += tests/integration/test_trace.c \
	tests/support/tmpfile.c tests/support/tmpfile.h
tests_integration_vusim_integ_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LIBEVENT_CFLAGS)
tests_integration_vusim_integ_LDADD = libvufe.la libvusim.la $(CUNIT_LIBS) $(LIBEVENT_LIBS) -lpthread
TESTS += tests/integration/vusim-integ

# CLI tier: the vusim program's options, exit statuses, signals and demo.
check_PROGRAMS += tests/jsoncheck tests/sockfd
tests_jsoncheck_SOURCES = tests/jsoncheck.c
tests_jsoncheck_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_jsoncheck_LDADD = $(JANSSON_LIBS)
tests_sockfd_SOURCES = tests/sockfd.c
dist_check_SCRIPTS += tests/cli.sh
EXTRA_DIST += tests/check-lib.sh
TESTS += tests/cli.sh
# An out-of-tree model against the installed vusim (examples/ramdisk, built
# by examples/local.mk): its options, the integration tier's blk cases,
# record and replay.
dist_check_SCRIPTS += tests/examples/ramdisk.sh
TESTS += tests/examples/ramdisk.sh
# Traces through the program: record, replay, damaged files, tools.
dist_check_SCRIPTS += tests/trace.sh
TESTS += tests/trace.sh
# The control socket through the program: stop, step, break, bad input.
dist_check_SCRIPTS += tests/control.sh
TESTS += tests/control.sh
# scripts/setup.sh's deb-src entry for `apt-get source` (build-qemu.sh).
dist_check_SCRIPTS += tests/setup-debsrc.sh
TESTS += tests/setup-debsrc.sh
# The QEMU patch series stays fit to post upstream: QEMU's checkpatch.pl
# from the source build-qemu.sh unpacked, authors and sign-offs, subjects,
# wrapping, QAPI Since, the cover letter. Skips without the source, or
# fails then when VUSIM_QEMU_REQUIRED is set (scripts/test.sh).
dist_check_SCRIPTS += tests/check-qemu-patches.sh
TESTS += tests/check-qemu-patches.sh

# Guest tier: real guests (User-Mode Linux, QEMU) against the vusim program;
# each test skips (77) when its packages are missing, or fails then when
# VUSIM_GUEST_REQUIRED is set (scripts/test.sh sets it). Images are built at
# test time into $(builddir)/guest by tests/guest/mkimage.sh.
check_PROGRAMS += tests/guest/rng-expect
tests_guest_rng_expect_SOURCES = tests/guest/rng-expect.c
tests_guest_rng_expect_LDADD = libvusim.la
GUEST_TESTS = \
	tests/guest/uml-blk-inband.sh \
	tests/guest/uml-blk-eventfd.sh \
	tests/guest/qemu-blk.sh \
	tests/guest/qemu-rng.sh \
	tests/guest/qemu-inband.sh
# A UML guest's trace replays with no divergence (traces helper).
GUEST_TESTS += tests/guest/uml-blk-trace.sh
# A UML guest SIGKILLed mid-write: flushed blocks kept, vusim serves on.
GUEST_TESTS += tests/guest/uml-kill.sh
# vusim SIGKILLed five times under a QEMU guest (reconnect=1): nothing lost.
GUEST_TESTS += tests/guest/qemu-reconnect.sh
# A UML guest against examples/ramdisk, built against the installed vusim.
GUEST_TESTS += tests/guest/uml-ramdisk.sh
dist_check_SCRIPTS += $(GUEST_TESTS) \
	tests/guest/uml-blk.sh \
	tests/guest/mkimage.sh
EXTRA_DIST += \
	tests/guest/lib.sh \
	tests/guest/workload.sh \
	tests/guest/uml-demo.sh
TESTS += $(GUEST_TESTS)
clean-local: clean-local-guest
.PHONY: clean-local-guest
clean-local-guest:
	-rm -rf guest

# Time-travel tier: vusim as the UML time-travel controller (issue #7).
# Needs a UML with CONFIG_UML_TIME_TRAVEL_SUPPORT ($VUSIM_TT_UML, else
# scripts/build-tt-uml.sh builds and caches one); each test skips (77)
# without it, or fails when VUSIM_TT_REQUIRED is set (scripts/test.sh). The guest root is built into $(builddir)/guest-tt.
TT_TESTS = \
	tests/tt/tt-blk.sh \
	tests/tt/tt-two.sh \
	tests/tt/tt-ext4.sh \
	tests/tt/tt-writers.sh \
	tests/tt/tt-random.sh \
	tests/tt/tt-two-ext4.sh \
	tests/tt/tt-rdtsc.sh
# Fault rules and the control socket against the guest kernel (issue 14).
TT_TESTS += tests/tt/tt-faults.sh
dist_check_SCRIPTS += $(TT_TESTS)
# vusim's QEMU on the time-travel calendar (scripts/build-qemu.sh; each
# skips without it, or fails when VUSIM_QEMU_REQUIRED is set).
TT_QEMU_TESTS = tests/tt/tt-qemu.sh tests/tt/tt-mixed.sh
dist_check_SCRIPTS += $(TT_QEMU_TESTS)
EXTRA_DIST += \
	tests/tt/lib.sh \
	tests/tt/init.sh \
	tests/tt/init-host.sh \
	tests/tt/init-lib.sh \
	tests/tt/init-faults.sh \
	tests/tt/faultprobe.c \
	tests/tt/ttprobe.c \
	tests/tt/rdtsc.c \
	tests/tt/init-nest.sh
TESTS += $(TT_TESTS) $(TT_QEMU_TESTS)
clean-local: clean-local-tt
.PHONY: clean-local-tt
clean-local-tt:
	-rm -rf guest-tt
include tests/fuzz/local.mk

# Soak tier: the vusim program under the reference front-end at full rate
# with disconnects, reloads, resets and hostile messages; fd, RSS and
# mapping growth checked (tests/soak/soak.c). make check runs 30 s
# (SOAK_CHECK_SECONDS); `make soak SOAK_SECONDS=N` runs N (default 600).
check_PROGRAMS += tests/soak/soak
tests_soak_soak_SOURCES = tests/soak/soak.c
tests_soak_soak_LDADD = libvufe.la libvusim.la
dist_check_SCRIPTS += tests/soak/soak.sh
TESTS += tests/soak/soak.sh
SOAK_SECONDS = 600
.PHONY: soak
soak: tests/soak/soak$(EXEEXT) vusim$(EXEEXT)
	builddir='$(abs_top_builddir)' nice -n 19 tests/soak/soak$(EXEEXT) \
	    --seconds='$(SOAK_SECONDS)'

# Layout tier: no cycle between folders or modules, and the lower layers
# record only through observers (tests/check-layout.sh).
dist_check_SCRIPTS += tests/check-layout.sh
TESTS += tests/check-layout.sh

# Limits of the vusim program: a full disk under a trace, a backing file
# that shrinks or goes, many front-ends at once (tests/limits.sh).
dist_check_SCRIPTS += tests/limits.sh
TESTS += tests/limits.sh

# Devices tier: no host-side file names a blk- or rng-specific constant,
# option or function; hosts ask struct dev_ops (tests/check-devices.sh).
dist_check_SCRIPTS += tests/check-devices.sh
TESTS += tests/check-devices.sh

# The build cache build-tt-uml.sh and build-qemu.sh share
# (scripts/build-lib.sh), with a stand-in build (tests/check-build-lib.sh).
dist_check_SCRIPTS += tests/check-build-lib.sh
TESTS += tests/check-build-lib.sh
