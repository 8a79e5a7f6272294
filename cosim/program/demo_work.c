/* SPDX-License-Identifier: MIT */
/*
 * The demo's workload (cosim/program/demo-internal.h): the guest side,
 * played by the reference front-end.
 *
 * Batches of 1..--inflight requests are put on the ring and announced with
 * one notification, then all of them are reaped before the next batch.
 * What each request is, and what its completion must hold, is the
 * device's guest side (devices/work.h): this file gives each slot its
 * buffers in guest memory, chains the ones a request uses (a quarter of
 * the chains through an indirect table when INDIRECT_DESC was
 * negotiated), and counts what the checks found. Everything comes from
 * one vusim_rng seeded with --seed, shared with the device's workload.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/program/demo-internal.h"
#include "cosim/frontend/work.h"
#include "sim/rng.h"
#include "sim/wallclock.h"

#define PROG        "vusim"
#define WAIT_MS     5000
#define MAX_REPORTS 5        /* detailed lines per kind of failure */

struct work {
    const struct demo_cfg *c;
    const struct dev_work_ops *ops;
    struct demo_run *r;
    struct vufe *fe;
    struct vusim_rng rng;
    struct dev_work *dw;
    bool indirect;
    struct vufe_work_slot slot[DEMO_MAX_INFLIGHT];
};

static int fe_fail(const char *what, int rc)
{
    fprintf(stderr, PROG ": demo: front-end: %s: %s\n", what, strerror(-rc));
    return 1;
}

/* ---- set-up ----------------------------------------------------------- */

/* The device's workload, from the config space the front-end read during
 * set-up, and the slots' buffers. */
static int work_device(struct work *w)
{
    char err[256] = "";
    int rc = vufe_work_open(w->fe, w->ops, w->slot, (unsigned)w->c->inflight,
                            &w->dw, err, sizeof(err));

    if (rc < 0) {
        fprintf(stderr, PROG ": demo: front-end: %s\n",
                err[0] ? err : strerror(-rc));
        return 1;
    }
    w->ops->describe(w->dw, w->r->device, sizeof(w->r->device));
    return 0;
}

static int work_open(struct work *w, const char *path)
{
    struct vufe_cfg cfg;
    int err = 0;

    vufe_cfg_init(&cfg);
    cfg.path = path;
    cfg.notify = w->c->notify;
    cfg.queue_size = 256;
    cfg.mem_size = ((1ull << 20) + w->c->inflight * w->ops->slot_mem +
                    8191) & ~8191ull;
    cfg.config_size = w->ops->config_size;
    cfg.timeout_ms = WAIT_MS;
    /* In-band, a call per completion (no EVENT_IDX suppression, which would
     * make calls depend on when this side reaps): see work_reap(). */
    cfg.event_idx = w->c->notify != VUFE_NOTIFY_INBAND;
    w->fe = vufe_open(&cfg, &err);
    if (!w->fe) {
        return fe_fail("connect and negotiate", err ? err : -EIO);
    }
    w->indirect = vufe_features(w->fe) & VU_BIT(VU_F_RING_INDIRECT_DESC);
    return work_device(w);
}

/* ---- one batch ---------------------------------------------------------- */

static int work_submit(struct work *w, struct vufe_work_slot *s)
{
    int rc = vufe_work_add(w->fe, 0, w->ops, s, w->indirect &&
                           vusim_rng_below(&w->rng, 4) == 0);

    return rc < 0 ? fe_fail("add a chain", rc) : 0;
}

static void work_check(struct work *w, unsigned n, uint32_t used)
{
    struct dev_work_result res;
    uint64_t t0 = vusim_wallclock_ns();

    w->ops->check(w->dw, n, w->slot[n].buf, used, &res);
    w->r->verify_ns += vusim_wallclock_ns() - t0;
    if (res.cls >= DEMO_MAX_CLASSES) {
        res.cls = DEMO_MAX_CLASSES - 1;
    }
    w->r->count[res.cls]++;
    w->r->bytes[res.cls] += res.bytes;
    w->r->verified += res.verified;
    if (res.failed && w->r->errors++ < MAX_REPORTS) {
        fprintf(stderr, PROG ": demo: %s\n", res.what);
    }
    if (res.mismatched && w->r->mismatches == 0) {
        fprintf(stderr, PROG ": demo: %s\n", res.what);
    }
    w->r->mismatches += res.mismatched;
}

/* Reap one used element and check the request it names. In-band, take
 * its call first: the back-end sends one call per completion and holds
 * the calendar until it is acked, so after call k exactly k elements are
 * used, and the order of messages on the wire (and in a trace) never
 * depends on how fast this side polls the ring. */
static int work_reap(struct work *w, unsigned n, bool *done)
{
    uint32_t id, used;
    int rc;

    if (w->c->notify == VUFE_NOTIFY_INBAND) {
        rc = vufe_wait_call(w->fe, 0, WAIT_MS);
        rc = rc < 0 ? rc : vufe_reap(w->fe, 0, &id, &used);
    } else {
        rc = vufe_reap_wait(w->fe, 0, &id, &used, WAIT_MS);
    }

    if (rc <= 0) {
        return fe_fail("wait for a used buffer", rc ? rc : -ETIMEDOUT);
    }
    for (unsigned j = 0; j < n; j++) {
        if (!done[j] && (uint32_t)w->slot[j].head == id) {
            done[j] = true;
            work_check(w, j, used);
            return 0;
        }
    }
    return fe_fail("used id not in flight", -EPROTO);
}

static int work_batch(struct work *w)
{
    uint64_t k = 1 + vusim_rng_below(&w->rng, w->c->inflight);
    bool done[DEMO_MAX_INFLIGHT] = { false };
    unsigned n = 0;
    int rc;

    if (k > w->c->requests - w->r->done) {
        k = w->c->requests - w->r->done;
    }
    while (n < k && w->ops->next(w->dw, &w->rng, n, w->slot[n].buf) == 0) {
        if (work_submit(w, &w->slot[n]) != 0) {
            return 1;
        }
        n++;
    }
    rc = vufe_notify(w->fe, 0);
    if (rc < 0) {
        return fe_fail("kick", rc);
    }
    for (unsigned i = 0; i < n; i++) {
        if (work_reap(w, n, done) != 0) {
            return 1;
        }
        w->r->done++;
    }
    return 0;
}

int vusim_demo_work(const struct demo_cfg *c, const char *path,
                    struct demo_run *r)
{
    struct work w = { .c = c, .ops = c->ops->work, .r = r };
    int rc;

    vusim_rng_seed(&w.rng, c->seed);
    rc = work_open(&w, path);
    uint64_t t0 = vusim_wallclock_ns();
    while (rc == 0 && r->done < c->requests) {
        rc = work_batch(&w);
    }
    r->work_ns = vusim_wallclock_ns() - t0 - r->verify_ns;
    if (w.fe) {
        const struct vufe_stats *st = vufe_stats(w.fe);

        r->features = vufe_features(w.fe);
        r->protocol_features = vufe_protocol_features(w.fe);
        r->kicks = st->kicks;
        r->calls = st->calls;
        for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
            r->kicks_suppressed += st->q[q].kicks_suppressed;
        }
    }
    vufe_free(w.fe);
    if (w.dw) {
        w.ops->close(w.dw);
    }
    return rc;
}
