/* SPDX-License-Identifier: MIT */
/* cosim/loop: deferred work in key order, holds, the stop pipe. */
#include "config.h"

#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cosim/loop.h"
#include "sim/rng.h"
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

CU_TestInfo loop_tests[] = {
    { "defer_key_order", test_defer_key_order },
    { "hold_stops_calendar", test_hold_stops_calendar },
    { "hold_taken_by_event", test_hold_taken_by_event },
    { "stop_fd", test_stop_fd },
    CU_TEST_INFO_NULL,
};
