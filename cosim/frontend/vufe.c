/* SPDX-License-Identifier: MIT */
/*
 * cosim/frontend/vufe.c - vufe's lifecycle, negotiation and typed requests
 *
 * The sequence follows what UML and QEMU were seen to send (see the
 * uml- and qemu-frontend-facts.md references): the boot part once per
 * connection, the driver-load part again after a reset or a reload.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cosim/frontend/vufe-internal.h"

#define PF_DEFAULT                                                           \
    (VU_BIT(VU_PF_MQ) | VU_BIT(VU_PF_REPLY_ACK) | VU_BIT(VU_PF_BACKEND_REQ) | \
     VU_BIT(VU_PF_CONFIG) | VU_BIT(VU_PF_RESET_DEVICE) |                      \
     VU_BIT(VU_PF_INBAND_NOTIFICATIONS) |                                    \
     VU_BIT(VU_PF_CONFIGURE_MEM_SLOTS) | VU_BIT(VU_PF_STATUS))

#define PF_INBAND_NEEDS                                                      \
    (VU_BIT(VU_PF_INBAND_NOTIFICATIONS) | VU_BIT(VU_PF_BACKEND_REQ) |         \
     VU_BIT(VU_PF_REPLY_ACK))

void vufe_cfg_init(struct vufe_cfg *cfg)
{
    *cfg = (struct vufe_cfg){
        .fd = -1,
        .num_queues = 1,
        .queue_size = 256,
        .mem_size = 16ull << 20,
        .notify = VUFE_NOTIFY_EVENTFD,
        .event_idx = true,
        .indirect = true,
        .features = ~0ull,
        .protocol_features = PF_DEFAULT,
        .reply_ack = true,
        .timeout_ms = 5000,
    };
}

/* ---- lifecycle ------------------------------------------------------- */

static int check_cfg(const struct vufe_cfg *c)
{
    bool pow2 = c->queue_size && (c->queue_size & (c->queue_size - 1)) == 0;

    if (c->num_queues < 1 || c->num_queues > VU_MAX_QUEUES || !pow2 ||
        c->queue_size > VU_QUEUE_MAX || c->mem_size < (64u << 10) ||
        c->mem_size % 8192 != 0 || c->config_size > VU_CONFIG_MAX ||
        c->timeout_ms <= 0 || (!c->path && c->fd < 0)) {
        return -EINVAL;
    }
    if (c->notify > VUFE_NOTIFY_QEMU ||
        (c->notify == VUFE_NOTIFY_INBAND && !c->reply_ack)) {
        return -EINVAL;
    }
    return 0;
}

static int fe_init(struct vufe *fe, const struct vufe_cfg *cfg)
{
    int rc = check_cfg(cfg);

    if (rc < 0) {
        return rc;
    }
    if (cfg->path) {
        fe->path = strdup(cfg->path);
        if (!fe->path) {
            return -ENOMEM;
        }
    }
    fe->cfg.path = fe->path;
    rc = vufe_mem_init(fe);
    if (rc == 0) {
        rc = vufe_rings_init(fe);
    }
    if (rc == 0) {
        /* A given socket (fe->sock) is adopted; else connect to the path. */
        rc = vufe_connect(fe, fe->sock);
    }
    return rc;
}

struct vufe *vufe_new(const struct vufe_cfg *cfg, int *err)
{
    struct vufe *fe = calloc(1, sizeof(*fe));
    int rc = -ENOMEM;

    if (!fe) {
        if (cfg->fd >= 0) {
            close(cfg->fd);
        }
        goto out;
    }
    fe->cfg = *cfg;
    fe->sock = cfg->fd;     /* taken now, so every failure closes it */
    fe->chan = fe->memfd = fe->inflight_fd = -1;
    rc = fe_init(fe, cfg);
    if (rc < 0) {
        vufe_free(fe);
        fe = NULL;
    }
out:
    if (err) {
        *err = rc < 0 ? rc : 0;
    }
    return fe;
}

struct vufe *vufe_open(const struct vufe_cfg *cfg, int *err)
{
    struct vufe *fe = vufe_new(cfg, err);

    if (!fe) {
        return NULL;
    }
    int rc = vufe_negotiate(fe);
    if (rc == 0) {
        rc = vufe_setup(fe);
    }
    if (rc < 0) {
        vufe_free(fe);
        fe = NULL;
    }
    if (err) {
        *err = rc;
    }
    return fe;
}

void vufe_free(struct vufe *fe)
{
    if (!fe) {
        return;
    }
    vufe_close_conn(fe);
    vufe_rings_fini(fe);
    vufe_mem_fini(fe);
    if (fe->inflight_fd >= 0) {
        close(fe->inflight_fd);
    }
    free(fe->path);
    free(fe);
}

void vufe_disconnect(struct vufe *fe)
{
    vufe_close_conn(fe);
}

int vufe_reconnect(struct vufe *fe, int fd)
{
    vufe_close_conn(fe);
    for (unsigned i = 0; i < fe->cfg.num_queues; i++) {
        struct vufe_queue *vq = &fe->q[i];
        if (!vq->base_fresh) {
            vq->base = vufe_used_idx(vq);
        }
    }
    return vufe_connect(fe, fd);
}

/* ---- accessors ------------------------------------------------------- */

int vufe_sock(const struct vufe *fe)
{
    return fe->sock;
}

int vufe_channel(const struct vufe *fe)
{
    return fe->chan;
}

uint64_t vufe_features(const struct vufe *fe)
{
    return fe->features;
}

uint64_t vufe_protocol_features(const struct vufe *fe)
{
    return fe->pf;
}

uint64_t vufe_offered_features(const struct vufe *fe)
{
    return fe->offered;
}

const struct vufe_stats *vufe_stats(const struct vufe *fe)
{
    return &fe->st;
}

uint64_t vufe_offered_protocol_features(const struct vufe *fe)
{
    return fe->offered_pf;
}

const uint8_t *vufe_config(const struct vufe *fe, uint32_t *len)
{
    *len = fe->config_len;
    return fe->config;
}

/* ---- negotiation (boot) ---------------------------------------------- */

static int query_u64(struct vufe *fe, uint32_t req, uint64_t *v)
{
    struct vu_msg r;
    int rc = vufe_query(fe, req, NULL, 0, &r, sizeof(uint64_t));

    if (rc == 0) {
        *v = r.p.u64;
    }
    return rc;
}

static int open_channel(struct vufe *fe)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return -errno;
    }
    if (fe->chan >= 0) {
        close(fe->chan);
        vu_msg_reader_fini(&fe->chan_rd);
    }
    fe->chan = sv[0];
    vu_msg_reader_init(&fe->chan_rd);
    int rc = vufe_send_acked(fe, VU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sv[1],
                             1);
    close(sv[1]);
    return rc;
}

static uint64_t wanted_pf(const struct vufe *fe)
{
    uint64_t want = fe->cfg.protocol_features;

    if (!fe->cfg.reply_ack) {
        want &= ~VU_BIT(VU_PF_REPLY_ACK);
    }
    if (fe->cfg.notify == VUFE_NOTIFY_EVENTFD) {
        want &= ~(VU_BIT(VU_PF_INBAND_NOTIFICATIONS) |
                  VU_BIT(VU_PF_BACKEND_REQ));
    }
    return want;
}

static int negotiate_pf(struct vufe *fe)
{
    uint64_t pf;
    int rc = query_u64(fe, VU_REQ_GET_PROTOCOL_FEATURES, &fe->offered_pf);

    if (rc < 0) {
        return rc;
    }
    pf = fe->offered_pf & wanted_pf(fe);
    if (vufe_inband(fe) && (pf & PF_INBAND_NEEDS) != PF_INBAND_NEEDS) {
        VUSIM_ERR(VUFE_SS, "in-band mode, but the back-end offers protocol "
                  "features 0x%llx", (unsigned long long)fe->offered_pf);
        return -EPROTO;
    }
    /* Set first: the reply to this very message is an ack if REPLY_ACK is
     * among the bits, as UML expects. */
    fe->pf = pf;
    rc = vufe_send_acked(fe, VU_REQ_SET_PROTOCOL_FEATURES, &pf, sizeof(pf),
                         NULL, 0);
    if (rc == 0 && vufe_has_pf(fe, VU_PF_BACKEND_REQ)) {
        rc = open_channel(fe);
    }
    return rc;
}

static uint64_t wanted_features(const struct vufe *fe)
{
    uint64_t f = fe->offered & fe->cfg.features;

    if (!fe->cfg.event_idx) {
        f &= ~VU_BIT(VU_F_RING_EVENT_IDX);
    }
    if (!fe->cfg.indirect) {
        f &= ~VU_BIT(VU_F_RING_INDIRECT_DESC);
    }
    return f;
}

/* As QEMU's vhost-user-blk: get a region once, give it back on every
 * connection, so a restarted back-end finds what was in flight. */
static int vufe_inflight(struct vufe *fe)
{
    struct vu_msg r;
    int rc;

    if (fe->inflight_fd < 0) {
        struct vu_inflight_desc d = {
            .num_queues = (uint16_t)fe->cfg.num_queues,
            .queue_size = (uint16_t)fe->cfg.queue_size,
        };

        rc = vufe_request(fe, VU_REQ_GET_INFLIGHT_FD, &d, sizeof(d), NULL, 0,
                          0, &r);
        if (rc < 0) {
            return rc;
        }
        if (r.hdr.size != sizeof(d) || r.nfds != 1) {
            VUSIM_ERR(VUFE_SS, "GET_INFLIGHT_FD reply of %u bytes with %d "
                      "fds", r.hdr.size, r.nfds);
            vu_msg_close_fds(&r);
            return -EPROTO;
        }
        memcpy(&fe->inflight, r.p.raw, sizeof(d));
        fe->inflight_fd = vu_msg_take_fd(&r, 0);
    }
    return vufe_send_acked(fe, VU_REQ_SET_INFLIGHT_FD, &fe->inflight,
                           sizeof(fe->inflight), &fe->inflight_fd, 1);
}

int vufe_negotiate(struct vufe *fe)
{
    int rc = vufe_request(fe, VU_REQ_SET_OWNER, NULL, 0, NULL, 0, 0, NULL);

    if (rc == 0) {
        rc = query_u64(fe, VU_REQ_GET_FEATURES, &fe->offered);
    }
    if (rc < 0) {
        return rc;
    }
    fe->features = wanted_features(fe);
    fe->offered_pf = fe->pf = 0;
    if (vufe_has_f(fe, VU_F_PROTOCOL_FEATURES)) {
        rc = negotiate_pf(fe);
    } else if (vufe_inband(fe)) {
        rc = -EPROTO;
    }
    if (rc == 0 && vufe_has_pf(fe, VU_PF_INFLIGHT_SHMFD)) {
        rc = vufe_inflight(fe);
    }
    if (rc == 0 && vufe_has_pf(fe, VU_PF_MQ)) {
        uint64_t nq = 0;
        rc = query_u64(fe, VU_REQ_GET_QUEUE_NUM, &nq);
        if (rc == 0 && nq < fe->cfg.num_queues) {
            VUSIM_ERR(VUFE_SS, "back-end has %llu queues, %u wanted",
                      (unsigned long long)nq, fe->cfg.num_queues);
            rc = -EPROTO;
        }
    }
    return rc;
}

/* ---- setup (driver load) --------------------------------------------- */

static int send_state(struct vufe *fe, uint32_t req, unsigned q,
                      uint32_t num)
{
    struct vu_vring_state s = { q, num };

    return vufe_send_acked(fe, req, &s, sizeof(s), NULL, 0);
}

static int send_vring_fd(struct vufe *fe, uint32_t req, unsigned q, int fd)
{
    uint64_t v = q;

    return vufe_send_acked(fe, req, &v, sizeof(v), &fd, 1);
}

static int send_vring_addr(struct vufe *fe, unsigned q)
{
    const struct vufe_queue *vq = &fe->q[q];
    struct vu_vring_addr a = {
        .index = q,
        .flags = 0,
        .desc = vufe_gpa_to_uva(fe, vq->desc_gpa),
        .used = vufe_gpa_to_uva(fe, vq->used_gpa),
        .avail = vufe_gpa_to_uva(fe, vq->avail_gpa),
        .log = ~0ull,       /* as UML sends it: no logging */
    };

    return vufe_send_acked(fe, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

int vufe_queue_setup(struct vufe *fe, unsigned q)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    struct vufe_queue *vq = &fe->q[q];
    int rc = send_state(fe, VU_REQ_SET_VRING_NUM, q, vq->num);

    if (rc == 0) {
        rc = send_state(fe, VU_REQ_SET_VRING_BASE, q, vq->base);
    }
    if (rc == 0) {
        rc = send_vring_addr(fe, q);
    }
    if (rc == 0 && !vufe_inband(fe)) {
        rc = send_vring_fd(fe, VU_REQ_SET_VRING_KICK, q, vq->kick_fd);
        if (rc == 0) {
            rc = send_vring_fd(fe, VU_REQ_SET_VRING_CALL, q, vq->call_fd);
        }
    }
    if (rc == 0 && vufe_has_f(fe, VU_F_PROTOCOL_FEATURES)) {
        rc = vufe_set_vring_enable(fe, q, true);
    }
    vq->base_fresh = false;
    vq->kicked_avail = vq->avail_idx;
    return rc;
}

static int setup_memory(struct vufe *fe)
{
    if (!fe->cfg.mem_slots || !vufe_has_pf(fe, VU_PF_CONFIGURE_MEM_SLOTS)) {
        return vufe_set_mem_table(fe);
    }
    for (unsigned i = 0; i < fe->nregions; i++) {
        int rc = vufe_add_mem_reg(fe, i);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int vufe_setup(struct vufe *fe)
{
    int rc = vufe_send_acked(fe, VU_REQ_SET_FEATURES, &fe->features,
                             sizeof(fe->features), NULL, 0);

    fe->config_len = 0;
    if (rc == 0 && fe->cfg.config_size && vufe_has_pf(fe, VU_PF_CONFIG)) {
        rc = vufe_get_config(fe, 0, fe->config, fe->cfg.config_size);
        fe->config_len = rc == 0 ? fe->cfg.config_size : 0;
    }
    if (rc == 0) {
        rc = setup_memory(fe);
    }
    for (unsigned q = 0; rc == 0 && q < fe->cfg.num_queues; q++) {
        rc = vufe_queue_setup(fe, q);
    }
    return rc;
}

/* ---- typed requests -------------------------------------------------- */

int vufe_set_mem_table(struct vufe *fe)
{
    struct vu_mem_table t = { .nregions = fe->nregions };
    int fds[2] = { fe->memfd, fe->memfd };

    memcpy(t.regions, fe->regions, fe->nregions * sizeof(t.regions[0]));
    return vufe_send_acked(fe, VU_REQ_SET_MEM_TABLE, &t,
                           8 + fe->nregions * sizeof(t.regions[0]), fds,
                           (int)fe->nregions);
}

static int mem_reg(struct vufe *fe, uint32_t req, unsigned region)
{
    if (region >= fe->nregions) {
        return -EINVAL;
    }
    struct vu_mem_single s = { .region = fe->regions[region] };
    int fd = fe->memfd;

    return vufe_send_acked(fe, req, &s, sizeof(s), &fd,
                           req == VU_REQ_ADD_MEM_REG ? 1 : 0);
}

int vufe_add_mem_reg(struct vufe *fe, unsigned region)
{
    return mem_reg(fe, VU_REQ_ADD_MEM_REG, region);
}

int vufe_rem_mem_reg(struct vufe *fe, unsigned region)
{
    return mem_reg(fe, VU_REQ_REM_MEM_REG, region);
}

int vufe_get_max_mem_slots(struct vufe *fe, uint64_t *slots)
{
    return query_u64(fe, VU_REQ_GET_MAX_MEM_SLOTS, slots);
}

int vufe_get_vring_base(struct vufe *fe, unsigned q, uint16_t *base)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    struct vu_vring_state s = { q, 0 };
    struct vu_msg r;
    int rc = vufe_query(fe, VU_REQ_GET_VRING_BASE, &s, sizeof(s), &r,
                        sizeof(s));
    if (rc < 0) {
        return rc;
    }
    if (r.p.state.index != q || r.p.state.num > 0xffff) {
        return -EBADMSG;
    }
    *base = (uint16_t)r.p.state.num;
    fe->q[q].base = *base;
    fe->q[q].base_fresh = true;
    return 0;
}

int vufe_set_vring_base(struct vufe *fe, unsigned q, uint16_t base)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    fe->q[q].base = base;
    fe->q[q].base_fresh = true;
    return send_state(fe, VU_REQ_SET_VRING_BASE, q, base);
}

int vufe_set_vring_enable(struct vufe *fe, unsigned q, bool on)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    return send_state(fe, VU_REQ_SET_VRING_ENABLE, q, on ? 1 : 0);
}

int vufe_reset_device(struct vufe *fe)
{
    int rc = vufe_send_acked(fe, VU_REQ_RESET_DEVICE, NULL, 0, NULL, 0);

    if (rc == 0) {
        for (unsigned q = 0; q < fe->cfg.num_queues; q++) {
            vufe_queue_reset(fe, q);
        }
    }
    return rc;
}

int vufe_get_config(struct vufe *fe, uint32_t off, void *buf, uint32_t len)
{
    struct vu_config c = { .offset = off, .size = len };
    struct vu_msg r;

    if (len == 0 || len > VU_CONFIG_MAX) {
        return -EINVAL;
    }
    int rc = vufe_request(fe, VU_REQ_GET_CONFIG, &c, VU_CONFIG_HDR_SIZE + len,
                          NULL, 0, 0, &r);
    if (rc < 0) {
        return rc;
    }
    vu_msg_close_fds(&r);
    /* An empty payload (or an empty config) is the back-end's "error". */
    if (r.hdr.size == 0 || r.hdr.size == VU_CONFIG_HDR_SIZE) {
        return -EREMOTEIO;
    }
    if (r.hdr.size != VU_CONFIG_HDR_SIZE + len || r.p.config.size != len) {
        return -EBADMSG;
    }
    memcpy(buf, r.p.config.payload, len);
    return 0;
}

int vufe_set_config(struct vufe *fe, uint32_t off, const void *buf,
                    uint32_t len, uint32_t flags)
{
    struct vu_config c = { .offset = off, .size = len, .flags = flags };

    if (len > VU_CONFIG_MAX) {
        return -EINVAL;
    }
    if (len) {
        memcpy(c.payload, buf, len);
    }
    return vufe_send_acked(fe, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + len,
                           NULL, 0);
}

int vufe_get_status(struct vufe *fe, uint64_t *status)
{
    return query_u64(fe, VU_REQ_GET_STATUS, status);
}

int vufe_set_status(struct vufe *fe, uint64_t status)
{
    return vufe_send_acked(fe, VU_REQ_SET_STATUS, &status, sizeof(status),
                           NULL, 0);
}
