/* SPDX-License-Identifier: MIT */
/*
 * Exports (traces/export.h). Both start from one table of requests built
 * in a pass over the records: queue, pop time, how and when it ended.
 */
#define _GNU_SOURCE
#define FAULT_TEXT_MAX 1100    /* a rule's text (1023) and its NUL */

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev.h"
#include "traces/export.h"

enum req_end { END_NONE = 0, END_DONE, END_CANCEL };

struct xreq {
    uint64_t id;
    uint16_t queue;
    sim_time_t pop, end;
    enum req_end how;
    size_t chain_index;
    struct trace_done d;
};

struct xtab {
    struct xreq *v;
    size_t n, cap;
    uint16_t nq;
    sim_time_t last;              /* time of the last record */
};

static struct xreq *x_find(struct xtab *t, uint64_t id)
{
    if (id < t->n && t->v[id].id == id) {
        return &t->v[id];
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].id == id) {
            return &t->v[i];
        }
    }
    return NULL;
}

static int x_add(struct xtab *t, const struct trace_rec *rec)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct xreq *v = realloc(t->v, cap * sizeof(*v));

        if (!v) {
            return -ENOMEM;
        }
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = (struct xreq){ .id = rec->u.chain.id,
                                  .queue = rec->u.chain.queue,
                                  .pop = rec->time,
                                  .chain_index = rec->index };
    return 0;
}

static void x_end(struct xtab *t, uint64_t id, sim_time_t at,
                  enum req_end how, const struct trace_done *d)
{
    struct xreq *q = x_find(t, id);

    if (q && q->how == END_NONE) {
        q->how = how;
        q->end = at;
        if (d) {
            q->d = *d;
        }
    }
}

static int x_build(const struct trace_reader *r, struct xtab *t)
{
    const struct trace_header *h = trace_reader_header(r);
    struct trace_rec rec;
    size_t n = trace_reader_count(r);

    memset(t, 0, sizeof(*t));
    t->nq = h ? h->num_queues : 0;
    for (size_t i = 0; i < n; i++) {
        if (trace_reader_get(r, i, &rec) < 0) {
            continue;
        }
        t->last = rec.time;
        if (rec.type == TRACE_CHAIN && x_add(t, &rec) < 0) {
            free(t->v);
            return -ENOMEM;
        }
        if (rec.type == TRACE_COMPLETE) {
            x_end(t, rec.u.done.id, rec.time, END_DONE, &rec.u.done.d);
        } else if (rec.type == TRACE_CANCEL) {
            x_end(t, rec.u.cancel.id, rec.time, END_CANCEL, NULL);
        }
    }
    return 0;
}

/* ---- VCD ---- */

enum { SIG_KICK, SIG_CALL, SIG_INFLIGHT, SIG_BUSY, SIG_PER_Q };

struct chg {
    sim_time_t t;
    uint64_t seq;
    uint32_t sig;
    bool add;                     /* add v, else set v */
    int64_t v;
};

struct vcd {
    struct chg *c;
    size_t n, cap;
    int err;
};

static void chg(struct vcd *v, sim_time_t t, uint32_t sig, bool add,
                int64_t val)
{
    if (v->err) {
        return;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        struct chg *c = realloc(v->c, cap * sizeof(*c));

        if (!c) {
            v->err = -ENOMEM;
            return;
        }
        v->c = c;
        v->cap = cap;
    }
    v->c[v->n] = (struct chg){ t, v->n, sig, add, val };
    v->n++;
}

static void pulse(struct vcd *v, sim_time_t t, uint32_t sig)
{
    chg(v, t, sig, false, 1);
    chg(v, t + 1, sig, false, 0);
}

static int chg_cmp(const void *a, const void *b)
{
    const struct chg *x = a, *y = b;

    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The recorded device's channels (its timing model), 1 if unknown. */
static uint32_t header_channels(const struct trace_reader *r,
                                const struct trace_header *h)
{
    const struct dev_ops *ops = trace_dev_ops(r);
    struct dev_opt *o;
    uint32_t n = 1;

    if (!ops || !ops->channels) {
        return 1;
    }
    o = calloc(h->nopts + 1, sizeof(*o));
    if (o) {
        for (size_t i = 0; i < h->nopts; i++) {
            o[i] = (struct dev_opt){ h->opts[i].name, h->opts[i].value };
        }
        n = ops->channels(o, h->nopts);
        free(o);
    }
    return n ? n : 1;
}

/* Channel occupancy with the devices' rule (dev_channel_pick()), requests
 * in pop order. */
static void vcd_busy(struct vcd *v, const struct xtab *t, uint32_t nchan)
{
    sim_time_t *free_at = calloc(nchan, sizeof(*free_at));

    if (!free_at) {
        v->err = -ENOMEM;
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct xreq *q = &t->v[i];
        sim_time_t end = q->how == END_NONE ? t->last : q->end, start;
        uint32_t c = dev_channel_pick(free_at, nchan, q->pop);

        start = free_at[c] > q->pop ? free_at[c] : q->pop;
        free_at[c] = end > start ? end : start;
        if (q->queue < t->nq && end > start) {
            chg(v, start, (uint32_t)q->queue * SIG_PER_Q + SIG_BUSY, true, 1);
            chg(v, end, (uint32_t)q->queue * SIG_PER_Q + SIG_BUSY, true, -1);
        }
    }
    free(free_at);
}

static void vcd_changes(struct vcd *v, const struct trace_reader *r,
                        const struct xtab *t)
{
    size_t n = trace_reader_count(r);
    struct trace_rec rec;

    for (size_t i = 0; i < n && !v->err; i++) {
        uint32_t base;

        if (trace_reader_get(r, i, &rec) < 0) {
            continue;
        }
        base = (uint32_t)rec.u.q.queue * SIG_PER_Q;
        if (rec.type == TRACE_KICK && rec.u.q.queue < t->nq) {
            pulse(v, rec.time, base + SIG_KICK);
        } else if (rec.type == TRACE_CALL && rec.u.q.queue < t->nq &&
                   rec.u.q.v != TRACE_NOTIFY_NONE) {
            pulse(v, rec.time, base + SIG_CALL);
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct xreq *q = &t->v[i];
        uint32_t sig = (uint32_t)q->queue * SIG_PER_Q + SIG_INFLIGHT;

        if (q->queue >= t->nq) {
            continue;
        }
        chg(v, q->pop, sig, true, 1);
        if (q->how != END_NONE) {
            chg(v, q->end, sig, true, -1);
        }
    }
}

/* VCD identifiers: printable ASCII 33..126, base 94. */
static void vcd_id(uint32_t k, char *buf)
{
    size_t n = 0;

    do {
        buf[n++] = (char)(33 + k % 94);
        k /= 94;
    } while (k && n < 7);
    buf[n] = '\0';
}

static void vcd_value(FILE *out, uint32_t sig, int64_t val)
{
    char id[8];

    vcd_id(sig, id);
    if (sig % SIG_PER_Q < SIG_INFLIGHT) {
        fprintf(out, "%d%s\n", val ? 1 : 0, id);
        return;
    }
    fputc('b', out);
    if (val <= 0) {
        fputc('0', out);
    }
    for (int b = 63; b >= 0 && val > 0; b--) {
        if ((uint64_t)val >> b) {
            for (; b >= 0; b--) {
                fputc('0' + (int)(((uint64_t)val >> b) & 1), out);
            }
        }
    }
    fprintf(out, " %s\n", id);
}

static void vcd_head(FILE *out, const struct trace_header *h, uint16_t nq)
{
    static const char *const names[SIG_PER_Q] = { "kick", "call",
                                                  "inflight", "busy" };
    char id[8];

    fprintf(out, "$comment vusim trace: device %s $end\n"
            "$timescale 1ps $end\n$scope module vusim $end\n",
            h ? h->device : "?");
    for (uint32_t q = 0; q < nq; q++) {
        fprintf(out, "$scope module q%u $end\n", q);
        for (uint32_t s = 0; s < SIG_PER_Q; s++) {
            vcd_id(q * SIG_PER_Q + s, id);
            fprintf(out, "$var %s %u %s %s $end\n",
                    s < SIG_INFLIGHT ? "wire" : "integer",
                    s < SIG_INFLIGHT ? 1 : 32, id, names[s]);
        }
        fprintf(out, "$upscope $end\n");
    }
    fprintf(out, "$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n");
    for (uint32_t s = 0; s < (uint32_t)nq * SIG_PER_Q; s++) {
        vcd_value(out, s, 0);
    }
    fprintf(out, "$end\n");
}

/* Apply one time's changes; print the signals whose value changed. */
static void vcd_body(FILE *out, const struct vcd *v, int64_t *cur,
                     int64_t *shown, size_t nsig)
{
    size_t i = 0;

    while (i < v->n) {
        sim_time_t t = v->c[i].t;
        size_t j = i;
        bool stamped = t == 0;    /* the header's #0 covers time 0 */

        for (; j < v->n && v->c[j].t == t; j++) {
            const struct chg *c = &v->c[j];

            cur[c->sig] = c->add ? cur[c->sig] + c->v : c->v;
        }
        for (size_t k = i; k < j; k++) {
            uint32_t s = v->c[k].sig;

            if (s < nsig && cur[s] != shown[s]) {
                if (!stamped) {
                    fprintf(out, "#%" PRIu64 "\n", t);
                    stamped = true;
                }
                vcd_value(out, s, cur[s]);
                shown[s] = cur[s];
            }
        }
        i = j;
    }
}

int trace_export_vcd(const struct trace_reader *r, FILE *out)
{
    const struct trace_header *h = trace_reader_header(r);
    struct vcd v = { 0 };
    struct xtab t;
    int64_t *cur = NULL, *shown = NULL;
    size_t nsig;
    int rc = x_build(r, &t);

    if (rc < 0) {
        return rc;
    }
    nsig = (size_t)t.nq * SIG_PER_Q;
    vcd_changes(&v, r, &t);
    vcd_busy(&v, &t, header_channels(r, h));
    cur = calloc(nsig + 1, sizeof(*cur));
    shown = calloc(nsig + 1, sizeof(*shown));
    if (v.err || !cur || !shown) {
        rc = -ENOMEM;
        goto out;
    }
    qsort(v.c, v.n, sizeof(*v.c), chg_cmp);
    vcd_head(out, h, t.nq);
    vcd_body(out, &v, cur, shown, nsig);
    rc = ferror(out) ? -EIO : 0;
out:
    free(cur);
    free(shown);
    free(v.c);
    free(t.v);
    return rc;
}

/* ---- Perfetto / Chrome JSON ---- */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

/* Picoseconds as microseconds with six decimals: exact. */
static void json_ts(FILE *out, sim_time_t t)
{
    fprintf(out, "\"ts\":%" PRIu64 ".%06" PRIu64, t / 1000000u,
            t % 1000000u);
}

static void pf_meta(FILE *out, const struct trace_header *h, uint16_t nq)
{
    char name[96];

    snprintf(name, sizeof(name), "vusim %s", h ? h->device : "?");
    fprintf(out, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
            "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
            "\"args\":{\"name\":");
    json_str(out, name);
    fprintf(out, "}}");
    for (uint32_t q = 0; q < nq; q++) {
        fprintf(out, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,"
                "\"tid\":%u,\"args\":{\"name\":\"queue %u\"}}", q + 1, q);
    }
}

static void pf_instant(FILE *out, const struct trace_rec *rec,
                       const char *name)
{
    fprintf(out, ",\n{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,"
            "\"tid\":%u,", name, rec->u.q.queue + 1u);
    json_ts(out, rec->time);
    fprintf(out, "}");
}

/* A rule's firing: an instant on its queue's track, named for the action,
 * with the request, rule and state; category "fault" to filter on. */
static void pf_fault(FILE *out, const struct trace_rec *rec)
{
    char name[80], s[FAULT_TEXT_MAX];

    snprintf(name, sizeof(name), "fault do=%.*s",
             (int)rec->u.fault.action_len, (const char *)rec->u.fault.action);
    fprintf(out, ",\n{\"name\":");
    json_str(out, name);
    fprintf(out, ",\"cat\":\"fault\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,"
            "\"tid\":%u,", rec->u.fault.queue + 1u);
    json_ts(out, rec->time);
    fprintf(out, ",\"args\":{\"req\":%" PRIu64 ",\"rule_id\":%u,"
            "\"firing\":%" PRIu64 ",\"state\":", rec->u.fault.id,
            rec->u.fault.rule, rec->u.fault.firing);
    snprintf(s, sizeof(s), "%.*s", (int)rec->u.fault.state_len,
             (const char *)rec->u.fault.state);
    json_str(out, s);
    fprintf(out, ",\"rule\":");
    snprintf(s, sizeof(s), "%.*s", (int)rec->u.fault.text_len,
             (const char *)rec->u.fault.text);
    json_str(out, s);
    fprintf(out, "}}");
}

static void pf_begin(FILE *out, const struct trace_reader *r,
                     const struct trace_rec *rec)
{
    const struct dev_ops *ops = trace_dev_ops(r);
    char req[128];

    fprintf(out, ",\n{\"name\":\"queue %u\",\"cat\":\"request\",\"ph\":\"b\","
            "\"id\":%" PRIu64 ",\"pid\":1,\"tid\":%u,", rec->u.chain.queue,
            rec->u.chain.id, rec->u.chain.queue + 1u);
    json_ts(out, rec->time);
    fprintf(out, ",\"args\":{\"req\":%" PRIu64 ",\"head\":%u,\"rd\":%u,"
            "\"wr\":%u", rec->u.chain.id, rec->u.chain.head,
            rec->u.chain.rd_len, rec->u.chain.wr_len);
    /* The request in the describing device's words, under its name. */
    if (ops && trace_req_describe(r, rec->u.chain.id, req, sizeof(req))[0]) {
        fprintf(out, ",");
        json_str(out, ops->name);
        fprintf(out, ":");
        json_str(out, req);
    }
    fprintf(out, "}}");
}

static void pf_end(FILE *out, const struct xreq *q, sim_time_t at)
{
    fprintf(out, ",\n{\"name\":\"queue %u\",\"cat\":\"request\",\"ph\":\"e\","
            "\"id\":%" PRIu64 ",\"pid\":1,\"tid\":%u,", q->queue, q->id,
            q->queue + 1u);
    json_ts(out, at);
    if (q->how == END_DONE) {
        fprintf(out, ",\"args\":{\"used\":%u", q->d.used_len);
        if (q->d.flags & TRACE_DONE_STATUS) {
            fprintf(out, ",\"status\":%u", q->d.status);
        }
        fprintf(out, "}}");
    } else {
        fprintf(out, ",\"args\":{\"%s\":true}}", q->how == END_CANCEL ?
                "cancelled" : "unfinished");
    }
}

static void pf_records(FILE *out, const struct trace_reader *r,
                       struct xtab *t)
{
    size_t n = trace_reader_count(r);
    struct trace_rec rec;

    for (size_t i = 0; i < n; i++) {
        struct xreq *q;

        if (trace_reader_get(r, i, &rec) < 0) {
            continue;
        }
        if (rec.type == TRACE_KICK && rec.u.q.queue < t->nq) {
            pf_instant(out, &rec, "kick");
        } else if (rec.type == TRACE_CALL && rec.u.q.queue < t->nq &&
                   rec.u.q.v != TRACE_NOTIFY_NONE) {
            pf_instant(out, &rec, "call");
        } else if (rec.type == TRACE_CHAIN && rec.u.chain.queue < t->nq) {
            pf_begin(out, r, &rec);
        } else if (rec.type == TRACE_FAULT && rec.u.fault.queue < t->nq) {
            pf_fault(out, &rec);
        } else if ((rec.type == TRACE_COMPLETE || rec.type == TRACE_CANCEL) &&
                   (q = x_find(t, rec.type == TRACE_COMPLETE ?
                               rec.u.done.id : rec.u.cancel.id)) &&
                   q->queue < t->nq && q->end == rec.time &&
                   (q->how == END_DONE) == (rec.type == TRACE_COMPLETE)) {
            pf_end(out, q, rec.time);
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].how == END_NONE && t->v[i].queue < t->nq) {
            pf_end(out, &t->v[i], t->last);
        }
    }
}

int trace_export_perfetto(const struct trace_reader *r, FILE *out)
{
    struct xtab t;
    int rc = x_build(r, &t);

    if (rc < 0) {
        return rc;
    }
    pf_meta(out, trace_reader_header(r), t.nq);
    pf_records(out, r, &t);
    fprintf(out, "\n]}\n");
    free(t.v);
    return ferror(out) ? -EIO : 0;
}
