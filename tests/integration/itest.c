/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sim/log.h"
#include "tests/integration/itest.h"

enum vufe_notify g_itest_mode;

static int quiet(void)
{
    /* Rejections are expected here; the suites check them, not the log. */
    if (!getenv("VUSIM_TEST_LOG")) {
        g_vusim_log_level = -1;
    }
    return 0;
}

int itest_init_inband(void)
{
    g_itest_mode = VUFE_NOTIFY_INBAND;
    return quiet();
}

int itest_init_eventfd(void)
{
    g_itest_mode = VUFE_NOTIFY_EVENTFD;
    return quiet();
}

int itest_start(struct itest *t, uint16_t nq, sim_time_t latency,
                int oneshot, enum vu_inband_mode inband)
{
    struct vu_backend_cfg cfg = { .inband = inband, .conn_id = 1 };

    memset(t, 0, sizeof(*t));
    t->h.loop = harness_loop_new();
    if (!t->h.loop) {
        return -1;
    }
    t->dev = echodev_new(vu_loop_cal(t->h.loop), nq, latency);
    if (!t->dev) {
        return -1;
    }
    return harness_start(&t->h, &t->dev->dev, &cfg, oneshot);
}

void itest_stop(struct itest *t)
{
    harness_stop(&t->h);
}

void itest_free(struct itest *t)
{
    harness_free(&t->h);
    echodev_free(t->dev);
}

void itest_fe_cfg(struct itest *t, struct vufe_cfg *cfg, unsigned nq)
{
    vufe_cfg_init(cfg);
    cfg->path = t->h.path;
    cfg->num_queues = nq;
    cfg->notify = g_itest_mode;
    cfg->config_size = 16;
}

void itest_roundtrip(struct vufe *fe, unsigned q, uint32_t len, int seed)
{
    uint64_t in = vufe_alloc(fe, len, 16), out = vufe_alloc(fe, len, 16);
    struct vufe_buf b[2] = { { in, len, false }, { out, len, true } };
    uint8_t *pi = vufe_ptr(fe, in, len), *po = vufe_ptr(fe, out, len);
    uint32_t id, used;
    int head;

    CU_ASSERT_FATAL(in != 0 && out != 0 && pi && po);
    for (uint32_t i = 0; i < len; i++) {
        pi[i] = (uint8_t)(seed + i * 7);
    }
    memset(po, 0, len);
    head = vufe_add(fe, q, b, 2, false);
    CU_ASSERT_FATAL(head >= 0);
    CU_ASSERT_EQUAL_FATAL(vufe_kick(fe, q), 0);
    CU_ASSERT_EQUAL_FATAL(vufe_reap_wait(fe, q, &id, &used, 5000), 1);
    CU_ASSERT_EQUAL(id, (uint32_t)head);
    CU_ASSERT_EQUAL(used, len);
    CU_ASSERT(memcmp(pi, po, len) == 0);
}

bool itest_peer_closed(int sock, int ms)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };
    char junk[256];

    while (poll(&p, 1, ms) == 1) {
        ssize_t n = recv(sock, junk, sizeof(junk), MSG_DONTWAIT);

        if (n == 0) {
            return true;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            return errno == ECONNRESET;
        }
    }
    return false;
}
