/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/mkseeds.c - seed corpora from a trace recorded with a real
 * guest (`vusim blk|rng --trace`, e.g. tests/guest/uml-blk-trace.sh)
 *
 * Usage: mkseeds TRACE OUTDIR [PREFIX]. Writes, under OUTDIR/TARGET/:
 *   msg    the front-end's requests of each connection as fuzz_msg frames
 *          (fds of the kind each request takes), in windows of up to 16 KiB
 *          that always start with the connection's set-up;
 *   blk    the chains the device took (readable bytes as recorded), eight
 *          per seed, for a blk trace; rng the same for an rng trace,
 *          and from a blk trace too (the buffer shapes are what matter);
 *   vq     rings laid out in guest memory from the chains' recorded
 *          segment shapes (direct or indirect), eight per seed;
 *   trace  the trace's first records, cut at record boundaries, and with a
 *          torn tail.
 * The seeds are real traffic; the fuzzer mutates from there.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cosim/wire/proto.h"
#include "traces/reader.h"

static const char *g_out, *g_prefix = "uml";
static unsigned g_n;

static void put(const char *target, const void *buf, size_t len)
{
    char path[4096];
    FILE *f;

    mkdir(g_out, 0755);
    snprintf(path, sizeof(path), "%s/%s", g_out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s-%03u", g_out, target, g_prefix,
             g_n++);
    while (len > 1 && ((const uint8_t *)buf)[len - 1] == 0) {
        len--;      /* the targets read zeros past the end anyway */
    }
    f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

struct buf {
    uint8_t b[1 << 16];
    size_t n;
};

static void add(struct buf *b, const void *p, size_t len)
{
    if (b->n + len <= sizeof(b->b)) {
        memcpy(b->b + b->n, p, len);
        b->n += len;
    }
}

/* fuzz_msg's ctl byte: nfds and 2-bit kinds (0 memfd, 1 eventfd,
 * 2 socket, 3 pipe). */
static uint8_t msg_ctl(uint32_t req, unsigned nfds)
{
    unsigned kind = 1;

    if (nfds == 0) {
        return 0;
    }
    if (req == VU_REQ_SET_MEM_TABLE || req == VU_REQ_ADD_MEM_REG) {
        kind = 0;
    } else if (req == VU_REQ_SET_BACKEND_REQ_FD) {
        kind = 2;
    }
    nfds = nfds > 3 ? 3 : nfds;
    return (uint8_t)(nfds | kind << 2 | kind << 4 | kind << 6);
}

static void seeds_msg(const struct trace_reader *r)
{
    static struct buf setup, win;
    struct trace_rec rec;
    bool in_setup = true;

    for (size_t i = 0; i < trace_reader_count(r); i++) {
        struct buf *b;
        uint8_t ctl;
        struct vu_hdr h;

        trace_reader_get(r, i, &rec);
        if (rec.type == TRACE_CONN && !rec.u.conn.up) {
            if (win.n) {
                put("msg", win.b, win.n);
            }
            setup.n = win.n = 0;
            in_setup = true;
            continue;
        }
        if (rec.type != TRACE_MSG || rec.u.msg.dir != TRACE_MSG_FE_REQ) {
            continue;
        }
        if (rec.u.msg.request == VU_REQ_VRING_KICK && in_setup) {
            in_setup = false;
            put("msg", setup.b, setup.n);
            win = setup;
        }
        b = in_setup ? &setup : &win;
        if (!in_setup && win.n + 13 + rec.u.msg.plen > 16384) {
            put("msg", win.b, win.n);
            win = setup;
        }
        ctl = msg_ctl(rec.u.msg.request, rec.u.msg.nfds);
        h = (struct vu_hdr){ rec.u.msg.request, rec.u.msg.flags,
                             rec.u.msg.size };
        add(b, &ctl, 1);
        add(b, &h, sizeof(h));
        add(b, rec.u.msg.data, rec.u.msg.plen);
    }
    if (!in_setup && win.n) {
        put("msg", win.b, win.n);
    }
}

/* devreq.h: { u8 op; u16 rd_len; u16 wr_len; rd bytes } after an options
 * byte. */
static void seeds_dev(const struct trace_reader *r, const char *target)
{
    static struct buf b;
    struct trace_rec rec;
    unsigned k = 0;
    uint8_t opt = 0;

    b.n = 0;
    add(&b, &opt, 1);
    for (size_t i = 0; i < trace_reader_count(r); i++) {
        uint8_t op = 0x20;
        uint16_t rl, wl;

        trace_reader_get(r, i, &rec);
        if (rec.type != TRACE_CHAIN || rec.u.chain.rd_len > 4199 ||
            rec.u.chain.wr_len > 8299) {
            continue;
        }
        rl = (uint16_t)rec.u.chain.rd_len;
        wl = (uint16_t)rec.u.chain.wr_len;
        add(&b, &op, 1);
        add(&b, &rl, 2);
        add(&b, &wl, 2);
        add(&b, rec.u.chain.rd, rl);
        if (++k % 8 == 0) {
            put(target, b.b, b.n);
            opt = (uint8_t)(k / 8);       /* vary the device options */
            b.n = 0;
            add(&b, &opt, 1);
        }
    }
    if (b.n > 1) {
        put(target, b.b, b.n);
    }
}

/* fuzz_vq's layout: header, script, two 8 KiB regions (A at gpa 0). Ring
 * of 16 at desc 0x0, avail 0x200, used 0x300; indirect tables from 0x600;
 * buffers from 0x1000 (A) and into B. */
#define VQ_NUM 16
struct vq_img {
    uint8_t hdr[16];
    uint8_t script[16];
    uint8_t mem[2][0x2000];
};

static void vq_desc(uint8_t *at, uint64_t addr, uint32_t len, uint16_t fl,
                    uint16_t next)
{
    struct vu_desc d = { addr, len, fl, next };

    memcpy(at, &d, sizeof(d));
}

static void seeds_vq(const struct trace_reader *r)
{
    static struct vq_img img;
    struct trace_rec rec;
    unsigned k = 0;

    for (size_t i = 0; i < trace_reader_count(r); i++) {
        uint16_t head, nseg, avail_idx;
        uint64_t buf = 0x1000 + (k % 8) * 0x100, itab = 0x600 + (k % 8) * 0x80;
        bool ind;

        trace_reader_get(r, i, &rec);
        if (rec.type != TRACE_CHAIN) {
            continue;
        }
        if (k % 8 == 0) {
            uint16_t v[8] = { 0, 0x200, 0x300, 0, 16, 0, 0, 0 };

            memset(&img, 0, sizeof(img));
            img.hdr[0] = 3;                   /* EVENT_IDX, INDIRECT_DESC */
            img.hdr[1] = 4;                   /* 2^4 = 16 */
            memcpy(img.hdr + 2, &v[0], 2);
            memcpy(img.hdr + 4, &v[1], 2);
            memcpy(img.hdr + 6, &v[2], 2);
            memcpy(img.hdr + 8, &v[3], 2);
            memcpy(img.hdr + 10, &v[4], 2);   /* script length */
            memset(img.script, 0, sizeof(img.script));   /* pops */
        }
        head = (uint16_t)((k % 8) * 2);
        nseg = (uint16_t)(rec.u.chain.nrd + rec.u.chain.nwr);
        ind = (rec.u.chain.flags & TRACE_CHAIN_INDIRECT) && nseg <= 8;
        for (uint16_t s = 0; s < nseg && s < 8; s++) {
            uint32_t len = trace_le32(rec.u.chain.seg_len + 4 * s);
            uint16_t fl = s >= rec.u.chain.nrd ? VU_DESC_F_WRITE : 0;
            uint8_t *at;

            len = len > 0x40 ? 0x40 : len;    /* keep buffers in A */
            if (s + 1 < nseg && s + 1 < 8) {
                fl |= VU_DESC_F_NEXT;
            }
            at = ind ? img.mem[0] + itab + 16 * s
                     : img.mem[0] + 16 * ((head + s) % VQ_NUM);
            vq_desc(at, buf + 0x40 * s, len, fl,
                    (uint16_t)(ind ? s + 1 : (head + s + 1) % VQ_NUM));
        }
        if (ind) {
            vq_desc(img.mem[0] + 16 * head, itab, 16u * (nseg < 8 ? nseg : 8),
                    VU_DESC_F_INDIRECT, 0);
        }
        memcpy(img.mem[0] + 0x200 + 4 + 2 * (k % 8), &head, 2);
        avail_idx = (uint16_t)(k % 8 + 1);
        memcpy(img.mem[0] + 0x200 + 2, &avail_idx, 2);
        if (++k % 8 == 0 && k <= 8 * 8) {
            put("vq", &img, sizeof(img));
        }
    }
}

static void seeds_trace(const struct trace_reader *r)
{
    static uint8_t b[1 + 65536];
    struct trace_status_info st;
    size_t cut[] = { 8, 40, 200, 1000 };

    trace_reader_status(r, &st);
    for (size_t c = 0; c < sizeof(cut) / sizeof(cut[0]); c++) {
        struct trace_rec rec;
        size_t n = cut[c] < trace_reader_count(r) ? cut[c]
                                                  : trace_reader_count(r);
        size_t flen, end;

        if (n == 0) {
            break;
        }
        trace_reader_get(r, n - 1, &rec);
        trace_reader_frame(r, n - 1, &flen);
        end = (size_t)rec.offset + flen;
        if (end + 1 > sizeof(b)) {
            break;
        }
        b[0] = 0;                             /* CRCs as they are */
        memcpy(b + 1, trace_reader_frame(r, 0, &flen) - TRACE_PREAMBLE_SIZE,
               end);
        put("trace", b, end + 1);
        put("trace", b, end + 1 - 7);         /* torn */
    }
}

int main(int argc, char **argv)
{
    struct trace_reader *r;
    const struct trace_header *h;
    char err[256];

    if (argc < 3) {
        fprintf(stderr, "usage: mkseeds TRACE OUTDIR [PREFIX]\n");
        return 2;
    }
    g_out = argv[2];
    if (argc > 3) {
        g_prefix = argv[3];
    }
    if (trace_reader_open(argv[1], &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "mkseeds: %s\n", err);
        return 1;
    }
    h = trace_reader_header(r);
    seeds_msg(r);
    seeds_trace(r);
    seeds_vq(r);
    seeds_dev(r, h && h->virtio_id == 4 ? "rng" : "blk");
    if (h && h->virtio_id != 4) {
        seeds_dev(r, "rng");      /* the same buffer shapes for rng */
    }
    printf("mkseeds: %u seeds from %zu records\n", g_n,
           trace_reader_count(r));
    trace_reader_free(r);
    return 0;
}
