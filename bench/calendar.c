/* SPDX-License-Identifier: MIT */
/*
 * bench/calendar - the vusim calendar against SystemC's kernel on the hold
 * model (bench/calendar-hold.h) at 1, 1,000 and 100,000 pending events.
 *
 * usage: calendar [--systemc=PROGRAM] [--ms=MILLISECONDS]
 *
 * Each size interleaves ROUNDS runs of each engine, each run taking about
 * --ms of wall time (default 300) and going on until it has passed the
 * check event; a run's rate is its events over its wall time, and each
 * engine's figure is the median of its runs, min and max beside it. Two
 * SystemC idioms are measured: sc_event notified by an SC_METHOD
 * sensitive to it ("event"), and an SC_METHOD re-triggering itself with
 * next_trigger(delay) ("trigger", the lighter idiom); the ratio is taken
 * against the faster of the two. SystemC can be elaborated only once per
 * process, so PROGRAM (bench/calendar-systemc) runs as a child for each of
 * its runs and prints its figures on stdout.
 *
 * Every run must reach event HOLD_CHECK_AT, and every run, whichever the
 * engine, must see it at the same simulated time: else the benchmark
 * fails (not the same workload).
 *
 * Memory per pending event is measured, not computed: the allocator's
 * bytes in use (mallinfo2) after putting N events on a fresh calendar,
 * events included, minus before, over N; the same in the SystemC child
 * for its sc_events or processes.
 *
 * Output, one key=value line each:
 *   workload size=N event=K time_ps=T   (every run, either engine, reached
 *                                        its K-th event at simulated time T)
 *   size=N vusim_eps=X (min..max) systemc_event_eps=Y (min..max)
 *          systemc_trigger_eps=Z (min..max) ratio=R
 *   bytes_per_event vusim=B systemc_event=B systemc_trigger=B (at 100,000)
 *   calendar-vs-systemc min-ratio=R      (last line; the smallest ratio)
  */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/calendar-hold.h"
#include "sim/cal.h"

static const size_t sizes[] = { 1, 1000, 100000 };

#define ROUNDS 5              /* interleaved runs of each engine per size */
#define NENG 3                /* vusim, SystemC event, SystemC trigger */

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
    double bytes_per_event;   /* allocator bytes per pending event */
};

static const char *const eng_name[NENG] = { "vusim", "systemc_event",
                                            "systemc_trigger" };

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

/* Bytes the allocator has handed out: arena and mmapped blocks. */
static size_t heap_inuse(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static int run_vusim(size_t n, const uint64_t *delay, uint64_t target_ns,
                     struct result *res)
{
    struct hold_run h = { .delay = delay };
    size_t inuse0 = heap_inuse();
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
    res->bytes_per_event = (double)(heap_inuse() - inuse0) /
                           (double)n;
    /* Run the calendar's own loop in slices of about HOLD_BATCH events,
     * as sc_start() runs SystemC's: n events take a mean delay each. */
    quantum = (sim_time_t)HOLD_BATCH * (HOLD_MAX_DELAY / 2) / n + 1;
    hold_meter_start(&m, target_ns, h.fired);
    do {
        sim_cal_run_until(cal, sim_cal_now(cal) + quantum);
    } while (!hold_meter_tick(&m, h.fired) && h.err == 0);
    res->eps = m.eps;
    res->events = h.fired;
    res->check = h.check;
    sim_cal_free(cal);
    free(ev);
    return h.err;
}

/* Run PROGRAM N TARGET_NS MODE and parse
 * "systemc_eps=X events=M check=T bytes_per_event=B". */
static int run_systemc(const char *prog, const char *mode, size_t n,
                       uint64_t target_ns, struct result *res)
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
        execl(prog, prog, a1, a2, mode, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "systemc_eps=%lf events=%llu check=%llu "
                   "bytes_per_event=%lf", &res->eps, &ev, &ck,
                   &res->bytes_per_event) == 4) {
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
 * Every run reached event HOLD_CHECK_AT and saw it at one simulated time,
 * whichever the engine; *seen keeps the first such time. -1 if a run
 * stopped short or disagrees: then it did not run the same workload.
 */
static int check_workload(size_t n, const char *who, const struct result *r,
                          sim_time_t *seen)
{
    if (r->events < HOLD_CHECK_AT || r->check == 0) {
        fprintf(stderr, "size=%zu: %s stopped after %" PRIu64 " events, "
                "before the check event %u\n", n, who, r->events,
                HOLD_CHECK_AT);
        return -1;
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* One engine's runs at one size: the median rate, min and max. */
struct fig {
    double med, min, max, bytes;
    bool have;
};

static struct fig summarize(struct result *r, int n)
{
    double v[ROUNDS];
    struct fig f = { .have = n > 0, .bytes = n ? r[0].bytes_per_event : 0 };

    if (n == 0) {
        return f;
    }
    for (int i = 0; i < n; i++) {
        v[i] = r[i].eps;
    }
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    f.med = v[n / 2];
    f.min = v[0];
    f.max = v[n - 1];
    return f;
}

static int run_engine(int e, const char *sc, size_t n, const uint64_t *delay,
                      uint64_t ms, struct result *x)
{
    if (e == 0) {
        return run_vusim(n, delay, ms * 1000000, x);
    }
    return run_systemc(sc, e == 1 ? "event" : "trigger", n, ms * 1000000, x);
}

/*
 * One size: ROUNDS rounds, each running every engine once in turn, so slow
 * drift in the host's load hits all alike; f[e] gets each engine's median.
 * f[1], f[2] stay empty without SystemC.
 */
static int measure(size_t n, const uint64_t *delay, const char *sc,
                   uint64_t ms, struct fig f[NENG])
{
    struct result r[NENG][ROUNDS];
    int runs[NENG] = { 0 };
    sim_time_t seen = 0;

    for (int k = 0; k < ROUNDS; k++) {
        for (int e = 0; e < (sc ? NENG : 1); e++) {
            struct result *x = &r[e][runs[e]];

            *x = (struct result){ 0 };
            if (run_engine(e, sc, n, delay, ms, x) != 0 ||
                check_workload(n, eng_name[e], x, &seen) != 0) {
                fprintf(stderr, "size=%zu: %s run failed\n", n, eng_name[e]);
                return -1;
            }
            runs[e]++;
        }
    }
    for (int e = 0; e < NENG; e++) {
        f[e] = summarize(r[e], runs[e]);
    }
    printf("workload size=%zu event=%u time_ps=%" PRIu64 " (every run "
           "agrees)\n", n, HOLD_CHECK_AT, seen);
    return 0;
}

int main(int argc, char **argv)
{
    static uint64_t delay[HOLD_NDELAYS];
    const char *sc = NULL;
    uint64_t ms = 300;
    double min_ratio = 0;
    struct fig f[NENG];

    if (parse_args(argc, argv, &sc, &ms) != 0) {
        return 2;
    }
    hold_delays(delay);
    printf("medians of %d interleaved runs of ~%" PRIu64 " ms each, "
           "events per wall second (min..max)\n", ROUNDS, ms);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (measure(sizes[i], delay, sc, ms, f) != 0) {
            return 1;
        }
        printf("size=%zu vusim_eps=%.0f (%.0f..%.0f)", sizes[i], f[0].med,
               f[0].min, f[0].max);
        if (!sc) {
            printf(" systemc=n/a\n");
            continue;
        }
        double best = f[1].med > f[2].med ? f[1].med : f[2].med;

        printf(" systemc_event_eps=%.0f (%.0f..%.0f) systemc_trigger_eps="
               "%.0f (%.0f..%.0f) ratio=%.2f\n", f[1].med, f[1].min,
               f[1].max, f[2].med, f[2].min, f[2].max, f[0].med / best);
        if (i == 0 || f[0].med / best < min_ratio) {
            min_ratio = f[0].med / best;
        }
    }
    /* f holds the largest size, where fixed costs weigh least. */
    printf("bytes_per_event size=%zu vusim=%.1f", sizes[2], f[0].bytes);
    if (sc) {
        printf(" systemc_event=%.1f systemc_trigger=%.1f", f[1].bytes,
               f[2].bytes);
    }
    printf(" (allocator bytes in use per pending event, measured)\n");
    if (sc) {
        printf("calendar-vs-systemc min-ratio=%.2f\n", min_ratio);
    } else {
        printf("calendar-vs-systemc min-ratio=n/a\n");
    }
    return 0;
}
