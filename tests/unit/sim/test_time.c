/* SPDX-License-Identifier: MIT */
/* sim/time: units, checked arithmetic, rates, parsing and formatting. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sim/rng.h"
#include "sim/time.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UNTOUCHED ((sim_time_t)0x5a5a5a5a5a5a5a5aull)

static void test_units(void)
{
    CU_ASSERT_EQUAL(SIM_PS, 1);
    CU_ASSERT_EQUAL(sim_ns(1), 1000);
    CU_ASSERT_EQUAL(sim_us(1), 1000000);
    CU_ASSERT_EQUAL(sim_ms(3), 3000000000ull);
    CU_ASSERT_EQUAL(sim_s(2), 2000000000000ull);
    CU_ASSERT_EQUAL(sim_s(1), sim_ms(1000));
    CU_ASSERT_EQUAL(sim_ms(1), sim_us(1000));
    CU_ASSERT_EQUAL(sim_us(1), sim_ns(1000));
}

static void test_add_overflow(void)
{
    static const struct {
        const char *name;
        sim_time_t a, b;
        int rc;
        sim_time_t want;
    } cases[] = {
        { "small", 1, 2, 0, 3 },
        { "zero", 0, 0, 0, 0 },
        { "to max", SIM_TIME_MAX - 5, 5, 0, SIM_TIME_MAX },
        { "max plus zero", SIM_TIME_MAX, 0, 0, SIM_TIME_MAX },
        { "one past max", SIM_TIME_MAX - 5, 6, -ERANGE, UNTOUCHED },
        { "max plus max", SIM_TIME_MAX, SIM_TIME_MAX, -ERANGE, UNTOUCHED },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        sim_time_t out = UNTOUCHED;

        VU_ASSERT_MSG(sim_time_add(cases[i].a, cases[i].b, &out) ==
                          cases[i].rc, cases[i].name);
        VU_ASSERT_MSG(out == cases[i].want, cases[i].name);
    }
}

static void test_mul_overflow(void)
{
    static const struct {
        const char *name;
        sim_time_t a;
        uint64_t n;
        int rc;
        sim_time_t want;
    } cases[] = {
        { "small", 7, 6, 0, 42 },
        { "by zero", SIM_TIME_MAX, 0, 0, 0 },
        { "zero by max", 0, UINT64_MAX, 0, 0 },
        { "half twice", SIM_TIME_MAX / 2, 2, 0, SIM_TIME_MAX - 1 },
        { "just over", SIM_TIME_MAX / 2 + 1, 2, -ERANGE, UNTOUCHED },
        { "seconds", SIM_S, 18446744, 0, 18446744ull * SIM_S },
        { "seconds over", SIM_S, 18446745, -ERANGE, UNTOUCHED },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        sim_time_t out = UNTOUCHED;

        VU_ASSERT_MSG(sim_time_mul(cases[i].a, cases[i].n, &out) ==
                          cases[i].rc, cases[i].name);
        VU_ASSERT_MSG(out == cases[i].want, cases[i].name);
    }
}

static void test_for_bytes(void)
{
    static const struct {
        const char *name;
        uint64_t bytes, rate;
        int rc;
        sim_time_t want;
    } cases[] = {
        { "one byte per s", 1, 1, 0, SIM_S },
        { "unlimited", 4096, 0, 0, 0 },
        { "nothing", 0, 1000, 0, 0 },
        { "rounds up", 1, 3, 0, 333333333334ull },
        { "exact third", 3, 3, 0, SIM_S },
        { "1 GB/s", 1000, 1000000000, 0, SIM_US },
        { "4 KiB at 1 GiB/s", 4096, 1ull << 30, 0, 3814698ull },
        { "tiny at huge rate", 1, UINT64_MAX, 0, 1 },
        { "largest that fits", 18446744, 1, 0, 18446744ull * SIM_S },
        { "too long", 18446745, 1, -ERANGE, UNTOUCHED },
        { "max bytes", UINT64_MAX, 1, -ERANGE, UNTOUCHED },
        /* 2^64-1 bytes at 10^12 B/s is exactly 2^64-1 ps: no 64-bit
         * intermediate could hold bytes * 10^12. */
        { "max exact", UINT64_MAX, 1000000000000ull, 0, SIM_TIME_MAX },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        sim_time_t out = UNTOUCHED;

        VU_ASSERT_MSG(sim_time_for_bytes(cases[i].bytes, cases[i].rate,
                                         &out) == cases[i].rc,
                      cases[i].name);
        VU_ASSERT_MSG(out == cases[i].want, cases[i].name);
    }
}

static void test_parse_good(void)
{
    static const struct {
        const char *s;
        sim_time_t want;
    } cases[] = {
        { "250ns", 250 * SIM_NS },
        { "1.5ms", 1500 * SIM_US },
        { "0", 0 },
        { "0.0", 0 },
        { "0s", 0 },
        { "2s", 2 * SIM_S },
        { "0.000001s", SIM_US },
        { "1ps", 1 },
        { "0.001ns", 1 },
        { "1.000ps", 1 },
        { "007us", 7 * SIM_US },
        { "12.345678us", 12345678 },
        { "18446744073709551615ps", SIM_TIME_MAX },
        { "18446744.073709551615s", SIM_TIME_MAX },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        sim_time_t out = UNTOUCHED;
        char err[128] = "";

        VU_ASSERT_MSG(sim_time_parse(cases[i].s, &out, err,
                                     sizeof(err)) == 0, cases[i].s);
        VU_ASSERT_MSG(out == cases[i].want, cases[i].s);
        VU_ASSERT_MSG(err[0] == '\0', cases[i].s);
    }
}

static void test_parse_bad(void)
{
    static const struct {
        const char *s;
        int rc;
        const char *why;      /* must appear in the message */
    } cases[] = {
        { "", -EINVAL, "expected a number" },
        { "ms", -EINVAL, "expected a number" },
        { ".", -EINVAL, "expected a number" },
        { "1.5", -EINVAL, "missing unit" },
        { "7", -EINVAL, "missing unit" },
        { "1.5ps", -EINVAL, "finer than 1ps" },
        { "0.0001ns", -EINVAL, "finer than 1ps" },
        { "abc", -EINVAL, "expected a number" },
        { "1e3ns", -EINVAL, "unknown unit" },
        { "-1ns", -EINVAL, "expected a number" },
        { "99999999999999999999s", -ERANGE, "too large" },
        { "18446744073709551616ps", -ERANGE, "too large" },
        { "18446745s", -ERANGE, "too large" },
        { "1.2.3ms", -EINVAL, "unknown unit" },
        { "10nsx", -EINVAL, "unknown unit" },
        { "10 ns", -EINVAL, "unknown unit" },
        { "5m", -EINVAL, "unknown unit" },
        { "5NS", -EINVAL, "unknown unit" },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        sim_time_t out = UNTOUCHED;
        char err[128] = "";

        VU_ASSERT_MSG(sim_time_parse(cases[i].s, &out, err,
                                     sizeof(err)) == cases[i].rc,
                      cases[i].s);
        VU_ASSERT_MSG(out == UNTOUCHED, cases[i].s);
        VU_ASSERT_MSG(strstr(err, cases[i].why) != NULL, cases[i].s);
        /* The message quotes the input so the user sees what was wrong. */
        VU_ASSERT_MSG(strncmp(err, "bad duration '", 14) == 0, cases[i].s);
    }
    /* A NULL error buffer is allowed. */
    sim_time_t out;
    CU_ASSERT_EQUAL(sim_time_parse("x", &out, NULL, 0), -EINVAL);
}

static void test_fmt(void)
{
    static const struct {
        sim_time_t t;
        const char *want;
    } cases[] = {
        { 0, "0s" },
        { 1, "1ps" },
        { 999, "999ps" },
        { SIM_NS, "1ns" },
        { 1001, "1.001ns" },
        { 250 * SIM_NS, "250ns" },
        { 1500 * SIM_US, "1.5ms" },
        { 2 * SIM_S, "2s" },
        { SIM_S + 1, "1.000000000001s" },
        { SIM_TIME_MAX, "18446744.073709551615s" },
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[32];

        VU_ASSERT_MSG(strcmp(sim_time_fmt(cases[i].t, buf, sizeof(buf)),
                             cases[i].want) == 0, cases[i].want);
    }
}

/* Whatever fmt prints, parse reads back to the same time. */
static void test_fmt_round_trip(void)
{
    const uint64_t seed = 20240601;
    struct vusim_rng r;

    vusim_rng_seed(&r, seed);
    for (int i = 0; i < 20000; i++) {
        /* Mix magnitudes so every unit and fraction length shows up. */
        sim_time_t t = vusim_rng_next(&r) >> vusim_rng_below(&r, 64);
        sim_time_t back = UNTOUCHED;
        char buf[32], err[128];

        if (i % 3 == 0) {
            t -= t % SIM_NS;
        }
        sim_time_fmt(t, buf, sizeof(buf));
        if (sim_time_parse(buf, &back, err, sizeof(err)) != 0 || back != t) {
            printf("\nround trip failed: seed %llu t=%llu '%s' %s\n",
                   (unsigned long long)seed, (unsigned long long)t, buf,
                   err);
            CU_FAIL("fmt/parse round trip");
            return;
        }
    }
}

CU_TestInfo time_tests[] = {
    { "units", test_units },
    { "add_overflow", test_add_overflow },
    { "mul_overflow", test_mul_overflow },
    { "for_bytes", test_for_bytes },
    { "parse_good", test_parse_good },
    { "parse_bad", test_parse_bad },
    { "fmt", test_fmt },
    { "fmt_round_trip", test_fmt_round_trip },
    CU_TEST_INFO_NULL,
};
