/* SPDX-License-Identifier: MIT */
/*
 * traces/replay.h - re-run a device model from a trace, without a guest
 *
 * Replay builds the recorded device (HEADER: name, options, image) on a
 * fresh calendar and plays the host's part of devices/dev.h from the
 * trace: each input record (AVAIL, QUEUE, RESET, CANCEL, NEG features,
 * CONFIG) calls the device's hook at its recorded simulated time, each
 * CHAIN is what dev_pop() returns, and each CAL fire record runs the
 * calendar's next event. What the device produces is checked:
 *
 *   hard  every completion against its COMPLETE record (time, used length,
 *         status, written extent, digest of the written bytes), config
 *         reads, and that the device takes each recorded chain;
 *   soft  every calendar event (scheduled, fired, cancelled) against the
 *         CAL records, in order.
 *
 * The first hard difference is the divergence. A completion that moved is
 * reported at its own COMPLETE record (found by request id), so a changed
 * timing model is caught at the first completion that moves, even though
 * the calendar differed a little earlier. A soft difference is reported
 * only if no hard one follows. Message, kick, call and mode records are
 * context: replay does not need them.
 *
 * A trace recorded with an image file needs its starting image (cfg.image,
 * or an override of the device's image_opt): its size and
 * SHA-256 must match the HEADER's. It is copied into a memfd the device
 * opens instead, so replay never writes the file. Options in
 * cfg.overrides replace or add device options (a changed --latency).
 *
 * Owns:        the device, calendar and memfd it creates, for the call.
 * Borrows:     the reader, for the call. A lazy one (trace_reader_open_lazy)
 *              is validated as the walk reaches each record, and to its end
 *              before this returns.
 * Threading:   trace_replay() walks on the caller's thread and checks
 *              the digests of completions whose other fields matched on
 *              one worker thread of its own, in order, joined before it
 *              returns (cfg.sync_digest: all on the caller's thread). The
 *              result is the same either way, to the byte.
 * Errors:      -EINVAL the trace cannot be replayed (unknown device,
 *              options refused, missing or wrong image; a line in @err),
 *              -ENOMEM, -errno reading the image.
 * Determinism: no wall clock, no sleeping: a pure function of the trace,
 *              the image and the device code, however the worker's timing
 *              falls. Only the device's log lines can differ: after a
 *              digest that differs the walk may go on a little before it
 *              learns of it, and the device may log on the way.
 */
#ifndef VUSIM_TRACES_REPLAY_H
#define VUSIM_TRACES_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "traces/reader.h"

struct trace_replay_cfg {
    const char *image;                /* the starting image of a trace
                                         recorded with one (ops->image_opt);
                                         NULL: an override of that option */
    const struct trace_opt *overrides;
    size_t noverrides;
    bool sync_digest;                 /* no worker thread (tests, debugging) */
};

struct trace_divergence {
    size_t index;                     /* record index in the trace */
    sim_time_t time;                  /* that record's time */
    char what[192];
    char expected[768];
    char actual[768];
};

struct trace_replay_result {
    size_t records;                   /* records walked */
    uint64_t inputs, chains, completions, cal_events;   /* checked */
    uint64_t faults;                  /* FAULT records reproduced */
    bool diverged;
    bool soft;                        /* the divergence is a calendar one */
    struct trace_divergence div;
};

int trace_replay(struct trace_reader *r,
                 const struct trace_replay_cfg *cfg,
                 struct trace_replay_result *res, char *err, size_t errlen);

#endif
