/* SPDX-License-Identifier: MIT */
/* sim/cal: ordering, cancel/reschedule, callbacks, bounds, pool, and a
 * randomized differential test against a linear-scan reference. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sim/cal.h"
#include "sim/rng.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_LOG 64

/* A fixture: a calendar, some events and the order they fired in. */
struct fix {
    struct sim_cal *cal;
    struct sim_event ev[16];
    int log[MAX_LOG];
    sim_time_t log_time[MAX_LOG];
    int nlog;
};

static void record(struct sim_cal *cal, struct sim_event *ev)
{
    struct fix *f = ev->arg;
    int id = (int)(ev - f->ev);

    CU_ASSERT_FATAL(f->nlog < MAX_LOG);
    CU_ASSERT_FALSE(sim_event_pending(ev));
    f->log_time[f->nlog] = sim_cal_now(cal);
    f->log[f->nlog++] = id;
}

static void fix_init(struct fix *f, sim_event_fn fn)
{
    memset(f, 0, sizeof(*f));
    f->cal = sim_cal_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->cal);
    for (size_t i = 0; i < ARRAY_LEN(f->ev); i++) {
        sim_event_init(&f->ev[i], fn ? fn : record, f);
    }
}

static void fix_fini(struct fix *f)
{
    CU_ASSERT_TRUE(sim_cal_check(f->cal));
    sim_cal_free(f->cal);
}

static bool log_is(const struct fix *f, const int *want, int n)
{
    if (f->nlog != n) {
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (f->log[i] != want[i]) {
            return false;
        }
    }
    return true;
}

#define ASSERT_LOG(f, ...)                                                   \
    do {                                                                     \
        static const int want_[] = { __VA_ARGS__ };                          \
        CU_ASSERT_TRUE(log_is((f), want_, (int)ARRAY_LEN(want_)));           \
    } while (0)

/* ---- ordering ---- */

static void test_order_by_time(void)
{
    static const sim_time_t times[] = { 50, 10, 40, 20, 30, 0, 60, 15 };
    struct fix f;

    fix_init(&f, NULL);
    for (size_t i = 0; i < ARRAY_LEN(times); i++) {
        CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[i], times[i], 0), 0);
        CU_ASSERT_TRUE(sim_event_pending(&f.ev[i]));
        CU_ASSERT_EQUAL(sim_event_time(&f.ev[i]), times[i]);
    }
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), ARRAY_LEN(times));
    CU_ASSERT_TRUE(sim_cal_check(f.cal));
    CU_ASSERT_EQUAL(sim_cal_run_all(f.cal), (long)ARRAY_LEN(times));
    ASSERT_LOG(&f, 5, 1, 7, 3, 4, 2, 0, 6);
    for (int i = 1; i < f.nlog; i++) {
        CU_ASSERT_TRUE(f.log_time[i - 1] <= f.log_time[i]);
    }
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 60);
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), 0);
    fix_fini(&f);
}

static void test_ties_priority_fifo(void)
{
    static const struct {
        sim_time_t t;
        int32_t prio;
    } s[] = {
        { 10, 0 }, { 10, -5 }, { 10, 0 }, { 5, 100 }, { 10, 3 },
        { 10, -5 }, { 10, 0 }, { 10, INT32_MIN }, { 10, INT32_MAX },
    };
    struct fix f;

    fix_init(&f, NULL);
    for (size_t i = 0; i < ARRAY_LEN(s); i++) {
        CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[i], s[i].t, s[i].prio), 0);
    }
    sim_cal_run_all(f.cal);
    /* time first, then lower priority, then the order of scheduling */
    ASSERT_LOG(&f, 3, 7, 1, 5, 0, 2, 6, 4, 8);
    fix_fini(&f);
}

struct fifo {
    struct sim_event ev[300];
    int out[300];
    int n;
};

static void fifo_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct fifo *q = ev->arg;

    (void)cal;
    q->out[q->n++] = (int)(ev - q->ev);
}

static void test_many_equal_keys_fifo(void)
{
    static struct fifo q;
    struct sim_cal *cal = sim_cal_new();
    int want[300], n = 0;

    /* Enough equal keys to fill several heap levels: FIFO must survive
     * every sift, cancel and reschedule. */
    memset(&q, 0, sizeof(q));
    for (int i = 0; i < 300; i++) {
        sim_event_init(&q.ev[i], fifo_cb, &q);
        CU_ASSERT_EQUAL(sim_cal_at(cal, &q.ev[i], 10, 0), 0);
    }
    for (int i = 0; i < 300; i += 11) {
        CU_ASSERT_EQUAL(sim_cal_reschedule(cal, &q.ev[i], 10), 0);
    }
    for (int i = 0; i < 300; i += 7) {
        CU_ASSERT_EQUAL(sim_cal_cancel(cal, &q.ev[i]), 0);
    }
    for (int i = 0; i < 300; i++) {
        if (i % 7 != 0 && i % 11 != 0) {
            want[n++] = i;
        }
    }
    for (int i = 0; i < 300; i += 11) {
        if (i % 7 != 0) {
            want[n++] = i;
        }
    }
    CU_ASSERT_TRUE(sim_cal_check(cal));
    CU_ASSERT_EQUAL(sim_cal_run_all(cal), n);
    CU_ASSERT_EQUAL(q.n, n);
    CU_ASSERT_EQUAL(memcmp(q.out, want, (size_t)n * sizeof(int)), 0);
    sim_cal_free(cal);
}

/* ---- cancel and reschedule ---- */

static void schedule_five(struct fix *f)
{
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(sim_cal_at(f->cal, &f->ev[i], 10 * (i + 1), 0), 0);
    }
}

static void test_cancel_head_middle_tail(void)
{
    static const struct {
        const char *name;
        int cancel;
        int want[4];
    } cases[] = {
        { "head", 0, { 1, 2, 3, 4 } },
        { "middle", 2, { 0, 1, 3, 4 } },
        { "tail", 4, { 0, 1, 2, 3 } },
    };

    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        struct fix f;

        fix_init(&f, NULL);
        schedule_five(&f);
        VU_ASSERT_MSG(sim_cal_cancel(f.cal, &f.ev[cases[c].cancel]) == 0,
                      cases[c].name);
        VU_ASSERT_MSG(!sim_event_pending(&f.ev[cases[c].cancel]),
                      cases[c].name);
        VU_ASSERT_MSG(sim_cal_check(f.cal), cases[c].name);
        VU_ASSERT_MSG(sim_cal_cancel(f.cal, &f.ev[cases[c].cancel]) ==
                          -ENOENT, cases[c].name);
        VU_ASSERT_MSG(sim_cal_run_all(f.cal) == 4, cases[c].name);
        VU_ASSERT_MSG(log_is(&f, cases[c].want, 4), cases[c].name);
        fix_fini(&f);
    }
}

static void test_cancel_not_pending(void)
{
    struct fix f, g;

    fix_init(&f, NULL);
    fix_init(&g, NULL);
    CU_ASSERT_EQUAL(sim_cal_cancel(f.cal, &f.ev[0]), -ENOENT);
    CU_ASSERT_EQUAL(sim_cal_cancel(f.cal, NULL), -ENOENT);
    /* Pending, but on another calendar. */
    CU_ASSERT_EQUAL(sim_cal_at(g.cal, &g.ev[0], 5, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_cancel(f.cal, &g.ev[0]), -ENOENT);
    CU_ASSERT_TRUE(sim_event_pending(&g.ev[0]));
    CU_ASSERT_EQUAL(sim_cal_reschedule(f.cal, &g.ev[0], 7), -EINVAL);
    CU_ASSERT_EQUAL(sim_event_time(&g.ev[0]), 5);
    fix_fini(&f);
    fix_fini(&g);
}

static void test_reschedule_head_middle_tail(void)
{
    static const struct {
        const char *name;
        int ev;
        sim_time_t to;
        int want[5];
    } cases[] = {
        { "head later", 0, 35, { 1, 2, 0, 3, 4 } },
        { "head to tail", 0, 99, { 1, 2, 3, 4, 0 } },
        { "middle earlier", 2, 5, { 2, 0, 1, 3, 4 } },
        { "middle later", 2, 45, { 0, 1, 3, 2, 4 } },
        { "tail to head", 4, 1, { 4, 0, 1, 2, 3 } },
        { "tail same time", 4, 50, { 0, 1, 2, 3, 4 } },
        /* A tie with an event scheduled earlier: the new sequence number
         * puts the moved event after it. */
        { "head onto tie", 0, 20, { 1, 0, 2, 3, 4 } },
        { "tail onto tie", 4, 10, { 0, 4, 1, 2, 3 } },
    };

    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        struct fix f;

        fix_init(&f, NULL);
        schedule_five(&f);
        VU_ASSERT_MSG(sim_cal_reschedule(f.cal, &f.ev[cases[c].ev],
                                         cases[c].to) == 0, cases[c].name);
        VU_ASSERT_MSG(sim_event_time(&f.ev[cases[c].ev]) == cases[c].to,
                      cases[c].name);
        VU_ASSERT_MSG(sim_cal_pending(f.cal) == 5, cases[c].name);
        VU_ASSERT_MSG(sim_cal_check(f.cal), cases[c].name);
        sim_cal_run_all(f.cal);
        VU_ASSERT_MSG(log_is(&f, cases[c].want, 5), cases[c].name);
        fix_fini(&f);
    }
}

static void test_reschedule_keeps_priority(void)
{
    struct fix f;

    fix_init(&f, NULL);
    /* Never scheduled: priority 0. */
    CU_ASSERT_EQUAL(sim_cal_reschedule(f.cal, &f.ev[0], 10), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], 10, 5), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[2], 10, -5), 0);
    CU_ASSERT_EQUAL(sim_cal_run_one(f.cal), 1);         /* ev 2 */
    /* Not pending any more: rescheduled with the priority it had. */
    CU_ASSERT_EQUAL(sim_cal_reschedule(f.cal, &f.ev[2], 10), 0);
    /* Pending ev 1 moves, still at 5, behind ev 0. */
    CU_ASSERT_EQUAL(sim_cal_reschedule(f.cal, &f.ev[1], 10), 0);
    sim_cal_run_all(f.cal);
    ASSERT_LOG(&f, 2, 2, 0, 1);
    fix_fini(&f);
}

/* ---- callbacks that change the calendar ---- */

static struct fix *cb_fix(struct sim_event *ev)
{
    return ev->arg;
}

/* ev 0 schedules ev 1 at now and ev 2 later, cancels ev 3 and moves ev 4
 * to now; then it re-arms itself twice, 5 ps apart. */
static void busy_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct fix *f = cb_fix(ev);
    int id = (int)(ev - f->ev);

    record(cal, ev);
    if (id != 0) {
        return;
    }
    if (f->nlog == 1) {
        CU_ASSERT_EQUAL(sim_cal_after(cal, &f->ev[1], 0, 0), 0);
        CU_ASSERT_EQUAL(sim_cal_after(cal, &f->ev[2], 100, 0), 0);
        CU_ASSERT_EQUAL(sim_cal_cancel(cal, &f->ev[3]), 0);
        CU_ASSERT_EQUAL(sim_cal_reschedule(cal, &f->ev[4],
                                           sim_cal_now(cal)), 0);
        /* Cancelling itself: it is no longer pending while it runs. */
        CU_ASSERT_EQUAL(sim_cal_cancel(cal, ev), -ENOENT);
    }
    if (f->nlog < 5) {
        CU_ASSERT_EQUAL(sim_cal_reschedule(cal, ev, sim_cal_now(cal) + 5),
                        0);
    }
}

static void test_callbacks_change_calendar(void)
{
    struct fix f;

    fix_init(&f, busy_cb);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 10, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[3], 12, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[4], 1000, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_run_all(f.cal), 6);
    ASSERT_LOG(&f, 0, 1, 4, 0, 0, 2);
    CU_ASSERT_EQUAL(f.log_time[1], 10);
    CU_ASSERT_EQUAL(f.log_time[2], 10);
    CU_ASSERT_EQUAL(f.log_time[3], 15);
    CU_ASSERT_EQUAL(f.log_time[4], 20);
    CU_ASSERT_EQUAL(f.log_time[5], 110);
    fix_fini(&f);
}

/* A periodic event that re-arms itself with sim_cal_after(). */
static void periodic_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct fix *f = cb_fix(ev);

    record(cal, ev);
    if (f->nlog < 10) {
        CU_ASSERT_EQUAL(sim_cal_after(cal, ev, 7, 0), 0);
        CU_ASSERT_TRUE(sim_event_pending(ev));
        CU_ASSERT_EQUAL(sim_cal_after(cal, ev, 7, 0), -EBUSY);
    }
}

static void test_callback_rearms_itself(void)
{
    struct fix f;

    fix_init(&f, periodic_cb);
    CU_ASSERT_EQUAL(sim_cal_after(f.cal, &f.ev[0], 3, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_run_all(f.cal), 10);
    CU_ASSERT_EQUAL(f.log_time[0], 3);
    CU_ASSERT_EQUAL(f.log_time[9], 3 + 9 * 7);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 66);
    fix_fini(&f);
}

/* ---- errors leave the calendar unchanged ---- */

static void test_past_is_einval(void)
{
    struct sim_cal_stats before, after;
    struct fix f;

    fix_init(&f, NULL);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 200, 1), 0);
    CU_ASSERT_EQUAL(sim_cal_advance(f.cal, 100), 0);
    sim_cal_get_stats(f.cal, &before);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], 99, 0), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_reschedule(f.cal, &f.ev[0], 99), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_reschedule(f.cal, &f.ev[1], 0), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, 99), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_advance(f.cal, 99), -EINVAL);
    sim_cal_get_stats(f.cal, &after);
    CU_ASSERT_EQUAL(memcmp(&before, &after, sizeof(before)), 0);
    CU_ASSERT_FALSE(sim_event_pending(&f.ev[1]));
    CU_ASSERT_EQUAL(sim_event_time(&f.ev[0]), 200);
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), 1);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 100);
    /* Exactly now is not the past. */
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], 100, 0), 0);
    sim_cal_run_all(f.cal);
    ASSERT_LOG(&f, 1, 0);
    fix_fini(&f);
}

static void test_bad_arguments(void)
{
    struct sim_event bare;
    struct fix f;

    fix_init(&f, NULL);
    sim_event_init(&bare, NULL, NULL);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &bare, 1, 0), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, NULL, 1, 0), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_post(f.cal, 1, 0, NULL, NULL), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 1, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 2, 0), -EBUSY);
    CU_ASSERT_EQUAL(sim_event_time(&f.ev[0]), 1);
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), 1);
    fix_fini(&f);
}

static void test_after_overflow(void)
{
    struct fix f;

    fix_init(&f, NULL);
    CU_ASSERT_EQUAL(sim_cal_advance(f.cal, 10), 0);
    CU_ASSERT_EQUAL(sim_cal_after(f.cal, &f.ev[0], SIM_TIME_MAX, 0),
                    -ERANGE);
    CU_ASSERT_EQUAL(sim_cal_after(f.cal, &f.ev[0], SIM_TIME_MAX - 9, 0),
                    -ERANGE);
    CU_ASSERT_EQUAL(sim_cal_post(f.cal, SIM_TIME_MAX - 9, 0, record, &f),
                    -ERANGE);
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), 0);
    CU_ASSERT_FALSE(sim_event_pending(&f.ev[0]));
    /* Landing exactly on SIM_TIME_MAX fits. */
    CU_ASSERT_EQUAL(sim_cal_after(f.cal, &f.ev[0], SIM_TIME_MAX - 10, 0),
                    0);
    CU_ASSERT_EQUAL(sim_event_time(&f.ev[0]), SIM_TIME_MAX);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, SIM_TIME_MAX), 1);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), SIM_TIME_MAX);
    fix_fini(&f);
}

/* ---- running ---- */

/* At 20, ev 2 adds ev 5 at 20 (inside the bound) and ev 6 at 21. */
static void bound_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct fix *f = cb_fix(ev);

    record(cal, ev);
    if (ev == &f->ev[2]) {
        CU_ASSERT_EQUAL(sim_cal_at(cal, &f->ev[5], 20, 0), 0);
        CU_ASSERT_EQUAL(sim_cal_at(cal, &f->ev[6], 21, 0), 0);
    }
}

static void test_run_until_bounds(void)
{
    sim_time_t t;
    struct fix f;

    fix_init(&f, bound_cb);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 10, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], 20, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[2], 20, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[3], 30, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, 19), 1);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 19);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, 20), 3);
    ASSERT_LOG(&f, 0, 1, 2, 5);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 20);
    CU_ASSERT_EQUAL(sim_cal_peek(f.cal, &t), 0);
    CU_ASSERT_EQUAL(t, 21);
    /* Nothing due: time still moves to the bound. */
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, 20), 0);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, 29), 1);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 29);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, 1000), 1);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 1000);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, 999), -EINVAL);
    fix_fini(&f);
}

static void test_run_all_and_run_one(void)
{
    struct fix f;

    fix_init(&f, NULL);
    CU_ASSERT_EQUAL(sim_cal_run_one(f.cal), 0);
    CU_ASSERT_EQUAL(sim_cal_run_all(f.cal), 0);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(sim_cal_after(f.cal, &f.ev[i], 100 - i, 0), 0);
    }
    CU_ASSERT_EQUAL(sim_cal_run_one(f.cal), 1);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 91);
    CU_ASSERT_EQUAL(sim_cal_run_all(f.cal), 9);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 100);
    CU_ASSERT_EQUAL(sim_cal_run_one(f.cal), 0);
    fix_fini(&f);
}

static void test_peek_and_advance(void)
{
    sim_time_t t = 77;
    struct fix f;

    fix_init(&f, NULL);
    CU_ASSERT_EQUAL(sim_cal_peek(f.cal, &t), -ENOENT);
    CU_ASSERT_EQUAL(t, 77);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 40, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], 30, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_peek(f.cal, &t), 0);
    CU_ASSERT_EQUAL(t, 30);
    CU_ASSERT_EQUAL(sim_cal_advance(f.cal, 31), -EINVAL);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 0);
    CU_ASSERT_EQUAL(sim_cal_advance(f.cal, 30), 0);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), 30);
    CU_ASSERT_EQUAL(f.nlog, 0);
    fix_fini(&f);
}

/* ---- the pool, stats and memory ---- */

static void count_cb(struct sim_cal *cal, struct sim_event *ev)
{
    int *n = ev->arg;

    CU_ASSERT_FALSE(sim_event_pending(ev));
    (*n)++;
    (void)cal;
}

static void test_post(void)
{
    struct sim_cal *cal = sim_cal_new();
    int a = 0, b = 0;

    CU_ASSERT_EQUAL(sim_cal_post(cal, 5, 0, count_cb, &a), 0);
    CU_ASSERT_EQUAL(sim_cal_post(cal, 5, -1, count_cb, &b), 0);
    CU_ASSERT_EQUAL(sim_cal_post(cal, 9, 0, count_cb, &a), 0);
    CU_ASSERT_EQUAL(sim_cal_pending(cal), 3);
    CU_ASSERT_EQUAL(sim_cal_run_until(cal, 5), 2);
    CU_ASSERT_EQUAL(a, 1);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(sim_cal_run_all(cal), 1);
    CU_ASSERT_EQUAL(a, 2);
    CU_ASSERT_TRUE(sim_cal_check(cal));
    sim_cal_free(cal);
}

/* Each posted event posts another until the budget in *n runs out. */
static void chain_cb(struct sim_cal *cal, struct sim_event *ev)
{
    int *n = ev->arg;

    if (--(*n) > 0) {
        CU_ASSERT_EQUAL(sim_cal_post(cal, 1 + (sim_time_t)(*n % 13), 0,
                                     chain_cb, n), 0);
    }
}

static void test_pool_reuse(void)
{
    struct sim_cal_stats warm, st;
    struct sim_cal *cal = sim_cal_new();
    int budget[200];

    /* Warm-up: 200 chains in flight at once. */
    for (int i = 0; i < 200; i++) {
        budget[i] = 50;
        CU_ASSERT_EQUAL(sim_cal_post(cal, (sim_time_t)i, 0, chain_cb,
                                     &budget[i]), 0);
    }
    sim_cal_run_all(cal);
    sim_cal_get_stats(cal, &warm);
    CU_ASSERT_TRUE(warm.pool_size >= 200);
    CU_ASSERT_EQUAL(warm.fired, 200 * 50);
    /* Same working set again, many times: nothing grows. */
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 200; i++) {
            budget[i] = 100;
            CU_ASSERT_EQUAL(sim_cal_post(cal, (sim_time_t)i % 7, 0,
                                         chain_cb, &budget[i]), 0);
        }
        sim_cal_run_all(cal);
    }
    sim_cal_get_stats(cal, &st);
    CU_ASSERT_EQUAL(st.pool_size, warm.pool_size);
    CU_ASSERT_EQUAL(st.index_capacity, warm.index_capacity);
    CU_ASSERT_EQUAL(st.fired, warm.fired + 20 * 200 * 100);
    sim_cal_free(cal);
}

/* The hold model: every event re-arms itself a varying delay later. */
static void hold_cb(struct sim_cal *cal, struct sim_event *ev)
{
    int *n = ev->arg;

    (*n)++;
    CU_ASSERT_EQUAL(sim_cal_after(cal, ev, 1 + (sim_time_t)(*n * 7 % 1000),
                                  0), 0);
}

static void test_index_no_growth_after_warmup(void)
{
    static struct sim_event evs[1000];
    struct sim_cal_stats warm, st;
    struct sim_cal *cal = sim_cal_new();
    int n = 0;

    for (int i = 0; i < 1000; i++) {
        sim_event_init(&evs[i], hold_cb, &n);
        CU_ASSERT_EQUAL(sim_cal_after(cal, &evs[i], (sim_time_t)i, 0), 0);
    }
    sim_cal_get_stats(cal, &warm);
    CU_ASSERT_TRUE(warm.index_capacity >= 1000);
    for (int i = 0; i < 50000; i++) {
        CU_ASSERT_EQUAL(sim_cal_run_one(cal), 1);
    }
    sim_cal_get_stats(cal, &st);
    CU_ASSERT_EQUAL(n, 50000);
    CU_ASSERT_EQUAL(st.index_capacity, warm.index_capacity);
    CU_ASSERT_EQUAL(st.max_pending, 1000);
    CU_ASSERT_EQUAL(st.pool_size, 0);
    CU_ASSERT_TRUE(sim_cal_check(cal));
    sim_cal_free(cal);
}

static void test_stats(void)
{
    struct sim_cal_stats st;
    struct fix f;

    int posted = 0;

    fix_init(&f, NULL);
    sim_cal_get_stats(f.cal, &st);
    CU_ASSERT_EQUAL(st.scheduled, 0);
    CU_ASSERT_EQUAL(st.max_pending, 0);
    CU_ASSERT_EQUAL(sim_cal_post(f.cal, 3, 0, count_cb, &posted), 0);
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[i], 10 + i, 0), 0);
    }
    CU_ASSERT_EQUAL(sim_cal_cancel(f.cal, &f.ev[1]), 0);
    CU_ASSERT_EQUAL(sim_cal_reschedule(f.cal, &f.ev[2], 50), 0);
    /* Failed calls count nothing. */
    CU_ASSERT_EQUAL(sim_cal_cancel(f.cal, &f.ev[1]), -ENOENT);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 20, 0), -EBUSY);
    sim_cal_run_all(f.cal);
    CU_ASSERT_EQUAL(posted, 1);
    sim_cal_get_stats(f.cal, &st);
    CU_ASSERT_EQUAL(st.scheduled, 8);
    CU_ASSERT_EQUAL(st.cancelled, 1);
    CU_ASSERT_EQUAL(st.fired, 6);
    CU_ASSERT_EQUAL(st.max_pending, 7);
    fix_fini(&f);
}

static void test_bytes_per_event(void)
{
    size_t b = sim_cal_bytes_per_event();

    CU_ASSERT_TRUE(b <= 64);
    /* At least the event and a time-and-pointer entry. */
    CU_ASSERT_TRUE(b >= sizeof(struct sim_event) + 16);
}

static void never_cb(struct sim_cal *cal, struct sim_event *ev)
{
    (void)cal;
    (void)ev;
    CU_FAIL("a dropped event ran");
}

static void test_free_drops_pending(void)
{
    struct sim_cal *cal = sim_cal_new();
    struct sim_event ev[3];

    for (int i = 0; i < 3; i++) {
        sim_event_init(&ev[i], never_cb, NULL);
        CU_ASSERT_EQUAL(sim_cal_at(cal, &ev[i], (sim_time_t)i, 0), 0);
    }
    CU_ASSERT_EQUAL(sim_cal_post(cal, 1, 0, never_cb, NULL), 0);
    sim_cal_free(cal);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_FALSE(sim_event_pending(&ev[i]));
    }
    sim_cal_free(NULL);
}

/* ---- differential test against a reference ---- */

#define DIFF_OBJS 1024
#define DIFF_OPS  120000

/* The reference keeps its own copy of every key and scans linearly. */
struct ref_obj {
    struct sim_event ev;
    bool pending;
    sim_time_t time;
    int32_t prio;
    uint64_t seq;
};

struct diff {
    struct sim_cal *cal;
    struct vusim_rng rng;
    struct ref_obj obj[DIFF_OBJS];
    sim_time_t now;
    uint64_t seq;
    size_t npending;
    uint64_t seed;
    long op;
    bool failed;
    long fired;
};

#define DIFF_EXPECT(d, cond)                                                 \
    do {                                                                     \
        if (!(cond) && !(d)->failed) {                                       \
            (d)->failed = true;                                              \
            printf("\ncal differential: seed %llu op %ld: %s (line %d)\n",   \
                   (unsigned long long)(d)->seed, (d)->op, #cond, __LINE__); \
        }                                                                    \
    } while (0)

static struct ref_obj *ref_min(struct diff *d)
{
    struct ref_obj *m = NULL;

    for (int i = 0; i < DIFF_OBJS; i++) {
        struct ref_obj *o = &d->obj[i];

        if (!o->pending) {
            continue;
        }
        if (!m || o->time < m->time ||
            (o->time == m->time &&
             (o->prio < m->prio || (o->prio == m->prio && o->seq < m->seq)))) {
            m = o;
        }
    }
    return m;
}

static void ref_set(struct diff *d, struct ref_obj *o, sim_time_t t,
                    int32_t prio)
{
    if (!o->pending) {
        d->npending++;
    }
    o->pending = true;
    o->time = t;
    o->prio = prio;
    o->seq = d->seq++;
}

/* Times cluster near now so ties of time and priority are common. */
static sim_time_t pick_time(struct diff *d)
{
    uint64_t r = vusim_rng_below(&d->rng, 100);

    if (r < 5 && d->now > 0) {
        return d->now - 1 - vusim_rng_below(&d->rng, d->now < 50 ? d->now
                                                                 : 50);
    }
    if (r < 20) {
        return d->now + vusim_rng_below(&d->rng, 100000);
    }
    if (r < 50) {
        return d->now + vusim_rng_below(&d->rng, 2000);
    }
    return d->now + vusim_rng_below(&d->rng, 20);
}

static void op_at(struct diff *d, struct ref_obj *o)
{
    sim_time_t t = pick_time(d);
    int32_t prio = (int32_t)vusim_rng_below(&d->rng, 3) - 1;
    int want = t < d->now ? -EINVAL : o->pending ? -EBUSY : 0;

    DIFF_EXPECT(d, sim_cal_at(d->cal, &o->ev, t, prio) == want);
    if (want == 0) {
        ref_set(d, o, t, prio);
    }
}

static void op_after(struct diff *d, struct ref_obj *o)
{
    sim_time_t delay = vusim_rng_below(&d->rng, 30);
    int32_t prio = (int32_t)vusim_rng_below(&d->rng, 3) - 1;
    int want = o->pending ? -EBUSY : 0;

    if (vusim_rng_below(&d->rng, 50) == 0) {
        delay = SIM_TIME_MAX - vusim_rng_below(&d->rng, 4);
        want = d->now > SIM_TIME_MAX - delay ? -ERANGE : want;
    }
    DIFF_EXPECT(d, sim_cal_after(d->cal, &o->ev, delay, prio) == want);
    if (want == 0) {
        ref_set(d, o, d->now + delay, prio);
    }
}

static void op_cancel(struct diff *d, struct ref_obj *o)
{
    int want = o->pending ? 0 : -ENOENT;

    DIFF_EXPECT(d, sim_cal_cancel(d->cal, &o->ev) == want);
    if (o->pending) {
        o->pending = false;
        d->npending--;
    }
}

static void op_reschedule(struct diff *d, struct ref_obj *o)
{
    sim_time_t t = pick_time(d);
    int want = t < d->now ? -EINVAL : 0;

    DIFF_EXPECT(d, sim_cal_reschedule(d->cal, &o->ev, t) == want);
    if (want == 0) {
        ref_set(d, o, t, o->prio);
    }
}

/* One random change that is not a run; callbacks use it too. */
static void diff_mutate(struct diff *d)
{
    struct ref_obj *o = &d->obj[vusim_rng_below(&d->rng, DIFF_OBJS)];
    uint64_t k = vusim_rng_below(&d->rng, 4);

    if (k == 0) {
        op_at(d, o);
    } else if (k == 1) {
        op_after(d, o);
    } else if (k == 2) {
        op_cancel(d, o);
    } else {
        op_reschedule(d, o);
    }
}

static void diff_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct ref_obj *o = container_of(ev, struct ref_obj, ev);
    struct diff *d = ev->arg;
    struct ref_obj *m = ref_min(d);

    DIFF_EXPECT(d, m == o);
    DIFF_EXPECT(d, sim_cal_now(cal) == o->time);
    DIFF_EXPECT(d, !sim_event_pending(ev));
    o->pending = false;
    d->npending--;
    d->now = o->time;
    d->fired++;
    /* Callbacks schedule, cancel and reschedule, themselves included. */
    for (uint64_t n = vusim_rng_below(&d->rng, 3); n > 0; n--) {
        if (vusim_rng_below(&d->rng, 4) == 0) {
            op_reschedule(d, o);
        } else {
            diff_mutate(d);
        }
    }
}

static void diff_run(struct diff *d)
{
    uint64_t k = vusim_rng_below(&d->rng, 10);

    if (k < 6) {
        struct ref_obj *m = ref_min(d);

        DIFF_EXPECT(d, sim_cal_run_one(d->cal) == (m ? 1 : 0));
    } else {
        sim_time_t t = d->now + vusim_rng_below(&d->rng, 8);
        long r = sim_cal_run_until(d->cal, t);
        struct ref_obj *m = ref_min(d);

        DIFF_EXPECT(d, r >= 0);
        DIFF_EXPECT(d, !m || m->time > t);
        DIFF_EXPECT(d, sim_cal_now(d->cal) == t);
        d->now = t;
    }
}

static void diff_compare(struct diff *d)
{
    struct ref_obj *m = ref_min(d);
    sim_time_t t;

    DIFF_EXPECT(d, sim_cal_pending(d->cal) == d->npending);
    DIFF_EXPECT(d, sim_cal_now(d->cal) == d->now);
    if (m) {
        DIFF_EXPECT(d, sim_cal_peek(d->cal, &t) == 0 && t == m->time);
    } else {
        DIFF_EXPECT(d, sim_cal_peek(d->cal, &t) == -ENOENT);
    }
}

static void test_differential(void)
{
    static struct diff d;

    memset(&d, 0, sizeof(d));
    d.seed = 0x5eed0001;
    vusim_rng_seed(&d.rng, d.seed);
    d.cal = sim_cal_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.cal);
    for (int i = 0; i < DIFF_OBJS; i++) {
        sim_event_init(&d.obj[i].ev, diff_cb, &d);
    }
    for (d.op = 0; d.op < DIFF_OPS && !d.failed; d.op++) {
        /* Bias toward growth early so the heap gets deep. */
        if (vusim_rng_below(&d.rng, 100) < (d.op < 3000 ? 90 : 60)) {
            diff_mutate(&d);
        } else {
            diff_run(&d);
        }
        diff_compare(&d);
        if (d.op % 1000 == 0) {
            DIFF_EXPECT(&d, sim_cal_check(d.cal));
        }
    }
    DIFF_EXPECT(&d, sim_cal_check(d.cal));
    /* Drain: the rest fires in reference order too. */
    sim_cal_run_all(d.cal);
    diff_compare(&d);
    CU_ASSERT_FALSE(d.failed);
    CU_ASSERT_TRUE(d.fired > DIFF_OPS / 10);
    sim_cal_free(d.cal);
}

/* ---- observers ---- */

/* What one observer saw: the kinds in order, and the seqs it fired. */
struct seen {
    char log[64];
    size_t n;
    int id;
    int *order;                 /* shared: who saw each FIRE, in turn */
    size_t *norder;
};

static void watch(void *opaque, enum sim_cal_obs what, sim_time_t at,
                  int32_t prio, uint64_t seq)
{
    static const char kind[] = "SFCD";
    struct seen *s = opaque;

    (void)at;
    (void)prio;
    (void)seq;
    if (s->n + 1 < sizeof(s->log)) {
        s->log[s->n++] = kind[what];
    }
    if (what == SIM_CAL_OBS_FIRE) {
        s->order[(*s->norder)++] = s->id;
    }
}

static void quiet_cb(struct sim_cal *cal, struct sim_event *ev)
{
    (void)cal;
    (void)ev;
}

/* Several observers on one calendar (one trace per device in vusim
 * multi): each sees every schedule, cancel and fire, in the order they
 * were added; removing one leaves the others; too many is -ENOSPC. */
static void test_observers(void)
{
    struct sim_cal *cal = sim_cal_new();
    struct sim_event ev[3];
    int order[8];
    size_t norder = 0;
    struct seen a = { .id = 1, .order = order, .norder = &norder };
    struct seen b = { .id = 2, .order = order, .norder = &norder };
    struct seen extra[SIM_CAL_OBSERVERS_MAX];

    CU_ASSERT_FATAL(cal != NULL);
    for (int i = 0; i < 3; i++) {
        sim_event_init(&ev[i], quiet_cb, NULL);
    }
    CU_ASSERT_EQUAL(sim_cal_add_observer(cal, watch, &a), 0);
    CU_ASSERT_EQUAL(sim_cal_add_observer(cal, watch, &b), 0);
    CU_ASSERT_EQUAL(sim_cal_at(cal, &ev[0], 10, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(cal, &ev[1], 20, 0), 0);
    sim_cal_cancel(cal, &ev[1]);
    CU_ASSERT_EQUAL(sim_cal_run_one(cal), 1);
    CU_ASSERT_STRING_EQUAL(a.log, "SSCFD");
    CU_ASSERT_STRING_EQUAL(b.log, "SSCFD");
    CU_ASSERT_EQUAL(norder, 2);
    CU_ASSERT(order[0] == 1 && order[1] == 2);
    /* Without a, b still sees everything. */
    sim_cal_remove_observer(cal, watch, &a);
    CU_ASSERT_EQUAL(sim_cal_at(cal, &ev[2], 30, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_run_one(cal), 1);
    CU_ASSERT_STRING_EQUAL(a.log, "SSCFD");
    CU_ASSERT_STRING_EQUAL(b.log, "SSCFDSFD");
    sim_cal_remove_observer(cal, watch, &a);    /* not there: nothing */
    /* b plus SIM_CAL_OBSERVERS_MAX - 1 fit, one more does not. */
    for (int i = 0; i < SIM_CAL_OBSERVERS_MAX; i++) {
        extra[i] = (struct seen){ .id = 3, .order = order,
                                  .norder = &norder };
        CU_ASSERT_EQUAL(sim_cal_add_observer(cal, watch, &extra[i]),
                        i < SIM_CAL_OBSERVERS_MAX - 1 ? 0 : -ENOSPC);
    }
    sim_cal_free(cal);
}

CU_TestInfo cal_tests[] = {
    { "order_by_time", test_order_by_time },
    { "ties_priority_fifo", test_ties_priority_fifo },
    { "many_equal_keys_fifo", test_many_equal_keys_fifo },
    { "cancel_head_middle_tail", test_cancel_head_middle_tail },
    { "cancel_not_pending", test_cancel_not_pending },
    { "reschedule_head_middle_tail", test_reschedule_head_middle_tail },
    { "reschedule_keeps_priority", test_reschedule_keeps_priority },
    { "callbacks_change_calendar", test_callbacks_change_calendar },
    { "callback_rearms_itself", test_callback_rearms_itself },
    { "past_is_einval", test_past_is_einval },
    { "bad_arguments", test_bad_arguments },
    { "after_overflow", test_after_overflow },
    { "run_until_bounds", test_run_until_bounds },
    { "run_all_and_run_one", test_run_all_and_run_one },
    { "peek_and_advance", test_peek_and_advance },
    { "post", test_post },
    { "pool_reuse", test_pool_reuse },
    { "index_no_growth_after_warmup", test_index_no_growth_after_warmup },
    { "stats", test_stats },
    { "bytes_per_event", test_bytes_per_event },
    { "free_drops_pending", test_free_drops_pending },
    { "differential", test_differential },
    { "observers", test_observers },
    CU_TEST_INFO_NULL,
};
