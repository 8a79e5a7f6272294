/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/echodev.h"

static struct echodev *to_echo(struct dev *d)
{
    return container_of(d, struct echodev, dev);
}

static void echo_done(struct sim_cal *cal, struct sim_event *ev)
{
    struct dev_req *req = ev->arg;
    struct echodev *e = to_echo(req->dev);
    uint32_t n = req->rd_len < req->wr_len ? req->rd_len : req->wr_len;
    uint8_t buf[4096];
    uint32_t off = 0;

    while (off < n) {
        uint32_t c = n - off < sizeof(buf) ? n - off : sizeof(buf);

        if (dev_req_read(req, off, buf, c) < 0 ||
            dev_req_write(req, off, buf, c) < 0) {
            n = off;
            break;
        }
        off += c;
    }
    if (e->completed < ECHODEV_MAX_LOG) {
        e->done_at[e->completed] = sim_cal_now(cal);
    }
    e->completed++;
    dev_req_complete(req, n);
}

static void echo_tick(struct sim_cal *cal, struct sim_event *ev)
{
    (void)cal;
    to_echo(ev->arg)->ticks++;
}

static void echo_avail(struct dev *d, uint16_t q)
{
    struct echodev *e = to_echo(d);
    struct dev_req *req;

    e->avail_calls++;
    if (e->event_per_avail) {
        sim_cal_post(d->cal, e->latency, 0, echo_tick, d);
    }
    while ((req = dev_pop(d, q)) != NULL) {
        e->popped++;
        sim_event_init(&req->ev, echo_done, req);
        sim_cal_after(d->cal, &req->ev, e->latency, 0);
    }
}

static void echo_cancel(struct dev *d, struct dev_req *req)
{
    struct echodev *e = to_echo(d);

    sim_cal_cancel(d->cal, &req->ev);
    e->cancelled++;
}

static void echo_start(struct dev *d, uint16_t q)
{
    to_echo(d)->started_mask |= 1ull << q;
}

static void echo_stop(struct dev *d, uint16_t q)
{
    to_echo(d)->stopped_mask |= 1ull << q;
}

static void echo_reset(struct dev *d)
{
    to_echo(d)->resets++;
}

static int echo_features(struct dev *d, uint64_t f)
{
    to_echo(d)->features_seen = f;
    return 0;
}

static int echo_get_config(struct dev *d, uint32_t off, void *buf,
                           uint32_t len)
{
    memcpy(buf, to_echo(d)->config + off, len);
    return 0;
}

static int echo_set_config(struct dev *d, uint32_t off, const void *buf,
                           uint32_t len)
{
    memcpy(to_echo(d)->config + off, buf, len);
    return 0;
}

static void echo_destroy(struct dev *d)
{
    free(to_echo(d));
}

const struct dev_ops echodev_ops = {
    .name = "echo",
    .virtio_id = 0,
    .destroy = echo_destroy,
    .avail = echo_avail,
    .cancel = echo_cancel,
    .set_features = echo_features,
    .queue_start = echo_start,
    .queue_stop = echo_stop,
    .reset = echo_reset,
    .get_config = echo_get_config,
    .set_config = echo_set_config,
};

struct echodev *echodev_new(struct sim_cal *cal, uint16_t nq,
                            sim_time_t latency)
{
    struct echodev *e = calloc(1, sizeof(*e));

    if (!e) {
        return NULL;
    }
    e->dev.ops = &echodev_ops;
    e->dev.cal = cal;
    e->dev.features = 1ull << 0;    /* a device-specific bit to negotiate */
    e->dev.num_queues = nq;
    e->dev.queue_size_max = 1024;
    e->dev.config_size = sizeof(e->config);
    e->latency = latency;
    for (unsigned i = 0; i < sizeof(e->config); i++) {
        e->config[i] = (uint8_t)(0xa0 + i);
    }
    return e;
}

void echodev_free(struct echodev *e)
{
    free(e);
}
