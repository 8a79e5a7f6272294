/* SPDX-License-Identifier: MIT */
/*
 * The demo's latency probe (cosim/program/demo.h): a device between the
 * back-end and the model.
 *
 * To the back-end the probe is the device: it pops the back-end's requests
 * (outer requests). To the model the probe is the host: for each outer
 * request it hands the model a shadow request of its own, forwards reads,
 * writes and the completion to the outer one, and timestamps pop and
 * completion on the calendar. The outer request's dev_data[0] (free for the
 * device, and the probe is the device) points at its shadow, so a cancel
 * finds it without a search.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/program/demo.h"
#include "devices/work.h"

struct probe_req {
    struct dev_req in;          /* what the wrapped device sees */
    struct dev_req *outer;      /* the back-end's request */
    sim_time_t t0;              /* simulated time of the pop */
    unsigned cls;
    struct probe_req *next;     /* free list, or list of all */
    struct probe_req *all;
};

struct probe_samples {
    sim_time_t *v;
    size_t n, cap;
};

struct vusim_probe {
    struct dev dev;             /* first: what the back-end sees */
    struct dev_ops ops;         /* inner's table with our hooks */
    struct dev_host_ops host;   /* what the inner device calls */
    struct dev *inner;
    struct probe_req *free_reqs;
    struct probe_req *all_reqs;
    struct probe_samples lat[VUSIM_PROBE_NCLASS];
};

static struct vusim_probe *to_probe(struct dev *d)
{
    return container_of(d, struct vusim_probe, dev);
}

static struct probe_req *to_preq(struct dev_req *r)
{
    return container_of(r, struct probe_req, in);
}

/* ---- host side: what the wrapped device calls ------------------------ */

static struct probe_req *preq_get(struct vusim_probe *p)
{
    struct probe_req *s = p->free_reqs;

    if (s) {
        p->free_reqs = s->next;
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (s) {
        s->all = p->all_reqs;
        p->all_reqs = s;
    }
    return s;
}

static void preq_put(struct vusim_probe *p, struct probe_req *s)
{
    s->outer = NULL;
    s->next = p->free_reqs;
    p->free_reqs = s;
}

/* The request's class, as the device's guest side tells them apart. */
static unsigned classify(const struct dev *inner, struct dev_req *outer)
{
    const struct dev_work_ops *w = inner->ops->work;
    unsigned cls = w && w->classify ? w->classify(outer) : 0;

    return cls < VUSIM_PROBE_NCLASS ? cls : VUSIM_PROBE_NCLASS - 1;
}

static struct dev_req *probe_host_pop(struct dev *inner, uint16_t queue)
{
    struct vusim_probe *p = inner->host_ctx;
    struct dev_req *outer = dev_pop(&p->dev, queue);
    struct probe_req *s;

    if (!outer) {
        return NULL;
    }
    s = preq_get(p);
    if (!s) {
        /* No memory for the shadow: give the request back as failed
         * rather than lose it; the model sees an empty queue. */
        dev_req_complete(outer, 0);
        return NULL;
    }
    memset(&s->in, 0, sizeof(s->in));
    s->in.dev = inner;
    s->in.queue = queue;
    s->in.rd_len = outer->rd_len;
    s->in.wr_len = outer->wr_len;
    s->outer = outer;
    s->t0 = sim_cal_now(p->dev.cal);
    s->cls = classify(inner, outer);
    outer->dev_data[0] = (uint64_t)(uintptr_t)s;
    return &s->in;
}

static int probe_host_read(struct dev_req *req, uint64_t off, void *buf,
                           size_t len)
{
    return dev_req_read(to_preq(req)->outer, off, buf, len);
}

static int probe_host_write(struct dev_req *req, uint64_t off,
                            const void *buf, size_t len)
{
    return dev_req_write(to_preq(req)->outer, off, buf, len);
}

static void samples_add(struct probe_samples *s, sim_time_t t)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        sim_time_t *v = realloc(s->v, cap * sizeof(*v));

        if (!v) {
            return;         /* a statistic lost, never a request */
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = t;
}

static void probe_host_complete(struct dev_req *req, uint32_t used_len)
{
    struct probe_req *s = to_preq(req);
    struct vusim_probe *p = req->dev->host_ctx;
    struct dev_req *outer = s->outer;

    samples_add(&p->lat[s->cls], sim_cal_now(p->dev.cal) - s->t0);
    preq_put(p, s);
    dev_req_complete(outer, used_len);
}

/* ---- device side: what the back-end calls ---------------------------- */

static void probe_avail(struct dev *d, uint16_t queue)
{
    struct dev *inner = to_probe(d)->inner;

    inner->ops->avail(inner, queue);
}

static void probe_cancel(struct dev *d, struct dev_req *outer)
{
    struct vusim_probe *p = to_probe(d);
    struct probe_req *s = (struct probe_req *)(uintptr_t)outer->dev_data[0];

    p->inner->ops->cancel(p->inner, &s->in);
    preq_put(p, s);
}

static int probe_set_features(struct dev *d, uint64_t features)
{
    struct dev *inner = to_probe(d)->inner;
    int rc = 0;

    if (inner->ops->set_features) {
        rc = inner->ops->set_features(inner, features);
    }

    if (rc == 0) {
        inner->acked_features = features;
    }
    return rc;
}

static void probe_queue_start(struct dev *d, uint16_t queue)
{
    struct dev *inner = to_probe(d)->inner;

    inner->ops->queue_start(inner, queue);
}

static void probe_queue_stop(struct dev *d, uint16_t queue)
{
    struct dev *inner = to_probe(d)->inner;

    inner->ops->queue_stop(inner, queue);
}

static void probe_reset(struct dev *d)
{
    struct dev *inner = to_probe(d)->inner;

    if (inner->ops->reset) {
        inner->ops->reset(inner);
    }
    inner->acked_features = 0;
}

static int probe_get_config(struct dev *d, uint32_t off, void *buf,
                            uint32_t len)
{
    struct dev *inner = to_probe(d)->inner;

    return inner->ops->get_config(inner, off, buf, len);
}

static int probe_set_config(struct dev *d, uint32_t off, const void *buf,
                            uint32_t len)
{
    struct dev *inner = to_probe(d)->inner;

    return inner->ops->set_config(inner, off, buf, len);
}

static int probe_stats_json(struct dev *d, char *buf, size_t len)
{
    struct dev *inner = to_probe(d)->inner;

    return inner->ops->stats_json(inner, buf, len);
}

static int probe_image_size(struct dev *d, uint64_t *bytes)
{
    struct dev *inner = to_probe(d)->inner;

    return inner->ops->image_size(inner, bytes);
}

static void probe_destroy(struct dev *d)
{
    struct vusim_probe *p = to_probe(d);

    p->inner->ops->destroy(p->inner);
    while (p->all_reqs) {
        struct probe_req *s = p->all_reqs;

        p->all_reqs = s->all;
        free(s);
    }
    for (unsigned i = 0; i < VUSIM_PROBE_NCLASS; i++) {
        free(p->lat[i].v);
    }
    free(p);
}

/* Our hooks where the inner device has one: the back-end derives what it
 * offers (CONFIG, for one) from which hooks are present. */
static void probe_ops_init(struct dev_ops *o, const struct dev_ops *in)
{
    *o = (struct dev_ops){
        .name = in->name,
        .virtio_id = in->virtio_id,
        .opts = in->opts,
        .create = in->create,
        .destroy = probe_destroy,
        .avail = probe_avail,
        .cancel = probe_cancel,
        /* Always, so the wrapped device's acked_features follow the
         * back-end's (set after set_features, cleared after reset). */
        .set_features = probe_set_features,
        .queue_start = in->queue_start ? probe_queue_start : NULL,
        .queue_stop = in->queue_stop ? probe_queue_stop : NULL,
        .reset = probe_reset,
        .get_config = in->get_config ? probe_get_config : NULL,
        .set_config = in->set_config ? probe_set_config : NULL,
        .stats_json = in->stats_json ? probe_stats_json : NULL,
        /* What describes the device is the inner one's. */
        .vhost_user_type = in->vhost_user_type,
        .vhost_user_features = in->vhost_user_features,
        .feature_names = in->feature_names,
        .aliases = in->aliases,
        .image_opt = in->image_opt,
        .seed_opt = in->seed_opt,
        .image_size = in->image_size ? probe_image_size : NULL,
        .decode = in->decode,
        .status_name = in->status_name,
        .channels = in->channels,
        .work = in->work,
    };
}

int vusim_probe_new(struct dev *inner, struct vusim_probe **out)
{
    struct vusim_probe *p = calloc(1, sizeof(*p));

    if (!p) {
        return -ENOMEM;
    }
    probe_ops_init(&p->ops, inner->ops);
    p->host = (struct dev_host_ops){
        .pop = probe_host_pop,
        .read = probe_host_read,
        .write = probe_host_write,
        .complete = probe_host_complete,
    };
    p->inner = inner;
    p->dev = (struct dev){
        .ops = &p->ops,
        .cal = inner->cal,
        .features = inner->features,
        .num_queues = inner->num_queues,
        .queue_size_max = inner->queue_size_max,
        .config_size = inner->config_size,
    };
    inner->host = &p->host;
    inner->host_ctx = p;
    *out = p;
    return 0;
}

struct dev *vusim_probe_dev(struct vusim_probe *p)
{
    return &p->dev;
}

void vusim_probe_free(struct vusim_probe *p)
{
    if (p) {
        probe_destroy(&p->dev);
    }
}

uint64_t vusim_probe_count(const struct vusim_probe *p, unsigned cls)
{
    return cls < VUSIM_PROBE_NCLASS ? p->lat[cls].n : 0;
}

static int cmp_time(const void *a, const void *b)
{
    sim_time_t x = *(const sim_time_t *)a, y = *(const sim_time_t *)b;

    return x < y ? -1 : x > y;
}

int vusim_probe_latency(const struct vusim_probe *p, unsigned cls,
                        unsigned permille, sim_time_t *out)
{
    const struct probe_samples *s;
    sim_time_t *v;
    size_t i;

    if (cls >= VUSIM_PROBE_NCLASS || permille > 1000) {
        return -EINVAL;
    }
    s = &p->lat[cls];
    if (s->n == 0) {
        return -ENOENT;
    }
    v = malloc(s->n * sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    memcpy(v, s->v, s->n * sizeof(*v));
    qsort(v, s->n, sizeof(*v), cmp_time);
    i = (s->n * permille + 999) / 1000;     /* nearest rank */
    *out = v[i ? i - 1 : 0];
    free(v);
    return 0;
}
