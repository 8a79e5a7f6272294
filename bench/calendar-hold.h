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
#define HOLD_CHECK_AT   (1u << 20)      /* event whose time is compared */

static inline void hold_delays(uint64_t *d)
{
    struct vusim_rng r;

    vusim_rng_seed(&r, HOLD_SEED);
    for (size_t i = 0; i < HOLD_NDELAYS; i++) {
        d[i] = 1 + vusim_rng_below(&r, HOLD_MAX_DELAY);
    }
}

#endif
