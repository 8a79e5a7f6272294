# Fuzz targets (tests/fuzz/README). Each target is one source file built
# two ways: a libFuzzer binary (`make fuzz`, in a clang build of its own
# under $(builddir)/fuzz) and a replay program that runs the committed
# corpus and every past crash in make check.
FUZZ_TARGETS = msg vq blk rng trace tt faults
FUZZ_SECONDS = 60
FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/common.c
FUZZ_DEVREQ = tests/fuzz/devreq.h tests/fuzz/devreq.c \
	tests/unit/devices/fakehost.c tests/unit/devices/fakehost.h

FUZZ_REPLAYS = tests/fuzz/fuzz-msg-replay tests/fuzz/fuzz-vq-replay \
	tests/fuzz/fuzz-blk-replay tests/fuzz/fuzz-rng-replay \
	tests/fuzz/fuzz-trace-replay tests/fuzz/fuzz-tt-replay \
	tests/fuzz/fuzz-faults-replay
check_PROGRAMS += $(FUZZ_REPLAYS)
FUZZ_BINS = tests/fuzz/fuzz-msg tests/fuzz/fuzz-vq tests/fuzz/fuzz-blk \
	tests/fuzz/fuzz-rng tests/fuzz/fuzz-trace tests/fuzz/fuzz-tt \
	tests/fuzz/fuzz-faults
EXTRA_PROGRAMS += $(FUZZ_BINS)

tests_fuzz_fuzz_msg_replay_SOURCES = tests/fuzz/fuzz_msg.c \
	tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_fuzz_msg_SOURCES = tests/fuzz/fuzz_msg.c $(FUZZ_COMMON)
tests_fuzz_fuzz_vq_replay_SOURCES = tests/fuzz/fuzz_vq.c \
	tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_fuzz_vq_SOURCES = tests/fuzz/fuzz_vq.c $(FUZZ_COMMON)
tests_fuzz_fuzz_blk_replay_SOURCES = tests/fuzz/fuzz_blk.c \
	tests/fuzz/replay_main.c $(FUZZ_COMMON) $(FUZZ_DEVREQ)
tests_fuzz_fuzz_blk_SOURCES = tests/fuzz/fuzz_blk.c $(FUZZ_COMMON) \
	$(FUZZ_DEVREQ)
tests_fuzz_fuzz_rng_replay_SOURCES = tests/fuzz/fuzz_rng.c \
	tests/fuzz/replay_main.c $(FUZZ_COMMON) $(FUZZ_DEVREQ)
tests_fuzz_fuzz_rng_SOURCES = tests/fuzz/fuzz_rng.c $(FUZZ_COMMON) \
	$(FUZZ_DEVREQ)
tests_fuzz_fuzz_trace_replay_SOURCES = tests/fuzz/fuzz_trace.c \
	tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_fuzz_trace_SOURCES = tests/fuzz/fuzz_trace.c $(FUZZ_COMMON)
tests_fuzz_fuzz_tt_replay_SOURCES = tests/fuzz/fuzz_tt.c \
	tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_fuzz_tt_SOURCES = tests/fuzz/fuzz_tt.c $(FUZZ_COMMON)
tests_fuzz_fuzz_faults_replay_SOURCES = tests/fuzz/fuzz_faults.c \
	tests/fuzz/replay_main.c $(FUZZ_COMMON)
tests_fuzz_fuzz_faults_SOURCES = tests/fuzz/fuzz_faults.c $(FUZZ_COMMON)
tests_fuzz_fuzz_faults_replay_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_faults_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_faults_LDFLAGS = $(FUZZ_LDFLAGS)

# Every program links the library; the libFuzzer ones add FUZZ_LDFLAGS,
# which tests/fuzz/run.sh sets to -fsanitize=fuzzer,... in the clang build.
FUZZ_LIBS = libvusim.la $(LIBEVENT_LIBS)
tests_fuzz_fuzz_msg_replay_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_vq_replay_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_blk_replay_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_rng_replay_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_trace_replay_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_tt_replay_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_msg_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_vq_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_blk_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_rng_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_trace_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_tt_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_msg_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_vq_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_blk_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_rng_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_trace_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_tt_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_msg_replay_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_fuzz_fuzz_msg_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_fuzz_fuzz_tt_replay_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_fuzz_fuzz_tt_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)

# make check: the corpus and the regression inputs through every target,
# then a short libFuzzer run of each (the CI smoke).
dist_check_SCRIPTS += tests/fuzz/replay.sh tests/fuzz/smoke.sh
EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/README tests/fuzz/corpus \
	tests/fuzz/regress
TESTS += tests/fuzz/replay.sh tests/fuzz/smoke.sh

# make fuzz [FUZZ_SECONDS=N] [FUZZ_TARGETS="msg vq"]: each target N seconds;
# FUZZ_RUNS=N: each target N executions instead (the long run).
FUZZ_RUNS =
# FUZZ_WORKERS=N: N processes on each target, sharing its corpus.
FUZZ_WORKERS =
.PHONY: fuzz
fuzz:
	FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_TARGETS='$(FUZZ_TARGETS)' \
	    FUZZ_RUNS='$(FUZZ_RUNS)' FUZZ_WORKERS='$(FUZZ_WORKERS)' \
	    $(SHELL) '$(abs_top_srcdir)/tests/fuzz/run.sh' \
	    '$(abs_top_srcdir)' '$(abs_top_builddir)'

# Seeds from a recorded guest run (tests/fuzz/README says how); built on
# demand: make tests/fuzz/mkseeds.
EXTRA_PROGRAMS += tests/fuzz/mkseeds
tests_fuzz_mkseeds_SOURCES = tests/fuzz/mkseeds.c
tests_fuzz_mkseeds_LDADD = libvusim.la

# make check's smoke run (and `make fuzz`) configure a clang build of their
# own in $(builddir)/fuzz; distclean leaves nothing behind (distcheck).
distclean-local: distclean-local-fuzz
distclean-local-fuzz:
	-rm -rf $(builddir)/fuzz
.PHONY: distclean-local-fuzz
