/* SPDX-License-Identifier: MIT */
/*
 * traces/trace.h - deterministic traces: the format's constants and the
 * writer
 *
 * A trace records what crosses vusim's boundary during one run: vhost-user
 * messages, the chains the device takes (their readable bytes in full),
 * its completions (a digest of what it wrote), the device hooks the host
 * called and the device's calendar events. traces/FORMAT.md is the spec;
 * traces/reader.h reads it back, traces/replay.h re-runs the device from it.
 *
 * The writer appends framed records (type, length, simulated time, payload,
 * CRC-32C) to a memory buffer and hands them to the file on
 * trace_writer_flush(), when the buffer passes cfg.flush_bytes, and at
 * close: a copy into a shared mapping of reserved space for a regular file
 * (cut to size at close), write(2) otherwise (writer.c). The back-end
 * flushes before it signals each call, so everything up to that completion
 * is in the kernel before the guest can see it: a process killed with
 * SIGKILL leaves a valid prefix (and the reserved zeros after it).
 *
 * Owns:        the file, the buffer, per-queue notification modes.
 * Borrows:     the calendar (time source, observed for CAL records) from
 *              trace_writer_set_cal() until close.
 * Threading:   single thread (the loop's).
 * Errors:      open: -errno from the file, -EINVAL bad header, -ENOMEM.
 *              Record calls return the write's -errno once one failed
 *              (-ENOSPC when no more space can be reserved), -ENOMEM: the
 *              error is sticky, logged once, and later records are dropped
 *              so the file stays a valid prefix.
 * Determinism: the bytes depend only on the calls made and simulated time;
 *              no wall clock (except the optional TRAILER), no fd numbers,
 *              no addresses, all padding explicit.
 */
#ifndef VUSIM_TRACES_TRACE_H
#define VUSIM_TRACES_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/cal.h"
#include "sim/tt.h"

#define TRACE_MAGIC          "VUSIMTRC"
#define TRACE_VERSION_MAJOR  2
#define TRACE_VERSION_MINOR  3
#define TRACE_PREAMBLE_SIZE  16u
#define TRACE_REC_HDR_SIZE   16u
#define TRACE_REC_CRC_SIZE   4u
#define TRACE_REC_MAX        (256u << 20)   /* largest payload accepted */
#define TRACE_SHA256_SIZE    32u
#define TRACE_DIGEST_SIZE    32u    /* a COMPLETE's digest field */

/*
 * How completions digest what the device wrote (FORMAT.md, HEADER).
 * XXH3-128 is the default: 128 bits make an accidental match of two
 * different outputs vanishingly unlikely (2^-128 per completion), which is
 * what a divergence check needs, at ~12 times SHA-256's speed (with the
 * SHA extensions) on this hardware; replay must recompute it for every
 * byte the device wrote. SHA-256 is there for users who want a
 * cryptographic digest, for example to attest a recording.
 */
enum trace_digest {
    TRACE_DIGEST_SHA256 = 1,    /* FIPS 180-4; version 1 traces' only one */
    TRACE_DIGEST_XXH128 = 2,    /* XXH3-128, canonical (big-endian) form */
};
#define TRACE_DIGEST_DEFAULT TRACE_DIGEST_XXH128

/* "sha256", "xxh128"; NULL for an unknown value. */
const char *trace_digest_name(enum trace_digest d);
/* The inverse: 0, or -EINVAL for anything else. */
int trace_digest_parse(const char *s, enum trace_digest *d);

/* Record types (FORMAT.md, "Record types"). */
enum trace_type {
    TRACE_HEADER = 1,
    TRACE_END = 2,
    TRACE_TRAILER = 3,
    TRACE_CONN = 16,
    TRACE_MSG = 17,
    TRACE_NEG = 18,
    TRACE_MODE = 19,
    TRACE_KICK = 32,
    TRACE_AVAIL = 33,
    TRACE_CHAIN = 34,
    TRACE_COMPLETE = 35,
    TRACE_CANCEL = 36,
    TRACE_CALL = 37,
    TRACE_QUEUE = 48,
    TRACE_RESET = 49,
    TRACE_CONFIG = 50,
    TRACE_CAL = 64,
    TRACE_TT = 65,
    TRACE_FAULT = 66,
    TRACE_CONTROL = 67,
};

enum trace_msg_dir {
    TRACE_MSG_FE_REQ = 0,     /* front-end request, main socket */
    TRACE_MSG_BE_REPLY = 1,   /* back-end reply, main socket */
    TRACE_MSG_BE_REQ = 2,     /* back-end request, back-end channel */
    TRACE_MSG_FE_REPLY = 3,   /* front-end reply, back-end channel */
};

enum trace_neg { TRACE_NEG_FEATURES = 0, TRACE_NEG_PROTOCOL = 1 };

/* Notification paths; CALL uses NONE for "no path, suppressed". */
enum trace_notify { TRACE_NOTIFY_NONE = 0, TRACE_NOTIFY_EVENTFD = 1,
                    TRACE_NOTIFY_INBAND = 2 };

enum trace_image { TRACE_IMAGE_NONE = 0, TRACE_IMAGE_RAM = 1,
                   TRACE_IMAGE_FILE = 2 };

/* CAL record kinds, as sim_cal's observer reports them. */
enum trace_cal_kind { TRACE_CAL_SCHED = 0, TRACE_CAL_FIRE = 1,
                      TRACE_CAL_CANCEL = 2 };

/* COMPLETE flags */
#define TRACE_DONE_STATUS 0x1u  /* the last writable byte was written */
/* CHAIN flags */
#define TRACE_CHAIN_INDIRECT  0x1u
#define TRACE_CHAIN_UNREADABLE 0x2u   /* readable bytes could not be read */

struct trace_opt {
    const char *name;
    const char *value;        /* NULL for a flag */
};

/* What record 0 holds. Strings are at most 65535 bytes. */
struct trace_header {
    const char *device;       /* "blk" */
    uint32_t virtio_id;
    uint16_t num_queues;
    uint64_t features, protocol_features;   /* offered by the back-end */
    const char *clock;        /* "afap", "realtime:2", "external" */
    const char *inband;       /* "auto", "on", "off" */
    uint64_t seed;
    uint32_t conn_id;
    const struct trace_opt *opts;           /* device options as given */
    size_t nopts;
    enum trace_image image;   /* the disk at start, for disk devices */
    const char *image_opt;    /* the option naming the image (the
                                 device's ops->image_opt) */
    uint64_t image_size;      /* bytes */
    uint8_t image_sha256[TRACE_SHA256_SIZE];    /* FILE only, else zero */
    enum trace_digest digest; /* completions' digest; 0 means the default */
};

/* SHA-256 and size of a file or block device's whole content. */
int trace_image_hash(const char *path, uint64_t *size,
                     uint8_t sha256[TRACE_SHA256_SIZE]);

/*
 * Bytes a device wrote into one request's writable part, as it left them:
 * the extent [0, end) of its furthest write, gaps zero. Completions hash
 * this, so writes in any order or chunking give the same digest.
 */
struct trace_wbuf {
    uint8_t *buf;
    uint32_t cap, end;
};

void trace_wbuf_clear(struct trace_wbuf *wb);   /* end = 0; keeps memory */
void trace_wbuf_fini(struct trace_wbuf *wb);
/* -ENOMEM, or -ERANGE if off + len passes 4 GiB. */
int trace_wbuf_write(struct trace_wbuf *wb, uint64_t off, const void *p,
                     size_t len);

/* A completion's checked fields, computed the same way live and replayed. */
struct trace_done {
    uint32_t used_len;        /* as the device passed it */
    uint8_t flags;            /* TRACE_DONE_STATUS */
    uint8_t status;           /* the last writable byte, if flagged */
    uint32_t extent;          /* end of the furthest write */
    uint8_t digest[TRACE_DIGEST_SIZE];  /* @alg's digest, zero padded */
};

void trace_done_compute(enum trace_digest alg, const struct trace_wbuf *wb,
                        uint32_t wr_len, uint32_t used_len,
                        struct trace_done *d);
/* The same in two steps, so replay can check the digest on another thread:
 * every field but the digest (left zero), then the digest of @wb. */
void trace_done_fields(const struct trace_wbuf *wb, uint32_t wr_len,
                       uint32_t used_len, struct trace_done *d);
void trace_done_digest(enum trace_digest alg, const struct trace_wbuf *wb,
                       struct trace_done *d);

/* ---- the writer ---- */

struct trace_writer;

struct trace_writer_cfg {
    size_t flush_bytes;       /* write(2) once this much is buffered;
                                 0 = 64 KiB */
    bool wallclock;           /* add a TRAILER with wall-clock facts */
};

int trace_writer_open(const char *path, const struct trace_header *h,
                      const struct trace_writer_cfg *cfg,
                      struct trace_writer **out);

/* The digest its completions must use (the HEADER's). */
enum trace_digest trace_writer_digest(const struct trace_writer *w);

/* Write END (and TRAILER), flush, close and free. Returns the first error
 * seen over the writer's life, or 0. NULL is fine. */
int trace_writer_close(struct trace_writer *w);

/* Take simulated time from @cal and record its events (its observer);
 * NULL detaches. */
void trace_writer_set_cal(struct trace_writer *w, struct sim_cal *cal);

int trace_writer_flush(struct trace_writer *w);

/* Around every call into the device model (its hooks): calendar events
 * scheduled meanwhile, and by the device's own events, are the device's
 * and recorded; others on the same calendar are not (FORMAT.md, CAL). */
void trace_writer_dev_enter(struct trace_writer *w);
void trace_writer_dev_leave(struct trace_writer *w);

int trace_write_conn(struct trace_writer *w, bool up);
int trace_write_msg(struct trace_writer *w, enum trace_msg_dir dir,
                    uint32_t request, uint32_t flags, uint32_t size,
                    const void *payload, uint32_t plen, unsigned nfds);
int trace_write_neg(struct trace_writer *w, enum trace_neg what,
                    uint64_t value);
int trace_write_kick(struct trace_writer *w, uint16_t queue,
                     enum trace_notify mode);
int trace_write_avail(struct trace_writer *w, uint16_t queue);
int trace_write_call(struct trace_writer *w, uint16_t queue,
                     enum trace_notify mode);
int trace_write_queue(struct trace_writer *w, uint16_t queue, bool started);
int trace_write_reset(struct trace_writer *w);

/* A fault rule fired on request @id (its CHAIN's id) on @queue: the rule's
 * set-unique id, its firing count, the action, the state after, the rule's
 * text. Written before the device acts on the request (FORMAT.md). */
struct trace_fault {
    uint64_t id;
    uint16_t queue;
    uint32_t rule;
    uint64_t firing;
    const char *action, *state, *text;
};
int trace_write_fault(struct trace_writer *w, const struct trace_fault *f);

/* A change made to the running device from outside (the control socket,
 * devices/dev.h struct dev_ctl): replay applies it at its time. */
struct trace_control {
    uint8_t op;               /* enum dev_ctl_op */
    uint64_t arg;
    int32_t status;
    const char *text;         /* NULL: empty */
};
int trace_write_control(struct trace_writer *w, const struct trace_control *c);

/*
 * Record one time-travel exchange (sim/tt.h) as a TT record (FORMAT.md).
 * The program's sim_tt observer reaches it through trace_record_tt()
 * (traces/record.h), typed so that no recorder passes for a writer.
 * The records are context, never replayed, and let `trace diff` find
 * where a guest first behaved differently.
 */
void trace_tt_observe(struct trace_writer *w, uint64_t id,
                      enum sim_tt_dir dir, const struct sim_tt_msg *m,
                      uint64_t reply);
int trace_write_config(struct trace_writer *w, bool set, uint32_t off,
                       uint32_t len, int32_t rc, const void *data,
                       uint32_t dlen);
int trace_write_cancel(struct trace_writer *w, uint64_t id, uint16_t queue);
int trace_write_complete(struct trace_writer *w, uint64_t id,
                         uint16_t queue, uint16_t head,
                         const struct trace_done *d);

/* A CHAIN record is built in steps: begin (fixed fields; *id gets the
 * request's id), one seg() per segment (readable first), then data()
 * returns where to put the rd_len readable bytes, then end(). */
struct trace_chain {
    uint16_t queue, head;
    uint8_t flags;            /* TRACE_CHAIN_* */
    uint32_t ndesc, nrd, nwr, rd_len, wr_len;
};

int trace_write_chain_begin(struct trace_writer *w,
                            const struct trace_chain *c, uint64_t *id);
void trace_write_chain_seg(struct trace_writer *w, uint32_t len);
uint8_t *trace_write_chain_data(struct trace_writer *w);
int trace_write_chain_end(struct trace_writer *w, uint8_t extra_flags);

/* CRC-32C (Castagnoli; iSCSI, ext4): FORMAT.md, "Conventions". */
uint32_t trace_crc32c(const void *p, size_t len);

#endif
