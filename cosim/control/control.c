/* SPDX-License-Identifier: MIT */
/*
 * The control socket (cosim/control/control.h): clients and their lines,
 * the command table, the calendar gate (stop, step, run-until, time
 * breakpoints) and the back-end observer (request, completion and
 * notification breakpoints; events).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "cosim/control/control.h"
#include "devices/faults/faults.h"
#include "sim/log.h"
#include "sim/wallclock.h"

#define SS              "control"
#define CTL_CLIENTS     8
#define CTL_LINE_MAX    65536u
#define CTL_OUT_MAX     (1u << 20)
#define CTL_BPS         64
#define CTL_LIST_MAX    256     /* requests listed per queue */
#define CTL_ARGS        6       /* arguments of one command, at most */

struct vu_control;

struct ctl_client {
    struct vu_control *c;
    int fd;
    struct event *rev, *wev;
    bool negotiated;
    bool dead;                  /* closed; freed at a safe point */
    char in[CTL_LINE_MAX];
    size_t inlen;
    char *out;
    size_t outlen, outcap;
};

enum ctl_mode { CTL_RUN, CTL_STOPPED, CTL_STEP_EVENTS, CTL_RUN_UNTIL,
                CTL_STEP_REQUEST };

enum ctl_bp_type { BP_REQUEST, BP_COMPLETE, BP_NOTIFY, BP_TIME };

static const char *const bp_names[] = {
    [BP_REQUEST] = "request", [BP_COMPLETE] = "complete",
    [BP_NOTIFY] = "notify", [BP_TIME] = "time",
};

struct ctl_bp {
    uint32_t id;
    enum ctl_bp_type type;
    int dev;                    /* its device; -1: any (or BP_TIME) */
    int queue;                  /* -1: any */
    sim_time_t at;              /* BP_TIME */
    uint32_t rule;              /* BP_REQUEST: its rule in the dev's rq */
    uint64_t hits;
    bool armed;
    bool hold;                  /* BP_NOTIFY: the call waits for the run */
};

/* One device the socket addresses: "device" N in commands and events. */
struct ctl_dev {
    struct vu_control *c;
    struct vu_backend *be;
    struct dev *dev;
    int index;                  /* in the order given to vu_control_open */
    struct faults_set rq;       /* its request breakpoints, as rules */
};

struct vu_control {
    struct vu_loop *loop;
    struct ctl_dev d[VU_CONTROL_MAX_DEVS];
    size_t nd;
    struct sim_cal *cal;
    int lfd;
    struct event *lev;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct ctl_client *cl[CTL_CLIENTS];
    enum ctl_mode mode;
    uint64_t steps;
    sim_time_t until;
    int step_queue;
    int step_dev;               /* -1: a request on any device */
    char reason[32];
    uint32_t stop_bp;
    int stop_dev;               /* the device that hit stop_bp, or -1 */
    struct ctl_bp bp[CTL_BPS];
    size_t nbp;
    uint32_t next_bp;
    struct vu_loop_gate gate;
};

/* Request breakpoints are rules whose one action is to stop. */
static const struct faults_action ctl_actions[] = {
    { "stop", 0, 0, false, 0 },
    { NULL, 0, 0, false, 0 },
};

/* ---- output ------------------------------------------------------------ */

static void client_kill(struct ctl_client *cl);

static void client_flush(struct ctl_client *cl)
{
    while (cl->outlen > 0) {
        ssize_t n = send(cl->fd, cl->out, cl->outlen,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(cl->wev, NULL);
            return;
        }
        if (n <= 0) {
            client_kill(cl);
            return;
        }
        memmove(cl->out, cl->out + n, cl->outlen - (size_t)n);
        cl->outlen -= (size_t)n;
    }
    event_del(cl->wev);
}

/* One JSON line to @cl; a client that reads nothing is closed past 1 MiB. */
static void client_send(struct ctl_client *cl, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;

    json_decref(obj);
    if (!s || cl->dead) {
        free(s);
        return;
    }
    if (cl->outlen + n + 1 > CTL_OUT_MAX) {
        VUSIM_WARN(SS, "a client reads nothing; closing it");
        free(s);
        client_kill(cl);
        return;
    }
    if (cl->outlen + n + 1 > cl->outcap) {
        size_t cap = (cl->outlen + n + 1) * 2;
        char *p = realloc(cl->out, cap);

        if (!p) {
            free(s);
            client_kill(cl);
            return;
        }
        cl->out = p;
        cl->outcap = cap;
    }
    memcpy(cl->out + cl->outlen, s, n);
    cl->out[cl->outlen + n] = '\n';
    cl->outlen += n + 1;
    free(s);
    client_flush(cl);
}

static json_t *sim_time_json(sim_time_t t)
{
    char b[32];

    return json_pack("{s:I,s:s}", "ps", (json_int_t)t, "str",
                     sim_time_fmt(t, b, sizeof(b)));
}

/* An event to every negotiated client: data is consumed. */
static void ctl_event(struct vu_control *c, const char *name, json_t *data)
{
    uint64_t wall = vusim_wallclock_epoch_ns();

    for (size_t i = 0; i < CTL_CLIENTS; i++) {
        struct ctl_client *cl = c->cl[i];

        if (cl && cl->negotiated && !cl->dead) {
            client_send(cl, json_pack(
                "{s:s,s:O,s:{s:I,s:I},s:I}", "event", name, "data", data,
                "timestamp", "seconds", (json_int_t)(wall / 1000000000u),
                "microseconds", (json_int_t)(wall % 1000000000u / 1000),
                "sim-time", (json_int_t)sim_cal_now(c->cal)));
        }
    }
    json_decref(data);
}

/* ---- running and stopping -------------------------------------------- */

/* Stop for @reason; @bp is the breakpoint (0: none) and @dev the device
 * whose request, completion or notification hit it (-1: none). */
static void ctl_stop(struct vu_control *c, const char *reason, uint32_t bp,
                     int dev)
{
    json_t *d;

    if (c->mode == CTL_STOPPED) {
        return;
    }
    c->mode = CTL_STOPPED;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    c->stop_bp = bp;
    c->stop_dev = dev;
    d = json_pack("{s:s,s:o}", "reason", reason, "sim-time",
                  sim_time_json(sim_cal_now(c->cal)));
    if (bp) {
        json_object_set_new(d, "breakpoint", json_integer(bp));
    }
    if (dev >= 0) {
        json_object_set_new(d, "device", json_integer(dev));
    }
    VUSIM_INFO(SS, "stopped (%s)", reason);
    ctl_event(c, "STOP", d);
}

static void ctl_run(struct vu_control *c, enum ctl_mode mode)
{
    bool was = c->mode == CTL_STOPPED;
    unsigned n = 0;

    for (size_t i = 0; i < c->nd; i++) {
        n += c->d[i].be ? vu_backend_release_calls(c->d[i].be) : 0;
    }

    if (n) {
        VUSIM_INFO(SS, "%u held call(s) sent", n);
    }
    c->mode = mode;
    if (was) {
        ctl_event(c, "RESUME", json_pack("{s:o}", "sim-time",
                                         sim_time_json(sim_cal_now(c->cal))));
    }
}

/* Move simulated time to @t when nothing is due before it. */
static void ctl_advance(struct vu_control *c, sim_time_t t)
{
    if (sim_cal_now(c->cal) < t) {
        sim_cal_advance(c->cal, t);
    }
}

/* An armed time breakpoint due by @next: stop there. */
static bool time_bp_hit(struct vu_control *c, sim_time_t next)
{
    for (size_t i = 0; i < c->nbp; i++) {
        struct ctl_bp *b = &c->bp[i];

        if (b->armed && b->type == BP_TIME && b->at <= next) {
            ctl_advance(c, b->at);
            b->armed = false;
            b->hits++;
            ctl_stop(c, "breakpoint", b->id, -1);
            return true;
        }
    }
    return false;
}

static bool gate_may_run(void *opaque, sim_time_t next)
{
    struct vu_control *c = opaque;

    if (c->mode == CTL_STOPPED || time_bp_hit(c, next)) {
        return false;
    }
    if (c->mode == CTL_RUN_UNTIL && next > c->until) {
        ctl_advance(c, c->until);
        ctl_stop(c, "run-until", 0, -1);
        return false;
    }
    return true;
}

static void gate_ran(void *opaque)
{
    struct vu_control *c = opaque;
    sim_time_t next;

    if (c->mode == CTL_STEP_EVENTS && --c->steps == 0) {
        ctl_stop(c, "step", 0, -1);
    } else if (c->mode == CTL_RUN_UNTIL &&
               sim_cal_peek(c->cal, &next) != 0) {
        ctl_advance(c, c->until);
        ctl_stop(c, "run-until", 0, -1);
    }
}

/* ---- the back-end's observer ------------------------------------------ */

static json_t *req_json(struct ctl_dev *d, struct dev_req *req,
                        sim_time_t t_pop)
{
    struct vu_control *c = d->c;
    struct faults_req q = { .op = FAULTS_OP_OTHER, .queue = req->queue };
    json_t *o;

    if (d->dev->ops->describe) {
        d->dev->ops->describe(d->dev, req, &q);
    }
    o = json_pack("{s:i,s:s,s:I,s:I,s:i,s:i}", "queue", req->queue,
                  "type", faults_op_name(q.op), "sector", (json_int_t)q.sector,
                  "sectors", (json_int_t)q.nsectors, "rd", (int)req->rd_len,
                  "wr", (int)req->wr_len);
    if (t_pop != SIM_TIME_MAX) {
        json_object_set_new(o, "age", sim_time_json(sim_cal_now(c->cal) -
                                                    t_pop));
    }
    return o;
}

/* Each back-end's observer context is its struct ctl_dev. */
static void obs_pop(void *o, struct vu_backend *be, const struct dev_req *rq)
{
    struct ctl_dev *d = o;
    struct vu_control *c = d->c;
    struct dev_req *req = (struct dev_req *)rq;
    struct faults_req q = { .op = FAULTS_OP_OTHER, .queue = req->queue };
    struct faults_fire f;

    (void)be;
    if (c->mode == CTL_STEP_REQUEST &&
        (c->step_dev < 0 || c->step_dev == d->index) &&
        (c->step_queue < 0 || c->step_queue == req->queue)) {
        ctl_stop(c, "step", 0, d->index);
    }
    if (d->rq.n == 0 || !d->dev->ops->describe) {
        return;
    }
    d->dev->ops->describe(d->dev, req, &q);
    q.now = sim_cal_now(c->cal);
    if (!faults_match(&d->rq, &q, &f)) {
        return;
    }
    for (size_t i = 0; i < c->nbp; i++) {
        if (c->bp[i].type == BP_REQUEST && c->bp[i].dev == d->index &&
            c->bp[i].rule == f.rule->id && c->bp[i].armed) {
            c->bp[i].hits++;
            ctl_stop(c, "breakpoint", c->bp[i].id, d->index);
            return;
        }
    }
}

/* Returns whether the breakpoint that fired holds the call back. */
static bool queue_bp(struct ctl_dev *d, enum ctl_bp_type type,
                     uint16_t queue)
{
    struct vu_control *c = d->c;

    for (size_t i = 0; i < c->nbp; i++) {
        struct ctl_bp *b = &c->bp[i];

        if (b->armed && b->type == type &&
            (b->dev < 0 || b->dev == d->index) &&
            (b->queue < 0 || b->queue == queue)) {
            b->hits++;
            ctl_stop(c, "breakpoint", b->id, d->index);
            return b->hold;
        }
    }
    return false;
}

static void obs_complete(void *o, struct vu_backend *be,
                         const struct dev_req *req, uint32_t used)
{
    (void)be;
    (void)used;
    queue_bp(o, BP_COMPLETE, req->queue);
}

static bool obs_call(void *o, struct vu_backend *be, uint16_t queue)
{
    (void)be;
    return queue_bp(o, BP_NOTIFY, queue);
}

static void obs_fault(void *o, struct vu_backend *be,
                      const struct dev_req *req, const struct faults_fire *f)
{
    struct ctl_dev *d = o;

    (void)be;
    ctl_event(d->c, "FAULT", json_pack(
        "{s:i,s:i,s:s,s:s,s:I,s:s,s:i}", "device", d->index, "rule",
        (int)f->rule->id, "text", f->rule->text, "action", f->action,
        "firing", (json_int_t)f->firing, "state", f->state, "queue",
        req->queue));
}

static void obs_conn(void *o, struct vu_backend *be, bool up)
{
    struct ctl_dev *d = o;

    (void)be;
    ctl_event(d->c, up ? "FRONTEND_CONNECTED" : "FRONTEND_DISCONNECTED",
              json_pack("{s:i}", "device", d->index));
}

static const struct vu_backend_obs ctl_obs = {
    .pop = obs_pop, .complete = obs_complete, .call = obs_call,
    .fault = obs_fault, .conn = obs_conn,
};

/* ---- commands ----------------------------------------------------------- */

/* A handler returns the "return" value, or NULL with @err set. */
typedef json_t *(*cmd_fn)(struct vu_control *c, struct ctl_client *cl,
                          json_t *args, char *err, size_t errlen);

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), (json_t *)NULL)

/* A duration argument: "5ms", "250ns" (sim_time_parse). */
static int arg_time(json_t *args, const char *key, sim_time_t *t,
                    char *err, size_t errlen)
{
    json_t *v = json_object_get(args, key);

    if (!v) {
        return 1;
    }
    if (sim_time_parse(json_string_value(v), t, NULL, 0) != 0) {
        snprintf(err, errlen, "'%s': expected a duration such as 5ms, got "
                 "'%s'", key, json_string_value(v));
        return -1;
    }
    return 0;
}

/* The device a command addresses: 'device', an index in the order of
 * vu_control_open (vusim multi: the --device order), which a run of one
 * device lets the client leave out. */
static struct ctl_dev *arg_dev(struct vu_control *c, json_t *args, char *err,
                               size_t errlen)
{
    json_t *v = json_object_get(args, "device");
    json_int_t i = v ? json_integer_value(v) : 0;

    if (!v && c->nd > 1) {
        snprintf(err, errlen, "'device': missing; this run has %zu devices, "
                 "0 to %zu in --device order", c->nd, c->nd - 1);
        return NULL;
    }
    if (i < 0 || (size_t)i >= c->nd) {
        snprintf(err, errlen, "'device': no device %lld; expected 0 to %zu",
                 (long long)i, c->nd - 1);
        return NULL;
    }
    return &c->d[i];
}

/* An optional 'device': its index, -1 when absent (any device), or -2
 * with @err set. */
static int arg_dev_any(struct vu_control *c, json_t *args, char *err,
                       size_t errlen)
{
    struct ctl_dev *d;

    if (!json_object_get(args, "device")) {
        return -1;
    }
    d = arg_dev(c, args, err, errlen);
    return d ? d->index : -2;
}

static json_t *c_caps(struct vu_control *c, struct ctl_client *cl,
                      json_t *a, char *err, size_t errlen)
{
    (void)c;
    (void)a;
    if (cl->negotiated) {
        return ERR("Capabilities negotiation is already complete, command "
                   "ignored");
    }
    cl->negotiated = true;
    return json_object();
}

static json_t *c_status(struct vu_control *c, struct ctl_client *cl,
                        json_t *a, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:b,s:s,s:o}", "running", c->mode != CTL_STOPPED,
                          "status", c->mode == CTL_STOPPED ? "paused"
                                                           : "running",
                          "sim-time", sim_time_json(sim_cal_now(c->cal)));
    json_t *devs = json_array();

    (void)cl;
    (void)a;
    (void)err;
    (void)errlen;
    for (size_t i = 0; i < c->nd; i++) {
        json_array_append_new(devs, json_pack(
            "{s:i,s:s,s:b}", "device", (int)i, "type",
            c->d[i].dev->ops->name, "connected",
            vu_backend_connected(c->d[i].be)));
    }
    if (c->reason[0]) {
        json_object_set_new(o, "reason", json_string(c->reason));
    }
    if (c->stop_bp) {
        json_object_set_new(o, "breakpoint", json_integer(c->stop_bp));
    }
    if (c->stop_dev >= 0) {
        json_object_set_new(o, "device", json_integer(c->stop_dev));
    }
    json_object_set_new(o, "devices", devs);
    return o;
}

static json_t *c_stop(struct vu_control *c, struct ctl_client *cl,
                      json_t *a, char *err, size_t errlen)
{
    (void)cl;
    (void)a;
    (void)err;
    (void)errlen;
    ctl_stop(c, "user", 0, -1);
    return json_object();
}

static json_t *c_cont(struct vu_control *c, struct ctl_client *cl,
                      json_t *a, char *err, size_t errlen)
{
    (void)cl;
    (void)a;
    (void)err;
    (void)errlen;
    ctl_run(c, CTL_RUN);
    return json_object();
}

/* step: {"events": N} (default 1), {"duration": D} or {"queue": Q}. */
static json_t *c_step(struct vu_control *c, struct ctl_client *cl,
                      json_t *a, char *err, size_t errlen)
{
    json_t *ev = json_object_get(a, "events"), *q = json_object_get(a,
                                                                    "queue");
    sim_time_t d;
    int rc = arg_time(a, "duration", &d, err, errlen);
    int dev = arg_dev_any(c, a, err, errlen);

    (void)cl;
    if (rc < 0 || dev == -2) {
        return NULL;
    }
    if ((ev != NULL) + (q != NULL) + (rc == 0) > 1) {
        return ERR("step: give one of 'events', 'duration' or 'queue'");
    }
    if (dev >= 0 && !q) {
        return ERR("'device': only with 'queue' (a request on that "
                   "device's queue)");
    }
    if (rc == 0) {
        if (sim_time_add(sim_cal_now(c->cal), d, &c->until)) {
            return ERR("'duration': too far");
        }
        ctl_run(c, CTL_RUN_UNTIL);
    } else if (q) {
        c->step_queue = (int)json_integer_value(q);
        c->step_dev = dev;
        ctl_run(c, CTL_STEP_REQUEST);
    } else {
        c->steps = ev ? (uint64_t)json_integer_value(ev) : 1;
        if (c->steps == 0 || (ev && json_integer_value(ev) < 0)) {
            return ERR("'events': expected 1 or more");
        }
        ctl_run(c, CTL_STEP_EVENTS);
    }
    return json_object();
}

static json_t *c_run_until(struct vu_control *c, struct ctl_client *cl,
                           json_t *a, char *err, size_t errlen)
{
    sim_time_t t;

    (void)cl;
    if (arg_time(a, "time", &t, err, errlen) != 0) {
        return err[0] ? NULL : ERR("'time': missing");
    }
    if (t <= sim_cal_now(c->cal)) {
        return ERR("'time': not later than the simulated time now");
    }
    c->until = t;
    ctl_run(c, CTL_RUN_UNTIL);
    return json_object();
}

static json_t *bp_json(const struct vu_control *c, const struct ctl_bp *b)
{
    json_t *o = json_pack("{s:i,s:s,s:b,s:I}", "id", (int)b->id, "type",
                          bp_names[b->type], "armed", b->armed, "hits",
                          (json_int_t)b->hits);

    const struct faults_set *rq = b->dev >= 0 ? &c->d[b->dev].rq : NULL;

    if (b->dev >= 0) {
        json_object_set_new(o, "device", json_integer(b->dev));
    }
    if (b->queue >= 0) {
        json_object_set_new(o, "queue", json_integer(b->queue));
    }
    if (b->hold) {
        json_object_set_new(o, "hold", json_true());
    }
    if (b->type == BP_TIME) {
        json_object_set_new(o, "time", sim_time_json(b->at));
    }
    for (size_t i = 0; b->type == BP_REQUEST && rq && i < rq->n; i++) {
        if (rq->rules[i].id == b->rule) {
            json_object_set_new(o, "rule", json_string(rq->rules[i].text));
        }
    }
    return o;
}

/* A request breakpoint: the triggers, with do=stop added. */
static int bp_rule(struct ctl_dev *d, json_t *a, struct ctl_bp *b,
                   char *err, size_t errlen)
{
    const char *r = json_string_value(json_object_get(a, "rule"));
    char text[FAULTS_RULE_MAX], why[512];

    if (!r) {
        snprintf(err, errlen, "'rule': expected trigger=value,... such as "
                 "on=flush,nth=1");
        return -EINVAL;
    }
    if (snprintf(text, sizeof(text), "%s%sdo=stop", r, r[0] ? "," : "") >=
        (int)sizeof(text)) {
        snprintf(err, errlen, "'rule': too long");
        return -EINVAL;
    }
    if (faults_set_add(&d->rq, text, strlen(text), &b->rule, why,
                       sizeof(why))) {
        snprintf(err, errlen, "'rule': %s", why);
        return -EINVAL;
    }
    return 0;
}

static json_t *c_break_add(struct vu_control *c, struct ctl_client *cl,
                           json_t *a, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(a, "type"));
    json_t *q = json_object_get(a, "queue");
    json_t *hold = json_object_get(a, "hold");
    struct ctl_bp b = { .queue = q ? (int)json_integer_value(q) : -1,
                        .armed = true, .hold = json_is_true(hold) };
    struct ctl_dev *d = NULL;
    unsigned t;

    (void)cl;
    for (t = 0; type && t <= BP_TIME && strcmp(type, bp_names[t]); t++) {
    }
    if (!type || t > BP_TIME) {
        return ERR("'type': expected request, complete, notify or time");
    }
    if (c->nbp == CTL_BPS) {
        return ERR("at most %d breakpoints", CTL_BPS);
    }
    b.type = (enum ctl_bp_type)t;
    if (b.type == BP_TIME && json_object_get(a, "device")) {
        return ERR("'device': a time breakpoint stops the whole calendar");
    }
    if (hold && b.type != BP_NOTIFY) {
        return ERR("'hold': only a notify breakpoint holds (its call)");
    }
    if (b.type == BP_TIME && arg_time(a, "time", &b.at, err, errlen) != 0) {
        return err[0] ? NULL : ERR("'time': missing");
    }
    /* A request's triggers are a device's (its types, its sectors). */
    if (b.type == BP_REQUEST && !(d = arg_dev(c, a, err, errlen))) {
        return NULL;
    }
    b.dev = d ? d->index : arg_dev_any(c, a, err, errlen);
    if (b.dev == -2 || (d && bp_rule(d, a, &b, err, errlen))) {
        return NULL;
    }
    b.id = ++c->next_bp;
    c->bp[c->nbp++] = b;
    return json_pack("{s:i}", "id", (int)b.id);
}

static json_t *c_break_del(struct vu_control *c, struct ctl_client *cl,
                           json_t *a, char *err, size_t errlen)
{
    json_int_t id = json_integer_value(json_object_get(a, "id"));

    (void)cl;
    for (size_t i = 0; i < c->nbp; i++) {
        if (c->bp[i].id == id) {
            if (c->bp[i].type == BP_REQUEST) {
                faults_set_del(&c->d[c->bp[i].dev].rq, c->bp[i].rule);
            }
            c->bp[i] = c->bp[--c->nbp];
            return json_object();
        }
    }
    return ERR("no breakpoint %lld", (long long)id);
}

static json_t *c_query_breaks(struct vu_control *c, struct ctl_client *cl,
                              json_t *a, char *err, size_t errlen)
{
    json_t *arr = json_array();

    (void)cl;
    (void)a;
    (void)err;
    (void)errlen;
    for (size_t i = 0; i < c->nbp; i++) {
        json_array_append_new(arr, bp_json(c, &c->bp[i]));
    }
    return arr;
}

/* Append the requests in flight on queue @q of @d to @arr. */
static void inflight_into(struct ctl_dev *d, uint16_t q, json_t *arr)
{
    struct dev_req *reqs[CTL_LIST_MAX];
    sim_time_t t[CTL_LIST_MAX];
    size_t n = vu_backend_inflight(d->be, q, reqs, t, CTL_LIST_MAX);

    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, req_json(d, reqs[i], t[i]));
    }
}

static json_t *queue_json(struct ctl_dev *d, uint16_t q,
                          const struct vu_queue_info *qi)
{
    json_t *in = json_array();

    inflight_into(d, q, in);
    return json_pack("{s:i,s:b,s:b,s:i,s:i,s:i,s:i,s:o}", "index", q,
                     "started", qi->started, "enabled", qi->enabled, "num",
                     qi->num, "last-avail", qi->last_avail, "used-idx",
                     qi->used_idx, "inflight-count", (int)qi->ninflight,
                     "inflight", in);
}

/* query-queues (@each_queue: one object per queue) and query-requests
 * (every request in flight, queue after queue) of the device @a names. */
static json_t *queues_json(struct vu_control *c, json_t *a, bool each_queue,
                           char *err, size_t errlen)
{
    struct ctl_dev *d = arg_dev(c, a, err, errlen);
    struct vu_queue_info qi;
    json_t *arr;

    if (!d) {
        return NULL;
    }
    arr = json_array();
    for (uint16_t q = 0; vu_backend_queue_info(d->be, q, &qi) == 0; q++) {
        if (each_queue) {
            json_array_append_new(arr, queue_json(d, q, &qi));
        } else {
            inflight_into(d, q, arr);
        }
    }
    return arr;
}

static json_t *c_query_queues(struct vu_control *c, struct ctl_client *cl,
                              json_t *a, char *err, size_t errlen)
{
    (void)cl;
    return queues_json(c, a, true, err, errlen);
}

static json_t *c_query_requests(struct vu_control *c, struct ctl_client *cl,
                                json_t *a, char *err, size_t errlen)
{
    (void)cl;
    return queues_json(c, a, false, err, errlen);
}

/* The rules of the device @a names, or NULL with @err set. */
static struct faults_set *dev_rules(struct vu_control *c, json_t *a,
                                    struct ctl_dev **out, char *err,
                                    size_t errlen)
{
    struct ctl_dev *d = arg_dev(c, a, err, errlen);

    if (d && !d->dev->ops->faults) {
        snprintf(err, errlen, "device %d (%s) has no fault rules", d->index,
                 d->dev->ops->name);
        return NULL;
    }
    *out = d;
    return d ? d->dev->ops->faults(d->dev) : NULL;
}

/* Rules, releases and resets go through the back-end, which records them
 * in the trace for replay (devices/dev.h struct dev_ctl). */
static json_t *c_fault_add(struct vu_control *c, struct ctl_client *cl,
                           json_t *a, char *err, size_t errlen)
{
    struct dev_ctl dc = {
        .op = DEV_CTL_RULE_ADD,
        .text = json_string_value(json_object_get(a, "rule")),
    };
    struct ctl_dev *d;

    (void)cl;
    if (!dev_rules(c, a, &d, err, errlen)) {
        return NULL;
    }
    if (!dc.text) {
        return ERR("'rule': missing");
    }
    if (vu_backend_ctl(d->be, &dc, err, errlen)) {
        return NULL;
    }
    return json_pack("{s:i}", "id", (int)dc.arg);
}

static json_t *c_fault_del(struct vu_control *c, struct ctl_client *cl,
                           json_t *a, char *err, size_t errlen)
{
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    struct dev_ctl dc = { .op = DEV_CTL_RULE_DEL };
    struct ctl_dev *d;

    (void)cl;
    if (!dev_rules(c, a, &d, err, errlen)) {
        return NULL;
    }
    if (id <= 0 || id > UINT32_MAX) {
        return ERR("no rule %lld", (long long)id);
    }
    dc.arg = (uint64_t)id;
    return vu_backend_ctl(d->be, &dc, err, errlen) ? NULL : json_object();
}

static json_t *c_query_faults(struct vu_control *c, struct ctl_client *cl,
                              json_t *a, char *err, size_t errlen)
{
    struct ctl_dev *d;
    struct faults_set *s = dev_rules(c, a, &d, err, errlen);
    json_t *arr;

    (void)cl;
    if (!s) {
        return NULL;
    }
    arr = json_array();
    for (size_t i = 0; i < s->n; i++) {
        json_array_append_new(arr, json_pack(
            "{s:i,s:s,s:I,s:I}", "id", (int)s->rules[i].id, "rule",
            s->rules[i].text, "matched", (json_int_t)s->rules[i].matched,
            "fired", (json_int_t)s->rules[i].fired));
    }
    return json_pack("{s:s,s:I,s:o}", "state", s->state, "fired",
                     (json_int_t)s->fired, "rules", arr);
}

static json_t *c_complete(struct vu_control *c, struct ctl_client *cl,
                          json_t *a, char *err, size_t errlen)
{
    const char *st = json_string_value(json_object_get(a, "status"));
    json_t *idx = json_object_get(a, "index");
    struct dev_ctl dc = { .op = DEV_CTL_RELEASE };
    struct ctl_dev *d = arg_dev(c, a, err, errlen);
    int status = -1;

    (void)cl;
    if (!d) {
        return NULL;
    }
    if (!d->dev->ops->fault_release) {
        return ERR("device %d (%s) holds no requests", d->index,
                   d->dev->ops->name);
    }
    if (st) {
        status = !strcmp(st, "ok") ? 0 : !strcmp(st, "ioerr") ? 1
               : !strcmp(st, "unsupp") ? 2 : -2;
        if (status == -2) {
            return ERR("'status': expected ok, ioerr or unsupp");
        }
    }
    if (idx && json_integer_value(idx) < 0) {
        return ERR("no hung request %lld", (long long)json_integer_value(idx));
    }
    dc.arg = idx ? (uint64_t)json_integer_value(idx) : 0;
    dc.status = status;
    return vu_backend_ctl(d->be, &dc, err, errlen) ? NULL : json_object();
}

static json_t *c_reset(struct vu_control *c, struct ctl_client *cl,
                       json_t *a, char *err, size_t errlen)
{
    struct vu_queue_info qi;
    struct dev_ctl dc = { .op = DEV_CTL_RESET };
    struct ctl_dev *d = arg_dev(c, a, err, errlen);

    (void)cl;
    if (!d) {
        return NULL;
    }
    for (uint16_t q = 0; vu_backend_queue_info(d->be, q, &qi) == 0; q++) {
        if (qi.ninflight) {
            return ERR("queue %u has %u requests in flight: the driver "
                       "must get them back first", q, qi.ninflight);
        }
    }
    return vu_backend_ctl(d->be, &dc, err, errlen) ? NULL : json_object();
}

/* set-timing: a once-only timing rule for the next request, so the change
 * lands on the calendar, and in a trace, like any rule's. */
static json_t *c_set_timing(struct vu_control *c, struct ctl_client *cl,
                            json_t *a, char *err, size_t errlen)
{
    const char *lat = json_string_value(json_object_get(a, "latency"));
    const char *bw = json_string_value(json_object_get(a, "bandwidth"));
    char rule[256];
    json_t *args;
    json_t *r;

    if (!lat && !bw) {
        return ERR("give 'latency' and/or 'bandwidth'");
    }
    snprintf(rule, sizeof(rule), "do=timing%s%s%s%s,times=once",
             lat ? ",latency=" : "", lat ? lat : "",
             bw ? ",bandwidth=" : "", bw ? bw : "");
    args = json_pack("{s:s}", "rule", rule);
    if (json_object_get(a, "device")) {
        json_object_set(args, "device", json_object_get(a, "device"));
    }
    r = c_fault_add(c, cl, args, err, errlen);
    json_decref(args);
    return r;
}

enum { A_INT = 1, A_STR = 2, A_BOOL = 3 };

struct cmd_arg {
    const char *name;
    int type;
};

/* "device": which device of the run (vusim multi), optional with one. */
#define DEV_ARG { "device", A_INT }

static const struct ctl_cmd {
    const char *name;
    cmd_fn fn;
    struct cmd_arg args[CTL_ARGS];
} cmds[] = {
    { "qmp_capabilities", c_caps, { { 0 } } },
    { "query-status", c_status, { { 0 } } },
    { "stop", c_stop, { { 0 } } },
    { "cont", c_cont, { { 0 } } },
    { "step", c_step, { { "events", A_INT }, { "duration", A_STR },
                        { "queue", A_INT }, DEV_ARG, { 0 } } },
    { "run-until", c_run_until, { { "time", A_STR }, { 0 } } },
    { "break-add", c_break_add, { { "type", A_STR }, { "rule", A_STR },
                                  { "queue", A_INT }, { "time", A_STR },
                                  DEV_ARG, { "hold", A_BOOL } } },
    { "break-del", c_break_del, { { "id", A_INT }, { 0 } } },
    { "query-breaks", c_query_breaks, { { 0 } } },
    { "query-queues", c_query_queues, { DEV_ARG, { 0 } } },
    { "query-requests", c_query_requests, { DEV_ARG, { 0 } } },
    { "fault-add", c_fault_add, { { "rule", A_STR }, DEV_ARG, { 0 } } },
    { "fault-del", c_fault_del, { { "id", A_INT }, DEV_ARG, { 0 } } },
    { "query-faults", c_query_faults, { DEV_ARG, { 0 } } },
    { "complete", c_complete, { { "index", A_INT }, { "status", A_STR },
                                DEV_ARG, { 0 } } },
    { "reset-device", c_reset, { DEV_ARG, { 0 } } },
    { "set-timing", c_set_timing, { { "latency", A_STR },
                                    { "bandwidth", A_STR }, DEV_ARG,
                                    { 0 } } },
};

/* Every argument is one the command takes, of its type. */
static int args_check(const struct ctl_cmd *cmd, json_t *args, char *err,
                      size_t errlen)
{
    const char *key;
    json_t *v;

    json_object_foreach(args, key, v) {
        const struct cmd_arg *a = cmd->args;

        for (; a < cmd->args + CTL_ARGS && a->name && strcmp(a->name, key);
             a++) {
        }
        if (a == cmd->args + CTL_ARGS || !a->name) {
            snprintf(err, errlen, "Parameter '%s' is unexpected", key);
            return -EINVAL;
        }
        if ((a->type == A_INT && !json_is_integer(v)) ||
            (a->type == A_STR && !json_is_string(v)) ||
            (a->type == A_BOOL && !json_is_boolean(v))) {
            snprintf(err, errlen, "Invalid parameter type for '%s', "
                     "expected: %s", key, a->type == A_INT ? "integer" :
                     a->type == A_STR ? "string" : "boolean");
            return -EINVAL;
        }
    }
    return 0;
}

static void reply_error(struct ctl_client *cl, json_t *id, const char *cls,
                        const char *desc)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "class", cls, "desc",
                          desc);

    if (id) {
        json_object_set(o, "id", id);
    }
    client_send(cl, o);
}

static void dispatch(struct ctl_client *cl, json_t *msg)
{
    json_t *id = json_object_get(msg, "id"), *args, *ret;
    const char *name = json_string_value(json_object_get(msg, "execute"));
    const struct ctl_cmd *cmd = NULL;
    char err[600] = "";

    if (!json_is_object(msg) || !name) {
        reply_error(cl, id, "GenericError", "Expected an object with "
                    "'execute'");
        return;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (!strcmp(cmds[i].name, name)) {
            cmd = &cmds[i];
        }
    }
    args = json_object_get(msg, "arguments");
    if (!cmd) {
        snprintf(err, sizeof(err), "The command %s has not been found",
                 name);
        reply_error(cl, id, "CommandNotFound", err);
        return;
    }
    if (!cl->negotiated && cmd->fn != c_caps) {
        reply_error(cl, id, "CommandNotFound", "Expecting capabilities "
                    "negotiation with 'qmp_capabilities'");
        return;
    }
    if (args && !json_is_object(args)) {
        reply_error(cl, id, "GenericError", "'arguments' must be an object");
        return;
    }
    args = args ? json_incref(args) : json_object();
    if (args_check(cmd, args, err, sizeof(err)) == 0 &&
        (ret = cmd->fn(cl->c, cl, args, err, sizeof(err))) != NULL) {
        json_t *o = json_pack("{s:o}", "return", ret);

        if (id) {
            json_object_set(o, "id", id);
        }
        client_send(cl, o);
    } else {
        reply_error(cl, id, "GenericError", err[0] ? err : "failed");
    }
    json_decref(args);
}

/* ---- clients ------------------------------------------------------------ */

static void client_line(struct ctl_client *cl, const char *line, size_t n)
{
    json_error_t je;
    json_t *msg;
    char desc[300];

    if (n == 0 || strspn(line, " \t\r") == n) {
        return;
    }
    msg = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
    if (!msg) {
        snprintf(desc, sizeof(desc), "JSON parse error, %s", je.text);
        reply_error(cl, NULL, "GenericError", desc);
        return;
    }
    dispatch(cl, msg);
    json_decref(msg);
}

static void client_close(struct ctl_client *cl);

static void client_read(evutil_socket_t fd, short what, void *arg)
{
    struct ctl_client *cl = arg;
    ssize_t n;
    char *nl;

    (void)what;
    n = recv(fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen,
             MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        client_close(cl);
        return;
    }
    cl->inlen += (size_t)n;
    while (!cl->dead && (nl = memchr(cl->in, '\n', cl->inlen)) != NULL) {
        size_t len = (size_t)(nl - cl->in);

        client_line(cl, cl->in, len);
        memmove(cl->in, nl + 1, cl->inlen - len - 1);
        cl->inlen -= len + 1;
    }
    if (!cl->dead && cl->inlen == sizeof(cl->in)) {
        reply_error(cl, NULL, "GenericError", "line longer than 64 KiB");
        client_kill(cl);
    }
    if (cl->dead) {
        client_close(cl);
    }
}

static void client_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    client_flush(arg);
}

/* Close @cl now for every purpose but its memory, which a caller up the
 * stack may still hold: client_close() frees it at a safe point. */
static void client_kill(struct ctl_client *cl)
{
    if (!cl->dead) {
        cl->dead = true;
        event_del(cl->rev);
        event_del(cl->wev);
        shutdown(cl->fd, SHUT_RDWR);
    }
}

static void client_close(struct ctl_client *cl)
{
    struct vu_control *c = cl->c;

    for (int i = 0; i < CTL_CLIENTS; i++) {
        if (c->cl[i] == cl) {
            c->cl[i] = NULL;
        }
    }
    event_free(cl->rev);
    event_free(cl->wev);
    close(cl->fd);
    free(cl->out);
    free(cl);
}

static void ctl_accept(evutil_socket_t fd, short what, void *arg)
{
    struct vu_control *c = arg;
    int s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), slot = -1;
    struct ctl_client *cl;

    (void)what;
    if (s < 0) {
        return;
    }
    for (int i = CTL_CLIENTS - 1; i >= 0; i--) {
        if (c->cl[i] && c->cl[i]->dead) {
            client_close(c->cl[i]);
        }
        slot = c->cl[i] ? slot : i;
    }
    cl = slot >= 0 ? calloc(1, sizeof(*cl)) : NULL;
    if (!cl) {
        VUSIM_WARN(SS, "too many control clients; closing a new one");
        close(s);
        return;
    }
    cl->c = c;
    cl->fd = s;
    cl->rev = event_new(vu_loop_base(c->loop), s, EV_READ | EV_PERSIST,
                        client_read, cl);
    cl->wev = event_new(vu_loop_base(c->loop), s, EV_WRITE, client_write,
                        cl);
    if (!cl->rev || !cl->wev || event_add(cl->rev, NULL) < 0) {
        c->cl[slot] = cl;
        client_close(cl);
        return;
    }
    c->cl[slot] = cl;
    client_send(cl, json_pack("{s:{s:{s:s},s:[]}}", "QMP", "version",
                              "package", PACKAGE_STRING, "capabilities"));
}

/* ---- life -------------------------------------------------------------- */

static int ctl_listen(struct vu_control *c, const char *path, char *err,
                      size_t errlen)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    mode_t old;
    int rc;

    if (strlen(path) >= sizeof(a.sun_path)) {
        snprintf(err, errlen, "--control=%s: longer than %zu bytes", path,
                 sizeof(a.sun_path) - 1);
        return -EINVAL;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->lfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "--control=%s: socket: %s", path, strerror(-rc));
        return rc;
    }
    unlink(path);
    old = umask(0177);              /* created 0600: no window */
    rc = bind(c->lfd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (rc < 0 || listen(c->lfd, 4) < 0) {
        rc = -errno;
        snprintf(err, errlen, "--control=%s: %s", path, strerror(-rc));
        return rc;
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    return 0;
}

int vu_control_open(struct vu_loop *loop, struct vu_backend *const *bes,
                    size_t n, const char *path, struct vu_control **out,
                    char *err, size_t errlen)
{
    struct vu_control *c;
    int rc;

    if (n == 0 || n > VU_CONTROL_MAX_DEVS) {
        snprintf(err, errlen, "--control: %zu devices; 1 to %d", n,
                 VU_CONTROL_MAX_DEVS);
        return -EINVAL;
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        snprintf(err, errlen, "--control: out of memory");
        return -ENOMEM;
    }
    c->loop = loop;
    c->cal = vu_loop_cal(loop);
    c->lfd = -1;
    c->step_dev = c->stop_dev = -1;
    for (size_t i = 0; i < n; i++) {
        c->d[i] = (struct ctl_dev){ .c = c, .be = bes[i],
                                    .dev = vu_backend_dev(bes[i]),
                                    .index = (int)i };
        faults_set_init(&c->d[i].rq, ctl_actions, 0);
    }
    c->nd = n;
    rc = ctl_listen(c, path, err, errlen);
    if (rc == 0) {
        c->lev = event_new(vu_loop_base(loop), c->lfd, EV_READ | EV_PERSIST,
                           ctl_accept, c);
        if (!c->lev || event_add(c->lev, NULL) < 0) {
            snprintf(err, errlen, "--control: out of memory");
            rc = -ENOMEM;
        }
    }
    if (rc) {
        vu_control_free(c);
        return rc;
    }
    c->gate = (struct vu_loop_gate){ gate_may_run, gate_ran, c };
    vu_loop_set_gate(loop, &c->gate);
    for (size_t i = 0; i < n; i++) {
        vu_backend_set_obs(bes[i], &ctl_obs, &c->d[i]);
    }
    *out = c;
    return 0;
}

void vu_control_free(struct vu_control *c)
{
    if (!c) {
        return;
    }
    if (c->gate.opaque) {
        vu_loop_set_gate(c->loop, NULL);
        for (size_t i = 0; i < c->nd; i++) {
            vu_backend_set_obs(c->d[i].be, NULL, NULL);
        }
    }
    for (int i = 0; i < CTL_CLIENTS; i++) {
        if (c->cl[i]) {
            client_close(c->cl[i]);
        }
    }
    if (c->lev) {
        event_free(c->lev);
    }
    if (c->lfd >= 0) {
        close(c->lfd);
        if (c->path[0]) {
            unlink(c->path);
        }
    }
    for (size_t i = 0; i < c->nd; i++) {
        faults_set_fini(&c->d[i].rq);
    }
    free(c);
}
