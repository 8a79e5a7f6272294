/* SPDX-License-Identifier: MIT */
/*
 * bench/inband.c - the cost of in-band notifications against raw sockets
 *
 * Three measurements in one run, each between two processes on AF_UNIX
 * stream sockets:
 *   raw    a ping-pong of 20-byte messages (a vhost-user header and a u64
 *          or vring state payload): the floor for any synchronous message;
 *   kick   VRING_KICK with NEED_REPLY to its ack, the back-end running a
 *          device that schedules one calendar event per kick;
 *   cycle  the full in-band request: kick, ack, calendar event, used ring,
 *          BACKEND_VRING_CALL, ack, reap.
 * The back-end runs the real vu_loop/vu_backend/vu_server in a child; the
 * front-end is the reference front-end. Last line:
 *   kick-rtt-ratio=R1 cycle-ratio=R2   (R1 against one raw round trip, R2
 *   against two)
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-util.h"
#include "cosim/backend.h"
#include "cosim/loop.h"
#include "cosim/server.h"
#include "cosim/vufe.h"
#include "sim/log.h"
#include "sim/wallclock.h"
#include "tests/support/echodev.h"

#define MSG 20

static pid_t start_backend(const char *path, sim_time_t latency,
                           uint64_t poll_ns)
{
    pid_t pid = fork();

    if (pid != 0) {
        return pid;
    }
    struct vu_loop *loop = vu_loop_new(NULL);

    vu_loop_set_poll(loop, poll_ns);
    struct echodev *dev = echodev_new(vu_loop_cal(loop), 1, latency);

    dev->event_per_avail = true;    /* every kick puts one event on the
                                       calendar, even with nothing to pop */
    struct vu_backend_cfg cfg = { .inband = VU_INBAND_ON };
    struct vu_backend *be = vu_backend_new(loop, &dev->dev, &cfg);
    struct vu_server *srv;

    if (vu_server_listen(loop, be, path, &srv) < 0) {
        _exit(1);
    }
    vu_server_set_oneshot(srv, true);
    vu_loop_run(loop);
    vu_server_free(srv);
    vu_backend_free(be);
    vu_loop_free(loop);
    echodev_free(dev);
    _exit(0);
}

/* A kick with nothing new in the ring: the device's avail() runs and
 * schedules its event; the ack comes back. */
static double kick_rtt_ns(struct vufe *fe, long iters)
{
    uint64_t t0 = 0;

    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            t0 = vusim_wallclock_ns();
        }
        if (vufe_kick(fe, 0) < 0) {
            fprintf(stderr, "bench-inband: kick failed\n");
            exit(1);
        }
    }
    return (double)(vusim_wallclock_ns() - t0) / (double)iters;
}

static double cycle_ns(struct vufe *fe, long iters)
{
    uint64_t buf = vufe_alloc(fe, 8, 8), t0 = 0;
    struct vufe_buf b = { buf, 8, true };
    uint32_t id, len;

    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            t0 = vusim_wallclock_ns();
        }
        if (vufe_add(fe, 0, &b, 1, false) < 0 || vufe_kick(fe, 0) < 0 ||
            vufe_reap_wait(fe, 0, &id, &len, 5000) != 1) {
            fprintf(stderr, "bench-inband: cycle failed at %ld\n", i);
            exit(1);
        }
    }
    return (double)(vusim_wallclock_ns() - t0) / (double)iters;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-inband [--iters=N] [--poll-ns=NS]\n"
            "Measures in-band kick round trips and request cycles against a\n"
            "raw AF_UNIX ping-pong; the last line is key=value.\n");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "iters", required_argument, NULL, 'n' },
        { "poll-ns", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long iters = 45000;
    uint64_t poll_ns = VUSIM_POLL_NS;   /* as the vusim program runs */
    char path[64];
    int c;

    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'n') {
            iters = strtol(optarg, NULL, 10);
        } else if (c == 'p') {
            poll_ns = strtoull(optarg, NULL, 10);
        } else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (iters < 100 * BENCH_ROUNDS) {
        fprintf(stderr, "bench-inband: --iters must be at least %d\n",
                100 * BENCH_ROUNDS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(path, sizeof(path), "/tmp/vusim-bench-%d.sock", (int)getpid());
    pid_t be = start_backend(path, 0, poll_ns);
    struct vufe *fe = bench_connect_inband(path, "bench-inband");
    double raw[BENCH_ROUNDS], kick[BENCH_ROUNDS], cyc[BENCH_ROUNDS];

    for (int r = 0; r < BENCH_ROUNDS; r++) {
        raw[r] = bench_pingpong_ns(MSG, iters / BENCH_ROUNDS);
        kick[r] = kick_rtt_ns(fe, iters / BENCH_ROUNDS);
        cyc[r] = cycle_ns(fe, iters / BENCH_ROUNDS);
    }
    vufe_free(fe);
    waitpid(be, NULL, 0);
    double mr = bench_median(raw, BENCH_ROUNDS);
    double mk = bench_median(kick, BENCH_ROUNDS);
    double mc = bench_median(cyc, BENCH_ROUNDS);

    printf("raw-rtt-ns=%.0f kick-rtt-ns=%.0f cycle-ns=%.0f iters=%ld "
           "(medians of %d interleaved rounds)\n", mr, mk, mc, iters,
           BENCH_ROUNDS);
    printf("kick-rtt-ratio=%.3f cycle-ratio=%.3f\n", mk / mr,
           mc / (2 * mr));
    return 0;
}
