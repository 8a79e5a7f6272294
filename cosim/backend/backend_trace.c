/* SPDX-License-Identifier: MIT */
/*
 * The back-end's recording hooks (cosim/backend/backend_trace.h): thin glue from
 * the back-end's state to the trace writer. Each hook returns at once when
 * no trace is attached, so the back-end calls them unconditionally.
 */
#define _GNU_SOURCE
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/backend/backend-internal.h"
#include "devices/faults/faults.h"
#include "cosim/backend/backend_trace.h"
#include "sim/log.h"

#define SS "trace"
#define VU_BLK_VIRTIO_ID 2        /* a RAM disk starts as zeros */
#define VU_IMAGE_OPT "backing"

/* ---- hooks ---- */

void vu_trace_enter(struct vu_backend *be)
{
    if (be->trace) {
        trace_writer_dev_enter(be->trace);
    }
}

void vu_trace_leave(struct vu_backend *be)
{
    if (be->trace) {
        trace_writer_dev_leave(be->trace);
    }
}

/* ---- front-end addresses ---- */

/*
 * A front-end may lay out the same memory at other addresses every run
 * (UML's memory sits wherever its host process maps it, and its rings
 * wherever its allocator puts them). Memory tables are traced relative to
 * the connection's first one (the lowest guest address, user address and
 * mmap offset of its regions), ring addresses relative to the ring's
 * descriptor table (traces/FORMAT.md, MSG).
 */
static void base_note(struct vu_trace_base *b, const struct vu_mem_region *r,
                      uint32_t n)
{
    if (b->set || n == 0) {
        return;
    }
    *b = (struct vu_trace_base){ .set = true, .gpa = UINT64_MAX,
                                 .uva = UINT64_MAX, .off = UINT64_MAX };
    for (uint32_t i = 0; i < n; i++) {
        b->gpa = r[i].gpa < b->gpa ? r[i].gpa : b->gpa;
        b->uva = r[i].uva < b->uva ? r[i].uva : b->uva;
        b->off = r[i].mmap_offset < b->off ? r[i].mmap_offset : b->off;
    }
}

static void base_regions(const struct vu_trace_base *b,
                         struct vu_mem_region *r, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        r[i].gpa -= b->gpa;
        r[i].uva -= b->uva;
        r[i].mmap_offset -= b->off;
    }
}

/* Rebase the addresses in @p (a copy of @m's payload) where there are. */
static void rebase(struct vu_trace_base *b, const struct vu_msg *m,
                   union vu_payload *p)
{
    uint32_t size = m->hdr.size, n;

    switch (m->hdr.request) {
    case VU_REQ_SET_MEM_TABLE:
        n = size >= 8 ? p->mem.nregions : 0;
        if (n > VU_MEM_TABLE_MAX ||
            size < 8 + n * sizeof(struct vu_mem_region)) {
            return;
        }
        base_note(b, p->mem.regions, n);
        base_regions(b, p->mem.regions, n);
        break;
    case VU_REQ_ADD_MEM_REG:
    case VU_REQ_REM_MEM_REG:
        if (size >= sizeof(struct vu_mem_single)) {
            base_note(b, &p->mreg.region, 1);
            base_regions(b, &p->mreg.region, 1);
        }
        break;
    case VU_REQ_SET_VRING_ADDR:
        /* Where a guest puts its rings moves too (UML's allocations do):
         * keep the ring's own layout, relative to its descriptor table. */
        if (size >= sizeof(struct vu_vring_addr)) {
            p->addr.used -= p->addr.desc;
            p->addr.avail -= p->addr.desc;
            p->addr.desc = 0;
        }
        break;
    default:
        break;
    }
}

void vu_trace_msg(struct vu_backend *be, enum trace_msg_dir dir,
                  const struct vu_msg *m)
{
    union vu_payload p;
    uint32_t n;

    if (!be->trace) {
        return;
    }
    n = m->hdr.size < VU_PAYLOAD_MAX ? m->hdr.size : VU_PAYLOAD_MAX;
    memcpy(&p, &m->p, n);
    if (dir == TRACE_MSG_FE_REQ) {
        rebase(&be->trace_base, m, &p);
    }
    trace_write_msg(be->trace, dir, m->hdr.request, m->hdr.flags,
                    m->hdr.size, &p, n, m->nfds > 0 ? (unsigned)m->nfds : 0);
}

void vu_trace_conn(struct vu_backend *be, bool up)
{
    be->trace_base.set = false;   /* a new front-end, a new layout */
    if (be->trace) {
        trace_write_conn(be->trace, up);
    }
}

void vu_trace_neg(struct vu_backend *be, enum trace_neg what, uint64_t v)
{
    if (be->trace) {
        trace_write_neg(be->trace, what, v);
    }
}

void vu_trace_config(struct vu_backend *be, bool set, uint32_t off,
                     const void *data, uint32_t len, int rc)
{
    if (be->trace) {
        trace_writer_dev_leave(be->trace);
        trace_write_config(be->trace, set, off, len, rc, data,
                           set || rc == 0 ? len : 0);
    }
}

void vu_trace_reset(struct vu_backend *be)
{
    if (be->trace) {
        trace_write_reset(be->trace);
        trace_writer_dev_enter(be->trace);
    }
}

void vu_trace_kick(struct vu_queue *q, bool inband)
{
    if (q->be->trace) {
        trace_write_kick(q->be->trace, q->index, inband ?
                         TRACE_NOTIFY_INBAND : TRACE_NOTIFY_EVENTFD);
    }
}

void vu_trace_avail(struct vu_queue *q)
{
    if (q->be->trace) {
        trace_write_avail(q->be->trace, q->index);
        trace_writer_dev_enter(q->be->trace);
    }
}

/* A stop is recorded only for a started queue: the hook runs only then. */
void vu_trace_queue(struct vu_queue *q, bool started)
{
    if (!q->be->trace) {
        return;
    }
    if (started || q->started) {
        trace_write_queue(q->be->trace, q->index, started);
    }
    trace_writer_dev_enter(q->be->trace);
}

/* The path this call takes, as vu_queue_notify() chooses it. */
void vu_trace_call(struct vu_queue *q)
{
    struct vu_backend *be = q->be;
    enum trace_notify mode = TRACE_NOTIFY_NONE;

    if (!be->trace) {
        return;
    }
    if (q->call_fd >= 0) {
        mode = TRACE_NOTIFY_EVENTFD;
    } else if (vu_inband_ok(be)) {
        mode = TRACE_NOTIFY_INBAND;
    }
    trace_write_call(be->trace, q->index, mode);
    /* The crash-safety rule: the completion is in the file before the
     * guest can learn of it. */
    trace_writer_flush(be->trace);
}

void vu_trace_pop(struct vu_request *r)
{
    struct vu_backend *be = r->q->be;
    const struct vu_chain *ch = &r->chain;
    struct trace_chain c = {
        .queue = r->q->index,
        .head = ch->head,
        .flags = ch->indirect ? TRACE_CHAIN_INDIRECT : 0,
        .ndesc = ch->ndesc,
        .nrd = ch->nrd,
        .nwr = ch->nwr,
        .rd_len = r->dreq.rd_len,
        .wr_len = r->dreq.wr_len,
    };
    uint8_t extra = 0, *p;

    if (!be->trace) {
        return;
    }
    trace_wbuf_clear(&r->trace_wb);
    if (trace_write_chain_begin(be->trace, &c, &r->trace_id) < 0) {
        return;
    }
    for (uint32_t i = 0; i < ch->nrd + ch->nwr; i++) {
        trace_write_chain_seg(be->trace, ch->segs[i].len);
    }
    p = trace_write_chain_data(be->trace);
    /* The guest's input, in full, as it is when the device takes it. */
    if (p && c.rd_len &&
        vu_chain_read(ch, &be->mem, 0, p, c.rd_len) < 0) {
        memset(p, 0, c.rd_len);
        extra = TRACE_CHAIN_UNREADABLE;
    }
    trace_write_chain_end(be->trace, extra);
}

void vu_trace_write(struct vu_request *r, uint64_t off, const void *buf,
                    size_t len)
{
    struct vu_backend *be = r->q->be;
    int rc;

    if (!be->trace) {
        return;
    }
    rc = trace_wbuf_write(&r->trace_wb, off, buf, len);
    if (rc < 0 && be->errs_logged++ < 16) {
        VUSIM_ERR(SS, "conn %u: cannot keep the bytes written on queue %u "
                  "for the trace (%s); its hash will not replay",
                  be->cfg.conn_id, r->q->index, strerror(-rc));
    }
}

void vu_trace_complete(struct vu_request *r, uint32_t used_len)
{
    struct vu_backend *be = r->q->be;
    struct trace_done d;

    if (!be->trace) {
        return;
    }
    trace_done_compute(trace_writer_digest(be->trace), &r->trace_wb,
                       r->dreq.wr_len, used_len, &d);
    trace_write_complete(be->trace, r->trace_id, r->q->index,
                         r->chain.head, &d);
}

void vu_trace_fault(struct vu_request *r, const struct faults_fire *f)
{
    struct vu_backend *be = r->q->be;
    struct trace_fault tf = {
        .id = r->trace_id, .queue = r->q->index, .rule = f->rule->id,
        .firing = f->firing, .action = f->action, .state = f->state,
        .text = f->rule->text,
    };

    if (be->trace) {
        trace_write_fault(be->trace, &tf);
    }
}

void vu_trace_cancel(struct vu_request *r)
{
    if (r->q->be->trace) {
        trace_write_cancel(r->q->be->trace, r->trace_id, r->q->index);
        trace_writer_dev_enter(r->q->be->trace);
    }
}

void vu_trace_req_fini(struct vu_request *r)
{
    trace_wbuf_fini(&r->trace_wb);
}

/* ---- attaching a trace ---- */

void vu_backend_set_trace(struct vu_backend *be, struct trace_writer *w)
{
    if (be->trace) {
        trace_writer_set_cal(be->trace, NULL);
    }
    be->trace = w;
    if (w) {
        trace_writer_set_cal(w, be->dev->cal);
    }
}

static const char *inband_name(enum vu_inband_mode m)
{
    return m == VU_INBAND_ON ? "on" : m == VU_INBAND_OFF ? "off" : "auto";
}

/* The disk at start: a backing file's size and hash, or a RAM disk. */
static int trace_image(struct vu_backend *be, const struct vu_trace_cfg *cfg,
                       struct trace_header *h, char *err, size_t errlen)
{
    struct dev *dev = be->dev;
    uint64_t cap = 0;
    int rc;

    for (size_t i = 0; i < cfg->nopts; i++) {
        if (strcmp(cfg->opts[i].name, VU_IMAGE_OPT) != 0 ||
            !cfg->opts[i].value) {
            continue;
        }
        h->image = TRACE_IMAGE_FILE;
        h->image_opt = VU_IMAGE_OPT;
        rc = trace_image_hash(cfg->opts[i].value, &h->image_size,
                              h->image_sha256);
        if (rc < 0) {
            snprintf(err, errlen, "--%s=%s: cannot hash it for the trace: "
                     "%s", VU_IMAGE_OPT, cfg->opts[i].value, strerror(-rc));
        }
        return rc;
    }
    if (dev->ops->virtio_id == VU_BLK_VIRTIO_ID && dev->ops->get_config &&
        dev->ops->get_config(dev, 0, &cap, sizeof(cap)) == 0) {
        h->image = TRACE_IMAGE_RAM;
        h->image_size = le64toh(cap) * 512u;
    }
    return 0;
}

int vu_trace_open(struct vu_backend *be, const struct vu_trace_cfg *cfg,
                  struct trace_writer **out, char *err, size_t errlen)
{
    struct trace_opt *opts = calloc(cfg->nopts + 1, sizeof(*opts));
    struct trace_writer_cfg wcfg = { .wallclock = cfg->wallclock };
    struct trace_header h = {
        .device = cfg->device ? cfg->device : be->dev->ops->name,
        .virtio_id = be->dev->ops->virtio_id,
        .num_queues = be->nq,
        .features = vu_backend_features(be),
        .protocol_features = vu_backend_protocol_features(be),
        .clock = cfg->clock ? cfg->clock : "afap",
        .inband = inband_name(be->cfg.inband),
        .seed = cfg->seed,
        .conn_id = be->cfg.conn_id,
        .opts = opts,
        .nopts = cfg->nopts,
        .digest = cfg->digest,
    };
    int rc = opts ? 0 : -ENOMEM;

    for (size_t i = 0; opts && i < cfg->nopts; i++) {
        opts[i] = (struct trace_opt){ cfg->opts[i].name, cfg->opts[i].value };
    }
    if (rc == 0) {
        rc = trace_image(be, cfg, &h, err, errlen);
    }
    if (rc == 0) {
        rc = trace_writer_open(cfg->path, &h, &wcfg, out);
        if (rc < 0) {
            snprintf(err, errlen, "--trace=%s: %s", cfg->path,
                     strerror(-rc));
        }
    }
    if (rc == 0) {
        vu_backend_set_trace(be, *out);
    }
    free(opts);
    return rc;
}

int vu_trace_close(struct vu_backend *be, struct trace_writer *w)
{
    if (be && be->trace == w) {
        vu_backend_set_trace(be, NULL);
    }
    return trace_writer_close(w);
}
