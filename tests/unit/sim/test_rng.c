/* SPDX-License-Identifier: MIT */
/* sim/rng: known answers, bounds and determinism. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sim/rng.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

/*
 * Expected streams computed independently (a Python transcription of the
 * public SplitMix64 and xoshiro256** 1.0 definitions), not from this code.
 * SplitMix64's first output for seed 0 is 0xe220a8397b1dcdaf, which checks
 * the seeding half on its own.
 */
static const struct {
    uint64_t seed;
    uint64_t out[5];
} kat[] = {
    { 0, { 0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull,
           0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull,
           0xbba5ad4a1f842e59ull } },
    { 42, { 0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
            0xae17533239e499a1ull, 0xecb8ad4703b360a1ull,
            0xfde6dc7fe2ec5e64ull } },
};

static void test_known_answers(void)
{
    for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        struct vusim_rng r;
        char name[64];

        vusim_rng_seed(&r, kat[i].seed);
        for (int k = 0; k < 5; k++) {
            snprintf(name, sizeof(name), "seed %llu output %d",
                     (unsigned long long)kat[i].seed, k);
            VU_ASSERT_MSG(vusim_rng_next(&r) == kat[i].out[k], name);
        }
    }
}

static void test_seeding_state(void)
{
    struct vusim_rng r;

    /* State word 0 is SplitMix64's first output. */
    vusim_rng_seed(&r, 0);
    CU_ASSERT_EQUAL(r.s[0], 0xe220a8397b1dcdafull);
}

static void test_below_bounds(void)
{
    static const uint64_t bounds[] = {
        1, 2, 3, 7, 10, 1000, (1ull << 63) + 1, UINT64_MAX,
    };
    struct vusim_rng r;

    vusim_rng_seed(&r, 1);
    CU_ASSERT_EQUAL(vusim_rng_below(&r, 0), 0);
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        for (int k = 0; k < 2000; k++) {
            CU_ASSERT_TRUE(vusim_rng_below(&r, bounds[i]) < bounds[i]);
        }
    }
}

static void test_below_covers_range(void)
{
    unsigned hits[6] = { 0 };
    struct vusim_rng r;

    vusim_rng_seed(&r, 5);
    for (int k = 0; k < 6000; k++) {
        hits[vusim_rng_below(&r, 6)]++;
    }
    /* Each value expects 1000; 800 is > 6 sigma below. */
    for (int v = 0; v < 6; v++) {
        CU_ASSERT_TRUE(hits[v] > 800 && hits[v] < 1200);
    }
}

static void test_fill_deterministic(void)
{
    static const unsigned char want[11] = {
        0x5a, 0x76, 0xf9, 0x4e, 0xf7, 0xfa, 0x58, 0xb3, 0xd2, 0x2c, 0x48,
    };
    unsigned char a[11], b[11];
    struct vusim_rng r1, r2;

    vusim_rng_seed(&r1, 7);
    vusim_rng_seed(&r2, 7);
    vusim_rng_fill(&r1, a, sizeof(a));
    vusim_rng_fill(&r2, b, sizeof(b));
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
    /* Little-endian words; the 3-byte tail is the second word's low end. */
    CU_ASSERT_EQUAL(memcmp(a, want, sizeof(want)), 0);
    /* The tail consumed a whole word: the next output is the third. */
    vusim_rng_seed(&r2, 7);
    vusim_rng_next(&r2);
    vusim_rng_next(&r2);
    CU_ASSERT_EQUAL(vusim_rng_next(&r1), vusim_rng_next(&r2));
}

static void test_fill_matches_next(void)
{
    unsigned char buf[24];
    struct vusim_rng r1, r2;

    vusim_rng_seed(&r1, 99);
    vusim_rng_seed(&r2, 99);
    vusim_rng_fill(&r1, buf, sizeof(buf));
    for (int w = 0; w < 3; w++) {
        uint64_t x = vusim_rng_next(&r2);

        for (int i = 0; i < 8; i++) {
            CU_ASSERT_EQUAL(buf[w * 8 + i], (unsigned char)(x >> (8 * i)));
        }
    }
    vusim_rng_fill(&r1, buf, 0);        /* no bytes, no word consumed */
    CU_ASSERT_EQUAL(vusim_rng_next(&r1), vusim_rng_next(&r2));
}

static void test_seeds_differ(void)
{
    struct vusim_rng a, b;

    vusim_rng_seed(&a, 1);
    vusim_rng_seed(&b, 2);
    CU_ASSERT_NOT_EQUAL(vusim_rng_next(&a), vusim_rng_next(&b));
}

CU_TestInfo rng_tests[] = {
    { "known_answers", test_known_answers },
    { "seeding_state", test_seeding_state },
    { "below_bounds", test_below_bounds },
    { "below_covers_range", test_below_covers_range },
    { "fill_deterministic", test_fill_deterministic },
    { "fill_matches_next", test_fill_matches_next },
    { "seeds_differ", test_seeds_differ },
    CU_TEST_INFO_NULL,
};
