/* SPDX-License-Identifier: MIT */
/*
 * traces: the format. Writer and reader round trip, byte-stable output,
 * the valid prefix of every truncation, every corrupted byte found at its
 * record, known answers for CRC-32 and SHA-256.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "sim/rng.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"
#include "tests/support/tmpfile.h"
#include "traces/crc32c-internal.h"
#include "traces/reader.h"
#include "traces/trace.h"

/* ---- fixtures ---- */

static const struct trace_opt t_opts[] = {
    { "size", "1M" }, { "latency", "10us" }, { "read-only", NULL },
};

static void t_header(struct trace_header *h)
{
    memset(h, 0, sizeof(*h));
    h->device = "blk";
    h->virtio_id = 2;
    h->num_queues = 1;
    h->features = 0x130000000ull;
    h->protocol_features = 0x4228;
    h->clock = "afap";
    h->inband = "auto";
    h->seed = 42;
    h->conn_id = 7;
    h->opts = t_opts;
    h->nopts = 3;
    h->image = TRACE_IMAGE_RAM;
    h->image_opt = "";
    h->image_size = 1u << 20;
}

/* One record of every type, on a calendar so CAL records appear too. */
static void t_event(struct sim_cal *cal, struct sim_event *ev)
{
    (void)cal;
    (void)ev;
}

static void write_sample(const char *path)
{
    struct trace_header h;
    struct trace_writer *w = NULL;
    struct sim_cal *cal = sim_cal_new();
    struct sim_event ev;
    struct trace_chain c = { .queue = 0, .head = 5, .ndesc = 3, .nrd = 1,
                             .nwr = 2, .rd_len = 16, .wr_len = 4097 };
    struct trace_wbuf wb = { 0 };
    struct trace_done d;
    uint64_t id = 99, state = 0x0000010000000000ull;
    uint8_t *p, status = 0;
    uint8_t data[4096];

    t_header(&h);
    CU_ASSERT_FATAL(cal != NULL);
    CU_ASSERT_EQUAL_FATAL(trace_writer_open(path, &h, NULL, &w), 0);
    trace_writer_set_cal(w, cal);
    CU_ASSERT_EQUAL(trace_write_conn(w, true), 0);
    CU_ASSERT_EQUAL(trace_write_msg(w, TRACE_MSG_FE_REQ, 8, 0x9, 8, &state,
                                    8, 0), 0);
    CU_ASSERT_EQUAL(trace_write_neg(w, TRACE_NEG_FEATURES, 0x100000000ull),
                    0);
    CU_ASSERT_EQUAL(trace_write_config(w, false, 0, 8, 0, &state, 8), 0);
    CU_ASSERT_EQUAL(trace_write_queue(w, 0, true), 0);
    CU_ASSERT_EQUAL(trace_write_kick(w, 0, TRACE_NOTIFY_INBAND), 0);
    CU_ASSERT_EQUAL(trace_write_avail(w, 0), 0);
    CU_ASSERT_EQUAL(trace_write_chain_begin(w, &c, &id), 0);
    CU_ASSERT_EQUAL(id, 0);
    trace_write_chain_seg(w, 16);
    trace_write_chain_seg(w, 4096);
    trace_write_chain_seg(w, 1);
    p = trace_write_chain_data(w);
    CU_ASSERT_FATAL(p != NULL);
    for (int i = 0; i < 16; i++) {
        p[i] = (uint8_t)i;
    }
    CU_ASSERT_EQUAL(trace_write_chain_end(w, TRACE_CHAIN_INDIRECT), 0);
    sim_event_init(&ev, t_event, NULL);
    /* Not the device's: left out. */
    sim_cal_after(cal, &ev, sim_us(5), 3);
    sim_cal_run_one(cal);
    /* The device's (scheduled in its hook): recorded, seq counted from 0
     * among the device's events only. */
    trace_writer_dev_enter(w);
    sim_cal_after(cal, &ev, sim_us(5), 3);
    trace_writer_dev_leave(w);
    sim_cal_run_one(cal);
    memset(data, 0xab, sizeof(data));
    trace_wbuf_write(&wb, 4096, &status, 1);
    trace_wbuf_write(&wb, 0, data, sizeof(data));
    trace_done_compute(TRACE_DIGEST_DEFAULT, &wb, 4097, 4097, &d);
    CU_ASSERT_EQUAL(trace_write_complete(w, id, 0, 5, &d), 0);
    CU_ASSERT_EQUAL(trace_write_call(w, 0, TRACE_NOTIFY_INBAND), 0);
    CU_ASSERT_EQUAL(trace_write_cancel(w, 1, 0), 0);
    CU_ASSERT_EQUAL(trace_write_reset(w), 0);
    CU_ASSERT_EQUAL(trace_write_conn(w, false), 0);
    trace_wbuf_fini(&wb);
    CU_ASSERT_EQUAL(trace_writer_close(w), 0);
    sim_cal_free(cal);
}

/* The types write_sample() writes, in order. */
static const uint16_t sample_types[] = {
    TRACE_HEADER, TRACE_CONN, TRACE_MSG, TRACE_NEG, TRACE_CONFIG,
    TRACE_QUEUE, TRACE_KICK, TRACE_MODE, TRACE_AVAIL, TRACE_CHAIN,
    TRACE_CAL, TRACE_CAL, TRACE_COMPLETE, TRACE_CALL, TRACE_MODE,
    TRACE_CANCEL, TRACE_RESET, TRACE_CONN, TRACE_END,
};
#define NSAMPLE (sizeof(sample_types) / sizeof(sample_types[0]))

/* ---- tests ---- */

/* CRC-32C, SHA-256 and XXH3-128 known answers (the last from xxHash's
 * published vectors: xxh128sum of an empty file). */
static void test_known_answers(void)
{
    static const uint8_t empty_xxh[16] = {
        0x99, 0xaa, 0x06, 0xd3, 0x01, 0x47, 0x98, 0xd8, 0x60, 0x01, 0xc3,
        0x24, 0x46, 0x8d, 0x49, 0x7f,
    };
    static const uint8_t zero[16] = { 0 };
    static const uint8_t abc_sha[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    struct trace_wbuf wb = { 0 };
    struct trace_done d;

    CU_ASSERT_EQUAL(trace_crc32c("123456789", 9), 0xE3069283u);
    CU_ASSERT_EQUAL(trace_crc32c("", 0), 0);
    trace_wbuf_write(&wb, 0, "abc", 3);
    trace_done_compute(TRACE_DIGEST_SHA256, &wb, 3, 3, &d);
    CU_ASSERT(memcmp(d.digest, abc_sha, 32) == 0);
    CU_ASSERT_EQUAL(d.extent, 3);
    CU_ASSERT(d.flags & TRACE_DONE_STATUS);
    CU_ASSERT_EQUAL(d.status, 'c');
    trace_wbuf_clear(&wb);
    trace_done_compute(TRACE_DIGEST_XXH128, &wb, 3, 0, &d);
    CU_ASSERT(memcmp(d.digest, empty_xxh, 16) == 0);
    CU_ASSERT(memcmp(d.digest + 16, zero, 16) == 0);
    CU_ASSERT_EQUAL(d.extent, 0);
    CU_ASSERT_FALSE(d.flags & TRACE_DONE_STATUS);
    trace_wbuf_fini(&wb);
}

/* The digest covers the final bytes, whatever the order of the writes;
 * gaps read as zero; a short extent has no status. */
static void test_wbuf_order(void)
{
    struct trace_wbuf a = { 0 }, b = { 0 }, c = { 0 };
    struct trace_done da, db, dc;
    uint8_t buf[10000], zero[100] = { 0 };

    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 31 + 7);
    }
    trace_wbuf_write(&a, 0, buf, sizeof(buf));
    for (size_t off = sizeof(buf); off > 0;) {
        size_t n = off >= 999 ? 999 : off;

        off -= n;
        trace_wbuf_write(&b, off, buf + off, n);
    }
    trace_done_compute(TRACE_DIGEST_DEFAULT, &a, 20000, 10000, &da);
    trace_done_compute(TRACE_DIGEST_DEFAULT, &b, 20000, 10000, &db);
    CU_ASSERT(memcmp(&da, &db, sizeof(da)) == 0);
    CU_ASSERT_FALSE(da.flags & TRACE_DONE_STATUS);
    /* A gap written explicitly as zeros is the same as a gap. */
    trace_wbuf_write(&c, 100, buf + 100, 50);
    trace_wbuf_write(&b, 0, zero, 100);
    trace_wbuf_clear(&b);
    trace_wbuf_write(&b, 0, zero, 100);
    trace_wbuf_write(&b, 100, buf + 100, 50);
    trace_done_compute(TRACE_DIGEST_DEFAULT, &b, 150, 150, &db);
    trace_done_compute(TRACE_DIGEST_DEFAULT, &c, 150, 150, &dc);
    CU_ASSERT(memcmp(&db, &dc, sizeof(db)) == 0);
    CU_ASSERT_EQUAL(dc.extent, 150);
    CU_ASSERT_EQUAL(trace_wbuf_write(&c, UINT32_MAX, buf, 2), -ERANGE);
    trace_wbuf_fini(&a);
    trace_wbuf_fini(&b);
    trace_wbuf_fini(&c);
}

/* Every record reads back as written. */
static void test_roundtrip(void)
{
    char *path = ut_tmp_path("trace"), err[256];
    struct trace_reader *r = NULL;
    const struct trace_header *h;
    struct trace_status_info st;
    struct trace_rec rec;

    write_sample(path);
    CU_ASSERT_EQUAL_FATAL(trace_reader_open(path, &r, err, sizeof(err)), 0);
    trace_reader_status(r, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_COMPLETE);
    CU_ASSERT_EQUAL(st.major, TRACE_VERSION_MAJOR);
    CU_ASSERT_EQUAL(trace_reader_count(r), NSAMPLE);
    for (size_t i = 0; i < NSAMPLE && i < trace_reader_count(r); i++) {
        CU_ASSERT_EQUAL(trace_reader_get(r, i, &rec), 0);
        VU_ASSERT_MSG(rec.type == sample_types[i], trace_type_name(rec.type));
    }
    h = trace_reader_header(r);
    CU_ASSERT_FATAL(h != NULL);
    CU_ASSERT_STRING_EQUAL(h->device, "blk");
    CU_ASSERT_EQUAL(h->seed, 42);
    CU_ASSERT_EQUAL(h->conn_id, 7);
    CU_ASSERT_EQUAL(h->nopts, 3);
    CU_ASSERT_STRING_EQUAL(h->opts[1].name, "latency");
    CU_ASSERT_STRING_EQUAL(h->opts[1].value, "10us");
    CU_ASSERT_PTR_NULL(h->opts[2].value);
    CU_ASSERT_EQUAL(h->image, TRACE_IMAGE_RAM);
    trace_reader_get(r, 2, &rec);
    CU_ASSERT_EQUAL(rec.u.msg.request, 8);
    CU_ASSERT_EQUAL(rec.u.msg.plen, 8);
    trace_reader_get(r, 9, &rec);
    CU_ASSERT_EQUAL(rec.u.chain.head, 5);
    CU_ASSERT_EQUAL(rec.u.chain.nwr, 2);
    CU_ASSERT_EQUAL(trace_le32(rec.u.chain.seg_len + 4), 4096);
    CU_ASSERT_EQUAL(rec.u.chain.rd[15], 15);
    CU_ASSERT_EQUAL(rec.u.chain.flags, TRACE_CHAIN_INDIRECT);
    trace_reader_get(r, 11, &rec);
    CU_ASSERT_EQUAL(rec.u.cal.kind, TRACE_CAL_FIRE);
    CU_ASSERT_EQUAL(rec.u.cal.at, sim_us(10));
    CU_ASSERT_EQUAL(rec.u.cal.prio, 3);
    CU_ASSERT_EQUAL(rec.u.cal.seq, 0);
    CU_ASSERT_EQUAL(rec.time, sim_us(10));
    trace_reader_get(r, 12, &rec);
    CU_ASSERT_EQUAL(rec.u.done.d.used_len, 4097);
    CU_ASSERT_EQUAL(rec.u.done.d.extent, 4097);
    CU_ASSERT(rec.u.done.d.flags & TRACE_DONE_STATUS);
    CU_ASSERT_EQUAL(trace_reader_chain(r, 0), 9);
    trace_reader_get(r, NSAMPLE - 1, &rec);
    CU_ASSERT_EQUAL(rec.u.end.completions, 1);
    CU_ASSERT_EQUAL(rec.u.end.chains, 1);
    trace_reader_free(r);
    unlink(path);
    free(path);
}

/* The same calls give the same bytes. */
static void test_same_bytes(void)
{
    char *a = ut_tmp_path("trace"), *b = ut_tmp_path("trace");
    size_t la = 0, lb = 0;
    uint8_t *ba, *bb;

    write_sample(a);
    write_sample(b);
    ba = ut_slurp(a, &la);
    bb = ut_slurp(b, &lb);
    CU_ASSERT_FATAL(ba && bb);
    CU_ASSERT_EQUAL(la, lb);
    CU_ASSERT(la == lb && memcmp(ba, bb, la) == 0);
    free(ba);
    free(bb);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
}

/* Cut at every length: the prefix holds exactly the whole records. */
static void test_every_truncation(void)
{
    char *path = ut_tmp_path("trace"), err[256];
    size_t len = 0, bound[NSAMPLE + 1], nb = 0;
    uint8_t *buf;

    write_sample(path);
    buf = ut_slurp(path, &len);
    CU_ASSERT_FATAL(buf != NULL);
    for (size_t off = TRACE_PREAMBLE_SIZE; off < len && nb <= NSAMPLE;) {
        off += TRACE_REC_HDR_SIZE + trace_le32(buf + off + 4) +
               TRACE_REC_CRC_SIZE;
        bound[nb++] = off;
    }
    CU_ASSERT_EQUAL_FATAL(nb, NSAMPLE);
    for (size_t cut = 0; cut <= len; cut++) {
        struct trace_reader *r = NULL;
        struct trace_status_info st;
        size_t whole = 0;
        bool at_bound = cut == TRACE_PREAMBLE_SIZE;

        for (size_t k = 0; k < nb; k++) {
            whole += bound[k] <= cut;
            at_bound |= bound[k] == cut;
        }
        if (trace_reader_open_mem(buf, cut, &r, err, sizeof(err)) != 0) {
            CU_FAIL("a cut trace must open");
            continue;
        }
        trace_reader_status(r, &st);
        CU_ASSERT_EQUAL(st.records, whole);
        CU_ASSERT_EQUAL(trace_reader_count(r), whole);
        CU_ASSERT_EQUAL(st.status, cut == len ? TRACE_ST_COMPLETE
                                   : at_bound ? TRACE_ST_NO_END
                                              : TRACE_ST_TORN);
        if (st.status == TRACE_ST_TORN && cut >= TRACE_PREAMBLE_SIZE) {
            CU_ASSERT_EQUAL(st.bad_index, whole);
            CU_ASSERT_EQUAL(st.bad_offset, whole ? bound[whole - 1]
                                                 : TRACE_PREAMBLE_SIZE);
            CU_ASSERT_EQUAL(st.valid_bytes, st.bad_offset);
        }
        trace_reader_free(r);
    }
    free(buf);
    unlink(path);
    free(path);
}

/* Flip each byte after the preamble: the prefix ends at the record that
 * holds it, which is reported. */
static void test_every_corruption(void)
{
    char *path = ut_tmp_path("trace"), err[256];
    size_t len = 0, rec = 0, start = TRACE_PREAMBLE_SIZE, end;
    uint8_t *buf;

    write_sample(path);
    buf = ut_slurp(path, &len);
    CU_ASSERT_FATAL(buf != NULL);
    end = start + TRACE_REC_HDR_SIZE + trace_le32(buf + start + 4) +
          TRACE_REC_CRC_SIZE;
    for (size_t i = TRACE_PREAMBLE_SIZE; i < len; i++) {
        struct trace_reader *r = NULL;
        struct trace_status_info st;

        if (i == end) {
            start = end;
            end += TRACE_REC_HDR_SIZE + trace_le32(buf + end + 4) +
                   TRACE_REC_CRC_SIZE;
            rec++;
        }
        buf[i] ^= 0x40;
        CU_ASSERT_EQUAL_FATAL(trace_reader_open_mem(buf, len, &r, err,
                                                    sizeof(err)), 0);
        trace_reader_status(r, &st);
        CU_ASSERT_EQUAL(st.records, rec);
        CU_ASSERT_EQUAL(st.bad_index, rec);
        CU_ASSERT_EQUAL(st.bad_offset, start);
        /* A bigger length runs past the end: torn; anything else fails
         * its checksum. */
        if (i - start >= 4 && i - start < 8) {
            CU_ASSERT(st.status == TRACE_ST_CORRUPT ||
                      st.status == TRACE_ST_TORN);
        } else {
            CU_ASSERT_EQUAL(st.status, TRACE_ST_CORRUPT);
        }
        buf[i] ^= 0x40;
        trace_reader_free(r);
    }
    free(buf);
    unlink(path);
    free(path);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A version 1 trace (HEADER without its last byte, the digest field)
 * still reads, and its completions are SHA-256. Made from a version 2 one
 * by dropping that byte and fixing the lengths and checksums. */
static void test_version1(void)
{
    char *path = ut_tmp_path("trace"), err[256];
    struct trace_reader *r = NULL;
    struct trace_status_info st;
    size_t len = 0, hlen;
    uint8_t *buf;

    write_sample(path);
    buf = ut_slurp(path, &len);
    CU_ASSERT_FATAL(buf != NULL && len > 40);
    hlen = trace_le32(buf + TRACE_PREAMBLE_SIZE + 4);
    CU_ASSERT_EQUAL(buf[TRACE_PREAMBLE_SIZE + TRACE_REC_HDR_SIZE + hlen - 1],
                    TRACE_DIGEST_DEFAULT);
    buf[8] = 1;
    put_le32(buf + 12, trace_crc32c(buf, 12));
    put_le32(buf + TRACE_PREAMBLE_SIZE + 4, (uint32_t)(hlen - 1));
    memmove(buf + TRACE_PREAMBLE_SIZE + TRACE_REC_HDR_SIZE + hlen - 1,
            buf + TRACE_PREAMBLE_SIZE + TRACE_REC_HDR_SIZE + hlen,
            len - (TRACE_PREAMBLE_SIZE + TRACE_REC_HDR_SIZE + hlen));
    len--;
    put_le32(buf + TRACE_PREAMBLE_SIZE + TRACE_REC_HDR_SIZE + hlen - 1,
             trace_crc32c(buf + TRACE_PREAMBLE_SIZE,
                          TRACE_REC_HDR_SIZE + hlen - 1));
    CU_ASSERT_EQUAL_FATAL(trace_reader_open_mem(buf, len, &r, err,
                                                sizeof(err)), 0);
    trace_reader_status(r, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_COMPLETE);
    CU_ASSERT_EQUAL(st.major, 1);
    CU_ASSERT_EQUAL(trace_reader_count(r), NSAMPLE);
    CU_ASSERT_EQUAL(trace_reader_header(r)->digest, TRACE_DIGEST_SHA256);
    trace_reader_free(r);
    free(buf);
    unlink(path);
    free(path);
}

/* Not a trace, or a version this reader does not know: refused. A damaged
 * preamble: zero records. */
static void test_preamble(void)
{
    char *path = ut_tmp_path("trace"), err[256];
    struct trace_reader *r = NULL;
    struct trace_status_info st;
    size_t len = 0;
    uint8_t *buf;

    write_sample(path);
    buf = ut_slurp(path, &len);
    CU_ASSERT_FATAL(buf != NULL);
    buf[0] = 'X';
    CU_ASSERT_EQUAL(trace_reader_open_mem(buf, len, &r, err, sizeof(err)),
                    -EBADMSG);
    buf[0] = 'V';
    buf[8] = TRACE_VERSION_MAJOR + 1;
    buf[12] ^= 1;
    CU_ASSERT_EQUAL(trace_reader_open_mem(buf, len, &r, err, sizeof(err)),
                    0);
    trace_reader_status(r, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_CORRUPT);
    CU_ASSERT_EQUAL(st.records, 0);
    trace_reader_free(r);
    /* A correct CRC over a newer major version: refused as unknown. */
    {
        uint32_t c = trace_crc32c(buf, 12);

        buf[12] = (uint8_t)c;
        buf[13] = (uint8_t)(c >> 8);
        buf[14] = (uint8_t)(c >> 16);
        buf[15] = (uint8_t)(c >> 24);
    }
    CU_ASSERT_EQUAL(trace_reader_open_mem(buf, len, &r, err, sizeof(err)),
                    -EBADMSG);
    CU_ASSERT(strstr(err, "version") != NULL);
    CU_ASSERT_EQUAL(trace_reader_open("/nonexistent/trace", &r, err,
                                      sizeof(err)), -ENOENT);
    free(buf);
    unlink(path);
    free(path);
}

/* A record of a type this reader does not know is skipped, not fatal;
 * a second HEADER or time going back ends the prefix. */
static void test_stream_rules(void)
{
    char *path = ut_tmp_path("trace"), err[256];
    struct trace_reader *r = NULL;
    struct trace_status_info st;
    size_t len = 0, off;
    uint8_t *buf;
    uint32_t c, n;

    write_sample(path);
    buf = ut_slurp(path, &len);
    CU_ASSERT_FATAL(buf != NULL);
    /* Record 1 (CONN) becomes type 999, CRC fixed. */
    off = TRACE_PREAMBLE_SIZE + TRACE_REC_HDR_SIZE + trace_le32(buf + 20) +
          TRACE_REC_CRC_SIZE;
    n = trace_le32(buf + off + 4);
    buf[off] = 999 & 0xff;
    buf[off + 1] = 999 >> 8;
    c = trace_crc32c(buf + off, TRACE_REC_HDR_SIZE + n);
    memcpy(buf + off + TRACE_REC_HDR_SIZE + n, &c, 4);
    CU_ASSERT_EQUAL_FATAL(trace_reader_open_mem(buf, len, &r, err,
                                                sizeof(err)), 0);
    trace_reader_status(r, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_COMPLETE);
    trace_reader_free(r);
    /* Now a HEADER there. */
    buf[off] = TRACE_HEADER;
    buf[off + 1] = 0;
    c = trace_crc32c(buf + off, TRACE_REC_HDR_SIZE + n);
    memcpy(buf + off + TRACE_REC_HDR_SIZE + n, &c, 4);
    CU_ASSERT_EQUAL_FATAL(trace_reader_open_mem(buf, len, &r, err,
                                                sizeof(err)), 0);
    trace_reader_status(r, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_CORRUPT);
    CU_ASSERT_EQUAL(st.records, 1);
    trace_reader_free(r);
    free(buf);
    unlink(path);
    free(path);
}

/* Describing records: one line each, decoded. */
static void test_describe(void)
{
    char *path = ut_tmp_path("trace"), err[256], line[512];
    struct trace_reader *r = NULL;
    struct trace_rec rec;

    write_sample(path);
    CU_ASSERT_EQUAL_FATAL(trace_reader_open(path, &r, err, sizeof(err)), 0);
    trace_reader_get(r, 2, &rec);
    trace_rec_describe(r, &rec, line, sizeof(line));
    CU_ASSERT(strstr(line, "fe>be SET_VRING_NUM") != NULL);
    CU_ASSERT(strstr(line, "num=256") != NULL);
    trace_reader_get(r, 12, &rec);
    trace_rec_describe(r, &rec, line, sizeof(line));
    CU_ASSERT(strstr(line, "used=4097") != NULL);
    CU_ASSERT(strstr(line, "status=0(OK)") != NULL);
    /* The chain's first bytes are 0..15: type 0x03020100 -> unknown. */
    CU_ASSERT(strstr(line, "blk type=") != NULL);
    trace_reader_get(r, 0, &rec);
    trace_rec_describe(r, &rec, line, sizeof(line));
    CU_ASSERT(strstr(line, "latency=10us") != NULL);
    CU_ASSERT(strstr(line, "read-only") != NULL);
    trace_reader_free(r);
    unlink(path);
    free(path);
}

/* ---- CRC-32C: every implementation against the definition ---- */

/* One byte into a CRC-32C register, bit at a time, straight from the
 * definition (reflected polynomial 0x82F63B78): the reference. */
static uint32_t crc32c_ref_byte(uint32_t c, uint8_t b)
{
    c ^= b;
    for (int k = 0; k < 8; k++) {
        c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0);
    }
    return c;
}

/* x^n mod P, bit-reflected (bit 31 is x^0), by n multiplications by x:
 * the generator of the shift constants in traces/crc32c-internal.h. */
static uint32_t crc32c_xpow(unsigned long n)
{
    uint32_t r = 0x80000000u;

    while (n--) {
        r = (r >> 1) ^ ((r & 1) ? 0x82F63B78u : 0);
    }
    return r;
}

/* CRC of p[0..len) through every path this CPU has, and through
 * trace_crc32c; the number that disagree with want (printed). */
static int crc32c_check_paths(const uint8_t *p, size_t len, uint32_t want,
                              const char *what)
{
    static const enum trace_crc32c_path paths[] = {
        TRACE_CRC32C_TABLE, TRACE_CRC32C_SSE42, TRACE_CRC32C_3WAY,
    };
    int bad = 0;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        uint32_t got;

        if (!trace_crc32c_has(paths[i])) {
            continue;
        }
        got = trace_crc32c_via(paths[i], p, len);
        if (got != want) {
            printf("\ncrc32c %s: path %d len %zu: 0x%08x, want 0x%08x\n",
                   what, (int)paths[i], len, got, want);
            bad++;
        }
    }
    if (trace_crc32c(p, len) != want) {
        printf("\ncrc32c %s: trace_crc32c len %zu wrong\n", what, len);
        bad++;
    }
    return bad;
}

/* Known answers on every path: RFC 3720 B.4 and the check value. */
static void test_crc32c_vectors(void)
{
    static const struct {
        uint8_t fill;  /* byte value, or 1 = ascending, 2 = descending */
        uint32_t crc;
    } v[] = {
        { 0x00, 0x8A9136AAu }, { 0xff, 0x62A8AB43u },
        { 1, 0x46DD794Eu }, { 2, 0x113FDB5Cu },
    };
    uint8_t buf[32];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        for (int j = 0; j < 32; j++) {
            buf[j] = v[i].fill == 1   ? (uint8_t)j
                     : v[i].fill == 2 ? (uint8_t)(31 - j)
                                      : v[i].fill;
        }
        CU_ASSERT_EQUAL(crc32c_check_paths(buf, 32, v[i].crc, "rfc3720"),
                        0);
    }
    CU_ASSERT_EQUAL(crc32c_check_paths((const uint8_t *)"123456789", 9,
                                       0xE3069283u, "check"), 0);
    CU_ASSERT_EQUAL(crc32c_check_paths((const uint8_t *)"", 0, 0, "empty"),
                    0);
    CU_ASSERT(trace_crc32c_has(TRACE_CRC32C_TABLE));
}

/* The shift constants are what their definition says. */
static void test_crc32c_shift_constants(void)
{
    static const struct {
        unsigned long lane;
        uint32_t k, k2;
    } c[] = {
        { TRACE_CRC32C_LONG, TRACE_CRC32C_K_LONG, TRACE_CRC32C_K2_LONG },
        { TRACE_CRC32C_MID, TRACE_CRC32C_K_MID, TRACE_CRC32C_K2_MID },
        { TRACE_CRC32C_SHORT, TRACE_CRC32C_K_SHORT, TRACE_CRC32C_K2_SHORT },
    };

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        CU_ASSERT_EQUAL(c[i].lane % 8, 0);
        CU_ASSERT_EQUAL(crc32c_xpow(8 * c[i].lane - 33), c[i].k);
        CU_ASSERT_EQUAL(crc32c_xpow(16 * c[i].lane - 33), c[i].k2);
    }
}

/* CRC of p[0..len) at offset off into an allocation that ends right after
 * it, so that ASan sees any read past the end. */
static int crc32c_check_exact(const uint8_t *p, size_t off, size_t len,
                              uint32_t want)
{
    uint8_t *q = malloc(off + len + (off + len == 0));
    int bad;

    CU_ASSERT_FATAL(q != NULL);
    if (len > 0) {
        memcpy(q + off, p, len);
    }
    bad = crc32c_check_paths(q + off, len, want, "random");
    free(q);
    return bad;
}

/* Random bytes at each alignment 0..7: every length 0..2048, random lengths
 * to 70000 and the lengths around each block size, all against the
 * bitwise reference (kept per prefix, so the reference is one pass).
 * Stops after a few wrong lengths to keep the report short. */
static void test_crc32c_differential(void)
{
    enum { MAX = 70000 };
    static const size_t lanes[] = {
        TRACE_CRC32C_SHORT, TRACE_CRC32C_MID, TRACE_CRC32C_LONG,
    };
    const uint64_t seed = 0xc3c32c;
    struct vusim_rng rng;
    uint8_t *buf = malloc(MAX);
    uint32_t *want = malloc((MAX + 1) * sizeof(*want));
    int bad = 0;

    CU_ASSERT_FATAL(buf != NULL && want != NULL);
    vusim_rng_seed(&rng, seed);
    for (size_t off = 0; off < 8 && bad == 0; off++) {
        uint32_t c = 0xffffffffu;

        vusim_rng_fill(&rng, buf, MAX);
        want[0] = 0;
        for (size_t n = 0; n < MAX; n++) {
            c = crc32c_ref_byte(c, buf[n]);
            want[n + 1] = ~c;
        }
        for (size_t n = 0; n <= 2048 && bad < 4; n++) {
            bad += crc32c_check_exact(buf, off, n, want[n]);
        }
        for (int i = 0; i < 40 && bad < 4; i++) {
            size_t n = 2049 + vusim_rng_below(&rng, MAX - 2048);

            bad += crc32c_check_exact(buf, off, n, want[n]);
        }
        for (size_t l = 0; l < 3; l++) {
            for (size_t m = 1; 3 * lanes[l] * m + 9 <= MAX && m <= 3; m++) {
                for (size_t d = 0; d < 19 && bad < 4; d++) {
                    size_t n = 3 * lanes[l] * m + d - 9;

                    bad += crc32c_check_exact(buf, off, n, want[n]);
                }
            }
        }
    }
    if (bad) {
        printf("\ncrc32c differential: seed 0x%llx, %d wrong\n",
               (unsigned long long)seed, bad);
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(want);
    free(buf);
}

CU_TestInfo trace_tests[] = {
    { "known_answers", test_known_answers },
    { "wbuf_order", test_wbuf_order },
    { "roundtrip", test_roundtrip },
    { "same_bytes", test_same_bytes },
    { "every_truncation", test_every_truncation },
    { "every_corruption", test_every_corruption },
    { "preamble", test_preamble },
    { "version1", test_version1 },
    { "stream_rules", test_stream_rules },
    { "describe", test_describe },
    { "crc32c_vectors", test_crc32c_vectors },
    { "crc32c_shift_constants", test_crc32c_shift_constants },
    { "crc32c_differential", test_crc32c_differential },
    CU_TEST_INFO_NULL,
};
