/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/devices/fakehost.h"

struct fakehost {
    struct dev *dev;
    struct fakehost_req **reqs;     /* by id */
    unsigned nreqs, cap;
    int *order;                     /* ids in completion order */
    unsigned ndone;
    unsigned violations;
    bool in_avail;
};

static struct fakehost_req *to_freq(struct dev_req *req)
{
    return container_of(req, struct fakehost_req, req);
}

static struct fakehost *fh_of(struct dev *dev)
{
    return dev->host_ctx;
}

static struct dev_req *fh_pop(struct dev *dev, uint16_t queue)
{
    struct fakehost *fh = fh_of(dev);

    for (unsigned i = 0; i < fh->nreqs; i++) {
        struct fakehost_req *r = fh->reqs[i];
        if (!r->popped && r->req.queue == queue) {
            r->popped = true;
            return &r->req;
        }
    }
    return NULL;
}

static int fh_access(const struct fakehost_req *r, uint32_t size,
                     uint64_t off, size_t len)
{
    if (r->fail_io) {
        return -EIO;
    }
    if (!r->popped || r->completed || r->cancelled || off > size ||
        len > size - off) {
        return -ERANGE;
    }
    return 0;
}

static int fh_read(struct dev_req *req, uint64_t off, void *buf, size_t len)
{
    struct fakehost_req *r = to_freq(req);
    int rc = fh_access(r, req->rd_len, off, len);

    if (rc == 0 && len > 0) {
        memcpy(buf, r->rd + off, len);
    }
    return rc;
}

static int fh_write(struct dev_req *req, uint64_t off, const void *buf,
                    size_t len)
{
    struct fakehost_req *r = to_freq(req);
    int rc = fh_access(r, req->wr_len, off, len);

    if (rc == 0 && len > 0) {
        memcpy(r->wr + off, buf, len);
    }
    return rc;
}

static void fh_complete(struct dev_req *req, uint32_t used_len)
{
    struct fakehost_req *r = to_freq(req);
    struct fakehost *fh = fh_of(req->dev);

    if (!r->popped || r->completed || r->cancelled ||
        used_len > req->wr_len || fh->in_avail) {
        fh->violations++;
    }
    if (r->completed) {
        return;
    }
    r->completed = true;
    r->used_len = used_len;
    r->done_at = sim_cal_now(req->dev->cal);
    fh->order[fh->ndone++] = r->id;
}

static const struct dev_host_ops fakehost_ops = {
    .pop = fh_pop,
    .read = fh_read,
    .write = fh_write,
    .complete = fh_complete,
};

int fakehost_create_dev(const struct dev_ops *ops, struct sim_cal *cal,
                        const char *const *args, struct dev **out,
                        char *err, size_t errlen)
{
    struct dev_opt opts[16];
    char names[16][64];
    size_t n = 0;

    for (; args && args[n]; n++) {
        const char *eq = strchr(args[n], '=');
        size_t len = eq ? (size_t)(eq - args[n]) : strlen(args[n]);

        if (n == 16 || len >= sizeof(names[n])) {
            return -E2BIG;
        }
        memcpy(names[n], args[n], len);
        names[n][len] = '\0';
        opts[n].name = names[n];
        opts[n].value = eq ? eq + 1 : NULL;
    }
    return ops->create(cal, opts, n, out, err, errlen);
}

struct fakehost *fakehost_new(struct dev *dev)
{
    struct fakehost *fh = calloc(1, sizeof(*fh));

    if (!fh) {
        return NULL;
    }
    fh->dev = dev;
    dev->host = &fakehost_ops;
    dev->host_ctx = fh;
    return fh;
}

void fakehost_free(struct fakehost *fh)
{
    if (!fh) {
        return;
    }
    for (unsigned i = 0; i < fh->nreqs; i++) {
        free(fh->reqs[i]->rd);
        free(fh->reqs[i]->wr);
        free(fh->reqs[i]);
    }
    free(fh->reqs);
    free(fh->order);
    free(fh);
}

static int fh_grow(struct fakehost *fh)
{
    unsigned cap = fh->cap ? fh->cap * 2 : 16;
    struct fakehost_req **reqs = realloc(fh->reqs, cap * sizeof(*reqs));
    int *order;

    if (!reqs) {
        return -ENOMEM;
    }
    fh->reqs = reqs;
    order = realloc(fh->order, cap * sizeof(*order));
    if (!order) {
        return -ENOMEM;
    }
    fh->order = order;
    fh->cap = cap;
    return 0;
}

int fakehost_add(struct fakehost *fh, uint16_t queue, const void *rd,
                 uint32_t rd_len, uint32_t wr_len)
{
    struct fakehost_req *r;

    if (fh->nreqs == fh->cap && fh_grow(fh)) {
        return -ENOMEM;
    }
    r = calloc(1, sizeof(*r));
    if (!r || !(r->rd = malloc(rd_len ? rd_len : 1)) ||
        !(r->wr = calloc(1, wr_len ? wr_len : 1))) {
        if (r) {
            free(r->rd);
        }
        free(r);
        return -ENOMEM;
    }
    if (rd_len) {
        memcpy(r->rd, rd, rd_len);
    }
    r->req.dev = fh->dev;
    r->req.queue = queue;
    r->req.rd_len = rd_len;
    r->req.wr_len = wr_len;
    r->id = (int)fh->nreqs;
    fh->reqs[fh->nreqs++] = r;
    return r->id;
}

struct fakehost_req *fakehost_get(struct fakehost *fh, int id)
{
    if (id < 0 || (unsigned)id >= fh->nreqs) {
        return NULL;
    }
    return fh->reqs[id];
}

void fakehost_fail_io(struct fakehost *fh, int id)
{
    struct fakehost_req *r = fakehost_get(fh, id);

    if (r) {
        r->fail_io = true;
    }
}

void fakehost_kick(struct fakehost *fh, uint16_t queue)
{
    fh->in_avail = true;
    fh->dev->ops->avail(fh->dev, queue);
    fh->in_avail = false;
}

int fakehost_cancel(struct fakehost *fh, int id)
{
    struct fakehost_req *r = fakehost_get(fh, id);

    if (!r || !r->popped || r->completed || r->cancelled) {
        return -ENOENT;
    }
    fh->dev->ops->cancel(fh->dev, &r->req);
    r->cancelled = true;
    return 0;
}

unsigned fakehost_ncompleted(const struct fakehost *fh)
{
    return fh->ndone;
}

int fakehost_completed_id(const struct fakehost *fh, unsigned i)
{
    return i < fh->ndone ? fh->order[i] : -1;
}

unsigned fakehost_inflight(const struct fakehost *fh)
{
    unsigned n = 0;

    for (unsigned i = 0; i < fh->nreqs; i++) {
        const struct fakehost_req *r = fh->reqs[i];
        n += r->popped && !r->completed && !r->cancelled;
    }
    return n;
}

unsigned fakehost_violations(const struct fakehost *fh)
{
    return fh->violations;
}

const char *fakehost_stats_missing(struct dev *dev, const char *const *want)
{
    static char buf[4096];
    char tiny[8];
    int n = dev->ops->stats_json(dev, buf, sizeof(buf));

    if (n <= 0 || (size_t)n != strlen(buf)) {
        return "length";
    }
    for (size_t i = 0; want[i]; i++) {
        if (!strstr(buf, want[i])) {
            return want[i];
        }
    }
    return dev->ops->stats_json(dev, tiny, sizeof(tiny)) == -ENOSPC
               ? NULL : "ENOSPC";
}
