/* SPDX-License-Identifier: MIT */
/*
 * The recorder (traces/record.h): a back-end observer
 * (cosim/backend/observer.h) that writes what it is told to a trace writer.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/backend/observer.h"
#include "devices/dev.h"
#include "devices/faults/faults.h"
#include "sim/log.h"
#include "traces/record.h"

#define SS "trace"
#define REC_ERR_LINES 16

/* Front-end addresses are traced relative to its first memory table. */
struct rec_base {
    bool set;
    uint64_t gpa, uva, off;
};

struct trace_recorder {
    struct trace_writer *w;
    struct rec_base base;
    uint32_t conn_id;             /* for log lines */
    int errs_logged;
};

/* What the recorder keeps per request (the observer's request slot). */
struct rec_req {
    uint64_t id;                  /* the CHAIN's request id */
    struct trace_wbuf wb;         /* what the device wrote */
};

/* ---- hooks ---- */

static void rec_dev_enter(void *ctx)
{
    struct trace_recorder *t = ctx;

    trace_writer_dev_enter(t->w);
}

static void rec_dev_leave(void *ctx)
{
    struct trace_recorder *t = ctx;

    trace_writer_dev_leave(t->w);
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
static void base_note(struct rec_base *b, const struct vu_mem_region *r,
                      uint32_t n)
{
    if (b->set || n == 0) {
        return;
    }
    *b = (struct rec_base){ .set = true, .gpa = UINT64_MAX,
                                 .uva = UINT64_MAX, .off = UINT64_MAX };
    for (uint32_t i = 0; i < n; i++) {
        b->gpa = r[i].gpa < b->gpa ? r[i].gpa : b->gpa;
        b->uva = r[i].uva < b->uva ? r[i].uva : b->uva;
        b->off = r[i].mmap_offset < b->off ? r[i].mmap_offset : b->off;
    }
}

static void base_regions(const struct rec_base *b,
                         struct vu_mem_region *r, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        r[i].gpa -= b->gpa;
        r[i].uva -= b->uva;
        r[i].mmap_offset -= b->off;
    }
}

/* Rebase the addresses in @p (a copy of @m's payload) where there are. */
static void rebase(struct rec_base *b, const struct vu_msg *m,
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

static enum trace_msg_dir msg_dir(enum vu_obs_dir dir)
{
    switch (dir) {
    case VU_OBS_BE_REPLY: return TRACE_MSG_BE_REPLY;
    case VU_OBS_BE_REQ: return TRACE_MSG_BE_REQ;
    case VU_OBS_FE_REPLY: return TRACE_MSG_FE_REPLY;
    default: return TRACE_MSG_FE_REQ;
    }
}

static void rec_msg(void *ctx, enum vu_obs_dir dir, const struct vu_msg *m)
{
    struct trace_recorder *t = ctx;
    union vu_payload p;
    uint32_t n;

    n = m->hdr.size < VU_PAYLOAD_MAX ? m->hdr.size : VU_PAYLOAD_MAX;
    memcpy(&p, &m->p, n);
    if (dir == VU_OBS_FE_REQ) {
        rebase(&t->base, m, &p);
    }
    trace_write_msg(t->w, msg_dir(dir), m->hdr.request, m->hdr.flags,
                    m->hdr.size, &p, n, m->nfds > 0 ? (unsigned)m->nfds : 0);
}

static void rec_conn(void *ctx, bool up)
{
    struct trace_recorder *t = ctx;

    t->base.set = false;          /* a new front-end, a new layout */
    trace_write_conn(t->w, up);
}

static void rec_neg(void *ctx, enum vu_obs_neg what, uint64_t v)
{
    struct trace_recorder *t = ctx;

    trace_write_neg(t->w, what == VU_OBS_NEG_PROTOCOL ? TRACE_NEG_PROTOCOL
                                                      : TRACE_NEG_FEATURES,
                    v);
}

static void rec_config(void *ctx, bool set, uint32_t off, const void *data,
                       uint32_t len, int rc)
{
    struct trace_recorder *t = ctx;

    trace_writer_dev_leave(t->w);
    trace_write_config(t->w, set, off, len, rc, data,
                       set || rc == 0 ? len : 0);
}

static void rec_reset(void *ctx)
{
    struct trace_recorder *t = ctx;

    trace_write_reset(t->w);
    trace_writer_dev_enter(t->w);
}

static void rec_kick(void *ctx, uint16_t queue, bool inband)
{
    struct trace_recorder *t = ctx;

    trace_write_kick(t->w, queue, inband ? TRACE_NOTIFY_INBAND
                                         : TRACE_NOTIFY_EVENTFD);
}

static void rec_avail(void *ctx, uint16_t queue)
{
    struct trace_recorder *t = ctx;

    trace_write_avail(t->w, queue);
    trace_writer_dev_enter(t->w);
}

/* A stop is recorded only when the device's hook runs (a started queue). */
static void rec_queue(void *ctx, uint16_t queue, bool started, bool hook)
{
    struct trace_recorder *t = ctx;

    if (hook) {
        trace_write_queue(t->w, queue, started);
    }
    trace_writer_dev_enter(t->w);
}

static void rec_call(void *ctx, uint16_t queue, enum vu_obs_notify how)
{
    struct trace_recorder *t = ctx;
    enum trace_notify mode = how == VU_OBS_NOTIFY_EVENTFD ?
                             TRACE_NOTIFY_EVENTFD :
                             how == VU_OBS_NOTIFY_INBAND ?
                             TRACE_NOTIFY_INBAND : TRACE_NOTIFY_NONE;

    trace_write_call(t->w, queue, mode);
    /* The crash-safety rule: the completion is in the file before the
     * guest can learn of it. */
    trace_writer_flush(t->w);
}

static void rec_pop(void *ctx, void **slot, const struct vu_obs_chain *oc)
{
    struct trace_recorder *t = ctx;
    const struct vu_chain *ch = oc->chain;
    struct rec_req *rq = *slot;
    struct trace_chain c = {
        .queue = oc->queue,
        .head = ch->head,
        .flags = ch->indirect ? TRACE_CHAIN_INDIRECT : 0,
        .ndesc = ch->ndesc,
        .nrd = ch->nrd,
        .nwr = ch->nwr,
        .rd_len = oc->rd_len,
        .wr_len = oc->wr_len,
    };
    uint8_t extra = 0, *p;
    uint64_t id;

    if (!rq && (rq = calloc(1, sizeof(*rq))) != NULL) {
        *slot = rq;
    }
    if (rq) {
        trace_wbuf_clear(&rq->wb);
    } else if (t->errs_logged++ < REC_ERR_LINES) {
        VUSIM_ERR(SS, "conn %u: no memory to keep a request's bytes on "
                  "queue %u for the trace; its hash will not replay",
                  t->conn_id, oc->queue);
    }
    if (trace_write_chain_begin(t->w, &c, &id) < 0) {
        return;
    }
    if (rq) {
        rq->id = id;
    }
    for (uint32_t i = 0; i < ch->nrd + ch->nwr; i++) {
        trace_write_chain_seg(t->w, ch->segs[i].len);
    }
    p = trace_write_chain_data(t->w);
    /* The guest's input, in full, as it is when the device takes it. */
    if (p && c.rd_len && vu_chain_read(ch, oc->mem, 0, p, c.rd_len) < 0) {
        memset(p, 0, c.rd_len);
        extra = TRACE_CHAIN_UNREADABLE;
    }
    trace_write_chain_end(t->w, extra);
}

static void rec_write(void *ctx, void *req, uint16_t queue, uint64_t off,
                      const void *buf, size_t len)
{
    struct trace_recorder *t = ctx;
    struct rec_req *rq = req;
    int rc = rq ? trace_wbuf_write(&rq->wb, off, buf, len) : -ENOMEM;

    if (rc < 0 && t->errs_logged++ < REC_ERR_LINES) {
        VUSIM_ERR(SS, "conn %u: cannot keep the bytes written on queue %u "
                  "for the trace (%s); its hash will not replay",
                  t->conn_id, queue, strerror(-rc));
    }
}

static void rec_complete(void *ctx, void *req, uint16_t queue, uint16_t head,
                         uint32_t wr_len, uint32_t used_len)
{
    struct trace_recorder *t = ctx;
    struct rec_req *rq = req;
    struct trace_wbuf none = { 0 };
    struct trace_done d;

    trace_done_compute(trace_writer_digest(t->w), rq ? &rq->wb : &none,
                       wr_len, used_len, &d);
    trace_write_complete(t->w, rq ? rq->id : 0, queue, head, &d);
}

static void rec_cancel(void *ctx, void *req, uint16_t queue)
{
    struct trace_recorder *t = ctx;
    struct rec_req *rq = req;

    trace_write_cancel(t->w, rq ? rq->id : 0, queue);
    trace_writer_dev_enter(t->w);
}

static void rec_fault(void *ctx, void *req, uint16_t queue,
                      const struct faults_fire *f)
{
    struct trace_recorder *t = ctx;
    struct rec_req *rq = req;
    struct trace_fault tf = {
        .id = rq ? rq->id : 0, .queue = queue, .rule = f->rule->id,
        .firing = f->firing, .action = f->action, .state = f->state,
        .text = f->rule->text,
    };

    trace_write_fault(t->w, &tf);
}

static void rec_control(void *ctx, const struct dev_ctl *c)
{
    struct trace_recorder *t = ctx;
    struct trace_control tc = {
        .op = (uint8_t)c->op, .arg = c->arg, .status = c->status,
        .text = c->text,
    };

    trace_write_control(t->w, &tc);
}

static void rec_req_free(void *ctx, void *req)
{
    struct rec_req *rq = req;

    (void)ctx;
    trace_wbuf_fini(&rq->wb);
    free(rq);
}

static const struct vu_obs_ops rec_ops = {
    .dev_enter = rec_dev_enter,
    .dev_leave = rec_dev_leave,
    .msg = rec_msg,
    .conn = rec_conn,
    .neg = rec_neg,
    .config = rec_config,
    .reset = rec_reset,
    .kick = rec_kick,
    .avail = rec_avail,
    .queue = rec_queue,
    .call = rec_call,
    .pop = rec_pop,
    .write = rec_write,
    .complete = rec_complete,
    .cancel = rec_cancel,
    .fault = rec_fault,
    .req_free = rec_req_free,
    .control = rec_control,
};

/* ---- attaching a trace ---- */

static const char *inband_name(enum vu_inband_mode m)
{
    return m == VU_INBAND_ON ? "on" : m == VU_INBAND_OFF ? "off" : "auto";
}

/* The image at start: the file the device's image option names (its size
 * and hash), or an image that starts as zeros (its size). */
static int trace_image(struct dev *dev, const struct trace_record_cfg *cfg,
                       struct trace_header *h, char *err, size_t errlen)
{
    const char *opt = dev->ops->image_opt;
    const struct dev_opt *o = opt ? dev_opt_find(cfg->opts, cfg->nopts, opt)
                                  : NULL;
    int rc;

    if (o && o->value) {
        h->image = TRACE_IMAGE_FILE;
        h->image_opt = opt;
        rc = trace_image_hash(o->value, &h->image_size, h->image_sha256);
        if (rc < 0) {
            snprintf(err, errlen, "--%s=%s: cannot hash it for the trace: "
                     "%s", opt, o->value, strerror(-rc));
        }
        return rc;
    }
    if (dev->ops->image_size &&
        dev->ops->image_size(dev, &h->image_size) == 0) {
        h->image = TRACE_IMAGE_RAM;
    }
    return 0;
}

/* Open the writer for @be with the HEADER @cfg describes. */
static int rec_writer_open(struct vu_backend *be,
                           const struct trace_record_cfg *cfg,
                           struct trace_writer **out, char *err,
                           size_t errlen)
{
    struct dev *dev = vu_backend_dev(be);
    const struct vu_backend_cfg *bc = vu_backend_config(be);
    struct trace_opt *opts = calloc(cfg->nopts + 1, sizeof(*opts));
    struct trace_writer_cfg wcfg = { .wallclock = cfg->wallclock };
    struct trace_header h = {
        .device = cfg->device ? cfg->device : dev->ops->name,
        .virtio_id = dev->ops->virtio_id,
        .num_queues = vu_backend_num_queues(be),
        .features = vu_backend_features(be),
        .protocol_features = vu_backend_protocol_features(be),
        .clock = cfg->clock ? cfg->clock : "afap",
        .inband = inband_name(bc->inband),
        .seed = cfg->seed,
        .conn_id = bc->conn_id,
        .opts = opts,
        .nopts = cfg->nopts,
        .digest = cfg->digest,
    };
    int rc = opts ? 0 : -ENOMEM;

    for (size_t i = 0; opts && i < cfg->nopts; i++) {
        opts[i] = (struct trace_opt){ cfg->opts[i].name, cfg->opts[i].value };
    }
    if (rc == 0) {
        rc = trace_image(dev, cfg, &h, err, errlen);
    }
    if (rc == 0) {
        rc = trace_writer_open(cfg->path, &h, &wcfg, out);
        if (rc < 0) {
            snprintf(err, errlen, "--trace=%s: %s", cfg->path,
                     strerror(-rc));
        }
    }
    free(opts);
    return rc;
}

int trace_record_open(struct vu_backend *be,
                      const struct trace_record_cfg *cfg,
                      struct trace_recorder **out, char *err, size_t errlen)
{
    struct trace_recorder *t = calloc(1, sizeof(*t));
    int rc;

    if (!t) {
        snprintf(err, errlen, "--trace=%s: %s", cfg->path, strerror(ENOMEM));
        return -ENOMEM;
    }
    rc = rec_writer_open(be, cfg, &t->w, err, errlen);
    if (rc < 0) {
        free(t);
        return rc;
    }
    t->conn_id = vu_backend_config(be)->conn_id;
    trace_writer_set_cal(t->w, vu_backend_dev(be)->cal);
    vu_backend_set_observer(be, &rec_ops, t);
    *out = t;
    return 0;
}

int trace_record_close(struct vu_backend *be, struct trace_recorder *t)
{
    int rc;

    if (!t) {
        return 0;
    }
    if (be) {
        vu_backend_set_observer(be, NULL, NULL);
    }
    rc = trace_writer_close(t->w);     /* detaches it from the calendar */
    free(t);
    return rc;
}

void trace_record_tt(struct trace_recorder *rec, uint64_t id,
                     enum sim_tt_dir dir, const struct sim_tt_msg *m,
                     uint64_t reply)
{
    trace_tt_observe(rec->w, id, dir, m, reply);
}
