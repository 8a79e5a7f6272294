/* SPDX-License-Identifier: MIT */
/* cosim/loop: deferred work in key order, holds, the stop pipe, polling
 * under a paced clock. */
#define _GNU_SOURCE
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>

#include <CUnit/CUnit.h>

#include "cosim/backend/loop.h"
#include "sim/clock.h"
#include "sim/rng.h"
#include "sim/wallclock.h"
#include "tests/unit/suites.h"

struct rec {
    struct vu_defer d;
    uint64_t *log;
    int *n;
};

static void rec_fn(struct vu_defer *d)
{
    struct rec *r = container_of(d, struct rec, d);

    r->log[(*r->n)++] = d->key;
}

/* Deferred items run sorted by key whatever order they were queued in, as
 * fd callbacks reported in any order must reach the calendar the same. */
static void test_defer_key_order(void)
{
    struct vu_loop *loop = vu_loop_new(NULL);
    struct vusim_rng rng;
    struct rec r[64];
    uint64_t log[64];
    int n = 0;

    vusim_rng_seed(&rng, 7);
    for (int i = 0; i < 64; i++) {
        r[i] = (struct rec){ .d = { .key = (uint64_t)i, .fn = rec_fn },
                             .log = log, .n = &n };
    }
    for (int i = 63; i > 0; i--) {            /* shuffle the queue order */
        int j = (int)vusim_rng_below(&rng, (uint64_t)i + 1);
        struct rec t = r[i];

        r[i] = r[j];
        r[j] = t;
    }
    for (int i = 0; i < 64; i++) {
        vu_loop_defer(loop, &r[i].d);
        vu_loop_defer(loop, &r[i].d);         /* twice: queued once */
    }
    vu_loop_undefer(loop, &r[5].d);
    vu_loop_poll(loop);
    CU_ASSERT_EQUAL(n, 63);
    for (int i = 1; i < n; i++) {
        CU_ASSERT(log[i - 1] < log[i]);
    }
    vu_loop_free(loop);
}

static void count_ev(struct sim_cal *cal, struct sim_event *ev)
{
    (void)cal;
    (*(int *)ev->arg)++;
}

/* No calendar event runs while a hold is active; all run after release. */
static void test_hold_stops_calendar(void)
{
    struct vu_loop *loop = vu_loop_new(NULL);
    struct sim_cal *cal = vu_loop_cal(loop);
    struct sim_event ev[3];
    int fired = 0;

    for (int i = 0; i < 3; i++) {
        sim_event_init(&ev[i], count_ev, &fired);
        sim_cal_at(cal, &ev[i], (sim_time_t)(i + 1) * SIM_US, 0);
    }
    vu_loop_hold(loop);
    CU_ASSERT(vu_loop_held(loop));
    vu_loop_poll(loop);
    CU_ASSERT_EQUAL(fired, 0);
    CU_ASSERT_EQUAL(sim_cal_now(cal), 0);
    vu_loop_release(loop);
    CU_ASSERT_EQUAL(vu_loop_poll(loop), 3);
    CU_ASSERT_EQUAL(fired, 3);
    CU_ASSERT_EQUAL(sim_cal_now(cal), 3 * SIM_US);
    vu_loop_free(loop);
}

static void hold_in_event(struct sim_cal *cal, struct sim_event *ev)
{
    (void)cal;
    vu_loop_hold(ev->arg);
}

/* An event that takes a hold (as a sent call does) stops the next one. */
static void test_hold_taken_by_event(void)
{
    struct vu_loop *loop = vu_loop_new(NULL);
    struct sim_cal *cal = vu_loop_cal(loop);
    struct sim_event a, b;
    int fired = 0;

    sim_event_init(&a, hold_in_event, loop);
    sim_event_init(&b, count_ev, &fired);
    sim_cal_at(cal, &a, SIM_US, 0);
    sim_cal_at(cal, &b, SIM_US, 1);
    CU_ASSERT_EQUAL(vu_loop_poll(loop), 1);
    CU_ASSERT_EQUAL(fired, 0);
    vu_loop_release(loop);
    CU_ASSERT_EQUAL(vu_loop_poll(loop), 1);
    CU_ASSERT_EQUAL(fired, 1);
    vu_loop_free(loop);
}

/* A byte on the stop fd ends vu_loop_run (what SIGTERM handlers use). */
static void test_stop_fd(void)
{
    struct vu_loop *loop = vu_loop_new(NULL);
    char b = 1;

    CU_ASSERT_EQUAL(write(vu_loop_stop_fd(loop), &b, 1), 1);
    CU_ASSERT_EQUAL(vu_loop_run(loop), 0);
    vu_loop_free(loop);
}

#define LATE_N 40
#define LATE_GAP_NS 20000u    /* shorter than the poll window */

struct late {
    struct vu_loop *loop;
    uint64_t w0;          /* host time of the first event (sim time 0) */
    uint64_t due;         /* host time the next event is due, at most */
    uint64_t min_late_ns;
    int n;
};

/*
 * Each event notes how late it ran, then puts the next one LATE_GAP_NS
 * after now on the paced schedule, and the poll window back at its
 * maximum, as a busy peer would leave it. Host time w0 is at or after the
 * pacing origin, so an event at sim time t is due at w0 + t at the latest.
 */
static void late_ev(struct sim_cal *cal, struct sim_event *ev)
{
    struct late *l = ev->arg;
    uint64_t now = vusim_wallclock_ns();

    if (l->n == 0) {
        l->w0 = now;
    } else if (now > l->due && now - l->due < l->min_late_ns) {
        l->min_late_ns = now - l->due;
    } else if (now <= l->due) {
        l->min_late_ns = 0;
    }
    if (++l->n == LATE_N) {
        vu_loop_stop(l->loop);
        return;
    }
    vu_loop_set_poll(l->loop, VUSIM_POLL_NS);
    l->due = now + LATE_GAP_NS;
    sim_cal_at(cal, ev, (sim_time_t)(l->due - l->w0) * SIM_NS, 0);
}

/*
 * Under --clock=realtime, polling must not delay an event: the loop polls
 * at most until the next event is due, then runs it (or sleeps only what
 * is left). Polling a whole window before arming the full timer made every
 * event here at least VUSIM_POLL_NS late. Here the loop never sleeps (each
 * gap is shorter than the window), so the best of LATE_N events shows
 * what the loop does, not the host's wake-up latency; a loaded machine's
 * preemptions add lateness now and then and cannot fail it.
 */
static void test_paced_poll_not_late(void)
{
    struct sim_clock_cfg rt = { .mode = SIM_CLOCK_PACED, .num = 1,
                                .den = 1 };
    struct late l = { .min_late_ns = UINT64_MAX };
    struct vu_loop_poll_stats ps;
    struct sim_event ev;

    l.loop = vu_loop_new(&rt);
    CU_ASSERT_FATAL(l.loop != NULL);
    vu_loop_set_poll(l.loop, VUSIM_POLL_NS);
    sim_event_init(&ev, late_ev, &l);
    sim_cal_at(vu_loop_cal(l.loop), &ev, 0, 0);
    CU_ASSERT_EQUAL(vu_loop_run(l.loop), 0);
    CU_ASSERT_EQUAL(l.n, LATE_N);
    CU_ASSERT(l.min_late_ns < VUSIM_POLL_NS / 2);
    if (l.min_late_ns >= VUSIM_POLL_NS / 2) {
        fprintf(stderr, "paced_poll_not_late: best event %llu ns late\n",
                (unsigned long long)l.min_late_ns);
    }
    /* Every wait polled first, and the spinning was counted. */
    vu_loop_get_poll_stats(l.loop, &ps);
    CU_ASSERT_EQUAL(ps.max_ns, VUSIM_POLL_NS);
    CU_ASSERT(ps.polls >= LATE_N / 2);
    CU_ASSERT(ps.spin_ns > 0);
    vu_loop_free(l.loop);
}

/* ---- the hot peer ---------------------------------------------------- */

struct hot {
    struct vu_loop *loop;
    int fd;             /* what the hot serve reads (no libevent event) */
    int calls, caught, other;
    struct event *timeout;
};

static void hot_serve(void *opaque)
{
    struct hot *h = opaque;
    char b;

    h->calls++;
    if (read(h->fd, &b, 1) == 1) {
        h->caught++;
        vu_loop_touch(h->loop);
        vu_loop_stop(h->loop);
    }
}

static void other_cb(evutil_socket_t fd, short what, void *arg)
{
    struct hot *h = arg;
    char b;

    (void)what;
    if (read((int)fd, &b, 1) == 1) {
        h->other++;
        vu_loop_touch(h->loop);
        vu_loop_stop(h->loop);
    }
}

static void hot_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    vu_loop_stop(arg);      /* fail, not hang, if nothing is served */
}

/* A hot fd (pa) and another with a libevent event (pb). */
static void hot_setup(struct hot *h, int pa[2], int pb[2], struct event **ev)
{
    static const struct timeval limit = { 10, 0 };

    CU_ASSERT_FATAL(pipe2(pa, O_NONBLOCK) == 0 && pipe2(pb, O_NONBLOCK) == 0);
    h->loop = vu_loop_new(NULL);
    CU_ASSERT_FATAL(h->loop != NULL);
    vu_loop_set_poll(h->loop, VUSIM_POLL_NS);
    h->fd = pa[0];
    *ev = event_new(vu_loop_base(h->loop), pb[0], EV_READ | EV_PERSIST,
                    other_cb, h);
    CU_ASSERT_FATAL(*ev != NULL && event_add(*ev, NULL) == 0);
    h->timeout = evtimer_new(vu_loop_base(h->loop), hot_timeout_cb, h->loop);
    CU_ASSERT_FATAL(h->timeout && evtimer_add(h->timeout, &limit) == 0);
}

static void hot_teardown(struct hot *h, int pa[2], int pb[2],
                         struct event *ev)
{
    event_free(ev);
    event_free(h->timeout);
    vu_loop_free(h->loop);
    for (int i = 0; i < 2; i++) {
        close(pa[i]);
        close(pb[i]);
    }
}

/* Polling serves the hot peer by its own read: pa has no event at all, so
 * only the hot serve can find its byte. */
static void test_hot_serves_its_fd(void)
{
    struct hot h = { 0 };
    int pa[2], pb[2];
    struct event *ev;

    hot_setup(&h, pa, pb, &ev);
    vu_loop_set_hot(h.loop, hot_serve, &h);
    CU_ASSERT_EQUAL(write(pa[1], "x", 1), 1);
    CU_ASSERT_EQUAL(vu_loop_run(h.loop), 0);
    CU_ASSERT_EQUAL(h.caught, 1);
    CU_ASSERT_EQUAL(h.other, 0);
    hot_teardown(&h, pa, pb, ev);
}

/* While the hot peer is quiet, every VU_LOOP_HOT_SPINS-th try looks at all
 * fds: another connection is served within the same poll, after at most
 * VU_LOOP_HOT_SPINS - 1 hot tries. */
static void test_hot_others_still_seen(void)
{
    struct hot h = { 0 };
    int pa[2], pb[2];
    struct event *ev;

    hot_setup(&h, pa, pb, &ev);
    vu_loop_set_hot(h.loop, hot_serve, &h);
    CU_ASSERT_EQUAL(write(pb[1], "y", 1), 1);
    CU_ASSERT_EQUAL(vu_loop_run(h.loop), 0);
    CU_ASSERT_EQUAL(h.other, 1);
    CU_ASSERT(h.calls >= 1 && h.calls <= (int)VU_LOOP_HOT_SPINS - 1);
    hot_teardown(&h, pa, pb, ev);
}

/* drop_hot clears only its own peer (a closing connection must not clear
 * another's); a dropped peer is never called again. */
static void test_hot_drop(void)
{
    struct hot h = { 0 }, stranger = { 0 };
    int pa[2], pb[2];
    struct event *ev;

    hot_setup(&h, pa, pb, &ev);
    vu_loop_set_hot(h.loop, hot_serve, &h);
    vu_loop_drop_hot(h.loop, &stranger);
    CU_ASSERT_EQUAL(write(pb[1], "y", 1), 1);
    CU_ASSERT_EQUAL(vu_loop_run(h.loop), 0);
    CU_ASSERT(h.calls >= 1);
    vu_loop_drop_hot(h.loop, &h);
    h.calls = 0;
    CU_ASSERT_EQUAL(write(pb[1], "y", 1), 1);
    CU_ASSERT_EQUAL(vu_loop_run(h.loop), 0);
    CU_ASSERT_EQUAL(h.calls, 0);
    CU_ASSERT_EQUAL(h.other, 2);
    hot_teardown(&h, pa, pb, ev);
}

CU_TestInfo loop_tests[] = {
    { "defer_key_order", test_defer_key_order },
    { "hold_stops_calendar", test_hold_stops_calendar },
    { "hold_taken_by_event", test_hold_taken_by_event },
    { "stop_fd", test_stop_fd },
    { "paced_poll_not_late", test_paced_poll_not_late },
    { "hot_serves_its_fd", test_hot_serves_its_fd },
    { "hot_others_still_seen", test_hot_others_still_seen },
    { "hot_drop", test_hot_drop },
    CU_TEST_INFO_NULL,
};
