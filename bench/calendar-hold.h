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
 * Both sides measure the same way (struct hold_meter): the wall clock is
 * read every HOLD_BATCH events, and a run's rate is its events over its
 * wall time from start to end. A run lasts its target time and goes on
 * until it has passed event HOLD_CHECK_AT, so every run is checked.
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
struct hold_meter {
    uint64_t total_ns;        /* target length of the run */
    uint64_t t_start;         /* wall time the run began */
    uint64_t f_start;         /* events fired when it began */
    double eps;               /* the run's rate, once it is over */
};

static inline void hold_meter_start(struct hold_meter *m, uint64_t total_ns,
                                    uint64_t fired)
{
    m->total_ns = total_ns;
    m->t_start = vusim_wallclock_ns();
    m->f_start = fired;
    m->eps = 0;
}

/* Call every HOLD_BATCH events; true once the run is over (its time is up
 * and it has passed the check event). */
static inline int hold_meter_tick(struct hold_meter *m, uint64_t fired)
{
    uint64_t dt = vusim_wallclock_ns() - m->t_start;

    if (dt < m->total_ns || fired <= HOLD_CHECK_AT) {
        return 0;
    }
    m->eps = (double)(fired - m->f_start) * 1e9 / (double)dt;
    return 1;
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
