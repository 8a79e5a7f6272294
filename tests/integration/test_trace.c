/* SPDX-License-Identifier: MIT */
/*
 * Traces recorded by the real back-end (through traces/record.c) on a real
 * socket, driven by the reference front-end in the suite's notification
 * mode: the recording replays without divergence, two runs give the same
 * bytes, and every completion is in the file before its call reaches the
 * front-end.
 */
#define _GNU_SOURCE
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "traces/record.h"
#include "devices/blk/blk.h"
#include "tests/integration/itest.h"
#include "tests/support/tmpfile.h"
#include "traces/reader.h"
#include "traces/replay.h"

static const struct dev_opt tr_opts[] = {
    { "size", "1M" }, { "latency", "10us" }, { "channels", "2" },
    { "bandwidth", "200M" },
};
#define TR_NOPTS (sizeof(tr_opts) / sizeof(tr_opts[0]))

struct tr {
    struct harness h;
    struct trace_recorder *w;
    char trace[64];
};

static void *tr_main(void *arg)
{
    struct harness *h = arg;

    h->rc = vu_loop_run(h->loop);
    return NULL;
}

/* A blk back-end recording into a fresh trace file, serving one
 * front-end; the trace is attached before the loop runs. */
static int tr_start(struct tr *t)
{
    static unsigned counter;
    struct vu_backend_cfg bc = { .inband = VU_INBAND_AUTO, .conn_id = 1 };
    struct trace_record_cfg tc = { .device = "blk", .opts = tr_opts,
                               .nopts = TR_NOPTS, .seed = 3 };
    char err[256] = "";
    unsigned k = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);

    memset(t, 0, sizeof(*t));
    snprintf(t->h.path, sizeof(t->h.path), "/tmp/vusim-tr-%d-%u.sock",
             (int)getpid(), k);
    snprintf(t->trace, sizeof(t->trace), "/tmp/vusim-tr-%d-%u.trace",
             (int)getpid(), k);
    tc.path = t->trace;
    t->h.loop = harness_loop_new();
    if (!t->h.loop || dev_blk_ops.create(vu_loop_cal(t->h.loop), tr_opts,
                                         TR_NOPTS, &t->h.dev, err,
                                         sizeof(err)) < 0) {
        return -1;
    }
    t->h.be = vu_backend_new(t->h.loop, t->h.dev, &bc);
    if (!t->h.be ||
        trace_record_open(t->h.be, &tc, &t->w, err, sizeof(err)) ||
        vu_server_listen(t->h.loop, t->h.be, t->h.path, &t->h.srv) < 0) {
        return -1;
    }
    vu_server_set_oneshot(t->h.srv, true);
    return pthread_create(&t->h.thread, NULL, tr_main, &t->h) ? -1 : 0;
}

/* Join the loop (the front-end has gone), free it all, close the trace
 * last so the disconnect is in it. */
static void tr_finish(struct tr *t)
{
    pthread_join(t->h.thread, NULL);
    vu_server_free(t->h.srv);
    vu_backend_free(t->h.be);
    CU_ASSERT_EQUAL(trace_record_close(NULL, t->w), 0);
    if (t->h.dev) {
        t->h.dev->ops->destroy(t->h.dev);
    }
    vu_loop_free(t->h.loop);
}

static struct vufe *tr_fe(struct tr *t, bool event_idx)
{
    struct vufe_cfg cfg;
    int err = 0;
    struct vufe *fe;

    vufe_cfg_init(&cfg);
    cfg.path = t->h.path;
    cfg.notify = g_itest_mode;
    cfg.config_size = sizeof(struct dev_blk_config);
    cfg.mem_size = 4u << 20;
    cfg.event_idx = event_idx;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_PTR_NOT_NULL(fe);
    return fe;
}

/* One blk request in guest memory: header, data, status. */
struct tr_req {
    uint64_t hdr, data, st;
    uint32_t type, len;
    uint64_t sector;
    int head;
};

static void tr_add(struct vufe *fe, struct tr_req *r, uint32_t type,
                   uint64_t sector, uint32_t len, uint8_t fill)
{
    struct dev_blk_req_hdr h = { .type = htole32(type),
                                 .sector = htole64(sector) };
    struct vufe_buf b[3];
    unsigned n = 0;

    r->type = type;
    r->len = len;
    r->sector = sector;
    r->hdr = vufe_alloc(fe, sizeof(h), 16);
    r->st = vufe_alloc(fe, 1, 16);
    r->data = len ? vufe_alloc(fe, len, 512) : 0;
    CU_ASSERT_FATAL(r->hdr && r->st && (!len || r->data));
    memcpy(vufe_ptr(fe, r->hdr, sizeof(h)), &h, sizeof(h));
    b[n++] = (struct vufe_buf){ r->hdr, sizeof(h), false };
    if (len) {
        memset(vufe_ptr(fe, r->data, len), fill, len);
        b[n++] = (struct vufe_buf){ r->data, len, type == DEV_BLK_T_IN };
    }
    b[n++] = (struct vufe_buf){ r->st, 1, true };
    r->head = vufe_add(fe, 0, b, n, false);
    CU_ASSERT_FATAL(r->head >= 0);
}

static void tr_reap(struct vufe *fe, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t id, used;

        CU_ASSERT_EQUAL_FATAL(vufe_reap_wait(fe, 0, &id, &used, 5000), 1);
    }
}

/* The workload: batches of writes, reads and a flush, each batch reaped
 * whole before the next (as the demo does). */
/* With @sync, each batch waits until every completion's in-band call has
 * been acked, so no ack can cross the next kick (without EVENT_IDX every
 * completion gets one call). */
static void tr_sync_calls(struct vufe *fe, uint64_t want)
{
    for (int i = 0; i < 500 && vufe_stats(fe)->q[0].calls < want; i++) {
        CU_ASSERT_FATAL(vufe_serve(fe, 10) >= 0);
    }
    CU_ASSERT_EQUAL(vufe_stats(fe)->q[0].calls, want);
}

static void tr_workload(struct tr *t, bool event_idx, bool sync)
{
    struct vufe *fe = tr_fe(t, event_idx);
    struct tr_req r[3];

    CU_ASSERT_FATAL(fe != NULL);
    for (unsigned batch = 0; batch < 8; batch++) {
        tr_add(fe, &r[0], DEV_BLK_T_OUT, 8u * batch, 4096,
               (uint8_t)(batch + 1));
        tr_add(fe, &r[1], DEV_BLK_T_IN, 8u * batch, 4096, 0);
        tr_add(fe, &r[2], batch % 2 ? DEV_BLK_T_FLUSH : DEV_BLK_T_IN,
               64, batch % 2 ? 0 : 1024, 0);
        CU_ASSERT_EQUAL_FATAL(vufe_kick(fe, 0), 0);
        tr_reap(fe, 3);
        if (sync) {
            tr_sync_calls(fe, 3u * (batch + 1));
        }
    }
    vufe_free(fe);
}

/* The trace a recorded run leaves is complete, holds the negotiation and
 * the notification mode, and replays without divergence. */
static void test_record_replay(void)
{
    struct tr t;
    struct trace_reader *r = NULL;
    struct trace_status_info st;
    struct trace_replay_result res;
    struct trace_rec rec;
    char err[512] = "";
    bool neg = false, mode = false, msg_dir[4] = { false };

    CU_ASSERT_EQUAL_FATAL(tr_start(&t), 0);
    tr_workload(&t, true, false);
    tr_finish(&t);
    CU_ASSERT_EQUAL_FATAL(trace_reader_open(t.trace, &r, err, sizeof(err)),
                          0);
    trace_reader_status(r, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_COMPLETE);
    for (size_t i = 0; i < trace_reader_count(r); i++) {
        trace_reader_get(r, i, &rec);
        neg |= rec.type == TRACE_NEG && rec.u.neg.what == TRACE_NEG_FEATURES;
        if (rec.type == TRACE_MODE) {
            mode |= rec.u.mode.kick == (g_itest_mode == VUFE_NOTIFY_INBAND ?
                                        TRACE_NOTIFY_INBAND :
                                        TRACE_NOTIFY_EVENTFD);
        }
        if (rec.type == TRACE_MSG) {
            msg_dir[rec.u.msg.dir & 3] = true;
        }
        /* Front-end addresses are rebased (FORMAT.md, MSG): the first
         * table's lowest region at 0, rings relative to their table. */
        if (rec.type == TRACE_MSG && rec.u.msg.dir == TRACE_MSG_FE_REQ &&
            rec.u.msg.request == VU_REQ_SET_MEM_TABLE) {
            CU_ASSERT_EQUAL(trace_le64(rec.u.msg.data + 8), 0);
            CU_ASSERT_EQUAL(trace_le64(rec.u.msg.data + 24), 0);
            CU_ASSERT_EQUAL(trace_le64(rec.u.msg.data + 32), 0);
        }
        if (rec.type == TRACE_MSG && rec.u.msg.dir == TRACE_MSG_FE_REQ &&
            rec.u.msg.request == VU_REQ_SET_VRING_ADDR) {
            CU_ASSERT_EQUAL(trace_le64(rec.u.msg.data + 8), 0);
            CU_ASSERT(trace_le64(rec.u.msg.data + 24) > 0);
        }
    }
    CU_ASSERT(neg && mode && msg_dir[0] && msg_dir[1]);
    CU_ASSERT_EQUAL(msg_dir[2], g_itest_mode == VUFE_NOTIFY_INBAND);
    CU_ASSERT_EQUAL(trace_replay(r, NULL, &res, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(res.diverged);
    if (res.diverged) {
        fprintf(stderr, "\n#%zu %s\n  %s\n  %s\n", res.div.index,
                res.div.what, res.div.expected, res.div.actual);
    }
    CU_ASSERT_EQUAL(res.completions, 24);
    trace_reader_free(r);
    unlink(t.trace);
}

/* Two runs of the same workload give byte-identical traces.
 *
 * The front-end must not race the back-end, or the records of the race
 * differ (traces/FORMAT.md, "Determinism"; replay is unaffected):
 *  - in-band only: with eventfd kicks, buffers added while the back-end
 *    takes its first look at a new ring go to that look or the next kick;
 *  - without EVENT_IDX: vufe acks an in-band call before it reaps and
 *    moves used_event, so whether a batch's next completion needs a call
 *    would race it;
 *  - every call acked before the next kick: vufe reaps without waiting
 *    for the call, and its ack could cross the next kick. */
static void test_same_bytes(void)
{
    struct tr a, b;
    uint8_t *ba, *bb;
    size_t la = 0, lb = 0;

    if (g_itest_mode != VUFE_NOTIFY_INBAND) {
        return;
    }
    CU_ASSERT_EQUAL_FATAL(tr_start(&a), 0);
    tr_workload(&a, false, true);
    tr_finish(&a);
    CU_ASSERT_EQUAL_FATAL(tr_start(&b), 0);
    tr_workload(&b, false, true);
    tr_finish(&b);
    ba = ut_slurp(a.trace, &la);
    bb = ut_slurp(b.trace, &lb);
    CU_ASSERT_FATAL(ba && bb);
    CU_ASSERT_EQUAL(la, lb);
    CU_ASSERT(la == lb && memcmp(ba, bb, la) == 0);
    free(ba);
    free(bb);
    unlink(a.trace);
    unlink(b.trace);
}

static size_t count_on_disk(const char *path, uint16_t type)
{
    struct trace_reader *r = NULL;
    struct trace_rec rec;
    char err[256];
    size_t n = 0;

    if (trace_reader_open(path, &r, err, sizeof(err)) < 0) {
        return 0;
    }
    for (size_t i = 0; i < trace_reader_count(r); i++) {
        trace_reader_get(r, i, &rec);
        n += rec.type == type;
    }
    trace_reader_free(r);
    return n;
}

/* When a call reaches the front-end, its completion is already in the
 * file (written with write(2), not just buffered). */
static void test_flushed_before_call(void)
{
    struct tr t;
    struct vufe *fe;
    struct tr_req r;

    CU_ASSERT_EQUAL_FATAL(tr_start(&t), 0);
    fe = tr_fe(&t, true);
    CU_ASSERT_FATAL(fe != NULL);
    for (unsigned i = 0; i < 6; i++) {
        tr_add(fe, &r, i % 2 ? DEV_BLK_T_IN : DEV_BLK_T_OUT, i, 512,
               (uint8_t)i);
        CU_ASSERT_EQUAL_FATAL(vufe_kick(fe, 0), 0);
        CU_ASSERT_EQUAL_FATAL(vufe_wait_call(fe, 0, 5000), 0);
        CU_ASSERT_EQUAL(count_on_disk(t.trace, TRACE_COMPLETE), i + 1);
        tr_reap(fe, 1);
    }
    vufe_free(fe);
    tr_finish(&t);
    CU_ASSERT_EQUAL(count_on_disk(t.trace, TRACE_COMPLETE), 6);
    unlink(t.trace);
}

CU_TestInfo trace_itests[] = {
    { "record_replay", test_record_replay },
    { "same_bytes", test_same_bytes },
    { "flushed_before_call", test_flushed_before_call },
    CU_TEST_INFO_NULL,
};
