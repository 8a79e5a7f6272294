/* SPDX-License-Identifier: MIT */
/*
 * bench/trace.c - what recording a trace costs, and how fast replay is
 *
 * overhead  The full in-band request cycle (kick, ack, calendar event,
 *           used ring, BACKEND_VRING_CALL, ack, reap) of a one-sector
 *           (512-byte) virtio-blk read, against the real back-end in a
 *           child process, without and with --trace (every message, the
 *           chain, the completion's digest, the calendar events, each
 *           record in the file's page cache, through the writer's shared
 *           mapping, before the call). Rounds alternate the two so drift
 *           hits both; the figure is the median of the per-round ratios.
 *           The same for 4 KiB reads (trace-overhead-4k): the digest of
 *           the bytes read grows with the request, the rest does not.
 * replay    With --replay=TRACE --recorded-ns=NS: replay TRACE in-process
 *           (best of three) against NS, the wall time of the run that
 *           recorded it (bench/trace.sh records the demo workload). Also
 *           the last traced cycle run's trace against that run's wall time
 *           (replay-speedup-cycle): a workload bound by round trips, where
 *           the demo's is bound by the bytes it moves and digests.
 *
 * Last line: trace-overhead=R [replay-speedup=S] trace-overhead-4k=R4
 * replay-speedup-cycle=S2
 */
#define _GNU_SOURCE
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-util.h"
#include "cosim/backend.h"
#include "cosim/backend_trace.h"
#include "cosim/loop.h"
#include "cosim/server.h"
#include "cosim/vufe.h"
#include "devices/blk.h"
#include "sim/log.h"
#include "sim/wallclock.h"
#include "traces/reader.h"
#include "traces/replay.h"

#define ROUNDS 25

static const struct dev_opt blk_opts[] = {
    { "size", "16M" }, { "latency", "20us" },
};

/* The back-end in a child: blk on a RAM disk, recording into @trace if
 * it is not NULL, polling as the vusim program and bench-inband do; it
 * exits when the front-end leaves. */
static pid_t start_backend(const char *path, const char *trace)
{
    struct vu_backend_cfg cfg = { .inband = VU_INBAND_ON, .conn_id = 1 };
    struct vu_trace_cfg tc = { .path = trace, .device = "blk",
                               .opts = blk_opts, .nopts = 2 };
    struct trace_writer *w = NULL;
    struct vu_server *srv;
    struct vu_backend *be;
    struct vu_loop *loop;
    struct dev *dev;
    char err[256];
    pid_t pid = fork();

    if (pid != 0) {
        return pid;
    }
    loop = vu_loop_new(NULL);
    if (loop) {
        vu_loop_set_poll(loop, VUSIM_POLL_NS);  /* as the program runs */
    }
    if (!loop || dev_blk_ops.create(vu_loop_cal(loop), blk_opts, 2, &dev,
                                    err, sizeof(err)) < 0) {
        _exit(1);
    }
    be = vu_backend_new(loop, dev, &cfg);
    if (!be || (trace && vu_trace_open(be, &tc, &w, err, sizeof(err))) ||
        vu_server_listen(loop, be, path, &srv) < 0) {
        _exit(1);
    }
    vu_server_set_oneshot(srv, true);
    vu_loop_run(loop);
    vu_server_free(srv);
    vu_backend_free(be);
    vu_trace_close(NULL, w);
    dev->ops->destroy(dev);
    vu_loop_free(loop);
    _exit(0);
}

/* Wall nanoseconds per read cycle of @len bytes. */
static double cycle_ns(struct vufe *fe, long iters, uint32_t len)
{
    uint64_t hdr = vufe_alloc(fe, 16, 16), data = vufe_alloc(fe, len, 4096);
    uint64_t st = vufe_alloc(fe, 1, 16), t0 = 0;
    struct vufe_buf b[3] = { { hdr, 16, false }, { data, len, true },
                             { st, 1, true } };
    struct dev_blk_req_hdr *h = vufe_ptr(fe, hdr, 16);
    uint32_t id, used;

    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            t0 = vusim_wallclock_ns();
        }
        h->type = htole32(DEV_BLK_T_IN);
        h->sector = htole64((uint64_t)(i & 1023) * 8);
        if (vufe_add(fe, 0, b, 3, false) < 0 || vufe_kick(fe, 0) < 0 ||
            vufe_reap_wait(fe, 0, &id, &used, 5000) != 1) {
            fprintf(stderr, "bench-trace: cycle failed at %ld\n", i);
            exit(1);
        }
    }
    return (double)(vusim_wallclock_ns() - t0) / (double)iters;
}

/* One run; *wall_ns gets it whole, from the fork to the child's exit. */
static double one_run(const char *sock, const char *trace, long iters,
                      uint32_t len, uint64_t *wall_ns)
{
    uint64_t t0 = vusim_wallclock_ns();
    pid_t be = start_backend(sock, trace);
    struct vufe *fe = bench_connect_inband(sock, "bench-trace");
    double ns = cycle_ns(fe, iters, len);
    int status = 0;

    vufe_free(fe);
    waitpid(be, &status, 0);
    *wall_ns = vusim_wallclock_ns() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench-trace: the back-end failed\n");
        exit(1);
    }
    return ns;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* ROUNDS alternating runs without and with a trace of @len-byte reads:
 * the median ratio; the last traced run's trace is left at @trace and its
 * wall time in *wall_on. */
static double overhead(const char *sock, const char *trace, long iters,
                       uint32_t len, uint64_t *wall_on)
{
    double off[ROUNDS], on[ROUNDS], ratio[ROUNDS];
    uint64_t wall_off;

    for (int i = 0; i < ROUNDS; i++) {
        off[i] = one_run(sock, NULL, iters, len, &wall_off);
        on[i] = one_run(sock, trace, iters, len, wall_on);
        ratio[i] = on[i] / off[i];
    }
    qsort(off, ROUNDS, sizeof(off[0]), cmp_double);
    qsort(on, ROUNDS, sizeof(on[0]), cmp_double);
    qsort(ratio, ROUNDS, sizeof(ratio[0]), cmp_double);
    printf("%u-byte reads: cycle-ns=%.0f traced-ns=%.0f ratio=%.3f "
           "(medians of %d rounds of %ld)\n", len, off[ROUNDS / 2],
           on[ROUNDS / 2], ratio[ROUNDS / 2], ROUNDS, iters);
    return ratio[ROUNDS / 2];
}

/* Best of three replays of @path, in wall nanoseconds. */
static uint64_t replay_ns(const char *path, uint64_t *completions)
{
    uint64_t best = UINT64_MAX;

    for (int k = 0; k < 3; k++) {
        struct trace_replay_result res;
        struct trace_reader *r = NULL;
        char err[512] = "";
        uint64_t t0 = vusim_wallclock_ns(), dt;

        if (trace_reader_open_lazy(path, &r, err, sizeof(err)) < 0 ||
            trace_replay(r, NULL, &res, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench-trace: replay %s: %s\n", path, err);
            exit(1);
        }
        dt = vusim_wallclock_ns() - t0;
        if (res.diverged) {
            fprintf(stderr, "bench-trace: replay diverged at record %zu: "
                    "%s\n", res.div.index, res.div.what);
            exit(1);
        }
        *completions = res.completions;
        trace_reader_free(r);
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "iters", required_argument, NULL, 'n' },
        { "replay", required_argument, NULL, 'r' },
        { "recorded-ns", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *rp = NULL, *tmp = getenv("TMPDIR");
    uint64_t recorded = 0, wall_on = 0, cyc_done = 0, cyc_ns;
    double r512, r4k;
    long iters = 5000;
    char sock[96], trace[96];
    int c;

    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'n') {
            iters = strtol(optarg, NULL, 10);
        } else if (c == 'r') {
            rp = optarg;
        } else if (c == 'w') {
            recorded = strtoull(optarg, NULL, 10);
        } else {
            fprintf(c == 'h' ? stdout : stderr, "usage: bench-trace "
                    "[--iters=N] [--replay=TRACE --recorded-ns=NS]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (iters < 100 || (rp && !recorded)) {
        fprintf(stderr, "bench-trace: --iters >= 100; --replay needs "
                "--recorded-ns\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_vusim_log_level = VUSIM_LOG_ERR;
    tmp = tmp && tmp[0] && strlen(tmp) < 48 ? tmp : "/tmp";
    snprintf(sock, sizeof(sock), "%s/vusim-bench-trace-%d.sock", tmp,
             (int)getpid());
    snprintf(trace, sizeof(trace), "%s/vusim-bench-trace-%d.trace", tmp,
             (int)getpid());
    r4k = overhead(sock, trace, iters, 4096, &wall_on);
    r512 = overhead(sock, trace, iters, 512, &wall_on);
    cyc_ns = replay_ns(trace, &cyc_done);
    unlink(trace);
    printf("cycle run: recorded in %llu ns, replayed in %llu ns, %llu "
           "completions\n", (unsigned long long)wall_on,
           (unsigned long long)cyc_ns, (unsigned long long)cyc_done);
    if (!rp) {
        printf("trace-overhead=%.3f trace-overhead-4k=%.3f "
               "replay-speedup-cycle=%.1f\n", r512, r4k,
               (double)wall_on / (double)cyc_ns);
        return 0;
    }
    uint64_t done = 0, ns = replay_ns(rp, &done);

    printf("demo run: recorded in %llu ns, replayed in %llu ns, %llu "
           "completions\n", (unsigned long long)recorded,
           (unsigned long long)ns, (unsigned long long)done);
    printf("trace-overhead=%.3f replay-speedup=%.1f trace-overhead-4k=%.3f "
           "replay-speedup-cycle=%.1f\n", r512, (double)recorded / (double)ns,
           r4k, (double)wall_on / (double)cyc_ns);
    return 0;
}
