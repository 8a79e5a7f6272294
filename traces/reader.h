/* SPDX-License-Identifier: MIT */
/*
 * traces/reader.h - reading a trace: framing, validation, the valid prefix
 *
 * trace_reader_open() maps a trace and walks it once: the preamble, then
 * each record's frame (length in bounds, CRC), its payload layout for the
 * known types, and the stream rules (record 0 is HEADER, times never go
 * back, nothing but a TRAILER after END). The records up to the first that
 * fails form the valid prefix; trace_reader_status() says where and why it
 * ends. A torn or corrupted file is not an error to open: its prefix reads.
 *
 * trace_reader_open_lazy() validates on a thread of its own instead.
 *
 * Owns:        the mapping (or a copy of a memory buffer) and the index.
 *              Pointers in a struct trace_rec point into the mapping and
 *              stay valid until trace_reader_free().
 * Threading:   an eager reader is read-only after open; any thread.
 * Errors:      open: -errno from the file, -ENOMEM, -EBADMSG not a trace
 *              (bad magic, or a newer major version), with a line in @err.
 * Determinism: a pure function of the file's bytes.
 */
#ifndef VUSIM_TRACES_READER_H
#define VUSIM_TRACES_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "traces/trace.h"

/* One decoded record. Byte arrays point into the trace. */
struct trace_rec {
    size_t index;
    uint64_t offset;              /* of the record's frame in the file */
    uint16_t type;
    uint32_t len;                 /* payload bytes */
    sim_time_t time;
    const uint8_t *payload;
    union {
        struct { uint64_t records, chains, completions; } end;
        struct { uint64_t wall_ns, flushes, bytes; } trailer;
        struct { uint8_t up; } conn;
        struct {
            uint8_t dir, nfds;
            uint32_t request, flags, size, plen;
            const uint8_t *data;
        } msg;
        struct { uint8_t what; uint64_t value; } neg;
        struct { uint16_t queue; uint8_t kick, call; } mode;
        struct { uint16_t queue; uint8_t v; } q;   /* KICK CALL QUEUE AVAIL */
        struct {
            uint64_t id;
            uint16_t queue, head;
            uint8_t flags;
            uint32_t ndesc, nrd, nwr, rd_len, wr_len;
            const uint8_t *seg_len;           /* nrd + nwr le32 values */
            const uint8_t *rd;
        } chain;
        struct {
            uint64_t id;
            uint16_t queue, head;
            struct trace_done d;
        } done;
        struct { uint64_t id; uint16_t queue; } cancel;
        struct {
            uint8_t set;
            uint32_t off, len, dlen;
            int32_t rc;
            const uint8_t *data;
        } config;
        struct { uint8_t kind; sim_time_t at; int32_t prio; uint64_t seq; } cal;
        struct {                  /* FAULT: strings not NUL-terminated */
            uint64_t id, firing;
            uint16_t queue;
            uint32_t rule;
            const uint8_t *action, *state, *text;
            uint16_t action_len, state_len, text_len;
        } fault;
        struct {                  /* CONTROL: text not NUL-terminated */
            uint8_t op;
            uint64_t arg;
            int32_t status;
            const uint8_t *text;
            uint16_t text_len;
        } control;
        struct {                  /* TT: time in ns, as on the wire */
            uint64_t id;
            uint8_t dir;          /* enum sim_tt_dir */
            uint32_t op, seq;
            uint64_t time, reply;
        } tt;
    } u;
};

enum trace_status {
    TRACE_ST_COMPLETE = 0,    /* every byte is a valid record; END seen */
    TRACE_ST_NO_END,          /* every byte valid, but no END: cut at a
                                 record boundary (killed, or still open) */
    TRACE_ST_TORN,            /* the last record is incomplete */
    TRACE_ST_CORRUPT,         /* a record fails its checks */
};

struct trace_status_info {
    enum trace_status status;
    uint16_t major, minor;        /* the preamble's format version */
    size_t records;               /* in the valid prefix */
    uint64_t valid_bytes;         /* preamble + those records */
    uint64_t file_bytes;
    size_t bad_index;             /* TORN/CORRUPT: the failing record */
    uint64_t bad_offset;
    char why[160];
};

struct trace_reader;

int trace_reader_open(const char *path, struct trace_reader **out,
                      char *err, size_t errlen);
/*
 * The same, but lazy: open validates the preamble and the HEADER and
 * starts a thread that validates the rest; trace_reader_have() waits for
 * it only if the consumer catches up. A consumer that walks the trace once
 * (replay) starts at once and runs while its input is checked on another
 * core; it never sees a record the eager reader would refuse. Until
 * trace_reader_finish(), count and status cover what the consumer has
 * reached. Threading: the reader's calls from one thread at a time (the
 * validator is internal).
 */
int trace_reader_open_lazy(const char *path, struct trace_reader **out,
                           char *err, size_t errlen);
/* Whether record @i is in the valid prefix (validating up to it). */
bool trace_reader_have(struct trace_reader *r, size_t i);
/* Validate the rest; 0 (the index is reserved at open, so nothing here
 * can fail). A no-op for an eager reader. */
int trace_reader_finish(struct trace_reader *r);
/* The same for bytes in memory (copied). */
int trace_reader_open_mem(const void *buf, size_t len,
                          struct trace_reader **out, char *err,
                          size_t errlen);
void trace_reader_free(struct trace_reader *r);

/* Records in the valid prefix. */
size_t trace_reader_count(const struct trace_reader *r);

/* Decode record @i (< count): 0, or -ERANGE. */
int trace_reader_get(const struct trace_reader *r, size_t i,
                     struct trace_rec *rec);

/* Record @i's type (< count) without decoding it, and in *@sub the first
 * payload byte (a CAL's kind, a NEG's what; 0 for an empty payload): what
 * a walk needs to skip records it does not act on. */
uint16_t trace_reader_type(const struct trace_reader *r, size_t i,
                           uint8_t *sub);

/* The HEADER's fields; NULL if the prefix is empty. Strings are
 * NUL-terminated copies owned by the reader. */
const struct trace_header *trace_reader_header(const struct trace_reader *r);

void trace_reader_status(const struct trace_reader *r,
                         struct trace_status_info *st);
const char *trace_status_name(enum trace_status s);

/* Record types: names, and which are the device's. */
const char *trace_type_name(uint16_t type);

/* What the device saw and did: the records replay applies or checks
 * (AVAIL, CHAIN, COMPLETE, CANCEL, QUEUE, RESET, CONFIG, CAL, and the
 * negotiated features); the rest is the transport's context. */
bool trace_rec_is_device(const struct trace_rec *rec);

/* The record index of the CHAIN with request @id, or -1. */
long trace_reader_chain(const struct trace_reader *r, uint64_t id);

/* Bytes of the frame of record @i (header, payload, CRC), for diff. */
const uint8_t *trace_reader_frame(const struct trace_reader *r, size_t i,
                                  size_t *len);

/* ---- describing records (describe.c) ---- */

/* One line for @rec without index and time, e.g. "CHAIN q0 req=3 ... blk
 * IN sector=8 len=4096". Returns @buf. */
char *trace_rec_describe(const struct trace_reader *r,
                         const struct trace_rec *rec, char *buf,
                         size_t len);

/* The device that describes the recorded one: its own ops, or those of
 * this build's device of the same virtio type (dev_lookup_like()); NULL
 * when the build has neither. */
struct dev_ops;
const struct dev_ops *trace_dev_ops(const struct trace_reader *r);

/* The request of a chain as the describing device decodes it
 * (trace_dev_ops()->decode, e.g. "blk IN sector=8 len=4096"); "" if there
 * is none or it has nothing to say. Returns @buf. */
char *trace_req_describe(const struct trace_reader *r, uint64_t id,
                         char *buf, size_t len);

/* Little-endian helpers for byte arrays in records. */
static inline uint32_t trace_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t trace_le64(const uint8_t *p)
{
    return (uint64_t)trace_le32(p) | (uint64_t)trace_le32(p + 4) << 32;
}

#endif
