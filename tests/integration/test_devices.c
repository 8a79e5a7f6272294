/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk and virtio-rng through the reference front-end, over a real
 * socket and memfd memory, in the suite's notification mode: every request
 * type, the error statuses, the timing model in simulated time, and the
 * rng's determinism across two runs.
 *
 * With VUSIM_ITEST_BLK_PROGRAM=PROG the blk cases run against that program
 * instead of the in-tree model: an out-of-tree model built against the
 * installed vusim (examples/ramdisk; make check sets it in
 * tests/examples/ramdisk.sh), started as PROG --socket-path=PATH
 * --size=SIZE. What depends on the in-tree model's own options (read-only,
 * its timing) is checked only with it; requests that need a feature are
 * checked when the device offers it.
 */
#define _GNU_SOURCE
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/blk/blk.h"
#include "devices/rng/rng.h"
#include "sim/rng.h"
#include "tests/integration/itest.h"

/* A device from the registry's ops with @opts, served by a harness. */
struct dtest {
    struct harness h;
    struct dev *dev;
    struct vufe *fe;
    pid_t pid;                  /* the blk program's, or 0 */
    char dir[64], sock[96];
};

/* The blk program under test (VUSIM_ITEST_BLK_PROGRAM), or NULL. */
static const char *blk_program(const struct dev_ops *ops)
{
    const char *p = getenv("VUSIM_ITEST_BLK_PROGRAM");

    return ops == &dev_blk_ops && p && p[0] ? p : NULL;
}

/* Start PROG --socket-path=... --size=... and wait until it listens. */
static void dtest_spawn(struct dtest *t, const char *prog,
                        const struct dev_opt *opts, size_t n)
{
    const struct dev_opt *size = dev_opt_find(opts, n, "size");
    char sockopt[128], sizeopt[64];
    struct timespec ts = { 0, 20 * 1000000L };

    snprintf(t->dir, sizeof(t->dir), "/tmp/vusim-itest-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(t->dir) != NULL);
    snprintf(t->sock, sizeof(t->sock), "%s/blk.sock", t->dir);
    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", t->sock);
    snprintf(sizeopt, sizeof(sizeopt), "--size=%s",
             size ? size->value : "1M");
    t->pid = fork();
    CU_ASSERT_FATAL(t->pid >= 0);
    if (t->pid == 0) {
        char *argv[] = { (char *)prog, sockopt, sizeopt, NULL };

        prctl(PR_SET_PDEATHSIG, SIGKILL);     /* never outlive the test */
        execv(prog, argv);
        _exit(127);
    }
    /* Ready once the socket is there: it binds before it serves. A
     * loaded machine may take seconds to start it. */
    for (int i = 0; i < 1500 && access(t->sock, F_OK) != 0; i++) {
        nanosleep(&ts, NULL);
    }
    CU_ASSERT_EQUAL_FATAL(access(t->sock, F_OK), 0);
}

static void dtest_start(struct dtest *t, const struct dev_ops *ops,
                        const struct dev_opt *opts, size_t n)
{
    struct vu_backend_cfg cfg = { .inband = VU_INBAND_AUTO, .conn_id = 1 };
    struct vufe_cfg fc;
    char err[256] = "";
    int e = 0;

    memset(t, 0, sizeof(*t));
    if (blk_program(ops)) {
        dtest_spawn(t, blk_program(ops), opts, n);
    } else {
        t->h.loop = harness_loop_new();
        CU_ASSERT_FATAL(t->h.loop != NULL);
        CU_ASSERT_EQUAL_FATAL(ops->create(vu_loop_cal(t->h.loop), opts, n,
                                          &t->dev, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL_FATAL(harness_start(&t->h, t->dev, &cfg, 1), 0);
    }
    vufe_cfg_init(&fc);
    fc.path = t->pid ? t->sock : t->h.path;
    fc.notify = g_itest_mode;
    fc.event_idx = false;
    t->fe = vufe_open(&fc, &e);
    CU_ASSERT_FATAL(t->fe != NULL);
}

/* Stop; @lat_max gets the largest simulated latency seen (or 0). */
static void dtest_stop(struct dtest *t, sim_time_t *lat_min,
                       sim_time_t *lat_max)
{
    int status = -1;

    vufe_free(t->fe);
    if (t->pid) {
        /* The program exits 0 on SIGTERM, its socket removed. */
        kill(t->pid, SIGTERM);
        CU_ASSERT_EQUAL(waitpid(t->pid, &status, 0), t->pid);
        CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CU_ASSERT_NOT_EQUAL(access(t->sock, F_OK), 0);
        rmdir(t->dir);
        return;
    }
    harness_stop(&t->h);
    if (lat_min && vu_backend_latency(t->h.be, 0, lat_min) < 0) {
        *lat_min = 0;
    }
    if (lat_max && vu_backend_latency(t->h.be, 1000, lat_max) < 0) {
        *lat_max = 0;
    }
    harness_free(&t->h);
    t->dev->ops->destroy(t->dev);
}

/* One blk request: header, optional data (readable or writable), status.
 * Returns the status byte, or -1 if no used element came back. */
static int blk_req(struct vufe *fe, uint32_t type, uint64_t sector,
                   void *data, uint32_t len, bool data_out, uint32_t *used)
{
    struct dev_blk_req_hdr h = { .type = type, .sector = sector };
    uint64_t gh = vufe_alloc(fe, sizeof(h), 16), gs = vufe_alloc(fe, 1, 16);
    uint64_t gd = len ? vufe_alloc(fe, len, 16) : 0;
    struct vufe_buf b[3];
    unsigned n = 0;
    uint32_t id;

    memcpy(vufe_ptr(fe, gh, sizeof(h)), &h, sizeof(h));
    *(uint8_t *)vufe_ptr(fe, gs, 1) = 0xff;
    b[n++] = (struct vufe_buf){ gh, sizeof(h), false };
    if (len) {
        if (data_out) {
            memcpy(vufe_ptr(fe, gd, len), data, len);
        }
        b[n++] = (struct vufe_buf){ gd, len, !data_out };
    }
    b[n++] = (struct vufe_buf){ gs, 1, true };
    if (vufe_add(fe, 0, b, n, false) < 0 || vufe_kick(fe, 0) < 0 ||
        vufe_reap_wait(fe, 0, &id, used, 5000) != 1) {
        return -1;
    }
    if (len && !data_out) {
        memcpy(data, vufe_ptr(fe, gd, len), len);
    }
    return *(uint8_t *)vufe_ptr(fe, gs, 1);
}

/* Every request type, and what it leaves on the disk. */
static void test_blk_requests(void)
{
    static const struct dev_opt o[] = { { "size", "1M" } };
    uint8_t w[4096], r[4096], id[20];
    struct dev_blk_dwz_seg seg = { .sector = 8, .num_sectors = 8 };
    struct dtest t;
    uint32_t used;

    dtest_start(&t, &dev_blk_ops, o, 1);
    for (unsigned i = 0; i < sizeof(w); i++) {
        w[i] = (uint8_t)(i * 13 + 1);
    }
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_OUT, 8, w, 4096, true, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(used, 1);
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_IN, 8, r, 4096, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(used, 4097);
    CU_ASSERT(memcmp(w, r, sizeof(w)) == 0);
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_FLUSH, 0, NULL, 0, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_GET_ID, 0, id, 20, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT(memcmp(id, "vusim", 5) == 0);
    if (!(vufe_features(t.fe) & VU_BIT(DEV_BLK_F_WRITE_ZEROES)) ||
        !(vufe_features(t.fe) & VU_BIT(DEV_BLK_F_DISCARD))) {
        CU_ASSERT_PTR_NOT_NULL(blk_program(&dev_blk_ops));
        CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_DISCARD, 0, &seg,
                                sizeof(seg), true, &used), DEV_BLK_S_UNSUPP);
        dtest_stop(&t, NULL, NULL);
        return;
    }
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_WRITE_ZEROES, 0, &seg,
                            sizeof(seg), true, &used), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_IN, 8, r, 4096, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT(r[0] == 0 && r[4095] == 0);
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_OUT, 8, w, 4096, true, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_DISCARD, 0, &seg, sizeof(seg),
                            true, &used), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_IN, 8, r, 4096, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT(r[0] == 0 && r[4095] == 0);
    dtest_stop(&t, NULL, NULL);
}

/* Bad requests get their status, and the device goes on serving. */
static void test_blk_errors(void)
{
    static const struct dev_opt o[] = { { "size", "1M" },
                                        { "read-only", NULL } };
    uint8_t buf[1024] = { 0 };
    struct dtest t;
    uint32_t used;

    dtest_start(&t, &dev_blk_ops, o, 2);
    /* --read-only is the in-tree model's option. */
    CU_ASSERT(blk_program(&dev_blk_ops) ||
              (vufe_features(t.fe) & VU_BIT(DEV_BLK_F_RO)));
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_IN, 2048, buf, 512, false,
                            &used), DEV_BLK_S_IOERR);   /* past the end */
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_OUT, 2047, buf, 1024, true,
                            &used), DEV_BLK_S_IOERR);   /* across the end */
    if (!blk_program(&dev_blk_ops)) {
        CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_OUT, 0, buf, 512, true,
                                &used), DEV_BLK_S_IOERR);   /* read-only */
    }
    CU_ASSERT_EQUAL(blk_req(t.fe, 99, 0, NULL, 0, false, &used),
                    DEV_BLK_S_UNSUPP);                  /* unknown type */
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_IN, 0, buf, 100, false, &used),
                    DEV_BLK_S_IOERR);                   /* not sectors */
    CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_IN, 0, buf, 512, false, &used),
                    DEV_BLK_S_OK);                      /* still serving */
    dtest_stop(&t, NULL, NULL);
}

/* Completion times equal the model's arithmetic exactly: 1 ms plus 4096
 * bytes at 4096000 B/s (1 ms more), one request at a time. */
static void test_blk_timing(void)
{
    static const struct dev_opt o[] = { { "size", "1M" },
                                        { "latency", "1ms" },
                                        { "bandwidth", "4096000" } };
    uint8_t buf[4096];
    sim_time_t lo, hi;
    struct dtest t;
    uint32_t used;

    if (blk_program(&dev_blk_ops)) {
        return;     /* the in-tree model's timing options */
    }
    dtest_start(&t, &dev_blk_ops, o, 3);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(blk_req(t.fe, DEV_BLK_T_IN, (uint64_t)i * 8, buf,
                                4096, false, &used), DEV_BLK_S_OK);
    }
    dtest_stop(&t, &lo, &hi);
    CU_ASSERT_EQUAL(lo, 2 * SIM_MS);
    CU_ASSERT_EQUAL(hi, 2 * SIM_MS);
}

/* Read @n bytes of rng through a fresh device seeded with @seed. */
static void rng_read(const char *seed, uint8_t *out, uint32_t n)
{
    const struct dev_opt o[] = { { "seed", seed } };
    struct dtest t;
    uint32_t id, used;

    dtest_start(&t, &dev_rng_ops, o, 1);
    for (uint32_t off = 0; off < n; off += 64) {
        uint64_t g = vufe_alloc(t.fe, 64, 16);
        struct vufe_buf b = { g, 64, true };

        CU_ASSERT(vufe_add(t.fe, 0, &b, 1, false) >= 0);
        CU_ASSERT_EQUAL(vufe_kick(t.fe, 0), 0);
        CU_ASSERT_EQUAL(vufe_reap_wait(t.fe, 0, &id, &used, 5000), 1);
        CU_ASSERT_EQUAL(used, 64);
        memcpy(out + off, vufe_ptr(t.fe, g, 64), 64);
    }
    dtest_stop(&t, NULL, NULL);
}

/* Same seed, same bytes, across two runs: the seeded stream itself. */
static void test_rng_determinism(void)
{
    uint8_t a[512], b[512], c[512], want[512];
    struct vusim_rng r;

    rng_read("42", a, sizeof(a));
    rng_read("42", b, sizeof(b));
    rng_read("43", c, sizeof(c));
    vusim_rng_seed(&r, 42);
    for (unsigned off = 0; off < sizeof(want); off += 64) {
        vusim_rng_fill(&r, want + off, 64);
    }
    CU_ASSERT(memcmp(a, b, sizeof(a)) == 0);
    CU_ASSERT(memcmp(a, want, sizeof(a)) == 0);
    CU_ASSERT(memcmp(a, c, sizeof(a)) != 0);
}

CU_TestInfo devices_tests[] = {
    { "blk_requests", test_blk_requests },
    { "blk_errors", test_blk_errors },
    { "blk_timing", test_blk_timing },
    { "rng_determinism", test_rng_determinism },
    CU_TEST_INFO_NULL,
};
