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
 *   cycle  the full in-band request: kick, the zero-time calendar event
 *          (used ring, BACKEND_VRING_CALL), the kick's ack, the call's
 *          ack, reap.
 * The back-end runs the real vu_loop/vu_backend/vu_server in a child,
 * polling as the vusim program does, a fresh one per measurement as the
 * raw baselines' peers are; the front-end is the reference
 * front-end. The raw baselines (bench/bench-util.h) send the same
 * messages on socketpairs between two processes with plain read and
 * write: their server polls exactly as vusim's loop does (the floor
 * vusim is held to) or blocks (reported too). The raw cycle replays the
 * in-band request's four messages on two socketpairs in the order each
 * side of vusim's moves them (strace): the front-end writes the kick on
 * the main socket, blocks on the kick's ack, then reads the call on the
 * back-end channel and acks it; the back-end reads the kick, writes the
 * call and then the kick's ack, and reads the call's ack. The vusim cycle
 * is checked to make one call per request. Every side gets its wall time and
 * the CPU of both processes per iteration, so a win bought by spinning
 * shows as a cost. Figures are medians of BENCH_ROUNDS interleaved
 * rounds, min and max beside them. Last line:
 *   kick-rtt-ratio=R cycle-ratio=R kick-rtt-ratio-blocking=R
 *   kick-cpu-ratio=R
 * (wall against the polling floor, against the blocking floor, and the
 * CPU of both sides against the polling floor's).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-util.h"
#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"
#include "cosim/backend/server.h"
#include "cosim/frontend/vufe.h"
#include "sim/log.h"
#include "tests/support/echodev.h"

#define MSG 20
/* The front-end's steps / the back-end's. */
#define CYCLE "w0r0r1w1/r0w1w0r1"

static pid_t start_backend(const char *path, sim_time_t latency,
                           uint64_t poll_ns)
{
    pid_t pid = (fflush(stdout), fork());

    if (pid != 0) {
        return pid;
    }
    struct vu_loop *loop = vu_loop_new(NULL);

    vu_loop_set_poll(loop, poll_ns);
    struct echodev *dev = echodev_new(vu_loop_cal(loop), 1, latency);

    dev->event_per_avail = true;    /* every kick puts one event on the
                                       calendar, even with nothing to pop */
    int rc = bench_serve_one(loop, &dev->dev, path);

    vu_loop_free(loop);
    echodev_free(dev);
    _exit(rc ? 1 : 0);
}

/* A kick with nothing new in the ring: the device's avail() runs and
 * schedules its event; the ack comes back. */
static void kick_rtt(struct vufe *fe, pid_t be, long iters,
                     struct bench_fig *out)
{
    struct bench_meter m;

    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            bench_meter_start(&m, be);
        }
        if (vufe_kick(fe, 0) < 0) {
            fprintf(stderr, "bench-inband: kick failed\n");
            exit(1);
        }
    }
    bench_meter_stop(&m, iters, out);
}

/* The full request: kick, its ack, the call, its ack, reap. Exactly one
 * call per iteration, or the pattern is not the raw cycle's. */
static void cycle(struct vufe *fe, pid_t be, long iters, struct bench_fig *out)
{
    uint64_t buf = vufe_alloc(fe, 8, 8);
    uint64_t calls0 = vufe_stats(fe)->calls;
    struct vufe_buf b = { buf, 8, true };
    struct bench_meter m;
    uint32_t id, len;

    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            bench_meter_start(&m, be);
        }
        /* As UML's driver: the call (an interrupt) comes and is acked,
         * then the used ring is read. */
        if (vufe_add(fe, 0, &b, 1, false) < 0 || vufe_kick(fe, 0) < 0 ||
            vufe_wait_call(fe, 0, 5000) != 0 ||
            vufe_reap(fe, 0, &id, &len) != 1) {
            fprintf(stderr, "bench-inband: cycle failed at %ld\n", i);
            exit(1);
        }
    }
    bench_meter_stop(&m, iters, out);
    uint64_t calls = vufe_stats(fe)->calls - calls0;
    if (calls != (uint64_t)(iters + iters / 10)) {
        fprintf(stderr, "bench-inband: %llu calls in %ld cycles: not one "
                "call per request\n", (unsigned long long)calls,
                iters + iters / 10);
        exit(1);
    }
}

/* One measurement on a back-end of its own, started for it and gone
 * after it, as bench_raw starts its peer: both sides' servers begin each
 * round as fresh processes, placed by the scheduler the same way, where a
 * back-end kept across rounds would wake from a long sleep on whichever
 * CPU its waker ran. Set-up and tear-down are outside the timed region. */
static void vusim_round(const char *path, uint64_t poll_ns,
                        void (*fn)(struct vufe *, pid_t, long,
                                   struct bench_fig *),
                        long per, struct bench_fig *out)
{
    pid_t be = start_backend(path, 0, poll_ns);
    struct vufe *fe = bench_connect_inband(path, "bench-inband");

    fn(fe, be, per, out);
    vufe_free(fe);
    waitpid(be, NULL, 0);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-inband [--iters=N] [--poll-ns=NS]\n"
            "Measures in-band kick round trips and request cycles against\n"
            "raw AF_UNIX baselines of the same messages (polling as vusim\n"
            "polls, and blocking); the last line is key=value.\n");
}

static double ratio(const struct bench_fig *a, const struct bench_fig *b,
                    size_t field)
{
    return bench_fig_stat(a, BENCH_ROUNDS, field).med /
           bench_fig_stat(b, BENCH_ROUNDS, field).med;
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
    printf("load before: %s\n", bench_load());
    snprintf(path, sizeof(path), "/tmp/vusim-bench-%d.sock", (int)getpid());
    struct bench_fig rp[BENCH_ROUNDS], rb[BENCH_ROUNDS], k[BENCH_ROUNDS];
    struct bench_fig cp[BENCH_ROUNDS], cb[BENCH_ROUNDS], cy[BENCH_ROUNDS];
    long per = iters / BENCH_ROUNDS;

    /* Raw kick: the request and its reply. Raw cycle: the four messages
     * as each side of the in-band request moves them: the kick on the
     * main socket; the back-end, whose device completes at once, sends
     * the call on the back-end channel and then the kick's ack (see
     * vu_loop_run_current); the front-end, like UML and vufe, waits for
     * the kick's ack, then reads the call and acks it. */
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        bench_raw("w0r0", MSG, per, poll_ns, &rp[r]);
        bench_raw("w0r0", MSG, per, 0, &rb[r]);
        vusim_round(path, poll_ns, kick_rtt, per, &k[r]);
        bench_raw(CYCLE, MSG, per, poll_ns, &cp[r]);
        bench_raw(CYCLE, MSG, per, 0, &cb[r]);
        vusim_round(path, poll_ns, cycle, per, &cy[r]);
    }
    printf("load after: %s\n", bench_load());
    printf("ns per iteration, %d interleaved rounds of %ld; poll %llu ns\n",
           BENCH_ROUNDS, per, (unsigned long long)poll_ns);
    bench_print_head();
    bench_print_row("raw rtt (polling)", rp, BENCH_ROUNDS);
    bench_print_row("raw rtt (blocking)", rb, BENCH_ROUNDS);
    bench_print_row("vusim kick rtt", k, BENCH_ROUNDS);
    bench_print_row("raw cycle (polling)", cp, BENCH_ROUNDS);
    bench_print_row("raw cycle (blocking)", cb, BENCH_ROUNDS);
    bench_print_row("vusim cycle", cy, BENCH_ROUNDS);
    size_t w = offsetof(struct bench_fig, ns);

    printf("cycle-ratio-blocking=%.3f cycle-cpu-ratio=%.3f "
           "kick-cpu-ratio-blocking=%.3f\n", ratio(cy, cb, w),
           bench_cpu_med(cy) / bench_cpu_med(cp),
           bench_cpu_med(k) / bench_cpu_med(rb));
    printf("kick-rtt-ratio=%.3f cycle-ratio=%.3f kick-rtt-ratio-blocking=%.3f "
           "kick-cpu-ratio=%.3f\n", ratio(k, rp, w), ratio(cy, cp, w),
           ratio(k, rb, w), bench_cpu_med(k) / bench_cpu_med(rp));
    return 0;
}
