/* SPDX-License-Identifier: MIT */
/*
 * The demo's workload (cosim/program/demo-internal.h): the guest side, played by
 * the reference front-end.
 *
 * Batches of 1..--inflight requests are put on the ring and announced with
 * one notification, then all of them are reaped before the next batch.
 * Types: about 5% FLUSH, 57% READ, 38% WRITE; sizes 1..128 sectors
 * (512 B..64 KiB) at random sector offsets; a quarter of the chains go
 * through an indirect table when INDIRECT_DESC was negotiated. Everything
 * comes from one vusim_rng seeded with --seed.
 *
 * Virtio does not order requests in flight, so a batch never holds two
 * requests on overlapping sectors when either is a write (a driver would
 * not issue them either). Then the shadow copy, updated when a write is
 * submitted, is exactly what every read in any later or the same batch
 * must return, whatever order the device completes them in.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/program/demo-internal.h"
#include "devices/blk/blk.h"
#include "sim/rng.h"
#include "sim/wallclock.h"

#define PROG        "vusim"
#define WAIT_MS     5000
#define MAX_REPORTS 5        /* detailed lines per kind of failure */
#define POISON      0xa5

struct slot {
    uint64_t hdr, data, st;  /* guest addresses, fixed for the run */
    unsigned cls;            /* enum vusim_probe_class */
    uint64_t sector;
    uint32_t len;            /* data bytes */
    int head;
};

struct work {
    const struct demo_cfg *c;
    struct demo_run *r;
    struct vufe *fe;
    struct vusim_rng rng;
    uint8_t *shadow;
    uint64_t sectors;
    bool indirect;
    struct slot slot[DEMO_MAX_INFLIGHT];
};

static int fe_fail(const char *what, int rc)
{
    fprintf(stderr, PROG ": demo: front-end: %s: %s\n", what, strerror(-rc));
    return 1;
}

/* ---- set-up ----------------------------------------------------------- */

static int work_slots(struct work *w)
{
    for (uint64_t i = 0; i < w->c->inflight; i++) {
        struct slot *s = &w->slot[i];

        s->hdr = vufe_alloc(w->fe, sizeof(struct dev_blk_req_hdr), 16);
        s->data = vufe_alloc(w->fe, DEMO_MAX_SECTORS * DEV_BLK_SECTOR_SIZE,
                             4096);
        s->st = vufe_alloc(w->fe, 1, 16);
        if (!s->hdr || !s->data || !s->st) {
            return fe_fail("guest memory for the buffers", -ENOMEM);
        }
    }
    return 0;
}

/* Capacity from the config space the front-end read during set-up. */
static int work_capacity(struct work *w)
{
    uint32_t len = 0;
    const uint8_t *cfg = vufe_config(w->fe, &len);
    uint64_t cap;

    if (!cfg || len < sizeof(cap)) {
        return fe_fail("no virtio-blk config space", -EPROTO);
    }
    memcpy(&cap, cfg, sizeof(cap));
    w->sectors = le64toh(cap);
    w->r->disk_bytes = w->sectors * DEV_BLK_SECTOR_SIZE;
    if (w->sectors < DEMO_MAX_SECTORS ||
        w->r->disk_bytes > DEMO_MAX_DISK) {
        return fe_fail("disk size outside 64K..1G", -ERANGE);
    }
    w->shadow = calloc(w->sectors, DEV_BLK_SECTOR_SIZE);
    if (!w->shadow) {
        return fe_fail("shadow copy of the disk", -ENOMEM);
    }
    return 0;
}

static int work_open(struct work *w, const char *path)
{
    struct vufe_cfg cfg;
    uint64_t per = (DEMO_MAX_SECTORS + 8) * DEV_BLK_SECTOR_SIZE;
    int err = 0;

    vufe_cfg_init(&cfg);
    cfg.path = path;
    cfg.notify = w->c->notify;
    cfg.queue_size = 256;
    cfg.mem_size = ((1ull << 20) + w->c->inflight * per + 8191) &
                   ~8191ull;
    cfg.config_size = sizeof(struct dev_blk_config);
    cfg.timeout_ms = WAIT_MS;
    /* In-band, a call per completion (no EVENT_IDX suppression, which would
     * make calls depend on when this side reaps): see work_reap(). */
    cfg.event_idx = w->c->notify != VUFE_NOTIFY_INBAND;
    w->fe = vufe_open(&cfg, &err);
    if (!w->fe) {
        return fe_fail("connect and negotiate", err ? err : -EIO);
    }
    w->indirect = vufe_features(w->fe) & VU_BIT(VU_F_RING_INDIRECT_DESC);
    if (work_capacity(w) || work_slots(w)) {
        return 1;
    }
    return 0;
}

/* ---- one batch ---------------------------------------------------------- */

static bool overlaps(const struct slot *a, unsigned cls, uint64_t sector,
                     uint64_t nsec)
{
    if (a->cls == VUSIM_PROBE_FLUSH || cls == VUSIM_PROBE_FLUSH) {
        return false;
    }
    if (a->cls != VUSIM_PROBE_WRITE && cls != VUSIM_PROBE_WRITE) {
        return false;       /* two reads may share sectors */
    }
    return sector < a->sector + a->len / DEV_BLK_SECTOR_SIZE &&
           a->sector < sector + nsec;
}

/* Draw request @n of the batch; false if no non-conflicting range was
 * found in a few draws (the batch then ends early). */
static bool work_gen(struct work *w, unsigned n)
{
    struct slot *s = &w->slot[n];
    uint64_t r = vusim_rng_below(&w->rng, 100);

    s->cls = r < 5 ? VUSIM_PROBE_FLUSH
           : r < 62 ? VUSIM_PROBE_READ : VUSIM_PROBE_WRITE;
    s->sector = 0;
    s->len = 0;
    if (s->cls == VUSIM_PROBE_FLUSH) {
        return true;
    }
    for (int tries = 0; tries < 16; tries++) {
        uint64_t nsec = 1 + vusim_rng_below(&w->rng, DEMO_MAX_SECTORS);
        uint64_t sector = vusim_rng_below(&w->rng, w->sectors - nsec + 1);
        bool clash = false;

        for (unsigned j = 0; j < n && !clash; j++) {
            clash = overlaps(&w->slot[j], s->cls, sector, nsec);
        }
        if (!clash) {
            s->sector = sector;
            s->len = (uint32_t)(nsec * DEV_BLK_SECTOR_SIZE);
            return true;
        }
    }
    return false;
}

static int work_submit(struct work *w, struct slot *s)
{
    static const uint32_t type[] = {
        [VUSIM_PROBE_READ] = DEV_BLK_T_IN,
        [VUSIM_PROBE_WRITE] = DEV_BLK_T_OUT,
        [VUSIM_PROBE_FLUSH] = DEV_BLK_T_FLUSH,
    };
    struct dev_blk_req_hdr h = { .type = htole32(type[s->cls]),
                                 .sector = htole64(s->sector) };
    struct vufe_buf b[3] = { { s->hdr, sizeof(h), false } };
    uint8_t *data = vufe_ptr(w->fe, s->data, s->len);
    unsigned nb = 1;

    memcpy(vufe_ptr(w->fe, s->hdr, sizeof(h)), &h, sizeof(h));
    *(uint8_t *)vufe_ptr(w->fe, s->st, 1) = 0xff;
    if (s->cls == VUSIM_PROBE_WRITE) {
        vusim_rng_fill(&w->rng, data, s->len);
        memcpy(w->shadow + s->sector * DEV_BLK_SECTOR_SIZE, data, s->len);
    } else if (s->cls == VUSIM_PROBE_READ) {
        memset(data, POISON, s->len);   /* a device that writes nothing */
    }
    if (s->len) {
        b[nb++] = (struct vufe_buf){ s->data, s->len,
                                     s->cls == VUSIM_PROBE_READ };
    }
    b[nb++] = (struct vufe_buf){ s->st, 1, true };
    s->head = vufe_add(w->fe, 0, b, nb, w->indirect &&
                       vusim_rng_below(&w->rng, 4) == 0);
    return s->head < 0 ? fe_fail("add a chain", s->head) : 0;
}

static void work_verify(struct work *w, const struct slot *s)
{
    const uint8_t *got = vufe_ptr(w->fe, s->data, s->len);
    const uint8_t *want = w->shadow + s->sector * DEV_BLK_SECTOR_SIZE;
    uint64_t bad = 0, first = 0, t0 = vusim_wallclock_ns();

    for (uint32_t i = 0; i < s->len; i++) {
        if (got[i] != want[i] && bad++ == 0) {
            first = i;
        }
    }
    w->r->verified += s->len;
    if (bad && w->r->mismatches == 0) {
        fprintf(stderr, PROG ": demo: read of %u bytes at sector %" PRIu64
                ": %" PRIu64 " bytes differ, first at byte %" PRIu64
                " (got 0x%02x, wrote 0x%02x)\n", s->len, s->sector, bad,
                first, got[first], want[first]);
    }
    w->r->mismatches += bad;
    w->r->verify_ns += vusim_wallclock_ns() - t0;
}

static void work_check(struct work *w, const struct slot *s, uint32_t used)
{
    uint8_t st = *(const uint8_t *)vufe_ptr(w->fe, s->st, 1);
    uint32_t want = s->cls == VUSIM_PROBE_READ ? s->len + 1 : 1;

    w->r->count[s->cls]++;
    w->r->bytes[s->cls] += s->len;
    if (st != DEV_BLK_S_OK || used != want) {
        if (w->r->errors++ < MAX_REPORTS) {
            fprintf(stderr, PROG ": demo: request of %u bytes at sector %"
                    PRIu64 ": status %u, used length %u (expected 0, %u)\n",
                    s->len, s->sector, st, used, want);
        }
        return;
    }
    if (s->cls == VUSIM_PROBE_READ) {
        work_verify(w, s);
    }
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
            work_check(w, &w->slot[j], used);
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
    while (n < k && work_gen(w, n)) {
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
    struct work w = { .c = c, .r = r };
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
    free(w.shadow);
    return rc;
}
