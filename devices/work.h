/* SPDX-License-Identifier: MIT */
/*
 * devices/work.h - a device's guest side: its requests as plain buffers,
 * and the check of each completion
 *
 * Model:       programs that drive a device without a guest OS (vusim
 *              demo, the benches) play its driver through the reference
 *              front-end. What a driver puts in a request and what it
 *              must get back is the device's knowledge, so the device
 *              gives it here (dev_ops.work) and those programs stay
 *              generic. The host owns the driver's memory and the rings:
 *              it gives each request slot nbufs buffers, sized and
 *              aligned as bufs[] says, at fixed places for the whole run.
 *              For one request next() (a seeded workload) or fetch() (one
 *              plain request, for benchmarks) writes the device-readable
 *              bytes into the slot's buffers, presets the writable ones,
 *              and says how many bytes of each buffer the descriptor chain
 *              uses and in which direction; the host chains the used
 *              buffers in order. When the device has completed the slot,
 *              check() compares what it wrote with what it must have.
 *              A batch is slots 0..n-1 made available together; they may
 *              complete in any order, so next() draws no request whose
 *              result depends on another one of its batch.
 * Owns:        its state (blk: a shadow copy of the disk, each slot's
 *              request).
 * Borrows:     the slot buffers, from next() or fetch() until check() of
 *              that slot; the generator, for the call.
 * Threading:   single thread, the host's.
 * Errors:      open(): one line in @err and -ERANGE for a device this
 *              workload cannot drive (its config), -ENOMEM. next():
 *              -EAGAIN when no request fits beside the batch's (the batch
 *              ends there). fetch(): -EINVAL for a size it cannot move.
 *              check() never fails: the result says what was wrong.
 * Determinism: next() draws from @rng only, in a fixed order; what it
 *              draws depends on the config, the generator and the batch.
 */
#ifndef VUSIM_DEVICES_WORK_H
#define VUSIM_DEVICES_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/rng.h"

struct dev_req;
struct dev_work;                /* the device's */

#define DEV_WORK_MAX_BUFS 4u

/* One buffer of every slot: the largest use, and its alignment. */
struct dev_work_bufspec {
    uint32_t size;
    uint32_t align;
};

/* A slot's buffer for one request. */
struct dev_work_buf {
    uint8_t *p;             /* the host's: where the driver sees it */
    uint32_t len;           /* set by next()/fetch(): bytes of it in the
                               chain; 0 leaves it out */
    bool writable;          /* set by next()/fetch(): the device writes */
};

/* What check() found about one completed request. */
struct dev_work_result {
    unsigned cls;           /* index in classes[] */
    uint64_t bytes;         /* data bytes the request moved */
    uint64_t verified;      /* bytes compared with what they must be */
    uint64_t mismatched;    /* of those, bytes that differ */
    bool failed;            /* a bad status or used length */
    char what[192];         /* the failure or first mismatch, in words */
};

/* An option a demo creates the device with, and its help there. */
struct dev_work_opt {
    const char *name;
    const char *value;      /* the demo's default */
    const char *help;
};

struct dev_work_ops {
    /* Request classes for counts and latencies ("read", "write"), NULL-
     * terminated; the last is the class of anything else. */
    const char *const *classes;
    /* The device's options a demo sets, in the order it passes them (and
     * a trace header records them); NULL-name terminated. */
    const struct dev_work_opt *demo_opts;
    uint32_t config_size;   /* config bytes open() reads */
    unsigned nbufs;         /* at most DEV_WORK_MAX_BUFS */
    struct dev_work_bufspec bufs[DEV_WORK_MAX_BUFS];
    uint32_t slot_mem;      /* driver memory a slot takes, padding in */

    /* A workload for the device whose config space is @config, with
     * @slots request slots (1..64). */
    int (*open)(const uint8_t *config, uint32_t len, unsigned slots,
                struct dev_work **out, char *err, size_t errlen);
    void (*close)(struct dev_work *w);
    /* What it drives, in words ("16384 KiB disk"). */
    void (*describe)(const struct dev_work *w, char *buf, size_t len);
    /* Draw request @slot of the batch (0 starts a batch) into @bufs. */
    int (*next)(struct dev_work *w, struct vusim_rng *rng, unsigned slot,
                struct dev_work_buf *bufs);
    /* Optional. One plain request that moves @len bytes to the driver
     * from offset @at of what the device holds (blk: a read), for
     * benchmarks: it presets no more than a driver would, so check()
     * compares what the buffers hold. */
    int (*fetch)(struct dev_work *w, unsigned slot, uint64_t at,
                 uint32_t len, struct dev_work_buf *bufs);
    /* Slot @slot completed with @used bytes written: check it. */
    void (*check)(struct dev_work *w, unsigned slot,
                  const struct dev_work_buf *bufs, uint32_t used,
                  struct dev_work_result *res);
    /* The class of a request the device took, from its readable bytes
     * (dev_req_read()), for a host that times requests by class. */
    unsigned (*classify)(struct dev_req *req);
};

#endif
