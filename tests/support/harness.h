/* SPDX-License-Identifier: MIT */
/*
 * tests/support/harness.h - a real back-end on a real socket, in a thread
 *
 * The back-end (loop, vu_backend, vu_server on a fresh socket path) runs in
 * its own thread, as it would in its own process; the test drives it from
 * the main thread with the reference front-end. State is read only after
 * harness_stop() has joined the thread, so nothing races.
 */
#ifndef VUSIM_TESTS_HARNESS_H
#define VUSIM_TESTS_HARNESS_H

#include <pthread.h>

#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"
#include "cosim/backend/server.h"

struct harness {
    char path[108];
    struct vu_loop *loop;
    struct vu_backend *be;
    struct vu_server *srv;
    struct dev *dev;
    pthread_t thread;
    int rc;
};

/* Create loop and back-end for @dev (built on harness_cal()), listen, and
 * start serving. @oneshot: the loop ends when the first front-end leaves. */
int harness_start(struct harness *h, struct dev *dev,
                  const struct vu_backend_cfg *cfg, int oneshot);

/* A calendar to build the device on before harness_start(). */
struct vu_loop *harness_loop_new(void);

/* Stop the loop, join the thread. Stats stay readable until free. */
void harness_stop(struct harness *h);

/* Free server, back-end and loop (not the device). */
void harness_free(struct harness *h);

#endif
