/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <time.h>

#include "sim/wallclock.h"

uint64_t vusim_wallclock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t vusim_wallclock_epoch_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t vusim_thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_now(void *opaque)
{
    (void)opaque;
    return vusim_wallclock_ns();
}

const struct vusim_hostclock vusim_hostclock_mono = { mono_now, NULL };
