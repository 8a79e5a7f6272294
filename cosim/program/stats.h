/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/stats.h - the vusim program's run summary: feature names, the
 * --stats JSON document and duration formatting
 *
 * Part of the vusim program (not libvusim): vusim DEVICE and vusim demo
 * both write their --stats file through vusim_stats_write(), so the two
 * documents have the same shape:
 *
 *   { "device": "blk",
 *     ...every member of vu_backend_stats_json(): "features" and
 *        "protocol_features" (hex), "notification_mode", "queues" (per
 *        queue kicks, calls, requests, bytes), "latency_ps", ...,
 *     "feature_names": ["VERSION_1", ...], "protocol_feature_names": [...],
 *     "sim_time_ps": N, "sim_time": "1.5ms",
 *     "calendar": { "fired": N, "scheduled": N, "cancelled": N,
 *                   "max_pending": N },
 *     "device_stats": { dev_ops->stats_json() members },
 *     ...extra members...,
 *     "wall": { "elapsed_ns": N, "elapsed_s": 1.234 } }
 *
 * The back-end's members sit at the top level, so a script reads
 * .notification_mode or .queues[0].requests directly.
 * Everything but "wall" is a function of the simulation; wall time is kept
 * in its own member so that two runs can be compared without it.
 *
 * Owns:        nothing.
 * Borrows:     the loop, back-end and device, for the call only.
 * Threading:   call from the loop's thread, or after it has stopped.
 * Errors:      -EIO the file could not be written, -ENOMEM.
 */
#ifndef VUSIM_COSIM_STATS_H
#define VUSIM_COSIM_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"
#include "devices/dev.h"
#include "sim/time.h"

/* Name of virtio feature @bit for a device of @ops ("EVENT_IDX", "FLUSH"),
 * or NULL if neither the transport nor the device names it. */
const char *vusim_feature_name(const struct dev_ops *ops, unsigned bit);

/* Name of vhost-user protocol feature @bit ("INBAND_NOTIFICATIONS"). */
const char *vusim_pfeature_name(unsigned bit);

/* Names of the bits set, space-separated ("bit 45" for unnamed ones);
 * "(none)" when @bits is 0. Returns @buf. */
char *vusim_features_str(const struct dev_ops *ops, uint64_t bits,
                         char *buf, size_t len);
char *vusim_pfeatures_str(uint64_t bits, char *buf, size_t len);

/* A duration for people: "850 ns", "12.345 us", "3.500 ms", "1.250 s". */
char *vusim_dur_fmt(sim_time_t t, char *buf, size_t len);

struct vusim_run_info {
    const char *device;       /* the CLI's device word */
    struct vu_loop *loop;
    struct vu_backend *be;
    struct dev *dev;
    uint64_t wall_ns;         /* elapsed host time of the run */
    const char *extra;        /* more members ("k": v, ...), or NULL */
};

/* Write the summary as one JSON object and a newline. */
int vusim_stats_write(FILE *f, const struct vusim_run_info *ri);

#endif
