/* SPDX-License-Identifier: MIT */
/* devices/rng/rng.c through a fake host: the byte stream, its determinism,
 * options and the exact rate model. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rng/rng.h"
#include "sim/rng.h"
#include "tests/cu_run.h"
#include "tests/unit/devices/fakehost.h"
#include "tests/unit/suites.h"

struct rfx {
    struct sim_cal *cal;
    struct dev *dev;
    struct fakehost *fh;
    char err[256];
    int rc;
};

static int rfx_init(struct rfx *f, const char *const *args)
{
    memset(f, 0, sizeof(*f));
    f->cal = sim_cal_new();
    CU_ASSERT_FATAL(f->cal != NULL);
    f->rc = fakehost_create_dev(&dev_rng_ops, f->cal, args, &f->dev, f->err,
                                sizeof(f->err));
    if (f->rc == 0) {
        f->fh = fakehost_new(f->dev);
        CU_ASSERT_FATAL(f->fh != NULL);
    }
    return f->rc;
}

/* rfx_init() of options the device must take. */
static void rfx_ok(struct rfx *f, const char *const *args)
{
    rfx_init(f, args);
    CU_ASSERT_FATAL(f->rc == 0);
}

static void rfx_fini(struct rfx *f)
{
    if (f->fh) {
        CU_ASSERT_EQUAL(fakehost_violations(f->fh), 0);
        fakehost_free(f->fh);
    }
    if (f->dev) {
        f->dev->ops->destroy(f->dev);
    }
    sim_cal_free(f->cal);
}

static struct fakehost_req *R(struct rfx *f, int id)
{
    struct fakehost_req *r = fakehost_get(f->fh, id);

    CU_ASSERT_FATAL(r != NULL);
    return r;
}

static int add(struct rfx *f, uint32_t wr_len)
{
    int id = fakehost_add(f->fh, 0, NULL, 0, wr_len);

    CU_ASSERT_FATAL(id >= 0);
    return id;
}

static void run(struct rfx *f)
{
    fakehost_kick(f->fh, 0);
    sim_cal_run_all(f->cal);
}

/* Sizes that cross word and 4 KiB chunk boundaries. */
static const uint32_t sizes[] = { 1, 7, 8, 9, 64, 4095, 4096, 4097, 10000,
                                  3 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The device's bytes for sizes[] under @args, concatenated into @out. */
static size_t stream_of(const char *const *args, uint8_t *out)
{
    struct rfx f;
    int ids[NSIZES];
    size_t n = 0;

    rfx_ok(&f, args);
    for (size_t i = 0; i < NSIZES; i++) {
        ids[i] = add(&f, sizes[i]);
    }
    run(&f);
    for (size_t i = 0; i < NSIZES; i++) {
        CU_ASSERT_EQUAL(R(&f, ids[i])->used_len, sizes[i]);
        memcpy(out + n, R(&f, ids[i])->wr, sizes[i]);
        n += sizes[i];
    }
    rfx_fini(&f);
    return n;
}

static size_t total_size(void)
{
    size_t n = 0;

    for (size_t i = 0; i < NSIZES; i++) {
        n += sizes[i];
    }
    return n;
}

/* Two instances, same seed: same bytes; and they are the documented
 * xoshiro256** stream, one vusim_rng_fill() per request. */
static void test_same_seed_same_bytes(void)
{
    const char *args[] = { "seed=42", NULL };
    size_t total = total_size();
    uint8_t *a = malloc(total), *b = malloc(total), *want = malloc(total);
    struct vusim_rng rng;
    size_t off = 0;

    CU_ASSERT_EQUAL(stream_of(args, a), total);
    CU_ASSERT_EQUAL(stream_of(args, b), total);
    CU_ASSERT_EQUAL(memcmp(a, b, total), 0);
    vusim_rng_seed(&rng, 42);
    for (size_t i = 0; i < NSIZES; i++) {
        vusim_rng_fill(&rng, want + off, sizes[i]);
        off += sizes[i];
    }
    CU_ASSERT_EQUAL(memcmp(a, want, total), 0);
    free(a);
    free(b);
    free(want);
}

/* The first word of seed 0, pinned so a change of generator is noticed. */
static void test_known_answer(void)
{
    const char *args[] = { NULL };
    struct vusim_rng rng;
    struct rfx f;
    uint64_t w;
    int id;

    vusim_rng_seed(&rng, 0);
    w = vusim_rng_next(&rng);
    rfx_ok(&f, args);
    id = add(&f, 8);
    run(&f);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(R(&f, id)->wr[i], (uint8_t)(w >> (8 * i)));
    }
    /* xoshiro256** 1.0 seeded by SplitMix64(0): a fixed value. */
    CU_ASSERT_EQUAL(w, 0x99ec5f36cb75f2b4ull);
    rfx_fini(&f);
}

static void test_seed_forms(void)
{
    const char *dflt[] = { NULL };
    const char *zero[] = { "seed=0", NULL };
    const char *hex[] = { "seed=0x10", NULL };
    const char *dec[] = { "seed=16", NULL };
    const char *other[] = { "seed=17", NULL };
    const char *max[] = { "seed=18446744073709551615", NULL };
    size_t total = total_size();
    uint8_t *a = malloc(total), *b = malloc(total);

    stream_of(dflt, a);
    stream_of(zero, b);
    CU_ASSERT_EQUAL(memcmp(a, b, total), 0);
    stream_of(hex, a);
    stream_of(dec, b);
    CU_ASSERT_EQUAL(memcmp(a, b, total), 0);
    stream_of(other, b);
    CU_ASSERT_NOT_EQUAL(memcmp(a, b, total), 0);
    stream_of(max, b);
    CU_ASSERT_NOT_EQUAL(memcmp(a, b, total), 0);
    free(a);
    free(b);
}

static void test_different_seed_different_bytes(void)
{
    const char *s1[] = { "seed=1", NULL };
    const char *s2[] = { "seed=2", NULL };
    size_t total = total_size(), same = 0;
    uint8_t *a = malloc(total), *b = malloc(total);

    stream_of(s1, a);
    stream_of(s2, b);
    for (size_t i = 0; i < total; i++) {
        same += a[i] == b[i];
    }
    /* About 1/256 of the bytes match by chance; far from all of them. */
    CU_ASSERT(same < total / 64);
    free(a);
    free(b);
}

static void check_times(const char *const *args, const uint32_t *lens,
                        const sim_time_t *want, size_t n)
{
    struct rfx f;
    int ids[8];

    rfx_ok(&f, args);
    for (size_t i = 0; i < n; i++) {
        ids[i] = add(&f, lens[i]);
    }
    fakehost_kick(f.fh, 0);
    CU_ASSERT_EQUAL(fakehost_ncompleted(f.fh), 0);
    sim_cal_run_all(f.cal);
    for (size_t i = 0; i < n; i++) {
        VU_ASSERT_MSG(R(&f, ids[i])->done_at == want[i], args[0]);
        VU_ASSERT_MSG(fakehost_completed_id(f.fh, (unsigned)i) == ids[i],
                      args[0]);
    }
    rfx_fini(&f);
}

static void test_rate_exact(void)
{
    /* 2^20 B/s: 4096 B = 1/256 s, 512 B = 1/2048 s, 0 B = nothing. */
    const char *mib[] = { "rate=1M", NULL };
    const uint32_t l1[] = { 4096, 512, 0, 512 };
    const sim_time_t w1[] = { 3906250000ull, 4394531250ull, 4394531250ull,
                              4882812500ull };
    /* 3 B/s: 1 B = 333333333333.33 ps, rounded up per request. */
    const char *slow[] = { "rate=3", NULL };
    const uint32_t l2[] = { 1, 1, 2 };
    const sim_time_t w2[] = { 333333333334ull, 666666666668ull,
                              1333333333335ull };
    /* max-request caps the bytes, and so the time. */
    const char *cap[] = { "rate=1M", "max-request=512", NULL };
    const uint32_t l3[] = { 4096, 100 };
    const sim_time_t w3[] = { 488281250ull, 488281250ull + 95367432ull };

    check_times(mib, l1, w1, 4);
    check_times(slow, l2, w2, 3);
    check_times(cap, l3, w3, 2);
}

static void test_rate_unlimited(void)
{
    const char *args[] = { NULL };
    struct rfx f;
    int a, b;

    rfx_ok(&f, args);
    a = add(&f, 100000);
    fakehost_kick(f.fh, 0);
    CU_ASSERT_EQUAL(fakehost_ncompleted(f.fh), 0);
    sim_cal_run_all(f.cal);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, 0);
    CU_ASSERT_EQUAL(R(&f, a)->used_len, 100000);
    sim_cal_run_until(f.cal, sim_ms(2));
    b = add(&f, 16);
    run(&f);
    CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_ms(2));
    rfx_fini(&f);
}

/* Idle device: a late request starts at once; a busy one queues. */
static void test_rate_arrivals(void)
{
    const char *args[] = { "rate=1000", NULL };     /* 1 B = 1 ms */
    struct rfx f;
    int a, b, c;

    rfx_ok(&f, args);
    a = add(&f, 5);
    fakehost_kick(f.fh, 0);
    sim_cal_run_until(f.cal, sim_ms(7));
    b = add(&f, 10);
    fakehost_kick(f.fh, 0);
    sim_cal_run_until(f.cal, sim_ms(8));
    c = add(&f, 1);
    run(&f);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, sim_ms(5));
    CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_ms(17));
    CU_ASSERT_EQUAL(R(&f, c)->done_at, sim_ms(18));
    rfx_fini(&f);
}

static void test_max_request(void)
{
    const char *args[] = { "max-request=16", NULL };
    struct rfx f;
    int a, b;

    rfx_ok(&f, args);
    a = add(&f, 100);
    b = add(&f, 5);
    run(&f);
    CU_ASSERT_EQUAL(R(&f, a)->used_len, 16);
    CU_ASSERT_EQUAL(R(&f, b)->used_len, 5);
    for (int i = 16; i < 100; i++) {
        if (R(&f, a)->wr[i] != 0) {
            CU_FAIL("wrote past max-request");
            break;
        }
    }
    rfx_fini(&f);
}

static void test_empty_and_failed_requests(void)
{
    const char *args[] = { "rate=1M", NULL };
    struct rfx f;
    int a, b, c;

    rfx_ok(&f, args);
    a = add(&f, 0);
    b = add(&f, 64);
    c = add(&f, 8);
    fakehost_fail_io(f.fh, b);
    run(&f);
    CU_ASSERT_TRUE(R(&f, a)->completed);
    CU_ASSERT_EQUAL(R(&f, a)->used_len, 0);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, 0);
    CU_ASSERT_TRUE(R(&f, b)->completed);
    CU_ASSERT_EQUAL(R(&f, b)->used_len, 0);
    CU_ASSERT_EQUAL(R(&f, c)->used_len, 8);
    rfx_fini(&f);
}

/* A cancelled request never completes and keeps the device busy. */
static void test_cancel(void)
{
    const char *args[] = { "rate=1000", NULL };
    struct rfx f;
    int a, b;

    rfx_ok(&f, args);
    a = add(&f, 4);
    b = add(&f, 1);
    fakehost_kick(f.fh, 0);
    CU_ASSERT_EQUAL(fakehost_cancel(f.fh, a), 0);
    sim_cal_run_all(f.cal);
    CU_ASSERT_FALSE(R(&f, a)->completed);
    CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_ms(5));
    CU_ASSERT_EQUAL(fakehost_inflight(f.fh), 0);
    rfx_fini(&f);
}

/* Reset is the state after create: same stream again, device idle. */
static void test_reset(void)
{
    const char *args[] = { "seed=9", "rate=1000", NULL };
    struct rfx f;
    int a, b;

    rfx_ok(&f, args);
    a = add(&f, 32);
    run(&f);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, sim_ms(32));
    b = add(&f, 32);
    fakehost_kick(f.fh, 0);
    fakehost_cancel(f.fh, b);
    f.dev->ops->reset(f.dev);
    b = add(&f, 32);
    run(&f);
    CU_ASSERT_EQUAL(memcmp(R(&f, a)->wr, R(&f, b)->wr, 32), 0);
    CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_ms(64));
    rfx_fini(&f);
}

static const struct {
    const char *args[3];
    const char *needle[2];
} bad_opts[] = {
    { { "seed=abc" }, { "--seed=abc", "integer" } },
    { { "seed=-1" }, { "--seed=-1", "integer" } },
    { { "seed=18446744073709551616" }, { "--seed=18446744073709551616" } },
    { { "seed=" }, { "--seed", "needs a value" } },
    { { "rate=1X" }, { "--rate=1X", "byte count" } },
    { { "rate=fast" }, { "--rate=fast" } },
    { { "max-request=0" }, { "--max-request=0", "from 1 to 4294967295" } },
    { { "max-request=4G" }, { "--max-request=4G", "4294967295" } },
    { { "latency=1us" }, { "--latency", "unknown option" } },
    { { "seed=1", "seed=2" }, { "--seed", "more than once" } },
};

static void test_options_bad(void)
{
    for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
        struct rfx f;

        rfx_init(&f, bad_opts[i].args);
        VU_ASSERT_MSG(f.rc == -EINVAL, bad_opts[i].args[0]);
        VU_ASSERT_MSG(f.dev == NULL, bad_opts[i].args[0]);
        for (int k = 0; k < 2 && bad_opts[i].needle[k]; k++) {
            VU_ASSERT_MSG(strstr(f.err, bad_opts[i].needle[k]) != NULL,
                          bad_opts[i].args[0]);
        }
        rfx_fini(&f);
    }
}

static void test_shape(void)
{
    const char *args[] = { "rate=4K", "max-request=4095", NULL };
    struct rfx f;

    rfx_ok(&f, args);
    CU_ASSERT_EQUAL(f.dev->num_queues, 1);
    CU_ASSERT_EQUAL(f.dev->config_size, 0);
    CU_ASSERT_EQUAL(f.dev->features, 0);
    CU_ASSERT_EQUAL(f.dev->queue_size_max, 1024);
    CU_ASSERT_PTR_NULL(f.dev->ops->get_config);
    CU_ASSERT_PTR_NULL(f.dev->ops->set_config);
    rfx_fini(&f);
}

static void test_stats_json(void)
{
    const char *args[] = { "seed=5", NULL };
    static const char *const want[] = {
        "\"seed\": 5,", "\"requests\": 2,", "\"bytes\": 30,",
        "\"completed\": 2,", NULL,
    };
    char buf[512];
    struct rfx f;

    rfx_ok(&f, args);
    add(&f, 10);
    add(&f, 20);
    run(&f);
    CU_ASSERT_PTR_NULL(fakehost_stats_missing(f.dev, want));
    CU_ASSERT(f.dev->ops->stats_json(f.dev, buf, sizeof(buf)) > 0);
    CU_ASSERT_PTR_NULL(strstr(buf, "fault"));
    rfx_fini(&f);
}

/* --stats shows the rules' state, as blk's does: the "the current
 * state is visible in --stats" for every device with rules. */
static void test_stats_json_faults(void)
{
    const char *args[] = { "seed=5", "fault=nth=1,do=short,bytes=5,"
                           "then=starved", "fault=state=start,do=error",
                           NULL };
    char buf[512];
    struct rfx f;

    rfx_ok(&f, args);
    add(&f, 10);
    add(&f, 20);
    run(&f);
    CU_ASSERT(f.dev->ops->stats_json(f.dev, buf, sizeof(buf)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"fault_rules\": 2, "
                                  "\"fault_firings\": 1, "
                                  "\"fault_state\": \"starved\""));
    rfx_fini(&f);
}


/* Fault rules: short fills fewer bytes, error none, delay completes later;
 * the stream goes on from where the short request left it. */
static void test_faults(void)
{
    const char *args[] = { "rate=1M", "fault=nth=1,do=short,bytes=5",
                           "fault=nth=2,do=error",
                           "fault=nth=3,do=delay,delay=1ms", NULL };
    const char *plain[] = { "rate=1M", NULL };
    const char *bad[] = { "fault=do=torn,sectors=1", NULL };
    struct rfx f, g;
    int a, b, c, d, e;

    rfx_ok(&f, args);
    a = add(&f, 64);
    b = add(&f, 64);
    c = add(&f, 64);
    run(&f);
    CU_ASSERT_EQUAL(R(&f, a)->used_len, 5);
    CU_ASSERT_EQUAL(R(&f, b)->used_len, 0);
    CU_ASSERT_EQUAL(R(&f, c)->used_len, 64);
    CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 2), c);
    /* 5 bytes at 2^20 B/s round up; 64 bytes then; and the delay */
    CU_ASSERT(R(&f, c)->done_at > sim_ms(1));
    rfx_ok(&g, plain);
    d = add(&g, 8);
    e = add(&g, 64);
    run(&g);
    CU_ASSERT(memcmp(R(&f, a)->wr, R(&g, d)->wr, 5) == 0);
    /* a took one word, b none: c starts at the stream's second word */
    CU_ASSERT(memcmp(R(&f, c)->wr, R(&g, e)->wr, 64) == 0);
    rfx_fini(&g);
    rfx_fini(&f);
    rfx_init(&f, bad);
    CU_ASSERT_EQUAL(f.rc, -EINVAL);
    CU_ASSERT(strstr(f.err, "do=torn: not an action of this device; "
                     "expected short, delay, error") != NULL);
    rfx_fini(&f);
}

CU_TestInfo rngdev_tests[] = {
    { "faults", test_faults },
    { "stats_json with rules", test_stats_json_faults },
    { "same_seed_same_bytes", test_same_seed_same_bytes },
    { "known_answer", test_known_answer },
    { "seed_forms", test_seed_forms },
    { "different_seed_different_bytes", test_different_seed_different_bytes },
    { "rate_exact", test_rate_exact },
    { "rate_unlimited", test_rate_unlimited },
    { "rate_arrivals", test_rate_arrivals },
    { "max_request", test_max_request },
    { "empty_and_failed_requests", test_empty_and_failed_requests },
    { "cancel", test_cancel },
    { "reset", test_reset },
    { "options_bad", test_options_bad },
    { "shape", test_shape },
    { "stats_json", test_stats_json },
    CU_TEST_INFO_NULL,
};
