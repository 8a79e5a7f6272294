/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/demo-internal.h - shared by demo.c (options, the back-end
 * thread), demo_work.c (the front-end workload) and demo_report.c (the
 * report); not installed.
 */
#ifndef VUSIM_COSIM_DEMO_INTERNAL_H
#define VUSIM_COSIM_DEMO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cosim/backend/backend.h"
#include "cosim/program/demo.h"
#include "cosim/backend/loop.h"
#include "cosim/backend/server.h"
#include "cosim/frontend/vufe.h"
#include "devices/dev.h"
#include "traces/trace.h"

#define DEMO_MAX_INFLIGHT 64u
#define DEMO_MAX_CLASSES  VUSIM_PROBE_NCLASS
#define DEMO_MAX_DOPTS    8u              /* device options it forwards */

struct demo_cfg {
    uint64_t requests, seed, inflight;
    enum vufe_notify notify;
    const char *connect;        /* --connect=PATH: an outside back-end */
    const char *stats;          /* --stats=FILE or NULL */
    const char *trace;          /* --trace=FILE or NULL */
    enum trace_digest trace_digest;     /* --trace-digest; 0: default */
    bool verbose;
    int log_level;              /* -1: default */
    const struct dev_ops *ops;  /* the device, with its guest side */
    struct dev_opt dopt[DEMO_MAX_DOPTS];    /* ops->work->demo_opts */
    bool dopt_given[DEMO_MAX_DOPTS];        /* set on the command line */
    size_t ndopt;
};

/* What the front-end saw; counts and bytes per request class. */
struct demo_run {
    uint64_t done;
    uint64_t count[DEMO_MAX_CLASSES], bytes[DEMO_MAX_CLASSES];
    uint64_t verified;          /* bytes read back and compared */
    uint64_t mismatches;        /* of those, bytes that differed */
    uint64_t errors;            /* requests with a bad status or length */
    char device[64];            /* what it drove, in the device's words */
    uint64_t features, protocol_features;   /* as the front-end acked */
    uint64_t kicks, kicks_suppressed, calls;    /* front-end's count */
    uint64_t wall_ns;
    /* Host time of the requests alone, from the first submitted to the last
     * reaped, less the front-end's checks of the data read back (verify_ns):
     * the device's work, which replay is timed against (bench-trace). */
    uint64_t work_ns, verify_ns;
};

/* The in-process back-end: the model behind the probe, on a private
 * socket, served by its own thread. All NULL with --connect. */
struct demo_be {
    char dir[64];
    char path[96];
    struct vu_loop *loop;
    struct vusim_probe *probe;
    struct vu_backend *be;
    struct vu_server *srv;
    struct trace_recorder *trace; /* --trace */
    const char *trace_path;
    pthread_t thread;
    bool running;
    int rc;
};

/* Print the report on stdout. @b may be NULL (--connect). */
void vusim_demo_report(const struct demo_be *b, const struct demo_cfg *c,
                       const struct demo_run *r);

/* Write c->stats; 0, or 1 after printing why not. */
int vusim_demo_write_stats(const struct demo_be *b,
                           const struct demo_cfg *c,
                           const struct demo_run *r);

/* Connect to @path and run the workload; 0, or 1 after printing why the
 * run could not go on (r holds what was done until then). */
int vusim_demo_work(const struct demo_cfg *c, const char *path,
                    struct demo_run *r);

#endif
