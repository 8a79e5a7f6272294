/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for virtio-blk's guest side (devices/blk/blk_work.c through
 * devices/work.h): the requests it lays out, and what check() catches.
 * A disk kept here plays the device: it serves each request from the
 * buffers, as the model would through a host.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "devices/blk/blk.h"
#include "devices/work.h"
#include "tests/unit/suites.h"

#define DISK_SECTORS 2048u              /* 1 MiB */
#define SLOTS        8u

struct wfx {
    const struct dev_work_ops *ops;
    struct dev_work *w;
    uint8_t mem[SLOTS][DEV_WORK_MAX_BUFS][64 << 10];
    struct dev_work_buf buf[SLOTS][DEV_WORK_MAX_BUFS];
    uint8_t *disk;
    char err[256];
};

static int wfx_open(struct wfx *f, uint64_t sectors)
{
    struct dev_blk_config cfg = { .capacity = htole64(sectors) };

    f->ops = dev_blk_ops.work;
    f->disk = calloc(DISK_SECTORS, DEV_BLK_SECTOR_SIZE);
    for (unsigned s = 0; s < SLOTS; s++) {
        for (unsigned k = 0; k < DEV_WORK_MAX_BUFS; k++) {
            f->buf[s][k] = (struct dev_work_buf){ .p = f->mem[s][k] };
        }
    }
    return f->ops->open((const uint8_t *)&cfg, sizeof(cfg), SLOTS, &f->w,
                        f->err, sizeof(f->err));
}

static void wfx_close(struct wfx *f)
{
    f->ops->close(f->w);
    free(f->disk);
}

/* Serve slot @s as the model would; the used length. */
static uint32_t serve(struct wfx *f, unsigned s)
{
    struct dev_work_buf *b = f->buf[s];
    struct dev_blk_req_hdr h;
    uint8_t *at;

    memcpy(&h, b[0].p, sizeof(h));
    at = f->disk + le64toh(h.sector) * DEV_BLK_SECTOR_SIZE;
    b[2].p[0] = DEV_BLK_S_OK;
    switch (le32toh(h.type)) {
    case DEV_BLK_T_IN:
        memcpy(b[1].p, at, b[1].len);
        return b[1].len + 1;
    case DEV_BLK_T_OUT:
        memcpy(at, b[1].p, b[1].len);
        return 1;
    default:
        return 1;
    }
}

/* Batches of SLOTS: each request's layout is blk's, no two of a batch
 * overlap with a write among them, and every completion checks. */
static void test_batches(void)
{
    struct wfx *f = calloc(1, sizeof(*f));
    struct vusim_rng rng;
    unsigned kinds[3] = { 0 };

    CU_ASSERT_FATAL(wfx_open(f, DISK_SECTORS) == 0);
    CU_ASSERT_EQUAL(f->ops->nbufs, 3);
    vusim_rng_seed(&rng, 5);
    for (int batch = 0; batch < 200; batch++) {
        uint64_t lo[SLOTS], hi[SLOTS];
        bool wr[SLOTS];
        unsigned n = 0;

        while (n < SLOTS && f->ops->next(f->w, &rng, n, f->buf[n]) == 0) {
            struct dev_blk_req_hdr h;
            struct dev_work_buf *b = f->buf[n];

            memcpy(&h, b[0].p, sizeof(h));
            CU_ASSERT(b[0].len == 16 && !b[0].writable);
            CU_ASSERT(b[2].len == 1 && b[2].writable && b[2].p[0] == 0xff);
            CU_ASSERT(b[1].len % DEV_BLK_SECTOR_SIZE == 0);
            CU_ASSERT(b[1].len <= 64 << 10);
            lo[n] = le64toh(h.sector);
            hi[n] = lo[n] + b[1].len / DEV_BLK_SECTOR_SIZE;
            CU_ASSERT(hi[n] <= DISK_SECTORS);
            wr[n] = le32toh(h.type) == DEV_BLK_T_OUT;
            CU_ASSERT(b[1].writable == (le32toh(h.type) == DEV_BLK_T_IN));
            for (unsigned j = 0; j < n; j++) {
                CU_ASSERT(!(wr[n] || wr[j]) || b[1].len == 0 ||
                          f->buf[j][1].len == 0 || hi[n] <= lo[j] ||
                          hi[j] <= lo[n]);
            }
            n++;
        }
        CU_ASSERT(n > 0);
        for (unsigned s = n; s-- > 0;) {    /* completed in reverse */
            struct dev_work_result r;

            f->ops->check(f->w, s, f->buf[s], serve(f, s), &r);
            CU_ASSERT(!r.failed && r.mismatched == 0);
            CU_ASSERT(r.cls < 3);
            kinds[r.cls < 3 ? r.cls : 0]++;
        }
    }
    CU_ASSERT(kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0);
    wfx_close(f);
    free(f);
}

/* A byte the device got wrong, a bad status, a short used length. */
static void test_check_catches(void)
{
    struct wfx *f = calloc(1, sizeof(*f));
    struct dev_work_result r;

    CU_ASSERT_FATAL(wfx_open(f, DISK_SECTORS) == 0);
    CU_ASSERT_FATAL(f->ops->fetch(f->w, 0, 4096, 1024, f->buf[0]) == 0);
    CU_ASSERT_EQUAL(f->ops->check == NULL, false);
    f->disk[4096 + 7] = 0x5a;               /* the shadow says 0 */
    f->ops->check(f->w, 0, f->buf[0], serve(f, 0), &r);
    CU_ASSERT(!r.failed);
    CU_ASSERT_EQUAL(r.verified, 1024);
    CU_ASSERT_EQUAL(r.mismatched, 1);
    CU_ASSERT(strstr(r.what, "first at byte 7") != NULL);
    f->disk[4096 + 7] = 0;
    CU_ASSERT_FATAL(f->ops->fetch(f->w, 0, 4096, 1024, f->buf[0]) == 0);
    serve(f, 0);
    f->buf[0][2].p[0] = DEV_BLK_S_IOERR;
    f->ops->check(f->w, 0, f->buf[0], 1025, &r);
    CU_ASSERT(r.failed);
    CU_ASSERT(strstr(r.what, "status 1") != NULL);
    CU_ASSERT_FATAL(f->ops->fetch(f->w, 0, 4096, 1024, f->buf[0]) == 0);
    serve(f, 0);
    f->ops->check(f->w, 0, f->buf[0], 1, &r);
    CU_ASSERT(r.failed);
    wfx_close(f);
    free(f);
}

/* What fetch() and open() refuse. */
static void test_refusals(void)
{
    struct wfx *f = calloc(1, sizeof(*f));
    struct dev_work *w = NULL;
    char err[256] = "";

    CU_ASSERT_FATAL(wfx_open(f, DISK_SECTORS) == 0);
    CU_ASSERT_EQUAL(f->ops->fetch(f->w, 0, 100, 512, f->buf[0]), -EINVAL);
    CU_ASSERT_EQUAL(f->ops->fetch(f->w, 0, 0, 100, f->buf[0]), -EINVAL);
    CU_ASSERT_EQUAL(f->ops->fetch(f->w, 0, 0, 128 << 10, f->buf[0]),
                    -EINVAL);
    CU_ASSERT_EQUAL(f->ops->fetch(f->w, 0, (DISK_SECTORS - 1) * 512ull,
                                  1024, f->buf[0]), -EINVAL);
    CU_ASSERT_EQUAL(f->ops->fetch(f->w, SLOTS, 0, 512, f->buf[0]), -EINVAL);
    CU_ASSERT_EQUAL(f->ops->fetch(f->w, 0, (DISK_SECTORS - 2) * 512ull,
                                  1024, f->buf[0]), 0);
    wfx_close(f);
    free(f);
    CU_ASSERT_EQUAL(dev_blk_ops.work->open(NULL, 0, 1, &w, err,
                                           sizeof(err)), -ERANGE);
    CU_ASSERT(strstr(err, "config") != NULL);
    f = calloc(1, sizeof(*f));
    CU_ASSERT_EQUAL(wfx_open(f, 64), -ERANGE);   /* 32 KiB: under 64K */
    CU_ASSERT(strstr(f->err, "expected 64K to 1G") != NULL);
    free(f->disk);
    free(f);
}

CU_TestInfo blk_work_tests[] = {
    { "batches", test_batches },
    { "check_catches", test_check_catches },
    { "refusals", test_refusals },
    CU_TEST_INFO_NULL,
};
