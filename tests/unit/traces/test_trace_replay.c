/* SPDX-License-Identifier: MIT */
/*
 * traces: replay and exports. A small recording host plays the back-end's
 * part for a real device (blk, rng from the registry) and records through
 * the trace writer the way traces/record.c does; replay must then
 * find no divergence, and must find the right one when the model, the
 * timing or the guest's input changes. Exports are parsed back: VCD by a
 * parser here, Chrome JSON by jansson.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <jansson.h>

#include "devices/blk/blk.h"
#include "devices/dev.h"
#include "sim/log.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"
#include "tests/support/tmpfile.h"
#include "traces/export.h"
#include "traces/reader.h"
#include "traces/replay.h"
#include "traces/replay-internal.h"
#include "traces/trace.h"

/* ---- a recording host ---- */

#define RH_MAX 64

struct rh_req {
    struct dev_req dreq;
    uint64_t id;
    uint16_t head;
    uint8_t rd[4096 + 64];
    uint32_t rd_len, wr_len;
    struct trace_wbuf wb;
    bool popped, done;
};

struct rh {
    struct sim_cal *cal;
    struct dev *dev;
    struct trace_writer *w;
    struct rh_req req[RH_MAX];
    int n, next;
};

static struct rh *host_of(struct dev *d)
{
    return d->host_ctx;
}

static struct rh_req *rq(struct dev_req *d)
{
    return container_of(d, struct rh_req, dreq);
}

static struct dev_req *rh_pop(struct dev *dev, uint16_t queue)
{
    struct rh *h = host_of(dev);
    struct rh_req *q;
    struct trace_chain c = { 0 };
    uint8_t *p;

    if (h->next >= h->n || h->req[h->next].dreq.queue != queue) {
        return NULL;
    }
    q = &h->req[h->next++];
    c = (struct trace_chain){ .queue = queue, .head = q->head, .ndesc = 2,
                              .nrd = 1, .nwr = 1, .rd_len = q->rd_len,
                              .wr_len = q->wr_len };
    trace_write_chain_begin(h->w, &c, &q->id);
    trace_write_chain_seg(h->w, q->rd_len);
    trace_write_chain_seg(h->w, q->wr_len);
    p = trace_write_chain_data(h->w);
    memcpy(p, q->rd, q->rd_len);
    trace_write_chain_end(h->w, 0);
    q->popped = true;
    return &q->dreq;
}

static int rh_read(struct dev_req *d, uint64_t off, void *buf, size_t len)
{
    struct rh_req *q = rq(d);

    if (off > q->rd_len || len > q->rd_len - off) {
        return -ERANGE;
    }
    memcpy(buf, q->rd + off, len);
    return 0;
}

static int rh_write(struct dev_req *d, uint64_t off, const void *buf,
                    size_t len)
{
    struct rh_req *q = rq(d);

    if (off > q->wr_len || len > q->wr_len - off) {
        return -ERANGE;
    }
    return trace_wbuf_write(&q->wb, off, buf, len);
}

static void rh_complete(struct dev_req *d, uint32_t used)
{
    struct rh_req *q = rq(d);
    struct rh *h = host_of(d->dev);
    struct trace_done done;

    trace_done_compute(trace_writer_digest(h->w), &q->wb, q->wr_len, used,
                       &done);
    trace_write_complete(h->w, q->id, d->queue, q->head, &done);
    trace_write_call(h->w, d->queue, TRACE_NOTIFY_INBAND);
    q->done = true;
}

static const struct dev_host_ops rh_ops = {
    .pop = rh_pop, .read = rh_read, .write = rh_write,
    .complete = rh_complete,
};

/* A blk request: header + (OUT) data | (IN) data + status. */
static void rh_blk(struct rh *h, uint32_t type, uint64_t sector,
                   uint32_t len, uint8_t fill)
{
    struct rh_req *q = &h->req[h->n];
    struct dev_blk_req_hdr hdr = { .type = type, .sector = sector };

    memset(q, 0, sizeof(*q));
    q->dreq.dev = h->dev;
    q->head = (uint16_t)h->n;
    memcpy(q->rd, &hdr, sizeof(hdr));
    q->rd_len = sizeof(hdr);
    q->wr_len = 1;
    if (type == DEV_BLK_T_OUT) {
        memset(q->rd + sizeof(hdr), fill, len);
        q->rd_len += len;
    } else {
        q->wr_len += len;
    }
    q->dreq.rd_len = q->rd_len;
    q->dreq.wr_len = q->wr_len;
    h->n++;
}

/* The guest's kick: records as the back-end does, then avail(). */
static void rh_kick(struct rh *h)
{
    trace_write_kick(h->w, 0, TRACE_NOTIFY_INBAND);
    trace_write_avail(h->w, 0);
    trace_writer_dev_enter(h->w);
    h->dev->ops->avail(h->dev, 0);
    trace_writer_dev_leave(h->w);
}

static const struct trace_opt blk_opts[] = {
    { "size", "1M" }, { "latency", "10us" }, { "channels", "2" },
    { "bandwidth", "100M" }, { "serial", "rec-serial" },
};

/* A recording host for blk on @path, features negotiated. With @backing,
 * the disk is that file (options: backing instead of size). */
static struct rh *rh_open_blk(const char *path, const char *backing)
{
    struct dev_opt o[5];
    struct trace_opt to[5];
    struct trace_header th = { .device = "blk", .virtio_id = 2,
                               .num_queues = 1, .clock = "afap",
                               .inband = "on", .opts = to, .nopts = 5,
                               .image = TRACE_IMAGE_RAM,
                               .image_size = 1u << 20 };
    struct rh *h = calloc(1, sizeof(*h));
    char err[256] = "";

    CU_ASSERT_FATAL(h != NULL);
    for (int i = 0; i < 5; i++) {
        to[i] = blk_opts[i];
        o[i] = (struct dev_opt){ blk_opts[i].name, blk_opts[i].value };
    }
    if (backing) {
        to[0] = (struct trace_opt){ "backing", backing };
        o[0] = (struct dev_opt){ "backing", backing };
        th.image = TRACE_IMAGE_FILE;
        th.image_opt = "backing";
        CU_ASSERT_EQUAL_FATAL(trace_image_hash(backing, &th.image_size,
                                               th.image_sha256), 0);
    }
    h->cal = sim_cal_new();
    CU_ASSERT_EQUAL_FATAL(dev_blk_ops.create(h->cal, o, 5, &h->dev, err,
                                             sizeof(err)), 0);
    h->dev->host = &rh_ops;
    h->dev->host_ctx = h;
    CU_ASSERT_EQUAL_FATAL(trace_writer_open(path, &th, NULL, &h->w), 0);
    trace_writer_set_cal(h->w, h->cal);
    trace_write_neg(h->w, TRACE_NEG_FEATURES, 1ull << 32);
    return h;
}

/* Kick, run to idle; every request must be done. */
static void rh_run(struct rh *h)
{
    rh_kick(h);
    sim_cal_run_all(h->cal);
    for (int i = 0; i < h->n; i++) {
        CU_ASSERT(h->req[i].done);
    }
}

/* Free the requests' buffers and start over at req[0]. */
static void rh_recycle(struct rh *h)
{
    for (int i = 0; i < h->n; i++) {
        trace_wbuf_fini(&h->req[i].wb);
    }
    h->n = h->next = 0;
}

static void rh_close(struct rh *h)
{
    rh_recycle(h);
    CU_ASSERT_EQUAL(trace_writer_close(h->w), 0);
    h->dev->ops->destroy(h->dev);
    sim_cal_free(h->cal);
    free(h);
}

/* Record a blk run into @path: two batches of mixed requests. */
static void record_blk(const char *path, const char *backing)
{
    int level = g_vusim_log_level;
    struct rh *h;

    g_vusim_log_level = VUSIM_LOG_ERR;  /* request 99 is refused */
    h = rh_open_blk(path, backing);
    rh_blk(h, DEV_BLK_T_OUT, 0, 4096, 0x11);
    rh_blk(h, DEV_BLK_T_OUT, 16, 2048, 0x22);
    rh_blk(h, DEV_BLK_T_IN, 0, 4096, 0);
    rh_run(h);
    rh_blk(h, DEV_BLK_T_IN, 16, 2048, 0);
    rh_blk(h, DEV_BLK_T_FLUSH, 0, 0, 0);
    rh_blk(h, DEV_BLK_T_GET_ID, 0, 20, 0);
    rh_blk(h, 99, 0, 0, 0);
    rh_run(h);
    rh_close(h);
    g_vusim_log_level = level;
}

/* Record @batches kicks of blk requests: each writes two 4 KiB blocks,
 * reads them back in one 8 KiB read and in two 4 KiB ones, and reads the
 * serial. Reads of 4 KiB and more are big enough for replay to hand their
 * digests to its worker; the status and serial it checks itself. */
static void record_blk_long(const char *path, int batches)
{
    struct rh *h = rh_open_blk(path, NULL);

    for (int b = 0; b < batches; b++) {
        uint64_t sec = (uint64_t)(b % 64) * 16;

        rh_blk(h, DEV_BLK_T_OUT, sec, 4096, (uint8_t)(b * 2 + 1));
        rh_blk(h, DEV_BLK_T_OUT, sec + 8, 4096, (uint8_t)(b * 2 + 2));
        rh_blk(h, DEV_BLK_T_IN, sec, 8192, 0);
        rh_blk(h, DEV_BLK_T_IN, sec, 4096, 0);
        rh_blk(h, DEV_BLK_T_IN, sec + 8, 4096, 0);
        rh_blk(h, DEV_BLK_T_GET_ID, 0, 20, 0);
        rh_run(h);
        rh_recycle(h);
    }
    rh_close(h);
}

/* ---- helpers ---- */

static struct trace_reader *open_r(const char *path)
{
    struct trace_reader *r = NULL;
    char err[256];

    CU_ASSERT_EQUAL(trace_reader_open(path, &r, err, sizeof(err)), 0);
    return r;
}

/* Replay @path with @cfg, through a lazy reader (as `vusim replay` does)
 * or an eager one. */
static int replay_cfg(const char *path, const struct trace_replay_cfg *cfg,
                      bool lazy, struct trace_replay_result *res)
{
    struct trace_reader *r = NULL;
    char err[512] = "";
    int rc, level = g_vusim_log_level;

    if (lazy) {
        CU_ASSERT_EQUAL(trace_reader_open_lazy(path, &r, err, sizeof(err)),
                        0);
    } else {
        r = open_r(path);
    }
    if (!r) {
        return -EIO;
    }
    g_vusim_log_level = VUSIM_LOG_ERR;
    rc = trace_replay(r, cfg, res, err, sizeof(err));
    g_vusim_log_level = level;
    trace_reader_free(r);
    return rc;
}

static int replay(const char *path, const char *backing,
                  const struct trace_opt *ov, size_t nov,
                  struct trace_replay_result *res)
{
    struct trace_replay_cfg cfg = { .image = backing, .overrides = ov,
                                    .noverrides = nov };

    return replay_cfg(path, &cfg, false, res);
}

/* Index of the @k-th record of @type, or -1. */
static long nth(const char *path, uint16_t type, int k)
{
    struct trace_reader *r = open_r(path);
    struct trace_rec rec;
    long found = -1;

    for (size_t i = 0; r && i < trace_reader_count(r); i++) {
        if (trace_reader_get(r, i, &rec) == 0 && rec.type == type &&
            k-- == 0) {
            found = (long)i;
            break;
        }
    }
    trace_reader_free(r);
    return found;
}

/* Index of the COMPLETE record of request @id, or -1. */
static long done_of(const char *path, uint64_t id)
{
    struct trace_reader *r = open_r(path);
    struct trace_rec rec;
    long found = -1;

    for (size_t i = 0; r && i < trace_reader_count(r); i++) {
        if (trace_reader_get(r, i, &rec) == 0 &&
            rec.type == TRACE_COMPLETE && rec.u.done.id == id) {
            found = (long)i;
            break;
        }
    }
    trace_reader_free(r);
    return found;
}

/* ---- replay ---- */

/* A faithful replay checks every completion and finds nothing. */
static void test_replay_clean(void)
{
    char *path = ut_tmp_path("replay");
    struct trace_replay_result res;

    record_blk(path, NULL);
    CU_ASSERT_EQUAL(replay(path, NULL, NULL, 0, &res), 0);
    CU_ASSERT_FALSE(res.diverged);
    CU_ASSERT_EQUAL(res.completions, 7);
    CU_ASSERT_EQUAL(res.chains, 7);
    CU_ASSERT(res.cal_events >= 7);
    if (res.diverged) {
        fprintf(stderr, "\n%s\n%s\n%s\n", res.div.what, res.div.expected,
                res.div.actual);
    }
    unlink(path);
    free(path);
}

/* A changed latency is caught at the first completion that moves. */
static void test_replay_latency(void)
{
    static const struct trace_opt ov[] = { { "latency", "11us" } };
    char *path = ut_tmp_path("replay");
    struct trace_replay_result res;

    record_blk(path, NULL);
    CU_ASSERT_EQUAL(replay(path, NULL, ov, 1, &res), 0);
    CU_ASSERT(res.diverged);
    CU_ASSERT_FALSE(res.soft);
    CU_ASSERT_EQUAL(res.div.index, (size_t)nth(path, TRACE_COMPLETE, 0));
    CU_ASSERT(strstr(res.div.what, "moved") != NULL);
    CU_ASSERT(strstr(res.div.expected, "COMPLETE") != NULL);
    CU_ASSERT(strstr(res.div.expected, "blk OUT") != NULL);
    CU_ASSERT_EQUAL(res.completions, 0);
    unlink(path);
    free(path);
}

/* A model that writes other bytes is caught at that completion. */
static void test_replay_output(void)
{
    static const struct trace_opt ov[] = { { "serial", "other" } };
    char *path = ut_tmp_path("replay");
    struct trace_replay_result res;

    record_blk(path, NULL);
    CU_ASSERT_EQUAL(replay(path, NULL, ov, 1, &res), 0);
    /* GET_ID is request 5. */
    CU_ASSERT(res.diverged);
    CU_ASSERT(strstr(res.div.what, "written bytes") != NULL);
    CU_ASSERT(strstr(res.div.expected, "GET_ID") != NULL);
    CU_ASSERT_EQUAL((long)res.div.index, done_of(path, 5));
    CU_ASSERT(res.completions < 7);
    unlink(path);
    free(path);
}

/* Rewrite one byte of a record's payload and fix its CRC. */
static void patch(const char *path, size_t index, size_t at, uint8_t v)
{
    struct trace_reader *r = open_r(path);
    struct trace_rec rec;
    uint32_t crc;
    uint8_t frame[8192];
    const uint8_t *src;
    size_t len = 0;
    int fd;

    CU_ASSERT_FATAL(r && trace_reader_get(r, index, &rec) == 0);
    src = trace_reader_frame(r, index, &len);
    CU_ASSERT_FATAL(src && len <= sizeof(frame));
    memcpy(frame, src, len);
    frame[TRACE_REC_HDR_SIZE + at] = v;
    crc = trace_crc32c(frame, len - 4);
    memcpy(frame + len - 4, &crc, 4);
    fd = open(path, O_WRONLY);
    CU_ASSERT_EQUAL(pwrite(fd, frame, len, (off_t)rec.offset), (ssize_t)len);
    close(fd);
    trace_reader_free(r);
}

/* Other guest input (an OUT's data) shows where it is read back. */
static void test_replay_input(void)
{
    char *path = ut_tmp_path("replay");
    struct trace_replay_result res;
    long out0;

    record_blk(path, NULL);
    out0 = nth(path, TRACE_CHAIN, 0);
    /* CHAIN payload: 41 bytes of fields and segments, header, data. */
    patch(path, (size_t)out0, 41 + 16 + 100, 0x99);
    CU_ASSERT_EQUAL(replay(path, NULL, NULL, 0, &res), 0);
    CU_ASSERT(res.diverged);
    CU_ASSERT(strstr(res.div.what, "written bytes") != NULL);
    CU_ASSERT(strstr(res.div.expected, "blk IN sector=0") != NULL);
    CU_ASSERT_EQUAL((long)res.div.index, done_of(path, 2));
    unlink(path);
    free(path);
}

/* Every prefix at a record boundary replays without divergence. */
static void test_replay_prefixes(void)
{
    char *path = ut_tmp_path("replay"), *cut = ut_tmp_path("replay");
    struct trace_reader *r;
    size_t n;

    record_blk(path, NULL);
    r = open_r(path);
    CU_ASSERT_FATAL(r != NULL);
    n = trace_reader_count(r);
    for (size_t k = 1; k <= n; k++) {
        struct trace_replay_result res;
        struct trace_rec rec;
        size_t flen;
        uint64_t end;
        FILE *f = fopen(cut, "wb");
        const uint8_t *frame = trace_reader_frame(r, k - 1, &flen);

        trace_reader_get(r, k - 1, &rec);
        end = rec.offset + flen;
        CU_ASSERT_FATAL(f != NULL);
        /* The whole file up to record k, then half of record k. */
        fwrite(frame - rec.offset, 1, end, f);
        if (k < n) {
            size_t half;
            const uint8_t *next = trace_reader_frame(r, k, &half);

            fwrite(next, 1, half / 2, f);
        }
        fclose(f);
        CU_ASSERT_EQUAL(replay(cut, NULL, NULL, 0, &res), 0);
        CU_ASSERT_FALSE(res.diverged);
        CU_ASSERT_EQUAL(res.records, k);
    }
    trace_reader_free(r);
    unlink(path);
    unlink(cut);
    free(path);
    free(cut);
}

static int file_hash(const char *path, uint8_t sha[32])
{
    uint64_t size;

    return trace_image_hash(path, &size, sha);
}

/* A file-backed disk replays from its starting image, checked by hash,
 * and replay leaves the file as it was. */
static void test_replay_backing(void)
{
    char *path = ut_tmp_path("replay"), *img = ut_tmp_path("replay"), *copy = ut_tmp_path("replay");
    struct trace_replay_result res;
    uint8_t block[4096], before[32], after[32];
    char cmd[256];
    FILE *f = fopen(img, "wb");

    CU_ASSERT_FATAL(f != NULL);
    for (int i = 0; i < 64; i++) {
        memset(block, i, sizeof(block));
        fwrite(block, 1, sizeof(block), f);
    }
    fclose(f);
    snprintf(cmd, sizeof(cmd), "cp %s %s", img, copy);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    record_blk(path, img);          /* the recording writes the image */
    CU_ASSERT_EQUAL(replay(path, NULL, NULL, 0, &res), -EINVAL);
    CU_ASSERT_EQUAL(replay(path, img, NULL, 0, &res), -EINVAL);
    CU_ASSERT_EQUAL(file_hash(copy, before), 0);
    CU_ASSERT_EQUAL(replay(path, copy, NULL, 0, &res), 0);
    CU_ASSERT_FALSE(res.diverged);
    CU_ASSERT_EQUAL(res.completions, 7);
    CU_ASSERT_EQUAL(file_hash(copy, after), 0);
    CU_ASSERT(memcmp(before, after, 32) == 0);
    unlink(path);
    unlink(img);
    unlink(copy);
    free(path);
    free(img);
    free(copy);
}

/* rng: its bytes come from the seed; another seed is another output. */
static void test_replay_rng(void)
{
    static const struct trace_opt ov[] = { { "seed", "8" } };
    struct trace_opt to[] = { { "seed", "7" }, { "rate", "1M" } };
    struct dev_opt o[] = { { "seed", "7" }, { "rate", "1M" } };
    struct trace_header th = { .device = "rng", .virtio_id = 4,
                               .num_queues = 1, .clock = "afap",
                               .inband = "auto", .seed = 7, .opts = to,
                               .nopts = 2 };
    struct rh *h = calloc(1, sizeof(*h));
    char *path = ut_tmp_path("replay"), err[256] = "";
    struct trace_replay_result res;

    CU_ASSERT_FATAL(h != NULL);
    h->cal = sim_cal_new();
    CU_ASSERT_EQUAL_FATAL(dev_lookup("rng")->create(h->cal, o, 2, &h->dev,
                                                    err, sizeof(err)), 0);
    h->dev->host = &rh_ops;
    h->dev->host_ctx = h;
    CU_ASSERT_EQUAL_FATAL(trace_writer_open(path, &th, NULL, &h->w), 0);
    trace_writer_set_cal(h->w, h->cal);
    for (int i = 0; i < 6; i++) {
        struct rh_req *q = &h->req[h->n++];

        q->dreq.dev = h->dev;
        q->head = (uint16_t)i;
        q->wr_len = q->dreq.wr_len = 64u << i;
    }
    rh_kick(h);
    sim_cal_run_all(h->cal);
    for (int i = 0; i < h->n; i++) {
        trace_wbuf_fini(&h->req[i].wb);
    }
    trace_writer_close(h->w);
    h->dev->ops->destroy(h->dev);
    sim_cal_free(h->cal);
    free(h);
    CU_ASSERT_EQUAL(replay(path, NULL, NULL, 0, &res), 0);
    CU_ASSERT_FALSE(res.diverged);
    CU_ASSERT_EQUAL(res.completions, 6);
    CU_ASSERT_EQUAL(replay(path, NULL, ov, 1, &res), 0);
    CU_ASSERT(res.diverged);
    CU_ASSERT_EQUAL(res.div.index, (size_t)nth(path, TRACE_COMPLETE, 0));
    unlink(path);
    free(path);
}

/* vusim multi: two devices, one calendar, a trace each. Each trace must
 * hold its own device's calendar events, or its replay cannot fire them
 * (it diverged at the first completion when only the last trace attached
 * saw the calendar). */
static void test_replay_shared_cal(void)
{
    struct trace_opt to[] = { { "seed", "7" }, { "rate", "1M" } };
    struct dev_opt o[] = { { "seed", "7" }, { "rate", "1M" } };
    struct trace_header th = { .device = "rng", .virtio_id = 4,
                               .num_queues = 1, .clock = "afap",
                               .inband = "auto", .seed = 7, .opts = to,
                               .nopts = 2 };
    char *bpath = ut_tmp_path("replay"), *rpath = ut_tmp_path("replay");
    struct rh *b = rh_open_blk(bpath, NULL), *r = calloc(1, sizeof(*r));
    struct trace_replay_result res;
    char err[256] = "";

    CU_ASSERT_FATAL(r != NULL);
    r->cal = b->cal;
    CU_ASSERT_EQUAL_FATAL(dev_lookup("rng")->create(r->cal, o, 2, &r->dev,
                                                    err, sizeof(err)), 0);
    r->dev->host = &rh_ops;
    r->dev->host_ctx = r;
    CU_ASSERT_EQUAL_FATAL(trace_writer_open(rpath, &th, NULL, &r->w), 0);
    trace_writer_set_cal(r->w, r->cal);
    for (int i = 0; i < 4; i++) {
        struct rh_req *q = &r->req[r->n++];

        q->dreq.dev = r->dev;
        q->head = (uint16_t)i;
        q->wr_len = q->dreq.wr_len = 64u << i;
    }
    rh_blk(b, DEV_BLK_T_OUT, 0, 4096, 0x33);
    rh_blk(b, DEV_BLK_T_IN, 0, 4096, 0);
    rh_kick(b);
    rh_kick(r);
    sim_cal_run_all(b->cal);
    for (int i = 0; i < r->n; i++) {
        CU_ASSERT(r->req[i].done);
        trace_wbuf_fini(&r->req[i].wb);
    }
    CU_ASSERT(b->req[0].done && b->req[1].done);
    CU_ASSERT_EQUAL(trace_writer_close(r->w), 0);
    r->dev->ops->destroy(r->dev);
    free(r);
    rh_close(b);
    CU_ASSERT(nth(bpath, TRACE_CAL, 0) >= 0);
    CU_ASSERT(nth(rpath, TRACE_CAL, 0) >= 0);
    CU_ASSERT_EQUAL(replay(bpath, NULL, NULL, 0, &res), 0);
    CU_ASSERT_FALSE(res.diverged);
    CU_ASSERT_EQUAL(res.completions, 2);
    CU_ASSERT_EQUAL(replay(rpath, NULL, NULL, 0, &res), 0);
    CU_ASSERT_FALSE(res.diverged);
    CU_ASSERT_EQUAL(res.completions, 4);
    unlink(bpath);
    unlink(rpath);
    free(bpath);
    free(rpath);
}

/* ---- the digest worker ---- */

static void flip(const char *path, size_t index, size_t at)
{
    struct trace_reader *r = open_r(path);
    size_t len = 0;
    const uint8_t *frame = r ? trace_reader_frame(r, index, &len) : NULL;
    uint8_t v;

    CU_ASSERT_FATAL(frame && TRACE_REC_HDR_SIZE + at < len);
    v = frame[TRACE_REC_HDR_SIZE + at] ^ 0x5a;
    trace_reader_free(r);
    patch(path, index, at, v);
}

/* COMPLETE payload: id, queue, head, used_len at 12, flags, status,
 * written, digest at 22. CAL: kind, then at (1..8). */
#define DONE_USED_AT   12
#define DONE_DIGEST_AT 22
#define CAL_AT_AT      1

/* Index of the @k-th COMPLETE whose written extent is at least @min, and
 * in *ordinal how many COMPLETE records come before it; -1 if none. */
static long big_done(const char *path, uint32_t min, int k, long *ordinal)
{
    struct trace_reader *r = open_r(path);
    struct trace_rec rec;
    long found = -1, n = 0;

    for (size_t i = 0; r && i < trace_reader_count(r); i++) {
        if (trace_reader_get(r, i, &rec) != 0 ||
            rec.type != TRACE_COMPLETE) {
            continue;
        }
        if (rec.u.done.d.extent >= min && k-- == 0) {
            found = (long)i;
            break;
        }
        n++;
    }
    trace_reader_free(r);
    *ordinal = n;
    return found;
}

static void same_result(const struct trace_replay_result *a,
                        const struct trace_replay_result *b)
{
    CU_ASSERT_EQUAL(a->records, b->records);
    CU_ASSERT_EQUAL(a->inputs, b->inputs);
    CU_ASSERT_EQUAL(a->chains, b->chains);
    CU_ASSERT_EQUAL(a->completions, b->completions);
    CU_ASSERT_EQUAL(a->cal_events, b->cal_events);
    CU_ASSERT_EQUAL(a->diverged, b->diverged);
    CU_ASSERT_EQUAL(a->soft, b->soft);
    CU_ASSERT_EQUAL(a->div.index, b->div.index);
    CU_ASSERT_EQUAL(a->div.time, b->div.time);
    CU_ASSERT_STRING_EQUAL(a->div.what, b->div.what);
    CU_ASSERT_STRING_EQUAL(a->div.expected, b->div.expected);
    CU_ASSERT_STRING_EQUAL(a->div.actual, b->div.actual);
}

/* Replay @path checking digests on the caller's thread (the reference),
 * then a few times with the worker, through eager and lazy readers:
 * every result must be the reference's. *res gets the reference. */
static void replay_both(const char *path, struct trace_replay_result *res)
{
    struct trace_replay_cfg sync = { .sync_digest = true };
    struct trace_replay_cfg async = { 0 };

    CU_ASSERT_EQUAL(replay_cfg(path, &sync, false, res), 0);
    for (int i = 0; i < 6; i++) {
        struct trace_replay_result w;

        CU_ASSERT_EQUAL(replay_cfg(path, &async, i & 1, &w), 0);
        same_result(&w, res);
    }
}

/* A long faithful replay: every digest checked, half on the worker. */
static void test_replay_worker_clean(void)
{
    char *path = ut_tmp_path("replay");
    struct trace_replay_result res;

    record_blk_long(path, 40);
    replay_both(path, &res);
    CU_ASSERT_FALSE(res.diverged);
    CU_ASSERT_EQUAL(res.completions, 40 * 6);
    CU_ASSERT_EQUAL(res.chains, 40 * 6);
    CU_ASSERT_EQUAL(res.records, (size_t)nth(path, TRACE_END, 0) + 1);
    unlink(path);
    free(path);
}

/* Other bytes written by one big completion in the middle of a long
 * trace, with many completions after it: reported at that completion,
 * with the counts as they stood there, and the same messages as a replay
 * that checks every digest itself. A second one later changes nothing. */
static void test_replay_worker_digest(void)
{
    char *path = ut_tmp_path("replay");
    struct trace_replay_result res;
    long before, later, k;

    record_blk_long(path, 40);
    k = big_done(path, 4096, 80, &before);
    CU_ASSERT_FATAL(k > 0 && before >= 80);
    flip(path, (size_t)k, DONE_DIGEST_AT);
    replay_both(path, &res);
    CU_ASSERT(res.diverged);
    CU_ASSERT_FALSE(res.soft);
    CU_ASSERT_EQUAL((long)res.div.index, k);
    CU_ASSERT_EQUAL((long)res.records, k);
    CU_ASSERT_EQUAL((long)res.completions, before);
    CU_ASSERT(strstr(res.div.what, "written bytes") != NULL);
    CU_ASSERT(strstr(res.div.what, "used length") == NULL);
    CU_ASSERT(strstr(res.div.expected, "COMPLETE") != NULL);
    CU_ASSERT(strstr(res.div.actual, "COMPLETE") != NULL);
    CU_ASSERT(strcmp(res.div.expected, res.div.actual) != 0);
    later = big_done(path, 4096, 100, &before);
    CU_ASSERT_FATAL(later > k);
    flip(path, (size_t)later, DONE_DIGEST_AT);
    {
        struct trace_replay_result two;

        replay_both(path, &two);
        same_result(&two, &res);
    }
    unlink(path);
    free(path);
}

/* A calendar difference early, then a digest one: the digest one is
 * hard and wins. The calendar one alone is reported as soft, with every
 * completion (and digest) checked. */
static void test_replay_worker_soft(void)
{
    char *path = ut_tmp_path("replay"), *cal_only = ut_tmp_path("replay");
    struct trace_replay_result res;
    long cal, before, k;
    char cmd[512];

    record_blk_long(path, 30);
    cal = nth(path, TRACE_CAL, 20);
    CU_ASSERT_FATAL(cal > 0);
    flip(path, (size_t)cal, CAL_AT_AT);
    snprintf(cmd, sizeof(cmd), "cp %s %s", path, cal_only);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    replay_both(cal_only, &res);
    CU_ASSERT(res.diverged);
    CU_ASSERT(res.soft);
    CU_ASSERT_EQUAL((long)res.div.index, cal);
    CU_ASSERT_EQUAL(res.completions, 30 * 6);
    k = big_done(path, 4096, 60, &before);
    CU_ASSERT_FATAL(k > cal);
    flip(path, (size_t)k, DONE_DIGEST_AT);
    replay_both(path, &res);
    CU_ASSERT(res.diverged);
    CU_ASSERT_FALSE(res.soft);
    CU_ASSERT_EQUAL((long)res.div.index, k);
    CU_ASSERT_EQUAL((long)res.completions, before);
    CU_ASSERT(strstr(res.div.what, "written bytes") != NULL);
    unlink(path);
    unlink(cal_only);
    free(path);
    free(cal_only);
}

/* A digest difference and a later used-length one (which the walk finds
 * while the worker still hashes): the digest one is reported. The other
 * way round, the used-length one. */
static void test_replay_worker_order(void)
{
    char *a = ut_tmp_path("replay"), *b = ut_tmp_path("replay");
    struct trace_replay_result res;
    long k1, k2, before1, before2;

    record_blk_long(a, 30);
    record_blk_long(b, 30);
    k1 = big_done(a, 4096, 60, &before1);
    k2 = big_done(a, 4096, 61, &before2);
    CU_ASSERT_FATAL(k1 > 0 && k2 > k1);
    flip(a, (size_t)k1, DONE_DIGEST_AT);
    flip(a, (size_t)k2, DONE_USED_AT);
    replay_both(a, &res);
    CU_ASSERT_EQUAL((long)res.div.index, k1);
    CU_ASSERT_EQUAL((long)res.completions, before1);
    CU_ASSERT(strstr(res.div.what, "written bytes") != NULL);
    flip(b, (size_t)k1, DONE_USED_AT);
    flip(b, (size_t)k2, DONE_DIGEST_AT);
    replay_both(b, &res);
    CU_ASSERT_EQUAL((long)res.div.index, k1);
    CU_ASSERT(strstr(res.div.what, "used length") != NULL);
    CU_ASSERT(strstr(res.div.what, "written bytes") == NULL);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
}

/* The digest of @len bytes of @v, as a completion computes it. */
static void digest_of(uint8_t v, uint32_t len, uint8_t out[TRACE_DIGEST_SIZE])
{
    struct trace_wbuf wb = { 0 };
    struct trace_done d;
    uint8_t fill[8192];

    memset(fill, v, sizeof(fill));
    CU_ASSERT_EQUAL(trace_wbuf_write(&wb, 0, fill, len), 0);
    trace_done_compute(TRACE_DIGEST_XXH128, &wb, 0, 0, &d);
    memcpy(out, d.digest, TRACE_DIGEST_SIZE);
    trace_wbuf_fini(&wb);
}

/* Push @n jobs of distinct bytes; the digests of @bad1 and @bad2 are
 * recorded wrong. A refused job (a full queue) is pushed again, where
 * replay would hash it itself. */
static void push_jobs(struct trace_digest_worker *w, unsigned n,
                      unsigned bad1, unsigned bad2)
{
    for (unsigned i = 0; i < n; i++) {
        struct trace_digest_job job = { .index = i, .completions = i * 3 };
        uint8_t fill[8192];

        memset(fill, (int)i, sizeof(fill));
        CU_ASSERT_EQUAL(trace_wbuf_write(&job.wb, 0, fill, 4096 + i), 0);
        digest_of((uint8_t)i, 4096 + i, job.expect);
        job.expect[0] ^= i == bad1 || i == bad2;
        while (!trace_digest_worker_push(w, &job)) {
            sched_yield();
        }
        CU_ASSERT_EQUAL(job.wb.end, 0);     /* a spare, emptied */
        trace_wbuf_fini(&job.wb);
    }
}

/* The worker on its own: jobs are checked in order; the first mismatch
 * comes back with its counts and the replayed digest; none, nothing. */
static void test_digest_worker(void)
{
    struct trace_digest_worker *w;
    struct trace_digest_job bad;
    uint8_t want[TRACE_DIGEST_SIZE];

    CU_ASSERT_EQUAL_FATAL(trace_digest_worker_start(TRACE_DIGEST_XXH128,
                                                    &w), 0);
    CU_ASSERT_FALSE(trace_digest_worker_finish(w, &bad));
    CU_ASSERT_EQUAL_FATAL(trace_digest_worker_start(TRACE_DIGEST_XXH128,
                                                    &w), 0);
    push_jobs(w, 200, 1000, 1000);
    CU_ASSERT_FALSE(trace_digest_worker_failed(w));
    CU_ASSERT_FALSE(trace_digest_worker_finish(w, &bad));
    CU_ASSERT_EQUAL_FATAL(trace_digest_worker_start(TRACE_DIGEST_XXH128,
                                                    &w), 0);
    push_jobs(w, 200, 40, 70);
    CU_ASSERT_FATAL(trace_digest_worker_finish(w, &bad));
    CU_ASSERT_EQUAL(bad.index, 40);
    CU_ASSERT_EQUAL(bad.completions, 120);
    CU_ASSERT_PTR_NULL(bad.wb.buf);
    digest_of(40, 4096 + 40, want);
    CU_ASSERT(memcmp(bad.d.digest, want, TRACE_DIGEST_SIZE) == 0);
}

/* ---- exports, parsed back ---- */

#define VCD_MAX_SIG 16
#define VCD_MAX_CHG 4096

struct vcd_sig {
    char id[8], name[32];
    int width;
    unsigned n;
    uint64_t t[VCD_MAX_CHG];
    long v[VCD_MAX_CHG];
};

struct vcd_file {
    char timescale[16];
    struct vcd_sig sig[VCD_MAX_SIG];
    int nsig;
    bool ok;
};

static struct vcd_sig *vcd_by_id(struct vcd_file *f, const char *id)
{
    for (int i = 0; i < f->nsig; i++) {
        if (strcmp(f->sig[i].id, id) == 0) {
            return &f->sig[i];
        }
    }
    return NULL;
}

static struct vcd_sig *vcd_by_name(struct vcd_file *f, const char *name)
{
    for (int i = 0; i < f->nsig; i++) {
        if (strcmp(f->sig[i].name, name) == 0) {
            return &f->sig[i];
        }
    }
    return NULL;
}

static bool vcd_change(struct vcd_file *f, const char *line, uint64_t t)
{
    char val[80], id[8];
    struct vcd_sig *s;
    long v = 0;

    if (line[0] == 'b') {
        if (sscanf(line + 1, "%79s %7s", val, id) != 2) {
            return false;
        }
        for (const char *p = val; *p; p++) {
            if (*p != '0' && *p != '1') {
                return false;
            }
            v = v * 2 + (*p - '0');
        }
    } else if (line[0] == '0' || line[0] == '1') {
        v = line[0] - '0';
        snprintf(id, sizeof(id), "%s", line + 1);
    } else {
        return false;
    }
    s = vcd_by_id(f, id);
    if (!s || s->n >= VCD_MAX_CHG ||
        (s->n && s->t[s->n - 1] >= t && t != 0)) {
        return false;             /* unknown, or time not increasing */
    }
    s->t[s->n] = t;
    s->v[s->n++] = v;
    return true;
}

/* A strict little VCD reader: declarations, then #time and changes. */
static void vcd_parse(char *text, struct vcd_file *f)
{
    char scope[16] = "", *save = NULL;
    uint64_t t = 0, last = 0;
    bool defs = true, any_time = false;

    memset(f, 0, sizeof(*f));
    f->ok = true;
    for (char *l = strtok_r(text, "\n", &save); l && f->ok;
         l = strtok_r(NULL, "\n", &save)) {
        char kind[16], id[8], name[16];
        int width;

        if (defs) {
            if (sscanf(l, "$timescale %15s $end", f->timescale) == 1 ||
                strncmp(l, "$comment", 8) == 0 ||
                strncmp(l, "$upscope", 8) == 0) {
                continue;
            }
            if (sscanf(l, "$scope module %15s $end", name) == 1) {
                snprintf(scope, sizeof(scope), "%s", name);
            } else if (sscanf(l, "$var %15s %d %7s %15s $end", kind, &width,
                              id, name) == 4 && f->nsig < VCD_MAX_SIG) {
                struct vcd_sig *s = &f->sig[f->nsig++];

                snprintf(s->id, sizeof(s->id), "%s", id);
                snprintf(s->name, sizeof(s->name), "%s.%s", scope, name);
                s->width = width;
            } else if (strcmp(l, "$enddefinitions $end") == 0) {
                defs = false;
            } else {
                f->ok = false;
            }
            continue;
        }
        if (l[0] == '#') {
            t = strtoull(l + 1, NULL, 10);
            f->ok = !any_time || t > last;
            last = t;
            any_time = true;
        } else if (strcmp(l, "$dumpvars") && strcmp(l, "$end")) {
            f->ok = vcd_change(f, l, t);
        }
        if (!f->ok) {
            fprintf(stderr, "\nVCD: bad line: %s\n", l);
        }
    }
}

static char *export_to_string(const char *path, bool vcd)
{
    struct trace_reader *r = open_r(path);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);

    CU_ASSERT_FATAL(r && m);
    CU_ASSERT_EQUAL(vcd ? trace_export_vcd(r, m)
                        : trace_export_perfetto(r, m), 0);
    fclose(m);
    trace_reader_free(r);
    return buf;
}

static long vcd_max(const struct vcd_sig *s)
{
    long m = 0;

    for (unsigned i = 0; i < s->n; i++) {
        m = s->v[i] > m ? s->v[i] : m;
    }
    return m;
}

static unsigned vcd_rises(const struct vcd_sig *s)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->n; i++) {
        n += s->v[i] == 1 && (i == 0 || s->v[i - 1] == 0);
    }
    return n;
}

/* The VCD parses; its signals say what the trace says. */
static void test_export_vcd(void)
{
    char *path = ut_tmp_path("replay"), *text;
    struct vcd_file *f = calloc(1, sizeof(*f));
    struct vcd_sig *infl, *busy, *kick, *call;

    CU_ASSERT_FATAL(f != NULL);
    record_blk(path, NULL);
    text = export_to_string(path, true);
    {
        char *copy = strdup(text);

        vcd_parse(copy, f);
        free(copy);
    }
    CU_ASSERT(f->ok);
    CU_ASSERT_STRING_EQUAL(f->timescale, "1ps");
    CU_ASSERT_EQUAL(f->nsig, 4);
    infl = vcd_by_name(f, "q0.inflight");
    busy = vcd_by_name(f, "q0.busy");
    kick = vcd_by_name(f, "q0.kick");
    call = vcd_by_name(f, "q0.call");
    CU_ASSERT_FATAL(infl && busy && kick && call);
    CU_ASSERT_EQUAL(infl->width, 32);
    CU_ASSERT_EQUAL(vcd_max(infl), 4);      /* the second batch */
    CU_ASSERT_EQUAL(infl->v[infl->n - 1], 0);
    CU_ASSERT_EQUAL(vcd_max(busy), 2);      /* --channels=2 */
    CU_ASSERT_EQUAL(busy->v[busy->n - 1], 0);
    CU_ASSERT_EQUAL(vcd_rises(kick), 2);
    CU_ASSERT_EQUAL(kick->t[1], 0);         /* the first kick at 0 */
    CU_ASSERT(vcd_rises(call) >= 4);        /* completions at 7 times */
    /* The same trace exports to the same bytes. */
    {
        char *again = export_to_string(path, true);

        CU_ASSERT_STRING_EQUAL(again, text);
        free(again);
    }
    free(text);
    free(f);
    unlink(path);
    free(path);
}

/* The Chrome JSON parses (jansson); one slice per request, b before e. */
static void test_export_perfetto(void)
{
    char *path = ut_tmp_path("replay"), *text;
    json_error_t jerr;
    json_t *root, *ev;
    size_t i, nb = 0, ne = 0, ninst = 0;
    double b_ts[16] = { 0 };

    record_blk(path, NULL);
    text = export_to_string(path, false);
    root = json_loads(text, 0, &jerr);
    CU_ASSERT_FATAL(root != NULL);
    ev = json_object_get(root, "traceEvents");
    CU_ASSERT_FATAL(json_is_array(ev));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(root,
                           "displayTimeUnit")), "ns");
    for (i = 0; i < json_array_size(ev); i++) {
        json_t *e = json_array_get(ev, i);
        const char *ph = json_string_value(json_object_get(e, "ph"));
        json_int_t id = json_integer_value(json_object_get(e, "id"));
        double ts = json_number_value(json_object_get(e, "ts"));

        CU_ASSERT_FATAL(ph != NULL);
        if (!strcmp(ph, "b")) {
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e,
                                   "name")), "queue 0");
            CU_ASSERT(id >= 0 && id < 16);
            if (id >= 0 && id < 16) {
                b_ts[id] = ts;
            }
            nb++;
        } else if (!strcmp(ph, "e")) {
            CU_ASSERT(id >= 0 && id < 16 && ts > b_ts[id]);
            CU_ASSERT(json_is_integer(json_object_get(
                json_object_get(e, "args"), "used")));
            ne++;
        } else if (!strcmp(ph, "i")) {
            ninst++;
        }
    }
    CU_ASSERT_EQUAL(nb, 7);
    CU_ASSERT_EQUAL(ne, 7);
    CU_ASSERT(ninst >= 2 + 4);
    /* The first request: OUT at 0, done 10us + 4096 B at 100 MiB/s. */
    CU_ASSERT_DOUBLE_EQUAL(b_ts[0], 0.0, 1e-9);
    json_decref(root);
    free(text);
    unlink(path);
    free(path);
}

CU_TestInfo trace_replay_tests[] = {
    { "replay_clean", test_replay_clean },
    { "replay_latency", test_replay_latency },
    { "replay_output", test_replay_output },
    { "replay_input", test_replay_input },
    { "replay_prefixes", test_replay_prefixes },
    { "replay_backing", test_replay_backing },
    { "replay_rng", test_replay_rng },
    { "replay_shared_cal", test_replay_shared_cal },
    { "replay_worker_clean", test_replay_worker_clean },
    { "replay_worker_digest", test_replay_worker_digest },
    { "replay_worker_soft", test_replay_worker_soft },
    { "replay_worker_order", test_replay_worker_order },
    { "digest_worker", test_digest_worker },
    { "export_vcd", test_export_vcd },
    { "export_perfetto", test_export_perfetto },
    CU_TEST_INFO_NULL,
};
