/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/harness.h"

static void *harness_main(void *arg)
{
    struct harness *h = arg;

    h->rc = vu_loop_run(h->loop);
    return NULL;
}

/* The loop polls as the vusim program runs it, so the integration tier
 * tests what runs. */
struct vu_loop *harness_loop_new(void)
{
    struct vu_loop *loop = vu_loop_new(NULL);

    if (loop) {
        vu_loop_set_poll(loop, VUSIM_POLL_NS);
    }
    return loop;
}

int harness_start(struct harness *h, struct dev *dev,
                  const struct vu_backend_cfg *cfg, int oneshot)
{
    static unsigned counter;
    struct vu_backend_cfg def = { .inband = VU_INBAND_AUTO };
    int rc;

    snprintf(h->path, sizeof(h->path), "/tmp/vusim-test-%d-%u.sock",
             (int)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    h->dev = dev;
    h->be = vu_backend_new(h->loop, dev, cfg ? cfg : &def);
    if (!h->be) {
        return -ENOMEM;
    }
    rc = vu_server_listen(h->loop, h->be, h->path, &h->srv);
    if (rc < 0) {
        return rc;
    }
    vu_server_set_oneshot(h->srv, oneshot != 0);
    return pthread_create(&h->thread, NULL, harness_main, h) ? -EAGAIN : 0;
}

void harness_stop(struct harness *h)
{
    char b = 1;

    if (write(vu_loop_stop_fd(h->loop), &b, 1) < 0) {
        perror("harness_stop");
    }
    pthread_join(h->thread, NULL);
}

void harness_free(struct harness *h)
{
    vu_server_free(h->srv);
    vu_backend_free(h->be);
    vu_loop_free(h->loop);
}
