/* SPDX-License-Identifier: MIT */
/*
 * The ring side of the back-end: ring state, the device host interface
 * (pop, read, write, complete) and notifications in both directions.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cosim/backend/backend-internal.h"
#include "devices/faults/faults.h"
#include "sim/log.h"

#define SS "vu"

static struct vu_backend *host_be(struct dev *dev)
{
    return dev->host_ctx;
}

static struct vu_request *to_req(struct dev_req *dreq)
{
    return container_of(dreq, struct vu_request, dreq);
}

/* ---- the observer (observer.h) ---- */

/* The path a call takes, as vu_queue_notify() chooses it. */
void vu_obs_call(struct vu_queue *q)
{
    struct vu_backend *be = q->be;
    enum vu_obs_notify how = VU_OBS_NOTIFY_NONE;

    if (!be->observer || !be->observer->call) {
        return;
    }
    if (q->call_fd >= 0) {
        how = VU_OBS_NOTIFY_EVENTFD;
    } else if (vu_inband_ok(be)) {
        how = VU_OBS_NOTIFY_INBAND;
    }
    be->observer->call(be->observer_ctx, q->index, how);
}

void vu_obs_pop(struct vu_request *r)
{
    struct vu_backend *be = r->q->be;
    struct vu_obs_chain c = {
        .queue = r->q->index,
        .chain = &r->chain,
        .mem = &be->mem,
        .rd_len = r->dreq.rd_len,
        .wr_len = r->dreq.wr_len,
    };

    if (be->observer && be->observer->pop) {
        be->observer->pop(be->observer_ctx, &r->obs_data, &c);
    }
}

void vu_obs_req_free(struct vu_request *r)
{
    struct vu_backend *be = r->q->be;

    if (r->obs_data && be->observer && be->observer->req_free) {
        be->observer->req_free(be->observer_ctx, r->obs_data);
    }
    r->obs_data = NULL;
}

static void vu_obs_free_list(struct vu_request *r)
{
    for (; r; r = r->next) {
        vu_obs_req_free(r);
    }
}

void vu_backend_set_observer(struct vu_backend *be,
                             const struct vu_obs_ops *ops, void *ctx)
{
    for (uint16_t i = 0; i < VU_MAX_QUEUES; i++) {
        vu_obs_free_list(be->q[i].free_reqs);
        vu_obs_free_list(be->q[i].inflight);
    }
    be->observer = ops;
    be->observer_ctx = ops ? ctx : NULL;
}

int vu_queue_write_call_fd(struct vu_queue *q)
{
    int rc = vu_notify_write(q->call_fd, q->call_kind);

    /* A front-end gone or one that passed a full pipe: its loss, not a
     * reason to stop serving the others. */
    if (rc < 0) {
        VUSIM_WARN(SS, "conn %u: queue %u: call fd write failed (%s)",
                   q->be->cfg.conn_id, q->index, strerror(-rc));
    }
    return rc;
}

/* The call path is chosen per queue: an fd from the front-end wins. */
static void vu_queue_signal(struct vu_queue *q)
{
    struct vu_backend *be = q->be;
    struct vu_queue_stats *st = &be->st.q[q->index];

    if (q->call_fd >= 0) {
        (void)vu_queue_write_call_fd(q);
        st->calls_eventfd++;
        st->call_mode = VU_NOTIFY_EVENTFD;
    } else if (vu_inband_ok(be)) {
        vu_chan_call(q);
    } else {
        st->calls_suppressed++;   /* polling front-end, or no path yet */
    }
}

static void vu_queue_notify(struct vu_queue *q)
{
    struct vu_backend *be = q->be;

    vu_obs_call(q);
    if (be->obs && be->obs->call &&
        be->obs->call(be->obs_opaque, be, q->index)) {
        q->call_held = true;
        return;
    }
    vu_queue_signal(q);
}

unsigned vu_backend_release_calls(struct vu_backend *be)
{
    unsigned n = 0;

    for (uint16_t i = 0; i < be->nq; i++) {
        if (be->q[i].call_held) {
            be->q[i].call_held = false;
            vu_queue_signal(&be->q[i]);
            n++;
        }
    }
    return n;
}

/* ---- requests: the device host interface ------------------------------ */

static struct vu_request *vu_req_get(struct vu_queue *q)
{
    struct vu_request *r = q->free_reqs;

    if (r) {
        q->free_reqs = r->next;
        return r;
    }
    r = calloc(1, sizeof(*r));   /* warm-up only: reused afterwards */
    if (r) {
        vu_chain_init(&r->chain);
        r->q = q;
    }
    return r;
}

static void vu_req_put(struct vu_queue *q, struct vu_request *r)
{
    r->next = q->free_reqs;
    q->free_reqs = r;
}

static void vu_inflight_del(struct vu_queue *q, struct vu_request *r)
{
    for (struct vu_request **pp = &q->inflight; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            q->ninflight--;
            r->inflight = false;
            return;
        }
    }
}

static bool vu_queue_live(struct vu_queue *q)
{
    struct vu_backend *be = q->be;

    if (be->broken || !q->started || !q->enabled || q->vq.broken) {
        return false;
    }
    if (!vu_vq_ready(&q->vq, &be->mem) && vu_vq_map(&q->vq, &be->mem) < 0) {
        return false;
    }
    return true;
}

/* Pop one chain. With EVENT_IDX an empty ring re-arms avail_event and
 * looks once more, so a buffer added meanwhile is not missed. */
static int vu_pop_chain(struct vu_queue *q, struct vu_chain *ch)
{
    int rc = vu_vq_pop(&q->vq, &q->be->mem, ch);

    if (rc == 0 && q->vq.event_idx) {
        vu_vq_enable_kicks(&q->vq);
        rc = vu_vq_pop(&q->vq, &q->be->mem, ch);
    }
    return rc;
}

/* With an in-flight region: on the first pop of a start, learn what the
 * previous back-end left in flight; resubmit that first, then take new
 * chains and mark them. */
static int vu_pop_inflight_aware(struct vu_queue *q, struct vu_chain *ch)
{
    struct vu_inflight *inf = &q->be->inflight;
    struct vu_inflight_q *iq = &q->iq;
    int rc;

    if (!inf->map) {
        return vu_pop_chain(q, ch);
    }
    if (!iq->checked) {
        long next = vu_inflight_start(inf, q->index, q->vq.num,
                                      q->vq.used_idx, iq);

        if (next >= 0) {
            q->vq.last_avail = (uint16_t)next;
        }
    }
    if (iq->next < iq->nresubmit) {
        rc = vu_vq_pop_head(&q->vq, &q->be->mem, iq->resubmit[iq->next], ch);
        if (rc > 0) {
            iq->next++;
        }
        return rc;
    }
    rc = vu_pop_chain(q, ch);
    if (rc > 0) {
        vu_inflight_took(inf, q->index, ch->head);
    }
    return rc;
}

static struct dev_req *vu_host_pop(struct dev *dev, uint16_t queue)
{
    struct vu_backend *be = host_be(dev);
    struct vu_queue *q;
    struct vu_request *r;
    int rc;

    if (queue >= be->nq) {
        return NULL;
    }
    q = &be->q[queue];
    /* A guest cannot have more chains out than its ring holds. */
    if (!vu_queue_live(q) || q->ninflight >= q->vq.num) {
        return NULL;
    }
    r = vu_req_get(q);
    if (!r) {
        return NULL;
    }
    rc = vu_pop_inflight_aware(q, &r->chain);
    if (rc <= 0) {
        vu_req_put(q, r);
        if (rc < 0 && rc != -EIO) {
            vu_queue_error(q, rc);
        }
        return NULL;
    }
    memset(&r->dreq, 0, sizeof(r->dreq));
    r->dreq.dev = dev;
    r->dreq.queue = queue;
    r->dreq.rd_len = (uint32_t)r->chain.rd_len;
    r->dreq.wr_len = (uint32_t)r->chain.wr_len;
    r->inflight = true;
    r->t_pop = sim_cal_now(dev->cal);
    r->next = q->inflight;
    q->inflight = r;
    q->ninflight++;
    be->st.q[queue].requests++;
    vu_obs_pop(r);
    if (be->obs && be->obs->pop) {
        be->obs->pop(be->obs_opaque, be, &r->dreq);
    }
    return &r->dreq;
}

static int vu_host_read(struct dev_req *dreq, uint64_t off, void *buf,
                        size_t len)
{
    struct vu_request *r = to_req(dreq);
    struct vu_backend *be = r->q->be;
    int rc = vu_chain_read(&r->chain, &be->mem, off, buf, len);

    if (rc >= 0) {
        be->st.q[r->q->index].bytes_read += len;
    }
    return rc;
}

static int vu_host_write(struct dev_req *dreq, uint64_t off, const void *buf,
                         size_t len)
{
    struct vu_request *r = to_req(dreq);
    struct vu_backend *be = r->q->be;
    int rc = vu_chain_write(&r->chain, &be->mem, off, buf, len);

    if (rc >= 0) {
        VU_OBS(be, write, r->obs_data, r->q->index, off, buf, len);
        be->st.q[r->q->index].bytes_written += len;
    }
    return rc;
}

static void vu_lat_record(struct vu_backend *be, sim_time_t lat)
{
    if (be->nlat == be->lat_cap) {
        size_t cap = be->lat_cap ? be->lat_cap * 2 : 1024;
        sim_time_t *n;

        if (cap > VU_LAT_SAMPLES) {
            return;
        }
        n = realloc(be->lat, cap * sizeof(*n));
        if (!n) {
            return;
        }
        be->lat = n;
        be->lat_cap = cap;
    }
    be->lat[be->nlat++] = lat;
}

static void vu_host_complete(struct dev_req *dreq, uint32_t used_len)
{
    struct vu_request *r = to_req(dreq);
    struct vu_queue *q = r->q;
    struct vu_backend *be = q->be;

    if (!r->inflight) {
        VUSIM_ERR(SS, "device completed a request twice (queue %u)",
                  q->index);
        return;
    }
    VU_OBS(be, complete, r->obs_data, q->index, r->chain.head,
           r->dreq.wr_len, used_len);
    if (be->obs && be->obs->complete) {
        be->obs->complete(be->obs_opaque, be, dreq, used_len);
    }
    vu_inflight_del(q, r);
    vu_lat_record(be, sim_cal_now(be->dev->cal) - r->t_pop);
    if (used_len > r->chain.wr_len) {
        used_len = (uint32_t)r->chain.wr_len;
    }
    vu_inflight_completing(&be->inflight, q->index, r->chain.head);
    if (vu_queue_live(q) && vu_vq_push(&q->vq, r->chain.head, used_len) == 0) {
        vu_inflight_completed(&be->inflight, q->index, r->chain.head,
                              q->vq.used_idx);
        be->st.q[q->index].completions++;
        if (vu_vq_should_notify(&q->vq)) {
            vu_queue_notify(q);
        }
    }
    vu_req_put(q, r);
    vu_backend_check_mem(be);
}

static void vu_host_fault(struct dev_req *dreq, const struct faults_fire *f)
{
    struct vu_request *r = to_req(dreq);

    VUSIM_INFO(SS, "conn %u: queue %u: rule %u fired (do=%s, firing %llu, "
               "state %s)", r->q->be->cfg.conn_id, r->q->index, f->rule->id,
               f->action, (unsigned long long)f->firing, f->state);
    VU_OBS(r->q->be, fault, r->obs_data, r->q->index, f);
    if (r->q->be->obs && r->q->be->obs->fault) {
        r->q->be->obs->fault(r->q->be->obs_opaque, r->q->be, dreq, f);
    }
}

/* The device's config space changed (do=resize): backend_channel.c tells
 * the driver. */
static void vu_host_config_changed(struct dev *dev)
{
    vu_chan_config_changed(dev->host_ctx);
}

/* ---- queries for a controller ---------------------------------------- */

void vu_backend_set_obs(struct vu_backend *be,
                        const struct vu_backend_obs *obs, void *opaque)
{
    be->obs = obs;
    be->obs_opaque = opaque;
}

struct dev *vu_backend_dev(const struct vu_backend *be)
{
    return be->dev;
}

int vu_backend_ctl(struct vu_backend *be, struct dev_ctl *c, char *err,
                   size_t errlen)
{
    int rc;

    VU_OBS0(be, dev_enter);
    rc = dev_ctl_apply(be->dev, c, err, errlen);
    if (rc == 0) {
        VU_OBS(be, control, c);
    }
    VU_OBS0(be, dev_leave);
    return rc;
}

int vu_backend_queue_info(const struct vu_backend *be, uint16_t queue,
                          struct vu_queue_info *out)
{
    const struct vu_queue *q;

    if (queue >= be->nq) {
        return -ENOENT;
    }
    q = &be->q[queue];
    *out = (struct vu_queue_info){
        .started = q->started, .enabled = q->enabled, .num = q->vq.num,
        .last_avail = q->vq.last_avail, .used_idx = q->vq.used_idx,
        .ninflight = q->ninflight,
    };
    return 0;
}

size_t vu_backend_inflight(const struct vu_backend *be, uint16_t queue,
                           struct dev_req **reqs, sim_time_t *t_pop,
                           size_t n)
{
    size_t len = 0, idx;

    if (queue >= be->nq) {
        return 0;
    }
    for (const struct vu_request *r = be->q[queue].inflight; r; r = r->next) {
        len++;
    }
    /* The list is newest first: the oldest @n are its last @n. */
    idx = len;
    for (struct vu_request *r = be->q[queue].inflight; r; r = r->next) {
        if (--idx < n) {
            reqs[idx] = &r->dreq;
            t_pop[idx] = r->t_pop;
        }
    }
    return len < n ? len : n;
}

const struct dev_host_ops vu_host_ops = {
    .pop = vu_host_pop,
    .read = vu_host_read,
    .write = vu_host_write,
    .complete = vu_host_complete,
    .fault = vu_host_fault,
    .config_changed = vu_host_config_changed,
};

/* ---- ring state ------------------------------------------------------- */

static void vu_kick_deferred(struct vu_defer *d)
{
    struct vu_queue *q = container_of(d, struct vu_queue, kick_defer);

    vu_queue_kick(q, false);
}

void vu_queue_init(struct vu_backend *be, struct vu_queue *q, uint16_t idx)
{
    memset(q, 0, sizeof(*q));
    q->be = be;
    q->index = idx;
    q->kick_fd = q->call_fd = q->err_fd = -1;
    vu_vq_init(&q->vq);
    q->kick_defer.fn = vu_kick_deferred;
    q->kick_defer.key = ((uint64_t)be->cfg.conn_id << 16) | idx;
}

void vu_queue_start(struct vu_queue *q)
{
    struct dev *dev = q->be->dev;

    if (q->started) {
        return;
    }
    q->started = true;
    VU_OBS(q->be, queue, q->index, true, true);
    if (dev->ops->queue_start) {
        dev->ops->queue_start(dev, q->index);
    }
    VU_OBS0(q->be, dev_leave);
}

/* Take back every request the device holds; stop the ring. */
void vu_queue_stop(struct vu_queue *q)
{
    struct dev *dev = q->be->dev;

    while (q->inflight) {
        struct vu_request *r = q->inflight;

        vu_inflight_del(q, r);
        VU_OBS(q->be, cancel, r->obs_data, q->index);
        dev->ops->cancel(dev, &r->dreq);
        VU_OBS0(q->be, dev_leave);
        vu_req_put(q, r);
    }
    VU_OBS(q->be, queue, q->index, false, q->started);
    if (q->started && dev->ops->queue_stop) {
        dev->ops->queue_stop(dev, q->index);
    }
    VU_OBS0(q->be, dev_leave);
    q->started = false;
    vu_chan_forget_call(q);
    q->iq.checked = false;        /* a restart reads the region again */
    q->iq.nresubmit = q->iq.next = 0;
    q->restart_called = false;
    q->call_held = false;         /* the front-end forgets the ring too */
    vu_loop_undefer(q->be->loop, &q->kick_defer);
    /* As libvhost-user does: a stopped ring forgets its kick and call fds;
     * the front-end sends them again when it restarts the ring. */
    vu_queue_set_kick_fd(q, -1);
    if (q->call_fd >= 0) {
        close(q->call_fd);
        q->call_fd = -1;
    }
}

void vu_queue_reset(struct vu_queue *q)
{
    vu_queue_stop(q);
    if (q->err_fd >= 0) {
        close(q->err_fd);
        q->err_fd = -1;
    }
    q->enabled = false;
    vu_vq_init(&q->vq);
}

void vu_queue_free_reqs(struct vu_queue *q)
{
    while (q->free_reqs) {
        struct vu_request *r = q->free_reqs;

        q->free_reqs = r->next;
        vu_chain_fini(&r->chain);
        vu_obs_req_free(r);
        free(r);
    }
}

void vu_queue_kick(struct vu_queue *q, bool inband)
{
    struct vu_backend *be = q->be;
    struct dev *dev = be->dev;

    if (inband) {
        VU_OBS(q->be, kick, q->index, true);
        be->st.q[q->index].kicks_inband++;
        be->st.q[q->index].kick_mode = VU_NOTIFY_INBAND;
    }
    vu_queue_start(q);
    if (q->enabled && vu_queue_live(q)) {
        VU_OBS(q->be, avail, q->index);
        dev->ops->avail(dev, q->index);
        VU_OBS0(be, dev_leave);
        vu_backend_check_mem(be);
    }
}

/* A kick read from the queue's eventfd: served after the batch. */
static void vu_kick_take(struct vu_queue *q)
{
    vu_loop_touch(q->be->loop);
    q->be->st.q[q->index].kicks_eventfd++;
    q->be->st.q[q->index].kick_mode = VU_NOTIFY_EVENTFD;
    VU_OBS(q->be, kick, q->index, false);
    /* Not now: after this batch, in queue order (see cosim/backend/loop.h). */
    vu_loop_defer(q->be->loop, &q->kick_defer);
}

/* A kick fd that reads end-of-file or fails (a pipe or socket whose other
 * end is closed, passed where an eventfd belongs) stays readable for ever:
 * watched, it would run this callback on every loop turn, and libevent's
 * EVLOOP_NONBLOCK pass would never return. Stop watching it (and stop
 * polling it as the hot fd); the queue keeps the fd until the next
 * SET_VRING_KICK or the reset closes it. */
static void vu_kick_broken(struct vu_queue *q, ssize_t n, int err)
{
    VUSIM_WARN(SS, "conn %u: kick fd of queue %u %s; no longer watched",
               q->be->cfg.conn_id, q->index,
               n == 0 ? "is at end of file" : strerror(err));
    event_del(q->kick_ev);
    vu_loop_drop_hot(q->be->loop, q);
}

/* Read the queue's kick fd once: a kick, nothing yet, or a broken fd. */
static void vu_kick_read(struct vu_queue *q)
{
    eventfd_t v;
    ssize_t n;

    n = read(q->kick_fd, &v, sizeof(v));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        vu_kick_broken(q, n, errno);
        return;
    }
    if (n != (ssize_t)sizeof(v)) {
        return;                      /* not an eventfd's counter: no kick */
    }
    vu_kick_take(q);
}

/* The loop's hot serve in eventfd mode: the queue kicked last is the one
 * whose front-end kicks next (cosim/backend/loop.h). Only for an eventfd
 * the front-end made non-blocking, as QEMU's are: a read of a blocking
 * one with no kick would hang the loop. */
static void vu_kick_hot(void *opaque)
{
    vu_kick_read(opaque);
}

static void vu_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vu_queue *q = arg;

    (void)fd;
    (void)what;
    if (q->kick_nonblock) {
        vu_loop_set_hot(q->be->loop, vu_kick_hot, q);
    }
    vu_kick_read(q);
}

/* A kick set with NOFD: the spec says the back-end polls the ring. */
#define VU_KICK_POLL_US 100

static void vu_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vu_queue *q = arg;

    (void)fd;
    (void)what;
    if (q->enabled && vu_vq_ready(&q->vq, &q->be->mem) &&
        vu_vq_avail_count(&q->vq) > 0) {
        vu_loop_defer(q->be->loop, &q->kick_defer);
    }
}

int vu_queue_poll_kicks(struct vu_queue *q)
{
    static const struct timeval every = { 0, VU_KICK_POLL_US };
    struct vu_backend *be = q->be;

    vu_queue_set_kick_fd(q, -1);
    q->poll_ev = event_new(vu_loop_base(be->loop), -1, EV_PERSIST,
                           vu_poll_cb, q);
    if (!q->poll_ev || event_add(q->poll_ev, &every) < 0) {
        return -ENOMEM;
    }
    vu_queue_start(q);
    vu_loop_defer(be->loop, &q->kick_defer);
    return 0;
}

int vu_queue_set_kick_fd(struct vu_queue *q, int fd)
{
    struct vu_backend *be = q->be;

    if (q->poll_ev) {
        event_free(q->poll_ev);
        q->poll_ev = NULL;
    }
    if (q->kick_ev) {
        event_free(q->kick_ev);
        q->kick_ev = NULL;
    }
    vu_loop_drop_hot(be->loop, q);
    if (q->kick_fd >= 0) {
        close(q->kick_fd);
    }
    q->kick_fd = fd;
    if (fd < 0) {
        return 0;
    }
    q->kick_nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
    q->kick_ev = event_new(vu_loop_base(be->loop), fd, EV_READ | EV_PERSIST,
                           vu_kick_cb, q);
    if (!q->kick_ev || event_add(q->kick_ev, NULL) < 0) {
        return -ENOMEM;
    }
    /* Buffers may be waiting already; look once the setup batch is done. */
    vu_queue_start(q);
    vu_loop_defer(be->loop, &q->kick_defer);
    return 0;
}

void vu_queue_enable(struct vu_queue *q, bool on)
{
    q->enabled = on;
    if (on && q->started) {
        vu_loop_defer(q->be->loop, &q->kick_defer);
    }
}

void vu_queue_remap(struct vu_queue *q)
{
    if (q->vq.addr_set) {
        vu_vq_map(&q->vq, &q->be->mem);   /* may fail until memory arrives */
    }
}

/* ---- stats ------------------------------------------------------------ */

const char *vu_notify_mode_name(enum vu_notify_mode m)
{
    switch (m) {
    case VU_NOTIFY_EVENTFD:
        return "eventfd";
    case VU_NOTIFY_INBAND:
        return "inband";
    default:
        return "none";
    }
}

void vu_backend_get_stats(const struct vu_backend *be,
                          struct vu_backend_stats *st)
{
    *st = be->st;
    st->num_queues = be->nq;
}

static int cmp_time(const void *a, const void *b)
{
    sim_time_t x = *(const sim_time_t *)a, y = *(const sim_time_t *)b;

    return x < y ? -1 : x > y;
}

int vu_backend_latency(const struct vu_backend *be, unsigned permille,
                       sim_time_t *out)
{
    sim_time_t *v;
    size_t i;

    if (be->nlat == 0) {
        return -ENOENT;
    }
    if (permille > 1000) {
        return -EINVAL;
    }
    v = malloc(be->nlat * sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    memcpy(v, be->lat, be->nlat * sizeof(*v));
    qsort(v, be->nlat, sizeof(*v), cmp_time);
    /* Nearest rank: the smallest sample with at least permille of all. */
    i = (be->nlat * permille + 999) / 1000;
    *out = v[i ? i - 1 : 0];
    free(v);
    return 0;
}

static void vu_lat_json(const struct vu_backend *be, FILE *f)
{
    static const unsigned pm[] = { 500, 900, 990, 1000 };
    static const char *const names[] = { "p50", "p90", "p99", "max" };
    sim_time_t t;

    fprintf(f, "\"latency_ps\": {\"count\": %zu", be->nlat);
    for (int i = 0; i < 4; i++) {
        if (vu_backend_latency(be, pm[i], &t) == 0) {
            fprintf(f, ", \"%s\": %llu", names[i], (unsigned long long)t);
        }
    }
    fprintf(f, "}, ");
}

const char *vu_backend_mode_summary(const struct vu_backend_stats *st)
{
    bool inband = false, evfd = false;

    for (uint16_t i = 0; i < st->num_queues; i++) {
        const struct vu_queue_stats *q = &st->q[i];

        inband |= q->kicks_inband || q->calls_inband;
        evfd |= q->kicks_eventfd || q->calls_eventfd;
    }
    if (inband && evfd) {
        return "mixed";
    }
    return inband ? "inband" : evfd ? "eventfd" : "none";
}

int vu_backend_stats_json(const struct vu_backend *be, FILE *f)
{
    struct vu_backend_stats st;

    vu_backend_get_stats(be, &st);
    fputc('{', f);
    vu_lat_json(be, f);
    fprintf(f, "\"connections\": %u, \"messages\": %llu, \"rejected\": %llu, "
            "\"looks_unwaited\": %llu, \"features\": \"0x%llx\", \"protocol_features\": \"0x%llx\", "
            "\"inband_negotiated\": %s, \"notification_mode\": \"%s\", "
            "\"queues\": [", st.connections,
            (unsigned long long)st.messages, (unsigned long long)st.rejected,
            (unsigned long long)st.looks_unwaited,
            (unsigned long long)st.features,
            (unsigned long long)st.protocol_features,
            (st.protocol_features & VU_BIT(VU_PF_INBAND_NOTIFICATIONS)) ?
            "true" : "false", vu_backend_mode_summary(&st));
    for (uint16_t i = 0; i < st.num_queues; i++) {
        const struct vu_queue_stats *q = &st.q[i];

        fprintf(f, "%s{\"index\": %u, \"kick_mode\": \"%s\", "
                "\"call_mode\": \"%s\", \"kicks_inband\": %llu, "
                "\"kicks_eventfd\": %llu, \"calls_inband\": %llu, "
                "\"calls_eventfd\": %llu, \"calls_suppressed\": %llu, "
                "\"requests\": %llu, \"completions\": %llu, "
                "\"bytes_read\": %llu, \"bytes_written\": %llu}",
                i ? ", " : "", i, vu_notify_mode_name(q->kick_mode),
                vu_notify_mode_name(q->call_mode),
                (unsigned long long)q->kicks_inband,
                (unsigned long long)q->kicks_eventfd,
                (unsigned long long)q->calls_inband,
                (unsigned long long)q->calls_eventfd,
                (unsigned long long)q->calls_suppressed,
                (unsigned long long)q->requests,
                (unsigned long long)q->completions,
                (unsigned long long)q->bytes_read,
                (unsigned long long)q->bytes_written);
    }
    fprintf(f, "]}");
    return ferror(f) ? -EIO : 0;
}
