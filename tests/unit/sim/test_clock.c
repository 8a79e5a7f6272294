/* SPDX-License-Identifier: MIT */
/* sim/clock: mode parsing, AFAP, pacing against a fake host clock, and an
 * external controller granting time. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sim/clock.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A host clock the test moves by hand. */
struct fake_host {
    uint64_t now;
    unsigned reads;
};

static uint64_t fake_now(void *opaque)
{
    struct fake_host *h = opaque;

    h->reads++;
    return h->now;
}

/* A calendar whose events note when they ran, and the clock's grant then. */
struct fix {
    struct fake_host host;
    struct vusim_hostclock hc;
    struct sim_cal *cal;
    struct sim_clock *clk;
    struct sim_event ev[8];
    sim_time_t ran_at[64];
    uint64_t host_at[64];
    int nran;
};

static void note_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct fix *f = ev->arg;

    CU_ASSERT_FATAL(f->nran < 64);
    f->ran_at[f->nran] = sim_cal_now(cal);
    f->host_at[f->nran++] = f->host.now;
    /* Never past the grant, in any mode (AFAP/PACED have none to pass). */
    if (sim_clock_mode(f->clk) == SIM_CLOCK_EXTERNAL) {
        CU_ASSERT_TRUE(sim_cal_now(cal) <= sim_clock_granted(f->clk));
    }
}

static void fix_init(struct fix *f, const char *mode, uint64_t host_now)
{
    struct sim_clock_cfg cfg;
    char err[128];

    memset(f, 0, sizeof(*f));
    f->host.now = host_now;
    f->hc = (struct vusim_hostclock){ fake_now, &f->host };
    CU_ASSERT_EQUAL_FATAL(sim_clock_parse(mode, &cfg, err, sizeof(err)), 0);
    f->clk = sim_clock_new(&cfg, &f->hc);
    f->cal = sim_cal_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->clk);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->cal);
    for (size_t i = 0; i < ARRAY_LEN(f->ev); i++) {
        sim_event_init(&f->ev[i], note_cb, f);
    }
}

static void fix_fini(struct fix *f)
{
    CU_ASSERT_TRUE(sim_cal_check(f->cal));
    sim_cal_free(f->cal);
    sim_clock_free(f->clk);
}

/* ---- parsing ---- */

static void test_parse_good(void)
{
    static const struct {
        const char *s;
        enum sim_clock_mode mode;
        uint64_t num, den;
    } cases[] = {
        { "afap", SIM_CLOCK_AFAP, 0, 0 },
        { "external", SIM_CLOCK_EXTERNAL, 0, 0 },
        { "realtime", SIM_CLOCK_PACED, 1, 1 },
        { "realtime:1", SIM_CLOCK_PACED, 1, 1 },
        { "realtime:2", SIM_CLOCK_PACED, 2, 1 },
        { "realtime:0.5", SIM_CLOCK_PACED, 1, 2 },
        { "realtime:0.25", SIM_CLOCK_PACED, 1, 4 },
        { "realtime:10", SIM_CLOCK_PACED, 10, 1 },
        { "realtime:1.50", SIM_CLOCK_PACED, 3, 2 },
        { "realtime:007", SIM_CLOCK_PACED, 7, 1 },
        { "realtime:0.001", SIM_CLOCK_PACED, 1, 1000 },
        { "realtime:0.3333", SIM_CLOCK_PACED, 3333, 10000 },
        { "realtime:18446744073709551615", SIM_CLOCK_PACED, UINT64_MAX, 1 },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sim_clock_cfg cfg;
        char err[128] = "";

        VU_ASSERT_MSG(sim_clock_parse(cases[i].s, &cfg, err,
                                      sizeof(err)) == 0, cases[i].s);
        VU_ASSERT_MSG(cfg.mode == cases[i].mode, cases[i].s);
        if (cases[i].mode == SIM_CLOCK_PACED) {
            VU_ASSERT_MSG(cfg.num == cases[i].num, cases[i].s);
            VU_ASSERT_MSG(cfg.den == cases[i].den, cases[i].s);
        }
        VU_ASSERT_MSG(err[0] == '\0', cases[i].s);
    }
}

static void test_parse_bad(void)
{
    static const struct {
        const char *s;
        const char *why;
    } cases[] = {
        { "realtime:0", "positive decimal" },
        { "realtime:0.000", "positive decimal" },
        { "realtime:-1", "positive decimal" },
        { "realtime:+1", "positive decimal" },
        { "realtime:x", "positive decimal" },
        { "realtime:", "positive decimal" },
        { "realtime:1.", "positive decimal" },
        { "realtime:.5", "positive decimal" },
        { "realtime:1e3", "positive decimal" },
        { "realtime:2x", "positive decimal" },
        { "realtime:1.2.3", "positive decimal" },
        { "realtime:18446744073709551616", "positive decimal" },
        { "realtime:0.00000000000000000001", "positive decimal" },
        { "fast", "expected afap" },
        { "", "expected afap" },
        { "realtime2", "expected afap" },
        { "REALTIME", "expected afap" },
        { "afap:1", "expected afap" },
        { "external ", "expected afap" },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sim_clock_cfg cfg = { SIM_CLOCK_EXTERNAL, 42, 43 };
        char err[128] = "", quoted[64];

        VU_ASSERT_MSG(sim_clock_parse(cases[i].s, &cfg, err,
                                      sizeof(err)) == -EINVAL, cases[i].s);
        VU_ASSERT_MSG(cfg.mode == SIM_CLOCK_EXTERNAL && cfg.num == 42 &&
                          cfg.den == 43, cases[i].s);
        VU_ASSERT_MSG(strstr(err, cases[i].why) != NULL, cases[i].s);
        snprintf(quoted, sizeof(quoted), "'%s'", cases[i].s);
        VU_ASSERT_MSG(strstr(err, quoted) != NULL, cases[i].s);
    }
}

static void test_new_rejects_bad_cfg(void)
{
    static const struct sim_clock_cfg bad[] = {
        { SIM_CLOCK_PACED, 0, 1 },
        { SIM_CLOCK_PACED, 1, 0 },
        { (enum sim_clock_mode)42, 1, 1 },
    };
    struct sim_clock_cfg ok = { SIM_CLOCK_AFAP, 0, 0 };
    struct sim_clock *clk;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        CU_ASSERT_PTR_NULL(sim_clock_new(&bad[i], NULL));
    }
    clk = sim_clock_new(&ok, NULL);     /* the real monotonic clock */
    CU_ASSERT_PTR_NOT_NULL_FATAL(clk);
    CU_ASSERT_EQUAL(sim_clock_mode(clk), SIM_CLOCK_AFAP);
    sim_clock_free(clk);
    sim_clock_free(NULL);
}

/* ---- AFAP ---- */

static void test_afap_runs_everything(void)
{
    uint64_t wait = 0;
    struct fix f;

    fix_init(&f, "afap", 0);
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    CU_ASSERT_EQUAL(wait, SIM_CLOCK_IDLE);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[i], sim_s(100 * i), 0), 0);
    }
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 2, &wait), 2);
    CU_ASSERT_EQUAL(wait, 0);           /* more is due at once */
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 3);
    CU_ASSERT_EQUAL(wait, SIM_CLOCK_IDLE);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), sim_s(400));
    CU_ASSERT_EQUAL(f.nran, 5);
    /* AFAP never looks at the host clock. */
    CU_ASSERT_EQUAL(f.host.reads, 0);
    fix_fini(&f);
}

/* ---- PACED ---- */

/*
 * For each ratio, one event at simulated time @t (from 0): it must not run
 * one host nanosecond before @due and must run at @due exactly. The fake
 * clock is exact, so the tolerance is 0 ns.
 */
static void test_paced_due_times(void)
{
    static const struct {
        const char *mode;
        sim_time_t t;
        uint64_t due;           /* host ns after the origin */
    } cases[] = {
        { "realtime", 1000 * SIM_NS, 1000 },
        { "realtime:0.25", 1000 * SIM_NS, 4000 },
        { "realtime:3", 1000 * SIM_NS, 334 },     /* 333.3 rounds up */
        { "realtime:1000", SIM_MS, 1000 },
        { "realtime:0.001", SIM_NS, 1000 },
        { "realtime", 1, 1 },                     /* 1 ps needs 1 ns */
        { "realtime:0.5", 3 * SIM_S, 6000000000ull },
    };
    const uint64_t origin = 5000000000ull;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const char *name = cases[i].mode;
        uint64_t wait = 0;
        struct fix f;

        fix_init(&f, cases[i].mode, origin);
        CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], cases[i].t, 0), 0);
        VU_ASSERT_MSG(sim_clock_step(f.clk, f.cal, 0, &wait) == 0, name);
        VU_ASSERT_MSG(wait == cases[i].due, name);
        f.host.now = origin + cases[i].due - 1;
        VU_ASSERT_MSG(sim_clock_step(f.clk, f.cal, 0, &wait) == 0, name);
        VU_ASSERT_MSG(wait == 1, name);
        f.host.now = origin + cases[i].due;
        VU_ASSERT_MSG(sim_clock_step(f.clk, f.cal, 0, &wait) == 1, name);
        VU_ASSERT_MSG(wait == SIM_CLOCK_IDLE, name);
        VU_ASSERT_MSG(f.nran == 1 && f.ran_at[0] == cases[i].t, name);
        fix_fini(&f);
    }
}

static void test_paced_sequence(void)
{
    uint64_t wait = 0;
    struct fix f;

    fix_init(&f, "realtime", 1000000);
    /* The origin is the first step, not the clock's creation. */
    f.host.now = 2000000;
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], sim_us(1), 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], sim_us(2), 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[2], sim_us(5), 0), 0);
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    CU_ASSERT_EQUAL(wait, 1000);
    f.host.now += 1000;
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 1);
    CU_ASSERT_EQUAL(wait, 1000);
    CU_ASSERT_EQUAL(f.host_at[0], 2001000);
    /* A late wake-up runs everything that became due, in order. */
    f.host.now += 4500;
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 2);
    CU_ASSERT_EQUAL(wait, SIM_CLOCK_IDLE);
    CU_ASSERT_EQUAL(f.ran_at[1], sim_us(2));
    CU_ASSERT_EQUAL(f.ran_at[2], sim_us(5));
    /* Simulated time follows the host once nothing is due. */
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), sim_ns(5500));
    f.host.now += 250;
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), sim_ns(5750));
    /* Work that arrives now is stamped with the paced time. */
    CU_ASSERT_EQUAL(sim_cal_after(f.cal, &f.ev[3], sim_ns(100), 0), 0);
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    CU_ASSERT_EQUAL(wait, 100);
    fix_fini(&f);
}

static void test_paced_origin_from_calendar(void)
{
    uint64_t wait = 0;
    struct fix f;

    fix_init(&f, "realtime:2", 777);
    CU_ASSERT_EQUAL(sim_cal_advance(f.cal, sim_ms(1)), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], sim_ms(1), 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], sim_ms(1) + sim_us(10), 0),
                    0);
    /* The event at the origin is due at once; the next 10 us later at
     * ratio 2 is 5 us of host time away. */
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 1);
    CU_ASSERT_EQUAL(wait, 5000);
    f.host.now += 5000;
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 1);
    CU_ASSERT_EQUAL(f.ran_at[1], sim_ms(1) + sim_us(10));
    fix_fini(&f);
}

static void test_paced_budget(void)
{
    uint64_t wait = 0;
    struct fix f;

    fix_init(&f, "realtime", 0);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[i], sim_ns(10), 0), 0);
    }
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[3], sim_ns(50), 0), 0);
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    f.host.now = 20;
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 2, &wait), 2);
    CU_ASSERT_EQUAL(wait, 0);
    /* Stopped by the budget: time stays at the last event run. */
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), sim_ns(10));
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 2, &wait), 1);
    CU_ASSERT_EQUAL(wait, 30);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), sim_ns(20));
    fix_fini(&f);
}

/* Extreme ratios saturate instead of wrapping around. */
static void test_paced_extreme_ratios(void)
{
    uint64_t wait = 0;
    struct fix f;

    /* Fastest: a second of host time is far past SIM_TIME_MAX. */
    fix_init(&f, "realtime:18446744073709551615", 100);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], SIM_TIME_MAX - 1, 0), 0);
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    CU_ASSERT_EQUAL(wait, 1);
    f.host.now += 1000000000;
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 1);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), SIM_TIME_MAX);
    fix_fini(&f);
    /* Slowest: one simulated second is 10^17 host seconds away, past
     * what a uint64_t of nanoseconds holds, yet not "idle". */
    fix_init(&f, "realtime:0.00000000000000001", 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], SIM_S, 0), 0);
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    CU_ASSERT_EQUAL(wait, SIM_CLOCK_IDLE - 1);
    f.host.now = UINT64_MAX;
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    CU_ASSERT_EQUAL(f.nran, 0);
    fix_fini(&f);
}

/* ---- EXTERNAL ---- */

static void test_external_grants(void)
{
    uint64_t wait = 0;
    struct fix f;

    fix_init(&f, "external", 0);
    CU_ASSERT_EQUAL(sim_clock_mode(f.clk), SIM_CLOCK_EXTERNAL);
    CU_ASSERT_EQUAL(sim_clock_granted(f.clk), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[0], 0, 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[1], sim_ns(10), 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[2], sim_ns(20), 0), 0);
    CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[3], sim_ns(30), 0), 0);
    /* Time 0 needs no grant; the rest waits for one. */
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 1);
    CU_ASSERT_EQUAL(wait, SIM_CLOCK_IDLE);
    sim_clock_grant(f.clk, sim_ns(15));
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 1);
    CU_ASSERT_EQUAL(wait, SIM_CLOCK_IDLE);
    CU_ASSERT_EQUAL(sim_cal_now(f.cal), sim_ns(10));
    /* A grant never moves back. */
    sim_clock_grant(f.clk, sim_ns(5));
    CU_ASSERT_EQUAL(sim_clock_granted(f.clk), sim_ns(15));
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 0, &wait), 0);
    /* The grant is inclusive; the budget still applies. */
    sim_clock_grant(f.clk, sim_ns(30));
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 1, &wait), 1);
    CU_ASSERT_EQUAL(wait, 0);
    CU_ASSERT_EQUAL(sim_clock_step(f.clk, f.cal, 1, &wait), 1);
    CU_ASSERT_EQUAL(wait, SIM_CLOCK_IDLE);
    CU_ASSERT_EQUAL(f.nran, 4);
    CU_ASSERT_EQUAL(f.host.reads, 0);
    fix_fini(&f);
}

/* Events that keep re-arming; the controller below grants in quanta. */
static void rearm_cb(struct sim_cal *cal, struct sim_event *ev)
{
    struct fix *f = ev->arg;

    note_cb(cal, ev);
    if (f->nran < 40) {
        CU_ASSERT_EQUAL(sim_cal_after(cal, ev, sim_ns(3 + f->nran % 5), 0),
                        0);
    }
}

static void test_external_controller(void)
{
    const sim_time_t quantum = sim_ns(4);
    int grants = 0, steps = 0;
    uint64_t wait = 0;
    struct fix f;

    fix_init(&f, "external", 0);
    for (int i = 0; i < 2; i++) {
        sim_event_init(&f.ev[i], rearm_cb, &f);
        CU_ASSERT_EQUAL(sim_cal_at(f.cal, &f.ev[i], sim_ns(1 + i), 0), 0);
    }
    /* The controller grants one quantum each time the back-end idles. */
    while (sim_cal_pending(f.cal) > 0 && steps < 1000) {
        sim_time_t before = sim_clock_granted(f.clk);
        int already = f.nran;

        sim_clock_step(f.clk, f.cal, 3, &wait);
        steps++;
        for (int k = already; k < f.nran; k++) {
            CU_ASSERT_TRUE(f.ran_at[k] <= before);
        }
        if (wait == SIM_CLOCK_IDLE) {
            sim_time_t t;

            CU_ASSERT_TRUE(sim_cal_peek(f.cal, &t) != 0 || t > before);
            sim_clock_grant(f.clk, before + quantum);
            grants++;
        } else {
            CU_ASSERT_EQUAL(wait, 0);
        }
    }
    CU_ASSERT_EQUAL(f.nran, 41);
    CU_ASSERT_TRUE(grants > 10);
    for (int k = 1; k < f.nran; k++) {
        CU_ASSERT_TRUE(f.ran_at[k - 1] <= f.ran_at[k]);
    }
    fix_fini(&f);
}

CU_TestInfo clock_tests[] = {
    { "parse_good", test_parse_good },
    { "parse_bad", test_parse_bad },
    { "new_rejects_bad_cfg", test_new_rejects_bad_cfg },
    { "afap_runs_everything", test_afap_runs_everything },
    { "paced_due_times", test_paced_due_times },
    { "paced_sequence", test_paced_sequence },
    { "paced_origin_from_calendar", test_paced_origin_from_calendar },
    { "paced_budget", test_paced_budget },
    { "paced_extreme_ratios", test_paced_extreme_ratios },
    { "external_grants", test_external_grants },
    { "external_controller", test_external_controller },
    CU_TEST_INFO_NULL,
};
