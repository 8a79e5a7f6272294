/* SPDX-License-Identifier: MIT */
/*
 * Replay: the host side of devices/dev.h driven by a trace (the model is in
 * traces/replay.h). One cursor walks the records; the device's pops and
 * completions consume the records at the cursor (skipping context), and a
 * second cursor follows the CAL records for the calendar check.
 *
 * A completion whose other fields match its COMPLETE record goes to the
 * digest worker (replay-internal.h) with the counts as they stood before
 * it, and the walk goes on. If the worker finds a digest that differs, the
 * walk's result is replaced at the end by what a walk that checked that
 * digest itself would have reported: a hard divergence there, and those
 * counts. Nothing the walk found after it can win: it is later in the
 * walk, and a hard divergence beats a soft one.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev.h"
#include "devices/faults/faults.h"
#include "sim/log.h"
#include "traces/replay-internal.h"

/* Smaller completions are hashed on the walk's thread: handing one over
 * costs about as much as hashing a page. */
#define RP_DEFER_MIN 4096u

struct rp_req {
    struct dev_req dreq;          /* first: the device sees only this */
    uint64_t id;
    uint16_t head;
    const uint8_t *rd;
    uint32_t rd_len, wr_len;
    struct trace_wbuf wb;
    struct rp_req *next;
};

struct rp {
    struct trace_reader *r;       /* lazy: validated as the walk goes */
    enum trace_digest alg;        /* the HEADER's */
    struct trace_digest_worker *dw;   /* NULL: digests checked here */
    size_t cur, cal_cur;
    struct sim_cal *cal;
    struct dev *dev;
    struct rp_req *inflight, *free;
    struct trace_replay_result *res;
    bool hard, soft, cal_off;
    struct trace_divergence soft_div;
    int err;
};

static struct rp *host_rp(struct dev *dev)
{
    return dev->host_ctx;
}

static struct rp_req *to_rq(struct dev_req *d)
{
    return container_of(d, struct rp_req, dreq);
}

/* Whether record @i is in the trace's valid prefix. */
static bool have(const struct rp *rp, size_t i)
{
    return trace_reader_have(rp->r, i);
}

static void get(const struct rp *rp, size_t i, struct trace_rec *rec)
{
    /* Only for records have() accepted. */
    if (trace_reader_get(rp->r, i, rec) != 0) {
        memset(rec, 0, sizeof(*rec));
    }
}

/* ---- divergences ---- */

/* "at TIME: TYPE description" of a record. */
static void rec_line(const struct rp *rp, const struct trace_rec *rec,
                     char *buf, size_t len)
{
    char t[32], d[640];

    snprintf(buf, len, "at %s: %s %s", sim_time_fmt(rec->time, t, sizeof(t)),
             trace_type_name(rec->type),
             trace_rec_describe(rp->r, rec, d, sizeof(d)));
}

static void div_fill(struct rp *rp, struct trace_divergence *dv, size_t i,
                     const char *actual, const char *fmt, va_list ap)
{
    struct trace_rec rec;

    memset(dv, 0, sizeof(*dv));
    dv->index = i;
    vsnprintf(dv->what, sizeof(dv->what), fmt, ap);
    snprintf(dv->actual, sizeof(dv->actual), "%s", actual);
    if (have(rp, i)) {
        get(rp, i, &rec);
        dv->time = rec.time;
        rec_line(rp, &rec, dv->expected, sizeof(dv->expected));
    } else {
        dv->time = sim_cal_now(rp->cal);
        snprintf(dv->expected, sizeof(dv->expected), "the end of the "
                 "trace");
    }
}

static void diverge(struct rp *rp, size_t i, const char *actual,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void diverge(struct rp *rp, size_t i, const char *actual,
                    const char *fmt, ...)
{
    va_list ap;

    if (rp->hard) {
        return;
    }
    va_start(ap, fmt);
    div_fill(rp, &rp->res->div, i, actual, fmt, ap);
    va_end(ap);
    rp->hard = true;
}

static void diverge_soft(struct rp *rp, size_t i, const char *actual,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void diverge_soft(struct rp *rp, size_t i, const char *actual,
                         const char *fmt, ...)
{
    va_list ap;

    rp->cal_off = true;           /* cannot resynchronise after this */
    if (rp->soft || rp->hard) {
        return;
    }
    va_start(ap, fmt);
    div_fill(rp, &rp->soft_div, i, actual, fmt, ap);
    va_end(ap);
    rp->soft = true;
}

/* ---- the record stream ---- */

/* Records replay does not need: everything but the device's records, and
 * of the calendar's only the fires (schedules and cancels follow from the
 * model). */
static bool is_context(const struct trace_rec *rec)
{
    if (rec->type == TRACE_CAL) {
        return rec->u.cal.kind != TRACE_CAL_FIRE;
    }
    return !trace_rec_is_device(rec);
}

/* is_context() of record @i (have() accepted it) from its type and first
 * byte: most records are context, and the walk passes over each several
 * times, so it does not decode them to skip them. */
static bool context_at(const struct rp *rp, size_t i)
{
    struct trace_rec rec = { 0 };
    uint8_t sub;

    rec.type = trace_reader_type(rp->r, i, &sub);
    if (rec.type == TRACE_CAL) {
        rec.u.cal.kind = sub;
    } else if (rec.type == TRACE_NEG) {
        rec.u.neg.what = sub;
    }
    return is_context(&rec);
}

/* The first record at or after @i that replay acts on (decoded into
 * @rec), or the end of the valid prefix. */
static size_t next_action(const struct rp *rp, size_t i,
                          struct trace_rec *rec)
{
    for (; have(rp, i); i++) {
        if (!context_at(rp, i)) {
            get(rp, i, rec);
            return i;
        }
    }
    return i;
}

static bool type_at(const struct rp *rp, size_t i, uint16_t type)
{
    uint8_t sub;

    return trace_reader_type(rp->r, i, &sub) == type;
}

/* ---- the calendar check (soft) ---- */

static uint8_t cal_kind(enum sim_cal_obs what)
{
    return what == SIM_CAL_OBS_FIRE ? TRACE_CAL_FIRE :
           what == SIM_CAL_OBS_CANCEL ? TRACE_CAL_CANCEL : TRACE_CAL_SCHED;
}

static void rp_observe(void *opaque, enum sim_cal_obs what, sim_time_t at,
                       int32_t prio, uint64_t seq)
{
    struct rp *rp = opaque;
    struct trace_rec rec, act = { .type = TRACE_CAL };
    size_t i = rp->cal_cur;
    char line[256];

    if (what == SIM_CAL_OBS_DONE) {
        return;
    }
    if (what == SIM_CAL_OBS_FIRE) {
        rp->res->cal_events++;
    }
    if (rp->cal_off) {
        return;
    }
    while (have(rp, i) && !type_at(rp, i, TRACE_CAL)) {
        i++;
    }
    if (!have(rp, i)) {
        rp->cal_off = true;       /* the recording ends before this */
        return;
    }
    get(rp, i, &rec);
    act.time = sim_cal_now(rp->cal);
    act.u.cal.kind = cal_kind(what);
    act.u.cal.at = at;
    act.u.cal.prio = prio;
    act.u.cal.seq = seq;
    if (rec.u.cal.kind == act.u.cal.kind && rec.u.cal.at == at &&
        rec.u.cal.prio == prio && rec.u.cal.seq == seq &&
        rec.time == act.time) {
        rp->cal_cur = i + 1;
        return;
    }
    rec_line(rp, &act, line, sizeof(line));
    diverge_soft(rp, i, line, "calendar event differs");
}

/* ---- requests ---- */

static struct rp_req *rq_get(struct rp *rp)
{
    struct rp_req *q = rp->free;

    if (q) {
        rp->free = q->next;
        return q;
    }
    q = calloc(1, sizeof(*q));
    if (!q) {
        rp->err = -ENOMEM;
    }
    return q;
}

static void rq_put(struct rp *rp, struct rp_req *q)
{
    q->next = rp->free;
    rp->free = q;
}

static void rq_unlink(struct rp *rp, struct rp_req *q)
{
    for (struct rp_req **pp = &rp->inflight; *pp; pp = &(*pp)->next) {
        if (*pp == q) {
            *pp = q->next;
            return;
        }
    }
}

static struct rp_req *rq_find(struct rp *rp, uint64_t id)
{
    for (struct rp_req *q = rp->inflight; q; q = q->next) {
        if (q->id == id) {
            return q;
        }
    }
    return NULL;
}

/* ---- the host ops ---- */

static struct dev_req *rp_pop(struct dev *dev, uint16_t queue)
{
    struct rp *rp = host_rp(dev);
    struct trace_rec rec;
    struct rp_req *q;
    size_t i = next_action(rp, rp->cur, &rec);
    char t[32], line[128];

    if (rp->hard || rp->err || !have(rp, i) || rec.type != TRACE_CHAIN ||
        rec.u.chain.queue != queue) {
        return NULL;
    }
    if (rec.time != sim_cal_now(rp->cal)) {
        snprintf(line, sizeof(line), "the device took it at %s",
                 sim_time_fmt(sim_cal_now(rp->cal), t, sizeof(t)));
        diverge(rp, i, line, "chain taken at another time");
        return NULL;
    }
    q = rq_get(rp);
    if (!q) {
        return NULL;
    }
    rp->cur = i + 1;
    memset(&q->dreq, 0, sizeof(q->dreq));
    q->dreq.dev = dev;
    q->dreq.queue = queue;
    q->dreq.rd_len = rec.u.chain.rd_len;
    q->dreq.wr_len = rec.u.chain.wr_len;
    q->id = rec.u.chain.id;
    q->head = rec.u.chain.head;
    q->rd = rec.u.chain.rd;
    q->rd_len = rec.u.chain.rd_len;
    q->wr_len = rec.u.chain.wr_len;
    trace_wbuf_clear(&q->wb);
    q->next = rp->inflight;
    rp->inflight = q;
    rp->res->chains++;
    return &q->dreq;
}

static int rp_read(struct dev_req *dreq, uint64_t off, void *buf, size_t len)
{
    struct rp_req *q = to_rq(dreq);

    if (off > q->rd_len || len > q->rd_len - off) {
        return -ERANGE;
    }
    memcpy(buf, q->rd + off, len);
    return 0;
}

static int rp_write(struct dev_req *dreq, uint64_t off, const void *buf,
                    size_t len)
{
    struct rp_req *q = to_rq(dreq);

    if (off > q->wr_len || len > q->wr_len - off) {
        return -ERANGE;
    }
    return trace_wbuf_write(&q->wb, off, buf, len);
}

/* Everything but the digest. */
static bool fields_equal(const struct trace_rec *rec, const struct rp_req *q,
                         const struct trace_done *d, sim_time_t now)
{
    const struct trace_done *e = &rec->u.done.d;

    return rec->time == now && rec->u.done.queue == q->dreq.queue &&
           e->used_len == d->used_len && e->flags == d->flags &&
           e->status == d->status && e->extent == d->extent;
}

static bool done_equal(const struct trace_rec *rec, const struct rp_req *q,
                       const struct trace_done *d, sim_time_t now)
{
    return fields_equal(rec, q, d, now) &&
           memcmp(rec->u.done.d.digest, d->digest, TRACE_DIGEST_SIZE) == 0;
}

/* Name what differs between the recorded and the replayed completion. */
static void done_what(const struct trace_rec *rec,
                      const struct trace_done *d, sim_time_t now,
                      char *buf, size_t len)
{
    const struct trace_done *e = &rec->u.done.d;
    char a[32], b[32];
    int n = snprintf(buf, len, "completion of request %" PRIu64 " differs:",
                     rec->u.done.id);

    if (rec->time != now && n >= 0 && (size_t)n < len) {
        n += snprintf(buf + n, len - n, " moved from %s to %s",
                      sim_time_fmt(rec->time, a, sizeof(a)),
                      sim_time_fmt(now, b, sizeof(b)));
    }
    if (e->used_len != d->used_len && n >= 0 && (size_t)n < len) {
        n += snprintf(buf + n, len - n, " used length");
    }
    if ((e->flags != d->flags || e->status != d->status) && n >= 0 &&
        (size_t)n < len) {
        n += snprintf(buf + n, len - n, " status");
    }
    if ((e->extent != d->extent ||
         memcmp(e->digest, d->digest, TRACE_DIGEST_SIZE)) && n >= 0 &&
        (size_t)n < len) {
        snprintf(buf + n, len - n, " written bytes");
    }
}

static size_t find_done(const struct rp *rp, size_t i, uint64_t id)
{
    struct trace_rec rec;

    for (; have(rp, i); i++) {
        get(rp, i, &rec);
        if (rec.type == TRACE_COMPLETE && rec.u.done.id == id) {
            return i;
        }
    }
    return i;
}

/* The divergence of completion @act at its own COMPLETE record @rec,
 * index @i. The digest worker's mismatch is reported through here too, so
 * it reads the same as when the walk checks the digest itself. */
static void diverge_done(struct rp *rp, size_t i, const struct trace_rec *rec,
                         const struct trace_rec *act)
{
    char line[640], what[192];

    rec_line(rp, act, line, sizeof(line));
    done_what(rec, &act->u.done.d, act->time, what, sizeof(what));
    diverge(rp, i, line, "%s", what);
}

/* A completion that does not match the record @rec at the cursor @i. */
static void done_unmatched(struct rp *rp, const struct rp_req *q,
                           const struct trace_done *d, size_t i,
                           struct trace_rec *rec)
{
    struct trace_rec act = { .type = TRACE_COMPLETE,
                             .time = sim_cal_now(rp->cal) };
    char line[640];
    size_t j;

    act.u.done.id = q->id;
    act.u.done.queue = q->dreq.queue;
    act.u.done.head = q->head;
    act.u.done.d = *d;
    if (rec->type == TRACE_COMPLETE && rec->u.done.id == q->id) {
        diverge_done(rp, i, rec, &act);
        return;
    }
    j = find_done(rp, i, q->id);
    if (have(rp, j)) {
        get(rp, j, rec);
        diverge_done(rp, j, rec, &act);
        return;
    }
    rec_line(rp, &act, line, sizeof(line));
    diverge(rp, i, line, "the device completed request %" PRIu64 " here; "
            "the recording never does", q->id);
}

/* Hand the digest check of a completion that matches record @i in all
 * else to the worker, with the request's buffer. False if it is checked
 * here: no worker, a small one, a full queue, or after an error (a walk
 * that stops on the error reports this digest, so it must know it now). */
static bool done_defer(struct rp *rp, size_t i, const struct trace_rec *rec,
                       struct rp_req *q, const struct trace_done *d)
{
    const struct trace_replay_result *res = rp->res;
    struct trace_digest_job job = {
        .index = i, .time = rec->time, .id = q->id,
        .queue = q->dreq.queue, .head = q->head, .d = *d,
        .inputs = res->inputs, .chains = res->chains,
        .completions = res->completions, .cal_events = res->cal_events,
        .wb = q->wb,
    };

    if (!rp->dw || rp->err || q->wb.end < RP_DEFER_MIN) {
        return false;
    }
    memcpy(job.expect, rec->u.done.d.digest, TRACE_DIGEST_SIZE);
    if (!trace_digest_worker_push(rp->dw, &job)) {
        return false;
    }
    q->wb = job.wb;
    if (trace_digest_worker_failed(rp->dw)) {
        rp->hard = true;          /* the worker's; reported at the end */
    }
    return true;
}

/* @d has every field but the digest. */
static void check_done(struct rp *rp, struct rp_req *q, struct trace_done *d)
{
    sim_time_t now = sim_cal_now(rp->cal);
    struct trace_rec rec;
    size_t i = next_action(rp, rp->cur, &rec);
    bool same, deferred;

    if (!have(rp, i)) {
        return;                   /* the recording ends before this */
    }
    same = rec.type == TRACE_COMPLETE && rec.u.done.id == q->id;
    deferred = same && fields_equal(&rec, q, d, now) &&
               done_defer(rp, i, &rec, q, d);
    if (!deferred) {
        trace_done_digest(rp->alg, &q->wb, d);
        if (!same || !done_equal(&rec, q, d, now)) {
            done_unmatched(rp, q, d, i, &rec);
            return;
        }
    }
    rp->cur = i + 1;
    rp->res->completions++;
}

static void rp_complete(struct dev_req *dreq, uint32_t used_len)
{
    struct rp_req *q = to_rq(dreq);
    struct rp *rp = host_rp(dreq->dev);
    struct trace_done d;

    trace_done_fields(&q->wb, q->wr_len, used_len, &d);
    rq_unlink(rp, q);
    if (!rp->hard) {
        check_done(rp, q, &d);
    }
    rq_put(rp, q);
}

/* The device fired a rule: the next record replay acts on must be the
 * FAULT the recording wrote, for this request, rule, firing and action. */
static void rp_fault(struct dev_req *dreq, const struct faults_fire *f)
{
    struct rp *rp = host_rp(dreq->dev);
    struct rp_req *q = to_rq(dreq);
    struct trace_rec rec;
    size_t i = next_action(rp, rp->cur, &rec);
    char line[160];

    if (rp->hard || rp->err) {
        return;
    }
    snprintf(line, sizeof(line), "request %llu: rule %u fired (do=%s, "
             "firing %llu)", (unsigned long long)q->id, f->rule->id,
             f->action, (unsigned long long)f->firing);
    if (!have(rp, i) || rec.type != TRACE_FAULT) {
        diverge(rp, i, line, "a rule fired where the recording has none");
        return;
    }
    if (rec.u.fault.id != q->id || rec.u.fault.rule != f->rule->id ||
        rec.u.fault.firing != f->firing || rec.time != f->now ||
        rec.u.fault.action_len != strlen(f->action) ||
        memcmp(rec.u.fault.action, f->action, rec.u.fault.action_len)) {
        diverge(rp, i, line, "another firing");
        return;
    }
    rp->cur = i + 1;
    rp->res->faults++;
}

static const struct dev_host_ops rp_ops = {
    .pop = rp_pop,
    .read = rp_read,
    .write = rp_write,
    .complete = rp_complete,
    .fault = rp_fault,
};

/* ---- inputs ---- */

static void rp_cancel(struct rp *rp, const struct trace_rec *rec, size_t i)
{
    struct rp_req *q = rq_find(rp, rec->u.cancel.id);

    if (!q) {
        diverge(rp, i, "the request is not in flight in the replay",
                "cancel of a request the device no longer holds");
        return;
    }
    rq_unlink(rp, q);
    rp->dev->ops->cancel(rp->dev, &q->dreq);
    rq_put(rp, q);
}

static void rp_config(struct rp *rp, const struct trace_rec *rec, size_t i)
{
    const struct dev_ops *ops = rp->dev->ops;
    uint32_t len = rec->u.config.len;
    uint8_t *buf = malloc(len ? len : 1);
    char line[256];
    int rc;

    if (!buf) {
        rp->err = -ENOMEM;
        return;
    }
    if (rec->u.config.set) {
        rc = ops->set_config ? ops->set_config(rp->dev, rec->u.config.off,
                                               rec->u.config.data,
                                               rec->u.config.dlen)
                             : -EINVAL;
    } else {
        rc = ops->get_config ? ops->get_config(rp->dev, rec->u.config.off,
                                               buf, len) : -EINVAL;
    }
    if (rc != rec->u.config.rc ||
        (!rec->u.config.set && rc == 0 &&
         (rec->u.config.dlen != len ||
          memcmp(buf, rec->u.config.data, len) != 0))) {
        snprintf(line, sizeof(line), "config %s returned %d%s",
                 rec->u.config.set ? "write" : "read", rc,
                 rc == rec->u.config.rc ? " with other bytes" : "");
        diverge(rp, i, line, "config access differs");
    }
    free(buf);
}

/* A control-socket change, made again: a rule gets the id it got then. */
static void rp_control(struct rp *rp, const struct trace_rec *rec, size_t i)
{
    struct dev_ctl c = {
        .op = (enum dev_ctl_op)rec->u.control.op, .arg = rec->u.control.arg,
        .status = rec->u.control.status,
    };
    char *text = NULL, why[600], line[700];
    int rc;

    if (c.op == DEV_CTL_RULE_ADD) {
        text = strndup((const char *)rec->u.control.text,
                       rec->u.control.text_len);
        if (!text) {
            rp->err = -ENOMEM;
            return;
        }
        c.text = text;
    }
    why[0] = '\0';
    rc = dev_ctl_apply(rp->dev, &c, why, sizeof(why));
    free(text);
    if (rc) {
        snprintf(line, sizeof(line), "the replayed device refused it: %s",
                 why);
        diverge(rp, i, line, "a control change the recording made");
    } else if (c.op == DEV_CTL_RULE_ADD && c.arg != rec->u.control.arg) {
        snprintf(line, sizeof(line), "the rule got id %" PRIu64, c.arg);
        diverge(rp, i, line, "a rule added at run time");
    }
}

static void rp_input(struct rp *rp, const struct trace_rec *rec, size_t i)
{
    struct dev *d = rp->dev;
    uint16_t queue = rec->u.q.queue;

    rp->res->inputs++;
    if ((rec->type == TRACE_AVAIL || rec->type == TRACE_QUEUE) &&
        queue >= d->num_queues) {
        diverge(rp, i, "the replayed device has fewer queues",
                "queue %u out of range", queue);
        return;
    }
    switch (rec->type) {
    case TRACE_AVAIL:
        d->ops->avail(d, queue);
        break;
    case TRACE_QUEUE:
        if (rec->u.q.v && d->ops->queue_start) {
            d->ops->queue_start(d, queue);
        } else if (!rec->u.q.v && d->ops->queue_stop) {
            d->ops->queue_stop(d, queue);
        }
        break;
    case TRACE_RESET:
        if (d->ops->reset) {
            d->ops->reset(d);
        }
        d->acked_features = 0;
        break;
    case TRACE_CANCEL:
        rp_cancel(rp, rec, i);
        break;
    case TRACE_NEG:
        if (d->ops->set_features &&
            d->ops->set_features(d, rec->u.neg.value) != 0) {
            diverge(rp, i, "the replayed device refused them",
                    "features refused");
        }
        d->acked_features = rec->u.neg.value;
        break;
    case TRACE_CONFIG:
        rp_config(rp, rec, i);
        break;
    case TRACE_CONTROL:
        rp_control(rp, rec, i);
        break;
    default:
        break;
    }
}

/* ---- the walk ---- */

/* Bring the calendar to @t for the input at record @i. Events still due
 * before @t were not run by the recording before this input: run them, so
 * their completions are checked (and reported where they moved to). */
static int rp_advance(struct rp *rp, sim_time_t t, size_t i)
{
    sim_time_t next;
    char line[128], b[32];

    while (!rp->hard && !rp->err && sim_cal_peek(rp->cal, &next) == 0 &&
           next < t) {
        sim_cal_run_one(rp->cal);
    }
    if (rp->hard || rp->err) {
        return -1;
    }
    if (sim_cal_advance(rp->cal, t) != 0) {
        snprintf(line, sizeof(line), "the replayed calendar is already at "
                 "%s", sim_time_fmt(sim_cal_now(rp->cal), b, sizeof(b)));
        diverge(rp, i, line, "time of an input already passed");
        return -1;
    }
    return 0;
}

static void rp_fire(struct rp *rp, size_t i)
{
    sim_time_t t;

    if (sim_cal_peek(rp->cal, &t) != 0) {
        diverge(rp, i, "no event pending in the replayed calendar",
                "the recording ran a calendar event here");
        return;
    }
    sim_cal_run_one(rp->cal);
}

static void rp_step(struct rp *rp)
{
    struct trace_rec rec;
    size_t i = rp->cur;

    if (context_at(rp, i)) {
        rp->cur++;
        return;
    }
    get(rp, i, &rec);
    switch (rec.type) {
    case TRACE_CAL:
        rp->cur++;
        rp_fire(rp, i);
        break;
    case TRACE_CHAIN:
        diverge(rp, i, "the replayed device did not take it",
                "a chain the recorded device took");
        break;
    case TRACE_FAULT:
        diverge(rp, i, "no rule fired in the replayed device",
                "a rule that fired in the recording");
        break;
    case TRACE_COMPLETE:
        diverge(rp, i, rq_find(rp, rec.u.done.id) ?
                "the request is still in flight" :
                "the request is not in flight",
                "a completion the replayed device did not make here");
        break;
    default:
        if (rp_advance(rp, rec.time, i) == 0) {
            rp->cur++;
            rp_input(rp, &rec, i);
        }
        break;
    }
}

static void rp_finish(struct rp *rp)
{
    while (rp->inflight) {
        struct rp_req *q = rp->inflight;

        rp->inflight = q->next;
        rp->dev->ops->cancel(rp->dev, &q->dreq);
        rq_put(rp, q);
    }
    while (rp->free) {
        struct rp_req *q = rp->free;

        rp->free = q->next;
        trace_wbuf_fini(&q->wb);
        free(q);
    }
}

/* Wait for the digest worker and take its result. A digest that differed
 * at record k is where a walk checking every digest itself would have
 * stopped: the result becomes that walk's, counts and all. */
static void rp_digest_finish(struct rp *rp)
{
    struct trace_replay_result *res = rp->res;
    struct trace_digest_worker *dw = rp->dw;
    struct trace_digest_job bad;
    struct trace_rec rec, act = { .type = TRACE_COMPLETE };

    rp->dw = NULL;
    if (!dw || !trace_digest_worker_finish(dw, &bad)) {
        return;
    }
    res->inputs = bad.inputs;
    res->chains = bad.chains;
    res->completions = bad.completions;
    res->cal_events = bad.cal_events;
    rp->hard = false;             /* whatever the walk found came later, */
    rp->err = 0;                  /* and so did any error it met */
    act.time = bad.time;
    act.u.done.id = bad.id;
    act.u.done.queue = bad.queue;
    act.u.done.head = bad.head;
    act.u.done.d = bad.d;
    get(rp, bad.index, &rec);
    diverge_done(rp, bad.index, &rec, &act);
}

static void rp_walk(struct rp *rp, const struct trace_replay_cfg *cfg)
{
    rp->alg = trace_reader_header(rp->r)->digest;
    if (!cfg->sync_digest) {
        int rc = trace_digest_worker_start(rp->alg, &rp->dw);

        if (rc < 0) {             /* slower, the same result */
            VUSIM_DEBUG("replay", "no digest worker (%s): digests checked "
                        "on the caller's thread", strerror(-rc));
        }
    }
    rp->cur = 1;                  /* after the HEADER */
    while (!rp->hard && !rp->err && have(rp, rp->cur)) {
        rp_step(rp);
    }
    rp_digest_finish(rp);
}

int trace_replay(struct trace_reader *r,
                 const struct trace_replay_cfg *cfg,
                 struct trace_replay_result *res, char *err, size_t errlen)
{
    struct trace_replay_cfg none = { 0 };
    struct rp rp = { .r = r, .res = res };
    char spare[1];
    int rc;

    if (!err || !errlen) {
        err = spare;
        errlen = sizeof(spare);
    }
    err[0] = '\0';
    memset(res, 0, sizeof(*res));
    rp.cal = sim_cal_new();
    if (!rp.cal) {
        return -ENOMEM;
    }
    cfg = cfg ? cfg : &none;
    rc = trace_replay_device(r, cfg, rp.cal, &rp.dev, err, errlen);
    if (rc < 0) {
        sim_cal_free(rp.cal);
        return rc;
    }
    rp.dev->host = &rp_ops;
    rp.dev->host_ctx = &rp;
    /* The calendar is new and ours: it has room for this one. */
    rp.err = sim_cal_add_observer(rp.cal, rp_observe, &rp);
    if (!rp.err) {
        rp_walk(&rp, cfg);
    }
    if (!rp.err) {
        rp.err = trace_reader_finish(r);
    }
    res->records = rp.hard ? res->div.index : rp.cur;
    if (!rp.hard && rp.soft) {
        res->div = rp.soft_div;
        res->soft = true;
    }
    res->diverged = rp.hard || rp.soft;
    sim_cal_remove_observer(rp.cal, rp_observe, &rp);
    rp_finish(&rp);
    rp.dev->ops->destroy(rp.dev);
    sim_cal_free(rp.cal);
    if (rp.err) {
        snprintf(err, errlen, "replay: %s", strerror(-rp.err));
        return rp.err;
    }
    return 0;
}
