/* SPDX-License-Identifier: MIT */
/*
 * bench/ttrtt.c - the time-travel controller's message round trip
 *
 * A participant speaking UML 6.1's protocol (START, then GET after GET, as
 * UML does on every clock read that must ask) against the real controller
 * (sim/tt.c on a vu_loop) in a child process, and a raw AF_UNIX ping-pong
 * of the same 16-byte messages between two processes, in one run. Last
 * line: tt-rtt-ns=X raw16-rtt-ns=Y tt-msg-ratio=X/Y.
 */
#define _GNU_SOURCE
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-util.h"
#include "cosim/loop.h"
#include "sim/tt.h"
#include "sim/wallclock.h"

static void hold(void *o) { vu_loop_hold(o); }
static void release(void *o) { vu_loop_release(o); }

static pid_t start_controller(const char *path)
{
    pid_t pid = fork();

    if (pid != 0) {
        return pid;
    }
    struct vu_loop *loop = vu_loop_new(NULL);
    struct sim_tt_ops ops = { hold, release, loop };
    struct sim_tt_cfg cfg = { .path = path, .participants = 1,
                              .free_until = true };
    struct sim_tt *tt;

    if (loop) {
        vu_loop_set_poll(loop, VUSIM_POLL_NS);   /* as vusim runs it */
    }
    if (!loop || sim_tt_new(vu_loop_base(loop), vu_loop_cal(loop), &cfg,
                            &ops, &tt) < 0) {
        _exit(1);
    }
    /* Blocks in epoll like vusim does; the parent ends it with SIGTERM. */
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

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 45000;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint64_t t, t0 = 0;
    uint32_t seq = 0;
    pid_t ctl;
    int fd;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || iters < 100 * BENCH_ROUNDS)) {
        printf("usage: bench-ttrtt [ITERS]\nThe time-travel controller's "
               "GET round trip against a raw ping-pong; last line "
               "key=value.\n");
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/vusim-ttrtt-%d.sock",
             (int)getpid());
    ctl = start_controller(sa.sun_path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    for (int i = 0; i < 500 && connect(fd, (struct sockaddr *)&sa,
                                       sizeof(sa)) < 0; i++) {
        usleep(10000);
    }
    if (tt_req(fd, SIM_TT_START, ++seq, &t) < 0) {
        fprintf(stderr, "bench-ttrtt: the controller did not start us\n");
        return 1;
    }
    double raws[BENCH_ROUNDS], tts[BENCH_ROUNDS];
    long per = iters / BENCH_ROUNDS;

    for (int r = 0; r < BENCH_ROUNDS; r++) {
        raws[r] = bench_pingpong_ns(sizeof(struct sim_tt_msg), per);
        for (long i = -per / 10; i < per; i++) {
            if (i == 0) {
                t0 = vusim_wallclock_ns();
            }
            if (tt_req(fd, SIM_TT_GET, ++seq, &t) < 0) {
                fprintf(stderr, "bench-ttrtt: GET failed\n");
                return 1;
            }
        }
        tts[r] = (double)(vusim_wallclock_ns() - t0) / (double)per;
    }
    double raw = bench_median(raws, BENCH_ROUNDS);
    double tt = bench_median(tts, BENCH_ROUNDS);
    close(fd);
    kill(ctl, SIGTERM);
    waitpid(ctl, NULL, 0);
    printf("tt-rtt-ns=%.0f raw16-rtt-ns=%.0f tt-msg-ratio=%.3f\n", tt, raw,
           tt / raw);
    return 0;
}
