/* SPDX-License-Identifier: MIT */
/*
 * The trace writer: records are built in a memory buffer (header, payload,
 * CRC), and the buffer goes to the file in whole records only, so the file
 * is a valid prefix after every flush.
 *
 * A regular file is reserved MAP_CHUNK bytes at a time (fallocate, so a
 * full disk is an error here, not a SIGBUS later) and written through a
 * shared mapping: a flush is a memcpy into the page cache, which is where
 * write(2) would have put the bytes, without a system call before every
 * call to the guest (measured: 1.1 us of the 1.7 us a traced request cycle
 * spends in the writer). Close cuts the file to its records; a process
 * killed before leaves the reserved zeros after them, which readers take
 * as the end of the records (FORMAT.md). Anything that cannot be reserved
 * or mapped (a pipe, a file system without fallocate) gets write(2).
 * Checksums and digests are in digest.c.
 */
#define _GNU_SOURCE
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/log.h"
#include "sim/wallclock.h"
#include "traces/trace.h"

#define SS "trace"
#define TRACE_MODE_QUEUES 256     /* queues whose modes are tracked */
#define TRACE_DEFAULT_FLUSH (64u * 1024u)
#define MAP_CHUNK (16u << 20)     /* first reservation, and growth step */
#define NO_REC SIZE_MAX
#define FIRE_DEPTH 16             /* nested calendar runs tracked */

/* A pending device event: the calendar's sequence number and the device's
 * own (the n-th event the device scheduled), which the trace records. */
struct own {
    uint64_t cal_seq, dev_seq;
};

struct trace_writer {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    size_t rec;                   /* start of the record being built */
    size_t flush_bytes;
    struct sim_cal *cal;
    sim_time_t last_time;
    int err;
    enum trace_digest digest;     /* the completions' (HEADER) */
    bool wallclock;
    uint64_t wall_start;
    uint64_t records, chains, completions, next_id;
    uint64_t flushes, bytes;
    uint8_t *map;                 /* the file, mapped; NULL: write(2) */
    uint64_t map_cap;             /* bytes reserved and mapped */
    uint32_t chain_rd;            /* rd_len of the CHAIN being built */
    /* Which calendar events are the device's (FORMAT.md, CAL). */
    int dev_depth;                /* > 0: device code is running */
    struct own *own;              /* pending device events, by cal_seq */
    size_t nown, own_cap;
    uint64_t next_dev_seq;
    uint8_t fire_owned[FIRE_DEPTH];
    int fire_top;
    uint8_t kick_mode[TRACE_MODE_QUEUES], call_mode[TRACE_MODE_QUEUES];
};

/* ---- the record builder ---- */

static void wr_fail(struct trace_writer *w, int err, const char *what)
{
    if (w->err) {
        return;
    }
    w->err = err;
    VUSIM_ERR(SS, "%s: %s; the trace ends at the last whole record", what,
              strerror(-err));
}

static uint8_t *wr_reserve(struct trace_writer *w, size_t n)
{
    uint8_t *p;

    if (w->err) {
        return NULL;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;

        while (cap < w->len + n) {
            cap *= 2;
        }
        p = realloc(w->buf, cap);
        if (!p) {
            wr_fail(w, -ENOMEM, "trace buffer");
            return NULL;
        }
        w->buf = p;
        w->cap = cap;
    }
    p = w->buf + w->len;
    w->len += n;
    return p;
}

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    le16(p, (uint16_t)v);
    le16(p + 2, (uint16_t)(v >> 16));
}

static void le64(uint8_t *p, uint64_t v)
{
    le32(p, (uint32_t)v);
    le32(p + 4, (uint32_t)(v >> 32));
}

static void put_u8(struct trace_writer *w, uint8_t v)
{
    uint8_t *p = wr_reserve(w, 1);

    if (p) {
        *p = v;
    }
}

static void put_u16(struct trace_writer *w, uint16_t v)
{
    uint8_t *p = wr_reserve(w, 2);

    if (p) {
        le16(p, v);
    }
}

static void put_u32(struct trace_writer *w, uint32_t v)
{
    uint8_t *p = wr_reserve(w, 4);

    if (p) {
        le32(p, v);
    }
}

static void put_u64(struct trace_writer *w, uint64_t v)
{
    uint8_t *p = wr_reserve(w, 8);

    if (p) {
        le64(p, v);
    }
}

static void put_raw(struct trace_writer *w, const void *d, size_t n)
{
    uint8_t *p = wr_reserve(w, n);

    if (p && n) {
        memcpy(p, d, n);
    }
}

static void put_str(struct trace_writer *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n > UINT16_MAX) {
        n = UINT16_MAX;       /* the header says at most 65535 bytes */
    }
    put_u16(w, (uint16_t)n);
    put_raw(w, s, n);
}

static void put_blob(struct trace_writer *w, const void *d, uint32_t n)
{
    put_u32(w, n);
    put_raw(w, d, n);
}

static sim_time_t wr_now(struct trace_writer *w)
{
    sim_time_t t = w->cal ? sim_cal_now(w->cal) : w->last_time;

    if (t < w->last_time) {
        t = w->last_time;     /* a new calendar starts at 0: keep order */
    }
    w->last_time = t;
    return t;
}

static int rec_begin(struct trace_writer *w, enum trace_type type)
{
    uint8_t *p;

    if (w->err) {
        return w->err;
    }
    assert(w->rec == NO_REC);     /* records never nest */
    w->rec = w->len;
    p = wr_reserve(w, TRACE_REC_HDR_SIZE);
    if (!p) {
        w->rec = NO_REC;
        return w->err;
    }
    le16(p, (uint16_t)type);
    le16(p + 2, 0);
    le32(p + 4, 0);               /* length, patched by rec_end */
    le64(p + 8, wr_now(w));
    return 0;
}

static int rec_end(struct trace_writer *w)
{
    size_t plen;
    uint8_t *crc;

    if (w->rec == NO_REC) {
        return w->err ? w->err : -EINVAL;
    }
    plen = w->len - w->rec - TRACE_REC_HDR_SIZE;
    if (!w->err && plen > TRACE_REC_MAX) {
        wr_fail(w, -EFBIG, "trace record too large");
    }
    if (!w->err) {
        le32(w->buf + w->rec + 4, (uint32_t)plen);
        crc = wr_reserve(w, TRACE_REC_CRC_SIZE);
        if (crc) {
            le32(crc, trace_crc32c(w->buf + w->rec, crc - (w->buf + w->rec)));
        }
    }
    if (w->err) {
        w->len = w->rec;          /* drop the partial record */
        w->rec = NO_REC;
        return w->err;
    }
    w->rec = NO_REC;
    w->records++;
    if (w->len >= w->flush_bytes) {
        return trace_writer_flush(w);
    }
    return 0;
}

/* Reserve and map the file up to at least @need bytes: 0 or -errno. */
static int map_grow(struct trace_writer *w, uint64_t need)
{
    uint64_t cap = w->map_cap ? w->map_cap : MAP_CHUNK;
    void *p;

    while (cap < need) {
        cap += cap < (16 * (uint64_t)MAP_CHUNK) ? cap
                                                 : 16 * (uint64_t)MAP_CHUNK;
    }
    if (cap > SIZE_MAX || cap > INT64_MAX) {
        return -EFBIG;
    }
    if (fallocate(w->fd, 0, (off_t)w->map_cap,
                  (off_t)(cap - w->map_cap)) != 0) {
        return -errno;
    }
    p = w->map ? mremap(w->map, w->map_cap, cap, MREMAP_MAYMOVE)
               : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd,
                      0);
    if (p == MAP_FAILED) {
        return -errno;
    }
    w->map = p;
    w->map_cap = cap;
    return 0;
}

/* Copy @len bytes of whole records to the mapping with the first record's
 * type, flags and length stored last. A writer killed mid-copy then leaves
 * a zero header where the chunk starts, which a reader takes as space not
 * yet committed (FORMAT.md, "The valid prefix"), not as damage: memcpy
 * picks its own store order (glibc writes a large copy's two ends after
 * its middle), so without this a kill could leave a chunk whose first
 * record fails its checksum with zeros in between. */
static void map_commit(uint8_t *dst, const uint8_t *src, size_t len)
{
    uint64_t head;

    if (len < sizeof(head)) {
        memcpy(dst, src, len);
        return;
    }
    memcpy(dst + sizeof(head), src + sizeof(head), len - sizeof(head));
    memcpy(&head, src, sizeof(head));
    /* Stores retire in program order on one thread; keep the compiler
     * from moving the header store before the copy. */
    atomic_signal_fence(memory_order_seq_cst);
    memcpy(dst, &head, sizeof(head));
}

/*
 * How many of the buffer's first @room bytes are whole records. The buffer
 * holds whole records only, except that the first flush starts with the
 * preamble, which counts whole or not at all.
 */
static size_t whole_records(const struct trace_writer *w, size_t room)
{
    size_t keep = 0, at = 0;

    if (w->bytes == 0) {
        at = TRACE_PREAMBLE_SIZE;
        keep = room >= at ? at : 0;
    }
    while (keep == at && at + TRACE_REC_HDR_SIZE <= w->len) {
        uint32_t plen = (uint32_t)w->buf[at + 4] |
                        (uint32_t)w->buf[at + 5] << 8 |
                        (uint32_t)w->buf[at + 6] << 16 |
                        (uint32_t)w->buf[at + 7] << 24;
        size_t end = at + TRACE_REC_HDR_SIZE + plen + TRACE_REC_CRC_SIZE;

        if (end > room) {
            break;
        }
        at = keep = end;
    }
    return keep;
}

/* A write(2) stopped after @done bytes of the buffer (a full disk): cut
 * the file back to the last whole record, so it stays a valid prefix. */
static void cut_to_records(struct trace_writer *w, size_t done)
{
    w->bytes += whole_records(w, done);
    if (ftruncate(w->fd, (off_t)w->bytes) < 0 && errno != EINVAL) {
        VUSIM_WARN(SS, "cannot cut the trace back to its last whole "
                   "record: %s", strerror(errno));
    }
}

static int flush_mapped(struct trace_writer *w)
{
    int rc = w->bytes + w->len > w->map_cap ? map_grow(w, w->bytes + w->len)
                                            : 0;

    if (rc < 0) {
        /* What fits in the space already reserved still goes in. */
        size_t keep = whole_records(w, (size_t)(w->map_cap - w->bytes));

        map_commit(w->map + w->bytes, w->buf, keep);
        w->bytes += keep;
        wr_fail(w, rc, "reserving space for the trace");
    } else {
        map_commit(w->map + w->bytes, w->buf, w->len);
        w->bytes += w->len;
    }
    w->len = 0;
    w->flushes++;
    return w->err;
}

int trace_writer_flush(struct trace_writer *w)
{
    size_t done = 0;

    if (!w) {
        return -EINVAL;
    }
    if (w->map && !w->err) {
        return flush_mapped(w);
    }
    while (done < w->len && !w->err) {
        ssize_t n = write(w->fd, w->buf + done, w->len - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            wr_fail(w, n < 0 ? -errno : -EIO, "writing the trace");
            cut_to_records(w, done);
            break;
        }
        done += (size_t)n;
    }
    if (!w->err) {
        w->bytes += (uint64_t)done;
    }
    w->len = 0;
    w->flushes++;
    return w->err;
}

/* ---- open, close, calendar ---- */

static void put_header(struct trace_writer *w, const struct trace_header *h)
{
    rec_begin(w, TRACE_HEADER);
    put_str(w, h->device);
    put_u32(w, h->virtio_id);
    put_u16(w, h->num_queues);
    put_u64(w, h->features);
    put_u64(w, h->protocol_features);
    put_str(w, h->clock);
    put_str(w, h->inband);
    put_u64(w, h->seed);
    put_u32(w, h->conn_id);
    put_u16(w, (uint16_t)h->nopts);
    for (size_t i = 0; i < h->nopts; i++) {
        put_str(w, h->opts[i].name);
        put_u8(w, h->opts[i].value != NULL);
        put_str(w, h->opts[i].value);
    }
    put_u8(w, (uint8_t)h->image);
    put_str(w, h->image_opt);
    put_u64(w, h->image_size);
    put_raw(w, h->image_sha256, TRACE_SHA256_SIZE);
    put_u8(w, (uint8_t)w->digest);
    rec_end(w);
}

static void put_preamble(struct trace_writer *w)
{
    uint8_t *p = wr_reserve(w, TRACE_PREAMBLE_SIZE);

    if (p) {
        memcpy(p, TRACE_MAGIC, 8);
        le16(p + 8, TRACE_VERSION_MAJOR);
        le16(p + 10, TRACE_VERSION_MINOR);
        le32(p + 12, trace_crc32c(p, 12));
    }
}

enum trace_digest trace_writer_digest(const struct trace_writer *w)
{
    return w->digest;
}

/* A regular file is opened again for reading too, which a shared writable
 * mapping needs; a pipe or FIFO is not (we would become its reader and
 * never see EPIPE). */
static void reopen_rw(struct trace_writer *w, const char *path)
{
    struct stat st;
    int fd;

    if (fstat(w->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        close(w->fd);
        w->fd = fd;
    }
}

int trace_writer_open(const char *path, const struct trace_header *h,
                      const struct trace_writer_cfg *cfg,
                      struct trace_writer **out)
{
    struct trace_writer *w;
    int rc;

    if (!path || !h || !h->device || h->nopts > UINT16_MAX || !out ||
        (h->digest && !trace_digest_name(h->digest))) {
        return -EINVAL;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        return -ENOMEM;
    }
    w->rec = NO_REC;
    w->digest = h->digest ? h->digest : TRACE_DIGEST_DEFAULT;
    w->flush_bytes = cfg && cfg->flush_bytes ? cfg->flush_bytes
                                             : TRACE_DEFAULT_FLUSH;
    w->wallclock = cfg && cfg->wallclock;
    if (w->wallclock) {
        w->wall_start = vusim_wallclock_ns();
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = -errno;
        free(w);
        return rc;
    }
    reopen_rw(w, path);
    if (map_grow(w, 1) < 0 && ftruncate(w->fd, 0) < 0 && errno != EINVAL) {
        /* Not mappable: write(2) it is. A reservation made before the
         * mapping failed is undone; a pipe has no size (EINVAL). */
        VUSIM_WARN(SS, "%s: cannot undo the space reserved: %s", path,
                   strerror(errno));
    }
    put_preamble(w);
    put_header(w, h);
    rc = trace_writer_flush(w);
    if (rc < 0) {
        if (w->map) {
            munmap(w->map, w->map_cap);
        }
        close(w->fd);
        free(w->buf);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* Sequence numbers only grow, so a new event goes at the end. */
static int own_add(struct trace_writer *w, uint64_t cal_seq, uint64_t dev_seq)
{
    if (w->nown == w->own_cap) {
        size_t cap = w->own_cap ? w->own_cap * 2 : 64;
        struct own *n = realloc(w->own, cap * sizeof(*n));

        if (!n) {
            wr_fail(w, -ENOMEM, "trace calendar index");
            return -ENOMEM;
        }
        w->own = n;
        w->own_cap = cap;
    }
    w->own[w->nown++] = (struct own){ cal_seq, dev_seq };
    return 0;
}

/* Remove @cal_seq if it is the device's; true and its device seq if so. */
static bool own_take(struct trace_writer *w, uint64_t cal_seq,
                     uint64_t *dev_seq)
{
    size_t lo = 0, hi = w->nown;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (w->own[mid].cal_seq < cal_seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == w->nown || w->own[lo].cal_seq != cal_seq) {
        return false;
    }
    *dev_seq = w->own[lo].dev_seq;
    memmove(&w->own[lo], &w->own[lo + 1],
            (w->nown - lo - 1) * sizeof(w->own[0]));
    w->nown--;
    return true;
}

static void cal_record(struct trace_writer *w, uint8_t kind, sim_time_t at,
                       int32_t prio, uint64_t dev_seq)
{
    if (rec_begin(w, TRACE_CAL) == 0) {
        put_u8(w, kind);
        put_u64(w, at);
        put_u32(w, (uint32_t)prio);
        put_u64(w, dev_seq);
        rec_end(w);
    }
}

/*
 * Only the device's events are recorded: those scheduled while device
 * code runs (a hook the host called, between trace_writer_dev_enter and
 * _leave, or one of its own events firing). Other users of the calendar,
 * such as the time-travel controller's participants, are left out, so a
 * replay, whose calendar holds the device alone, sees the same events.
 */
static void cal_observer(void *opaque, enum sim_cal_obs what, sim_time_t at,
                         int32_t prio, uint64_t seq)
{
    struct trace_writer *w = opaque;
    uint64_t dev_seq;
    bool mine;

    switch (what) {
    case SIM_CAL_OBS_SCHED:
        if (w->dev_depth > 0 && own_add(w, seq, w->next_dev_seq) == 0) {
            cal_record(w, TRACE_CAL_SCHED, at, prio, w->next_dev_seq++);
        }
        break;
    case SIM_CAL_OBS_CANCEL:
        if (own_take(w, seq, &dev_seq)) {
            cal_record(w, TRACE_CAL_CANCEL, at, prio, dev_seq);
        }
        break;
    case SIM_CAL_OBS_FIRE:
        mine = own_take(w, seq, &dev_seq);
        if (mine) {
            cal_record(w, TRACE_CAL_FIRE, at, prio, dev_seq);
            w->dev_depth++;
        }
        if (w->fire_top < FIRE_DEPTH) {
            w->fire_owned[w->fire_top] = mine;
        }
        w->fire_top++;
        break;
    case SIM_CAL_OBS_DONE:
        if (w->fire_top > 0 && --w->fire_top < FIRE_DEPTH &&
            w->fire_owned[w->fire_top]) {
            w->dev_depth--;
        }
        break;
    }
}

int trace_write_fault(struct trace_writer *w, const struct trace_fault *f)
{
    int rc = rec_begin(w, TRACE_FAULT);

    if (rc == 0) {
        put_u64(w, f->id);
        put_u16(w, f->queue);
        put_u32(w, f->rule);
        put_u64(w, f->firing);
        put_str(w, f->action);
        put_str(w, f->state);
        put_str(w, f->text);
        rc = rec_end(w);
    }
    return rc;
}

int trace_write_control(struct trace_writer *w, const struct trace_control *c)
{
    int rc = rec_begin(w, TRACE_CONTROL);

    if (rc == 0) {
        put_u8(w, c->op);
        put_u64(w, c->arg);
        put_u32(w, (uint32_t)c->status);
        put_str(w, c->text ? c->text : "");
        rc = rec_end(w);
    }
    return rc;
}

void trace_tt_observe(struct trace_writer *w, uint64_t id,
                      enum sim_tt_dir dir, const struct sim_tt_msg *m,
                      uint64_t reply)
{
    if (rec_begin(w, TRACE_TT) == 0) {
        put_u64(w, id);
        put_u8(w, (uint8_t)dir);
        put_u32(w, m->op);
        put_u32(w, m->seq);
        put_u64(w, m->time);
        put_u64(w, reply);
        rec_end(w);
    }
}

void trace_writer_dev_enter(struct trace_writer *w)
{
    w->dev_depth++;
}

void trace_writer_dev_leave(struct trace_writer *w)
{
    assert(w->dev_depth > 0);
    w->dev_depth--;
}

void trace_writer_set_cal(struct trace_writer *w, struct sim_cal *cal)
{
    if (w->cal) {
        sim_cal_remove_observer(w->cal, cal_observer, w);
    }
    w->cal = cal;
    if (cal && sim_cal_add_observer(cal, cal_observer, w) < 0) {
        wr_fail(w, -ENOSPC, "too many traces on one calendar");
    }
}

int trace_writer_close(struct trace_writer *w)
{
    int rc;

    if (!w) {
        return 0;
    }
    if (w->cal) {
        trace_writer_set_cal(w, NULL);
    }
    if (rec_begin(w, TRACE_END) == 0) {
        put_u64(w, w->records);
        put_u64(w, w->chains);
        put_u64(w, w->completions);
        rec_end(w);
    }
    if (w->wallclock && rec_begin(w, TRACE_TRAILER) == 0) {
        put_u64(w, vusim_wallclock_ns() - w->wall_start);
        put_u64(w, w->flushes + 1);
        put_u64(w, w->bytes + w->len + TRACE_REC_CRC_SIZE);
        rec_end(w);
    }
    trace_writer_flush(w);
    rc = w->err;
    if (w->map) {
        munmap(w->map, w->map_cap);
        if (ftruncate(w->fd, (off_t)w->bytes) < 0 && !rc) {
            rc = -errno;
        }
    }
    if (close(w->fd) < 0 && !rc) {
        rc = -errno;
    }
    free(w->buf);
    free(w->own);
    free(w);
    return rc;
}

/* ---- records ---- */

int trace_write_conn(struct trace_writer *w, bool up)
{
    if (rec_begin(w, TRACE_CONN)) {
        return w->err;
    }
    put_u8(w, up);
    return rec_end(w);
}

int trace_write_msg(struct trace_writer *w, enum trace_msg_dir dir,
                    uint32_t request, uint32_t flags, uint32_t size,
                    const void *payload, uint32_t plen, unsigned nfds)
{
    if (rec_begin(w, TRACE_MSG)) {
        return w->err;
    }
    put_u8(w, (uint8_t)dir);
    put_u32(w, request);
    put_u32(w, flags);
    put_u32(w, size);
    put_u8(w, (uint8_t)(nfds > UINT8_MAX ? UINT8_MAX : nfds));
    put_blob(w, payload, plen);
    return rec_end(w);
}

int trace_write_neg(struct trace_writer *w, enum trace_neg what,
                    uint64_t value)
{
    if (rec_begin(w, TRACE_NEG)) {
        return w->err;
    }
    put_u8(w, (uint8_t)what);
    put_u64(w, value);
    return rec_end(w);
}

/* A MODE record whenever a queue's kick or call path changes. */
static int wr_mode(struct trace_writer *w, uint16_t queue, bool call,
                   enum trace_notify mode)
{
    uint8_t *slot;

    if (queue >= TRACE_MODE_QUEUES) {
        return 0;
    }
    slot = call ? &w->call_mode[queue] : &w->kick_mode[queue];
    if (*slot == mode) {
        return 0;
    }
    *slot = (uint8_t)mode;
    if (rec_begin(w, TRACE_MODE)) {
        return w->err;
    }
    put_u16(w, queue);
    put_u8(w, w->kick_mode[queue]);
    put_u8(w, w->call_mode[queue]);
    return rec_end(w);
}

static int wr_queue_u8(struct trace_writer *w, enum trace_type t,
                       uint16_t queue, uint8_t v)
{
    if (rec_begin(w, t)) {
        return w->err;
    }
    put_u16(w, queue);
    put_u8(w, v);
    return rec_end(w);
}

int trace_write_kick(struct trace_writer *w, uint16_t queue,
                     enum trace_notify mode)
{
    int rc = wr_queue_u8(w, TRACE_KICK, queue, (uint8_t)mode);

    return rc ? rc : wr_mode(w, queue, false, mode);
}

int trace_write_call(struct trace_writer *w, uint16_t queue,
                     enum trace_notify mode)
{
    int rc = wr_queue_u8(w, TRACE_CALL, queue, (uint8_t)mode);

    return rc ? rc : wr_mode(w, queue, true, mode);
}

int trace_write_avail(struct trace_writer *w, uint16_t queue)
{
    if (rec_begin(w, TRACE_AVAIL)) {
        return w->err;
    }
    put_u16(w, queue);
    return rec_end(w);
}

int trace_write_queue(struct trace_writer *w, uint16_t queue, bool started)
{
    return wr_queue_u8(w, TRACE_QUEUE, queue, started);
}

int trace_write_reset(struct trace_writer *w)
{
    if (rec_begin(w, TRACE_RESET)) {
        return w->err;
    }
    return rec_end(w);
}

int trace_write_config(struct trace_writer *w, bool set, uint32_t off,
                       uint32_t len, int32_t rc, const void *data,
                       uint32_t dlen)
{
    if (rec_begin(w, TRACE_CONFIG)) {
        return w->err;
    }
    put_u8(w, set);
    put_u32(w, off);
    put_u32(w, len);
    put_u32(w, (uint32_t)rc);
    put_blob(w, data, dlen);
    return rec_end(w);
}

int trace_write_cancel(struct trace_writer *w, uint64_t id, uint16_t queue)
{
    if (rec_begin(w, TRACE_CANCEL)) {
        return w->err;
    }
    put_u64(w, id);
    put_u16(w, queue);
    return rec_end(w);
}

int trace_write_complete(struct trace_writer *w, uint64_t id,
                         uint16_t queue, uint16_t head,
                         const struct trace_done *d)
{
    if (rec_begin(w, TRACE_COMPLETE)) {
        return w->err;
    }
    put_u64(w, id);
    put_u16(w, queue);
    put_u16(w, head);
    put_u32(w, d->used_len);
    put_u8(w, d->flags);
    put_u8(w, d->status);
    put_u32(w, d->extent);
    put_raw(w, d->digest, TRACE_DIGEST_SIZE);
    w->completions++;
    return rec_end(w);
}

/* CHAIN layout: id, queue, head, flags, ndesc, nrd, nwr, rd_len, wr_len,
 * (nrd + nwr) segment lengths, rd_len bytes. The flags byte sits at
 * payload offset 12 and is patched by chain_end. */
#define CHAIN_FLAGS_OFF 12u

int trace_write_chain_begin(struct trace_writer *w,
                            const struct trace_chain *c, uint64_t *id)
{
    if (rec_begin(w, TRACE_CHAIN)) {
        return w->err;
    }
    *id = w->next_id++;
    put_u64(w, *id);
    put_u16(w, c->queue);
    put_u16(w, c->head);
    put_u8(w, c->flags);
    put_u32(w, c->ndesc);
    put_u32(w, c->nrd);
    put_u32(w, c->nwr);
    put_u32(w, c->rd_len);
    put_u32(w, c->wr_len);
    w->chain_rd = c->rd_len;
    return w->err;
}

void trace_write_chain_seg(struct trace_writer *w, uint32_t len)
{
    put_u32(w, len);
}

uint8_t *trace_write_chain_data(struct trace_writer *w)
{
    if (w->err || w->rec == NO_REC) {
        return NULL;
    }
    return wr_reserve(w, w->chain_rd);
}

int trace_write_chain_end(struct trace_writer *w, uint8_t extra_flags)
{
    if (!w->err && w->rec != NO_REC) {
        w->buf[w->rec + TRACE_REC_HDR_SIZE + CHAIN_FLAGS_OFF] |= extra_flags;
        w->chains++;
    }
    return rec_end(w);
}
