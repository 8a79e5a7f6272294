/* SPDX-License-Identifier: MIT */
/*
 * bench/calendar - the vusim calendar against SystemC's kernel on the hold
 * model (bench/calendar-hold.h) at 1, 1,000 and 100,000 pending events.
 *
 * usage: calendar [--systemc=PROGRAM] [--ms=MILLISECONDS]
 *
 * Each size alternates the engines ROUNDS times, each run taking about --ms
 * of wall time (default 300); a run's rate is that of its best of
 * HOLD_WINDOWS equal windows, and each engine's best run counts. SystemC can
 * be elaborated only once per process, so PROGRAM (bench/calendar-systemc)
 * runs as a child for each of its runs and prints its figures on stdout.
 *
 * Output, one key=value line each:
 *   workload size=N event=K time_ps=T   (every run, either engine, reached
 *                                        its K-th event at simulated time T)
 *   size=N vusim_eps=X systemc_eps=Y ratio=R
 *   bytes_per_event=B
 *   calendar-vs-systemc min-ratio=R      (last line; the smallest ratio)
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/calendar-hold.h"
#include "sim/cal.h"

static const size_t sizes[] = { 1, 1000, 100000 };

#define ROUNDS 3              /* alternations of the engines per size */

struct hold_run {
    const uint64_t *delay;
    uint64_t next;            /* index of the next delay */
    uint64_t fired;
    sim_time_t check;         /* time of event HOLD_CHECK_AT */
    int err;
};

struct result {
    double eps;
    uint64_t events;
    sim_time_t check;         /* 0 if the run stopped before the check */
};

static void hold_fire(struct sim_cal *cal, struct sim_event *ev)
{
    struct hold_run *h = ev->arg;
    int rc;

    if (++h->fired == HOLD_CHECK_AT) {
        h->check = sim_cal_now(cal);
    }
    rc = sim_cal_after(cal, ev, h->delay[h->next++ & (HOLD_NDELAYS - 1)], 0);
    if (rc != 0) {
        h->err = rc;
    }
}

static int run_vusim(size_t n, const uint64_t *delay, uint64_t target_ns,
                     struct result *res)
{
    struct hold_run h = { .delay = delay };
    struct sim_event *ev = calloc(n, sizeof(*ev));
    struct sim_cal *cal = sim_cal_new();
    struct hold_meter m;
    sim_time_t quantum;

    if (!ev || !cal) {
        free(ev);
        sim_cal_free(cal);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        sim_event_init(&ev[i], hold_fire, &h);
        sim_cal_after(cal, &ev[i], delay[h.next++ & (HOLD_NDELAYS - 1)], 0);
    }
    /* Run the calendar's own loop in slices of about HOLD_BATCH events,
     * as sc_start() runs SystemC's: n events take a mean delay each. */
    quantum = (sim_time_t)HOLD_BATCH * (HOLD_MAX_DELAY / 2) / n + 1;
    hold_meter_start(&m, target_ns, h.fired);
    do {
        sim_cal_run_until(cal, sim_cal_now(cal) + quantum);
    } while (!hold_meter_tick(&m, h.fired) && h.err == 0);
    res->eps = m.best_eps;
    res->events = h.fired;
    res->check = h.check;
    sim_cal_free(cal);
    free(ev);
    return h.err;
}

/* Run PROGRAM N TARGET_NS and parse "systemc_eps=X events=M check=T". */
static int run_systemc(const char *prog, size_t n, uint64_t target_ns,
                       struct result *res)
{
    char a1[32], a2[32], line[256];
    int fd[2], status, ok = 0;
    unsigned long long ev, ck;
    FILE *f;
    pid_t pid;

    snprintf(a1, sizeof(a1), "%zu", n);
    snprintf(a2, sizeof(a2), "%" PRIu64, target_ns);
    if (pipe(fd) != 0) {
        return -errno;
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        return -errno;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
        execl(prog, prog, a1, a2, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "systemc_eps=%lf events=%llu check=%llu",
                   &res->eps, &ev, &ck) == 3) {
            res->events = ev;
            res->check = ck;
            ok = 1;
        }
    }
    if (f) {
        fclose(f);
    }
    waitpid(pid, &status, 0);
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/*
 * Every run that got as far as event HOLD_CHECK_AT saw it at one simulated
 * time, whichever the engine; *seen keeps the first such time. -1 if a run
 * disagrees: then the engines did not run the same workload.
 */
static int check_workload(size_t n, const char *who, const struct result *r,
                          sim_time_t *seen)
{
    if (r->events < HOLD_CHECK_AT) {
        return 0;
    }
    if (*seen == 0) {
        *seen = r->check;
    }
    if (r->check != *seen) {
        fprintf(stderr, "size=%zu: event %u at %" PRIu64 " ps in %s, "
                "%" PRIu64 " ps before: not the same workload\n", n,
                HOLD_CHECK_AT, r->check, who, *seen);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, const char **sc, uint64_t *ms)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--systemc=", 10) == 0) {
            *sc = argv[i] + 10;
        } else if (strncmp(argv[i], "--ms=", 5) == 0 &&
                   (*ms = strtoull(argv[i] + 5, NULL, 10)) > 0) {
            continue;
        } else {
            fprintf(stderr, "usage: %s [--systemc=PROGRAM] [--ms=N]\n",
                    argv[0]);
            return -1;
        }
    }
    return 0;
}

/*
 * One size: ROUNDS alternations of a vusim run and a SystemC run, the best
 * rate of each engine counting, so slow drift in the host's load hits both
 * alike. *v and *s get the best runs; s->eps stays 0 without SystemC.
 */
static int measure(size_t n, const uint64_t *delay, const char *sc,
                   uint64_t ms, struct result *v, struct result *s)
{
    sim_time_t seen = 0;

    *v = (struct result){ 0 };
    *s = (struct result){ 0 };
    for (int r = 0; r < ROUNDS; r++) {
        struct result x;

        if (run_vusim(n, delay, ms * 1000000, &x) != 0 ||
            check_workload(n, "vusim", &x, &seen) != 0) {
            fprintf(stderr, "size=%zu: vusim run failed\n", n);
            return -1;
        }
        if (x.eps > v->eps) {
            *v = x;
        }
        if (!sc) {
            continue;
        }
        if (run_systemc(sc, n, ms * 1000000, &x) != 0 ||
            check_workload(n, "SystemC", &x, &seen) != 0) {
            fprintf(stderr, "size=%zu: %s failed\n", n, sc);
            return -1;
        }
        if (x.eps > s->eps) {
            *s = x;
        }
    }
    if (seen != 0) {
        printf("workload size=%zu event=%u time_ps=%" PRIu64 " (every run "
               "agrees)\n", n, HOLD_CHECK_AT, seen);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static uint64_t delay[HOLD_NDELAYS];
    const char *sc = NULL;
    uint64_t ms = 300;
    double min_ratio = 0;

    if (parse_args(argc, argv, &sc, &ms) != 0) {
        return 2;
    }
    hold_delays(delay);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct result v, s;

        if (measure(sizes[i], delay, sc, ms, &v, &s) != 0) {
            return 1;
        }
        if (!sc) {
            printf("size=%zu vusim_eps=%.0f systemc_eps=n/a ratio=n/a\n",
                   sizes[i], v.eps);
            continue;
        }
        printf("size=%zu vusim_eps=%.0f systemc_eps=%.0f ratio=%.2f\n",
               sizes[i], v.eps, s.eps, v.eps / s.eps);
        if (i == 0 || v.eps / s.eps < min_ratio) {
            min_ratio = v.eps / s.eps;
        }
    }
    printf("bytes_per_event=%zu\n", sim_cal_bytes_per_event());
    if (sc) {
        printf("calendar-vs-systemc min-ratio=%.2f\n", min_ratio);
    } else {
        printf("calendar-vs-systemc min-ratio=n/a\n");
    }
    return 0;
}
