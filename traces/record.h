/* SPDX-License-Identifier: MIT */
/*
 * traces/record.h - recording a back-end's run as a trace
 *
 * A recorder observes one back-end (cosim/backend/observer.h) and writes
 * what crosses its boundary (traces/FORMAT.md): every vhost-user message
 * both ways on both channels
 * (fds counted, never numbered), each kick, every device hook it calls
 * (avail, queue start/stop, reset, features, config), each chain the
 * device takes with its readable bytes, each completion with a SHA-256 of
 * what the device wrote, each call and the device's calendar events.
 * Before it signals a call it flushes the trace with write(2), so
 * everything up to that completion is in the file before the guest can
 * see it.
 *
 * Model:       trace_record_open() makes a recorder, its writer and file,
 *              and attaches it to the back-end as its observer;
 *              trace_record_close() ends the trace and frees the recorder.
 * Owns:        the recorder owns its writer and what it keeps per request.
 * Borrows:     the back-end: the recorder must outlive the back-end's use
 *              of it (close it after vu_backend_free(), or give the
 *              back-end to trace_record_close() to detach it first).
 * Threading:   the loop's thread.
 * Errors:      trace_record_open: -errno from the trace or image file,
 *              -EINVAL, -ENOMEM, with one line in @err. Recording errors are logged
 *              once and end the trace at its last whole record; the run
 *              goes on.
 * Determinism: the trace depends only on the front-end's messages and
 *              data and on simulated time (see FORMAT.md, "Determinism").
 */
#ifndef VUSIM_TRACES_RECORD_H
#define VUSIM_TRACES_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "cosim/backend/backend.h"
#include "devices/dev.h"
#include "traces/trace.h"

struct trace_recorder;

struct trace_record_cfg {
    const char *path;             /* the trace file (replaced) */
    const char *device;           /* model name for the HEADER; NULL: the
                                     back-end's device's ops->name */
    const struct dev_opt *opts;   /* the model's options, as given */
    size_t nopts;
    const char *clock;            /* "afap", "realtime:2", ...; NULL afap */
    uint64_t seed;
    bool wallclock;               /* add a TRAILER with wall-clock facts */
    enum trace_digest digest;     /* completions' digest; 0: the default */
};

/*
 * Open @cfg->path and record @be into it: the recorder observes @be, and
 * its writer takes its time from the device's calendar and observes it.
 * The HEADER gets the device, its options, the clock, the seed, the
 * back-end's offered features, queues, in-band mode and connection id, and
 * the image at start: the file the device's image option names is hashed
 * (SHA-256, its size); without one, a device with an image_size hook has
 * an image of that size that starts as zeros (devices/dev.h).
 */
int trace_record_open(struct vu_backend *be,
                      const struct trace_record_cfg *cfg,
                      struct trace_recorder **out, char *err, size_t errlen);

/* Detach @rec from @be (NULL: the back-end is gone already), close its
 * trace (END record, last flush) and free it. Returns the first recording
 * error, or 0. */
int trace_record_close(struct vu_backend *be, struct trace_recorder *rec);

/* Record a time-travel exchange (sim/tt.h) in @rec's trace: the program's
 * sim_tt observer hands each exchange to every device's recorder. */
void trace_record_tt(struct trace_recorder *rec, uint64_t id,
                     enum sim_tt_dir dir, const struct sim_tt_msg *m,
                     uint64_t reply);

#endif
