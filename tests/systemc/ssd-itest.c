/* SPDX-License-Identifier: MIT */
/*
 * tests/systemc/ssd-itest.c - vusim-sc-ssd (a SystemC model behind the
 * bridge) against the reference front-end, over a real socket and memfd
 * memory, in both notification modes: every virtio-blk request type, the
 * data read back, the backing file after the run, and the bad requests'
 * statuses; that --clock=realtime paces the model's SystemC time; and
 * vusim-sc-rng's byte stream against the LFSR computed
 * here (VUSIM_ITEST_RNG_PROGRAM names another build of it:
 * tests/systemc/programs.sh). The programs run as their own processes, as
 * a user runs them.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cosim/frontend/vufe.h"
#include "devices/blk/blk.h"
#include "tests/cu_run.h"
#include "tests/support/tmpfile.h"

#define DISK (1024 * 1024)

struct ssd_run {
    pid_t pid;
    char *sock, *file, *stats;
    struct vufe *fe;
};

/* vusim-sc-ssd on a 1 MiB backing file, with up to two more options. */
static void ssd_start(struct ssd_run *s, enum vufe_notify mode,
                      const char *more1, const char *more2)
{
    const char *bd = getenv("builddir");
    char prog[4096], a_sock[256], a_file[256], a_stats[256];
    struct vufe_cfg fc;
    int e = 0;

    memset(s, 0, sizeof(*s));
    s->sock = ut_tmp_path("ssd-sock");
    s->file = ut_tmp_path("ssd-disk");
    s->stats = ut_tmp_path("ssd-stats");
    snprintf(prog, sizeof(prog), "%s/vusim-sc-ssd", bd ? bd : ".");
    snprintf(a_sock, sizeof(a_sock), "--socket-path=%s", s->sock);
    snprintf(a_file, sizeof(a_file), "--backing=%s", s->file);
    snprintf(a_stats, sizeof(a_stats), "--stats=%s", s->stats);
    unlink(s->file);
    s->pid = fork();
    CU_ASSERT_FATAL(s->pid >= 0);
    if (s->pid == 0) {
        execl(prog, prog, a_sock, a_file, "--size=1M", a_stats,
              "--channels=2", "--dies=2", "--pages-per-block=8", more1, more2,
              (char *)NULL);
        _exit(127);
    }
    vufe_cfg_init(&fc);
    fc.path = s->sock;
    fc.notify = mode;
    fc.event_idx = false;
    fc.timeout_ms = 30000;
    fc.config_size = 60;
    s->fe = vufe_open(&fc, &e);
    CU_ASSERT_FATAL(s->fe != NULL);
}

/* SIGTERM, exit status 0, and the socket is gone. */
static void ssd_stop(struct ssd_run *s)
{
    int st = 0;

    vufe_free(s->fe);
    kill(s->pid, SIGTERM);
    CU_ASSERT_EQUAL(waitpid(s->pid, &st, 0), s->pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT(access(s->sock, F_OK) != 0);
}

static void ssd_free(struct ssd_run *s)
{
    unlink(s->file);
    unlink(s->stats);
    free(s->sock);
    free(s->file);
    free(s->stats);
}

/* One request: header, optional data, status; the status or -1. */
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
        vufe_reap_wait(fe, 0, &id, used, 20000) != 1) {
        return -1;
    }
    if (len && !data_out) {
        memcpy(data, vufe_ptr(fe, gd, len), len);
    }
    return *(uint8_t *)vufe_ptr(fe, gs, 1);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
    }
}

static void ssd_requests(enum vufe_notify mode)
{
    static uint8_t w[65536], r[65536], shadow[DISK];
    struct dev_blk_dwz_seg seg = { .sector = 16, .num_sectors = 8 };
    uint8_t id[20], *disk;
    uint32_t used, cap[2];
    struct ssd_run s;
    size_t len = 0;

    ssd_start(&s, mode, NULL, NULL);
    memcpy(cap, vufe_config(s.fe, &used), 8);
    CU_ASSERT_EQUAL(cap[0], DISK / 512);
    memset(shadow, 0, sizeof(shadow));
    /* Overwrite the same region many times: the FTL garbage-collects. */
    for (unsigned i = 0; i < 64; i++) {
        uint64_t sector = (i * 37) % (DISK / 512 - 128);

        fill(w, sizeof(w), i);
        CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_OUT, sector, w, sizeof(w),
                                true, &used), DEV_BLK_S_OK);
        CU_ASSERT_EQUAL(used, 1);
        memcpy(shadow + sector * 512, w, sizeof(w));
    }
    for (unsigned i = 0; i < DISK / sizeof(r); i++) {
        CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_IN, i * sizeof(r) / 512, r,
                                sizeof(r), false, &used), DEV_BLK_S_OK);
        CU_ASSERT_EQUAL(used, sizeof(r) + 1);
        CU_ASSERT(memcmp(r, shadow + i * sizeof(r), sizeof(r)) == 0);
    }
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_FLUSH, 0, NULL, 0, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_GET_ID, 0, id, 20, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT(memcmp(id, "vusim-sc", 8) == 0);
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_WRITE_ZEROES, 0, &seg,
                            sizeof(seg), true, &used), DEV_BLK_S_OK);
    memset(shadow + 16 * 512, 0, 8 * 512);
    seg.sector = 64;
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_DISCARD, 0, &seg, sizeof(seg),
                            true, &used), DEV_BLK_S_OK);
    memset(shadow + 64 * 512, 0, 8 * 512);
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_IN, 0, r, 65536, false, &used),
                    DEV_BLK_S_OK);
    CU_ASSERT(memcmp(r, shadow, 65536) == 0);
    /* bad ones: past the end, a partial sector, an unknown type */
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_IN, DISK / 512, r, 512, false,
                            &used), DEV_BLK_S_IOERR);
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_OUT, 0, w, 100, true, &used),
                    DEV_BLK_S_IOERR);
    CU_ASSERT_EQUAL(blk_req(s.fe, 99, 0, NULL, 0, false, &used),
                    DEV_BLK_S_UNSUPP);
    /* and it goes on */
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_IN, 0, r, 4096, false, &used),
                    DEV_BLK_S_OK);
    ssd_stop(&s);
    disk = ut_slurp(s.file, &len);
    CU_ASSERT_FATAL(disk != NULL);
    CU_ASSERT_EQUAL(len, DISK);
    CU_ASSERT(memcmp(disk, shadow, DISK) == 0);
    free(disk);
    disk = ut_slurp(s.stats, &len);
    CU_ASSERT(disk && strstr((char *)disk, "\"systemc_model_errors\": 0"));
    free(disk);
    ssd_free(&s);
}

/* The LFSR of examples/systemc-rng/rng.h, independently. */
static uint8_t lfsr_byte(uint64_t *s)
{
    uint8_t b = 0;

    for (int i = 0; i < 8; i++) {
        uint64_t out = *s & 1;

        *s >>= 1;
        if (out) {
            *s ^= 0xD800000000000000ull;
        }
        b = (uint8_t)((b << 1) | out);
    }
    return b;
}

/* vusim-sc-rng: two requests, the stream the LFSR gives for --seed. */
static void rng_stream(enum vufe_notify mode)
{
    const char *bd = getenv("builddir");
    char prog[4096], a_sock[256];
    char *sock = ut_tmp_path("rng-sock");
    uint64_t s = 5, g;
    struct vufe_cfg fc;
    struct vufe *fe;
    pid_t pid;
    int e = 0, st = 0;

    if (getenv("VUSIM_ITEST_RNG_PROGRAM")) { /* an out-of-tree build */
        snprintf(prog, sizeof(prog), "%s", getenv("VUSIM_ITEST_RNG_PROGRAM"));
    } else {
        snprintf(prog, sizeof(prog), "%s/vusim-sc-rng", bd ? bd : ".");
    }
    snprintf(a_sock, sizeof(a_sock), "--socket-path=%s", sock);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        execl(prog, prog, a_sock, "--seed=5", "--rate=1M", (char *)NULL);
        _exit(127);
    }
    vufe_cfg_init(&fc);
    fc.path = sock;
    fc.notify = mode;
    fc.event_idx = false;
    fc.timeout_ms = 30000;
    fe = vufe_open(&fc, &e);
    CU_ASSERT_FATAL(fe != NULL);
    g = vufe_alloc(fe, 100, 16);
    for (int r = 0; r < 2; r++) {
        struct vufe_buf b = { g, 100, true };
        uint32_t id, used = 0;
        uint8_t *p = vufe_ptr(fe, g, 100);

        CU_ASSERT(vufe_add(fe, 0, &b, 1, false) >= 0);
        CU_ASSERT(vufe_kick(fe, 0) >= 0);
        CU_ASSERT_EQUAL(vufe_reap_wait(fe, 0, &id, &used, 20000), 1);
        CU_ASSERT_EQUAL(used, 100);
        for (int i = 0; i < 100; i++) {
            CU_ASSERT_EQUAL(p[i], lfsr_byte(&s));
        }
    }
    vufe_free(fe);
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(sock);
}

static void test_rng_inband(void) { rng_stream(VUFE_NOTIFY_INBAND); }
static void test_rng_eventfd(void) { rng_stream(VUFE_NOTIFY_EVENTFD); }

/* --clock=realtime paces SystemC too: the SSD's 500 ms page read (a
 * SystemC annotation, run by a calendar event) takes at least that much
 * wall time, where afap it takes none (the other cases, tR 50 us).
 * Only the lower bound is checked: a loaded machine may take longer. */
static void test_realtime(void)
{
    static uint8_t r[4096];
    struct ssd_run s;
    struct timespec t0, t1;
    uint32_t used = 0;
    int64_t ms;

    ssd_start(&s, VUFE_NOTIFY_INBAND, "--clock=realtime", "--read-time=500ms");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(blk_req(s.fe, DEV_BLK_T_IN, 8, r, sizeof(r), false,
                            &used), DEV_BLK_S_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_EQUAL(used, sizeof(r) + 1);
    ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
         (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms < 500) {
        fprintf(stderr, "realtime: a 500 ms read took %" PRId64 " ms\n", ms);
    }
    CU_ASSERT(ms >= 500);
    ssd_stop(&s);
    ssd_free(&s);
}

static void test_inband(void) { ssd_requests(VUFE_NOTIFY_INBAND); }
static void test_eventfd(void) { ssd_requests(VUFE_NOTIFY_EVENTFD); }

static CU_TestInfo ssd_tests[] = {
    { "requests_inband", test_inband },
    { "requests_eventfd", test_eventfd },
    { "rng_inband", test_rng_inband },
    { "rng_eventfd", test_rng_eventfd },
    { "realtime", test_realtime },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { "sc_ssd", NULL, NULL, NULL, NULL, ssd_tests },
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    return vusim_cu_main(argc, argv, suites);
}
