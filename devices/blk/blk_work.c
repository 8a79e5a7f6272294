/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk's guest side (devices/work.h): the requests a driver makes,
 * for vusim demo and the benches.
 *
 * next(): about 5% FLUSH, 57% READ, 38% WRITE; sizes 1..128 sectors
 * (512 B..64 KiB) at random sector offsets, each from the caller's
 * generator. A batch never holds two requests on overlapping sectors when
 * either is a write (a driver would not issue them either), so the shadow
 * copy, updated when a write is drawn, is exactly what every read of the
 * same or a later batch must return, whatever order the device completes
 * them in. The disk must start zeroed, as a RAM disk does.
 *
 * fetch(): a read of @len bytes at byte @at, both multiples of 512, up
 * to 64 KiB; its data buffer is not poisoned (a benchmark's cycle stays
 * what a driver's is), so check() compares what is there.
 *
 * A slot is three buffers: the header, the data (up to 64 KiB), the
 * status byte.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/blk/blk.h"
#include "devices/work.h"

#define MAX_SECTORS 128u                    /* 64 KiB per request */
#define MAX_DISK    (1ull << 30)            /* the shadow copy is in RAM */
#define MAX_SLOTS   64u
#define POISON      0xa5

enum { BUF_HDR, BUF_DATA, BUF_STATUS };
enum { CLS_READ, CLS_WRITE, CLS_FLUSH, CLS_OTHER };

struct blk_slot {
    unsigned cls;
    uint64_t sector;
    uint32_t len;               /* data bytes */
};

struct dev_work {
    uint64_t sectors;
    uint8_t *shadow;
    unsigned nslots;
    struct blk_slot slot[];
};

static int blk_work_open(const uint8_t *config, uint32_t len, unsigned slots,
                         struct dev_work **out, char *err, size_t errlen)
{
    struct dev_work *w;
    uint64_t cap;

    if (!config || len < sizeof(cap) || slots < 1 || slots > MAX_SLOTS) {
        snprintf(err, errlen, "no virtio-blk config space");
        return -ERANGE;
    }
    memcpy(&cap, config, sizeof(cap));
    cap = le64toh(cap);
    if (cap < MAX_SECTORS || cap > MAX_DISK / DEV_BLK_SECTOR_SIZE) {
        snprintf(err, errlen, "a disk of %" PRIu64 " bytes: the workload "
                 "keeps a shadow copy of the disk: expected 64K to 1G",
                 cap * DEV_BLK_SECTOR_SIZE);
        return -ERANGE;
    }
    w = calloc(1, sizeof(*w) + slots * sizeof(w->slot[0]));
    if (!w || !(w->shadow = calloc(cap, DEV_BLK_SECTOR_SIZE))) {
        free(w);
        snprintf(err, errlen, "no memory for a shadow copy of the disk");
        return -ENOMEM;
    }
    w->sectors = cap;
    w->nslots = slots;
    *out = w;
    return 0;
}

static void blk_work_close(struct dev_work *w)
{
    if (w) {
        free(w->shadow);
        free(w);
    }
}

static void blk_work_describe(const struct dev_work *w, char *buf,
                              size_t len)
{
    snprintf(buf, len, "%" PRIu64 " KiB disk",
             w->sectors * DEV_BLK_SECTOR_SIZE / 1024);
}

static bool overlaps(const struct blk_slot *a, unsigned cls, uint64_t sector,
                     uint64_t nsec)
{
    if (a->cls == CLS_FLUSH || cls == CLS_FLUSH) {
        return false;
    }
    if (a->cls != CLS_WRITE && cls != CLS_WRITE) {
        return false;       /* two reads may share sectors */
    }
    return sector < a->sector + a->len / DEV_BLK_SECTOR_SIZE &&
           a->sector < sector + nsec;
}

/* A range for slot @n that clashes with none before it in the batch;
 * false if a few draws found none. */
static bool draw_range(struct dev_work *w, struct vusim_rng *rng, unsigned n)
{
    struct blk_slot *s = &w->slot[n];

    for (int tries = 0; tries < 16; tries++) {
        uint64_t nsec = 1 + vusim_rng_below(rng, MAX_SECTORS);
        uint64_t sector = vusim_rng_below(rng, w->sectors - nsec + 1);
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

/* Header, preset status (and, with @poison, read data) of @s into @b. */
static void lay_out(struct blk_slot *s, struct dev_work_buf *b, bool poison)
{
    static const uint32_t type[] = {
        [CLS_READ] = DEV_BLK_T_IN,
        [CLS_WRITE] = DEV_BLK_T_OUT,
        [CLS_FLUSH] = DEV_BLK_T_FLUSH,
    };
    struct dev_blk_req_hdr h = { .type = htole32(type[s->cls]),
                                 .sector = htole64(s->sector) };

    memcpy(b[BUF_HDR].p, &h, sizeof(h));
    b[BUF_HDR].len = sizeof(h);
    b[BUF_HDR].writable = false;
    b[BUF_DATA].len = s->len;
    b[BUF_DATA].writable = s->cls == CLS_READ;
    b[BUF_STATUS].p[0] = 0xff;
    b[BUF_STATUS].len = 1;
    b[BUF_STATUS].writable = true;
    if (poison && s->cls == CLS_READ) {
        memset(b[BUF_DATA].p, POISON, s->len);  /* a device that writes
                                                   nothing */
    }
}

static int blk_work_next(struct dev_work *w, struct vusim_rng *rng,
                         unsigned n, struct dev_work_buf *b)
{
    struct blk_slot *s = &w->slot[n];
    uint64_t r = vusim_rng_below(rng, 100);

    s->cls = r < 5 ? CLS_FLUSH : r < 62 ? CLS_READ : CLS_WRITE;
    s->sector = 0;
    s->len = 0;
    if (s->cls != CLS_FLUSH && !draw_range(w, rng, n)) {
        return -EAGAIN;
    }
    if (s->cls == CLS_WRITE) {
        vusim_rng_fill(rng, b[BUF_DATA].p, s->len);
        memcpy(w->shadow + s->sector * DEV_BLK_SECTOR_SIZE, b[BUF_DATA].p,
               s->len);
    }
    lay_out(s, b, true);
    return 0;
}

static int blk_work_fetch(struct dev_work *w, unsigned n, uint64_t at,
                          uint32_t len, struct dev_work_buf *b)
{
    struct blk_slot *s = &w->slot[n];

    if (n >= w->nslots || len == 0 ||
        len > MAX_SECTORS * DEV_BLK_SECTOR_SIZE ||
        at % DEV_BLK_SECTOR_SIZE || len % DEV_BLK_SECTOR_SIZE ||
        at / DEV_BLK_SECTOR_SIZE > w->sectors - len / DEV_BLK_SECTOR_SIZE) {
        return -EINVAL;
    }
    *s = (struct blk_slot){ CLS_READ, at / DEV_BLK_SECTOR_SIZE, len };
    lay_out(s, b, false);
    return 0;
}

static void verify(const struct dev_work *w, const struct blk_slot *s,
                   const uint8_t *got, struct dev_work_result *res)
{
    const uint8_t *want = w->shadow + s->sector * DEV_BLK_SECTOR_SIZE;
    uint64_t bad = 0, first = 0;

    for (uint32_t i = 0; i < s->len; i++) {
        if (got[i] != want[i] && bad++ == 0) {
            first = i;
        }
    }
    res->verified = s->len;
    res->mismatched = bad;
    if (bad) {
        snprintf(res->what, sizeof(res->what), "read of %u bytes at sector %"
                 PRIu64 ": %" PRIu64 " bytes differ, first at byte %" PRIu64
                 " (got 0x%02x, wrote 0x%02x)", s->len, s->sector, bad,
                 first, got[first], want[first]);
    }
}

static void blk_work_check(struct dev_work *w, unsigned n,
                           const struct dev_work_buf *b, uint32_t used,
                           struct dev_work_result *res)
{
    const struct blk_slot *s = &w->slot[n];
    uint8_t st = b[BUF_STATUS].p[0];
    uint32_t want = s->cls == CLS_READ ? s->len + 1 : 1;

    *res = (struct dev_work_result){ .cls = s->cls, .bytes = s->len };
    if (st != DEV_BLK_S_OK || used != want) {
        res->failed = true;
        snprintf(res->what, sizeof(res->what), "request of %u bytes at "
                 "sector %" PRIu64 ": status %u, used length %u (expected "
                 "0, %u)", s->len, s->sector, st, used, want);
        return;
    }
    if (s->cls == CLS_READ) {
        verify(w, s, b[BUF_DATA].p, res);
    }
}

static unsigned blk_work_classify(struct dev_req *req)
{
    uint32_t type;

    if (req->rd_len < sizeof(struct dev_blk_req_hdr) ||
        dev_req_read(req, 0, &type, sizeof(type)) < 0) {
        return CLS_OTHER;
    }
    switch (le32toh(type)) {
    case DEV_BLK_T_IN:
        return CLS_READ;
    case DEV_BLK_T_OUT:
        return CLS_WRITE;
    case DEV_BLK_T_FLUSH:
        return CLS_FLUSH;
    default:
        return CLS_OTHER;
    }
}

static const char *const blk_work_classes[] = {
    [CLS_READ] = "read", [CLS_WRITE] = "write", [CLS_FLUSH] = "flush",
    [CLS_OTHER] = "other", NULL,
};

static const struct dev_work_opt blk_work_opts[] = {
    { "latency", "20us", "fixed time per request (default 20us)" },
    { "bandwidth", "256M", "per channel (default 256M)" },
    { "channels", "4", "requests served in parallel (default 4)" },
    { "size", "16M", "RAM disk size, 64K to 1G (default 16M)" },
    { NULL, NULL, NULL },
};

const struct dev_work_ops dev_blk_work = {
    .classes = blk_work_classes,
    .demo_opts = blk_work_opts,
    .config_size = sizeof(struct dev_blk_config),
    .nbufs = 3,
    .bufs = {
        [BUF_HDR] = { sizeof(struct dev_blk_req_hdr), 16 },
        [BUF_DATA] = { MAX_SECTORS * DEV_BLK_SECTOR_SIZE, 4096 },
        [BUF_STATUS] = { 1, 16 },
    },
    .slot_mem = (MAX_SECTORS + 8) * DEV_BLK_SECTOR_SIZE,
    .open = blk_work_open,
    .close = blk_work_close,
    .describe = blk_work_describe,
    .next = blk_work_next,
    .fetch = blk_work_fetch,
    .check = blk_work_check,
    .classify = blk_work_classify,
};
