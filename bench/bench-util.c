/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench-util.h"
#include "sim/wallclock.h"

double bench_pingpong_ns(size_t size, long iters)
{
    char buf[256] = { 0 };
    uint64_t t0 = 0;
    int sv[2];
    pid_t pid;

    if (size > sizeof(buf) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("bench: socketpair");
        exit(1);
    }
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        while (read(sv[1], buf, size) == (ssize_t)size &&
               write(sv[1], buf, size) == (ssize_t)size) {
        }
        _exit(0);
    }
    close(sv[1]);
    for (long i = -iters / 10; i < iters; i++) {
        if (i == 0) {
            t0 = vusim_wallclock_ns();
        }
        if (write(sv[0], buf, size) != (ssize_t)size ||
            read(sv[0], buf, size) != (ssize_t)size) {
            perror("bench: raw ping-pong");
            exit(1);
        }
    }
    double r = (double)(vusim_wallclock_ns() - t0) / (double)iters;
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return r;
}

struct vufe *bench_connect_inband(const char *path, const char *who)
{
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err = 0;

    vufe_cfg_init(&cfg);
    cfg.path = path;
    cfg.notify = VUFE_NOTIFY_INBAND;
    cfg.event_idx = false;
    /* Like UML: block on the ack alone; the back-end never makes a kick's
     * ack wait for a call's. */
    cfg.strict_order = true;
    fe = vufe_open(&cfg, &err);
    if (!fe) {
        fprintf(stderr, "%s: cannot connect: %s\n", who, strerror(-err));
        exit(1);
    }
    return fe;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}
