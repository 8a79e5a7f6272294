/* SPDX-License-Identifier: MIT */
/*
 * cosim/backend/backend_trace.h - recording a back-end's run as a trace (issue #6)
 *
 * With a trace attached, the back-end records what crosses its boundary
 * (traces/FORMAT.md): every vhost-user message both ways on both channels
 * (fds counted, never numbered), each kick, every device hook it calls
 * (avail, queue start/stop, reset, features, config), each chain the
 * device takes with its readable bytes, each completion with a SHA-256 of
 * what the device wrote, each call and the device's calendar events.
 * Before it signals a call it flushes the trace with write(2), so
 * everything up to that completion is in the file before the guest can
 * see it.
 *
 * Owns:        nothing: the caller owns the writer. vu_trace_open() /
 *              vu_trace_close() pair the writer with a back-end.
 * Borrows:     the writer, until vu_backend_set_trace(be, NULL) or
 *              vu_trace_close(); it must outlive the back-end's use of it.
 * Threading:   the loop's thread.
 * Errors:      vu_trace_open: -errno from the trace or image file, -EINVAL,
 *              -ENOMEM, with one line in @err. Recording errors are logged
 *              once and end the trace at its last whole record; the run
 *              goes on.
 * Determinism: the trace depends only on the front-end's messages and
 *              data and on simulated time (see FORMAT.md, "Determinism").
 */
#ifndef VUSIM_COSIM_BACKEND_TRACE_H
#define VUSIM_COSIM_BACKEND_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "cosim/backend/backend.h"
#include "devices/dev.h"
#include "traces/trace.h"

/* Record into @w from now on (NULL stops); @w takes its time from the
 * device's calendar and observes it. */
void vu_backend_set_trace(struct vu_backend *be, struct trace_writer *w);

struct vu_trace_cfg {
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
 * Open @cfg->path and attach it to @be. The HEADER gets the device, its
 * options, the clock, the seed, the back-end's offered features, queues,
 * in-band mode and connection id, and the disk image at start: a
 * "backing" option's file is hashed (SHA-256, its size); a virtio-blk
 * without one is a RAM disk that starts as zeros.
 */
int vu_trace_open(struct vu_backend *be, const struct vu_trace_cfg *cfg,
                  struct trace_writer **out, char *err, size_t errlen);

/* Detach @w from @be and close it (END record, last flush). Returns the
 * first recording error, or 0. */
int vu_trace_close(struct vu_backend *be, struct trace_writer *w);

#endif
