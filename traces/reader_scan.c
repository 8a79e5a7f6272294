/* SPDX-License-Identifier: MIT */
/*
 * Validating a trace and indexing its valid prefix.
 *
 * Validation (length in bounds, CRC, payload layout, stream rules) reads
 * every byte, and the walk that validates a record also indexes it. An
 * eager reader does both at open. A lazy one checks the preamble and the
 * HEADER at open and hands the rest to a validator thread; the consumer
 * reads only the records the validator has published: replay then runs
 * on one core while its input is checked on the other, and it never sees
 * a record the eager reader would have refused.
 *
 * The two threads share the mapping (read only), the index (reserved at
 * open, so it never moves; the validator writes it), the count of records
 * published (an atomic, released after each record) and, once the
 * validator is done, its final status. The consumer sleeps on a condition variable
 * only when it catches up; the validator wakes it every WAKE_BYTES and at
 * the end, so nothing is signalled per record.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "traces/reader-internal.h"

/* Fault the mapping in this far ahead of the validator: one madvise per
 * few MiB is far cheaper than a page fault per 64 KiB. */
#define SCAN_AHEAD (4u << 20)
/* The validator wakes a waiting consumer after this many bytes. */
#define WAKE_BYTES (256u << 10)

/* A walk over the records: where it is and what came before. */
struct walk {
    uint64_t off;
    size_t index;
    sim_time_t prev;
    uint16_t prev_type;
    uint64_t populated;
};

struct trace_scan {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct walk w;                  /* the validator's */
    struct trace_status_info st;    /* the validator's; final when done */
    atomic_size_t valid;            /* records validated */
    atomic_bool done, cancel;
    unsigned waiting;               /* consumers asleep, under lock */
};

/* ---- checking one record ---- */

static void stop(struct trace_status_info *st, const struct walk *w,
                 enum trace_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void stop(struct trace_status_info *st, const struct walk *w,
                 enum trace_status s, const char *fmt, ...)
{
    va_list ap;

    st->status = s;
    st->bad_index = w->index;
    st->bad_offset = w->off;
    va_start(ap, fmt);
    vsnprintf(st->why, sizeof(st->why), fmt, ap);
    va_end(ap);
}

/* The stream rules a record must keep, given the ones before it. */
static const char *stream_rule(const struct walk *w,
                               const struct trace_rec *rec)
{
    if ((w->index == 0) != (rec->type == TRACE_HEADER)) {
        return w->index == 0 ? "record 0 is not a HEADER"
                             : "a second HEADER";
    }
    if (w->index > 0 && rec->time < w->prev) {
        return "simulated time goes backwards";
    }
    if (w->index > 0 && w->prev_type == TRACE_TRAILER) {
        return "a record after the TRAILER";
    }
    if (w->index > 0 && w->prev_type == TRACE_END &&
        rec->type != TRACE_TRAILER) {
        return "a record after END other than a TRAILER";
    }
    return NULL;
}

/* The frame at w->off: its size, or 0 with @st saying why it is not one
 * (torn, or a length beyond the limit). */
static uint64_t frame_size(const struct trace_reader *r, const struct walk *w,
                           struct trace_status_info *st)
{
    uint64_t left = r->size - w->off, need;
    uint32_t len;

    if (left < TRACE_REC_HDR_SIZE) {
        stop(st, w, TRACE_ST_TORN, "incomplete record header (%llu of %u "
             "bytes)", (unsigned long long)left, TRACE_REC_HDR_SIZE);
        return 0;
    }
    len = trace_le32(r->data + w->off + 4);
    if (len > TRACE_REC_MAX) {
        stop(st, w, TRACE_ST_CORRUPT, "payload length %u is beyond the "
             "limit", len);
        return 0;
    }
    need = (uint64_t)TRACE_REC_HDR_SIZE + len + TRACE_REC_CRC_SIZE;
    if (left < need) {
        stop(st, w, TRACE_ST_TORN, "incomplete record (%llu of %llu bytes)",
             (unsigned long long)left, (unsigned long long)need);
        return 0;
    }
    return need;
}

/* Check the record at w->off: 0 and @w moves past it, or 1 and @st says
 * why the valid prefix ends there. */
static int check_one(const struct trace_reader *r, struct walk *w,
                     struct trace_status_info *st, struct trace_rec *rec)
{
    uint64_t need = frame_size(r, w, st);
    const uint8_t *f = r->data + w->off;
    const char *why;

    if (!need) {
        return 1;
    }
    if (trace_crc32c(f, need - 4) != trace_le32(f + need - 4)) {
        stop(st, w, TRACE_ST_CORRUPT, "checksum mismatch");
        return 1;
    }
    if (trace_frame_decode(f, rec) < 0) {
        stop(st, w, TRACE_ST_CORRUPT, "payload does not match its type "
             "(%s)", trace_type_name(rec->type));
        return 1;
    }
    why = stream_rule(w, rec);
    if (why) {
        stop(st, w, TRACE_ST_CORRUPT, "%s", why);
        return 1;
    }
    w->prev = rec->time;
    w->prev_type = rec->type;
    w->off += need;
    w->index++;
    return 0;
}

/* Where the run of zero bytes that ends the file starts. */
static uint64_t zero_tail(const struct trace_reader *r)
{
    uint64_t z = r->size;

    while (z >= 8 && trace_le64(r->data + z - 8) == 0) {
        z -= 8;
    }
    while (z > 0 && r->data[z - 1] == 0) {
        z--;
    }
    return z;
}

/* A writer that reserves space and was killed leaves zeros after its last
 * record (FORMAT.md, "The valid prefix"): the prefix ended at a record
 * boundary, or inside a record the kill cut short, not at damage. */
static void reserved_tail(const struct trace_reader *r,
                          struct trace_status_info *st)
{
    uint64_t at = st->bad_offset, z = zero_tail(r), end = r->size;

    if (r->size - at >= TRACE_REC_HDR_SIZE &&
        trace_le32(r->data + at + 4) <= TRACE_REC_MAX) {
        end = at + TRACE_REC_HDR_SIZE + trace_le32(r->data + at + 4) +
              TRACE_REC_CRC_SIZE;
    }
    if (r->size - at >= 8 && trace_le64(r->data + at) == 0 && z > at) {
        /* A zero type and length where a record starts: the writer
         * commits a chunk by storing its first header last, so this is a
         * chunk it was still copying when it died. */
        st->status = TRACE_ST_NO_END;
        snprintf(st->why, sizeof(st->why), "a zero record header: %llu "
                 "bytes the writer had not committed follow the records",
                 (unsigned long long)(r->size - at));
    } else if (z <= at) {
        st->status = TRACE_ST_NO_END;
        snprintf(st->why, sizeof(st->why), "%llu zero bytes (space the "
                 "writer reserved) follow the records",
                 (unsigned long long)(r->size - at));
    } else if (z < end) {
        st->status = TRACE_ST_TORN;
        snprintf(st->why, sizeof(st->why), "incomplete record: zero bytes "
                 "(space the writer reserved) from offset %llu on",
                 (unsigned long long)z);
    }
}

/* After the walk: the prefix's size, and complete if it ends with END. */
static void walk_end(const struct trace_reader *r,
                     struct trace_status_info *st, const struct walk *w,
                     int rc)
{
    st->records = w->index;
    st->valid_bytes = rc > 0 ? st->bad_offset : w->off;
    if (rc > 0) {
        reserved_tail(r, st);
    }
    if (rc == 0 && st->status == TRACE_ST_NO_END &&
        (w->prev_type == TRACE_END || w->prev_type == TRACE_TRAILER)) {
        st->status = TRACE_ST_COMPLETE;
    }
}

static void populate(const struct trace_reader *r, struct walk *w)
{
#ifdef MADV_POPULATE_READ
    uint64_t from = w->populated, to;

    if (!r->mapped || w->off < from) {
        return;
    }
    to = r->size - w->off > SCAN_AHEAD ? w->off + SCAN_AHEAD : r->size;
    from &= ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
    /* Only a hint: without it the pages fault in on access. */
    (void)madvise(r->data + from, (size_t)(to - from), MADV_POPULATE_READ);
    w->populated = to;
#else
    (void)r;
    (void)w;
#endif
}

/* ---- the index ---- */

/* The index has room for as many records as the file could hold (a record
 * is at least 20 bytes), reserved but not committed: only the pages the
 * records use take memory. It never moves, so the validator can fill it
 * while the consumer reads the part the validator has published. */
static void *idx_reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

static int idx_init(struct trace_reader *r)
{
    r->cap = (r->size > TRACE_PREAMBLE_SIZE ?
              (r->size - TRACE_PREAMBLE_SIZE) /
              (TRACE_REC_HDR_SIZE + TRACE_REC_CRC_SIZE) : 0) + 1;
    r->off = idx_reserve(r->cap * sizeof(*r->off));
    r->kind = idx_reserve(r->cap * sizeof(*r->kind));
    r->chain_rec = idx_reserve(r->cap * sizeof(*r->chain_rec));
    return r->off && r->kind && r->chain_rec ? 0 : -ENOMEM;
}

void trace_reader_index_free(struct trace_reader *r)
{
    if (r->off) {
        munmap(r->off, r->cap * sizeof(*r->off));
    }
    if (r->kind) {
        munmap(r->kind, r->cap * sizeof(*r->kind));
    }
    if (r->chain_rec) {
        munmap(r->chain_rec, r->cap * sizeof(*r->chain_rec));
    }
}

/* Record @index, at @off, checked: where it is, its type and first byte,
 * and for a CHAIN where the request is (trace_reader_chain). */
static void idx_put(struct trace_reader *r, size_t index, uint64_t off,
                    const struct trace_rec *rec)
{
    const uint8_t *f = r->data + off;

    r->off[index] = off;
    r->kind[index] = (uint32_t)rec->type |
                     (uint32_t)(rec->len ? f[TRACE_REC_HDR_SIZE] : 0) << 16;
    if (rec->type != TRACE_CHAIN || !r->chain_seq) {
        return;
    }
    if (rec->u.chain.id != r->nchain) {
        r->chain_seq = false;
        return;
    }
    r->chain_rec[r->nchain++] = index;
}

/* check_one() and, if the record is good, idx_put(). */
static int check_index(struct trace_reader *r, struct walk *w,
                       struct trace_status_info *st)
{
    struct trace_rec rec;
    struct walk at = *w;
    int rc = check_one(r, w, st, &rec);

    if (rc == 0) {
        idx_put(r, at.index, at.off, &rec);
    }
    return rc;
}

/* ---- eager: the whole walk at once ---- */

static int scan_all(struct trace_reader *r, struct walk *w)
{
    int rc = 0;

    while (w->off < r->size) {
        populate(r, w);
        rc = check_index(r, w, &r->st);
        if (rc != 0) {
            break;
        }
    }
    walk_end(r, &r->st, w, rc);
    r->n = w->index;
    return 0;
}

/* ---- lazy: the validator thread ---- */

static void wake(struct trace_scan *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->waiting) {
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
}

static void *validator(void *arg)
{
    struct trace_reader *r = arg;
    struct trace_scan *s = r->scan;
    uint64_t mark = s->w.off;
    int rc = 0;

    while (s->w.off < r->size && !atomic_load(&s->cancel)) {
        populate(r, &s->w);
        rc = check_index(r, &s->w, &s->st);
        if (rc != 0) {
            break;
        }
        atomic_store_explicit(&s->valid, s->w.index, memory_order_release);
        if (s->w.off - mark >= WAKE_BYTES) {
            mark = s->w.off;
            wake(s);
        }
    }
    walk_end(r, &s->st, &s->w, rc);
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->done, true);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Records validated once more than @i are, or the validator is done. */
static size_t wait_valid(struct trace_scan *s, size_t i)
{
    size_t v = atomic_load_explicit(&s->valid, memory_order_acquire);

    if (v > i || atomic_load(&s->done)) {
        return atomic_load_explicit(&s->valid, memory_order_acquire);
    }
    pthread_mutex_lock(&s->lock);
    s->waiting++;
    while (atomic_load_explicit(&s->valid, memory_order_acquire) <= i &&
           !atomic_load(&s->done)) {
        pthread_cond_wait(&s->cond, &s->lock);
    }
    s->waiting--;
    pthread_mutex_unlock(&s->lock);
    return atomic_load_explicit(&s->valid, memory_order_acquire);
}

static void scan_free(struct trace_scan *s)
{
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The validator is done: take its status, index the rest, let it go. */
static void scan_join(struct trace_reader *r)
{
    struct trace_scan *s = r->scan;
    struct trace_status_info s_st = s->st;

    scan_free(s);
    r->scan = NULL;
    r->st = s_st;
    r->n = r->st.records;
}

/* Start the validator after record 0; if no thread can be had, do the
 * whole walk now, as an eager reader does. */
static int scan_start(struct trace_reader *r, struct walk *w)
{
    struct trace_scan *s = calloc(1, sizeof(*s));

    if (s) {
        s->w = *w;
        s->st = r->st;
        atomic_init(&s->valid, w->index);
        atomic_init(&s->done, false);
        atomic_init(&s->cancel, false);
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        r->scan = s;
        if (pthread_create(&s->thread, NULL, validator, r) == 0) {
            return 0;
        }
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        r->scan = NULL;
    }
    return scan_all(r, w);
}

/* ---- open ---- */

static int preamble(struct trace_reader *r, char *err, size_t errlen)
{
    const struct walk w = { 0 };
    const uint8_t *p = r->data;
    size_t n = r->size < 8 ? r->size : 8;

    if (n > 0 && memcmp(p, TRACE_MAGIC, n) != 0) {
        snprintf(err, errlen, "not a vusim trace (bad magic)");
        return -EBADMSG;
    }
    if (r->size < TRACE_PREAMBLE_SIZE) {
        stop(&r->st, &w, TRACE_ST_TORN, "incomplete preamble (%zu of %u "
             "bytes)", r->size, TRACE_PREAMBLE_SIZE);
        return 1;
    }
    if (trace_crc32c(p, 12) != trace_le32(p + 12)) {
        stop(&r->st, &w, TRACE_ST_CORRUPT, "preamble checksum mismatch");
        return 1;
    }
    r->st.major = (uint16_t)(p[8] | p[9] << 8);
    r->st.minor = (uint16_t)(p[10] | p[11] << 8);
    if (r->st.major < 1 || r->st.major > TRACE_VERSION_MAJOR) {
        snprintf(err, errlen, "trace format version %u.%u; this vusim reads "
                 "1.x to %u.x", r->st.major, r->st.minor,
                 TRACE_VERSION_MAJOR);
        return -EBADMSG;
    }
    return 0;
}

/* Record 0, which must be the HEADER, and its copy. 0 accepted, 1 the
 * prefix ends, < 0 out of memory. */
static int first_record(struct trace_reader *r, struct walk *w)
{
    struct walk at = *w;
    struct trace_rec rec;
    int rc;

    populate(r, w);
    if (check_one(r, w, &r->st, &rec) != 0) {
        return 1;
    }
    rc = trace_reader_header_copy(r, r->data + at.off);
    if (rc == -EBADMSG) {
        stop(&r->st, &at, TRACE_ST_CORRUPT, "payload does not match its "
             "type (HEADER)");
        *w = at;
        return 1;
    }
    if (rc == 0) {
        idx_put(r, 0, at.off, &rec);
        r->n = 1;
    }
    return rc;
}

int trace_reader_scan(struct trace_reader *r, bool lazy, char *err,
                      size_t errlen)
{
    struct walk w = { .off = TRACE_PREAMBLE_SIZE };
    int rc;

    r->chain_seq = true;
    r->st.file_bytes = r->size;
    if (idx_init(r) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = preamble(r, err, errlen);
    if (rc != 0) {
        return rc < 0 ? rc : 0;   /* a damaged preamble: no records */
    }
    r->st.status = TRACE_ST_NO_END;
    rc = w.off < r->size ? first_record(r, &w) : 1;
    if (rc > 0) {
        walk_end(r, &r->st, &w, w.off < r->size ? rc : 0);
        return 0;
    }
    if (rc == 0) {
        rc = lazy ? scan_start(r, &w) : scan_all(r, &w);
    }
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
    }
    return rc;
}

/* ---- the consumer's side ---- */

bool trace_reader_have(struct trace_reader *r, size_t i)
{
    if (i < r->n) {
        return true;
    }
    if (!r->scan) {
        return false;
    }
    r->n = wait_valid(r->scan, i);
    if (r->n <= i && atomic_load(&r->scan->done)) {
        scan_join(r);
    }
    return i < r->n;
}

int trace_reader_finish(struct trace_reader *r)
{
    if (r->scan) {
        wait_valid(r->scan, SIZE_MAX);
        scan_join(r);
    }
    return 0;
}

void trace_reader_scan_cancel(struct trace_reader *r)
{
    if (r->scan) {
        atomic_store(&r->scan->cancel, true);
        scan_free(r->scan);
        r->scan = NULL;
    }
}
