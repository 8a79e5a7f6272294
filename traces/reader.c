/* SPDX-License-Identifier: MIT */
/*
 * The trace reader: decoding records and looking them up. Validation and
 * the index of the valid prefix are reader_scan.c's; records are decoded
 * again on demand (decoding is cheap and the index stays at 8 bytes per
 * record).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "traces/reader-internal.h"

/* ---- payload decoding ---- */

struct cur {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *c_take(struct cur *c, size_t n)
{
    const uint8_t *p = c->p;

    if (c->bad || n > c->left) {
        c->bad = true;
        return NULL;
    }
    c->p += n;
    c->left -= n;
    return p;
}

static uint8_t c_u8(struct cur *c)
{
    const uint8_t *p = c_take(c, 1);

    return p ? p[0] : 0;
}

static uint16_t c_u16(struct cur *c)
{
    const uint8_t *p = c_take(c, 2);

    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static uint32_t c_u32(struct cur *c)
{
    const uint8_t *p = c_take(c, 4);

    return p ? trace_le32(p) : 0;
}

static uint64_t c_u64(struct cur *c)
{
    const uint8_t *p = c_take(c, 8);

    return p ? trace_le64(p) : 0;
}

/* A str: u16 length and bytes. */
static const uint8_t *c_str(struct cur *c, uint16_t *len)
{
    *len = c_u16(c);
    return c_take(c, *len);
}

static void dec_msg(struct cur *c, struct trace_rec *r)
{
    r->u.msg.dir = c_u8(c);
    r->u.msg.request = c_u32(c);
    r->u.msg.flags = c_u32(c);
    r->u.msg.size = c_u32(c);
    r->u.msg.nfds = c_u8(c);
    r->u.msg.plen = c_u32(c);
    r->u.msg.data = c_take(c, r->u.msg.plen);
    if (r->u.msg.dir > TRACE_MSG_FE_REPLY) {
        c->bad = true;
    }
}

static void dec_chain(struct cur *c, struct trace_rec *r)
{
    uint64_t nseg;

    r->u.chain.id = c_u64(c);
    r->u.chain.queue = c_u16(c);
    r->u.chain.head = c_u16(c);
    r->u.chain.flags = c_u8(c);
    r->u.chain.ndesc = c_u32(c);
    r->u.chain.nrd = c_u32(c);
    r->u.chain.nwr = c_u32(c);
    r->u.chain.rd_len = c_u32(c);
    r->u.chain.wr_len = c_u32(c);
    nseg = (uint64_t)r->u.chain.nrd + r->u.chain.nwr;
    r->u.chain.seg_len = nseg > c->left / 4 ? c_take(c, SIZE_MAX)
                                            : c_take(c, (size_t)nseg * 4);
    r->u.chain.rd = c_take(c, r->u.chain.rd_len);
}

static void dec_done(struct cur *c, struct trace_rec *r)
{
    const uint8_t *h;

    r->u.done.id = c_u64(c);
    r->u.done.queue = c_u16(c);
    r->u.done.head = c_u16(c);
    r->u.done.d.used_len = c_u32(c);
    r->u.done.d.flags = c_u8(c);
    r->u.done.d.status = c_u8(c);
    r->u.done.d.extent = c_u32(c);
    h = c_take(c, TRACE_DIGEST_SIZE);
    if (h) {
        memcpy(r->u.done.d.digest, h, TRACE_DIGEST_SIZE);
    }
}

static void dec_config(struct cur *c, struct trace_rec *r)
{
    r->u.config.set = c_u8(c);
    r->u.config.off = c_u32(c);
    r->u.config.len = c_u32(c);
    r->u.config.rc = (int32_t)c_u32(c);
    r->u.config.dlen = c_u32(c);
    r->u.config.data = c_take(c, r->u.config.dlen);
}

static void dec_cal(struct cur *c, struct trace_rec *r)
{
    r->u.cal.kind = c_u8(c);
    r->u.cal.at = c_u64(c);
    r->u.cal.prio = (int32_t)c_u32(c);
    r->u.cal.seq = c_u64(c);
    if (r->u.cal.kind > TRACE_CAL_CANCEL) {
        c->bad = true;
    }
}

static void dec_fault(struct cur *c, struct trace_rec *r)
{
    r->u.fault.id = c_u64(c);
    r->u.fault.queue = c_u16(c);
    r->u.fault.rule = c_u32(c);
    r->u.fault.firing = c_u64(c);
    r->u.fault.action = c_str(c, &r->u.fault.action_len);
    r->u.fault.state = c_str(c, &r->u.fault.state_len);
    r->u.fault.text = c_str(c, &r->u.fault.text_len);
}

static void dec_tt(struct cur *c, struct trace_rec *r)
{
    r->u.tt.id = c_u64(c);
    r->u.tt.dir = c_u8(c);
    r->u.tt.op = c_u32(c);
    r->u.tt.seq = c_u32(c);
    r->u.tt.time = c_u64(c);
    r->u.tt.reply = c_u64(c);
    if (r->u.tt.dir > SIM_TT_TO_GUEST) {
        c->bad = true;
    }
}

int trace_frame_decode(const uint8_t *frame, struct trace_rec *r)
{
    struct cur c = { frame + TRACE_REC_HDR_SIZE, trace_le32(frame + 4),
                     false };

    r->type = (uint16_t)(frame[0] | frame[1] << 8);
    r->len = (uint32_t)c.left;
    r->time = trace_le64(frame + 8);
    r->payload = c.p;
    memset(&r->u, 0, sizeof(r->u));
    switch (r->type) {
    case TRACE_HEADER:
        return 0;                 /* validated once, at open (header copy) */
    case TRACE_END:
        r->u.end.records = c_u64(&c);
        r->u.end.chains = c_u64(&c);
        r->u.end.completions = c_u64(&c);
        break;
    case TRACE_TRAILER:
        r->u.trailer.wall_ns = c_u64(&c);
        r->u.trailer.flushes = c_u64(&c);
        r->u.trailer.bytes = c_u64(&c);
        break;
    case TRACE_CONN:
        r->u.conn.up = c_u8(&c);
        break;
    case TRACE_MSG:
        dec_msg(&c, r);
        break;
    case TRACE_NEG:
        r->u.neg.what = c_u8(&c);
        r->u.neg.value = c_u64(&c);
        break;
    case TRACE_MODE:
        r->u.mode.queue = c_u16(&c);
        r->u.mode.kick = c_u8(&c);
        r->u.mode.call = c_u8(&c);
        break;
    case TRACE_KICK:
    case TRACE_CALL:
    case TRACE_QUEUE:
        r->u.q.queue = c_u16(&c);
        r->u.q.v = c_u8(&c);
        break;
    case TRACE_AVAIL:
        r->u.q.queue = c_u16(&c);
        break;
    case TRACE_RESET:
        break;
    case TRACE_CHAIN:
        dec_chain(&c, r);
        break;
    case TRACE_COMPLETE:
        dec_done(&c, r);
        break;
    case TRACE_CANCEL:
        r->u.cancel.id = c_u64(&c);
        r->u.cancel.queue = c_u16(&c);
        break;
    case TRACE_CONFIG:
        dec_config(&c, r);
        break;
    case TRACE_CAL:
        dec_cal(&c, r);
        break;
    case TRACE_TT:
        dec_tt(&c, r);
        break;
    case TRACE_FAULT:
        dec_fault(&c, r);
        break;
    case TRACE_CONTROL:
        r->u.control.op = c_u8(&c);
        r->u.control.arg = c_u64(&c);
        r->u.control.status = (int32_t)c_u32(&c);
        r->u.control.text = c_str(&c, &r->u.control.text_len);
        break;
    default:
        return 0;                 /* a later minor version's: skipped */
    }
    return c.bad || c.left ? -EBADMSG : 0;
}

/* ---- the header ---- */

/* A str of the header: counted in *bytes; copied to *arena when there is
 * one (the second pass). */
static const char *hdr_str(struct cur *c, char **arena, size_t *bytes)
{
    uint16_t n;
    const uint8_t *p = c_str(c, &n);
    char *s;

    *bytes += n + 1u;
    if (!*arena || !p) {
        return NULL;
    }
    s = *arena;
    memcpy(s, p, n);
    s[n] = '\0';
    *arena += n + 1u;
    return s;
}

/* Pass 1 (@opts NULL, *arena NULL) checks the layout and counts the string
 * bytes; pass 2 fills @h and @opts, copying the strings. Version 1 has no
 * digest field: its completions are SHA-256. */
static void hdr_walk(struct cur *c, uint16_t major, struct trace_header *h,
                     struct trace_opt *opts, char **arena, size_t *bytes)
{
    const uint8_t *p;

    h->device = hdr_str(c, arena, bytes);
    h->virtio_id = c_u32(c);
    h->num_queues = c_u16(c);
    h->features = c_u64(c);
    h->protocol_features = c_u64(c);
    h->clock = hdr_str(c, arena, bytes);
    h->inband = hdr_str(c, arena, bytes);
    h->seed = c_u64(c);
    h->conn_id = c_u32(c);
    h->nopts = c_u16(c);
    for (size_t i = 0; i < h->nopts && !c->bad; i++) {
        const char *name = hdr_str(c, arena, bytes);
        uint8_t has = c_u8(c);
        const char *val = hdr_str(c, arena, bytes);

        if (opts) {
            opts[i].name = name;
            opts[i].value = has ? val : NULL;
        }
    }
    h->image = (enum trace_image)c_u8(c);
    h->image_opt = hdr_str(c, arena, bytes);
    h->image_size = c_u64(c);
    p = c_take(c, TRACE_SHA256_SIZE);
    if (p) {
        memcpy(h->image_sha256, p, TRACE_SHA256_SIZE);
    }
    h->digest = major < 2 ? TRACE_DIGEST_SHA256 : (enum trace_digest)c_u8(c);
    if (!trace_digest_name(h->digest)) {
        c->bad = true;
    }
}

int trace_reader_header_copy(struct trace_reader *r, const uint8_t *frame)
{
    struct cur c = { frame + TRACE_REC_HDR_SIZE, trace_le32(frame + 4),
                     false };
    struct cur c2 = c;
    struct trace_header tmp = { 0 };
    char *arena = NULL;
    size_t bytes = 0;

    hdr_walk(&c, r->st.major, &tmp, NULL, &arena, &bytes);
    if (c.bad || c.left) {
        return -EBADMSG;
    }
    r->strs = malloc(bytes);
    r->opts = calloc(tmp.nopts ? tmp.nopts : 1, sizeof(*r->opts));
    if (!r->strs || !r->opts) {
        return -ENOMEM;
    }
    arena = r->strs;
    bytes = 0;
    hdr_walk(&c2, r->st.major, &r->hdr, r->opts, &arena, &bytes);
    r->hdr.opts = r->opts;
    r->have_hdr = true;
    return 0;
}

/* ---- public ---- */

static int reader_finish(struct trace_reader *r, bool lazy,
                         struct trace_reader **out, char *err, size_t errlen)
{
    char spare[1];
    int rc;

    if (!err || !errlen) {
        err = spare;
        errlen = sizeof(spare);
    }
    rc = trace_reader_scan(r, lazy, err, errlen);
    if (rc < 0) {
        trace_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int reader_open(const char *path, bool lazy, struct trace_reader **out,
                       char *err, size_t errlen)
{
    struct trace_reader *r = calloc(1, sizeof(*r));
    struct stat st;
    int fd, rc;

    if (!r) {
        return -ENOMEM;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    r->size = (size_t)st.st_size;
    if (r->size > 0) {
        /* Faulted in ahead of the scan (populate_to). */
        r->data = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (r->data == MAP_FAILED) {
            r->data = NULL;
            rc = -errno;
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        r->mapped = true;
    }
    close(fd);
    return reader_finish(r, lazy, out, err, errlen);
fail:
    if (fd >= 0) {
        close(fd);
    }
    free(r);
    return rc;
}

int trace_reader_open(const char *path, struct trace_reader **out,
                      char *err, size_t errlen)
{
    return reader_open(path, false, out, err, errlen);
}

int trace_reader_open_lazy(const char *path, struct trace_reader **out,
                           char *err, size_t errlen)
{
    return reader_open(path, true, out, err, errlen);
}

int trace_reader_open_mem(const void *buf, size_t len,
                          struct trace_reader **out, char *err,
                          size_t errlen)
{
    struct trace_reader *r = calloc(1, sizeof(*r));

    if (!r || (len && !(r->data = malloc(len)))) {
        free(r);
        return -ENOMEM;
    }
    if (len) {
        memcpy(r->data, buf, len);
    }
    r->size = len;
    return reader_finish(r, false, out, err, errlen);
}

void trace_reader_free(struct trace_reader *r)
{
    if (!r) {
        return;
    }
    trace_reader_scan_cancel(r);
    if (r->mapped) {
        munmap(r->data, r->size);
    } else {
        free(r->data);
    }
    trace_reader_index_free(r);
    free(r->opts);
    free(r->strs);
    free(r);
}

size_t trace_reader_count(const struct trace_reader *r)
{
    return r->n;
}

int trace_reader_get(const struct trace_reader *r, size_t i,
                     struct trace_rec *rec)
{
    if (i >= r->n) {
        return -ERANGE;
    }
    rec->index = i;
    rec->offset = r->off[i];
    return trace_frame_decode(r->data + r->off[i], rec);
}

uint16_t trace_reader_type(const struct trace_reader *r, size_t i,
                           uint8_t *sub)
{
    *sub = (uint8_t)(r->kind[i] >> 16);
    return (uint16_t)r->kind[i];
}

const struct trace_header *trace_reader_header(const struct trace_reader *r)
{
    return r->have_hdr ? &r->hdr : NULL;
}

void trace_reader_status(const struct trace_reader *r,
                         struct trace_status_info *st)
{
    *st = r->st;
}

const char *trace_status_name(enum trace_status s)
{
    switch (s) {
    case TRACE_ST_COMPLETE:
        return "complete";
    case TRACE_ST_NO_END:
        return "valid, no END (cut at a record boundary)";
    case TRACE_ST_TORN:
        return "torn";
    default:
        return "corrupt";
    }
}

long trace_reader_chain(const struct trace_reader *r, uint64_t id)
{
    struct trace_rec rec;

    if (!r->scan && r->chain_seq) {
        return id < r->nchain ? (long)r->chain_rec[id] : -1;
    }
    /* The validator may still be filling chain_rec: look among the
     * records it has published. */
    for (size_t i = 0; i < r->n; i++) {
        if ((uint16_t)r->kind[i] == TRACE_CHAIN &&
            trace_reader_get(r, i, &rec) == 0 && rec.u.chain.id == id) {
            return (long)i;
        }
    }
    return -1;
}

const uint8_t *trace_reader_frame(const struct trace_reader *r, size_t i,
                                  size_t *len)
{
    const uint8_t *f;

    if (i >= r->n) {
        return NULL;
    }
    f = r->data + r->off[i];
    *len = TRACE_REC_HDR_SIZE + trace_le32(f + 4) + TRACE_REC_CRC_SIZE;
    return f;
}

bool trace_rec_is_device(const struct trace_rec *rec)
{
    switch (rec->type) {
    case TRACE_AVAIL:
    case TRACE_CHAIN:
    case TRACE_COMPLETE:
    case TRACE_CANCEL:
    case TRACE_QUEUE:
    case TRACE_RESET:
    case TRACE_CONFIG:
    case TRACE_CAL:
    case TRACE_FAULT:
    case TRACE_CONTROL:
        return true;
    case TRACE_NEG:
        return rec->u.neg.what == TRACE_NEG_FEATURES;
    default:
        return false;
    }
}

const char *trace_type_name(uint16_t type)
{
    switch (type) {
    case TRACE_HEADER: return "HEADER";
    case TRACE_END: return "END";
    case TRACE_TRAILER: return "TRAILER";
    case TRACE_CONN: return "CONN";
    case TRACE_MSG: return "MSG";
    case TRACE_NEG: return "NEG";
    case TRACE_MODE: return "MODE";
    case TRACE_KICK: return "KICK";
    case TRACE_AVAIL: return "AVAIL";
    case TRACE_CHAIN: return "CHAIN";
    case TRACE_COMPLETE: return "COMPLETE";
    case TRACE_CANCEL: return "CANCEL";
    case TRACE_CALL: return "CALL";
    case TRACE_QUEUE: return "QUEUE";
    case TRACE_RESET: return "RESET";
    case TRACE_CONFIG: return "CONFIG";
    case TRACE_CAL: return "CAL";
    case TRACE_TT: return "TT";
    case TRACE_FAULT: return "FAULT";
    case TRACE_CONTROL: return "CONTROL";
    default: return "UNKNOWN";
    }
}
