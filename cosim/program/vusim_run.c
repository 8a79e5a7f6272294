/* SPDX-License-Identifier: MIT */
/*
 * `vusim DEVICE`, the serving part (cosim/program/vusim-internal.h): device,
 * back-end and server set-up, the signal handling that ends a run, the
 * --stats file, and the live status line on a terminal.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cosim/control/control.h"
#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"
#include "cosim/backend/server.h"
#include "cosim/program/opts.h"
#include "cosim/program/stats.h"
#include "cosim/program/vusim-internal.h"
#include "cosim/wire/memguard.h"
#include "sim/log.h"
#include "sim/tt.h"
#include "sim/wallclock.h"
#include "traces/record.h"

#define PROG "vusim"

_Static_assert(VUSIM_MAX_DEVICES <= VU_CONTROL_MAX_DEVS,
               "one control socket serves every device of a multi run");

/* The loop's stop fd, for the signal handler: the one place a handler can
 * find it. Set by run_loop() before the loop runs and reset after. */
static volatile sig_atomic_t g_vusim_stop_fd = -1;

/* ---- live status line ---------------------------------------------------- */

struct status {
    const char *name;
    struct vu_backend *be;
    struct sim_cal *cal;
    struct event *wake; /* wakes an idle loop once a second */
    uint64_t last_ns;
    uint64_t req, kicks, calls;
    bool shown; /* a line is on the terminal, unfinished */
};

static void status_totals(const struct vu_backend *be, uint64_t *req,
                          uint64_t *kicks, uint64_t *calls)
{
    struct vu_backend_stats st;

    vu_backend_get_stats(be, &st);
    *req = *kicks = *calls = 0;
    for (uint16_t i = 0; i < st.num_queues && i < VU_MAX_QUEUES; i++) {
        *req += st.q[i].requests;
        *kicks += st.q[i].kicks_inband + st.q[i].kicks_eventfd;
        *calls += st.q[i].calls_inband + st.q[i].calls_eventfd;
    }
}

static void status_tick(void *opaque)
{
    struct status *s = opaque;
    uint64_t now = vusim_wallclock_ns(), dt = now - s->last_ns;
    uint64_t req, kicks, calls;
    char t[32];

    if (dt < 1000000000u) {
        return;
    }
    status_totals(s->be, &req, &kicks, &calls);
    fprintf(stderr,
            "\r" PROG " %s: sim %s | %" PRIu64 " req/s | %" PRIu64
            " kicks/s | %" PRIu64 " calls/s | %s\033[K",
            s->name, vusim_dur_fmt(sim_cal_now(s->cal), t, sizeof(t)),
            (req - s->req) * 1000000000u / dt,
            (kicks - s->kicks) * 1000000000u / dt,
            (calls - s->calls) * 1000000000u / dt,
            vu_backend_connected(s->be) ? "connected" : "waiting");
    fflush(stderr);
    s->shown = true;
    s->last_ns = now;
    s->req = req;
    s->kicks = kicks;
    s->calls = calls;
}

static void status_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg; /* the loop's tick does the work */
}

/* Log lines while a status line is up: clear it first. */
static void status_sink(int level, const char *subsys, const char *line,
                        void *opaque)
{
    static const char *const names[] = {"err", "warn", "info", "debug",
                                        "trace"};
    struct status *s = opaque;

    if (s->shown) {
        fputs("\r\033[K", stderr);
        s->shown = false;
    }
    fprintf(stderr, PROG ": %s: %s: %s\n", names[level], subsys, line);
}

static void status_start(struct status *s, struct vu_loop *loop)
{
    static const struct timeval one_s = {1, 0};

    s->last_ns = vusim_wallclock_ns();
    s->wake =
        event_new(vu_loop_base(loop), -1, EV_PERSIST, status_wake_cb, NULL);
    if (s->wake) {
        event_add(s->wake, &one_s);
    }
    vusim_log_set_sink(status_sink, s);
    vu_loop_set_tick(loop, status_tick, s);
}

static void status_stop(struct status *s, struct vu_loop *loop)
{
    vu_loop_set_tick(loop, NULL, NULL);
    vusim_log_set_sink(NULL, NULL);
    if (s->wake) {
        event_free(s->wake);
    }
    if (s->shown) {
        fputc('\n', stderr);
    }
}

/* ---- serving ------------------------------------------------------------- */

static void on_signal(int sig)
{
    int saved = errno, fd = g_vusim_stop_fd;
    char b = (char)sig;

    if (fd >= 0 && write(fd, &b, 1) < 0) {
        /* Nothing to do: the pipe is full, so a stop is already pending. */
    }
    errno = saved;
}

/* While serving, SIGPIPE is ignored too: a trace written to a FIFO whose
 * reader left ends the recording with EPIPE (the writer's error path, the
 * valid prefix kept) instead of killing every connection. Writes to the
 * front-ends' fds never raise it (MSG_NOSIGNAL, vu_notify_write()). */
static void signals_set(void (*fn)(int))
{
    struct sigaction sa = {.sa_handler = fn};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = fn == SIG_DFL ? SIG_DFL : SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* One device: its model, back-end, server and trace. */
struct slot {
    const struct vusim_cli *c;
    struct dev *dev;
    struct vu_backend *be;
    struct vu_server *srv;
    struct trace_recorder *trace;   /* --trace */
};

struct run {
    const struct vusim_cli *c;      /* the first device's: generic options */
    struct vu_control *ctl;         /* --control: the calendar, every device */
    struct vu_loop *loop;
    struct sim_tt *tt;
    FILE *stats;
    size_t n;
    struct slot s[VUSIM_MAX_DEVICES];
};

/* ---- time travel ---------------------------------------------------- */

static void tt_reply_resume(void *arg)
{
    vu_backend_reply_resume(arg);
}

/* A message's work is on the calendar (a kick's, a ring look's): its reply
 * waits until the running guest knows the tighter FREE_UNTIL (sim/tt.h). */
static bool tt_reply_sync(struct vu_backend *be, void *opaque)
{
    return sim_tt_kick_sync(opaque, tt_reply_resume, be);
}

static int run_time_travel(struct run *r)
{
    const struct vusim_cli *c = r->c;
    struct sim_tt_cfg cfg = {
        .path = c->time_travel,
        .participants = c->guests ? c->guests : (unsigned)r->n,
        .start_tod_ns = c->start_tod_ns,
        /* A guest bounded only by the calendar runs ahead of it when the
         * calendar is empty (a hung request, an idle device): a control
         * client could then neither stop it nor release a request at the
         * time the guest is at. */
        .free_until = c->free_until && !c->control};
    struct sim_tt_ops ops;
    int rc;

    if (!c->time_travel) {
        return 0;
    }
    vu_loop_tt_ops(r->loop, &ops);
    rc = sim_tt_new(vu_loop_base(r->loop), vu_loop_cal(r->loop), &cfg, &ops,
                    &r->tt);
    if (rc < 0) {
        fprintf(stderr, PROG ": --time-travel=%s: cannot listen: %s\n",
                c->time_travel, strerror(-rc));
        return 1;
    }
    return 0;
}

/* Every device's trace records the guests' time-travel exchanges: a
 * divergence shows in the guest's steps before it reaches a device. */
static void tt_observe(void *opaque, uint64_t id, enum sim_tt_dir dir,
                       const struct sim_tt_msg *m, uint64_t reply)
{
    struct run *r = opaque;

    for (size_t i = 0; i < r->n; i++) {
        if (r->s[i].trace) {
            trace_record_tt(r->s[i].trace, id, dir, m, reply);
        }
    }
}

static void tt_stats_json(const struct sim_tt *tt, char *buf, size_t len)
{
    struct sim_tt_stats st;
    uint64_t rx = 0;

    sim_tt_get_stats(tt, &st);
    for (int i = 0; i < SIM_TT_NOPS; i++) {
        rx += st.rx[i];
    }
    snprintf(buf, len, "\"time_travel\": {\"messages_received\": %" PRIu64
             ", \"requests\": %" PRIu64 ", \"waits\": %" PRIu64
             ", \"gets\": %" PRIu64 ", \"updates\": %" PRIu64
             ", \"runs\": %" PRIu64 ", \"free_untils\": %" PRIu64
             ", \"kick_syncs\": %" PRIu64 ", \"participants\": %u"
             ", \"dropped\": %u}", rx, st.rx[SIM_TT_REQUEST],
             st.rx[SIM_TT_WAIT], st.rx[SIM_TT_GET], st.rx[SIM_TT_UPDATE],
             st.runs, st.free_untils, st.kick_syncs, st.connected,
             st.dropped);
}

static int run_device(struct run *r, struct slot *sl, uint32_t conn_id)
{
    char err[512] = "";
    struct vu_backend_cfg bc = {
        .inband = sl->c->inband, .conn_id = conn_id,
        .verbose = sl->c->verbose,
        .reply_sync = r->tt ? tt_reply_sync : NULL, .sync_opaque = r->tt};
    int rc = sl->c->ops->create(vu_loop_cal(r->loop), sl->c->dopts,
                                sl->c->ndopts, &sl->dev, err, sizeof(err));

    if (rc < 0) {
        sl->dev = NULL;
        return err[0] ? vusim_opts_bad("%s", err)
                      : vusim_opts_bad("%s: cannot create the device: %s",
                                      sl->c->ops->name, strerror(-rc));
    }
    sl->be = vu_backend_new(r->loop, sl->dev, &bc);
    if (!sl->be) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    return 0;
}

/* --trace=FILE: the HEADER gets the device's options and seed (its
 * seed_opt) and the clock mode; an image file (its image_opt) is hashed
 * before the first request. */
static int run_open_trace(struct run *r, struct slot *sl)
{
    const struct vusim_cli *c = sl->c;
    const struct dev_opt *seed = c->ops->seed_opt ?
        dev_opt_find(c->dopts, c->ndopts, c->ops->seed_opt) : NULL;
    struct trace_record_cfg tc = {
        .path = c->trace, .opts = c->dopts, .nopts = c->ndopts,
        .digest = c->trace_digest,
        .seed = seed && seed->value ? strtoull(seed->value, NULL, 0) : 0,
    };
    char clock[64], err[512] = "";

    if (!c->trace) {
        return 0;
    }
    if (c->clock.mode == SIM_CLOCK_PACED) {
        snprintf(clock, sizeof(clock), "realtime:%llu/%llu",
                 (unsigned long long)c->clock.num,
                 (unsigned long long)c->clock.den);
    } else {
        snprintf(clock, sizeof(clock), "%s", r->tt ? "external" : "afap");
    }
    tc.clock = clock;
    if (trace_record_open(sl->be, &tc, &sl->trace, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    return 0;
}

static int run_socket(struct run *r, struct slot *sl)
{
    const struct vusim_cli *c = sl->c;
    int rc;

    if (c->socket_path) {
        rc = vu_server_listen(r->loop, sl->be, c->socket_path, &sl->srv);
        if (rc < 0) {
            fprintf(stderr, PROG ": --socket-path=%s: cannot listen: %s\n",
                    c->socket_path, strerror(-rc));
            return 1;
        }
        return 0;
    }
    if (fcntl(c->fd, F_GETFD) < 0) {
        return vusim_opts_bad("--fd=%s: not an open file descriptor", c->fd_arg);
    }
    rc = vu_server_adopt(r->loop, sl->be, c->fd, &sl->srv);
    if (rc == -EINVAL) {
        return vusim_opts_bad("--fd=%s: not a socket", c->fd_arg);
    }
    if (rc < 0) {
        fprintf(stderr, PROG ": --fd=%s: cannot serve it: %s\n", c->fd_arg,
                strerror(-rc));
        return 1;
    }
    return 0;
}

/* One object per device; several devices go in {"devices": [...]}. */
static int run_stats(struct run *r, uint64_t wall_ns)
{
    char tt[512] = "";
    int rc = 0;

    if (r->tt) {
        tt_stats_json(r->tt, tt, sizeof(tt));
    }
    if (r->n > 1) {
        fputs("{\"devices\": [\n", r->stats);
    }
    for (size_t i = 0; i < r->n && rc >= 0; i++) {
        struct vusim_run_info ri = {
            .extra = tt,
            .device = r->s[i].c->ops->name,
            .loop = r->loop,
            .be = r->s[i].be,
            .dev = r->s[i].dev,
            .wall_ns = wall_ns,
        };

        if (i > 0) {
            fputs(",\n", r->stats);
        }
        rc = vusim_stats_write(r->stats, &ri);
    }
    if (r->n > 1) {
        fputs("]}\n", r->stats);
    }

    if (fclose(r->stats) != 0 || rc < 0) {
        rc = -EIO;
    }
    r->stats = NULL;
    if (rc < 0) {
        fprintf(stderr, PROG ": --stats=%s: cannot write it\n", r->c->stats);
        return 1;
    }
    return 0;
}

/* Opened before the run, so a bad path fails before a front-end comes. */
static int run_open_stats(struct run *r)
{
    if (r->c->stats && !(r->stats = fopen(r->c->stats, "w"))) {
        fprintf(stderr, PROG ": --stats=%s: cannot open: %s\n", r->c->stats,
                strerror(errno));
        return 1;
    }
    return 0;
}

/* Run the loop until a signal (or an inherited connection's end). */
static int run_loop(struct run *r)
{
    struct status st = {
        .name = r->c->ops->name, .be = r->s[0].be,
        .cal = vu_loop_cal(r->loop)};
    bool tty = isatty(2);
    uint64_t t0 = vusim_wallclock_ns();
    int rc;

    g_vusim_stop_fd = vu_loop_stop_fd(r->loop);
    signals_set(on_signal);
    /* A front-end that truncates memory it shared ends its connection,
     * not vusim (memguard.h). */
    if ((rc = vu_memguard_install()) < 0) {
        VUSIM_WARN("vusim", "no SIGBUS guard (%s): a front-end that shrinks "
                   "its shared memory can end vusim", strerror(-rc));
    }
    if (tty) {
        status_start(&st, r->loop);
    }
    rc = vu_loop_run(r->loop) < 0 ? 1 : 0;
    if (tty) {
        status_stop(&st, r->loop);
    }
    signals_set(SIG_DFL);
    g_vusim_stop_fd = -1;
    if (r->stats && run_stats(r, vusim_wallclock_ns() - t0) != 0) {
        rc = 1;
    }
    return rc;
}

/* 1 if the trace could not be written whole (a full disk: the file holds
 * the records up to the failure, and the run failed), else 0. */
static int run_free_slot(struct slot *sl)
{
    int rc = 0;

    vu_server_free(sl->srv); /* unlinks the socket path */
    vu_backend_free(sl->be);
    /* After the back-end: its disconnect is the trace's last record. */
    if (sl->trace && trace_record_close(NULL, sl->trace) < 0) {
        fprintf(stderr, PROG ": --trace=%s: cannot write it; it holds the "
                "records before the failure\n", sl->c->trace);
        rc = 1;
    }
    if (sl->dev) {
        sl->dev->ops->destroy(sl->dev);
    }
    return rc;
}

static int run_free(struct run *r)
{
    int rc = 0;

    vu_control_free(r->ctl);
    r->ctl = NULL;
    for (size_t i = 0; i < r->n; i++) {
        vu_server_free(r->s[i].srv);
        r->s[i].srv = NULL;
    }
    if (r->tt) {
        sim_tt_set_observer(r->tt, NULL, NULL);
    }
    sim_tt_free(r->tt);
    for (size_t i = 0; i < r->n; i++) {
        rc |= run_free_slot(&r->s[i]);
    }
    vu_loop_free(r->loop);
    if (r->stats) {
        fclose(r->stats);
    }
    return rc;
}

static int run_slots(struct run *r)
{
    int rc = 0;

    for (size_t i = 0; i < r->n && rc == 0; i++) {
        struct slot *sl = &r->s[i];

        if ((rc = run_device(r, sl, (uint32_t)i + 1)) == 0 &&
            (rc = run_open_trace(r, sl)) == 0) {
            rc = run_socket(r, sl);
        }
    }
    return rc;
}

int vusim_serve(const struct vusim_cli *c)
{
    return vusim_serve_many(&c, 1);
}

int vusim_serve_many(const struct vusim_cli *const *cs, size_t n)
{
    const struct vusim_cli *c = cs[0];
    struct run r = {.c = c, .n = n};
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        r.s[i].c = cs[i];
    }

    g_vusim_log_level = c->log_level >= 0 ? c->log_level : VUSIM_LOG_WARN;
    if (c->verbose && g_vusim_log_level < VUSIM_LOG_INFO) {
        g_vusim_log_level = VUSIM_LOG_INFO;
    }
    r.loop = vu_loop_new(&c->clock);
    if (!r.loop) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = 1;
    } else {
        vu_loop_set_poll(r.loop, VUSIM_POLL_NS);
    }
    if (rc == 0 && (rc = run_time_travel(&r)) == 0 &&
        (rc = run_slots(&r)) == 0) {
        rc = run_open_stats(&r);
    }
    if (rc == 0 && r.tt) {
        sim_tt_set_observer(r.tt, tt_observe, &r);
    }
    if (rc == 0 && c->control) {
        struct vu_backend *bes[VUSIM_MAX_DEVICES];
        char err[512];

        for (size_t i = 0; i < n; i++) {
            bes[i] = r.s[i].be;
        }
        if (vu_control_open(r.loop, bes, n, c->control, &r.ctl, err,
                            sizeof(err)) < 0) {
            fprintf(stderr, PROG ": %s\n", err);
            rc = 1;
        }
    }
    if (rc == 0) {
        rc = run_loop(&r);
    }
    if (run_free(&r) && rc == 0) {
        rc = 1;
    }
    return rc;
}
