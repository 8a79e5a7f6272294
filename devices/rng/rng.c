/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng model. The generator is xoshiro256** 1.0 (sim/rng.h), seeded
 * from --seed through SplitMix64; each request of n bytes consumes
 * ceil(n / 8) words, written little-endian with the last one truncated.
 * Bytes are generated when a request is popped, so the stream follows pop
 * order; the request completes at the time devices/rng/rng.h describes.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/faults/faults.h"
#include "devices/rng/rng.h"
#include "sim/log.h"
#include "sim/rng.h"

#define RNG_CHUNK 4096u     /* a multiple of 8: chunks don't split words */
#define RNG_PRIO  0

_Static_assert(RNG_CHUNK % 8 == 0, "chunks must hold whole words");

enum { RQ_USED };

struct dev_rng {
    struct dev dev;                 /* first: what the host sees */
    uint64_t seed;
    uint64_t rate;                  /* bytes/s, 0 = unlimited */
    uint64_t max_request;           /* bytes, 0 = the whole buffer */
    struct vusim_rng rng;
    sim_time_t busy_until;
    uint64_t requests, bytes, completed, cancelled, write_errors;
    struct faults_set faults;
    uint8_t buf[RNG_CHUNK];
};

/* Fault actions, in the order of rng_fault_actions[]. */
enum rng_act { RA_SHORT, RA_DELAY, RA_ERROR, RA_NONE };

#define K(k) FAULTS_KEY(FAULTS_K_##k)
/* short: at most bytes= bytes (fewer than asked); delay: completes
 * delay= later; error: completes with nothing written (used 0), the only
 * failure virtio-rng can express. Requests are on=read. */
static const struct faults_action rng_fault_actions[] = {
    [RA_SHORT] = { "short", K(BYTES), K(BYTES), false, 0 },
    [RA_DELAY] = { "delay", K(DELAY), K(DELAY), false, 0 },
    [RA_ERROR] = { "error", 0, 0, false, 0 },
    [RA_NONE] = { NULL, 0, 0, false, 0 },
};
#undef K

static struct dev_rng *to_rng(struct dev *d)
{
    return container_of(d, struct dev_rng, dev);
}

static const struct dev_optdesc rng_opts[] = {
    { "seed", "N", "seed of the byte stream (default 0)" },
    { "rate", "BYTES_PER_SEC", "K/M/G = 2^10.. (default 0 = unlimited)" },
    { "max-request", "BYTES", "fill at most this much of each buffer "
      "(default: all of it)" },
    DEV_FAULT_OPTDESC,
    { NULL, NULL, NULL },
};

/* Fill the request's writable part; returns the bytes written. */
static uint32_t rng_fill(struct dev_rng *r, struct dev_req *req, uint32_t n)
{
    uint32_t done = 0;

    while (done < n) {
        uint32_t k = n - done < RNG_CHUNK ? n - done : RNG_CHUNK;
        vusim_rng_fill(&r->rng, r->buf, k);
        if (dev_req_write(req, done, r->buf, k) != 0) {
            r->write_errors++;
            break;
        }
        done += k;
    }
    return done;
}

static void rng_done(struct sim_cal *cal, struct sim_event *ev)
{
    struct dev_req *req = container_of(ev, struct dev_req, ev);

    to_rng(req->dev)->completed++;
    dev_req_complete(req, (uint32_t)req->dev_data[RQ_USED]);
}

static void rng_schedule(struct dev_rng *r, struct dev_req *req, uint32_t n,
                         sim_time_t extra)
{
    sim_time_t now = sim_cal_now(r->dev.cal), t, done;
    sim_time_t start = r->busy_until > now ? r->busy_until : now;

    if (sim_time_for_bytes(n, r->rate, &t) || sim_time_add(start, t, &done)) {
        done = SIM_TIME_MAX;
    }
    r->busy_until = done;
    if (sim_time_add(done, extra, &done)) {
        done = SIM_TIME_MAX;
    }
    sim_event_init(&req->ev, rng_done, NULL);
    if (sim_cal_at(r->dev.cal, &req->ev, done, RNG_PRIO) != 0) {
        VUSIM_ERR("rng", "cannot schedule a completion; completing now");
        rng_done(r->dev.cal, &req->ev);
    }
}

/* The rule that fires for @req (every request is on=read), or NULL. */
static const struct faults_rule *rng_fault_match(struct dev_rng *r,
                                                 struct dev_req *req)
{
    struct faults_req q = { .op = FAULTS_OP_READ, .queue = req->queue,
                            .now = sim_cal_now(r->dev.cal) };
    struct faults_fire f;

    if (r->faults.n == 0 || !faults_match(&r->faults, &q, &f)) {
        return NULL;
    }
    dev_fault_report(req, &f);
    return f.rule;
}

static void rng_avail(struct dev *d, uint16_t queue)
{
    struct dev_rng *r = to_rng(d);
    struct dev_req *req;

    while ((req = dev_pop(d, queue)) != NULL) {
        uint32_t n = req->wr_len;
        const struct faults_rule *f = rng_fault_match(r, req);
        sim_time_t extra = 0;

        if (r->max_request && n > r->max_request) {
            n = (uint32_t)r->max_request;
        }
        if (f && f->action == RA_SHORT && f->p[FAULTS_K_BYTES] < n) {
            n = (uint32_t)f->p[FAULTS_K_BYTES];
        } else if (f && f->action == RA_ERROR) {
            n = 0;
        } else if (f && f->action == RA_DELAY) {
            extra = f->p[FAULTS_K_DELAY];
        }
        n = rng_fill(r, req, n);
        req->dev_data[RQ_USED] = n;
        r->requests++;
        r->bytes += n;
        rng_schedule(r, req, n, extra);
    }
}

static void rng_cancel(struct dev *d, struct dev_req *req)
{
    if (sim_event_pending(&req->ev)) {
        sim_cal_cancel(d->cal, &req->ev);
    }
    to_rng(d)->cancelled++;
}

static void rng_reset(struct dev *d)
{
    struct dev_rng *r = to_rng(d);

    vusim_rng_seed(&r->rng, r->seed);
    r->busy_until = 0;
}

static void rng_describe(struct dev *d, struct dev_req *req,
                         struct faults_req *out)
{
    *out = (struct faults_req){ .op = FAULTS_OP_READ, .queue = req->queue,
                                .now = sim_cal_now(d->cal) };
}

static struct faults_set *rng_faults(struct dev *d)
{
    return &to_rng(d)->faults;
}

static int rng_stats_json(struct dev *d, char *buf, size_t len)
{
    const struct dev_rng *r = to_rng(d);
    int n = snprintf(buf, len,
        "\"seed\": %" PRIu64 ", \"requests\": %" PRIu64 ", "
        "\"bytes\": %" PRIu64 ", \"completed\": %" PRIu64 ", "
        "\"cancelled\": %" PRIu64 ", \"write_errors\": %" PRIu64,
        r->seed, r->requests, r->bytes, r->completed, r->cancelled,
        r->write_errors);

    if (n >= 0 && (size_t)n < len) {
        int m = faults_stats_json(&r->faults, buf + n, len - (size_t)n);
        n = m < 0 ? m : n + m;
    }
    return (n < 0 || (size_t)n >= len) ? -ENOSPC : n;
}

static int rng_parse(struct dev_rng *r, const struct dev_opt *opts,
                     size_t n, char *err, size_t errlen)
{
    const struct dev_opt *o;
    int rc = dev_opts_check(&dev_rng_ops, opts, n, err, errlen);

    if (!rc && (o = dev_opt_find(opts, n, "seed"))) {
        rc = dev_opt_u64(o, 0, UINT64_MAX, &r->seed, err, errlen);
    }
    if (!rc && (o = dev_opt_find(opts, n, "rate"))) {
        rc = dev_opt_bytes(o, 0, UINT64_MAX, &r->rate, err, errlen);
    }
    if (!rc && (o = dev_opt_find(opts, n, "max-request"))) {
        rc = dev_opt_bytes(o, 1, UINT32_MAX, &r->max_request, err, errlen);
    }
    return rc;
}

static void rng_destroy(struct dev *d)
{
    if (d) {
        faults_set_fini(&to_rng(d)->faults);
        free(to_rng(d));
    }
}

static int rng_create(struct sim_cal *cal, const struct dev_opt *opts,
                      size_t nopts, struct dev **out, char *err,
                      size_t errlen)
{
    struct dev_rng *r = calloc(1, sizeof(*r));
    int rc;

    if (!r) {
        if (err && errlen) {
            snprintf(err, errlen, "rng: out of memory");
        }
        return -ENOMEM;
    }
    rc = rng_parse(r, opts, nopts, err, errlen);
    if (!rc) {
        rc = dev_faults_create(&dev_rng_ops, opts, nopts, &r->faults, err,
                               errlen);
    }
    if (rc) {
        free(r);
        return rc;
    }
    r->dev.ops = &dev_rng_ops;
    r->dev.cal = cal;
    r->dev.num_queues = 1;
    r->dev.queue_size_max = DEV_RNG_QUEUE_SIZE_MAX;
    vusim_rng_seed(&r->rng, r->seed);
    *out = &r->dev;
    return 0;
}

const struct dev_ops dev_rng_ops = {
    .name = "rng",
    .virtio_id = DEV_RNG_VIRTIO_ID,
    .opts = rng_opts,
    .create = rng_create,
    .destroy = rng_destroy,
    .avail = rng_avail,
    .cancel = rng_cancel,
    .reset = rng_reset,
    .stats_json = rng_stats_json,
    .fault_actions = rng_fault_actions,
    .faults = rng_faults,
    .describe = rng_describe,
    .vhost_user_type = "rng",     /* QEMU's schema: no features for it */
    .seed_opt = "seed",
};
