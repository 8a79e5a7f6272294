/* SPDX-License-Identifier: MIT */
/*
 * One line per record, for dump, diff and replay's divergence report. The
 * vhost-user request names are the spec's (shared/reference/vhost-user.rst);
 * traces/ keeps its own table so it does not depend on cosim/.
 */
#define _GNU_SOURCE
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devices/dev.h"
#include "traces/reader.h"

static const char *const fe_names[] = {
    "NONE", "GET_FEATURES", "SET_FEATURES", "SET_OWNER", "RESET_OWNER",
    "SET_MEM_TABLE", "SET_LOG_BASE", "SET_LOG_FD", "SET_VRING_NUM",
    "SET_VRING_ADDR", "SET_VRING_BASE", "GET_VRING_BASE", "SET_VRING_KICK",
    "SET_VRING_CALL", "SET_VRING_ERR", "GET_PROTOCOL_FEATURES",
    "SET_PROTOCOL_FEATURES", "GET_QUEUE_NUM", "SET_VRING_ENABLE",
    "SEND_RARP", "NET_SET_MTU", "SET_BACKEND_REQ_FD", "IOTLB_MSG",
    "SET_VRING_ENDIAN", "GET_CONFIG", "SET_CONFIG",
    "CREATE_CRYPTO_SESSION", "CLOSE_CRYPTO_SESSION", "POSTCOPY_ADVISE",
    "POSTCOPY_LISTEN", "POSTCOPY_END", "GET_INFLIGHT_FD", "SET_INFLIGHT_FD",
    "GPU_SET_SOCKET", "RESET_DEVICE", "VRING_KICK", "GET_MAX_MEM_SLOTS",
    "ADD_MEM_REG", "REM_MEM_REG", "SET_STATUS", "GET_STATUS",
};

static const char *const be_names[] = {
    "NONE", "IOTLB_MSG", "CONFIG_CHANGE_MSG", "VRING_HOST_NOTIFIER_MSG",
    "VRING_CALL", "VRING_ERR",
};

#define NAMES(a) (sizeof(a) / sizeof((a)[0]))

/* Requests whose 8-byte payload is a vring state {index, num}. */
static bool is_state(bool be_side, uint32_t req)
{
    if (be_side) {
        return req == 4 || req == 5;
    }
    return req == 8 || req == 10 || req == 11 || req == 18 || req == 35;
}

/* Appends to a fixed buffer, never past its end. */
struct line {
    char *buf;
    size_t len, n;
};

static void add(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (l->n + 1 >= l->len) {
        return;
    }
    va_start(ap, fmt);
    w = vsnprintf(l->buf + l->n, l->len - l->n, fmt, ap);
    va_end(ap);
    if (w > 0) {
        l->n += (size_t)w < l->len - l->n ? (size_t)w : l->len - l->n - 1;
    }
}

static void add_hex(struct line *l, const uint8_t *p, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        add(l, "%02x", p[i]);
    }
    if (n > max) {
        add(l, "...");
    }
}

static void add_time(struct line *l, const char *key, sim_time_t t)
{
    char b[32];

    add(l, "%s=%s", key, sim_time_fmt(t, b, sizeof(b)));
}

/* A time-travel time in ns: WAIT's and GET's are all ones (unused), and
 * FREE_UNTIL's "no bound" is just below 2^63. */
static void add_tt_time(struct line *l, const char *key, uint64_t ns)
{
    if (ns >= (uint64_t)INT64_MAX - 1) {
        add(l, " %s=%s", key, ns == UINT64_MAX ? "-1" : "max");
    } else {
        add(l, " %s=%" PRIu64 "ns", key, ns);
    }
}

/* "fault-add id=2 rule='on=flush,do=hang'", "complete n=0 status=-1". */
static void describe_control(struct line *l, const struct trace_rec *rec)
{
    static const char *const ops[] = {
        [1] = "fault-add", [2] = "fault-del", [3] = "complete",
        [4] = "reset-device",
    };
    uint8_t op = rec->u.control.op;
    const char *name = op < 5 && ops[op] ? ops[op] : "unknown";

    switch (op) {
    case 1:
        add(l, "%s id=%" PRIu64 " rule='%.*s'", name, rec->u.control.arg,
            (int)rec->u.control.text_len, (const char *)rec->u.control.text);
        break;
    case 2:
        add(l, "%s id=%" PRIu64, name, rec->u.control.arg);
        break;
    case 3:
        add(l, "%s n=%" PRIu64 " status=%d", name, rec->u.control.arg,
            (int)rec->u.control.status);
        break;
    default:
        add(l, "%s op=%u", name, op);
        break;
    }
}

/* "guest 0 -> REQUEST seq=5 time=10000000ns": the guest's view of time. */
static void describe_tt(struct line *l, const struct trace_rec *rec)
{
    uint32_t op = rec->u.tt.op;

    if (rec->u.tt.id == UINT64_MAX) {
        add(l, "guest -");
    } else {
        add(l, "guest %" PRIu64, rec->u.tt.id);
    }
    add(l, " %s %s seq=%u", rec->u.tt.dir == SIM_TT_FROM_GUEST ? "->" : "<-",
        sim_tt_op_name(op), rec->u.tt.seq);
    if (op == SIM_TT_START) {
        return;                   /* its time is the id */
    }
    add_tt_time(l, "time", rec->u.tt.time);
    if (op == SIM_TT_GET || op == SIM_TT_GET_TOD) {
        add_tt_time(l, "reply", rec->u.tt.reply);
    }
}

static void add_region(struct line *l, const uint8_t *p)
{
    add(l, " {gpa=0x%" PRIx64 " size=0x%" PRIx64 " uva=0x%" PRIx64
        " off=0x%" PRIx64 "}", trace_le64(p), trace_le64(p + 8),
        trace_le64(p + 16), trace_le64(p + 24));
}

static void msg_payload(struct line *l, const struct trace_rec *r)
{
    const uint8_t *p = r->u.msg.data;
    uint32_t n = r->u.msg.plen, req = r->u.msg.request;
    bool be_side = r->u.msg.dir == TRACE_MSG_BE_REQ ||
                   r->u.msg.dir == TRACE_MSG_FE_REPLY;

    if (n == 8 && is_state(be_side, req)) {
        add(l, " index=%u num=%u", trace_le32(p), trace_le32(p + 4));
    } else if (n == 8) {
        add(l, " u64=0x%" PRIx64, trace_le64(p));
    } else if (!be_side && req == 9 && n == 40) {
        add(l, " index=%u flags=0x%x desc=0x%" PRIx64 " used=0x%" PRIx64
            " avail=0x%" PRIx64, trace_le32(p), trace_le32(p + 4),
            trace_le64(p + 8), trace_le64(p + 16), trace_le64(p + 24));
    } else if (!be_side && req == 5 && n >= 8) {
        add(l, " regions=%u", trace_le32(p));
        for (uint32_t i = 0; i < trace_le32(p) && 8 + 32 * (i + 1) <= n;
             i++) {
            add_region(l, p + 8 + 32 * i);
        }
    } else if (!be_side && (req == 37 || req == 38) && n == 40) {
        add_region(l, p + 8);
    } else if (!be_side && (req == 24 || req == 25) && n >= 12) {
        add(l, " offset=%u len=%u flags=0x%x data=", trace_le32(p),
            trace_le32(p + 4), trace_le32(p + 8));
        add_hex(l, p + 12, n - 12, 32);
    } else if (n > 0) {
        add(l, " payload=");
        add_hex(l, p, n, 32);
    }
}

static void describe_msg(struct line *l, const struct trace_rec *r)
{
    static const char *const dirs[] = { "fe>be", "be>fe", "be>fe(chan)",
                                        "fe>be(chan)" };
    bool be_side = r->u.msg.dir == TRACE_MSG_BE_REQ ||
                   r->u.msg.dir == TRACE_MSG_FE_REPLY;
    uint32_t req = r->u.msg.request;
    const char *name = be_side ? (req < NAMES(be_names) ? be_names[req]
                                                        : NULL)
                               : (req < NAMES(fe_names) ? fe_names[req]
                                                        : NULL);

    add(l, "%s ", dirs[r->u.msg.dir & 3]);
    if (name) {
        add(l, "%s", name);
    } else {
        add(l, "request-%u", req);
    }
    add(l, " flags=0x%x size=%u fds=%u", r->u.msg.flags, r->u.msg.size,
        r->u.msg.nfds);
    msg_payload(l, r);
}

static const char *notify_name(uint8_t m, bool call)
{
    switch (m) {
    case TRACE_NOTIFY_EVENTFD:
        return "eventfd";
    case TRACE_NOTIFY_INBAND:
        return "inband";
    default:
        return call ? "suppressed" : "none";
    }
}

const struct dev_ops *trace_dev_ops(const struct trace_reader *r)
{
    const struct trace_header *h = trace_reader_header(r);

    return h ? dev_lookup_like(h->device, h->virtio_id) : NULL;
}

static void decode_chain(const struct dev_ops *ops, const struct trace_rec *c,
                         char *buf, size_t len)
{
    buf[0] = '\0';
    if (ops && ops->decode) {
        ops->decode(c->u.chain.rd, c->u.chain.rd_len, c->u.chain.wr_len, buf,
                    len);
    }
}

char *trace_req_describe(const struct trace_reader *r, uint64_t id,
                         char *buf, size_t len)
{
    const struct dev_ops *ops = trace_dev_ops(r);
    struct trace_rec c;
    long i;

    buf[0] = '\0';
    if (!ops || !ops->decode || (i = trace_reader_chain(r, id)) < 0 ||
        trace_reader_get(r, (size_t)i, &c) < 0) {
        return buf;
    }
    decode_chain(ops, &c, buf, len);
    return buf;
}

static const char *digest_name(const struct trace_reader *r)
{
    const struct trace_header *h = trace_reader_header(r);

    return h ? trace_digest_name(h->digest) : "digest";
}

static void describe_done(struct line *l, const struct trace_reader *r,
                          const struct trace_rec *rec)
{
    const struct trace_done *d = &rec->u.done.d;
    const struct dev_ops *ops = trace_dev_ops(r);
    const char *status;
    char req[128];

    add(l, "q%u req=%" PRIu64 " head=%u used=%u status=", rec->u.done.queue,
        rec->u.done.id, rec->u.done.head, d->used_len);
    if (d->flags & TRACE_DONE_STATUS) {
        add(l, "%u", d->status);
        status = ops && ops->status_name ? ops->status_name(d->status)
                                         : NULL;
        if (status) {
            add(l, "(%s)", status);
        }
    } else {
        add(l, "-");
    }
    add(l, " written=%u %s=", d->extent, digest_name(r));
    add_hex(l, d->digest, TRACE_DIGEST_SIZE, 8);
    if (trace_req_describe(r, rec->u.done.id, req, sizeof(req))[0]) {
        add(l, " %s", req);
    }
}

static void describe_chain(struct line *l, const struct trace_reader *r,
                           const struct trace_rec *rec)
{
    char req[128];

    add(l, "q%u req=%" PRIu64 " head=%u rd=%u wr=%u segs=%u+%u descs=%u",
        rec->u.chain.queue, rec->u.chain.id, rec->u.chain.head,
        rec->u.chain.rd_len, rec->u.chain.wr_len, rec->u.chain.nrd,
        rec->u.chain.nwr, rec->u.chain.ndesc);
    if (rec->u.chain.flags & TRACE_CHAIN_INDIRECT) {
        add(l, " indirect");
    }
    if (rec->u.chain.flags & TRACE_CHAIN_UNREADABLE) {
        add(l, " unreadable");
    }
    decode_chain(trace_dev_ops(r), rec, req, sizeof(req));
    if (req[0]) {
        add(l, " %s", req);
    }
}

static void describe_header(struct line *l, const struct trace_header *h)
{
    add(l, "device=%s virtio=%u queues=%u clock=%s inband=%s seed=%" PRIu64
        " conn=%u features=0x%" PRIx64 " protocol_features=0x%" PRIx64
        " opts=[", h->device, h->virtio_id, h->num_queues, h->clock,
        h->inband, h->seed, h->conn_id, h->features, h->protocol_features);
    for (size_t i = 0; i < h->nopts; i++) {
        add(l, "%s%s%s%s", i ? " " : "", h->opts[i].name,
            h->opts[i].value ? "=" : "",
            h->opts[i].value ? h->opts[i].value : "");
    }
    add(l, "] digest=%s", trace_digest_name(h->digest));
    if (h->image == TRACE_IMAGE_RAM) {
        add(l, " image=ram size=%" PRIu64, h->image_size);
    } else if (h->image == TRACE_IMAGE_FILE) {
        add(l, " image=file option=%s size=%" PRIu64 " sha256=",
            h->image_opt, h->image_size);
        add_hex(l, h->image_sha256, TRACE_SHA256_SIZE, 32);
    }
}

static void describe_rest(struct line *l, const struct trace_rec *rec)
{
    static const char *const cal_kinds[] = { "sched", "fire", "cancel" };

    switch (rec->type) {
    case TRACE_END:
        add(l, "records=%" PRIu64 " chains=%" PRIu64 " completions=%" PRIu64,
            rec->u.end.records, rec->u.end.chains, rec->u.end.completions);
        break;
    case TRACE_TRAILER:
        add(l, "wall_ns=%" PRIu64 " flushes=%" PRIu64 " bytes=%" PRIu64,
            rec->u.trailer.wall_ns, rec->u.trailer.flushes,
            rec->u.trailer.bytes);
        break;
    case TRACE_CONN:
        add(l, "%s", rec->u.conn.up ? "up" : "down");
        break;
    case TRACE_NEG:
        add(l, "%s=0x%" PRIx64, rec->u.neg.what == TRACE_NEG_FEATURES ?
            "features" : "protocol_features", rec->u.neg.value);
        break;
    case TRACE_MODE:
        add(l, "q%u kick=%s call=%s", rec->u.mode.queue,
            notify_name(rec->u.mode.kick, false),
            notify_name(rec->u.mode.call, false));
        break;
    case TRACE_KICK:
    case TRACE_CALL:
        add(l, "q%u %s", rec->u.q.queue,
            notify_name(rec->u.q.v, rec->type == TRACE_CALL));
        break;
    case TRACE_AVAIL:
        add(l, "q%u", rec->u.q.queue);
        break;
    case TRACE_QUEUE:
        add(l, "q%u %s", rec->u.q.queue, rec->u.q.v ? "started" : "stopped");
        break;
    case TRACE_CONFIG:
        add(l, "%s off=%u len=%u rc=%d data=", rec->u.config.set ? "set" :
            "get", rec->u.config.off, rec->u.config.len, rec->u.config.rc);
        add_hex(l, rec->u.config.data, rec->u.config.dlen, 64);
        break;
    case TRACE_CAL:
        add(l, "%s ", cal_kinds[rec->u.cal.kind % 3]);
        add_time(l, "at", rec->u.cal.at);
        add(l, " prio=%d seq=%" PRIu64, rec->u.cal.prio, rec->u.cal.seq);
        break;
    case TRACE_TT:
        describe_tt(l, rec);
        break;
    case TRACE_FAULT:
        add(l, "id=%" PRIu64 " q=%u rule=%" PRIu32 " firing=%" PRIu64
            " do=%.*s state=%.*s rule='%.*s'", rec->u.fault.id,
            rec->u.fault.queue, rec->u.fault.rule, rec->u.fault.firing,
            (int)rec->u.fault.action_len, (const char *)rec->u.fault.action,
            (int)rec->u.fault.state_len, (const char *)rec->u.fault.state,
            (int)rec->u.fault.text_len, (const char *)rec->u.fault.text);
        break;
    case TRACE_CONTROL:
        describe_control(l, rec);
        break;
    case TRACE_RESET:
        break;
    default:
        add(l, "type=%u len=%u", rec->type, rec->len);
        break;
    }
}

char *trace_rec_describe(const struct trace_reader *r,
                         const struct trace_rec *rec, char *buf,
                         size_t len)
{
    struct line l = { buf, len, 0 };
    char req[128];

    buf[0] = '\0';
    switch (rec->type) {
    case TRACE_HEADER:
        if (trace_reader_header(r)) {
            describe_header(&l, trace_reader_header(r));
        }
        break;
    case TRACE_MSG:
        describe_msg(&l, rec);
        break;
    case TRACE_CHAIN:
        describe_chain(&l, r, rec);
        break;
    case TRACE_COMPLETE:
        describe_done(&l, r, rec);
        break;
    case TRACE_CANCEL:
        add(&l, "q%u req=%" PRIu64, rec->u.cancel.queue, rec->u.cancel.id);
        if (trace_req_describe(r, rec->u.cancel.id, req, sizeof(req))[0]) {
            add(&l, " %s", req);
        }
        break;
    default:
        describe_rest(&l, rec);
        break;
    }
    return buf;
}
