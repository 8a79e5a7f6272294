/* SPDX-License-Identifier: MIT */
/*
 * tests/support/echodev.h - a minimal device for back-end tests and benches
 *
 * Each request is completed by one calendar event, @latency after it was
 * popped: the device copies min(rd_len, wr_len) readable bytes into the
 * writable part and completes with that length. It records, per request,
 * the simulated completion time, so tests can check timing exactly.
 */
#ifndef VUSIM_TESTS_ECHODEV_H
#define VUSIM_TESTS_ECHODEV_H

#include "devices/dev.h"

#define ECHODEV_MAX_LOG 4096

struct echodev {
    struct dev dev;
    sim_time_t latency;
    bool event_per_avail;       /* each avail() also schedules one event */
    uint64_t popped, completed, cancelled, avail_calls, ticks;
    uint64_t started_mask, stopped_mask, resets;
    uint64_t features_seen;
    uint8_t config[16];
    sim_time_t done_at[ECHODEV_MAX_LOG];
};

extern const struct dev_ops echodev_ops;

/* A device with @nq queues and a fixed latency. */
struct echodev *echodev_new(struct sim_cal *cal, uint16_t nq,
                            sim_time_t latency);
void echodev_free(struct echodev *e);

#endif
