/* SPDX-License-Identifier: MIT */
/*
 * sim/wallclock.h - the one door to the host's clock
 *
 * Nothing in sim/, cosim/, devices/ or traces/ reads the host clock except
 * through this header, and what it returns may reach only stats, logs,
 * pacing (sim/clock.h) and benchmarks, never simulated behaviour or trace
 * bytes. A test in the suite greps the sources to keep it that way.
 */
#ifndef VUSIM_SIM_WALLCLOCK_H
#define VUSIM_SIM_WALLCLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vusim_wallclock_ns(void);

/* CLOCK_REALTIME in nanoseconds since the epoch: only for timestamps a
 * person reads (the control socket's events carry one, as QMP's do). */
uint64_t vusim_wallclock_epoch_ns(void);

/* The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID):
 * what a benchmark's work cost, beside its wall time. */
uint64_t vusim_thread_cpu_ns(void);

/* A host clock that can be replaced by a test clock. */
struct vusim_hostclock {
    uint64_t (*now_ns)(void *opaque);
    void *opaque;
};

/* The real monotonic clock. */
extern const struct vusim_hostclock vusim_hostclock_mono;

#endif
