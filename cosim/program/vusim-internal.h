/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/vusim-internal.h - `vusim DEVICE`: what option parsing (vusim.c)
 * hands to the serving part (vusim_run.c); not installed.
 */
#ifndef VUSIM_COSIM_VUSIM_INTERNAL_H
#define VUSIM_COSIM_VUSIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cosim/backend/backend.h"
#include "devices/dev.h"
#include "sim/clock.h"
#include "traces/trace.h"

/* The parsed command line of `vusim DEVICE`. */
struct vusim_cli {
    const struct dev_ops *ops;
    const char *socket_path;    /* exactly one of socket_path and fd_arg */
    int fd;                     /* -1: none */
    const char *fd_arg;
    enum vu_inband_mode inband;
    struct sim_clock_cfg clock;
    const char *time_travel;    /* --time-travel=PATH or NULL */
    uint64_t start_tod_ns;      /* --start-time, for the guests' clock */
    bool free_until;            /* --free-until=on|off (default on) */
    unsigned guests;            /* --guests=N; 0: one per device */
    const char *stats;          /* --stats=FILE or NULL */
    const char *trace;          /* --trace=FILE or NULL */
    const char *control;        /* --control=PATH or NULL */
    enum trace_digest trace_digest;     /* --trace-digest; 0: default */
    bool verbose;
    int log_level;              /* -1: default */
    uint64_t seen;              /* generic options given, one bit each */
    struct dev_opt *dopts;      /* the device's options, in order */
    size_t ndopts, dopts_cap;
    char **scenario;            /* --scenario's rules, as "fault" dopts */
    size_t nscenario;
};

/*
 * Create the device, listen (or adopt the fd) and serve until SIGTERM or
 * SIGINT, or until an inherited connected socket closes; then write the
 * stats, remove the socket path and free everything. Returns the exit
 * status: 0, 1 for a run-time failure, 2 for an option the device or the
 * fd check rejects.
 */
int vusim_serve(const struct vusim_cli *c);

/* Several devices on one loop and calendar (`vusim multi`): each has its
 * own options, socket and trace; the generic options are cs[0]'s. */
#define VUSIM_MAX_DEVICES 16
int vusim_serve_many(const struct vusim_cli *const *cs, size_t n);

#endif
