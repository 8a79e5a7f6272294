/* SPDX-License-Identifier: MIT */
/*
 * bench/calendar-hold.h - the hold-model workload shared by the vusim and
 * SystemC sides of bench/calendar
 *
 * Hold model: N events pending; the earliest fires and its owner schedules
 * it again a random delay later. The delays are one pre-generated table from
 * vusim_rng with a fixed seed, consumed in firing order by both engines, so
 * both run the same workload. Whatever the order among equal times, the
 * multiset of pending times evolves identically, so the simulated time at
 * the HOLD_CHECK_AT-th event must agree between the engines: the benchmark
 * checks it.
 *
 * Both sides measure the same way (struct hold_meter): the run is cut into
 * HOLD_WINDOWS windows of wall time, read every HOLD_BATCH events, and the
 * best window's rate counts, so a neighbour stealing the CPU for a moment
 * does not decide the result.
 */
#ifndef VUSIM_BENCH_CALENDAR_HOLD_H
#define VUSIM_BENCH_CALENDAR_HOLD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "sim/rng.h"
#include "sim/wallclock.h"
#ifdef __cplusplus
}
#endif

#define HOLD_SEED       0xca1e9da5ull
#define HOLD_NDELAYS    65536u          /* power of two: index & mask */
#define HOLD_MAX_DELAY  1000000u        /* ps; delays are 1 .. this */
#define HOLD_BATCH      1024u           /* events between clock reads */
#define HOLD_CHECK_AT   (1u << 17)      /* event whose time is compared */
#define HOLD_WINDOWS    8u

struct hold_meter {
    uint64_t win_ns;          /* length of one window */
    uint64_t t_start;         /* wall time the current window began */
    uint64_t f_start;         /* events fired when it began */
    unsigned windows;         /* windows completed */
    double best_eps;
};

static inline void hold_meter_start(struct hold_meter *m, uint64_t total_ns,
                                    uint64_t fired)
{
    m->win_ns = total_ns / HOLD_WINDOWS;
    m->t_start = vusim_wallclock_ns();
    m->f_start = fired;
    m->windows = 0;
    m->best_eps = 0;
}

/* Call every HOLD_BATCH events; true once the last window is over. */
static inline int hold_meter_tick(struct hold_meter *m, uint64_t fired)
{
    uint64_t now = vusim_wallclock_ns();
    double eps;

    if (now - m->t_start < m->win_ns) {
        return 0;
    }
    eps = (double)(fired - m->f_start) * 1e9 / (double)(now - m->t_start);
    if (eps > m->best_eps) {
        m->best_eps = eps;
    }
    m->t_start = now;
    m->f_start = fired;
    return ++m->windows >= HOLD_WINDOWS;
}

static inline void hold_delays(uint64_t *d)
{
    struct vusim_rng r;

    vusim_rng_seed(&r, HOLD_SEED);
    for (size_t i = 0; i < HOLD_NDELAYS; i++) {
        d[i] = 1 + vusim_rng_below(&r, HOLD_MAX_DELAY);
    }
}

#endif
