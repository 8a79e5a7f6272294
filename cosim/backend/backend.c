/* SPDX-License-Identifier: MIT */
/*
 * The message side of the back-end: connection, dispatch table, one handler
 * per request. Rings, requests and notifications live in backend_queue.c,
 * the back-end channel in backend_channel.c.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cosim/backend/backend-internal.h"
#include "sim/log.h"

#define SS "vu"
/* A peer that sends garbage earns a few lines, not a flood. */
#define VU_MAX_ERR_LINES 16

static void vu_log_reject(struct vu_backend *be, const struct vu_msg *m,
                          int err, const char *why)
{
    be->st.rejected++;
    if (be->errs_logged++ < VU_MAX_ERR_LINES) {
        VUSIM_ERR(SS, "conn %u: %s (%u) rejected: %s (%s)", be->cfg.conn_id,
                  vu_req_name(m->hdr.request), m->hdr.request, why,
                  strerror(-err));
    }
}

void vu_backend_fail(struct vu_backend *be, int err, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    VUSIM_ERR(SS, "conn %u: closing connection: %s (%s)", be->cfg.conn_id,
              why, strerror(-err));
    be->broken = true;
}

/* ---- offered features ---------------------------------------------- */

uint64_t vu_backend_features(const struct vu_backend *be)
{
    return be->dev->features | VU_BIT(VU_F_VERSION_1) |
           VU_BIT(VU_F_PROTOCOL_FEATURES) | VU_BIT(VU_F_RING_INDIRECT_DESC) |
           VU_BIT(VU_F_RING_EVENT_IDX);
}

uint64_t vu_backend_protocol_features(const struct vu_backend *be)
{
    uint64_t pf = VU_BIT(VU_PF_MQ) | VU_BIT(VU_PF_REPLY_ACK) |
                  VU_BIT(VU_PF_BACKEND_REQ) | VU_BIT(VU_PF_RESET_DEVICE) |
                  VU_BIT(VU_PF_CONFIGURE_MEM_SLOTS) | VU_BIT(VU_PF_STATUS) |
                  VU_BIT(VU_PF_INFLIGHT_SHMFD);

    /* CONFIG only when the device has a config space (libvhost-user's rule
     * of deriving capabilities from the hooks present). */
    if (be->dev->ops->get_config) {
        pf |= VU_BIT(VU_PF_CONFIG);
    }
    if (be->cfg.inband != VU_INBAND_OFF) {
        pf |= VU_BIT(VU_PF_INBAND_NOTIFICATIONS);
    }
    return pf;
}

uint16_t vu_backend_num_queues(const struct vu_backend *be)
{
    return be->nq;
}

const struct vu_backend_cfg *vu_backend_config(const struct vu_backend *be)
{
    return &be->cfg;
}

/* ---- replies --------------------------------------------------------- */

static void reply_u64(struct vu_msg *r, uint64_t v)
{
    r->hdr.size = sizeof(uint64_t);
    r->p.u64 = v;
}

static int vu_get_ring(struct vu_backend *be, uint32_t index,
                       struct vu_queue **out)
{
    if (index >= be->nq) {
        return -ERANGE;
    }
    *out = &be->q[index];
    return 0;
}

/* ---- handlers: return < 0 error, 0 done (generic ack), 1 reply set ---- */

static int vu_h_get_features(struct vu_backend *be, struct vu_msg *m,
                             struct vu_msg *r)
{
    reply_u64(r, vu_backend_features(be));
    return 1;
}

static int vu_h_set_features(struct vu_backend *be, struct vu_msg *m,
                             struct vu_msg *r)
{
    uint64_t f = m->p.u64;
    struct dev *dev = be->dev;
    int rc;

    if (f & ~vu_backend_features(be)) {
        return -EINVAL;
    }
    VU_OBS0(be, dev_enter);
    rc = dev->ops->set_features ? dev->ops->set_features(dev, f) : 0;
    VU_OBS0(be, dev_leave);
    if (rc < 0) {
        return -EINVAL;
    }
    be->features = f;
    be->features_set = true;
    be->st.features = f;
    dev->acked_features = f;
    VU_OBS(be, neg, VU_OBS_NEG_FEATURES, f);
    for (uint16_t i = 0; i < be->nq; i++) {
        struct vu_queue *q = &be->q[i];

        q->vq.event_idx = (f & VU_BIT(VU_F_RING_EVENT_IDX)) != 0;
        q->vq.indirect_ok = (f & VU_BIT(VU_F_RING_INDIRECT_DESC)) != 0;
        /* Without protocol features a ring is enabled once started. */
        if (!(f & VU_BIT(VU_F_PROTOCOL_FEATURES))) {
            q->enabled = true;
        }
    }
    return 0;
}

static int vu_h_set_owner(struct vu_backend *be, struct vu_msg *m,
                          struct vu_msg *r)
{
    be->owner = true;
    return 0;
}

static void vu_reset_state(struct vu_backend *be)
{
    /* A call already sent stays outstanding: its ack is still coming. */
    for (uint16_t i = 0; i < be->nq; i++) {
        vu_chan_forget_call(&be->q[i]);
    }
    for (uint16_t i = 0; i < be->nq; i++) {
        vu_queue_reset(&be->q[i]);
    }
    VU_OBS0(be, reset);
    if (be->dev->ops->reset) {
        be->dev->ops->reset(be->dev);
    }
    VU_OBS0(be, dev_leave);
    be->features = 0;
    be->features_set = false;
    be->dev->acked_features = 0;
    be->status = 0;
}

static int vu_h_reset(struct vu_backend *be, struct vu_msg *m,
                      struct vu_msg *r)
{
    vu_reset_state(be);
    return 0;
}

static int vu_h_get_protocol_features(struct vu_backend *be, struct vu_msg *m,
                                      struct vu_msg *r)
{
    reply_u64(r, vu_backend_protocol_features(be));
    return 1;
}

static int vu_h_set_protocol_features(struct vu_backend *be, struct vu_msg *m,
                                      struct vu_msg *r)
{
    uint64_t pf = m->p.u64;
    uint64_t need = VU_BIT(VU_PF_BACKEND_REQ) | VU_BIT(VU_PF_REPLY_ACK);

    if (pf & ~vu_backend_protocol_features(be)) {
        return -EINVAL;
    }
    /* The spec: in-band notifications without a back-end channel and acks
     * would let calls pile up unacknowledged and hang the front-end; the
     * only way to say so is to close the connection. */
    if ((pf & VU_BIT(VU_PF_INBAND_NOTIFICATIONS)) && (pf & need) != need) {
        vu_backend_fail(be, -EPROTO, "INBAND_NOTIFICATIONS set without "
                        "BACKEND_REQ and REPLY_ACK (protocol features "
                        "0x%" PRIx64 ")", pf);
        return -EPROTO;
    }
    if (be->cfg.inband == VU_INBAND_ON &&
        !(pf & VU_BIT(VU_PF_INBAND_NOTIFICATIONS))) {
        vu_backend_fail(be, -EPROTO, "--inband=on but the front-end declined "
                        "INBAND_NOTIFICATIONS (0x%" PRIx64 ")", pf);
        return -EPROTO;
    }
    be->pfeatures = pf;
    be->pfeatures_set = true;
    be->st.protocol_features = pf;
    VU_OBS(be, neg, VU_OBS_NEG_PROTOCOL, pf);
    return 0;
}

static int vu_remap_all(struct vu_backend *be)
{
    for (uint16_t i = 0; i < be->nq; i++) {
        vu_queue_remap(&be->q[i]);
    }
    return 0;
}

static int vu_h_set_mem_table(struct vu_backend *be, struct vu_msg *m,
                              struct vu_msg *r)
{
    uint32_t n = m->p.mem.nregions;
    int fds[VU_MEM_TABLE_MAX];
    int rc;

    if (n == 0 || n > VU_MEM_TABLE_MAX ||
        m->hdr.size < 8 + n * sizeof(struct vu_mem_region)) {
        return -EINVAL;
    }
    if ((uint32_t)m->nfds != n) {
        return -EINVAL;
    }
    for (uint32_t i = 0; i < n; i++) {
        fds[i] = vu_msg_take_fd(m, (int)i);
    }
    rc = vu_mem_set_table(&be->mem, m->p.mem.regions, fds, n);
    if (rc < 0) {
        return rc;
    }
    return vu_remap_all(be);
}

static int vu_h_get_max_mem_slots(struct vu_backend *be, struct vu_msg *m,
                                  struct vu_msg *r)
{
    reply_u64(r, VU_MAX_MEM_SLOTS);
    return 1;
}

static int vu_h_add_mem_reg(struct vu_backend *be, struct vu_msg *m,
                            struct vu_msg *r)
{
    int rc;

    if (m->nfds != 1) {
        return -EINVAL;
    }
    rc = vu_mem_add(&be->mem, &m->p.mreg.region, vu_msg_take_fd(m, 0));
    if (rc < 0) {
        return rc;
    }
    return vu_remap_all(be);
}

static int vu_h_rem_mem_reg(struct vu_backend *be, struct vu_msg *m,
                            struct vu_msg *r)
{
    int rc;

    /* The spec allows one stray fd for compatibility; it is closed unused. */
    vu_msg_close_fds(m);
    rc = vu_mem_remove(&be->mem, &m->p.mreg.region);
    if (rc < 0) {
        return rc;
    }
    return vu_remap_all(be);
}

static int vu_h_set_vring_num(struct vu_backend *be, struct vu_msg *m,
                              struct vu_msg *r)
{
    struct vu_queue *q;
    int rc = vu_get_ring(be, m->p.state.index, &q);

    if (rc < 0) {
        return rc;
    }
    if (m->p.state.num > be->dev->queue_size_max) {
        return -EINVAL;
    }
    return vu_vq_set_num(&q->vq, m->p.state.num);
}

static int vu_h_set_vring_addr(struct vu_backend *be, struct vu_msg *m,
                               struct vu_msg *r)
{
    struct vu_queue *q;
    int rc = vu_get_ring(be, m->p.addr.index, &q);

    if (rc < 0) {
        return rc;
    }
    if (q->vq.num == 0) {
        return -EINVAL;
    }
    vu_vq_set_addr(&q->vq, &m->p.addr);
    return vu_vq_map(&q->vq, &be->mem);
}

static int vu_h_set_vring_base(struct vu_backend *be, struct vu_msg *m,
                               struct vu_msg *r)
{
    struct vu_queue *q;
    int rc = vu_get_ring(be, m->p.state.index, &q);

    if (rc < 0) {
        return rc;
    }
    if (m->p.state.num > UINT16_MAX) {
        return -EINVAL;
    }
    vu_vq_set_base(&q->vq, (uint16_t)m->p.state.num);
    return 0;
}

static int vu_h_get_vring_base(struct vu_backend *be, struct vu_msg *m,
                               struct vu_msg *r)
{
    struct vu_queue *q;
    int rc = vu_get_ring(be, m->p.state.index, &q);

    if (rc < 0) {
        return rc;
    }
    vu_queue_stop(q);
    r->hdr.size = sizeof(struct vu_vring_state);
    r->p.state.index = m->p.state.index;
    r->p.state.num = vu_vq_stop(&q->vq);
    return 1;
}

static void vu_inflight_poke(struct vu_backend *be, struct vu_queue *q);
static void vu_inflight_signal(struct vu_backend *be, struct vu_queue *q);

/* SET_VRING_KICK/CALL/ERR: the fd count must agree with the NOFD bit. */
static int vu_ring_fd(struct vu_backend *be, struct vu_msg *m,
                      struct vu_queue **q, int *fd)
{
    uint64_t v = m->p.u64;
    bool nofd = (v & VU_VRING_NOFD) != 0;
    int rc = vu_get_ring(be, (uint32_t)(v & VU_VRING_IDX_MASK), q);

    if (rc < 0) {
        return rc;
    }
    if (nofd != (m->nfds == 0)) {
        return -EINVAL;
    }
    *fd = nofd ? -1 : vu_msg_take_fd(m, 0);
    return 0;
}

static int vu_h_set_vring_kick(struct vu_backend *be, struct vu_msg *m,
                               struct vu_msg *r)
{
    struct vu_queue *q;
    int fd, rc = vu_ring_fd(be, m, &q, &fd);

    if (rc < 0) {
        return rc;
    }
    /* NOFD: "polling should be used instead of waiting for the kick",
     * unless kicks come in-band. */
    if (fd < 0 && !vu_has_pf(be, VU_PF_INBAND_NOTIFICATIONS)) {
        return vu_queue_poll_kicks(q);
    }
    rc = vu_queue_set_kick_fd(q, fd);
    if (rc == 0) {
        vu_inflight_poke(be, q);
    }
    return rc;
}

static void vu_swap_fd(int *slot, int fd)
{
    if (*slot >= 0) {
        close(*slot);
    }
    *slot = fd;
}

static int vu_h_set_vring_call(struct vu_backend *be, struct vu_msg *m,
                               struct vu_msg *r)
{
    struct vu_queue *q;
    int fd, rc = vu_ring_fd(be, m, &q, &fd);

    if (rc < 0) {
        return rc;
    }
    q->call_kind = vu_notify_fd_init(fd);
    vu_swap_fd(&q->call_fd, fd);
    if (be->inflight.map && q->vq.addr_set) {
        vu_inflight_signal(be, q);
    }
    return 0;
}

static int vu_h_set_vring_err(struct vu_backend *be, struct vu_msg *m,
                              struct vu_msg *r)
{
    struct vu_queue *q;
    int fd, rc = vu_ring_fd(be, m, &q, &fd);

    if (rc < 0) {
        return rc;
    }
    q->err_kind = vu_notify_fd_init(fd);
    vu_swap_fd(&q->err_fd, fd);
    return 0;
}

static int vu_h_get_queue_num(struct vu_backend *be, struct vu_msg *m,
                              struct vu_msg *r)
{
    reply_u64(r, be->nq);
    return 1;
}

static int vu_h_set_vring_enable(struct vu_backend *be, struct vu_msg *m,
                                 struct vu_msg *r)
{
    struct vu_queue *q;
    int rc = vu_get_ring(be, m->p.state.index, &q);

    if (rc < 0) {
        return rc;
    }
    if (m->p.state.num > 1) {
        return -EINVAL;
    }
    vu_queue_enable(q, m->p.state.num == 1);
    if (m->p.state.num == 1) {
        vu_inflight_poke(be, q);
    }
    return 0;
}

static int vu_h_set_backend_req_fd(struct vu_backend *be, struct vu_msg *m,
                                   struct vu_msg *r)
{
    int fd;

    if (m->nfds != 1) {
        return -EINVAL;
    }
    fd = vu_msg_take_fd(m, 0);
    return vu_chan_set_fd(be, fd);
}

static int vu_config_args(struct vu_backend *be, const struct vu_msg *m)
{
    const struct vu_config *c = &m->p.config;

    if (c->size > VU_CONFIG_MAX ||
        m->hdr.size < VU_CONFIG_HDR_SIZE + c->size) {
        return -EINVAL;
    }
    if (c->offset > be->dev->config_size ||
        c->size > be->dev->config_size - c->offset) {
        return -ERANGE;
    }
    return 0;
}

static int vu_h_get_config(struct vu_backend *be, struct vu_msg *m,
                           struct vu_msg *r)
{
    const struct vu_config *c = &m->p.config;
    int rc = vu_config_args(be, m);

    r->p.config.offset = c->offset;
    r->p.config.size = c->size;
    r->p.config.flags = c->flags;
    if (rc == 0) {
        VU_OBS0(be, dev_enter);
        rc = be->dev->ops->get_config(be->dev, c->offset, r->p.config.payload,
                                      c->size);
        VU_OBS(be, config, false, c->offset, r->p.config.payload, c->size,
               rc);
    }
    /* The spec signals a failed GET_CONFIG with an empty payload. */
    r->hdr.size = rc < 0 ? 0 : VU_CONFIG_HDR_SIZE + c->size;
    if (rc < 0) {
        vu_log_reject(be, m, rc, "config access out of range");
    }
    return 1;
}

static int vu_h_set_config(struct vu_backend *be, struct vu_msg *m,
                           struct vu_msg *r)
{
    const struct vu_config *c = &m->p.config;
    int rc = vu_config_args(be, m);

    if (rc < 0) {
        return rc;
    }
    if (!be->dev->ops->set_config) {
        return -EINVAL;
    }
    VU_OBS0(be, dev_enter);
    rc = be->dev->ops->set_config(be->dev, c->offset, c->payload, c->size);
    VU_OBS(be, config, true, c->offset, c->payload, c->size, rc);
    return rc;
}

static int vu_h_set_status(struct vu_backend *be, struct vu_msg *m,
                           struct vu_msg *r)
{
    if (m->p.u64 > UINT8_MAX) {
        return -EINVAL;
    }
    be->status = (uint8_t)m->p.u64;
    return 0;
}

static int vu_h_get_status(struct vu_backend *be, struct vu_msg *m,
                           struct vu_msg *r)
{
    reply_u64(r, be->status);
    return 1;
}

/* The description as sent (20 or 24 bytes, the table checked which), with
 * the padding QEMU may leave out read as zero. */
static void inflight_desc_read(const struct vu_msg *m,
                               struct vu_inflight_desc *d)
{
    memset(d, 0, sizeof(*d));
    memcpy(d, m->p.raw, m->hdr.size);
}

/* GET_INFLIGHT_FD: a fresh region, sent with its fd. */
static int vu_h_get_inflight_fd(struct vu_backend *be, struct vu_msg *m,
                                struct vu_msg *r)
{
    struct vu_inflight_desc d;
    int fd, rc;

    inflight_desc_read(m, &d);
    if (d.num_queues > be->nq) {
        return -EINVAL;
    }
    rc = vu_inflight_get(&be->inflight, &d, &fd);
    if (rc < 0) {
        return rc;
    }
    d.padding = 0;
    r->hdr.size = sizeof(d);
    memcpy(r->p.raw, &d, sizeof(d));
    r->fds[0] = fd;
    r->nfds = 1;
    return 1;
}

/* SET_INFLIGHT_FD: the region the front-end kept; queues started from now
 * on resubmit what it says is in flight. */
static int vu_h_set_inflight_fd(struct vu_backend *be, struct vu_msg *m,
                                struct vu_msg *r)
{
    struct vu_inflight_desc d;

    inflight_desc_read(m, &d);
    if (m->nfds != 1 || d.num_queues > be->nq) {
        return -EINVAL;
    }
    for (uint16_t i = 0; i < be->nq; i++) {
        be->q[i].iq.checked = false;
        be->q[i].iq.nresubmit = be->q[i].iq.next = 0;
    }
    return vu_inflight_set(&be->inflight, &d, vu_msg_take_fd(m, 0));
}

/*
 * A back-end killed between publishing a used element and writing the
 * call fd leaves a guest that waits for an interrupt no one will send: a
 * driver with that one request out hangs (Linux's virtio-blk has no
 * timeout), and the front-end does not notify it on reconnect (QEMU 7.2
 * fires only a call still pending in the old eventfd). So a ring that
 * restarts on a region a back-end wrote before gets one call on its call
 * eventfd, as libvhost-user does at every SET_VRING_CALL: a spurious one
 * costs the driver a look at its used ring. Eventfd calls only: in-band
 * runs (the reproducible ones) never reach it, and it is not counted as
 * a device call in the stats or the trace.
 */
static void vu_inflight_signal(struct vu_backend *be, struct vu_queue *q)
{
    if (q->call_fd < 0 || q->restart_called || q->iq.checked ||
        !vu_inflight_ran(&be->inflight, q->index)) {
        return;
    }
    q->restart_called = true;
    if (vu_queue_write_call_fd(q) < 0) {
        return;
    }
    VUSIM_INFO(SS, "conn %u: queue %u restarts on an in-flight region: one "
               "call, for completions a previous back-end may not have "
               "signalled", be->cfg.conn_id, q->index);
}

/* A ring (re)started with an in-flight region may hold requests the guest
 * still waits for and will not kick again: look at it now, as a kick
 * would. Now, not at the end of the batch: which messages share a batch
 * depends on host timing, and the queue's start is a trace record whose
 * place must follow the message order alone (tests/tt/tt-qemu.sh). */
static void vu_inflight_poke(struct vu_backend *be, struct vu_queue *q)
{
    if (be->inflight.map && q->vq.num != 0 && q->vq.addr_set) {
        vu_inflight_signal(be, q);
        be->poked = true;         /* a ring look, for vu_answer() */
        vu_queue_kick(q, false);
    }
}

static int vu_h_vring_kick(struct vu_backend *be, struct vu_msg *m,
                           struct vu_msg *r)
{
    struct vu_queue *q;
    int rc = vu_get_ring(be, m->p.state.index, &q);

    if (rc < 0) {
        return rc;
    }
    if (q->vq.num == 0 || !q->vq.addr_set) {
        return -EINVAL;     /* kick before the ring is set up */
    }
    /* The device puts the work on the calendar before this returns, and
     * so before the ack goes back: the front-end's blocking kick returns
     * only once its work is scheduled. */
    vu_queue_kick(q, true);
    /* Without time travel (no reply_sync), zero-time work runs before the
     * ack: a request the device completes at once has its call sent
     * before the kick returns, as a front-end's own disk would have it
     * done, and the front-end need not sleep for it. Under time travel
     * the controller holds the calendar while the guest runs. */
    if (!be->cfg.reply_sync) {
        vu_loop_run_current(be->loop);
    }
    return 0;
}

/* ---- the dispatch table ---------------------------------------------- */

typedef int (*vu_handler_fn)(struct vu_backend *be, struct vu_msg *m,
                             struct vu_msg *reply);

struct vu_handler {
    vu_handler_fn fn;
    uint16_t min_size, max_size;  /* payload bytes */
    uint8_t max_fds;
    int8_t pf;                    /* required protocol feature, -1 none */
};

#define H(f, lo, hi, fds, feat) { f, lo, hi, fds, feat }
#define U64 sizeof(uint64_t)
#define STATE sizeof(struct vu_vring_state)
#define REG sizeof(struct vu_mem_single)
#define INFL sizeof(struct vu_inflight_desc)
#define INFL_MIN VU_INFLIGHT_DESC_MIN

static const struct vu_handler vu_handlers[VU_REQ_MAX] = {
    [VU_REQ_GET_FEATURES] = H(vu_h_get_features, 0, 0, 0, -1),
    [VU_REQ_SET_FEATURES] = H(vu_h_set_features, U64, U64, 0, -1),
    [VU_REQ_SET_OWNER] = H(vu_h_set_owner, 0, 0, 0, -1),
    [VU_REQ_RESET_OWNER] = H(vu_h_reset, 0, 0, 0, -1),
    [VU_REQ_SET_MEM_TABLE] = H(vu_h_set_mem_table, 8,
                               sizeof(struct vu_mem_table), VU_MEM_TABLE_MAX,
                               -1),
    [VU_REQ_SET_VRING_NUM] = H(vu_h_set_vring_num, STATE, STATE, 0, -1),
    [VU_REQ_SET_VRING_ADDR] = H(vu_h_set_vring_addr,
                                sizeof(struct vu_vring_addr),
                                sizeof(struct vu_vring_addr), 0, -1),
    [VU_REQ_SET_VRING_BASE] = H(vu_h_set_vring_base, STATE, STATE, 0, -1),
    [VU_REQ_GET_VRING_BASE] = H(vu_h_get_vring_base, STATE, STATE, 0, -1),
    [VU_REQ_SET_VRING_KICK] = H(vu_h_set_vring_kick, U64, U64, 1, -1),
    [VU_REQ_SET_VRING_CALL] = H(vu_h_set_vring_call, U64, U64, 1, -1),
    [VU_REQ_SET_VRING_ERR] = H(vu_h_set_vring_err, U64, U64, 1, -1),
    [VU_REQ_GET_PROTOCOL_FEATURES] = H(vu_h_get_protocol_features, 0, 0, 0,
                                       -1),
    [VU_REQ_SET_PROTOCOL_FEATURES] = H(vu_h_set_protocol_features, U64, U64,
                                       0, -1),
    [VU_REQ_GET_QUEUE_NUM] = H(vu_h_get_queue_num, 0, 0, 0, VU_PF_MQ),
    [VU_REQ_SET_VRING_ENABLE] = H(vu_h_set_vring_enable, STATE, STATE, 0, -1),
    [VU_REQ_SET_BACKEND_REQ_FD] = H(vu_h_set_backend_req_fd, 0, 0, 1,
                                    VU_PF_BACKEND_REQ),
    [VU_REQ_GET_CONFIG] = H(vu_h_get_config, VU_CONFIG_HDR_SIZE,
                            sizeof(struct vu_config), 0, VU_PF_CONFIG),
    [VU_REQ_SET_CONFIG] = H(vu_h_set_config, VU_CONFIG_HDR_SIZE,
                            sizeof(struct vu_config), 0, VU_PF_CONFIG),
    [VU_REQ_RESET_DEVICE] = H(vu_h_reset, 0, 0, 0, VU_PF_RESET_DEVICE),
    [VU_REQ_VRING_KICK] = H(vu_h_vring_kick, STATE, STATE, 0,
                            VU_PF_INBAND_NOTIFICATIONS),
    [VU_REQ_GET_MAX_MEM_SLOTS] = H(vu_h_get_max_mem_slots, 0, 0, 0,
                                   VU_PF_CONFIGURE_MEM_SLOTS),
    [VU_REQ_ADD_MEM_REG] = H(vu_h_add_mem_reg, REG, REG, 1,
                             VU_PF_CONFIGURE_MEM_SLOTS),
    [VU_REQ_REM_MEM_REG] = H(vu_h_rem_mem_reg, REG, REG, 1,
                             VU_PF_CONFIGURE_MEM_SLOTS),
    [VU_REQ_GET_INFLIGHT_FD] = H(vu_h_get_inflight_fd, INFL_MIN, INFL, 0,
                                 VU_PF_INFLIGHT_SHMFD),
    [VU_REQ_SET_INFLIGHT_FD] = H(vu_h_set_inflight_fd, INFL_MIN, INFL, 1,
                                 VU_PF_INFLIGHT_SHMFD),
    [VU_REQ_SET_STATUS] = H(vu_h_set_status, U64, U64, 0, VU_PF_STATUS),
    [VU_REQ_GET_STATUS] = H(vu_h_get_status, 0, 0, 0, VU_PF_STATUS),
};

/* Check a message against its table row before any handler sees it. */
static int vu_validate(struct vu_backend *be, struct vu_msg *m,
                       const struct vu_handler **hp, const char **why)
{
    uint32_t req = m->hdr.request;
    const struct vu_handler *h = req < VU_REQ_MAX ? &vu_handlers[req] : NULL;

    if (!h || !h->fn) {
        *why = "unsupported request";
        return -EOPNOTSUPP;
    }
    if (m->hdr.size < h->min_size || m->hdr.size > h->max_size) {
        *why = "payload size wrong for this request";
        return -EBADMSG;
    }
    if (m->nfds > h->max_fds) {
        *why = "file descriptors on a request that takes fewer";
        return -EBADMSG;
    }
    if (h->pf >= 0 && !vu_has_pf(be, h->pf)) {
        *why = "required protocol feature not negotiated";
        return -EPROTO;
    }
    *hp = h;
    return 0;
}

/* ---- verbose decoding -------------------------------------------------- */

static void vu_describe(const struct vu_msg *m, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s flags=0x%x size=%u fds=%d",
                     vu_req_name(m->hdr.request), m->hdr.flags, m->hdr.size,
                     m->nfds);

    if (n < 0 || (size_t)n >= len) {
        return;
    }
    if (m->hdr.size == U64) {
        snprintf(buf + n, len - n, " u64=0x%" PRIx64, m->p.u64);
    } else if (m->hdr.size == STATE) {
        snprintf(buf + n, len - n, " index=%u num=%u", m->p.state.index,
                 m->p.state.num);
    } else if (m->hdr.request == VU_REQ_SET_VRING_ADDR &&
               m->hdr.size == sizeof(struct vu_vring_addr)) {
        snprintf(buf + n, len - n, " index=%u desc=0x%" PRIx64
                 " used=0x%" PRIx64 " avail=0x%" PRIx64, m->p.addr.index,
                 m->p.addr.desc, m->p.addr.used, m->p.addr.avail);
    }
}

/* ---- the connection ---------------------------------------------------- */

/* Run the ring looks this connection queued (a ring started or enabled)
 * now, in queue order. */
static void vu_run_looks(struct vu_backend *be)
{
    for (uint16_t i = 0; i < be->nq; i++) {
        vu_loop_run_now(be->loop, &be->q[i].kick_defer);
    }
}

/* Send a reply; fds a handler attached (GET_INFLIGHT_FD) go with it and
 * are closed here. */
static int vu_send_reply(struct vu_backend *be, struct vu_msg *r)
{
    int rc;

    /* The front-end waits for this reply, so its guest is not touching
     * the rings: a ring look this connection queued (a ring started or
     * enabled) runs now, at a place in the trace that the message order
     * alone fixes. At the end of the batch it would race with the guest
     * once the reply is out, and which messages share a batch depends on
     * host timing (tests/tt/tt-mixed.sh saw both). */
    vu_run_looks(be);
    r->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
    VU_OBS(be, msg, VU_OBS_BE_REPLY, r);
    rc = vu_msg_send(be->sock, r);
    vu_msg_close_fds(r);
    return rc;
}

/*
 * A message has been handled; @r is its reply, or NULL when the front-end
 * does not wait for one. With reply_sync (time travel), the work the
 * message put on the calendar must bound the running guest before the
 * front-end goes on: the kick's device work, and as much the work of a
 * ring look (a ring enabled with buffers waiting, an in-flight request
 * resubmitted). So the looks run first, then reply_sync; if it says wait,
 * the reply is kept and the socket is not read until
 * vu_backend_reply_resume(). Without that bound the guest ran past the
 * look's work up to its old FREE_UNTIL and learnt of it late, at a time
 * the device model did not ask for (or, with an UPDATE past it, was
 * dropped for running past a pending event).
 *
 * A front-end that does not wait (no NEED_REPLY) keeps running while the
 * back-end looks at its rings (a queued look, or vu_inflight_poke()), so
 * what a look finds depends on host timing whatever the back-end does:
 * such messages are counted (looks_unwaited) and, under time travel, their
 * looks run at once, bound the guest like any other, and a warning names
 * the first, since the run cannot be expected to repeat. vusim's QEMU
 * (inband=on, qemu-7.2 patch 0008) and UML wait for every message, and the
 * time-travel tests check that the count stays 0.
 */
static int vu_answer(struct vu_backend *be, const struct vu_msg *m,
                     struct vu_msg *r)
{
    bool looks = be->poked;

    be->poked = false;
    for (uint16_t i = 0; i < be->nq; i++) {
        looks |= be->q[i].kick_defer.queued;
    }
    if (!r && looks && m->hdr.request != VU_REQ_VRING_KICK) {
        be->st.looks_unwaited++;
        if (be->cfg.reply_sync && !be->warned_unwaited) {
            be->warned_unwaited = true;
            VUSIM_WARN(SS, "conn %u: %s without NEED_REPLY: the back-end "
                       "looks at a ring while the guest runs on, so what "
                       "it finds depends on host timing and this run may "
                       "not repeat (the front-end should wait for an ack "
                       "of every message)", be->cfg.conn_id,
                       vu_req_name(m->hdr.request));
        }
    }
    if (!be->cfg.reply_sync) {
        /* Unwaited looks run at the end of the batch, in key order. */
        return r ? vu_send_reply(be, r) : 0;
    }
    vu_run_looks(be);
    if (!be->cfg.reply_sync(be, be->cfg.sync_opaque)) {
        /* Nothing else can arrive from a front-end that waits; one that
         * does not is not read until the bound is known either. */
        be->reply_deferred = true;
        be->deferred_has_reply = r != NULL;
        if (r) {
            be->deferred_reply = *r;      /* its fds go with it */
        }
        event_del(be->sock_ev);
        return 0;
    }
    return r ? vu_send_reply(be, r) : 0;
}

/* Run one message; returns < 0 only when the connection must close. */
static int vu_process(struct vu_backend *be, struct vu_msg *m)
{
    const struct vu_handler *h = NULL;
    const char *why = "handler failed";
    struct vu_msg r;
    int rc;

    vu_msg_init(&r, m->hdr.request, 0, 0);
    rc = vu_validate(be, m, &h, &why);
    if (rc == 0) {
        rc = h->fn(be, m, &r);
    }
    vu_msg_close_fds(m);          /* whatever the handler did not take */
    if (be->broken) {
        return -EPROTO;
    }
    if (rc < 0 && vu_req_has_reply(m->hdr.request)) {
        /* Its reply has no way to say no, and the front-end waits on it. */
        be->st.rejected++;
        vu_backend_fail(be, rc, "%s (%u) rejected: %s; its reply cannot "
                        "carry an error", vu_req_name(m->hdr.request),
                        m->hdr.request, why);
        return rc;
    }
    if (rc < 0) {
        vu_log_reject(be, m, rc, why);
    }
    if (rc == 1) {
        return vu_answer(be, m, &r);
    }
    /* REPLY_ACK: any request with NEED_REPLY gets 0 or non-zero. It is
     * answered even before REPLY_ACK is negotiated, as libvhost-user does:
     * the front-end asked and would block otherwise. */
    if (m->hdr.flags & VU_FLAG_NEED_REPLY) {
        reply_u64(&r, rc < 0 ? (uint64_t)-rc : 0);
        return vu_answer(be, m, &r);
    }
    return vu_answer(be, m, NULL);
}

void vu_backend_close(struct vu_backend *be)
{
    bool was = vu_backend_connected(be);

    vu_backend_detach(be);
    if (was && be->obs && be->obs->conn) {
        be->obs->conn(be->obs_opaque, be, false);
    }
    if (was && be->cfg.on_close) {
        be->cfg.on_close(be, be->cfg.opaque);
    }
}

/* Close the connection if the front-end shrank a region under a mapping
 * (cosim/wire/memguard): the access that found it ran on a private zero
 * page, so nothing the device read or wrote there reached the guest. */
static bool vu_close_if_shrunk(struct vu_backend *be)
{
    if (!vu_backend_connected(be) || !vu_mem_broken(&be->mem)) {
        return false;
    }
    VUSIM_ERR(SS, "conn %u: the front-end shrank a shared memory region "
              "under vusim (SIGBUS, a zero page put in its place); closing",
              be->cfg.conn_id);
    vu_backend_close(be);
    return true;
}

static void vu_mem_check_deferred(struct vu_defer *d)
{
    (void)vu_close_if_shrunk(container_of(d, struct vu_backend, mem_check));
}

/* Device work outside a message (an eventfd kick, a completion on the
 * calendar) closes at the end of the batch, not inside the device's call,
 * which still holds its request. */
void vu_backend_check_mem(struct vu_backend *be)
{
    if (vu_mem_broken(&be->mem)) {
        vu_loop_defer(be->loop, &be->mem_check);
    }
}

/* Handle one message; false once the connection is gone. */
static bool vu_handle_one(struct vu_backend *be, struct vu_msg *m)
{
    char desc[192];

    be->st.messages++;
    vu_loop_touch(be->loop);     /* a hot serve caught something */
    VU_OBS(be, msg, VU_OBS_FE_REQ, m);
    if (be->cfg.verbose) {
        vu_describe(m, desc, sizeof(desc));
        VUSIM_INFO(SS, "conn %u: recv %s", be->cfg.conn_id, desc);
    }
    if (vu_process(be, m) < 0 || be->broken) {
        vu_backend_close(be);
        return false;
    }
    return !vu_close_if_shrunk(be);
}

/*
 * The messages readable now, unless a kick ack is held: one read from the
 * socket, then whatever it buffered. The socket is not tried again until
 * the loop says it is readable, which saves a failing recvmsg per message.
 */
static void vu_drain(struct vu_backend *be)
{
    struct vu_msg m;
    bool first = true;
    int rc;

    while (be->sock >= 0 && !be->reply_deferred &&
           (first || vu_msg_reader_pending(&be->rd))) {
        first = false;
        rc = vu_msg_read_nowait(&be->rd, be->sock, &m);
        if (rc == -EAGAIN) {
            return;
        }
        if (rc == -ENOTCONN) {
            VUSIM_INFO(SS, "conn %u: front-end disconnected",
                       be->cfg.conn_id);
            vu_backend_close(be);
            return;
        }
        if (rc < 0) {
            VUSIM_ERR(SS, "conn %u: bad message from front-end (%s); "
                      "closing", be->cfg.conn_id, strerror(-rc));
            vu_backend_close(be);
            return;
        }
        if (!vu_handle_one(be, &m)) {
            return;
        }
    }
}

/*
 * The loop's hot serve: read the fd this front-end answers on next. With
 * an in-band call out that is the back-end channel, whose ack releases
 * the calendar (and would win over a crossing kick in a batch too, by its
 * priority); otherwise the main socket.
 */
static void vu_hot_serve(void *opaque)
{
    struct vu_backend *be = opaque;

    if (be->chan.awaiting_call_ack && be->chan.fd >= 0) {
        vu_chan_serve(be);
    } else {
        vu_drain(be);
    }
}

void vu_backend_set_hot(struct vu_backend *be)
{
    vu_loop_set_hot(be->loop, vu_hot_serve, be);
}

static void vu_sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vu_backend *be = arg;

    (void)fd;
    (void)what;
    vu_loop_touch(be->loop);
    vu_backend_set_hot(be);
    vu_drain(be);
}

/* ---- life cycle ---------------------------------------------------- */

struct vu_backend *vu_backend_new(struct vu_loop *loop, struct dev *dev,
                                  const struct vu_backend_cfg *cfg)
{
    struct vu_backend *be = calloc(1, sizeof(*be));

    if (!be) {
        return NULL;
    }
    be->loop = loop;
    be->dev = dev;
    be->cfg = *cfg;
    be->sock = -1;
    be->mem_check.fn = vu_mem_check_deferred;
    /* after the connection's ring looks (kick_defer keys: conn << 16 | q) */
    be->mem_check.key = ((uint64_t)cfg->conn_id << 16) | 0xffff;
    vu_chan_init(be);
    be->nq = dev->num_queues;
    vu_mem_init(&be->mem);
    vu_inflight_init(&be->inflight);
    for (uint16_t i = 0; i < VU_MAX_QUEUES; i++) {
        vu_queue_init(be, &be->q[i], i);
    }
    dev->host = &vu_host_ops;
    dev->host_ctx = be;
    return be;
}

void vu_backend_free(struct vu_backend *be)
{
    if (!be) {
        return;
    }
    vu_backend_detach(be);
    for (uint16_t i = 0; i < VU_MAX_QUEUES; i++) {
        vu_queue_free_reqs(&be->q[i]);
    }
    free(be->lat);
    free(be);
}

int vu_backend_attach(struct vu_backend *be, int sock)
{
    if (be->sock >= 0) {
        return -EBUSY;
    }
    be->sock_ev = event_new(vu_loop_base(be->loop), sock,
                            EV_READ | EV_PERSIST, vu_sock_cb, be);
    if (!be->sock_ev || event_add(be->sock_ev, NULL) < 0) {
        if (be->sock_ev) {
            event_free(be->sock_ev);
            be->sock_ev = NULL;
        }
        return -ENOMEM;
    }
    be->sock = sock;
    vu_msg_reader_init(&be->rd);
    be->broken = false;
    be->errs_logged = 0;
    be->warned_unwaited = false;
    be->st.connections++;
    VU_OBS(be, conn, true);
    VUSIM_INFO(SS, "conn %u: front-end connected", be->cfg.conn_id);
    if (be->obs && be->obs->conn) {
        be->obs->conn(be->obs_opaque, be, true);
    }
    return 0;
}

void vu_backend_detach(struct vu_backend *be)
{
    vu_loop_drop_hot(be->loop, be);
    vu_loop_undefer(be->loop, &be->mem_check);
    if (be->sock < 0) {
        return;
    }
    VU_OBS(be, conn, false);
    vu_reset_state(be);
    vu_chan_drop_calls(be);
    for (uint16_t i = 0; i < be->nq; i++) {
        vu_queue_free_reqs(&be->q[i]);
    }
    vu_chan_close(be);
    event_free(be->sock_ev);
    be->sock_ev = NULL;
    be->reply_deferred = false;
    if (be->deferred_has_reply) {
        be->deferred_has_reply = false;
        vu_msg_close_fds(&be->deferred_reply);
    }
    vu_msg_reader_fini(&be->rd);
    close(be->sock);
    be->sock = -1;
    vu_mem_fini(&be->mem);
    vu_mem_init(&be->mem);
    vu_inflight_fini(&be->inflight);   /* the front-end keeps its copy */
    be->owner = false;
    be->pfeatures = 0;
    be->pfeatures_set = false;
}

bool vu_backend_connected(const struct vu_backend *be)
{
    return be->sock >= 0;
}

void vu_backend_reply_resume(struct vu_backend *be)
{
    if (!be->reply_deferred || be->sock < 0) {
        return;
    }
    be->reply_deferred = false;
    if (be->deferred_has_reply) {
        be->deferred_has_reply = false;
        if (vu_send_reply(be, &be->deferred_reply) < 0) {
            vu_backend_fail(be, -ENOTCONN, "cannot send a deferred reply");
            vu_backend_close(be);
            return;
        }
    }
    event_add(be->sock_ev, NULL);
    vu_drain(be);                 /* what arrived meanwhile raises no event */
}

void vu_backend_set_on_close(struct vu_backend *be,
                             void (*fn)(struct vu_backend *be, void *opaque),
                             void *opaque)
{
    be->cfg.on_close = fn;
    be->cfg.opaque = opaque;
}

int vu_inband_parse(const char *s, enum vu_inband_mode *mode)
{
    static const char *const names[] = { "auto", "on", "off" };

    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *mode = (enum vu_inband_mode)i;
            return 0;
        }
    }
    return -EINVAL;
}
