/* SPDX-License-Identifier: MIT */
/*
 * The lazy reader (validation on a thread of its own) against the eager
 * one: for whole, cut and damaged traces it must index the same records
 * and end the valid prefix at the same record, for the same reason.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "tests/unit/suites.h"
#include "tests/support/tmpfile.h"
#include "traces/reader.h"
#include "traces/trace.h"

#define LZ_CHAINS 300
#define LZ_DATA 4000        /* bytes per chain: the trace passes 1 MiB */

/* A trace of LZ_CHAINS chains with data and their completions. */
static void lz_write(const char *path)
{
    struct trace_header h = { .device = "blk", .virtio_id = 2,
                              .num_queues = 1, .clock = "afap",
                              .inband = "auto", .image = TRACE_IMAGE_RAM,
                              .image_opt = "", .image_size = 1 << 20 };
    struct trace_chain c = { .ndesc = 2, .nrd = 1, .nwr = 1,
                             .rd_len = LZ_DATA, .wr_len = 1 };
    struct trace_writer *w = NULL;
    struct trace_done d = { .used_len = 1, .extent = 1 };
    uint64_t id;

    CU_ASSERT_EQUAL_FATAL(trace_writer_open(path, &h, NULL, &w), 0);
    for (unsigned i = 0; i < LZ_CHAINS; i++) {
        c.head = (uint16_t)i;
        trace_write_avail(w, 0);
        CU_ASSERT_EQUAL(trace_write_chain_begin(w, &c, &id), 0);
        trace_write_chain_seg(w, LZ_DATA);
        trace_write_chain_seg(w, 1);
        memset(trace_write_chain_data(w), (int)(i & 0xff), LZ_DATA);
        trace_write_chain_end(w, 0);
        trace_write_complete(w, id, 0, c.head, &d);
    }
    CU_ASSERT_EQUAL(trace_writer_close(w), 0);
}

/* Open @path both ways; walk the lazy one record by record as replay
 * does, and compare everything the eager one says. */
static void lz_compare(const char *path, const char *what)
{
    struct trace_reader *e = NULL, *l = NULL;
    struct trace_status_info se, sl;
    struct trace_rec re, rl;
    char err[256];
    size_t i = 0;

    int rc = trace_reader_open(path, &e, err, sizeof(err));

    /* Not a trace (a damaged magic or version): refused both ways. */
    CU_ASSERT_EQUAL(trace_reader_open_lazy(path, &l, err, sizeof(err)), rc);
    if (rc != 0) {
        return;
    }
    CU_ASSERT_FATAL(l != NULL);
    for (; trace_reader_have(l, i); i++) {
        CU_ASSERT_EQUAL(trace_reader_get(l, i, &rl), 0);
        CU_ASSERT_EQUAL(trace_reader_get(e, i, &re), 0);
        CU_ASSERT_EQUAL(rl.offset, re.offset);
        CU_ASSERT_EQUAL(rl.type, re.type);
    }
    CU_ASSERT_EQUAL(trace_reader_finish(l), 0);
    trace_reader_status(e, &se);
    trace_reader_status(l, &sl);
    if (i != trace_reader_count(e) || se.status != sl.status ||
        se.records != sl.records || se.valid_bytes != sl.valid_bytes ||
        se.bad_index != sl.bad_index || se.bad_offset != sl.bad_offset ||
        strcmp(se.why, sl.why) != 0) {
        fprintf(stderr, "\n  %s: eager %zu records %s '%s', lazy walked "
                "%zu, %zu records %s '%s'\n", what, trace_reader_count(e),
                trace_status_name(se.status), se.why, i, sl.records,
                trace_status_name(sl.status), sl.why);
        CU_FAIL("the lazy reader differs from the eager one");
    }
    CU_ASSERT_EQUAL(trace_reader_count(l), trace_reader_count(e));
    trace_reader_free(e);
    trace_reader_free(l);
}

static void test_lazy_whole_and_cut(void)
{
    char *src = ut_tmp_path("lazy"), *dst = ut_tmp_path("lazy"), what[64];
    size_t len = 0;
    uint8_t *buf;

    lz_write(src);
    buf = ut_slurp(src, &len);
    CU_ASSERT_FATAL(buf != NULL && len > (1u << 20));
    lz_compare(src, "whole");
    /* Cuts inside the preamble, the HEADER, early and late records. */
    for (size_t cut = 0; cut < len; cut = cut < 64 ? cut + 7 : cut * 5 / 4) {
        CU_ASSERT_EQUAL_FATAL(ut_put(dst, buf, cut), 0);
        snprintf(what, sizeof(what), "cut at %zu", cut);
        lz_compare(dst, what);
    }
    free(buf);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

static void test_lazy_damaged(void)
{
    char *src = ut_tmp_path("lazy"), *dst = ut_tmp_path("lazy"), what[64];
    size_t len = 0;
    uint8_t *buf;

    lz_write(src);
    buf = ut_slurp(src, &len);
    CU_ASSERT_FATAL(buf != NULL);
    for (size_t at = 3; at < len; at = at * 3 / 2 + 11) {
        buf[at] ^= 0x20;
        CU_ASSERT_EQUAL_FATAL(ut_put(dst, buf, len), 0);
        snprintf(what, sizeof(what), "byte %zu flipped", at);
        lz_compare(dst, what);
        buf[at] ^= 0x20;
    }
    free(buf);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* @buf's first @len bytes, then @zeros zero bytes, as a writer that
 * reserves space leaves a file when it is killed; the eager reader's
 * status of it, checked against the lazy one's. */
static void lz_padded(const char *path, const uint8_t *buf, size_t len,
                      size_t zeros, struct trace_status_info *st)
{
    uint8_t *p = calloc(1, len + zeros);
    struct trace_reader *e = NULL;
    char err[256];

    CU_ASSERT_FATAL(p != NULL);
    memcpy(p, buf, len);
    CU_ASSERT_EQUAL_FATAL(ut_put(path, p, len + zeros), 0);
    free(p);
    lz_compare(path, "zero tail");
    CU_ASSERT_EQUAL_FATAL(trace_reader_open(path, &e, err, sizeof(err)), 0);
    trace_reader_status(e, st);
    trace_reader_free(e);
}

/* Zeros after the records end the prefix cleanly; a record cut into them
 * is torn; damage before them stays damage. */
static void test_lazy_zero_tail(void)
{
    char *src = ut_tmp_path("lazy"), *dst = ut_tmp_path("lazy");
    struct trace_status_info whole, st;
    struct trace_reader *e = NULL;
    size_t len = 0;
    uint8_t *buf;
    char err[256];

    lz_write(src);
    buf = ut_slurp(src, &len);
    CU_ASSERT_FATAL(buf != NULL && len > 4096);
    CU_ASSERT_EQUAL_FATAL(trace_reader_open(src, &e, err, sizeof(err)), 0);
    trace_reader_status(e, &whole);
    trace_reader_free(e);
    /* Cut after the record before END, then zeros. */
    lz_padded(dst, buf, len - 44, 1u << 20, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_NO_END);
    CU_ASSERT_EQUAL(st.records, whole.records - 1);
    CU_ASSERT_EQUAL(st.valid_bytes, len - 44);
    CU_ASSERT(strstr(st.why, "zero bytes") != NULL);
    /* Cut inside the last data record, then zeros. */
    lz_padded(dst, buf, len - 44 - 4000, 1u << 20, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_TORN);
    CU_ASSERT(strstr(st.why, "incomplete record") != NULL);
    /* Killed while copying a chunk: the writer stores the chunk's first
     * header last, so a zero header starts it, with copied bytes and
     * still-zero bytes after it in any order. */
    {
        uint8_t *cut = malloc(len);

        CU_ASSERT_FATAL(cut != NULL);
        memcpy(cut, buf, len);
        memset(cut + len - 44, 0, 8);         /* the header not yet stored */
        memset(cut + len - 30, 0, 10);        /* a hole memcpy left */
        lz_padded(dst, cut, len, 1u << 20, &st);
        CU_ASSERT_EQUAL(st.status, TRACE_ST_NO_END);
        CU_ASSERT_EQUAL(st.records, whole.records - 1);
        CU_ASSERT_EQUAL(st.valid_bytes, len - 44);
        CU_ASSERT(strstr(st.why, "zero record header") != NULL);
        /* The same bytes with a non-zero header are damage, not a kill. */
        cut[len - 44 + 2] = 1;
        lz_padded(dst, cut, len, 1u << 20, &st);
        CU_ASSERT_EQUAL(st.status, TRACE_ST_CORRUPT);
        free(cut);
    }
    /* A damaged byte well before the zeros. */
    buf[len / 2] ^= 0x01;
    lz_padded(dst, buf, len - 44, 1u << 20, &st);
    CU_ASSERT_EQUAL(st.status, TRACE_ST_CORRUPT);
    CU_ASSERT_STRING_EQUAL(st.why, "checksum mismatch");
    free(buf);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* Freed half way: the validator is stopped, nothing leaks. */
static void test_lazy_free_early(void)
{
    char *src = ut_tmp_path("lazy"), err[256];
    struct trace_reader *l = NULL;

    lz_write(src);
    for (int k = 0; k < 20; k++) {
        CU_ASSERT_EQUAL_FATAL(trace_reader_open_lazy(src, &l, err,
                                                     sizeof(err)), 0);
        CU_ASSERT(trace_reader_have(l, (size_t)k * 40));
        trace_reader_free(l);
    }
    unlink(src);
    free(src);
}

CU_TestInfo trace_lazy_tests[] = {
    { "whole_and_cut", test_lazy_whole_and_cut },
    { "damaged", test_lazy_damaged },
    { "free_early", test_lazy_free_early },
    { "zero_tail", test_lazy_zero_tail },
    CU_TEST_INFO_NULL,
};
