/* SPDX-License-Identifier: MIT */
/*
 * Back-end against the reference front-end over a real socket and memfd
 * memory; every test runs once per notification mode (see main.c).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cosim/backend/observer.h"
#include "cosim/wire/memguard.h"
#include "cosim/wire/proto.h"
#include "tests/integration/itest.h"

#define LAT (1 * SIM_US)

static bool inband(void)
{
    return g_itest_mode == VUFE_NOTIFY_INBAND;
}

static struct vufe *open_fe(struct itest *t, unsigned nq)
{
    struct vufe_cfg cfg;
    int err = 0;
    struct vufe *fe;

    itest_fe_cfg(t, &cfg, nq);
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_PTR_NOT_NULL(fe);
    CU_ASSERT_EQUAL(err, 0);
    return fe;
}

/* Both sides' view of negotiation, config space and status. */
static void test_negotiation(void)
{
    struct itest t;
    struct vufe *fe;
    uint8_t cfg[16], w[2] = { 0x11, 0x22 };
    uint32_t len;
    uint64_t v, pf_expect = VU_BIT(VU_PF_MQ) | VU_BIT(VU_PF_REPLY_ACK) |
        VU_BIT(VU_PF_BACKEND_REQ) | VU_BIT(VU_PF_CONFIG) |
        VU_BIT(VU_PF_INBAND_NOTIFICATIONS) | VU_BIT(VU_PF_RESET_DEVICE) |
        VU_BIT(VU_PF_CONFIGURE_MEM_SLOTS) | VU_BIT(VU_PF_STATUS) |
        VU_BIT(VU_PF_INFLIGHT_SHMFD);

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    v = vufe_offered_features(fe);
    CU_ASSERT(!!(v & VU_BIT(VU_F_VERSION_1)));
    CU_ASSERT(v & VU_BIT(VU_F_PROTOCOL_FEATURES));
    CU_ASSERT(v & VU_BIT(VU_F_RING_INDIRECT_DESC));
    CU_ASSERT(v & VU_BIT(VU_F_RING_EVENT_IDX));
    CU_ASSERT(v & 1);                           /* the device's own bit */
    CU_ASSERT_EQUAL(vufe_offered_protocol_features(fe), pf_expect);
    CU_ASSERT_EQUAL(!!(vufe_protocol_features(fe) &
                       VU_BIT(VU_PF_INBAND_NOTIFICATIONS)), inband());
    const uint8_t *c = vufe_config(fe, &len);
    CU_ASSERT_EQUAL(len, 16);
    CU_ASSERT(c && c[0] == 0xa0 && c[15] == 0xaf);
    CU_ASSERT_EQUAL(vufe_set_config(fe, 4, w, 2, 0), 0);
    CU_ASSERT_EQUAL(vufe_get_config(fe, 0, cfg, 16), 0);
    CU_ASSERT(cfg[4] == 0x11 && cfg[5] == 0x22 && cfg[6] == 0xa6);
    CU_ASSERT_EQUAL(vufe_get_config(fe, 12, cfg, 8), -EREMOTEIO);
    CU_ASSERT_EQUAL(vufe_set_status(fe, 0xf), 0);
    CU_ASSERT_EQUAL(vufe_get_status(fe, &v), 0);
    CU_ASSERT_EQUAL(v, 0xf);
    CU_ASSERT_EQUAL(vufe_get_max_mem_slots(fe, &v), 0);
    CU_ASSERT_EQUAL(v, VU_MAX_MEM_SLOTS);
    vufe_free(fe);
    itest_stop(&t);
    CU_ASSERT(!!(t.dev->features_seen & VU_BIT(VU_F_VERSION_1)));
    itest_free(&t);
}

/* Requests round-trip; completions land at exact simulated times; every
 * notification used the suite's path and no other. */
static void test_roundtrip_and_modes(void)
{
    struct vu_backend_stats st;
    struct itest t;
    struct vufe *fe;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    for (int i = 0; i < 10; i++) {
        itest_roundtrip(fe, 0, 512 + 64 * i, i);
    }
    vufe_free(fe);
    itest_stop(&t);
    vu_backend_get_stats(t.h.be, &st);
    CU_ASSERT_EQUAL(st.q[0].requests, 10);
    CU_ASSERT_EQUAL(st.q[0].completions, 10);
    if (inband()) {
        CU_ASSERT_EQUAL(st.q[0].kicks_inband, 10);
        CU_ASSERT_EQUAL(st.q[0].kicks_eventfd, 0);
        CU_ASSERT_EQUAL(st.q[0].calls_inband, 10);
        CU_ASSERT_EQUAL(st.q[0].calls_eventfd, 0);
    } else {
        CU_ASSERT_EQUAL(st.q[0].kicks_inband, 0);
        /* An eventfd sums writes: two kicks can arrive as one read. */
        CU_ASSERT(st.q[0].kicks_eventfd >= 1 && st.q[0].kicks_eventfd <= 10);
        CU_ASSERT_EQUAL(st.q[0].calls_eventfd, 10);
        CU_ASSERT_EQUAL(st.q[0].calls_inband, 0);
    }
    /* One request at a time: each completes LAT after the previous. */
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(t.dev->done_at[i], (sim_time_t)(i + 1) * LAT);
    }
    itest_free(&t);
}

/* Four queues, used out of order; each counts its own requests. */
static void test_multiqueue(void)
{
    static const unsigned order[] = { 3, 1, 0, 2, 3 };
    struct vu_backend_stats st;
    struct itest t;
    struct vufe *fe;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 4, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 4);
    CU_ASSERT_FATAL(fe != NULL);
    for (unsigned i = 0; i < 5; i++) {
        itest_roundtrip(fe, order[i], 256, (int)i);
    }
    vufe_free(fe);
    itest_stop(&t);
    vu_backend_get_stats(t.h.be, &st);
    CU_ASSERT_EQUAL(st.num_queues, 4);
    CU_ASSERT_EQUAL(st.q[0].requests, 1);
    CU_ASSERT_EQUAL(st.q[1].requests, 1);
    CU_ASSERT_EQUAL(st.q[2].requests, 1);
    CU_ASSERT_EQUAL(st.q[3].requests, 2);
    itest_free(&t);
}

/* A chain through an indirect table, over two memory regions. */
static void test_indirect_split_memory(void)
{
    struct itest t;
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err;
    uint64_t in, out;
    uint32_t id, used;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    itest_fe_cfg(&t, &cfg, 1);
    cfg.split_mem = true;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_FATAL(fe != NULL);
    in = vufe_alloc(fe, 4096, 16);
    out = vufe_alloc(fe, 4096, 16);
    memset(vufe_ptr(fe, in, 4096), 0x5a, 4096);
    struct vufe_buf b[4] = {
        { in, 1000, false }, { in + 1000, 3096, false },
        { out, 96, true }, { out + 96, 4000, true },
    };
    CU_ASSERT(vufe_add(fe, 0, b, 4, true) >= 0);
    CU_ASSERT_EQUAL(vufe_kick(fe, 0), 0);
    CU_ASSERT_EQUAL(vufe_reap_wait(fe, 0, &id, &used, 5000), 1);
    CU_ASSERT_EQUAL(used, 4096);
    CU_ASSERT(memcmp(vufe_ptr(fe, in, 4096), vufe_ptr(fe, out, 4096),
                     4096) == 0);
    vufe_free(fe);
    itest_stop(&t);
    itest_free(&t);
}

/* EVENT_IDX: with calls suppressed by the driver the used entry still
 * lands but no call comes; re-enabled, calls come again. */
static void test_event_idx(void)
{
    struct itest t;
    struct vufe *fe;
    uint32_t id, used;
    uint64_t a;
    int rc = 0;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    CU_ASSERT(!!(vufe_features(fe) & VU_BIT(VU_F_RING_EVENT_IDX)));
    /* The first completion always notifies (nothing signalled yet). */
    itest_roundtrip(fe, 0, 128, 2);
    vufe_wait_call(fe, 0, 0);               /* consume it if still pending */
    vufe_calls_enable(fe, 0, false);
    a = vufe_alloc(fe, 64, 16);
    struct vufe_buf b = { a, 64, true };
    CU_ASSERT(vufe_add(fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vufe_kick(fe, 0), 0);
    for (int i = 0; i < 500 && rc == 0; i++) {
        rc = vufe_reap(fe, 0, &id, &used);
        if (rc == 0) {
            vufe_serve(fe, 0);
            usleep(2000);
        }
    }
    CU_ASSERT_EQUAL(rc, 1);
    vufe_serve(fe, 20);
    CU_ASSERT_EQUAL(vufe_stats(fe)->q[0].calls, 1);
    CU_ASSERT_EQUAL(vufe_wait_call(fe, 0, 50), -ETIMEDOUT);
    vufe_calls_enable(fe, 0, true);
    itest_roundtrip(fe, 0, 128, 3);
    /* The used entry can be seen before its call is read: wait for it. */
    CU_ASSERT(vufe_stats(fe)->q[0].calls >= 2 ||
              vufe_wait_call(fe, 0, 2000) == 0);
    CU_ASSERT(vufe_stats(fe)->q[0].calls >= 2);
    vufe_free(fe);
    itest_stop(&t);
    itest_free(&t);
}

/* GET_VRING_BASE stops the ring and says where it stopped; the ring
 * resumes from SET_VRING_BASE. */
static void test_stop_restart(void)
{
    struct itest t;
    struct vufe *fe;
    uint16_t base = 0;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    itest_roundtrip(fe, 0, 100, 1);
    itest_roundtrip(fe, 0, 100, 2);
    CU_ASSERT_EQUAL(vufe_get_vring_base(fe, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 2);
    CU_ASSERT_EQUAL(vufe_queue_setup(fe, 0), 0);
    itest_roundtrip(fe, 0, 100, 3);
    CU_ASSERT_EQUAL(vufe_get_vring_base(fe, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 3);
    vufe_free(fe);
    itest_stop(&t);
    CU_ASSERT(t.dev->stopped_mask & 1);
    itest_free(&t);
}

/* A front-end leaves; its state goes; the next one is served. */
static void test_disconnect_reconnect(void)
{
    struct vu_backend_stats st;
    struct itest t;
    struct vufe *fe;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 0, VU_INBAND_AUTO), 0);
    for (int round = 0; round < 3; round++) {
        fe = open_fe(&t, 1);
        CU_ASSERT_FATAL(fe != NULL);
        itest_roundtrip(fe, 0, 64, round);
        vufe_free(fe);
    }
    itest_stop(&t);
    vu_backend_get_stats(t.h.be, &st);
    CU_ASSERT_EQUAL(st.connections, 3);
    CU_ASSERT_EQUAL(st.q[0].completions, 3);
    CU_ASSERT(t.dev->resets >= 2);
    itest_free(&t);
}

/* A driver reload: the whole setup again without a reset, a second
 * SET_MEM_TABLE replacing the first. */
static void test_driver_reload(void)
{
    struct itest t;
    struct vufe *fe;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    itest_roundtrip(fe, 0, 64, 1);
    CU_ASSERT_EQUAL(vufe_set_vring_enable(fe, 0, false), 0);
    vufe_queue_reset(fe, 0);
    CU_ASSERT_EQUAL(vufe_setup(fe), 0);
    itest_roundtrip(fe, 0, 64, 2);
    vufe_free(fe);
    itest_stop(&t);
    itest_free(&t);
}

/* RESET_DEVICE reaches the device; the queue works after a new setup. */
static void test_reset_device(void)
{
    struct itest t;
    struct vufe *fe;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    itest_roundtrip(fe, 0, 64, 1);
    CU_ASSERT_EQUAL(vufe_reset_device(fe), 0);
    CU_ASSERT_EQUAL(vufe_setup(fe), 0);
    itest_roundtrip(fe, 0, 64, 2);
    vufe_free(fe);
    itest_stop(&t);
    CU_ASSERT(t.dev->resets >= 1);
    itest_free(&t);
}

/* Memory through ADD_MEM_REG; REM_MEM_REG takes it away again. */
static void test_mem_slots(void)
{
    struct itest t;
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    itest_fe_cfg(&t, &cfg, 1);
    cfg.split_mem = true;
    cfg.mem_slots = true;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_FATAL(fe != NULL);
    itest_roundtrip(fe, 0, 64, 1);
    CU_ASSERT_EQUAL(vufe_rem_mem_reg(fe, 1), 0);
    CU_ASSERT_EQUAL(vufe_rem_mem_reg(fe, 1), -EREMOTEIO);
    CU_ASSERT_EQUAL(vufe_add_mem_reg(fe, 1), 0);
    itest_roundtrip(fe, 0, 64, 2);
    vufe_free(fe);
    itest_stop(&t);
    itest_free(&t);
}

/* The hazard seen with UML: a kick crossing a call. The front-end blocks
 * on each kick's ack without serving the back-end channel, and kicks again
 * before it takes the call; the back-end must ack the second kick while
 * its call is outstanding. A zero-latency device makes the crossing
 * certain. */
static void test_kick_crossing_call(void)
{
    struct vu_backend_stats st;
    struct itest t;
    struct vufe_cfg cfg;
    struct vufe *fe;
    uint32_t id, used;
    int err, got = 0;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, 0, 1, VU_INBAND_AUTO), 0);
    itest_fe_cfg(&t, &cfg, 1);
    cfg.strict_order = true;
    cfg.event_idx = false;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_FATAL(fe != NULL);
    for (int i = 0; i < 32; i++) {
        uint64_t a = vufe_alloc(fe, 64, 16);
        struct vufe_buf b = { a, 64, true };

        CU_ASSERT(vufe_add(fe, 0, &b, 1, false) >= 0);
        CU_ASSERT_EQUAL_FATAL(vufe_kick(fe, 0), 0);
    }
    while (got < 32 && vufe_reap_wait(fe, 0, &id, &used, 5000) == 1) {
        got++;
    }
    CU_ASSERT_EQUAL(got, 32);
    vufe_free(fe);
    itest_stop(&t);
    vu_backend_get_stats(t.h.be, &st);
    CU_ASSERT_EQUAL(st.q[0].completions, 32);
    itest_free(&t);
}

/* A front-end like QEMU 7.2 acks the in-band bits but sets eventfds and
 * refuses in-band calls: the fds must win on every queue. */
static void test_qemu_like_frontend(void)
{
    struct vu_backend_stats st;
    struct itest t;
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 2, LAT, 1, VU_INBAND_AUTO), 0);
    itest_fe_cfg(&t, &cfg, 2);
    cfg.notify = VUFE_NOTIFY_QEMU;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_FATAL(fe != NULL);
    CU_ASSERT(vufe_protocol_features(fe) &
              VU_BIT(VU_PF_INBAND_NOTIFICATIONS));
    for (int i = 0; i < 6; i++) {
        itest_roundtrip(fe, (unsigned)i % 2, 200, i);
    }
    CU_ASSERT_EQUAL(vufe_stats(fe)->calls_rejected, 0);
    vufe_free(fe);
    itest_stop(&t);
    vu_backend_get_stats(t.h.be, &st);
    for (int q = 0; q < 2; q++) {
        CU_ASSERT_EQUAL(st.q[q].calls_inband, 0);
        CU_ASSERT_EQUAL(st.q[q].kicks_inband, 0);
        CU_ASSERT_EQUAL(st.q[q].calls_eventfd, 3);
        CU_ASSERT_EQUAL(st.q[q].call_mode, VU_NOTIFY_EVENTFD);
    }
    itest_free(&t);
}

/* A kick set with the NOFD bit: the back-end polls the ring, so a chain
 * the front-end never kicks still completes (eventfd mode; in-band, kicks
 * come as messages and nothing is polled). */
static void test_nofd_kick_polling(void)
{
    struct itest t;
    struct vufe *fe;
    struct vu_msg r;
    uint64_t v = VU_VRING_NOFD, a;
    uint32_t id, used;

    if (inband()) {
        return;
    }
    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    CU_ASSERT_EQUAL(vufe_request(fe, VU_REQ_SET_VRING_KICK, &v, sizeof(v),
                                 NULL, 0, VU_FLAG_NEED_REPLY, &r), 0);
    CU_ASSERT_EQUAL(r.p.u64, 0);
    a = vufe_alloc(fe, 64, 16);
    struct vufe_buf b = { a, 64, true };
    CU_ASSERT(vufe_add(fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vufe_reap_wait(fe, 0, &id, &used, 5000), 1);
    vufe_free(fe);
    itest_stop(&t);
    itest_free(&t);
}

/* Wait up to 5 s for one used element on @q without waiting for a call. */
static int reap_polled(struct vufe *fe, unsigned q, uint32_t *id,
                       uint32_t *used)
{
    for (int i = 0; i < 5000; i++) {
        int rc = vufe_reap(fe, q, id, used);

        if (rc != 0) {
            return rc;
        }
        usleep(1000);
    }
    return 0;
}

/* A front-end that passes a pipe as its call fd (as UML does) and closes
 * the read end: the call's write fails with EPIPE, and neither the
 * back-end nor the process hosting it dies of SIGPIPE (this test process
 * keeps SIGPIPE at its default action, which ends it). The connection
 * serves on, and a new pipe gets the next call. */
static void test_call_pipe_reader_gone(void)
{
    struct sigaction dfl = { .sa_handler = SIG_DFL }, saved;
    struct vu_backend_stats st;
    struct itest t;
    struct vufe *fe;
    struct vu_msg r;
    uint64_t v, a;
    uint32_t id, used;
    int p[2];

    sigemptyset(&dfl.sa_mask);
    sigaction(SIGPIPE, &dfl, &saved);
    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    a = vufe_alloc(fe, 64, 16);
    struct vufe_buf b = { a, 64, true };
    for (int round = 0; round < 2; round++) {
        CU_ASSERT_FATAL(pipe(p) == 0);
        v = 0;                              /* queue 0, an fd attached */
        CU_ASSERT_EQUAL(vufe_request(fe, VU_REQ_SET_VRING_CALL, &v,
                                     sizeof(v), &p[1], 1,
                                     VU_FLAG_NEED_REPLY, &r), 0);
        CU_ASSERT_EQUAL(r.p.u64, 0);
        close(p[1]);
        if (round == 0) {
            close(p[0]);                    /* the reader is gone */
        }
        CU_ASSERT(vufe_add(fe, 0, &b, 1, false) >= 0);
        CU_ASSERT(vufe_kick(fe, 0) == 0);
        CU_ASSERT_EQUAL(reap_polled(fe, 0, &id, &used), 1);
        if (round == 1) {
            uint64_t c = 0;
            struct pollfd pfd = { p[0], POLLIN, 0 };

            CU_ASSERT_EQUAL(poll(&pfd, 1, 5000), 1);
            CU_ASSERT_EQUAL(read(p[0], &c, sizeof(c)), (ssize_t)sizeof(c));
            CU_ASSERT_EQUAL(c, 1);
            close(p[0]);
        }
    }
    vufe_free(fe);
    itest_stop(&t);
    vu_backend_get_stats(t.h.be, &st);
    CU_ASSERT_EQUAL(st.q[0].completions, 2);
    CU_ASSERT_EQUAL(st.q[0].calls_eventfd, 2);
    itest_free(&t);
    sigaction(SIGPIPE, &saved, NULL);
}

/* The fd of vufe's guest memory, found as any open fd of it. */
static int vufe_memfd(void)
{
    char path[64], link[128];

    for (int fd = 3; fd < 1024; fd++) {
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, link, sizeof(link) - 1);
        if (n > 0) {
            link[n] = '\0';
            if (strstr(link, "memfd:vufe-guest")) {
                return fd;
            }
        }
    }
    return -1;
}

/* A front-end that truncates its guest memory under a request's writable
 * buffer: with the SIGBUS guard, the device's write lands on a private
 * zero page, the request completes, and the back-end closes the
 * connection with a line at the end of that batch, with no further
 * message (the completion is a calendar event, and with eventfd kicks no
 * message comes at all), where vusim used to end by SIGBUS. */
static void test_memory_shrunk_under_request(void)
{
    struct itest t;
    struct vufe *fe;
    uint64_t in, out;
    uint32_t id, used;
    struct vu_msg r;
    uint8_t *pi;
    int rc = 0, fd;

    CU_ASSERT_EQUAL_FATAL(vu_memguard_install(), 0);
    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_AUTO), 0);
    fe = open_fe(&t, 1);
    CU_ASSERT_FATAL(fe != NULL);
    in = vufe_alloc(fe, 64, 64);
    CU_ASSERT_FATAL(vufe_alloc(fe, 9u << 20, 4096) != 0);   /* skip to 9 MiB */
    out = vufe_alloc(fe, 64, 64);
    CU_ASSERT_FATAL(in != 0 && out != 0 && out >= (9u << 20));
    pi = vufe_ptr(fe, in, 64);
    memset(pi, 0x5a, 64);
    fd = vufe_memfd();
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(ftruncate(fd, 8u << 20) == 0);   /* out is gone */
    struct vufe_buf b[2] = { { in, 64, false }, { out, 64, true } };
    CU_ASSERT(vufe_add(fe, 0, b, 2, false) >= 0);
    /* An in-band kick whose ack is held for the calendar (the device's
     * completion runs first) may see the close instead: answered by the
     * close, as a request the front-end waits on must be. */
    rc = vufe_kick(fe, 0);
    CU_ASSERT(rc == 0 || rc == -ENOTCONN || rc == -ECONNRESET ||
              rc == -EPIPE);
    CU_ASSERT_EQUAL(reap_polled(fe, 0, &id, &used), 1);
    CU_ASSERT_EQUAL(used, 64);
    CU_ASSERT(itest_peer_closed(vufe_sock(fe), 5000));
    CU_ASSERT(vufe_request(fe, VU_REQ_GET_FEATURES, NULL, 0, NULL, 0, 0,
                           &r) < 0);
    vufe_free(fe);
    itest_stop(&t);
    CU_ASSERT_EQUAL(t.dev->completed, 1);
    itest_free(&t);
}

/* --inband=off does not offer it; --inband=on refuses a front-end that
 * declines it. */
static void test_inband_option(void)
{
    struct itest t;
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err = 0;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_OFF), 0);
    itest_fe_cfg(&t, &cfg, 1);
    cfg.notify = VUFE_NOTIFY_EVENTFD;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_FATAL(fe != NULL);
    CU_ASSERT_FALSE(vufe_offered_protocol_features(fe) &
                    VU_BIT(VU_PF_INBAND_NOTIFICATIONS));
    itest_roundtrip(fe, 0, 64, 1);
    vufe_free(fe);
    itest_stop(&t);
    itest_free(&t);

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, LAT, 1, VU_INBAND_ON), 0);
    itest_fe_cfg(&t, &cfg, 1);
    cfg.notify = VUFE_NOTIFY_EVENTFD;
    cfg.protocol_features &= ~VU_BIT(VU_PF_INBAND_NOTIFICATIONS);
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_PTR_NULL(fe);
    CU_ASSERT(err < 0);
    vufe_free(fe);
    itest_stop(&t);
    itest_free(&t);
}

/* ---- zero-time work before the kick's ack ---------------------------- */

/* The messages the back-end sends, in order (the loop thread writes,
 * the test reads after itest_stop joins it). */
struct sent_log {
    int n;
    struct { enum vu_obs_dir dir; uint32_t req; } m[64];
};

static void sent_msg(void *ctx, enum vu_obs_dir dir, const struct vu_msg *m)
{
    struct sent_log *l = ctx;

    if ((dir == VU_OBS_BE_REPLY || dir == VU_OBS_BE_REQ) && l->n < 64) {
        l->m[l->n].dir = dir;
        l->m[l->n].req = m->hdr.request;
        l->n++;
    }
}

/* Index of the first sent message that is @dir/@req, or -1. */
static int sent_find(const struct sent_log *l, enum vu_obs_dir dir,
                     uint32_t req)
{
    for (int i = 0; i < l->n; i++) {
        if (l->m[i].dir == dir && l->m[i].req == req) {
            return i;
        }
    }
    return -1;
}

/* One in-band request to an echo device of @latency; where the call went
 * relative to the kick's ack. */
static int call_vs_ack(sim_time_t latency)
{
    static const struct vu_obs_ops ops = { .msg = sent_msg };
    struct sent_log log = { 0 };
    struct vufe_cfg cfg;
    struct itest t;
    struct vufe *fe;
    uint32_t id, used;
    int err, call, ack;

    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, latency, 1, VU_INBAND_ON), 0);
    vu_backend_set_observer(t.h.be, &ops, &log);   /* before it connects */
    itest_fe_cfg(&t, &cfg, 1);
    cfg.notify = VUFE_NOTIFY_INBAND;
    cfg.strict_order = true;
    cfg.event_idx = false;
    fe = vufe_open(&cfg, &err);
    CU_ASSERT_FATAL(fe != NULL);
    struct vufe_buf b = { vufe_alloc(fe, 64, 16), 64, true };

    CU_ASSERT(vufe_add(fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vufe_kick(fe, 0), 0);
    CU_ASSERT_EQUAL(vufe_reap_wait(fe, 0, &id, &used, 5000), 1);
    vufe_free(fe);
    itest_stop(&t);
    call = sent_find(&log, VU_OBS_BE_REQ, VU_BREQ_VRING_CALL);
    ack = sent_find(&log, VU_OBS_BE_REPLY, VU_REQ_VRING_KICK);
    itest_free(&t);
    CU_ASSERT(call >= 0 && ack >= 0);
    return call < ack ? -1 : 1;
}

/*
 * Without time travel, a request the device completes at the kick's own
 * simulated time has its call sent before the kick's ack (the front-end
 * then need not sleep for it); one that completes later is called after.
 * Both orders come from the code, not from host timing.
 */
static void test_zero_time_call_before_ack(void)
{
    CU_ASSERT_EQUAL(call_vs_ack(0), -1);
    CU_ASSERT_EQUAL(call_vs_ack(1000 * SIM_NS), 1);
}

CU_TestInfo backend_tests[] = {
    { "negotiation", test_negotiation },
    { "roundtrip_and_modes", test_roundtrip_and_modes },
    { "multiqueue", test_multiqueue },
    { "indirect_split_memory", test_indirect_split_memory },
    { "event_idx", test_event_idx },
    { "stop_restart", test_stop_restart },
    { "disconnect_reconnect", test_disconnect_reconnect },
    { "driver_reload", test_driver_reload },
    { "reset_device", test_reset_device },
    { "mem_slots", test_mem_slots },
    { "kick_crossing_call", test_kick_crossing_call },
    { "qemu_like_frontend", test_qemu_like_frontend },
    { "inband_option", test_inband_option },
    { "nofd_kick_polling", test_nofd_kick_polling },
    { "call_pipe_reader_gone", test_call_pipe_reader_gone },
    { "memory_shrunk_under_request", test_memory_shrunk_under_request },
    { "zero_time_call_before_ack", test_zero_time_call_before_ack },
    CU_TEST_INFO_NULL,
};
