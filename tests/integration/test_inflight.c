/* SPDX-License-Identifier: MIT */
/*
 * Reconnect without losing a request (INFLIGHT_SHMFD): the vusim program
 * (a real process, a file-backed virtio-blk disk, --clock=realtime so a
 * request's latency is wall time) is killed with SIGKILL while requests
 * sit on its calendar, then started again on the same socket and file.
 * The reference front-end does what QEMU's vhost-user-blk does: it got the
 * in-flight region once, gives it back on the new connection and restarts
 * the ring at used->idx. The disk has 8 channels at 64 KiB/s each, so the
 * small writes among the killed batch complete (out of order, before the
 * big ones posted ahead of them) and the big ones are in flight at the
 * kill: restarting at used->idx alone would take a completed small write
 * again and lose a big one. Every request in flight at the kill must be
 * resubmitted and complete exactly once, none completed before may come
 * back, and every completed write must be in the file.
 *
 * The other way round: the front-end's process is killed with SIGKILL in
 * the middle of writes; vusim must live on, serve the next front-end, and
 * every write completed before a completed FLUSH must be in the file.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/blk/blk.h"
#include "tests/cu_run.h"
#include "tests/integration/itest.h"

#define SECTOR 512u
#define NBEFORE 4
#define NKILL 8
#define BIG 64          /* sectors: 32 KiB, 0.5 s at 64 KiB/s */

struct ifl {
    char dir[64], sock[128], disk[128];
    pid_t pid;
};

static void ifl_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static pid_t ifl_spawn(struct ifl *t)
{
    const char *bd = getenv("builddir");
    char prog[512], sockopt[160], diskopt[160];
    pid_t pid;

    snprintf(prog, sizeof(prog), "%s/vusim", bd ? bd : ".");
    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", t->sock);
    snprintf(diskopt, sizeof(diskopt), "--backing=%s", t->disk);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL);     /* never outlive the test */

        if (!getenv("VUSIM_TEST_VERBOSE") && null >= 0) {
            dup2(null, 2);
        }
        char *argv[] = { prog, "blk", sockopt, diskopt, "--bandwidth=64K",
                         "--channels=8", "--clock=realtime", "--inband=off",
                         getenv("VUSIM_TEST_VERBOSE") ? "-v" : NULL, NULL };

        execv(prog, argv);
        _exit(127);
    }
    /* Ready once the socket is there (vusim binds before it serves). */
    for (int i = 0; i < 800 && access(t->sock, F_OK) != 0; i++) {
        ifl_sleep_ms(25);
    }
    return pid;
}

/* A write of @n sectors at @sector filled with @fill; returns its head. */
static int ifl_write(struct vufe *fe, uint64_t sector, uint32_t n,
                     uint8_t fill)
{
    struct dev_blk_req_hdr h = { .type = DEV_BLK_T_OUT, .sector = sector };
    uint64_t gh = vufe_alloc(fe, sizeof(h), 16);
    uint64_t gd = vufe_alloc(fe, n * SECTOR, 16), gs = vufe_alloc(fe, 1, 16);
    struct vufe_buf b[3] = {
        { gh, sizeof(h), false }, { gd, n * SECTOR, false }, { gs, 1, true },
    };

    memcpy(vufe_ptr(fe, gh, sizeof(h)), &h, sizeof(h));
    memset(vufe_ptr(fe, gd, n * SECTOR), fill, n * SECTOR);
    *(uint8_t *)vufe_ptr(fe, gs, 1) = 0xff;
    return vufe_add(fe, 0, b, 3, false);
}

/* Reap @n completions within @ms; marks seen[id]; counts duplicates. */
static int ifl_reap(struct vufe *fe, int n, int ms, unsigned *seen, int *dup)
{
    int got = 0;

    for (int i = 0; i < n; i++) {
        uint32_t id, len;

        if (vufe_reap_wait(fe, 0, &id, &len, ms) != 1) {
            break;
        }
        if (id < 256 && seen[id]++) {
            (*dup)++;
        }
        got++;
    }
    return got;
}

static bool ifl_disk_has(const char *path, uint64_t sector, uint32_t n,
                         uint8_t fill)
{
    static uint8_t b[BIG * SECTOR];
    int fd = open(path, O_RDONLY);
    bool ok = fd >= 0 && pread(fd, b, n * SECTOR, (off_t)(sector * SECTOR)) ==
                         (ssize_t)(n * SECTOR);

    for (unsigned i = 0; ok && i < n * SECTOR; i++) {
        ok = b[i] == fill;
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void test_kill_resubmit(void)
{
    struct ifl t = { .pid = -1 };
    unsigned seen[256] = { 0 };
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err = 0, dup = 0, fd, st;

    snprintf(t.dir, sizeof(t.dir), "/tmp/vusim-inflight-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(t.dir) != NULL);
    snprintf(t.sock, sizeof(t.sock), "%s/blk.sock", t.dir);
    snprintf(t.disk, sizeof(t.disk), "%s/disk.img", t.dir);
    fd = open(t.disk, O_CREAT | O_RDWR, 0600);
    CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
    close(fd);
    t.pid = ifl_spawn(&t);
    vufe_cfg_init(&cfg);
    cfg.path = t.sock;
    cfg.queue_size = 64;
    cfg.notify = VUFE_NOTIFY_EVENTFD;
    cfg.protocol_features |= VU_BIT(VU_PF_INFLIGHT_SHMFD);
    cfg.timeout_ms = 20000;     /* a loaded CI machine */
    fe = vufe_open(&cfg, &err);
    if (!fe) {
        fprintf(stderr, "inflight: vufe_open: %s\n", strerror(-err));
        kill(t.pid, SIGKILL);
    }
    CU_ASSERT_FATAL(fe != NULL);
    CU_ASSERT(vufe_protocol_features(fe) & VU_BIT(VU_PF_INFLIGHT_SHMFD));

    /* Completed before the kill: must not come back. */
    for (int i = 0; i < NBEFORE; i++) {
        ifl_write(fe, (uint64_t)i, 1, (uint8_t)(0xa0 + i));
    }
    vufe_kick(fe, 0);
    CU_ASSERT_EQUAL(ifl_reap(fe, NBEFORE, 20000, seen, &dup), NBEFORE);
    /* Big, small, big, small...: at the kill the small ones are done. */
    for (int i = 0; i < NKILL; i++) {
        ifl_write(fe, (uint64_t)(BIG * (1 + i)), i % 2 ? 1 : BIG,
                  (uint8_t)(0xb0 + i));
    }
    vufe_kick(fe, 0);
    ifl_sleep_ms(200);
    kill(t.pid, SIGKILL);
    waitpid(t.pid, &st, 0);
    CU_ASSERT(WIFSIGNALED(st));
    vufe_disconnect(fe);

    t.pid = ifl_spawn(&t);
    CU_ASSERT_EQUAL(vufe_reconnect(fe, -1), 0);
    CU_ASSERT_EQUAL(vufe_negotiate(fe), 0);
    CU_ASSERT_EQUAL(vufe_setup(fe), 0);
    /* No kick: the guest waits, the restarted back-end must act alone. */
    CU_ASSERT_EQUAL(ifl_reap(fe, NKILL, 30000, seen, &dup), NKILL);
    CU_ASSERT_EQUAL(dup, 0);
    CU_ASSERT_EQUAL(ifl_reap(fe, 1, 800, seen, &dup), 0);
    for (int i = 0; i < NBEFORE; i++) {
        CU_ASSERT(ifl_disk_has(t.disk, (uint64_t)i, 1, (uint8_t)(0xa0 + i)));
    }
    for (int i = 0; i < NKILL; i++) {
        CU_ASSERT(ifl_disk_has(t.disk, (uint64_t)(BIG * (1 + i)),
                               i % 2 ? 1 : BIG, (uint8_t)(0xb0 + i)));
    }
    vufe_free(fe);
    kill(t.pid, SIGTERM);
    waitpid(t.pid, &st, 0);
    unlink(t.disk);
    unlink(t.sock);
    rmdir(t.dir);
}

/* A flush; returns its status byte or -1. */
static int ifl_flush(struct vufe *fe)
{
    struct dev_blk_req_hdr h = { .type = DEV_BLK_T_FLUSH };
    uint64_t gh = vufe_alloc(fe, sizeof(h), 16), gs = vufe_alloc(fe, 1, 16);
    struct vufe_buf b[2] = { { gh, sizeof(h), false }, { gs, 1, true } };
    uint32_t id, len;

    memcpy(vufe_ptr(fe, gh, sizeof(h)), &h, sizeof(h));
    *(uint8_t *)vufe_ptr(fe, gs, 1) = 0xff;
    if (vufe_add(fe, 0, b, 2, false) < 0 || vufe_kick(fe, 0) < 0 ||
        vufe_reap_wait(fe, 0, &id, &len, 20000) != 1) {
        return -1;
    }
    return *(uint8_t *)vufe_ptr(fe, gs, 1);
}

/* The front-end's process: NBEFORE writes, a flush, then "flushed" on
 * @wfd, then writes without end until it is killed. */
static void ifl_fe_child(struct ifl *t, int wfd)
{
    struct vufe_cfg cfg;
    unsigned seen[256] = { 0 };
    struct vufe *fe;
    int err = 0, dup = 0;

    vufe_cfg_init(&cfg);
    cfg.path = t->sock;
    cfg.queue_size = 64;
    cfg.notify = VUFE_NOTIFY_EVENTFD;
    cfg.timeout_ms = 20000;
    fe = vufe_open(&cfg, &err);
    if (!fe) {
        _exit(1);
    }
    for (int i = 0; i < NBEFORE; i++) {
        ifl_write(fe, (uint64_t)i, 1, (uint8_t)(0xc0 + i));
    }
    vufe_kick(fe, 0);
    if (ifl_reap(fe, NBEFORE, 20000, seen, &dup) != NBEFORE ||
        ifl_flush(fe) != 0 || write(wfd, "F", 1) != 1) {
        _exit(1);
    }
    for (unsigned i = 0;; i++) {
        uint32_t id, len;

        ifl_write(fe, (uint64_t)(BIG + i % 64), 1, 0xee);
        vufe_kick(fe, 0);
        vufe_reap_wait(fe, 0, &id, &len, 1000);
    }
}

/* The front-end dies (SIGKILL) in the middle of writes: vusim goes on,
 * serves the next front-end, and what was flushed is in the file. */
static void test_frontend_killed(void)
{
    struct ifl t = { .pid = -1 };
    struct vufe_cfg cfg;
    struct vufe *fe;
    int p[2], fd, st, err = 0;
    pid_t child;
    char c = 0;

    snprintf(t.dir, sizeof(t.dir), "/tmp/vusim-fekill-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(t.dir) != NULL);
    snprintf(t.sock, sizeof(t.sock), "%s/blk.sock", t.dir);
    snprintf(t.disk, sizeof(t.disk), "%s/disk.img", t.dir);
    fd = open(t.disk, O_CREAT | O_RDWR, 0600);
    CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
    close(fd);
    t.pid = ifl_spawn(&t);
    CU_ASSERT_FATAL(pipe(p) == 0);
    child = fork();
    if (child == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        ifl_fe_child(&t, p[1]);
    }
    close(p[1]);
    CU_ASSERT(read(p[0], &c, 1) == 1 && c == 'F');
    close(p[0]);
    ifl_sleep_ms(300);                  /* in the middle of the writes */
    kill(child, SIGKILL);
    waitpid(child, &st, 0);
    for (int i = 0; i < NBEFORE; i++) {
        CU_ASSERT(ifl_disk_has(t.disk, (uint64_t)i, 1, (uint8_t)(0xc0 + i)));
    }
    CU_ASSERT(waitpid(t.pid, &st, WNOHANG) == 0);      /* vusim lives */
    vufe_cfg_init(&cfg);
    cfg.path = t.sock;
    cfg.notify = VUFE_NOTIFY_EVENTFD;
    cfg.timeout_ms = 20000;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT(fe != NULL);
    if (fe) {
        CU_ASSERT_EQUAL(ifl_flush(fe), 0);
        vufe_free(fe);
    }
    kill(t.pid, SIGTERM);
    waitpid(t.pid, &st, 0);
    unlink(t.disk);
    unlink(t.sock);
    rmdir(t.dir);
}

CU_TestInfo inflight_tests[] = {
    { "kill_resubmit", test_kill_resubmit },
    { "frontend_killed", test_frontend_killed },
    CU_TEST_INFO_NULL,
};
