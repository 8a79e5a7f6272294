/* SPDX-License-Identifier: MIT */
/*
 * bench/trace.c - what recording a trace costs, and how fast replay is
 *
 * overhead  The full in-band request cycle (kick, ack, calendar event,
 *           used ring, BACKEND_VRING_CALL, ack, reap) of a one-sector
 *           (512-byte) virtio-blk read, against the real back-end in a
 *           child process polling as the vusim program does, without and
 *           with --trace (every message, the chain, the completion's
 *           digest, the calendar events, each record in the file's page
 *           cache, through the writer's shared mapping, before the call).
 *           ROUNDS interleaved rounds of each; the figure is the ratio of
 *           the medians, min and max printed beside. The same for 4 KiB
 *           reads (trace-overhead-4k): the digest of the bytes read grows
 *           with the request, the rest does not.
 * replay    Each traced 512-byte round's trace is replayed in-process
 *           right after it, and the cycle loop's wall time (all its
 *           requests, as the trace holds them all) is set against the
 *           replay's (replay-speedup-cycle, ratio of the medians): a
 *           workload bound by round trips.
 * --replay-once=TRACE  replay TRACE once and print replay-ns=N (the
 *           replay alone: the reader is opened before and freed after);
 *           bench/trace.sh interleaves it with recordings of the demo.
 *
 * Last line: trace-overhead=R trace-overhead-4k=R4 replay-speedup-cycle=S
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
#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"
#include "cosim/backend/server.h"
#include "cosim/frontend/vufe.h"
#include "sim/log.h"
#include "sim/wallclock.h"
#include "traces/reader.h"
#include "traces/record.h"
#include "traces/replay.h"

#define ROUNDS 25

#define DEVICE "blk"            /* by name, as on vusim's command line */

static const struct dev_opt dev_opts[] = {
    { "size", "16M" }, { "latency", "20us" },
};

/* The back-end in a child: blk on a RAM disk, recording into @trace if
 * it is not NULL, polling as the vusim program and bench-inband do; it
 * exits when the front-end leaves. */
static pid_t start_backend(const char *path, const char *trace)
{
    struct vu_backend_cfg cfg = { .inband = VU_INBAND_ON, .conn_id = 1 };
    struct trace_record_cfg tc = { .path = trace, .device = DEVICE,
                               .opts = dev_opts, .nopts = 2 };
    struct trace_recorder *w = NULL;
    struct vu_server *srv;
    struct vu_backend *be;
    struct vu_loop *loop;
    struct dev *dev;
    char err[256];
    pid_t pid = (fflush(stdout), fork());

    if (pid != 0) {
        return pid;
    }
    loop = vu_loop_new(NULL);
    if (loop) {
        vu_loop_set_poll(loop, VUSIM_POLL_NS);  /* as the program runs */
    }
    if (!loop || dev_lookup(DEVICE)->create(vu_loop_cal(loop), dev_opts, 2,
                                            &dev, err, sizeof(err)) < 0) {
        _exit(1);
    }
    be = vu_backend_new(loop, dev, &cfg);
    if (!be || (trace && trace_record_open(be, &tc, &w, err, sizeof(err))) ||
        vu_server_listen(loop, be, path, &srv) < 0) {
        _exit(1);
    }
    vu_server_set_oneshot(srv, true);
    vu_loop_run(loop);
    vu_server_free(srv);
    vu_backend_free(be);
    trace_record_close(NULL, w);
    dev->ops->destroy(dev);
    vu_loop_free(loop);
    _exit(0);
}

/* Wall nanoseconds per cycle of the device's plain request moving @len
 * bytes (devices/work.h fetch(); blk: a read) at 4 KiB steps over its
 * first 4 MiB; *all_ns gets the wall time of every cycle, warm-up
 * included (all of them are in the trace). */
static double cycle_ns(struct vufe *fe, struct bench_req *r, long iters,
                       uint32_t len, uint64_t *all_ns)
{
    uint64_t t0 = 0, start = vusim_wallclock_ns();
    uint32_t id, used;

    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            t0 = vusim_wallclock_ns();
        }
        bench_req_add(fe, r, (uint64_t)(i & 1023) * 4096, len,
                      "bench-trace");
        if (vufe_kick(fe, 0) < 0 ||
            vufe_reap_wait(fe, 0, &id, &used, 5000) != 1) {
            fprintf(stderr, "bench-trace: cycle failed at %ld\n", i);
            exit(1);
        }
    }
    uint64_t end = vusim_wallclock_ns();

    if (!bench_req_ok(r, used)) {
        fprintf(stderr, "bench-trace: the last request came back wrong\n");
        exit(1);
    }
    *all_ns = end - start;
    return (double)(end - t0) / (double)iters;
}

/* One run; *work_ns gets the wall time of all its requests. */
static double one_run(const char *sock, const char *trace, long iters,
                      uint32_t len, uint64_t *work_ns)
{
    pid_t be = start_backend(sock, trace);
    struct bench_req r;
    struct vufe *fe = bench_connect_req(sock, "bench-trace",
                                        dev_lookup(DEVICE), &r);
    double ns = cycle_ns(fe, &r, iters, len, work_ns);
    int status = 0;

    bench_req_close(&r);
    vufe_free(fe);
    waitpid(be, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench-trace: the back-end failed\n");
        exit(1);
    }
    return ns;
}

static double med(double *v, struct bench_stat *st)
{
    *st = bench_stat(v, ROUNDS);
    return st->med;
}

static uint64_t replay_once(const char *path, uint64_t *completions);

/* ROUNDS interleaved runs without and with a trace of @len-byte reads:
 * the ratio of the medians. With @speedup, each traced run's trace is
 * replayed right after it and *speedup gets the ratio of the medians of
 * the traced runs' work and of the replays. */
static double overhead(const char *sock, const char *trace, long iters,
                       uint32_t len, double *speedup)
{
    double off[ROUNDS], on[ROUNDS], work[ROUNDS], rep[ROUNDS];
    struct bench_stat a, b, w, r;
    uint64_t wall, done = 0;

    for (int i = 0; i < ROUNDS; i++) {
        off[i] = one_run(sock, NULL, iters, len, &wall);
        on[i] = one_run(sock, trace, iters, len, &wall);
        work[i] = (double)wall;
        rep[i] = speedup ? (double)replay_once(trace, &done) : 1;
    }
    double ratio = med(on, &b) / med(off, &a);

    printf("%u-byte reads: cycle-ns=%.0f (%.0f..%.0f) traced-ns=%.0f "
           "(%.0f..%.0f) ratio=%.3f (medians of %d rounds of %ld)\n", len,
           a.med, a.min, a.max, b.med, b.min, b.max, ratio, ROUNDS, iters);
    if (speedup) {
        *speedup = med(work, &w) / med(rep, &r);
        printf("cycle run: recorded in %.0f ns (%.0f..%.0f), replayed in "
               "%.0f ns (%.0f..%.0f), %llu completions, speedup=%.1f\n",
               w.med, w.min, w.max, r.med, r.min, r.max,
               (unsigned long long)done, *speedup);
    }
    return ratio;
}

/* One replay of @path, in wall nanoseconds: trace_replay() alone. */
static uint64_t replay_once(const char *path, uint64_t *completions)
{
    struct trace_replay_result res;
    struct trace_reader *r = NULL;
    char err[512] = "";
    uint64_t t0, dt;

    if (trace_reader_open_lazy(path, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-trace: open %s: %s\n", path, err);
        exit(1);
    }
    t0 = vusim_wallclock_ns();
    if (trace_replay(r, NULL, &res, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-trace: replay %s: %s\n", path, err);
        exit(1);
    }
    dt = vusim_wallclock_ns() - t0;
    if (res.diverged) {
        fprintf(stderr, "bench-trace: replay diverged at record %zu: %s\n",
                res.div.index, res.div.what);
        exit(1);
    }
    *completions = res.completions;
    trace_reader_free(r);
    return dt;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "iters", required_argument, NULL, 'n' },
        { "replay-once", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *rp = NULL, *tmp = getenv("TMPDIR");
    double r512, r4k, sp;
    long iters = 5000;
    char sock[96], trace[96];
    int c;

    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'n') {
            iters = strtol(optarg, NULL, 10);
        } else if (c == 'r') {
            rp = optarg;
        } else {
            fprintf(c == 'h' ? stdout : stderr, "usage: bench-trace "
                    "[--iters=N] | --replay-once=TRACE\n");
            return c == 'h' ? 0 : 2;
        }
    }
    g_vusim_log_level = VUSIM_LOG_ERR;
    if (rp) {
        uint64_t done = 0, ns = replay_once(rp, &done);

        printf("replay-ns=%llu completions=%llu\n", (unsigned long long)ns,
               (unsigned long long)done);
        return 0;
    }
    if (iters < 100) {
        fprintf(stderr, "bench-trace: --iters >= 100\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("load before: %s\n", bench_load());
    tmp = tmp && tmp[0] && strlen(tmp) < 48 ? tmp : "/tmp";
    snprintf(sock, sizeof(sock), "%s/vusim-bench-trace-%d.sock", tmp,
             (int)getpid());
    snprintf(trace, sizeof(trace), "%s/vusim-bench-trace-%d.trace", tmp,
             (int)getpid());
    r4k = overhead(sock, trace, iters, 4096, NULL);
    r512 = overhead(sock, trace, iters, 512, &sp);
    unlink(trace);
    printf("load after: %s\n", bench_load());
    printf("trace-overhead=%.3f trace-overhead-4k=%.3f "
           "replay-speedup-cycle=%.1f\n", r512, r4k, sp);
    return 0;
}
