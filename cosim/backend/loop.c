/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>

#include "cosim/backend/loop.h"
#include "sim/log.h"
#include "sim/tt.h"
#include "sim/wallclock.h"

struct vu_loop {
    struct event_base *base;
    struct sim_cal *cal;
    struct sim_clock *clk;
    struct event *timer;     /* wakes the loop when the clock says so */
    struct event *stop_ev;
    int stop_pipe[2];
    int holds;
    bool stop;
    uint64_t activity;       /* fd callbacks seen (vu_loop_touch) */
    uint64_t poll_ns, poll_max_ns;
    struct vu_loop_poll_stats pst;
    struct vu_defer *defers; /* sorted by key */
    void (*tick)(void *opaque);
    void *tick_opaque;
    const struct vu_loop_gate *gate;
    void (*hot)(void *opaque);  /* vu_loop_set_hot */
    void *hot_opaque;
};

void vu_loop_set_gate(struct vu_loop *loop, const struct vu_loop_gate *g)
{
    loop->gate = g;
}

/* Whether the gate lets the next event run (true with no gate or none). */
static bool gate_open(struct vu_loop *loop)
{
    sim_time_t next;

    return !loop->gate || sim_cal_peek(loop->cal, &next) != 0 ||
           loop->gate->may_run(loop->gate->opaque, next);
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vu_loop *loop = arg;
    char buf[16];

    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    loop->stop = true;
}

/*
 * A paced clock wakes the loop with a timer: libevent rounds epoll's timeout
 * up to a millisecond unless asked for precise timers (a timerfd), and the
 * kernel may defer a normal thread's wake-up by its timer slack (50 us by
 * default). Both would make events late, so a paced loop asks for both.
 */
static struct event_base *loop_base_new(bool paced)
{
    struct event_config *cfg;
    struct event_base *base;

    if (!paced) {
        return event_base_new();
    }
    cfg = event_config_new();
    if (!cfg) {
        return NULL;
    }
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    prctl(PR_SET_TIMERSLACK, 1ul, 0, 0, 0);
    return base;
}

struct vu_loop *vu_loop_new(const struct sim_clock_cfg *clk)
{
    struct sim_clock_cfg afap = { .mode = SIM_CLOCK_AFAP };
    struct vu_loop *loop = calloc(1, sizeof(*loop));

    if (!loop) {
        return NULL;
    }
    loop->stop_pipe[0] = loop->stop_pipe[1] = -1;
    loop->base = loop_base_new(clk && clk->mode == SIM_CLOCK_PACED);
    /* Two priorities: replies to our own requests (VU_LOOP_PRIO_REPLY)
     * are served before new requests ready in the same batch. */
    if (loop->base && event_base_priority_init(loop->base, 2) < 0) {
        goto fail;
    }
    loop->cal = sim_cal_new();
    loop->clk = sim_clock_new(clk ? clk : &afap, NULL);
    if (!loop->base || !loop->cal || !loop->clk ||
        pipe2(loop->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        goto fail;
    }
    loop->timer = evtimer_new(loop->base, noop_cb, NULL);
    loop->stop_ev = event_new(loop->base, loop->stop_pipe[0],
                              EV_READ | EV_PERSIST, stop_cb, loop);
    if (!loop->timer || !loop->stop_ev || event_add(loop->stop_ev, NULL)) {
        goto fail;
    }
    return loop;
fail:
    vu_loop_free(loop);
    return NULL;
}

void vu_loop_free(struct vu_loop *loop)
{
    if (!loop) {
        return;
    }
    if (loop->timer) {
        event_free(loop->timer);
    }
    if (loop->stop_ev) {
        event_free(loop->stop_ev);
    }
    for (int i = 0; i < 2; i++) {
        if (loop->stop_pipe[i] >= 0) {
            close(loop->stop_pipe[i]);
        }
    }
    sim_clock_free(loop->clk);
    sim_cal_free(loop->cal);
    if (loop->base) {
        event_base_free(loop->base);
    }
    free(loop);
}

struct event_base *vu_loop_base(struct vu_loop *loop) { return loop->base; }
struct sim_cal *vu_loop_cal(struct vu_loop *loop) { return loop->cal; }

/* Holds, releases and deferred work change what the next turn may do, so
 * they count as activity: polling must hand back to the turn at once. */
void vu_loop_hold(struct vu_loop *loop)
{
    loop->holds++;
    loop->activity++;
}

void vu_loop_release(struct vu_loop *loop)
{
    if (loop->holds > 0) {
        loop->holds--;
    }
    loop->activity++;
}

bool vu_loop_held(const struct vu_loop *loop)
{
    return loop->holds > 0;
}

void vu_loop_defer(struct vu_loop *loop, struct vu_defer *d)
{
    struct vu_defer **pp = &loop->defers;

    if (d->queued) {
        return;
    }
    loop->activity++;
    /* Equal keys keep their queueing order, like the calendar's FIFO. */
    while (*pp && (*pp)->key <= d->key) {
        pp = &(*pp)->next;
    }
    d->next = *pp;
    *pp = d;
    d->queued = true;
}

void vu_loop_undefer(struct vu_loop *loop, struct vu_defer *d)
{
    for (struct vu_defer **pp = &loop->defers; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            d->queued = false;
            d->next = NULL;
            return;
        }
    }
}

void vu_loop_run_now(struct vu_loop *loop, struct vu_defer *d)
{
    if (d->queued) {
        vu_loop_undefer(loop, d);
        d->fn(d);
    }
}

static void run_deferred(struct vu_loop *loop)
{
    while (loop->defers) {
        struct vu_defer *d = loop->defers;

        loop->defers = d->next;
        d->next = NULL;
        d->queued = false;
        d->fn(d);
    }
}

/* The next event the clock lets run, and the gate's note of it. */
static long run_one(struct vu_loop *loop, uint64_t *wait)
{
    long r = sim_clock_step(loop->clk, loop->cal, 1, wait);

    if (r > 0 && loop->gate && loop->gate->ran) {
        loop->gate->ran(loop->gate->opaque);
    }
    return r;
}

/* Run due events one at a time, re-checking holds after each. */
static long run_calendar(struct vu_loop *loop, uint64_t *wait)
{
    long n = 0;

    *wait = SIM_CLOCK_IDLE;
    while (!loop->holds && !loop->stop) {
        long r;

        if (!gate_open(loop)) {
            *wait = SIM_CLOCK_IDLE;
            return n;
        }
        r = run_one(loop, wait);
        if (r <= 0) {
            break;
        }
        n += r;
        run_deferred(loop);
    }
    if (loop->holds) {
        *wait = SIM_CLOCK_IDLE;
    }
    return n;
}

long vu_loop_run_current(struct vu_loop *loop)
{
    long n = 0;
    uint64_t wait;
    sim_time_t next;

    while (!loop->holds && !loop->stop &&
           sim_cal_peek(loop->cal, &next) == 0 &&
           next <= sim_cal_now(loop->cal) && gate_open(loop)) {
        if (run_one(loop, &wait) <= 0) {
            break;
        }
        n++;
    }
    return n;
}

/*
 * Adaptive polling, as QEMU's AioContext does (poll-max-ns): before
 * sleeping, look at the fds without blocking for a while, since a
 * synchronous peer (an in-band kick, a call's ack) often answers within
 * microseconds and a sleep costs a wake-up. The window doubles up to
 * poll_max_ns when polling caught something and halves when it did not,
 * so an idle loop soon stops spinning. It changes only when fds are
 * served, never their order or what reaches the calendar.
 *
 * The window never outlasts @limit_ns, the time until the clock's next
 * event: *spent says how long it spun, and the caller sleeps only what is
 * left, so polling never makes a paced event late. A window cut short by
 * the limit says nothing about the peer and does not shrink.
 */
static bool poll_fds(struct vu_loop *loop, uint64_t limit_ns,
                     uint64_t *spent)
{
    uint64_t a0 = loop->activity, t0, window = loop->poll_ns;
    bool caught = false;
    unsigned spins = 0;

    *spent = 0;
    if (window == 0) {
        return false;
    }
    if (window > limit_ns) {
        window = limit_ns;
    }
    t0 = vusim_wallclock_ns();
    do {
        /* EVLOOP_ONCE too: NONBLOCK alone makes libevent look at the fds
         * again after serving them, one more epoll_wait per catch, on
         * the request cycle's critical path; the turn that follows runs
         * the calendar and looks again anyway. */
        if (loop->hot && ++spins % VU_LOOP_HOT_SPINS != 0) {
            loop->hot(loop->hot_opaque);
        } else if (event_base_loop(loop->base,
                                   EVLOOP_NONBLOCK | EVLOOP_ONCE) < 0) {
            break;
        }
        if (loop->activity != a0 || loop->stop) {
            caught = true;
            break;
        }
    } while (vusim_wallclock_ns() - t0 < window);
    *spent = vusim_wallclock_ns() - t0;
    loop->pst.polls++;
    loop->pst.spin_ns += *spent;
    if (caught) {
        loop->pst.caught++;
        if (loop->poll_ns < loop->poll_max_ns) {
            loop->poll_ns *= 2;
        }
    } else if (window == loop->poll_ns) {
        loop->poll_ns /= 2;
        if (loop->poll_ns < 1000 && loop->poll_max_ns) {
            loop->poll_ns = 1000;
        }
    }
    return caught;
}

/* A sleep that ended soon after polling gave up: poll that long next
 * time (twice, for margin), within the maximum. */
static void poll_learn(struct vu_loop *loop, uint64_t slept_ns)
{
    if (slept_ns < loop->poll_max_ns) {
        uint64_t want = 2 * slept_ns;

        loop->poll_ns = want < loop->poll_max_ns ? want : loop->poll_max_ns;
        if (loop->poll_ns < 1000) {
            loop->poll_ns = 1000;
        }
    }
}

static int wait_fds(struct vu_loop *loop, uint64_t wait_ns, bool block)
{
    int flags = EVLOOP_ONCE;
    uint64_t spent = 0;

    if (block && wait_ns != 0 && poll_fds(loop, wait_ns, &spent)) {
        return 0;
    }
    /* Sleep only what polling left of the wait. */
    if (wait_ns != SIM_CLOCK_IDLE) {
        wait_ns = spent < wait_ns ? wait_ns - spent : 0;
    }

    if (!block || wait_ns == 0) {
        flags = EVLOOP_NONBLOCK;
    } else if (wait_ns != SIM_CLOCK_IDLE) {
        struct timeval tv = {
            .tv_sec = (time_t)(wait_ns / 1000000000u),
            .tv_usec = (suseconds_t)((wait_ns % 1000000000u + 999) / 1000),
        };
        evtimer_add(loop->timer, &tv);
    }
    uint64_t t0 = loop->poll_max_ns ? vusim_wallclock_ns() : 0;
    int rc = event_base_loop(loop->base, flags);
    evtimer_del(loop->timer);
    if (loop->poll_max_ns && flags == EVLOOP_ONCE) {
        poll_learn(loop, vusim_wallclock_ns() - t0);
    }
    return rc < 0 ? -EIO : 0;
}

static long turn(struct vu_loop *loop, bool block, int *err)
{
    uint64_t wait;
    long n;

    run_deferred(loop);
    n = run_calendar(loop, &wait);
    if (loop->stop) {
        return n;
    }
    *err = wait_fds(loop, wait, block);
    run_deferred(loop);
    if (loop->tick) {
        loop->tick(loop->tick_opaque);
    }
    return n;
}

int vu_loop_run(struct vu_loop *loop)
{
    int err = 0;

    loop->stop = false;
    while (!loop->stop && err == 0) {
        turn(loop, true, &err);
    }
    if (err) {
        VUSIM_ERR("loop", "event loop failed");
    }
    return err;
}

long vu_loop_poll(struct vu_loop *loop)
{
    int err = 0;

    return turn(loop, false, &err);
}

void vu_loop_stop(struct vu_loop *loop)
{
    loop->stop = true;
}

int vu_loop_stop_fd(struct vu_loop *loop)
{
    return loop->stop_pipe[1];
}

void vu_loop_touch(struct vu_loop *loop)
{
    loop->activity++;
}

void vu_loop_set_hot(struct vu_loop *loop, void (*serve)(void *opaque),
                     void *opaque)
{
    loop->hot = serve;
    loop->hot_opaque = opaque;
}

void vu_loop_drop_hot(struct vu_loop *loop, void *opaque)
{
    if (loop->hot_opaque == opaque) {
        loop->hot = NULL;
        loop->hot_opaque = NULL;
        loop->activity++;     /* a poll serving it must end now */
    }
}

void vu_loop_set_poll(struct vu_loop *loop, uint64_t max_ns)
{
    loop->poll_max_ns = max_ns;
    loop->poll_ns = max_ns;
}

void vu_loop_get_poll_stats(const struct vu_loop *loop,
                            struct vu_loop_poll_stats *st)
{
    *st = loop->pst;
    st->max_ns = loop->poll_max_ns;
}

void vu_loop_set_tick(struct vu_loop *loop, void (*fn)(void *opaque),
                      void *opaque)
{
    loop->tick = fn;
    loop->tick_opaque = opaque;
}

/* ---- a time-travel controller on the loop ---------------------------- */

static void loop_tt_hold(void *opaque)
{
    vu_loop_hold(opaque);
}

static void loop_tt_release(void *opaque)
{
    vu_loop_release(opaque);
}

static void loop_tt_serve(void *tt)
{
    sim_tt_serve_last(tt);
}

static void loop_tt_active(void *opaque, struct sim_tt *tt)
{
    struct vu_loop *loop = opaque;

    if (tt) {
        vu_loop_touch(loop);
        vu_loop_set_hot(loop, loop_tt_serve, tt);
    } else if (loop->hot == loop_tt_serve) {
        vu_loop_drop_hot(loop, loop->hot_opaque);
    }
}

void vu_loop_tt_ops(struct vu_loop *loop, struct sim_tt_ops *ops)
{
    ops->hold = loop_tt_hold;
    ops->release = loop_tt_release;
    ops->active = loop_tt_active;
    ops->opaque = loop;
}
