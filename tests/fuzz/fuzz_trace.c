/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_trace.c - the trace reader and validator over fuzzed files
 *
 * The first input byte picks a mode; the rest is the file. In "fix" mode
 * the target rewrites the preamble's and every frame's CRC-32C before the
 * reader sees the bytes, so the fuzzer reaches the payload and stream
 * checks instead of stopping at a CRC it cannot guess. Then every record of
 * the valid prefix is decoded, described and (chains) looked up, as
 * `vusim trace dump` and replay do. Invariants: the prefix never extends
 * past the file, and a record decodes inside its own bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "traces/reader.h"
#include "traces/trace.h"
#include "tests/fuzz/fuzz.h"

#define PREAMBLE TRACE_PREAMBLE_SIZE
#define FRAME_HDR TRACE_REC_HDR_SIZE

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Make every CRC right, frame by frame, as far as the lengths go. */
static void fix_crcs(uint8_t *b, size_t n)
{
    size_t at = PREAMBLE;

    if (n < PREAMBLE) {
        return;
    }
    put_le32(b + 12, trace_crc32c(b, 12));
    while (n - at >= FRAME_HDR + 4) {
        uint32_t len = trace_le32(b + at + 4);

        if (len > n - at - FRAME_HDR - 4) {
            return;
        }
        put_le32(b + at + FRAME_HDR + len,
                 trace_crc32c(b + at, FRAME_HDR + len));
        at += FRAME_HDR + len + 4;
    }
}

static void walk(const struct trace_reader *r, size_t size)
{
    struct trace_status_info st;
    struct trace_rec rec;
    char line[512];
    size_t n = trace_reader_count(r);

    trace_reader_status(r, &st);
    fz_check(st.valid_bytes <= size);
    fz_check(st.records == n);
    (void)trace_status_name(st.status);
    (void)trace_reader_header(r);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *fr;
        size_t flen;
        uint8_t sub;

        fz_check(trace_reader_get(r, i, &rec) == 0);
        fz_check(trace_reader_type(r, i, &sub) == rec.type);
        fr = trace_reader_frame(r, i, &flen);
        fz_check(fr && flen == FRAME_HDR + rec.len + 4);
        fz_check(rec.offset + flen <= st.valid_bytes);
        trace_rec_describe(r, &rec, line, sizeof(line));
        (void)trace_rec_is_device(&rec);
        if (rec.type == TRACE_CHAIN) {
            fz_check(trace_reader_chain(r, rec.u.chain.id) >= 0);
            trace_req_describe(r, rec.u.chain.id, line, sizeof(line));
        }
    }
    fz_check(trace_reader_get(r, n, &rec) == -ERANGE);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace_reader *r = NULL;
    char err[256];
    uint8_t *buf;
    bool fix;

    if (size < 1) {
        return 0;
    }
    fix = data[0] & 1;
    data++;
    size--;
    buf = malloc(size ? size : 1);
    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    if (fix) {
        fix_crcs(buf, size);
    }
    if (trace_reader_open_mem(buf, size, &r, err, sizeof(err)) == 0) {
        walk(r, size);
        trace_reader_free(r);
    }
    free(buf);
    return 0;
}
