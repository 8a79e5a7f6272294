/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/itest.h - shared by the socket-level suites
 *
 * Each suite runs twice, once per notification mode, the way libevent runs
 * one binary per backend: the suite's init function sets g_itest_mode.
 */
#ifndef VUSIM_TESTS_ITEST_H
#define VUSIM_TESTS_ITEST_H

#include <CUnit/CUnit.h>

#include "cosim/frontend/vufe.h"
#include "tests/support/echodev.h"
#include "tests/support/harness.h"

/* The mode of the suite running now; written only by suite init. */
extern enum vufe_notify g_itest_mode;

int itest_init_inband(void);
int itest_init_eventfd(void);

/* A back-end on a fresh socket with an echo device of @nq queues. */
struct itest {
    struct harness h;
    struct echodev *dev;
};

int itest_start(struct itest *t, uint16_t nq, sim_time_t latency,
                int oneshot, enum vu_inband_mode inband);
/* Stop and join; stats are readable afterwards. */
void itest_stop(struct itest *t);
void itest_free(struct itest *t);

/* A front-end config for @t in the suite's mode. */
void itest_fe_cfg(struct itest *t, struct vufe_cfg *cfg, unsigned nq);

/* Submit one readable+writable chain of @len bytes filled with @seed,
 * kick, wait for the used element and check the echo. */
void itest_roundtrip(struct vufe *fe, unsigned q, uint32_t len, int seed);
/* Whether the peer closes @sock within @ms (end of file or a reset);
 * whatever it still sends meanwhile is read and dropped. */
bool itest_peer_closed(int sock, int ms);

extern CU_TestInfo backend_tests[];
extern CU_TestInfo badinput_tests[];
extern CU_TestInfo devices_tests[];
extern CU_TestInfo trace_itests[];
extern CU_TestInfo tt_tests[];
extern CU_TestInfo inflight_tests[];

#endif
