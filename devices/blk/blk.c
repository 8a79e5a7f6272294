/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk model; the timing model and data movement are described in
 * devices/blk/blk.h. This file: options, config space, request decoding and
 * execution, the channel model, and completion.
 */
#define _GNU_SOURCE
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/blk/blk.h"
#include "devices/faults/faults.h"
#include "sim/log.h"

_Static_assert(offsetof(struct dev_blk_config, blk_size) == 20, "cfg");
_Static_assert(offsetof(struct dev_blk_config, writeback) == 32, "cfg");
_Static_assert(offsetof(struct dev_blk_config, num_queues) == 34, "cfg");
_Static_assert(offsetof(struct dev_blk_config, max_discard_sectors) == 36,
               "cfg");
_Static_assert(offsetof(struct dev_blk_config, max_write_zeroes_sectors) ==
               48, "cfg");
_Static_assert(offsetof(struct dev_blk_config, write_zeroes_may_unmap) == 56,
               "cfg");

#define BLK_SS          "blk"
#define BLK_CHUNK       (64u * 1024u)
#define BLK_HDR         ((uint32_t)sizeof(struct dev_blk_req_hdr))
#define BLK_DEFAULT_RAM (64ull << 20)
#define BLK_PRIO        0
#define BLK_NO_STATUS   0xffu      /* internal: no byte to write it into */

/* Per-request state kept in dev_req.dev_data between pop and completion:
 * used length, status, RQF_* flags, and the link of the held list. */
enum { RQ_USED, RQ_STATUS, RQ_FLAGS, RQ_NEXT };
#define RQF_HUNG    1u      /* do=hang: no completion until released */
#define RQF_LATE    2u      /* do=late: completes after a later request */
#define BLK_LATE_DEFAULT    (10 * SIM_MS)

/* Fault actions, in the order of blk_fault_actions[]. */
enum blk_act { BA_ERROR, BA_DELAY, BA_HANG, BA_LATE, BA_TORN, BA_LOST,
               BA_MISDIRECT, BA_ROT, BA_RESIZE, BA_TIMING, BA_NONE };

struct blk_stats {
    uint64_t in, out, flush, get_id, discard, write_zeroes, other;
    uint64_t bytes_read, bytes_written;     /* guest's view: read = IN */
    uint64_t errors, unsupported, cancelled, completed;
};

struct dev_blk {
    struct dev dev;                 /* first: what the host sees */
    int fd;                         /* backing file, or -1 for RAM */
    uint8_t *ram;
    uint64_t sectors;
    bool ro;
    char serial[DEV_BLK_ID_BYTES];
    sim_time_t latency;
    uint64_t bandwidth;             /* bytes/s, 0 = unlimited */
    uint32_t nchan;
    sim_time_t *chan_free;          /* when each channel is next free */
    struct dev_blk_config cfg;      /* little-endian, as the guest reads it */
    uint8_t *buf;                   /* BLK_CHUNK bounce buffer */
    bool warned;                    /* one WARN per device, then DEBUG */
    uint64_t io_errs;               /* backing-file errors, logged 1,2,4.. */
    bool named;                     /* the backing file had a name at open */
    bool unlinked;                  /* ...and lost its last one since */
    struct blk_stats st;
    struct faults_set faults;
    struct dev_req *held;           /* hung and late requests, newest first */
    uint64_t fault_fired[BA_NONE];
};

/* What executing a request produced, before its completion time; the
 * fault, if one fired, and where the request's data goes. */
struct blk_io {
    uint8_t status;
    uint32_t used;          /* bytes written to the guest, status included */
    uint64_t xfer;          /* bytes that cross the channel */
    enum blk_act act;
    const struct faults_rule *rule;
    /* The request header, read from the guest once for the rules and the
     * execution both: 0 not read yet, 1 in hdr, < 0 unreadable. */
    int hdr_state;
    struct dev_blk_req_hdr hdr;
};

static struct dev_blk *to_blk(struct dev *d)
{
    return container_of(d, struct dev_blk, dev);
}

static const struct dev_optdesc blk_opts[] = {
    { "backing", "PATH", "file or block device holding the disk" },
    { "size", "SIZE", "RAM disk size, multiple of 512 (default 64M)" },
    { "read-only", NULL, "refuse writes; offer VIRTIO_BLK_F_RO" },
    { "num-queues", "N", "request queues, 1-64 (default 1; >1 offers MQ)" },
    { "latency", "DURATION", "fixed time per request (default 0)" },
    { "bandwidth", "BYTES_PER_SEC", "per channel, K/M/G = 2^10.. "
      "(default 0 = unlimited)" },
    { "channels", "N", "requests served in parallel, 1-1024 (default 1)" },
    { "serial", "STRING", "GET_ID answer, up to 20 bytes (default "
      "vusim-blk)" },
    DEV_FAULT_OPTDESC,
    DEV_SEED_OPTDESC,
    { NULL, NULL, NULL },
};

#define K(k) FAULTS_KEY(FAULTS_K_##k)
#define OP(o) FAULTS_OPS(FAULTS_OP_##o)
/* What each action does is in devices/blk/blk.h, "Fault actions". */
static const struct faults_action blk_fault_actions[] = {
    [BA_ERROR] = { "error", K(STATUS), K(STATUS), false, 0 },
    [BA_DELAY] = { "delay", K(DELAY), K(DELAY), false, 0 },
    [BA_HANG] = { "hang", 0, 0, false, 0 },
    [BA_LATE] = { "late", K(DELAY), 0, false, 0 },
    [BA_TORN] = { "torn", K(SECTORS), K(SECTORS), false, OP(WRITE) },
    [BA_LOST] = { "lost", 0, 0, false, OP(WRITE) | OP(WRITE_ZEROES) |
                  OP(DISCARD) },
    [BA_MISDIRECT] = { "misdirect", K(TO), K(TO), false,
                       OP(READ) | OP(WRITE) },
    [BA_ROT] = { "rot", 0, 0, false, OP(READ) },
    [BA_RESIZE] = { "resize", K(SIZE), K(SIZE), false, 0 },
    [BA_TIMING] = { "timing", K(LATENCY) | K(BANDWIDTH), 0, true, 0 },
    [BA_NONE] = { NULL, 0, 0, false, 0 },
};
#undef K
#undef OP

/* ---- backing store -------------------------------------------------- */

/* A backing-file error, for the log: the 1st, 2nd, 4th, 8th... so a
 * disk that went away cannot flood it. A read that finds the end of the
 * file early means the file shrank under the device. */
static void io_err(struct dev_blk *b, bool wr, uint64_t off, int err)
{
    struct stat st;

    b->io_errs++;
    if (b->io_errs & (b->io_errs - 1)) {
        return;
    }
    if (err == -EIO && !wr && fstat(b->fd, &st) == 0 &&
        (uint64_t)st.st_size < b->sectors * DEV_BLK_SECTOR_SIZE) {
        VUSIM_ERR(BLK_SS, "backing file: read at byte %" PRIu64 " past its "
                  "end: it shrank to %lld bytes under a %" PRIu64 "-byte disk "
                  "(I/O error to the guest; %" PRIu64 " so far)", off,
                  (long long)st.st_size, b->sectors * DEV_BLK_SECTOR_SIZE,
                  b->io_errs);
        return;
    }
    VUSIM_ERR(BLK_SS, "backing file: %s at byte %" PRIu64 ": %s (I/O error "
              "to the guest; %" PRIu64 " so far)", wr ? "write" : "read", off,
              strerror(-err), b->io_errs);
}

static int io_full(struct dev_blk *b, bool wr, void *p, size_t len,
                   uint64_t off)
{
    uint8_t *c = p;

    while (len > 0) {
        ssize_t n = wr ? pwrite(b->fd, c, len, (off_t)off)
                       : pread(b->fd, c, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? -errno : -EIO;

            io_err(b, wr, off, err);
            return err;
        }
        c += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Zero [off, off + len) of the disk; @punch tries to deallocate first. */
static int blk_zero(struct dev_blk *b, uint64_t off, uint64_t len,
                    bool punch)
{
    if (b->fd < 0) {
        memset(b->ram + off, 0, len);
        return 0;
    }
    if (punch && len > 0 &&
        fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)off, (off_t)len) == 0) {
        return 0;
    }
    memset(b->buf, 0, BLK_CHUNK);
    while (len > 0) {
        size_t n = len < BLK_CHUNK ? (size_t)len : BLK_CHUNK;
        int rc = io_full(b, true, b->buf, n, off);
        if (rc) {
            return rc;
        }
        off += n;
        len -= n;
    }
    return 0;
}

/* ---- request execution ---------------------------------------------- */

static bool blk_in_range(const struct dev_blk *b, uint64_t sector,
                         uint64_t bytes)
{
    return sector <= b->sectors &&
           bytes / DEV_BLK_SECTOR_SIZE <= b->sectors - sector;
}

static void blk_bad(struct dev_blk *b, struct dev_req *req, const char *why,
                    uint64_t sector)
{
    int lvl = b->warned ? VUSIM_LOG_DEBUG : VUSIM_LOG_WARN;

    b->warned = true;
    vusim_log(lvl, BLK_SS, "bad request on queue %u (rd %" PRIu32 ", wr %"
              PRIu32 ", sector %" PRIu64 "): %s", req->queue, req->rd_len,
              req->wr_len, sector, why);
}

/* Disk [off, +len) into the guest's writable part at 0. Returns bytes. */
static uint32_t blk_copy_out(struct dev_blk *b, struct dev_req *req,
                             uint64_t off, uint32_t len)
{
    uint32_t done = 0;

    if (b->fd < 0) {
        return dev_req_write(req, 0, b->ram + off, len) == 0 ? len : 0;
    }
    while (done < len) {
        uint32_t n = len - done < BLK_CHUNK ? len - done : BLK_CHUNK;
        if (io_full(b, false, b->buf, n, off + done) ||
            dev_req_write(req, done, b->buf, n)) {
            break;
        }
        done += n;
    }
    return done;
}

/* The guest's readable part from BLK_HDR onwards to disk [off, +len). */
static int blk_copy_in(struct dev_blk *b, struct dev_req *req, uint64_t off,
                       uint32_t len)
{
    uint32_t done = 0;
    int rc = 0;

    if (b->fd < 0) {
        return dev_req_read(req, BLK_HDR, b->ram + off, len);
    }
    while (done < len && rc == 0) {
        uint32_t n = len - done < BLK_CHUNK ? len - done : BLK_CHUNK;
        rc = dev_req_read(req, BLK_HDR + done, b->buf, n);
        if (rc == 0) {
            rc = io_full(b, true, b->buf, n, off + done);
        }
        done += n;
    }
    return rc;
}

/* do=rot: one seeded bit of what the guest reads flips; the disk keeps
 * the good copy. */
static void blk_rot(struct dev_blk *b, struct dev_req *req, uint64_t sector,
                    uint32_t len)
{
    uint64_t bit = faults_rand_below(&b->faults, (uint64_t)len * 8);
    uint64_t off = sector * DEV_BLK_SECTOR_SIZE + bit / 8;
    uint8_t byte = 0;

    if (b->fd < 0) {
        byte = b->ram[off];
    } else if (io_full(b, false, &byte, 1, off)) {
        return;
    }
    byte ^= (uint8_t)(1u << (bit % 8));
    dev_req_write(req, bit / 8, &byte, 1);
}

static uint8_t blk_do_in(struct dev_blk *b, struct dev_req *req,
                         uint64_t sector, struct blk_io *io)
{
    uint32_t len = req->wr_len - 1;

    if (req->rd_len != BLK_HDR || len % DEV_BLK_SECTOR_SIZE) {
        blk_bad(b, req, "IN: layout is not header + n*512 + status", sector);
        return DEV_BLK_S_IOERR;
    }
    if (!blk_in_range(b, sector, len)) {
        blk_bad(b, req, "IN: beyond the end of the disk", sector);
        return DEV_BLK_S_IOERR;
    }
    if (io->act == BA_MISDIRECT) {
        sector = io->rule->p[FAULTS_K_TO];
        if (!blk_in_range(b, sector, len)) {
            blk_bad(b, req, "IN: misdirected beyond the end", sector);
            return DEV_BLK_S_IOERR;
        }
    }
    io->used = blk_copy_out(b, req, sector * DEV_BLK_SECTOR_SIZE, len);
    b->st.bytes_read += io->used;
    if (io->used != len) {
        return DEV_BLK_S_IOERR;
    }
    if (io->act == BA_ROT && len > 0) {
        blk_rot(b, req, sector, len);
    }
    io->xfer = len;
    return DEV_BLK_S_OK;
}

static uint8_t blk_do_out(struct dev_blk *b, struct dev_req *req,
                          uint64_t sector, struct blk_io *io)
{
    uint32_t len = req->rd_len - BLK_HDR;

    if (req->wr_len != 1 || len % DEV_BLK_SECTOR_SIZE) {
        blk_bad(b, req, "OUT: layout is not header + n*512 + status", sector);
        return DEV_BLK_S_IOERR;
    }
    if (b->ro) {
        blk_bad(b, req, "OUT: the disk is read-only", sector);
        return DEV_BLK_S_IOERR;
    }
    if (!blk_in_range(b, sector, len)) {
        blk_bad(b, req, "OUT: beyond the end of the disk", sector);
        return DEV_BLK_S_IOERR;
    }
    io->xfer = len;     /* the channel moves it all, whatever lands */
    if (io->act == BA_MISDIRECT) {
        sector = io->rule->p[FAULTS_K_TO];
        if (!blk_in_range(b, sector, len)) {
            blk_bad(b, req, "OUT: misdirected beyond the end", sector);
            return DEV_BLK_S_IOERR;
        }
    } else if (io->act == BA_LOST) {
        return DEV_BLK_S_OK;
    } else if (io->act == BA_TORN) {
        uint64_t k = io->rule->p[FAULTS_K_SECTORS] * DEV_BLK_SECTOR_SIZE;
        len = k < len ? (uint32_t)k : len;
    }
    if (blk_copy_in(b, req, sector * DEV_BLK_SECTOR_SIZE, len)) {
        return DEV_BLK_S_IOERR;
    }
    b->st.bytes_written += len;
    return DEV_BLK_S_OK;
}

static uint8_t blk_do_flush(struct dev_blk *b, struct dev_req *req)
{
    if (req->rd_len != BLK_HDR || req->wr_len != 1) {
        blk_bad(b, req, "FLUSH: layout is not header + status", 0);
        return DEV_BLK_S_IOERR;
    }
    if (b->fd >= 0 && fdatasync(b->fd) != 0) {
        VUSIM_ERR(BLK_SS, "fdatasync: %s", strerror(errno));
        return DEV_BLK_S_IOERR;
    }
    /* A flush promises the data will be there after vusim: not so once
     * the backing file has no name left (removed, or replaced by rename):
     * its blocks go when vusim closes it. The guest is told. */
    struct stat st;

    if (b->fd >= 0 && b->named && fstat(b->fd, &st) == 0 &&
        st.st_nlink == 0) {
        if (!b->unlinked) {
            VUSIM_ERR(BLK_SS, "backing file removed while in use: its data "
                      "goes when vusim exits, so every FLUSH fails from "
                      "now on");
        }
        b->unlinked = true;
        return DEV_BLK_S_IOERR;
    }
    return DEV_BLK_S_OK;
}

static uint8_t blk_do_get_id(struct dev_blk *b, struct dev_req *req,
                             struct blk_io *io)
{
    uint32_t n = req->wr_len - 1;

    if (req->rd_len != BLK_HDR || n == 0) {
        blk_bad(b, req, "GET_ID: layout is not header + id + status", 0);
        return DEV_BLK_S_IOERR;
    }
    n = n < DEV_BLK_ID_BYTES ? n : DEV_BLK_ID_BYTES;
    if (dev_req_write(req, 0, b->serial, n)) {
        return DEV_BLK_S_IOERR;
    }
    io->used = n;
    io->xfer = n;
    return DEV_BLK_S_OK;
}

/* Check one DISCARD / WRITE_ZEROES segment: 0 or a status. */
static uint8_t blk_dwz_check(struct dev_blk *b, struct dev_req *req,
                             bool discard, const struct dev_blk_dwz_seg *s)
{
    uint32_t flags = le32toh(s->flags);
    uint32_t ns = le32toh(s->num_sectors);
    uint64_t sector = le64toh(s->sector);

    if ((flags & ~DEV_BLK_DWZ_F_UNMAP) ||
        (discard && (flags & DEV_BLK_DWZ_F_UNMAP))) {
        blk_bad(b, req, "DISCARD/WRITE_ZEROES: unsupported flags", sector);
        return DEV_BLK_S_UNSUPP;
    }
    if (ns > DEV_BLK_DWZ_MAX_SECTORS ||
        !blk_in_range(b, sector, (uint64_t)ns * DEV_BLK_SECTOR_SIZE)) {
        blk_bad(b, req, "DISCARD/WRITE_ZEROES: segment out of range",
                sector);
        return DEV_BLK_S_IOERR;
    }
    return DEV_BLK_S_OK;
}

/* Validate every segment before touching the disk: all or nothing. */
static uint8_t blk_do_dwz(struct dev_blk *b, struct dev_req *req,
                          bool discard, bool lost)
{
    struct dev_blk_dwz_seg segs[DEV_BLK_DWZ_MAX_SEG];
    uint32_t len = req->rd_len - BLK_HDR;
    uint32_t nseg = len / sizeof(segs[0]);
    uint8_t st = DEV_BLK_S_OK;

    if (req->wr_len != 1 || len == 0 || len % sizeof(segs[0]) ||
        nseg > DEV_BLK_DWZ_MAX_SEG) {
        blk_bad(b, req, "DISCARD/WRITE_ZEROES: layout is not header + "
                "1-16 segments + status", 0);
        return DEV_BLK_S_IOERR;
    }
    if (b->ro) {
        blk_bad(b, req, "DISCARD/WRITE_ZEROES: the disk is read-only", 0);
        return DEV_BLK_S_IOERR;
    }
    if (dev_req_read(req, BLK_HDR, segs, len)) {
        return DEV_BLK_S_IOERR;
    }
    for (uint32_t i = 0; i < nseg && st == DEV_BLK_S_OK; i++) {
        st = blk_dwz_check(b, req, discard, &segs[i]);
    }
    for (uint32_t i = 0; i < nseg && st == DEV_BLK_S_OK && !lost; i++) {
        uint64_t off = le64toh(segs[i].sector) * DEV_BLK_SECTOR_SIZE;
        uint64_t n = (uint64_t)le32toh(segs[i].num_sectors) *
                     DEV_BLK_SECTOR_SIZE;
        bool punch = discard ||
                     (le32toh(segs[i].flags) & DEV_BLK_DWZ_F_UNMAP);
        if (blk_zero(b, off, n, punch)) {
            st = DEV_BLK_S_IOERR;
        }
    }
    return st;
}

static uint8_t blk_dispatch(struct dev_blk *b, struct dev_req *req,
                            uint32_t type, uint64_t sector,
                            struct blk_io *io)
{
    switch (type) {
    case DEV_BLK_T_IN:
        b->st.in++;
        return blk_do_in(b, req, sector, io);
    case DEV_BLK_T_OUT:
        b->st.out++;
        return blk_do_out(b, req, sector, io);
    case DEV_BLK_T_FLUSH:
        b->st.flush++;
        return blk_do_flush(b, req);
    case DEV_BLK_T_GET_ID:
        b->st.get_id++;
        return blk_do_get_id(b, req, io);
    case DEV_BLK_T_DISCARD:
        b->st.discard++;
        return blk_do_dwz(b, req, true, io->act == BA_LOST);
    case DEV_BLK_T_WRITE_ZEROES:
        b->st.write_zeroes++;
        return blk_do_dwz(b, req, false, io->act == BA_LOST);
    default:
        b->st.other++;
        blk_bad(b, req, "unknown request type", sector);
        return DEV_BLK_S_UNSUPP;
    }
}

/* @req's header in io->hdr, read on first use: true when it is there. */
static bool blk_hdr(struct dev_req *req, struct blk_io *io)
{
    if (io->hdr_state == 0) {
        io->hdr_state = dev_req_read(req, 0, &io->hdr, sizeof(io->hdr)) == 0
                        ? 1 : -1;
    }
    return io->hdr_state > 0;
}

/* Execute @req as io->act (BA_NONE: no fault) says. */
static void blk_execute(struct dev_blk *b, struct dev_req *req,
                        struct blk_io *io)
{
    io->status = DEV_BLK_S_IOERR;
    io->used = 0;
    io->xfer = 0;
    if (req->wr_len == 0) {
        blk_bad(b, req, "no writable byte for the status", 0);
        io->status = BLK_NO_STATUS;
    } else if (io->act == BA_ERROR) {
        io->status = io->rule->p[FAULTS_K_STATUS] == FAULTS_STATUS_UNSUPP ?
                     DEV_BLK_S_UNSUPP : DEV_BLK_S_IOERR;
    } else if (req->rd_len < BLK_HDR) {
        blk_bad(b, req, "header shorter than 16 bytes", 0);
    } else if (blk_hdr(req, io)) {
        io->status = blk_dispatch(b, req, le32toh(io->hdr.type),
                                  le64toh(io->hdr.sector), io);
    }
    if (io->status != BLK_NO_STATUS) {
        io->used++;                 /* the status byte */
    }
    if (io->status != DEV_BLK_S_OK) {
        io->xfer = 0;
        b->st.errors++;
        b->st.unsupported += io->status == DEV_BLK_S_UNSUPP;
    }
}

/* ---- fault rules ----------------------------------------------------- */

static enum faults_op blk_op(uint32_t type)
{
    switch (type) {
    case DEV_BLK_T_IN: return FAULTS_OP_READ;
    case DEV_BLK_T_OUT: return FAULTS_OP_WRITE;
    case DEV_BLK_T_FLUSH: return FAULTS_OP_FLUSH;
    case DEV_BLK_T_GET_ID: return FAULTS_OP_GET_ID;
    case DEV_BLK_T_DISCARD: return FAULTS_OP_DISCARD;
    case DEV_BLK_T_WRITE_ZEROES: return FAULTS_OP_WRITE_ZEROES;
    default: return FAULTS_OP_OTHER;
    }
}

/* The request as triggers see it: type, and the sectors it covers (a
 * DISCARD / WRITE_ZEROES by its first segment). */
static void blk_classify(struct dev_blk *b, struct dev_req *req,
                         struct blk_io *io, struct faults_req *q)
{
    struct dev_blk_dwz_seg seg;

    *q = (struct faults_req){ .op = FAULTS_OP_OTHER, .queue = req->queue,
                              .now = sim_cal_now(b->dev.cal) };
    if (req->rd_len < BLK_HDR || !blk_hdr(req, io)) {
        return;
    }
    q->op = blk_op(le32toh(io->hdr.type));
    q->sector = le64toh(io->hdr.sector);
    if (q->op == FAULTS_OP_READ && req->wr_len > 0) {
        q->nsectors = (req->wr_len - 1) / DEV_BLK_SECTOR_SIZE;
    } else if (q->op == FAULTS_OP_WRITE) {
        q->nsectors = (req->rd_len - BLK_HDR) / DEV_BLK_SECTOR_SIZE;
    } else if ((q->op == FAULTS_OP_DISCARD ||
                q->op == FAULTS_OP_WRITE_ZEROES) &&
               req->rd_len >= BLK_HDR + sizeof(seg) &&
               dev_req_read(req, BLK_HDR, &seg, sizeof(seg)) == 0) {
        q->sector = le64toh(seg.sector);
        q->nsectors = le32toh(seg.num_sectors);
    } else {
        q->sector = 0;
    }
}

/* do=resize: the disk becomes @bytes long (RAM reallocated, a file
 * extended, never truncated: shrinking only hides its tail), and the
 * driver is told through a config change. */
static int blk_resize(struct dev_blk *b, uint64_t bytes)
{
    uint64_t sectors = bytes / DEV_BLK_SECTOR_SIZE;

    if (b->fd < 0) {
        uint8_t *p = bytes <= SIZE_MAX ? realloc(b->ram, bytes) : NULL;

        if (!p) {
            return -ENOMEM;
        }
        if (sectors > b->sectors) {
            memset(p + b->sectors * DEV_BLK_SECTOR_SIZE, 0,
                   (sectors - b->sectors) * DEV_BLK_SECTOR_SIZE);
        }
        b->ram = p;
    } else {
        struct stat st;

        if (fstat(b->fd, &st) != 0) {
            return -errno;
        }
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < bytes &&
            ftruncate(b->fd, (off_t)bytes) != 0) {
            return -errno;
        }
        if (!S_ISREG(st.st_mode) && sectors > b->sectors) {
            return -ENOSPC;
        }
    }
    b->sectors = sectors;
    b->cfg.capacity = htole64(sectors);
    dev_config_changed(&b->dev);
    return 0;
}

/* Actions that change the device rather than one request. */
static void blk_fault_device(struct dev_blk *b, const struct faults_rule *r,
                             enum blk_act act)
{
    int rc;

    if (act == BA_TIMING) {
        if (r->pset & FAULTS_KEY(FAULTS_K_LATENCY)) {
            b->latency = r->p[FAULTS_K_LATENCY];
        }
        if (r->pset & FAULTS_KEY(FAULTS_K_BANDWIDTH)) {
            b->bandwidth = r->p[FAULTS_K_BANDWIDTH];
        }
    } else if (act == BA_RESIZE &&
               (rc = blk_resize(b, r->p[FAULTS_K_SIZE])) != 0) {
        VUSIM_WARN(BLK_SS, "do=resize,size=%" PRIu64 ": %s",
                   r->p[FAULTS_K_SIZE], strerror(-rc));
    }
}

/* Which action applies to @req, reported to the host when one fires. */
static void blk_fault_match(struct dev_blk *b, struct dev_req *req,
                            struct blk_io *io)
{
    struct faults_req q;
    struct faults_fire f;

    io->act = BA_NONE;
    io->rule = NULL;
    if (b->faults.n == 0) {
        return;
    }
    blk_classify(b, req, io, &q);
    if (!faults_match(&b->faults, &q, &f)) {
        return;
    }
    io->act = (enum blk_act)f.rule->action;
    io->rule = f.rule;
    b->fault_fired[io->act]++;
    dev_fault_report(req, &f);
    blk_fault_device(b, f.rule, io->act);
}

/* Held requests (hang, late) are a singly linked list through RQ_NEXT. */
static void blk_hold(struct dev_blk *b, struct dev_req *req, uint64_t flag)
{
    req->dev_data[RQ_FLAGS] |= flag;
    req->dev_data[RQ_NEXT] = (uint64_t)(uintptr_t)b->held;
    b->held = req;
}

static void blk_unhold(struct dev_blk *b, struct dev_req *req)
{
    struct dev_req **pp = &b->held;

    while (*pp && *pp != req) {
        pp = (struct dev_req **)&(*pp)->dev_data[RQ_NEXT];
    }
    if (*pp) {
        *pp = (struct dev_req *)(uintptr_t)req->dev_data[RQ_NEXT];
    }
    req->dev_data[RQ_FLAGS] &= ~(uint64_t)(RQF_HUNG | RQF_LATE);
}

/* ---- timing and completion ------------------------------------------ */

static void blk_late_release(struct dev_blk *b, uint64_t seq);

static void blk_done(struct sim_cal *cal, struct sim_event *ev)
{
    struct dev_req *req = container_of(ev, struct dev_req, ev);
    struct dev_blk *b = to_blk(req->dev);
    uint8_t status = (uint8_t)req->dev_data[RQ_STATUS];
    uint32_t used = (uint32_t)req->dev_data[RQ_USED];
    bool late = req->dev_data[RQ_FLAGS] & RQF_LATE;

    (void)cal;
    if (req->dev_data[RQ_FLAGS] & (RQF_HUNG | RQF_LATE)) {
        blk_unhold(b, req);
    }
    if (req->dev_data[RQ_STATUS] != BLK_NO_STATUS &&
        dev_req_write(req, req->wr_len - 1, &status, 1) != 0) {
        used = 0;
    }
    b->st.completed++;
    if (!late && b->held) {
        blk_late_release(b, (uint64_t)(uintptr_t)req);
    }
    dev_req_complete(req, used);
}

/* A later request completed: every late request completes right after
 * it, at the same time (priority 1 runs after its priority 0). Late ones
 * are the held ones flagged RQF_LATE; which popped later is not tracked,
 * so any other completion releases them. */
static void blk_late_release(struct dev_blk *b, uint64_t seq)
{
    sim_time_t now = sim_cal_now(b->dev.cal);

    (void)seq;
    for (struct dev_req *r = b->held; r;
         r = (struct dev_req *)(uintptr_t)r->dev_data[RQ_NEXT]) {
        if ((r->dev_data[RQ_FLAGS] & RQF_LATE) && sim_event_pending(&r->ev) &&
            sim_event_time(&r->ev) > now) {
            sim_cal_cancel(b->dev.cal, &r->ev);
            if (sim_cal_at(b->dev.cal, &r->ev, now, BLK_PRIO + 1) != 0) {
                VUSIM_ERR(BLK_SS, "cannot reschedule a late completion");
            }
        }
    }
}

/* The completion time of a request moving @xfer bytes popped now. */
static sim_time_t blk_done_time(struct dev_blk *b, uint64_t xfer)
{
    sim_time_t now = sim_cal_now(b->dev.cal), t, done;
    uint32_t c = dev_channel_pick(b->chan_free, b->nchan, now);
    sim_time_t start = b->chan_free[c] > now ? b->chan_free[c] : now;

    /* Saturate: a model that runs past 2^64 ps never completes. */
    if (sim_time_for_bytes(xfer, b->bandwidth, &t) ||
        sim_time_add(t, b->latency, &t) || sim_time_add(start, t, &done)) {
        done = SIM_TIME_MAX;
    }
    b->chan_free[c] = done;
    return done;
}

static void blk_schedule(struct dev_blk *b, struct dev_req *req,
                         const struct blk_io *io)
{
    sim_time_t done = blk_done_time(b, io->xfer);

    sim_event_init(&req->ev, blk_done, NULL);
    if (io->act == BA_HANG) {
        blk_hold(b, req, RQF_HUNG);
        return;
    }
    if (io->act == BA_DELAY || io->act == BA_LATE) {
        sim_time_t extra = io->act == BA_DELAY ||
                           (io->rule->pset & FAULTS_KEY(FAULTS_K_DELAY)) ?
                           io->rule->p[FAULTS_K_DELAY] : BLK_LATE_DEFAULT;
        if (sim_time_add(done, extra, &done)) {
            done = SIM_TIME_MAX;
        }
        if (io->act == BA_LATE) {
            blk_hold(b, req, RQF_LATE);
        }
    }
    if (sim_cal_at(b->dev.cal, &req->ev, done, BLK_PRIO) != 0) {
        VUSIM_ERR(BLK_SS, "cannot schedule a completion; completing now");
        blk_done(b->dev.cal, &req->ev);
    }
}

static void blk_avail(struct dev *d, uint16_t queue)
{
    struct dev_blk *b = to_blk(d);
    struct dev_req *req;
    struct blk_io io;

    while ((req = dev_pop(d, queue)) != NULL) {
        req->dev_data[RQ_FLAGS] = 0;
        io.hdr_state = 0;
        blk_fault_match(b, req, &io);
        blk_execute(b, req, &io);
        req->dev_data[RQ_USED] = io.used;
        req->dev_data[RQ_STATUS] = io.status;
        blk_schedule(b, req, &io);
    }
}

static void blk_cancel(struct dev *d, struct dev_req *req)
{
    struct dev_blk *b = to_blk(d);

    if (req->dev_data[RQ_FLAGS] & (RQF_HUNG | RQF_LATE)) {
        blk_unhold(b, req);
    }
    if (sim_event_pending(&req->ev)) {
        sim_cal_cancel(d->cal, &req->ev);
    }
    b->st.cancelled++;
}

static void blk_reset(struct dev *d)
{
    struct dev_blk *b = to_blk(d);

    memset(b->chan_free, 0, b->nchan * sizeof(b->chan_free[0]));
}

/* Release hung request @n (0 = the oldest) with @status: it completes now.
 * -ENOENT when there is no such request. */
static int blk_fault_release(struct dev *d, uint64_t n, int status)
{
    struct dev_blk *b = to_blk(d);
    struct dev_req *hung[64], *req = NULL;
    size_t k = 0;

    for (struct dev_req *r = b->held; r && k < 64;
         r = (struct dev_req *)(uintptr_t)r->dev_data[RQ_NEXT]) {
        if (r->dev_data[RQ_FLAGS] & RQF_HUNG) {
            hung[k++] = r;
        }
    }
    if (n >= k) {
        return -ENOENT;
    }
    req = hung[k - 1 - n];          /* the list is newest first */
    blk_unhold(b, req);
    if (status >= 0 && req->dev_data[RQ_STATUS] != BLK_NO_STATUS) {
        req->dev_data[RQ_STATUS] = (uint64_t)status;
    }
    if (sim_cal_at(d->cal, &req->ev, sim_cal_now(d->cal), BLK_PRIO) != 0) {
        blk_done(d->cal, &req->ev);
    }
    return 0;
}

static void blk_describe(struct dev *d, struct dev_req *req,
                         struct faults_req *out)
{
    struct blk_io io = { .hdr_state = 0 };

    blk_classify(to_blk(d), req, &io, out);
}

static struct faults_set *blk_faults(struct dev *d)
{
    return &to_blk(d)->faults;
}

/* A RAM disk (no --backing) starts as zeros: its size is all a trace
 * needs to make it again. */
static int blk_image_size(struct dev *d, uint64_t *bytes)
{
    *bytes = le64toh(to_blk(d)->cfg.capacity) * DEV_BLK_SECTOR_SIZE;
    return 0;
}

static int blk_get_config(struct dev *d, uint32_t off, void *buf,
                          uint32_t len)
{
    struct dev_blk *b = to_blk(d);

    if (off > sizeof(b->cfg) || len > sizeof(b->cfg) - off) {
        return -EINVAL;
    }
    memcpy(buf, (const uint8_t *)&b->cfg + off, len);
    return 0;
}

/* Nothing is writable: writeback is only writable with CONFIG_WCE. */
static int blk_set_config(struct dev *d, uint32_t off, const void *buf,
                          uint32_t len)
{
    VUSIM_DEBUG(BLK_SS, "config write at %" PRIu32 " (%" PRIu32
                " bytes) refused", off, len);
    return -EINVAL;
}

static int blk_stats_json(struct dev *d, char *buf, size_t len)
{
    const struct blk_stats *s = &to_blk(d)->st;
    int n = snprintf(buf, len,
        "\"req_in\": %" PRIu64 ", \"req_out\": %" PRIu64 ", "
        "\"req_flush\": %" PRIu64 ", \"req_get_id\": %" PRIu64 ", "
        "\"req_discard\": %" PRIu64 ", \"req_write_zeroes\": %" PRIu64 ", "
        "\"req_other\": %" PRIu64 ", \"bytes_read\": %" PRIu64 ", "
        "\"bytes_written\": %" PRIu64 ", \"errors\": %" PRIu64 ", "
        "\"unsupported\": %" PRIu64 ", \"completed\": %" PRIu64 ", "
        "\"cancelled\": %" PRIu64,
        s->in, s->out, s->flush, s->get_id, s->discard, s->write_zeroes,
        s->other, s->bytes_read, s->bytes_written, s->errors,
        s->unsupported, s->completed, s->cancelled);

    if (n >= 0 && (size_t)n < len) {
        int m = faults_stats_json(&to_blk(d)->faults, buf + n,
                                  len - (size_t)n);
        n = m < 0 ? m : n + m;
    }
    return (n < 0 || (size_t)n >= len) ? -ENOSPC : n;
}

/* ---- creation ------------------------------------------------------- */

/* Options as parsed, before any resource is taken. */
struct blk_cfg {
    const char *backing;
    uint64_t size, queues, channels, bandwidth;
    sim_time_t latency;
    bool ro;
    const char *serial;
};

static int blk_parse(const struct dev_opt *opts, size_t n,
                     struct blk_cfg *c, char *err, size_t errlen)
{
    const struct dev_opt *o;
    int rc = dev_opts_check(&dev_blk_ops, opts, n, err, errlen);

    *c = (struct blk_cfg){ .size = BLK_DEFAULT_RAM, .queues = 1,
                           .channels = 1, .serial = "vusim-blk" };
    if (!rc && (o = dev_opt_find(opts, n, "size"))) {
        rc = dev_opt_bytes(o, DEV_BLK_SECTOR_SIZE, UINT64_MAX, &c->size,
                           err, errlen);
        if (!rc && c->size % DEV_BLK_SECTOR_SIZE) {
            rc = -EINVAL;
            snprintf(err, errlen, "--size=%s: must be a multiple of 512 "
                     "bytes", o->value);
        }
    }
    if (!rc && (o = dev_opt_find(opts, n, "num-queues"))) {
        rc = dev_opt_u64(o, 1, DEV_BLK_MAX_QUEUES, &c->queues, err, errlen);
    }
    if (!rc && (o = dev_opt_find(opts, n, "channels"))) {
        rc = dev_opt_u64(o, 1, DEV_BLK_MAX_CHANNELS, &c->channels, err,
                         errlen);
    }
    if (!rc && (o = dev_opt_find(opts, n, "bandwidth"))) {
        rc = dev_opt_bytes(o, 0, UINT64_MAX, &c->bandwidth, err, errlen);
    }
    if (!rc && (o = dev_opt_find(opts, n, "latency"))) {
        rc = dev_opt_duration(o, &c->latency, err, errlen);
    }
    return rc;
}

/* The options that are strings or flags, and the ones that conflict. */
static int blk_parse_rest(const struct dev_opt *opts, size_t n,
                          struct blk_cfg *c, char *err, size_t errlen)
{
    const struct dev_opt *o = dev_opt_find(opts, n, "backing");

    c->ro = dev_opt_find(opts, n, "read-only") != NULL;
    if (o) {
        c->backing = o->value;
        if (dev_opt_find(opts, n, "size")) {
            snprintf(err, errlen, "--size: not allowed with --backing=%s "
                     "(the file's size is the disk's)", o->value);
            return -EINVAL;
        }
    }
    o = dev_opt_find(opts, n, "serial");
    if (o) {
        if (strlen(o->value) > DEV_BLK_ID_BYTES) {
            snprintf(err, errlen, "--serial=%s: at most %u bytes", o->value,
                     DEV_BLK_ID_BYTES);
            return -EINVAL;
        }
        c->serial = o->value;
    }
    return 0;
}

static int blk_open_backing(struct dev_blk *b, const char *path,
                            char *err, size_t errlen)
{
    struct stat st;
    off_t end;

    b->fd = open(path, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (b->fd < 0 || fstat(b->fd, &st) != 0) {
        snprintf(err, errlen, "--backing=%s: cannot open%s: %s", path,
                 b->ro ? " read-only" : " read-write", strerror(errno));
        return -EINVAL;
    }
    b->named = st.st_nlink > 0;     /* a memfd (replay's image) has none */
    end = S_ISBLK(st.st_mode) ? lseek(b->fd, 0, SEEK_END) : st.st_size;
    if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
        end = -1;
    }
    if (end < (off_t)DEV_BLK_SECTOR_SIZE) {
        snprintf(err, errlen, "--backing=%s: must be a regular file or "
                 "block device of at least 512 bytes", path);
        return -EINVAL;
    }
    if (end % DEV_BLK_SECTOR_SIZE) {
        VUSIM_WARN(BLK_SS, "%s: the last %u bytes are not a whole sector "
                   "and are not used", path,
                   (unsigned)(end % DEV_BLK_SECTOR_SIZE));
    }
    b->sectors = (uint64_t)end / DEV_BLK_SECTOR_SIZE;
    return 0;
}

static void blk_fill_config(struct dev_blk *b)
{
    struct dev_blk_config *c = &b->cfg;

    memset(c, 0, sizeof(*c));
    c->capacity = htole64(b->sectors);
    c->seg_max = htole32(DEV_BLK_SEG_MAX);
    c->blk_size = htole32(DEV_BLK_SECTOR_SIZE);
    c->writeback = 1;
    c->num_queues = htole16(b->dev.num_queues);
    c->max_discard_sectors = htole32(DEV_BLK_DWZ_MAX_SECTORS);
    c->max_discard_seg = htole32(DEV_BLK_DWZ_MAX_SEG);
    c->discard_sector_alignment = htole32(1);
    c->max_write_zeroes_sectors = htole32(DEV_BLK_DWZ_MAX_SECTORS);
    c->max_write_zeroes_seg = htole32(DEV_BLK_DWZ_MAX_SEG);
    c->write_zeroes_may_unmap = 1;
}

static void blk_destroy(struct dev *d)
{
    struct dev_blk *b;

    if (!d) {
        return;
    }
    b = to_blk(d);
    if (b->fd >= 0) {
        close(b->fd);
    }
    free(b->ram);
    free(b->buf);
    free(b->chan_free);
    faults_set_fini(&b->faults);
    free(b);
}

static void blk_setup(struct dev_blk *b, struct sim_cal *cal,
                      const struct blk_cfg *c)
{
    b->dev.ops = &dev_blk_ops;
    b->dev.cal = cal;
    b->dev.num_queues = (uint16_t)c->queues;
    b->dev.queue_size_max = DEV_BLK_QUEUE_SIZE_MAX;
    b->dev.config_size = sizeof(struct dev_blk_config);
    b->dev.features = (1ull << DEV_BLK_F_SEG_MAX) |
                      (1ull << DEV_BLK_F_BLK_SIZE) |
                      (1ull << DEV_BLK_F_FLUSH) |
                      (1ull << DEV_BLK_F_DISCARD) |
                      (1ull << DEV_BLK_F_WRITE_ZEROES) |
                      (c->ro ? 1ull << DEV_BLK_F_RO : 0) |
                      (c->queues > 1 ? 1ull << DEV_BLK_F_MQ : 0);
    b->ro = c->ro;
    b->latency = c->latency;
    b->bandwidth = c->bandwidth;
    b->nchan = (uint32_t)c->channels;
    memcpy(b->serial, c->serial, strlen(c->serial));   /* NUL-padded */
}

/* Channels, bounce buffer and backing store. */
static int blk_alloc(struct dev_blk *b, const struct blk_cfg *c, char *err,
                     size_t errlen)
{
    b->chan_free = calloc(b->nchan, sizeof(b->chan_free[0]));
    b->buf = malloc(BLK_CHUNK);
    if (!b->chan_free || !b->buf) {
        snprintf(err, errlen, "blk: out of memory");
        return -ENOMEM;
    }
    if (c->backing) {
        return blk_open_backing(b, c->backing, err, errlen);
    }
    if (c->size > SIZE_MAX || !(b->ram = calloc(1, c->size))) {
        snprintf(err, errlen, "--size=%" PRIu64 ": cannot allocate that "
                 "much RAM", c->size);
        return -ENOMEM;
    }
    b->sectors = c->size / DEV_BLK_SECTOR_SIZE;
    return 0;
}

/* The rules, and the values only this disk can check. */
static int blk_faults_setup(struct dev_blk *b, const struct dev_opt *opts,
                            size_t nopts, char *err, size_t errlen)
{
    int rc = dev_faults_create(&dev_blk_ops, opts, nopts, &b->faults, err,
                               errlen);

    for (size_t i = 0; rc == 0 && i < b->faults.n; i++) {
        const struct faults_rule *r = &b->faults.rules[i];

        if (r->action == BA_MISDIRECT && r->p[FAULTS_K_TO] >= b->sectors) {
            snprintf(err, errlen, "--fault=%s: to=%" PRIu64 ": beyond the "
                     "disk's %" PRIu64 " sectors", r->text,
                     r->p[FAULTS_K_TO], b->sectors);
            rc = -EINVAL;
        } else if (r->action == BA_RESIZE &&
                   (r->p[FAULTS_K_SIZE] < DEV_BLK_SECTOR_SIZE ||
                    r->p[FAULTS_K_SIZE] % DEV_BLK_SECTOR_SIZE)) {
            snprintf(err, errlen, "--fault=%s: size=%" PRIu64 ": must be a "
                     "multiple of 512 bytes, at least 512", r->text,
                     r->p[FAULTS_K_SIZE]);
            rc = -EINVAL;
        } else if (r->action == BA_TORN && r->p[FAULTS_K_SECTORS] == 0) {
            snprintf(err, errlen, "--fault=%s: sectors=0: a torn write "
                     "keeps 1 sector or more (do=lost keeps none)", r->text);
            rc = -EINVAL;
        }
    }
    return rc;
}

static int blk_create(struct sim_cal *cal, const struct dev_opt *opts,
                      size_t nopts, struct dev **out, char *err,
                      size_t errlen)
{
    struct blk_cfg c;
    struct dev_blk *b;
    char spare[1];
    int rc;

    if (!err || !errlen) {
        err = spare;
        errlen = sizeof(spare);
    }
    rc = blk_parse(opts, nopts, &c, err, errlen);
    if (rc || (rc = blk_parse_rest(opts, nopts, &c, err, errlen))) {
        return rc;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "blk: out of memory");
        return -ENOMEM;
    }
    b->fd = -1;
    blk_setup(b, cal, &c);
    rc = blk_alloc(b, &c, err, errlen);
    if (rc) {
        blk_destroy(&b->dev);
        return rc;
    }
    blk_fill_config(b);
    rc = blk_faults_setup(b, opts, nopts, err, errlen);
    if (rc) {
        blk_destroy(&b->dev);
        return rc;
    }
    *out = &b->dev;
    return 0;
}

const struct dev_ops dev_blk_ops = {
    .name = "blk",
    .virtio_id = DEV_BLK_VIRTIO_ID,
    .opts = blk_opts,
    .create = blk_create,
    .destroy = blk_destroy,
    .avail = blk_avail,
    .cancel = blk_cancel,
    .reset = blk_reset,
    .get_config = blk_get_config,
    .set_config = blk_set_config,
    .stats_json = blk_stats_json,
    .fault_actions = blk_fault_actions,
    .faults = blk_faults,
    .fault_release = blk_fault_release,
    .describe = blk_describe,
    .vhost_user_type = "block",
    .vhost_user_features = dev_blk_vhost_user_features,
    .feature_names = dev_blk_feature_names,
    .aliases = dev_blk_aliases,
    .image_opt = "backing",
    .seed_opt = "seed",
    .image_size = blk_image_size,
    .decode = dev_blk_decode,
    .status_name = dev_blk_status_name,
    .channels = dev_blk_channels,
    .fail_status = &dev_blk_fail_status,
    .work = &dev_blk_work,
};
