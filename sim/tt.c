/* SPDX-License-Identifier: MIT */
/*
 * The UML time-travel controller (see tt.h). One struct per participant;
 * its run request is an embedded calendar event.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "sim/log.h"
#include "sim/sock.h"
#include "sim/tt.h"

#define SS "tt"
#define TT_MAX_CLIENTS 64
/* Device work at a time runs before a participant's run at that time, so a
 * guest woken at t sees the interrupts of t. */
#define TT_PRIO_BASE (1 << 20)

enum tt_state { TT_BOOTING, TT_RUNNING, TT_WAITING };

struct tt_client {
    struct sim_tt *tt;
    int fd;
    struct event *ev;
    unsigned conn;              /* connection number, for messages */
    uint64_t id;                /* from START */
    bool started;               /* START received */
    uint32_t start_seq;
    enum tt_state state;
    uint64_t time_ns;           /* the participant's last known time */
    uint64_t free_until;        /* bound it was last given; 0 none */
    uint32_t seq;               /* ours, for RUN and FREE_UNTIL */
    uint32_t unacked;           /* our messages it has not acked */
    int32_t prio;
    struct sim_event run_ev;    /* its requested run time */
    struct sim_event start_ev;
    uint8_t rbuf[sizeof(struct sim_tt_msg)];
    size_t rlen;
    /* a kick ack waits for this participant to ack a FREE_UNTIL */
    void (*sync_done)(void *arg);
    void *sync_arg;
    uint32_t sync_seq;
};

struct sim_tt {
    struct event_base *base;
    struct sim_cal *cal;
    struct sim_tt_cfg cfg;
    struct sim_tt_ops ops;
    char *path;
    int lfd;
    struct event *lev;
    struct tt_client *c[TT_MAX_CLIENTS];
    unsigned nc, conns;
    bool starting;              /* start events are scheduled */
    bool held_for_start;        /* the calendar waits for participants */
    struct tt_client *running;
    struct tt_client *last;     /* read from last (sim_tt_serve_last) */
    struct sim_tt_stats st;
    sim_tt_observer_fn obs;
    void *obs_opaque;
};

static const char *const op_names[SIM_TT_NOPS] = {
    "ACK", "START", "REQUEST", "WAIT", "GET", "UPDATE", "RUN",
    "FREE_UNTIL", "GET_TOD",
};

const char *sim_tt_op_name(uint32_t op)
{
    return op < SIM_TT_NOPS ? op_names[op] : "unknown";
}

static uint64_t now_ns(const struct sim_tt *tt)
{
    return sim_cal_now(tt->cal) / SIM_NS;
}

/* ---- participants ------------------------------------------------- */

static void tt_set_running(struct sim_tt *tt, struct tt_client *c)
{
    if (c && !tt->running) {
        tt->ops.hold(tt->ops.opaque);
    } else if (!c && tt->running) {
        tt->ops.release(tt->ops.opaque);
    }
    tt->running = c;
    if (c) {
        c->state = TT_RUNNING;
    }
}

/* The kick ack held for @c's FREE_UNTIL may go: @c has learned the bound,
 * or has stopped running (WAIT without acking it, which UML never does,
 * but a hostile peer may): either way it cannot pass the kick's event, and
 * a held ack must not outlive the participant's turn, or the next one to
 * run could have a second sync pending. */
static void tt_sync_moot(struct tt_client *c)
{
    void (*done)(void *arg) = c->sync_done;

    if (done) {
        c->sync_done = NULL;
        done(c->sync_arg);
    }
}

/* Forget a participant: its events, its hold, its socket. */
static void tt_close(struct tt_client *c)
{
    struct sim_tt *tt = c->tt;
    unsigned i;

    if (tt->running == c) {
        tt_set_running(tt, NULL);
    }
    if (tt->last == c) {
        tt->last = NULL;
    }
    sim_cal_cancel(tt->cal, &c->run_ev);
    sim_cal_cancel(tt->cal, &c->start_ev);
    tt_sync_moot(c);                    /* nobody left to wait for */
    for (i = 0; i < tt->nc && tt->c[i] != c; i++) {
    }
    memmove(&tt->c[i], &tt->c[i + 1], (tt->nc - i - 1) * sizeof(tt->c[0]));
    tt->nc--;
    event_free(c->ev);
    close(c->fd);
    free(c);
}

static void tt_drop(struct tt_client *c, const char *why)
{
    VUSIM_ERR(SS, "participant %u (id %lld): %s; dropped", c->conn,
              (long long)c->id, why);
    c->tt->st.dropped++;
    tt_close(c);
}

static void tt_observe(struct tt_client *c, enum sim_tt_dir dir,
                       const struct sim_tt_msg *m, uint64_t reply)
{
    if (c->tt->obs) {
        c->tt->obs(c->tt->obs_opaque, c->id, dir, m, reply);
    }
}

static int tt_send(struct tt_client *c, uint32_t op, uint32_t seq,
                   uint64_t time)
{
    struct sim_tt_msg m = { .op = op, .seq = seq, .time = time };
    const uint8_t *p = (const uint8_t *)&m;
    size_t off = 0;

    while (off < sizeof(m)) {
        /* A guest that died must not take vusim down with SIGPIPE. */
        ssize_t n = send(c->fd, p + off, sizeof(m) - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -ENOTCONN;
        }
        off += (size_t)n;
    }
    if (op != SIM_TT_ACK) {
        c->unacked++;
        tt_observe(c, SIM_TT_TO_GUEST, &m, 0);
    }
    return 0;
}

/* The earliest pending event that is not @c's own run request. */
static uint64_t tt_next_foreign_ns(struct sim_tt *tt, struct tt_client *c)
{
    bool own = sim_event_pending(&c->run_ev);
    sim_time_t own_t = sim_event_time(&c->run_ev), t;
    uint64_t ns = UINT64_MAX;

    if (own) {
        sim_cal_cancel(tt->cal, &c->run_ev);
    }
    if (sim_cal_peek(tt->cal, &t) == 0) {
        ns = t / SIM_NS;
    }
    if (own) {
        sim_cal_at(tt->cal, &c->run_ev, own_t, c->prio);
    }
    return ns;
}

/* Bound the running participant by the next foreign event. UML treats
 * S64_MAX as "forever" and panics at or past it, so stay below. */
static int tt_give_free_until(struct tt_client *c)
{
    struct sim_tt *tt = c->tt;
    uint64_t fu = tt_next_foreign_ns(tt, c);

    if (fu >= (uint64_t)INT64_MAX) {
        fu = (uint64_t)INT64_MAX - 1;
    }
    c->free_until = fu;
    tt->st.free_untils++;
    return tt_send(c, SIM_TT_FREE_UNTIL, ++c->seq, fu);
}

static void tt_run_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct tt_client *c = ev->arg;
    struct sim_tt *tt = c->tt;
    uint64_t t = sim_cal_now(cal) / SIM_NS;

    if (t < c->time_ns) {
        t = c->time_ns;       /* never backwards: ns rounding only */
    }
    /* FREE_UNTIL first: UML forgets it when it next waits, and reads it
     * now, before RUN ends its wait. */
    if ((tt->cfg.free_until && tt_give_free_until(c) < 0) ||
        tt_send(c, SIM_TT_RUN, ++c->seq, t) < 0) {
        tt_drop(c, "cannot send RUN");
        return;
    }
    c->time_ns = t;
    tt->st.runs++;
    tt_set_running(tt, c);
}

static void tt_start_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct tt_client *c = ev->arg;
    const struct sim_tt_msg start = {
        .op = SIM_TT_START, .seq = c->start_seq, .time = c->id};

    (void)cal;
    tt_observe(c, SIM_TT_FROM_GUEST, &start, 0);
    if (tt_send(c, SIM_TT_ACK, c->start_seq, 0) < 0) {
        tt_drop(c, "cannot ack START");
        return;
    }
    c->time_ns = now_ns(c->tt);
    tt_set_running(c->tt, c);
}

static int cmp_client(const void *a, const void *b)
{
    const struct tt_client *x = *(struct tt_client *const *)a;
    const struct tt_client *y = *(struct tt_client *const *)b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* Everyone is here: start them in ID order, one after the other. */
static void tt_schedule_starts(struct sim_tt *tt)
{
    qsort(tt->c, tt->nc, sizeof(tt->c[0]), cmp_client);
    for (unsigned i = 0; i < tt->nc; i++) {
        struct tt_client *c = tt->c[i];

        if (!c->started) {
            continue;
        }
        if (i > 0 && tt->c[i - 1]->id == c->id) {
            VUSIM_WARN(SS, "participants %u and %u share id %lld; start "
                       "order follows connection order", tt->c[i - 1]->conn,
                       c->conn, (long long)c->id);
        }
        c->prio = TT_PRIO_BASE + (int32_t)i;
        sim_cal_at(tt->cal, &c->start_ev, sim_cal_now(tt->cal), c->prio);
    }
    tt->starting = true;
    if (tt->held_for_start) {
        tt->held_for_start = false;
        tt->ops.release(tt->ops.opaque);
    }
}

static unsigned tt_count_started(const struct sim_tt *tt)
{
    unsigned n = 0;

    for (unsigned i = 0; i < tt->nc; i++) {
        n += tt->c[i]->started;
    }
    return n;
}

/* ---- messages from a participant ---------------------------------- */

static int tt_on_ack(struct tt_client *c, const struct sim_tt_msg *m)
{
    if (c->unacked == 0 || m->seq > c->seq) {
        return -EPROTO;
    }
    c->unacked--;
    if (m->seq == c->sync_seq) {
        tt_sync_moot(c);
    }
    return 0;
}

static int tt_on_request(struct tt_client *c, const struct sim_tt_msg *m)
{
    struct sim_tt *tt = c->tt;
    sim_time_t t;

    if (m->time > SIM_TIME_MAX / SIM_NS) {
        t = SIM_TIME_MAX;
    } else {
        t = m->time * SIM_NS;
    }
    if (t < sim_cal_now(tt->cal)) {
        t = sim_cal_now(tt->cal);     /* the calendar has passed it */
    }
    sim_cal_cancel(tt->cal, &c->run_ev);
    return sim_cal_at(tt->cal, &c->run_ev, t, c->prio);
}

static int tt_on_update(struct tt_client *c, const struct sim_tt_msg *m)
{
    struct sim_tt *tt = c->tt;
    sim_time_t t = m->time * SIM_NS;

    if (m->time < c->time_ns || m->time > SIM_TIME_MAX / SIM_NS) {
        return -ERANGE;
    }
    c->time_ns = m->time;
    if (tt->running == c && t > sim_cal_now(tt->cal) &&
        sim_cal_advance(tt->cal, t) < 0) {
        VUSIM_ERR(SS, "participant %u ran to %llu ns past a pending event",
                  c->conn, (unsigned long long)m->time);
        return -EPROTO;
    }
    return 0;
}

static int tt_handle(struct tt_client *c, const struct sim_tt_msg *m)
{
    struct sim_tt *tt = c->tt;
    uint64_t reply = 0;
    int rc = 0;

    if (m->op < SIM_TT_NOPS) {
        tt->st.rx[m->op]++;
    }
    if (!c->started && m->op != SIM_TT_START) {
        return -EPROTO;
    }
    switch (m->op) {
    case SIM_TT_ACK:
        return tt_on_ack(c, m);
    case SIM_TT_START:
        if (c->started) {
            return -EPROTO;
        }
        c->started = true;
        c->id = m->time;
        c->start_seq = m->seq;
        if (!tt->starting && tt_count_started(tt) >= tt->cfg.participants) {
            tt_schedule_starts(tt);
        }
        return 0;                       /* acked by its start event */
    case SIM_TT_REQUEST:
        rc = tt_on_request(c, m);
        break;
    case SIM_TT_WAIT:
        c->state = TT_WAITING;
        if (tt->running == c) {
            tt_set_running(tt, NULL);
        }
        tt_sync_moot(c);
        break;
    case SIM_TT_GET:
        reply = now_ns(tt) > c->time_ns ? now_ns(tt) : c->time_ns;
        c->time_ns = reply;
        break;
    case SIM_TT_UPDATE:
        rc = tt_on_update(c, m);
        break;
    case SIM_TT_GET_TOD:
        reply = tt->cfg.start_tod_ns + now_ns(tt);
        break;
    default:
        return -EBADMSG;
    }
    if (rc < 0) {
        return rc;
    }
    tt_observe(c, SIM_TT_FROM_GUEST, m, reply);
    return tt_send(c, SIM_TT_ACK, m->seq, reply);
}

/* One read from @c (@flags: MSG_DONTWAIT for a hot serve, whose socket
 * may have nothing), and the message if it is whole. */
static void tt_read(struct tt_client *c, int flags)
{
    struct sim_tt *tt = c->tt;
    struct sim_tt_msg m;
    ssize_t n;
    char why[96];
    int rc;

    n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, flags);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    tt->last = c;
    if (tt->ops.active) {
        tt->ops.active(tt->ops.opaque, tt);
    }
    if (n == 0 && c->rlen == 0) {
        VUSIM_INFO(SS, "participant %u (id %lld) left", c->conn,
                   (long long)c->id);
        tt_close(c);
        return;
    }
    if (n <= 0) {
        tt_drop(c, n == 0 ? "disconnected mid-message" : "read failed");
        return;
    }
    c->rlen += (size_t)n;
    if (c->rlen < sizeof(m)) {
        return;
    }
    memcpy(&m, c->rbuf, sizeof(m));
    c->rlen = 0;
    rc = tt_handle(c, &m);
    if (rc < 0) {
        snprintf(why, sizeof(why), "bad %s (op %u, seq %u, time %llu): %s",
                 sim_tt_op_name(m.op), m.op, m.seq,
                 (unsigned long long)m.time, strerror(-rc));
        tt_drop(c, why);
    }
}

static void tt_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tt_read(arg, 0);
}

void sim_tt_serve_last(struct sim_tt *tt)
{
    if (tt->last) {
        tt_read(tt->last, MSG_DONTWAIT);
    }
}

/* ---- the listener --------------------------------------------------- */

static void tt_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim_tt *tt = arg;
    struct tt_client *c;
    int cfd;

    (void)what;
    cfd = accept4((int)fd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0) {
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c || tt->nc == TT_MAX_CLIENTS || tt->starting) {
        /* Late joiners would start at a time others have passed. */
        VUSIM_ERR(SS, "refusing a participant: %s", !c ? "out of memory" :
                  tt->starting ? "the simulation has started" : "too many");
        free(c);
        close(cfd);
        return;
    }
    c->tt = tt;
    c->fd = cfd;
    c->conn = ++tt->conns;
    c->id = UINT64_MAX;
    c->prio = TT_PRIO_BASE + TT_MAX_CLIENTS;
    sim_event_init(&c->run_ev, tt_run_cb, c);
    sim_event_init(&c->start_ev, tt_start_cb, c);
    c->ev = event_new(tt->base, cfd, EV_READ | EV_PERSIST, tt_read_cb, c);
    if (!c->ev || event_add(c->ev, NULL) < 0) {
        close(cfd);
        free(c);
        return;
    }
    tt->c[tt->nc++] = c;
    tt->st.connected++;
    VUSIM_INFO(SS, "participant %u connected", c->conn);
}

int sim_tt_new(struct event_base *base, struct sim_cal *cal,
               const struct sim_tt_cfg *cfg, const struct sim_tt_ops *ops,
               struct sim_tt **out)
{
    struct sim_tt *tt = calloc(1, sizeof(*tt));
    int rc;

    if (!tt) {
        return -ENOMEM;
    }
    tt->base = base;
    tt->cal = cal;
    tt->cfg = *cfg;
    tt->ops = *ops;
    tt->lfd = -1;
    if (tt->cfg.participants == 0) {
        tt->cfg.participants = 1;
    }
    tt->lfd = rc = vusim_unix_listen(cfg->path, TT_MAX_CLIENTS);
    if (rc >= 0) {
        tt->path = strdup(cfg->path);
        tt->lev = event_new(base, tt->lfd, EV_READ | EV_PERSIST, tt_accept_cb,
                            tt);
        rc = (!tt->path || !tt->lev || event_add(tt->lev, NULL) < 0) ?
             -ENOMEM : 0;
    }
    if (rc < 0) {
        sim_tt_free(tt);
        return rc;
    }
    /* Nothing runs before the participants are here and started. */
    tt->ops.hold(tt->ops.opaque);
    tt->held_for_start = true;
    *out = tt;
    return 0;
}

void sim_tt_free(struct sim_tt *tt)
{
    if (!tt) {
        return;
    }
    while (tt->nc > 0) {
        struct tt_client *c = tt->c[tt->nc - 1];

        c->sync_done = NULL;
        tt_close(c);
    }
    if (tt->ops.active) {
        tt->ops.active(tt->ops.opaque, NULL);
    }
    if (tt->held_for_start) {
        tt->ops.release(tt->ops.opaque);
    }
    if (tt->lev) {
        event_free(tt->lev);
    }
    if (tt->lfd >= 0) {
        close(tt->lfd);
    }
    if (tt->path) {
        unlink(tt->path);
        free(tt->path);
    }
    free(tt);
}

bool sim_tt_kick_sync(struct sim_tt *tt, void (*done)(void *arg), void *arg)
{
    struct tt_client *c = tt->running;
    uint64_t fu;

    if (!c || !tt->cfg.free_until || c->sync_done) {
        return true;
    }
    fu = tt_next_foreign_ns(tt, c);
    if (fu >= c->free_until) {
        return true;
    }
    c->free_until = fu;
    tt->st.free_untils++;
    tt->st.kick_syncs++;
    if (tt_send(c, SIM_TT_FREE_UNTIL, ++c->seq, fu) < 0) {
        return true;
    }
    c->sync_done = done;
    c->sync_arg = arg;
    c->sync_seq = c->seq;
    return false;
}

void sim_tt_set_observer(struct sim_tt *tt, sim_tt_observer_fn fn,
                         void *opaque)
{
    tt->obs = fn;
    tt->obs_opaque = fn ? opaque : NULL;
}

void sim_tt_get_stats(const struct sim_tt *tt, struct sim_tt_stats *st)
{
    *st = tt->st;
}
