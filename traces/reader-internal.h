/* SPDX-License-Identifier: MIT */
/*
 * traces/reader-internal.h - what reader.c (decoding, lookups) and
 * reader_scan.c (validation, the index) share. Not installed.
 */
#ifndef VUSIM_TRACES_READER_INTERNAL_H
#define VUSIM_TRACES_READER_INTERNAL_H

#include "traces/reader.h"

struct trace_scan;

struct trace_reader {
    uint8_t *data;
    size_t size;
    bool mapped;
    /* The index (reader_scan.c): room for cap records, filled by the walk
     * that validates them; n of them are the consumer's to read. */
    uint64_t *off;                /* frame offset of each record */
    uint32_t *kind;               /* type | first payload byte << 16 */
    size_t n, cap;
    uint64_t *chain_rec;          /* CHAIN record index by id, if ids run
                                     0, 1, 2, ... (chain_seq); the
                                     validator's until it is joined */
    size_t nchain;
    bool chain_seq;
    bool have_hdr;
    struct trace_header hdr;
    struct trace_opt *opts;
    char *strs;                   /* the header's strings, NUL-terminated */
    struct trace_status_info st;  /* final once the scan is done */
    struct trace_scan *scan;      /* lazy: the validator, until it ends */
};

/* Decode one frame whose length and CRC were checked: 0, or -EBADMSG if
 * the payload does not match its type. */
int trace_frame_decode(const uint8_t *frame, struct trace_rec *rec);

/* Copy record 0's HEADER into r->hdr: 0, -EBADMSG, -ENOMEM. */
int trace_reader_header_copy(struct trace_reader *r, const uint8_t *frame);

/* Check the preamble and the HEADER, then every record (@lazy false) or
 * start the validator thread (@lazy true). 0, or -errno with @err. */
int trace_reader_scan(struct trace_reader *r, bool lazy, char *err,
                      size_t errlen);

/* Stop and join the validator, if any (trace_reader_free). */
void trace_reader_scan_cancel(struct trace_reader *r);
/* Release the index (trace_reader_free). */
void trace_reader_index_free(struct trace_reader *r);

#endif
