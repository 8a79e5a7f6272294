/* SPDX-License-Identifier: MIT */
/*
 * cosim/demo-internal.h - shared by demo.c (set-up, report) and
 * demo_work.c (the front-end workload); not installed.
 */
#ifndef VUSIM_COSIM_DEMO_INTERNAL_H
#define VUSIM_COSIM_DEMO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cosim/demo.h"
#include "cosim/vufe.h"
#include "devices/dev.h"

#define DEMO_MAX_INFLIGHT 64u
#define DEMO_MIN_DISK     (64ull << 10)   /* one largest request */
#define DEMO_MAX_DISK     (1ull << 30)    /* the shadow copy is in RAM */
#define DEMO_MAX_SECTORS  128u            /* 64 KiB per request */

struct demo_cfg {
    uint64_t requests, seed, inflight;
    enum vufe_notify notify;
    const char *stats;          /* --stats=FILE or NULL */
    bool verbose;
    int log_level;              /* -1: default */
    struct dev_opt blk[4];      /* latency, bandwidth, channels, size */
    size_t nblk;
};

/* What the front-end saw; counts and bytes per enum vusim_probe_class. */
struct demo_run {
    uint64_t done;
    uint64_t count[VUSIM_PROBE_NCLASS], bytes[VUSIM_PROBE_NCLASS];
    uint64_t verified;          /* bytes read back and compared */
    uint64_t mismatches;        /* of those, bytes that differed */
    uint64_t errors;            /* requests with a bad status or length */
    uint64_t disk_bytes;
    uint64_t wall_ns;
};

/* Connect to @path and run the workload; 0, or 1 after printing why the
 * run could not go on (r holds what was done until then). */
int vusim_demo_work(const struct demo_cfg *c, const char *path,
                    struct demo_run *r);

#endif
