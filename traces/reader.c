/* SPDX-License-Identifier: MIT */
/*
 * The trace reader: one pass over the mapped file builds the index of the
 * valid prefix; records are decoded again on demand (decoding is cheap and
 * the index stays at 8 bytes per record).
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

#include "traces/reader.h"

struct trace_reader {
    uint8_t *data;
    size_t size;
    bool mapped;
    uint64_t *off;                /* frame offset of each valid record */
    size_t n, cap;
    uint64_t *chain_rec;          /* CHAIN record index by id, if ids run
                                     0, 1, 2, ... (chain_seq) */
    size_t nchain, chain_cap;
    bool chain_seq;
    bool have_hdr;
    struct trace_header hdr;
    struct trace_opt *opts;
    char *strs;                   /* the header's strings, NUL-terminated */
    struct trace_status_info st;
    /* Where the scan is: it validates records as they are asked for when
     * the reader is lazy, all of them at open otherwise. */
    uint64_t scan_off;
    sim_time_t scan_prev;
    uint16_t scan_prev_type;
    bool scan_done;
    int scan_err;                 /* -ENOMEM: the index could not grow */
    uint64_t populated;           /* lazy mapping: bytes faulted in */
};

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

static int decode(const uint8_t *frame, struct trace_rec *r)
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
        return 0;                 /* validated once, in header_copy() */
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

static int header_copy(struct trace_reader *r, const uint8_t *frame)
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

/* ---- the scan ---- */

static int idx_push(struct trace_reader *r, uint64_t off)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        uint64_t *n = realloc(r->off, cap * sizeof(*n));

        if (!n) {
            return -ENOMEM;
        }
        r->off = n;
        r->cap = cap;
    }
    r->off[r->n++] = off;
    return 0;
}

/* Remember where each request's CHAIN is, for describing completions. */
static int chain_note(struct trace_reader *r, uint64_t id, size_t index)
{
    if (!r->chain_seq || id != r->nchain) {
        r->chain_seq = false;
        return 0;
    }
    if (r->nchain == r->chain_cap) {
        size_t cap = r->chain_cap ? r->chain_cap * 2 : 256;
        uint64_t *n = realloc(r->chain_rec, cap * sizeof(*n));

        if (!n) {
            return -ENOMEM;
        }
        r->chain_rec = n;
        r->chain_cap = cap;
    }
    r->chain_rec[r->nchain++] = index;
    return 0;
}

static void scan_stop(struct trace_reader *r, enum trace_status s,
                      uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void scan_stop(struct trace_reader *r, enum trace_status s,
                      uint64_t off, const char *fmt, ...)
{
    va_list ap;

    r->st.status = s;
    r->st.bad_index = r->n;
    r->st.bad_offset = off;
    va_start(ap, fmt);
    vsnprintf(r->st.why, sizeof(r->st.why), fmt, ap);
    va_end(ap);
}

/* The stream rules a record must keep, given the ones before it. */
static const char *stream_rule(const struct trace_reader *r,
                               const struct trace_rec *rec,
                               sim_time_t prev, uint16_t prev_type)
{
    if ((r->n == 0) != (rec->type == TRACE_HEADER)) {
        return r->n == 0 ? "record 0 is not a HEADER"
                         : "a second HEADER";
    }
    if (r->n > 0 && rec->time < prev) {
        return "simulated time goes backwards";
    }
    if (r->n > 0 && prev_type == TRACE_TRAILER) {
        return "a record after the TRAILER";
    }
    if (r->n > 0 && prev_type == TRACE_END && rec->type != TRACE_TRAILER) {
        return "a record after END other than a TRAILER";
    }
    return NULL;
}

/* Check one record at @off; 0 accepted, 1 the prefix ends, < 0 error. */
static int scan_one(struct trace_reader *r, uint64_t off, sim_time_t *prev,
                    uint16_t *prev_type, uint64_t *next)
{
    const uint8_t *f = r->data + off;
    uint64_t left = r->size - off, need;
    struct trace_rec rec;
    const char *why;
    uint32_t len;

    if (left < TRACE_REC_HDR_SIZE) {
        scan_stop(r, TRACE_ST_TORN, off, "incomplete record header (%llu "
                  "of %u bytes)", (unsigned long long)left,
                  TRACE_REC_HDR_SIZE);
        return 1;
    }
    len = trace_le32(f + 4);
    if (len > TRACE_REC_MAX) {
        scan_stop(r, TRACE_ST_CORRUPT, off, "payload length %u is beyond "
                  "the limit", len);
        return 1;
    }
    need = (uint64_t)TRACE_REC_HDR_SIZE + len + TRACE_REC_CRC_SIZE;
    if (left < need) {
        scan_stop(r, TRACE_ST_TORN, off, "incomplete record (%llu of %llu "
                  "bytes)", (unsigned long long)left,
                  (unsigned long long)need);
        return 1;
    }
    if (trace_crc32c(f, need - 4) != trace_le32(f + need - 4)) {
        scan_stop(r, TRACE_ST_CORRUPT, off, "checksum mismatch");
        return 1;
    }
    if (decode(f, &rec) < 0 ||
        (rec.type == TRACE_HEADER && r->n == 0 && header_copy(r, f) < 0)) {
        scan_stop(r, TRACE_ST_CORRUPT, off, "payload does not match its "
                  "type (%s)", trace_type_name(rec.type));
        return 1;
    }
    why = stream_rule(r, &rec, *prev, *prev_type);
    if (why) {
        scan_stop(r, TRACE_ST_CORRUPT, off, "%s", why);
        return 1;
    }
    if ((rec.type == TRACE_CHAIN && chain_note(r, rec.u.chain.id, r->n)) ||
        idx_push(r, off)) {
        return -ENOMEM;
    }
    *prev = rec.time;
    *prev_type = rec.type;
    *next = off + need;
    return 0;
}

static int preamble(struct trace_reader *r, char *err, size_t errlen)
{
    const uint8_t *p = r->data;
    size_t n = r->size < 8 ? r->size : 8;

    if (n > 0 && memcmp(p, TRACE_MAGIC, n) != 0) {
        snprintf(err, errlen, "not a vusim trace (bad magic)");
        return -EBADMSG;
    }
    if (r->size < TRACE_PREAMBLE_SIZE) {
        scan_stop(r, TRACE_ST_TORN, 0, "incomplete preamble (%zu of %u "
                  "bytes)", r->size, TRACE_PREAMBLE_SIZE);
        return 1;
    }
    if (trace_crc32c(p, 12) != trace_le32(p + 12)) {
        scan_stop(r, TRACE_ST_CORRUPT, 0, "preamble checksum mismatch");
        return 1;
    }
    r->st.major = (uint16_t)(p[8] | p[9] << 8);
    r->st.minor = (uint16_t)(p[10] | p[11] << 8);
    if (r->st.major < 1 || r->st.major > TRACE_VERSION_MAJOR) {
        snprintf(err, errlen, "trace format version %u.%u; this vusim reads "
                 "1.x to %u.x", p[8] | p[9] << 8, p[10] | p[11] << 8,
                 TRACE_VERSION_MAJOR);
        return -EBADMSG;
    }
    return 0;
}

/* Fault the mapping in ahead of the scan, a few MiB at a time: one
 * madvise is far cheaper than a page fault per 64 KiB, and the bytes are
 * still in the cache when the consumer reads the record after the CRC. */
#define SCAN_AHEAD (4u << 20)

static void populate_to(struct trace_reader *r, uint64_t end)
{
#ifdef MADV_POPULATE_READ
    uint64_t from = r->populated, to;

    if (!r->mapped || end <= from) {
        return;
    }
    to = r->size - end > SCAN_AHEAD ? end + SCAN_AHEAD : r->size;
    from &= ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
    /* Only a hint: a kernel without it faults the pages in on access. */
    (void)madvise(r->data + from, (size_t)(to - from), MADV_POPULATE_READ);
    r->populated = to;
#else
    (void)r;
    (void)end;
#endif
}

/* Validate records until record @want is in the index or the prefix
 * ends; the status is final once the scan is done. */
static int scan_more(struct trace_reader *r, size_t want)
{
    int rc = 0;

    while (!r->scan_done && r->n <= want) {
        if (r->scan_off >= r->size) {
            r->scan_done = true;
            break;
        }
        populate_to(r, r->scan_off + 1);
        rc = scan_one(r, r->scan_off, &r->scan_prev, &r->scan_prev_type,
                      &r->scan_off);
        if (rc != 0) {
            r->scan_done = true;
        }
    }
    if (rc < 0) {
        r->scan_err = rc;
        return rc;
    }
    if (r->scan_done) {
        r->st.records = r->n;
        r->st.valid_bytes = rc > 0 ? r->st.bad_offset : r->scan_off;
        if (rc == 0 && r->st.status == TRACE_ST_NO_END &&
            (r->scan_prev_type == TRACE_END ||
             r->scan_prev_type == TRACE_TRAILER)) {
            r->st.status = TRACE_ST_COMPLETE;
        }
    }
    return 0;
}

/* The preamble and the HEADER (so the header is known at open); the rest
 * now, or on demand when @lazy. */
static int scan(struct trace_reader *r, bool lazy, char *err, size_t errlen)
{
    int rc;

    r->chain_seq = true;
    r->st.file_bytes = r->size;
    r->scan_off = TRACE_PREAMBLE_SIZE;
    rc = preamble(r, err, errlen);
    if (rc != 0) {
        r->scan_done = true;
        return rc < 0 ? rc : 0;
    }
    r->st.status = TRACE_ST_NO_END;
    rc = scan_more(r, lazy ? 0 : SIZE_MAX);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
    }
    return rc;
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
    rc = scan(r, lazy, err, errlen);
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

bool trace_reader_have(struct trace_reader *r, size_t i)
{
    if (i < r->n) {
        return true;
    }
    return scan_more(r, i) == 0 && i < r->n;
}

int trace_reader_finish(struct trace_reader *r)
{
    return r->scan_err ? r->scan_err : scan_more(r, SIZE_MAX);
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
    if (r->mapped) {
        munmap(r->data, r->size);
    } else {
        free(r->data);
    }
    free(r->off);
    free(r->chain_rec);
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
    return decode(r->data + r->off[i], rec);
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

    if (r->chain_seq) {
        return id < r->nchain ? (long)r->chain_rec[id] : -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (trace_reader_get(r, i, &rec) == 0 && rec.type == TRACE_CHAIN &&
            rec.u.chain.id == id) {
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
