/* SPDX-License-Identifier: MIT */
/*
 * bench/rules.c - what fault rules cost a request that none of them match
 *
 * Two back-ends in child processes, each the real vu_loop/vu_backend/
 * vu_server with the real blk model, polling as the vusim program does:
 * one with no rule, one with 10 rules that never match (each checks its
 * triggers on every request: type, sectors beyond the disk, a state never
 * entered). The reference front-end runs the full in-band request cycle
 * on each in turn: the device's plain request (devices/work.h fetch():
 * for blk a one-sector read, header | 512 bytes | status), kick, ack,
 * completion on the calendar, BACKEND_VRING_CALL, ack, reap, check.
 * BENCH_ROUNDS interleaved rounds, the same polling, timed scope and
 * statistic on both sides; wall time and the CPU of both processes per
 * request. Last line:
 *   rules-overhead=R rules-cpu-overhead=R
 * (median with 10 rules over median with none; the goal is R <= 1.05).
 */
#define _GNU_SOURCE
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
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
#include "devices/dev.h"

#define NRULES 10
#define DEVICE "blk"            /* by name, as on vusim's command line */
#define READ_LEN 512u           /* the device's plain request: one sector */

/* Rules that never fire on one-sector reads of sector 0: other types,
 * sectors beyond a 1 MiB disk, a state never entered, a time never
 * reached. */
static const char *const rules[NRULES] = {
    "fault=on=write,sector=100000-200000,do=error,status=ioerr",
    "fault=on=flush,do=hang",
    "fault=on=read,sector=5000,do=rot",
    "fault=on=read,state=broken,do=error,status=ioerr",
    "fault=on=discard,do=lost",
    "fault=on=any,after=1000s,do=delay,delay=1ms",
    "fault=on=read,queue=7,do=late",
    "fault=on=write-zeroes,nth=1,do=lost",
    "fault=on=get-id,do=error,status=unsupp",
    "fault=on=read,sector=2047,do=misdirect,to=0",
};

static pid_t start_backend(const char *path, bool with_rules,
                           uint64_t poll_ns)
{
    const char *args[NRULES + 2] = { "size=1M" };
    struct dev_opt opts[NRULES + 2];
    size_t n = 1;
    pid_t pid = (fflush(stdout), fork());

    if (pid != 0) {
        return pid;
    }
    for (size_t i = 0; with_rules && i < NRULES; i++) {
        args[n++] = rules[i];
    }
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(args[i], '=');

        opts[i].name = strndup(args[i], (size_t)(eq - args[i]));
        opts[i].value = eq + 1;
    }
    struct vu_loop *loop = vu_loop_new(NULL);
    struct dev *dev;
    char err[256];

    vu_loop_set_poll(loop, poll_ns);
    if (dev_lookup(DEVICE)->create(vu_loop_cal(loop), opts, n, &dev, err,
                                   sizeof(err)) < 0) {
        fprintf(stderr, "bench-rules: %s\n", err);
        _exit(1);
    }
    int rc = bench_serve_one(loop, dev, path);

    vu_loop_free(loop);
    dev->ops->destroy(dev);
    _exit(rc ? 1 : 0);
}

struct side {
    pid_t pid;
    struct vufe *fe;
    struct bench_req req;
};

/* The full request cycle, as UML's driver does it. */
static void cycle(struct side *s, long iters, struct bench_fig *out)
{
    struct bench_meter m;
    uint32_t id, len;

    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            bench_meter_start(&m, s->pid);
        }
        bench_req_add(s->fe, &s->req, 0, READ_LEN, "bench-rules");
        if (vufe_kick(s->fe, 0) < 0 || vufe_wait_call(s->fe, 0, 5000) != 0 ||
            vufe_reap(s->fe, 0, &id, &len) != 1 ||
            !bench_req_ok(&s->req, len)) {
            fprintf(stderr, "bench-rules: cycle failed at %ld\n", i);
            exit(1);
        }
    }
    bench_meter_stop(&m, iters, out);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "iters", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long iters = 45000;
    struct side s[2];
    struct bench_fig f[2][BENCH_ROUNDS];
    char path[2][64];
    int c;

    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'n') {
            iters = strtol(optarg, NULL, 10);
        } else {
            printf("usage: bench-rules [--iters=N]\nThe in-band request "
                   "cycle on blk with 10 never-matching fault rules\n"
                   "against none; the last line is key=value.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (iters < 100 * BENCH_ROUNDS) {
        fprintf(stderr, "bench-rules: --iters must be at least %d\n",
                100 * BENCH_ROUNDS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("load before: %s\n", bench_load());
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof(path[k]), "/tmp/vusim-bench-rules-%d-%d.sock",
                 (int)getpid(), k);
        s[k].pid = start_backend(path[k], k == 1, VUSIM_POLL_NS);
    }
    /* Both children first: neither inherits the other's front-end. */
    for (int k = 0; k < 2; k++) {
        s[k].fe = bench_connect_req(path[k], "bench-rules",
                                    dev_lookup(DEVICE), &s[k].req);
    }
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        for (int k = 0; k < 2; k++) {
            /* alternate which side goes first, round by round */
            int side = (r & 1) ? 1 - k : k;

            cycle(&s[side], iters / BENCH_ROUNDS, &f[side][r]);
        }
    }
    bench_print_head();
    bench_print_row("cycle, no rules", f[0], BENCH_ROUNDS);
    bench_print_row("cycle, 10 rules", f[1], BENCH_ROUNDS);
    for (int k = 0; k < 2; k++) {
        bench_req_close(&s[k].req);
        vufe_free(s[k].fe);
        waitpid(s[k].pid, NULL, 0);
        unlink(path[k]);
    }
    printf("load after: %s\n", bench_load());
    printf("rules-overhead=%.3f rules-cpu-overhead=%.3f\n",
           bench_fig_stat(f[1], BENCH_ROUNDS, offsetof(struct bench_fig,
                                                       ns)).med /
           bench_fig_stat(f[0], BENCH_ROUNDS, offsetof(struct bench_fig,
                                                       ns)).med,
           bench_cpu_med(f[1]) / bench_cpu_med(f[0]));
    return 0;
}
