/* SPDX-License-Identifier: MIT */
/*
 * bench/ttrtt.c - the time-travel controller's message round trip
 *
 * A participant speaking UML 6.1's protocol (START, then GET after GET, as
 * UML does on every clock read that must ask) against the real controller
 * (sim/tt.c on a vu_loop, polling as the vusim program does) in a child
 * process, a fresh one per measurement as the raw peers are, and raw AF_UNIX ping-pongs of the same 16-byte messages
 * between two processes (bench/bench-util.h): one whose server polls as
 * vusim's loop does (the floor), one that blocks. Interleaved rounds,
 * medians with min and max, wall and the CPU of both processes per round
 * trip. Last line: tt-rtt-ns=X raw16-rtt-ns=Y raw16-blocking-rtt-ns=Z
 * tt-msg-ratio=X/Y tt-msg-ratio-blocking=X/Z tt-cpu-ratio=R (CPU of both
 * sides against the polling floor's).
 */
#define _GNU_SOURCE
#include "config.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-util.h"
#include "cosim/backend/loop.h"
#include "sim/tt.h"

static pid_t start_controller(const char *path)
{
    pid_t pid = (fflush(stdout), fork());

    if (pid != 0) {
        return pid;
    }
    struct vu_loop *loop = vu_loop_new(NULL);
    struct sim_tt_ops ops;
    struct sim_tt_cfg cfg = { .path = path, .participants = 1,
                              .free_until = true };
    struct sim_tt *tt;

    if (loop) {
        vu_loop_set_poll(loop, VUSIM_POLL_NS);   /* as vusim runs it */
        vu_loop_tt_ops(loop, &ops);
    }
    if (!loop || sim_tt_new(vu_loop_base(loop), vu_loop_cal(loop), &cfg,
                            &ops, &tt) < 0) {
        _exit(1);
    }
    /* Polls, then sleeps in epoll, as vusim does; the parent ends it with
     * SIGTERM. */
    vu_loop_run(loop);
    sim_tt_free(tt);
    vu_loop_free(loop);
    _exit(0);
}

static int tt_req(int fd, uint32_t op, uint32_t seq, uint64_t *t)
{
    struct sim_tt_msg m = { op, seq, 0 };

    if (write(fd, &m, sizeof(m)) != sizeof(m) ||
        read(fd, &m, sizeof(m)) != sizeof(m) || m.op != SIM_TT_ACK ||
        m.seq != seq) {
        return -1;
    }
    *t = m.time;
    return 0;
}

static double wall_med(const struct bench_fig *f)
{
    return bench_fig_stat(f, BENCH_ROUNDS, offsetof(struct bench_fig, ns)).med;
}

/* One measurement on a controller of its own, started for it and gone
 * after it, as bench_raw starts its peer, so both sides' servers begin
 * each round as fresh processes (bench/inband.c says why). Set-up and
 * tear-down are outside the timed region. */
static void tt_round(const char *path, long per, struct bench_fig *out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pid_t ctl = start_controller(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct bench_meter m;
    uint32_t seq = 0;
    uint64_t t;

    memcpy(sa.sun_path, path, strlen(path) + 1);
    for (int i = 0; i < 500 && connect(fd, (struct sockaddr *)&sa,
                                       sizeof(sa)) < 0; i++) {
        usleep(10000);
    }
    if (tt_req(fd, SIM_TT_START, ++seq, &t) < 0) {
        fprintf(stderr, "bench-ttrtt: the controller did not start us\n");
        exit(1);
    }
    for (long i = -per / 10; i < per; i++) {
        if (i == 0) {
            bench_meter_start(&m, ctl);
        }
        if (tt_req(fd, SIM_TT_GET, ++seq, &t) < 0) {
            fprintf(stderr, "bench-ttrtt: GET failed\n");
            exit(1);
        }
    }
    bench_meter_stop(&m, per, out);
    close(fd);
    kill(ctl, SIGTERM);
    waitpid(ctl, NULL, 0);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 45000;
    struct bench_fig rp[BENCH_ROUNDS], rb[BENCH_ROUNDS], tt[BENCH_ROUNDS];
    char path[64];

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     iters < 100 * BENCH_ROUNDS)) {
        printf("usage: bench-ttrtt [ITERS]\nThe time-travel controller's "
               "GET round trip against raw ping-pongs (polling as vusim "
               "does, and blocking); last line key=value.\n");
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    printf("load before: %s\n", bench_load());
    snprintf(path, sizeof(path), "/tmp/vusim-ttrtt-%d.sock", (int)getpid());
    long per = iters / BENCH_ROUNDS;

    for (int r = 0; r < BENCH_ROUNDS; r++) {
        bench_raw("w0r0", sizeof(struct sim_tt_msg), per, VUSIM_POLL_NS,
                  &rp[r]);
        bench_raw("w0r0", sizeof(struct sim_tt_msg), per, 0, &rb[r]);
        tt_round(path, per, &tt[r]);
    }
    printf("load after: %s\n", bench_load());
    printf("ns per round trip, %d interleaved rounds of %ld; poll %u ns\n",
           BENCH_ROUNDS, per, VUSIM_POLL_NS);
    bench_print_head();
    bench_print_row("raw16 rtt (polling)", rp, BENCH_ROUNDS);
    bench_print_row("raw16 rtt (blocking)", rb, BENCH_ROUNDS);
    bench_print_row("controller GET rtt", tt, BENCH_ROUNDS);
    printf("tt-rtt-ns=%.0f raw16-rtt-ns=%.0f raw16-blocking-rtt-ns=%.0f "
           "tt-msg-ratio=%.3f tt-msg-ratio-blocking=%.3f tt-cpu-ratio=%.3f\n",
           wall_med(tt), wall_med(rp), wall_med(rb),
           wall_med(tt) / wall_med(rp), wall_med(tt) / wall_med(rb),
           bench_cpu_med(tt) / bench_cpu_med(rp));
    return 0;
}
