/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the reference front-end (cosim/vufe*.c).
 *
 * vufe is driven against a scripted back-end ("fake") in a second thread,
 * over a real socketpair: the fake records every message, answers from a
 * small script, maps the guest memory with vu_mem and walks the rings with
 * vu_vq, so vufe's ring writer is checked against the real device-side
 * walker. The fake is only a test double: it trusts the front-end and
 * stops at the first error. Waits are bounded; where a test needs one side
 * to time out, the other side's wait is strictly longer by construction.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cosim/wire/mem.h"
#include "cosim/wire/msg.h"
#include "cosim/wire/vq.h"
#include "cosim/frontend/vufe.h"
#include "sim/log.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

#define FAKE_LOG  256
#define FAKE_QMAX 4
#define CALL_MAGIC 0xca11u   /* SET_STATUS value: "send a call now" */

#define F(b)  VU_BIT(b)
#define PF_ALL                                                               \
    (F(VU_PF_MQ) | F(VU_PF_REPLY_ACK) | F(VU_PF_BACKEND_REQ) |                \
     F(VU_PF_CONFIG) | F(VU_PF_RESET_DEVICE) |                               \
     F(VU_PF_INBAND_NOTIFICATIONS) | F(VU_PF_CONFIGURE_MEM_SLOTS) |           \
     F(VU_PF_STATUS))
#define FEAT_ALL                                                             \
    (F(VU_F_VERSION_1) | F(VU_F_PROTOCOL_FEATURES) |                          \
     F(VU_F_RING_EVENT_IDX) | F(VU_F_RING_INDIRECT_DESC) | F(9) | F(2))

struct fake_rec {
    uint32_t req, flags, size;
    int nfds;
    union vu_payload p;
};

struct fake {
    int sock;
    pthread_t th;
    pthread_mutex_t mu;
    /* script, set before the thread starts */
    uint64_t features, pf, queue_num, status, max_slots;
    uint32_t nack_req;            /* answer this request with ack 1 */
    bool empty_config;
    bool wrong_reply;             /* answer GET_FEATURES as GET_STATUS */
    bool call_before_kick_ack;    /* in-band: call (and wait) before ack */
    int call_ack_timeout_ms;
    /* recorded */
    struct fake_rec log[FAKE_LOG];
    unsigned nlog;
    uint64_t acked_features, acked_pf;
    int chan;
    struct vu_mem mem;
    struct vu_mem_region regions[VU_MEM_TABLE_MAX];
    int memfds[VU_MEM_TABLE_MAX];     /* dups for the test thread */
    unsigned nregions;
    struct vu_vq vq[FAKE_QMAX];
    struct vu_vring_addr addr[FAKE_QMAX];
    uint32_t base[FAKE_QMAX];
    int kickfd[FAKE_QMAX], callfd[FAKE_QMAX];
    uint64_t call_acks[64];
    unsigned ncall_acks, call_ack_timeouts, calls_sent, kicks_seen;
};

/* ---- the fake back-end ------------------------------------------------ */

/* Send BACKEND_VRING_CALL on the channel and wait (bounded) for its ack. */
static void fake_inband_call(struct fake *f, unsigned q)
{
    struct vu_msg m, r;
    struct pollfd p = { .fd = f->chan, .events = POLLIN };

    vu_msg_init(&m, VU_BREQ_VRING_CALL, VU_FLAG_NEED_REPLY, 8);
    m.p.state = (struct vu_vring_state){ q, 0 };
    if (vu_msg_send(f->chan, &m) < 0) {
        return;
    }
    f->calls_sent++;
    if (poll(&p, 1, f->call_ack_timeout_ms) != 1 ||
        vu_msg_recv(f->chan, &r) < 0) {
        f->call_ack_timeouts++;
        return;
    }
    if (f->ncall_acks < 64) {
        f->call_acks[f->ncall_acks++] = r.p.u64;
    }
}

static void fake_call(struct fake *f, unsigned q)
{
    uint64_t one = 1;

    if (f->callfd[q] >= 0) {
        f->calls_sent += write(f->callfd[q], &one, 8) == 8;
    } else if (f->chan >= 0) {
        fake_inband_call(f, q);
    }
}

/* An echo device: copy the readable bytes into the writable ones. */
static void fake_run_queue(struct fake *f, unsigned q)
{
    struct vu_vq *vq = &f->vq[q];
    struct vu_chain ch;
    uint8_t buf[4096];

    if (!vu_vq_ready(vq, &f->mem) && vu_vq_map(vq, &f->mem) < 0) {
        return;
    }
    vu_chain_init(&ch);
    do {
        while (vu_vq_pop(vq, &f->mem, &ch) == 1) {
            size_t n = ch.rd_len < ch.wr_len ? ch.rd_len : ch.wr_len;
            n = n < sizeof(buf) ? n : sizeof(buf);
            vu_chain_read(&ch, &f->mem, 0, buf, n);
            vu_chain_write(&ch, &f->mem, 0, buf, n);
            vu_vq_push(vq, ch.head, (uint32_t)n);
        }
        /* As a real device: ask for the next kick, then look again. */
        vu_vq_enable_kicks(vq);
    } while (vu_vq_avail_count(vq) > 0);
    vu_chain_fini(&ch);
    if (vu_vq_should_notify(vq)) {
        fake_call(f, q);
    }
}

static void fake_set_fd(int *slot, struct vu_msg *m)
{
    if (*slot >= 0) {
        close(*slot);
    }
    *slot = vu_msg_take_fd(m, 0);
}

static void fake_mem_table(struct fake *f, struct vu_msg *m)
{
    unsigned n = m->p.mem.nregions;

    f->nregions = n;
    for (unsigned i = 0; i < n; i++) {
        f->regions[i] = m->p.mem.regions[i];
        if (f->memfds[i] >= 0) {
            close(f->memfds[i]);
        }
        f->memfds[i] = dup(m->fds[i]);
    }
    vu_mem_set_table(&f->mem, m->p.mem.regions, m->fds, n);
    for (unsigned i = 0; i < VU_MAX_FDS; i++) {
        m->fds[i] = -1;          /* vu_mem took them */
    }
}

/* Handle one request; fills @r and returns true if a reply is due. */
static bool fake_dispatch(struct fake *f, struct vu_msg *m, struct vu_msg *r)
{
    unsigned q = m->p.state.index < FAKE_QMAX ? m->p.state.index : 0;
    uint32_t req = m->hdr.request;

    vu_msg_init(r, req, VU_VERSION | VU_FLAG_REPLY, 8);
    switch (req) {
    case VU_REQ_GET_FEATURES:
        r->p.u64 = f->features;
        r->hdr.request = f->wrong_reply ? VU_REQ_GET_STATUS : req;
        return true;
    case VU_REQ_GET_PROTOCOL_FEATURES:
        r->p.u64 = f->pf;
        return true;
    case VU_REQ_GET_QUEUE_NUM:
        r->p.u64 = f->queue_num;
        return true;
    case VU_REQ_GET_STATUS:
        r->p.u64 = f->status;
        return true;
    case VU_REQ_GET_MAX_MEM_SLOTS:
        r->p.u64 = f->max_slots;
        return true;
    case VU_REQ_GET_VRING_BASE:
        r->p.state = (struct vu_vring_state){ q, vu_vq_stop(&f->vq[q]) };
        return true;
    case VU_REQ_GET_CONFIG:
        r->hdr.size = VU_CONFIG_HDR_SIZE;
        r->p.config.offset = m->p.config.offset;
        if (!f->empty_config) {
            r->hdr.size += m->p.config.size;
            r->p.config.size = m->p.config.size;
            for (uint32_t i = 0; i < m->p.config.size; i++) {
                r->p.config.payload[i] = (uint8_t)(m->p.config.offset + i);
            }
        }
        return true;
    case VU_REQ_SET_FEATURES:
        f->acked_features = m->p.u64;
        for (unsigned i = 0; i < FAKE_QMAX; i++) {
            f->vq[i].event_idx = m->p.u64 & F(VU_F_RING_EVENT_IDX);
            f->vq[i].indirect_ok = m->p.u64 & F(VU_F_RING_INDIRECT_DESC);
        }
        break;
    case VU_REQ_SET_PROTOCOL_FEATURES:
        f->acked_pf = m->p.u64;
        break;
    case VU_REQ_SET_BACKEND_REQ_FD:
        fake_set_fd(&f->chan, m);
        break;
    case VU_REQ_SET_MEM_TABLE:
        fake_mem_table(f, m);
        break;
    case VU_REQ_ADD_MEM_REG:
        f->regions[f->nregions] = m->p.mreg.region;
        f->memfds[f->nregions++] = dup(m->fds[0]);
        vu_mem_add(&f->mem, &m->p.mreg.region, vu_msg_take_fd(m, 0));
        break;
    case VU_REQ_REM_MEM_REG:
        vu_mem_remove(&f->mem, &m->p.mreg.region);
        break;
    case VU_REQ_SET_VRING_NUM:
        vu_vq_set_num(&f->vq[q], m->p.state.num);
        break;
    case VU_REQ_SET_VRING_BASE:
        f->base[q] = m->p.state.num;
        vu_vq_set_base(&f->vq[q], (uint16_t)m->p.state.num);
        break;
    case VU_REQ_SET_VRING_ADDR:
        f->addr[q] = m->p.addr;
        vu_vq_set_addr(&f->vq[q], &m->p.addr);
        break;
    case VU_REQ_SET_VRING_KICK:
        fake_set_fd(&f->kickfd[m->p.u64 & 0xff], m);
        break;
    case VU_REQ_SET_VRING_CALL:
        fake_set_fd(&f->callfd[m->p.u64 & 0xff], m);
        break;
    case VU_REQ_SET_STATUS:
        f->status = m->p.u64;
        if (m->p.u64 == CALL_MAGIC) {
            fake_inband_call(f, 0);
        }
        break;
    default:
        break;
    }
    r->p.u64 = req == f->nack_req ? 1 : 0;
    return (m->hdr.flags & VU_FLAG_NEED_REPLY) != 0;
}

static void fake_kick(struct fake *f, struct vu_msg *m, struct vu_msg *r)
{
    unsigned q = m->p.state.index < FAKE_QMAX ? m->p.state.index : 0;

    f->kicks_seen++;
    vu_msg_init(r, m->hdr.request, VU_VERSION | VU_FLAG_REPLY, 8);
    if (f->call_before_kick_ack) {
        /* The order UML deadlocks on: call, wait for its ack, then ack. */
        fake_run_queue(f, q);
        vu_msg_send(f->sock, r);
        return;
    }
    vu_msg_send(f->sock, r);
    fake_run_queue(f, q);
}

static int fake_handle(struct fake *f)
{
    struct vu_msg m, r;
    int rc = vu_msg_recv(f->sock, &m);

    if (rc < 0) {
        return rc;
    }
    pthread_mutex_lock(&f->mu);
    if (f->nlog < FAKE_LOG) {
        f->log[f->nlog++] = (struct fake_rec){ m.hdr.request, m.hdr.flags,
                                               m.hdr.size, m.nfds, m.p };
    }
    if (m.hdr.request == VU_REQ_VRING_KICK) {
        fake_kick(f, &m, &r);
    } else if (fake_dispatch(f, &m, &r)) {
        vu_msg_send(f->sock, &r);
    }
    pthread_mutex_unlock(&f->mu);
    vu_msg_close_fds(&m);
    return 0;
}

static void fake_eventfd_kicks(struct fake *f, struct pollfd *p, int *qof,
                               int n)
{
    for (int i = 1; i < n; i++) {
        uint64_t v;
        if (p[i].revents && read(p[i].fd, &v, 8) == 8) {
            pthread_mutex_lock(&f->mu);
            f->kicks_seen++;
            fake_run_queue(f, (unsigned)qof[i]);
            pthread_mutex_unlock(&f->mu);
        }
    }
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;

    for (;;) {
        struct pollfd p[1 + FAKE_QMAX] = {
            { .fd = f->sock, .events = POLLIN } };
        int qof[1 + FAKE_QMAX], n = 1;
        pthread_mutex_lock(&f->mu);
        for (int q = 0; q < FAKE_QMAX; q++) {
            if (f->kickfd[q] >= 0) {
                qof[n] = q;
                p[n++] = (struct pollfd){ .fd = f->kickfd[q],
                                          .events = POLLIN };
            }
        }
        pthread_mutex_unlock(&f->mu);
        if (poll(p, (nfds_t)n, 100) < 0) {
            break;
        }
        if (p[0].revents && fake_handle(f) < 0) {
            break;
        }
        fake_eventfd_kicks(f, p, qof, n);
    }
    /* Gone for good: let the front-end see EOF rather than silence. */
    shutdown(f->sock, SHUT_RDWR);
    return NULL;
}

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->features = FEAT_ALL;
    f->pf = PF_ALL;
    f->queue_num = FAKE_QMAX;
    f->max_slots = 32;
    f->call_ack_timeout_ms = 3000;
    f->sock = f->chan = -1;
    for (int i = 0; i < FAKE_QMAX; i++) {
        f->kickfd[i] = f->callfd[i] = -1;
        vu_vq_init(&f->vq[i]);
    }
    for (int i = 0; i < VU_MEM_TABLE_MAX; i++) {
        f->memfds[i] = -1;
    }
    vu_mem_init(&f->mem);
}

/* Start the fake; returns the front-end end of the socketpair. */
static int fake_start(struct fake *f)
{
    int sv[2];

    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                               sv) == 0);
    f->sock = sv[1];
    CU_ASSERT_FATAL(pthread_create(&f->th, NULL, fake_main, f) == 0);
    return sv[0];
}

/* Call after the front-end closed its end: the thread sees EOF. */
static void fake_stop(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->sock);
    if (f->chan >= 0) {
        close(f->chan);
    }
    for (int i = 0; i < FAKE_QMAX; i++) {
        if (f->kickfd[i] >= 0) {
            close(f->kickfd[i]);
        }
        if (f->callfd[i] >= 0) {
            close(f->callfd[i]);
        }
    }
    for (int i = 0; i < VU_MEM_TABLE_MAX; i++) {
        if (f->memfds[i] >= 0) {
            close(f->memfds[i]);
        }
    }
    vu_mem_fini(&f->mem);
    pthread_mutex_destroy(&f->mu);
}

static void base_cfg(struct vufe_cfg *c, int fd, enum vufe_notify mode)
{
    vufe_cfg_init(c);
    c->fd = fd;
    c->notify = mode;
    c->mem_size = 1u << 20;
    c->queue_size = 64;
    c->timeout_ms = 3000;
}

/* A fake and a front-end opened on it: the fixture most tests share. */
struct fix {
    struct fake f;
    struct vufe *fe;
    int rc;
};

static void fix_open(struct fix *x, struct vufe_cfg *c)
{
    c->fd = fake_start(&x->f);
    x->fe = vufe_open(c, &x->rc);
}

static void fix_close(struct fix *x)
{
    vufe_free(x->fe);
    fake_stop(&x->f);
}

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    while (d && readdir(d)) {
        n++;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

/* Expected errors are counted, not printed: one line each, from vufe. */
static void count_sink(int level, const char *subsys, const char *line,
                       void *opaque)
{
    if (level == VUSIM_LOG_ERR && strcmp(subsys, "vufe") == 0) {
        __atomic_fetch_add((int *)opaque, 1, __ATOMIC_RELAXED);
    }
}

/* ---- configuration ----------------------------------------------------- */

struct cfg_case {
    const char *name;
    void (*mutate)(struct vufe_cfg *c);
};

static void m_q0(struct vufe_cfg *c) { c->num_queues = 0; }
static void m_q_many(struct vufe_cfg *c) { c->num_queues = VU_MAX_QUEUES + 1; }
static void m_qs_odd(struct vufe_cfg *c) { c->queue_size = 100; }
static void m_qs_big(struct vufe_cfg *c) { c->queue_size = 2 * VU_QUEUE_MAX; }
static void m_qs_0(struct vufe_cfg *c) { c->queue_size = 0; }
static void m_mem_small(struct vufe_cfg *c) { c->mem_size = 4096; }
static void m_mem_odd(struct vufe_cfg *c) { c->mem_size = (1u << 20) + 4096; }
static void m_inband_noack(struct vufe_cfg *c)
{
    c->notify = VUFE_NOTIFY_INBAND;
    c->reply_ack = false;
}
static void m_notify_bad(struct vufe_cfg *c) { c->notify = 7; }
static void m_cfg_big(struct vufe_cfg *c)
{
    c->config_size = VU_CONFIG_MAX + 1;
}
static void m_timeout(struct vufe_cfg *c) { c->timeout_ms = 0; }
static void m_rings_fill(struct vufe_cfg *c)
{
    c->mem_size = 64u << 10;
    c->num_queues = 8;
    c->queue_size = 1024;
}

static const struct cfg_case cfg_cases[] = {
    { "no queues", m_q0 },
    { "too many queues", m_q_many },
    { "queue size not a power of two", m_qs_odd },
    { "queue size too big", m_qs_big },
    { "queue size 0", m_qs_0 },
    { "memory too small", m_mem_small },
    { "memory not 8 KiB aligned", m_mem_odd },
    { "in-band without REPLY_ACK", m_inband_noack },
    { "bad notify mode", m_notify_bad },
    { "config too big", m_cfg_big },
    { "no timeout", m_timeout },
    { "rings do not fit", m_rings_fill },
};

/* Every bad config fails, and the socket handed over is closed anyway. */
static void test_cfg_rejected(void)
{
    for (size_t i = 0; i < sizeof(cfg_cases) / sizeof(cfg_cases[0]); i++) {
        struct vufe_cfg c;
        int sv[2], err = 0;
        CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        int before = count_open_fds();
        base_cfg(&c, sv[0], VUFE_NOTIFY_EVENTFD);
        cfg_cases[i].mutate(&c);
        VU_ASSERT_MSG(vufe_new(&c, &err) == NULL, cfg_cases[i].name);
        int want = cfg_cases[i].mutate == m_rings_fill ? -ENOMEM : -EINVAL;
        VU_ASSERT_MSG(err == want, cfg_cases[i].name);
        VU_ASSERT_MSG(count_open_fds() == before - 1, cfg_cases[i].name);
        close(sv[1]);
    }
}

/* ---- negotiation sequences --------------------------------------------- */

#define NR VU_FLAG_NEED_REPLY

struct step {
    uint32_t req, flags;
    int nfds;
};

struct neg_case {
    const char *name;
    enum vufe_notify mode;
    bool reply_ack, split, mem_slots;
    uint64_t want_pf;             /* acked protocol features */
    struct step seq[24];          /* terminated by req 0 */
};

#define S(r, fl, n) { VU_REQ_##r, (fl), (n) }
#define PF_EV (F(VU_PF_MQ) | F(VU_PF_REPLY_ACK) | F(VU_PF_CONFIG) |           \
               F(VU_PF_RESET_DEVICE) | F(VU_PF_CONFIGURE_MEM_SLOTS) |         \
               F(VU_PF_STATUS))

static const struct neg_case neg_cases[] = {
    { "eventfd", VUFE_NOTIFY_EVENTFD, true, false, false, PF_EV, {
        S(SET_OWNER, 0, 0), S(GET_FEATURES, 0, 0),
        S(GET_PROTOCOL_FEATURES, 0, 0), S(SET_PROTOCOL_FEATURES, NR, 0),
        S(GET_QUEUE_NUM, 0, 0), S(SET_FEATURES, NR, 0),
        S(GET_CONFIG, 0, 0), S(SET_MEM_TABLE, NR, 1),
        S(SET_VRING_NUM, NR, 0), S(SET_VRING_BASE, NR, 0),
        S(SET_VRING_ADDR, NR, 0), S(SET_VRING_KICK, NR, 1),
        S(SET_VRING_CALL, NR, 1), S(SET_VRING_ENABLE, NR, 0) } },
    { "eventfd without REPLY_ACK", VUFE_NOTIFY_EVENTFD, false, false, false,
      PF_EV & ~F(VU_PF_REPLY_ACK), {
        S(SET_OWNER, 0, 0), S(GET_FEATURES, 0, 0),
        S(GET_PROTOCOL_FEATURES, 0, 0), S(SET_PROTOCOL_FEATURES, 0, 0),
        S(GET_QUEUE_NUM, 0, 0), S(SET_FEATURES, 0, 0),
        S(GET_CONFIG, 0, 0), S(SET_MEM_TABLE, 0, 1),
        S(SET_VRING_NUM, 0, 0), S(SET_VRING_BASE, 0, 0),
        S(SET_VRING_ADDR, 0, 0), S(SET_VRING_KICK, 0, 1),
        S(SET_VRING_CALL, 0, 1), S(SET_VRING_ENABLE, 0, 0) } },
    { "in-band", VUFE_NOTIFY_INBAND, true, false, false, PF_ALL, {
        S(SET_OWNER, 0, 0), S(GET_FEATURES, 0, 0),
        S(GET_PROTOCOL_FEATURES, 0, 0), S(SET_PROTOCOL_FEATURES, NR, 0),
        S(SET_BACKEND_REQ_FD, NR, 1), S(GET_QUEUE_NUM, 0, 0),
        S(SET_FEATURES, NR, 0), S(GET_CONFIG, 0, 0),
        S(SET_MEM_TABLE, NR, 1), S(SET_VRING_NUM, NR, 0),
        S(SET_VRING_BASE, NR, 0), S(SET_VRING_ADDR, NR, 0),
        S(SET_VRING_ENABLE, NR, 0) } },
    { "qemu", VUFE_NOTIFY_QEMU, true, true, false, PF_ALL, {
        S(SET_OWNER, 0, 0), S(GET_FEATURES, 0, 0),
        S(GET_PROTOCOL_FEATURES, 0, 0), S(SET_PROTOCOL_FEATURES, NR, 0),
        S(SET_BACKEND_REQ_FD, NR, 1), S(GET_QUEUE_NUM, 0, 0),
        S(SET_FEATURES, NR, 0), S(GET_CONFIG, 0, 0),
        S(SET_MEM_TABLE, NR, 2), S(SET_VRING_NUM, NR, 0),
        S(SET_VRING_BASE, NR, 0), S(SET_VRING_ADDR, NR, 0),
        S(SET_VRING_KICK, NR, 1), S(SET_VRING_CALL, NR, 1),
        S(SET_VRING_ENABLE, NR, 0) } },
    { "mem slots", VUFE_NOTIFY_EVENTFD, true, true, true, PF_EV, {
        S(SET_OWNER, 0, 0), S(GET_FEATURES, 0, 0),
        S(GET_PROTOCOL_FEATURES, 0, 0), S(SET_PROTOCOL_FEATURES, NR, 0),
        S(GET_QUEUE_NUM, 0, 0), S(SET_FEATURES, NR, 0),
        S(GET_CONFIG, 0, 0), S(ADD_MEM_REG, NR, 1), S(ADD_MEM_REG, NR, 1),
        S(SET_VRING_NUM, NR, 0), S(SET_VRING_BASE, NR, 0),
        S(SET_VRING_ADDR, NR, 0), S(SET_VRING_KICK, NR, 1),
        S(SET_VRING_CALL, NR, 1), S(SET_VRING_ENABLE, NR, 0) } },
};

static void check_sequence(const struct neg_case *nc, struct fake *f)
{
    unsigned n = 0;

    while (nc->seq[n].req) {
        n++;
    }
    /* n steps, then the GET_FEATURES run_neg_case syncs with. */
    VU_ASSERT_MSG(f->nlog == n + 1, nc->name);
    for (unsigned i = 0; i < n && i < f->nlog; i++) {
        char what[96];
        snprintf(what, sizeof(what), "%s: step %u (%s)", nc->name, i,
                 vu_req_name(nc->seq[i].req));
        VU_ASSERT_MSG(f->log[i].req == nc->seq[i].req, what);
        VU_ASSERT_MSG(f->log[i].flags == (VU_VERSION | nc->seq[i].flags),
                      what);
        VU_ASSERT_MSG(f->log[i].nfds == nc->seq[i].nfds, what);
    }
}

static void run_neg_case(const struct neg_case *nc)
{
    struct fix x;
    struct vufe_cfg c;

    fake_init(&x.f);
    base_cfg(&c, -1, nc->mode);
    c.reply_ack = nc->reply_ack;
    c.split_mem = nc->split;
    c.mem_slots = nc->mem_slots;
    c.config_size = 8;
    fix_open(&x, &c);
    VU_ASSERT_MSG(x.fe != NULL && x.rc == 0, nc->name);
    if (x.fe) {
        /* Without REPLY_ACK the last message may still be in flight. */
        struct vu_msg r;
        VU_ASSERT_MSG(vufe_request(x.fe, VU_REQ_GET_FEATURES, NULL, 0, NULL,
                                   0, 0, &r) == 0, nc->name);
        check_sequence(nc, &x.f);
        VU_ASSERT_MSG(x.f.acked_pf == nc->want_pf, nc->name);
        VU_ASSERT_MSG(vufe_protocol_features(x.fe) == nc->want_pf, nc->name);
        VU_ASSERT_MSG(x.f.acked_features == FEAT_ALL, nc->name);
        uint32_t len = 0;
        const uint8_t *cfg = vufe_config(x.fe, &len);
        VU_ASSERT_MSG(len == 8 && cfg[7] == 7, nc->name);
        VU_ASSERT_MSG((vufe_channel(x.fe) >= 0) ==
                      (nc->mode != VUFE_NOTIFY_EVENTFD), nc->name);
    }
    fix_close(&x);
}

static void test_negotiation_sequences(void)
{
    for (size_t i = 0; i < sizeof(neg_cases) / sizeof(neg_cases[0]); i++) {
        run_neg_case(&neg_cases[i]);
    }
}

/* The wire carries synthetic user addresses, split memory has a gap and a
 * non-zero mmap offset, and ring addresses are those user addresses. */
static void test_wire_addresses(void)
{
    struct fix x;
    struct vufe_cfg c;
    struct vufe_ring_info ri;
    unsigned n;

    fake_init(&x.f);
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    c.split_mem = true;
    c.num_queues = 2;
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    const struct vu_mem_region *r = vufe_regions(x.fe, &n);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(x.f.nregions, 2);
    CU_ASSERT_EQUAL(memcmp(x.f.regions, r, 2 * sizeof(*r)), 0);
    CU_ASSERT_EQUAL(r[0].gpa, 0);
    CU_ASSERT_EQUAL(r[0].uva, VUFE_UVA_BASE);
    CU_ASSERT_EQUAL(r[1].gpa, r[0].size + VUFE_GPA_GAP);
    CU_ASSERT(r[1].mmap_offset != 0 && r[1].mmap_offset != r[1].gpa);
    CU_ASSERT_EQUAL(r[1].uva, VUFE_UVA_BASE + r[1].mmap_offset);
    for (unsigned q = 0; q < 2; q++) {
        vufe_ring_info(x.fe, q, &ri);
        CU_ASSERT_EQUAL(x.f.addr[q].index, q);
        CU_ASSERT_EQUAL(x.f.addr[q].desc, VUFE_UVA_BASE + ri.desc_gpa);
        CU_ASSERT_EQUAL(x.f.addr[q].avail, VUFE_UVA_BASE + ri.avail_gpa);
        CU_ASSERT_EQUAL(x.f.addr[q].used, VUFE_UVA_BASE + ri.used_gpa);
        CU_ASSERT_EQUAL(x.f.addr[q].log, ~0ull);
        CU_ASSERT_EQUAL(ri.desc_gpa % 4096, 0);
        CU_ASSERT_EQUAL(ri.used_gpa % 4096, 0);
    }
    fix_close(&x);
}

/* ---- negotiation failures ---------------------------------------------- */

static void test_inband_needs_offer(void)
{
    struct fix x;
    struct vufe_cfg c;

    fake_init(&x.f);
    int errs = 0;

    x.f.pf = PF_ALL & ~F(VU_PF_INBAND_NOTIFICATIONS);
    base_cfg(&c, -1, VUFE_NOTIFY_INBAND);
    vusim_log_set_sink(count_sink, &errs);
    fix_open(&x, &c);
    vusim_log_set_sink(NULL, NULL);
    CU_ASSERT_PTR_NULL(x.fe);
    CU_ASSERT_EQUAL(x.rc, -EPROTO);
    CU_ASSERT_EQUAL(errs, 1);
    fake_stop(&x.f);
}

static void test_too_few_queues(void)
{
    struct fix x;
    struct vufe_cfg c;

    fake_init(&x.f);
    int errs = 0;

    x.f.queue_num = 1;
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    c.num_queues = 2;
    vusim_log_set_sink(count_sink, &errs);
    fix_open(&x, &c);
    vusim_log_set_sink(NULL, NULL);
    CU_ASSERT_PTR_NULL(x.fe);
    CU_ASSERT_EQUAL(x.rc, -EPROTO);
    CU_ASSERT_EQUAL(errs, 1);
    fake_stop(&x.f);
}

/* A non-zero ack is a refusal, not a broken connection. */
static void test_nack_keeps_connection(void)
{
    struct fix x;
    struct vufe_cfg c;
    uint64_t st = 0;

    fake_init(&x.f);
    x.f.nack_req = VU_REQ_SET_VRING_ENABLE;
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    fix_open(&x, &c);
    CU_ASSERT_PTR_NULL(x.fe);
    CU_ASSERT_EQUAL(x.rc, -EREMOTEIO);
    fake_stop(&x.f);

    fake_init(&x.f);
    x.f.nack_req = VU_REQ_SET_STATUS;
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    CU_ASSERT_EQUAL(vufe_set_status(x.fe, 0xf), -EREMOTEIO);
    CU_ASSERT_EQUAL(vufe_get_status(x.fe, &st), 0);
    CU_ASSERT_EQUAL(st, 0xf);
    fix_close(&x);
}

/* A reply to another request breaks the connection until reconnect. */
static void test_wrong_reply_breaks(void)
{
    struct fix x;
    struct vufe_cfg c;
    struct vu_msg r;

    fake_init(&x.f);
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    int errs = 0;
    x.f.wrong_reply = true;
    vusim_log_set_sink(count_sink, &errs);
    CU_ASSERT_EQUAL(vufe_request(x.fe, VU_REQ_GET_FEATURES, NULL, 0, NULL, 0,
                                 0, &r), -EPROTO);
    vusim_log_set_sink(NULL, NULL);
    CU_ASSERT_EQUAL(errs, 1);
    CU_ASSERT_EQUAL(vufe_set_status(x.fe, 1), -EIO);
    vufe_disconnect(x.fe);
    fake_stop(&x.f);

    /* Same front-end, new back-end: everything works again. */
    fake_init(&x.f);
    CU_ASSERT_EQUAL(vufe_reconnect(x.fe, fake_start(&x.f)), 0);
    CU_ASSERT_EQUAL(vufe_negotiate(x.fe), 0);
    CU_ASSERT_EQUAL(vufe_setup(x.fe), 0);
    CU_ASSERT_EQUAL(vufe_request(x.fe, VU_REQ_GET_FEATURES, NULL, 0, NULL, 0,
                                 0, &r), 0);
    CU_ASSERT_EQUAL(r.p.u64, FEAT_ALL);
    CU_ASSERT_EQUAL(r.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
    fix_close(&x);
}

static void test_peer_gone(void)
{
    struct vufe_cfg c;
    int sv[2], err;
    uint64_t v;

    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                               sv) == 0);
    base_cfg(&c, sv[0], VUFE_NOTIFY_EVENTFD);
    struct vufe *fe = vufe_new(&c, &err);
    CU_ASSERT_FATAL(fe != NULL);
    close(sv[1]);
    CU_ASSERT_EQUAL(vufe_negotiate(fe), -ENOTCONN);
    CU_ASSERT_EQUAL(vufe_get_status(fe, &v), -EIO);
    vufe_disconnect(fe);
    CU_ASSERT_EQUAL(vufe_get_status(fe, &v), -ENOTCONN);
    vufe_free(fe);
}

static void test_reply_timeout(void)
{
    struct vufe_cfg c;
    int sv[2], err;

    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                               sv) == 0);
    base_cfg(&c, sv[0], VUFE_NOTIFY_EVENTFD);
    c.timeout_ms = 50;
    struct vufe *fe = vufe_new(&c, &err);
    CU_ASSERT_FATAL(fe != NULL);
    /* A back-end that never answers. */
    CU_ASSERT_EQUAL(vufe_negotiate(fe), -ETIMEDOUT);
    vufe_free(fe);
    close(sv[1]);
}

static void test_config_errors(void)
{
    struct fix x;
    struct vufe_cfg c;
    uint8_t buf[16];

    fake_init(&x.f);
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    CU_ASSERT_EQUAL(vufe_get_config(x.fe, 4, buf, 16), 0);
    CU_ASSERT_EQUAL(buf[0], 4);
    CU_ASSERT_EQUAL(buf[15], 19);
    CU_ASSERT_EQUAL(vufe_get_config(x.fe, 0, buf, 0), -EINVAL);
    x.f.empty_config = true;
    CU_ASSERT_EQUAL(vufe_get_config(x.fe, 0, buf, 8), -EREMOTEIO);
    CU_ASSERT_EQUAL(vufe_set_config(x.fe, 0, buf, 4, 0), 0);
    fix_close(&x);
}

/* ---- connecting by path ------------------------------------------------ */

struct late_listener {
    char path[108];
    int lfd, cfd;
};

static void *listen_late(void *arg)
{
    struct late_listener *l = arg;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timespec ts = { 0, 80 * 1000 * 1000 };

    nanosleep(&ts, NULL);
    strcpy(sa.sun_path, l->path);
    l->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        listen(l->lfd, 1) == 0) {
        l->cfd = accept(l->lfd, NULL, NULL);
    }
    return NULL;
}

/* The listener appears after the first attempts: vufe keeps trying. */
static void test_connect_retries(void)
{
    struct late_listener l = { .lfd = -1, .cfd = -1 };
    struct vufe_cfg c;
    pthread_t th;
    int err;

    snprintf(l.path, sizeof(l.path), "/tmp/vufe-test-%d.sock", (int)getpid());
    unlink(l.path);
    CU_ASSERT_FATAL(pthread_create(&th, NULL, listen_late, &l) == 0);
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    c.path = l.path;
    struct vufe *fe = vufe_new(&c, &err);
    pthread_join(th, NULL);
    CU_ASSERT_PTR_NOT_NULL(fe);
    CU_ASSERT(l.cfd >= 0);
    vufe_free(fe);
    close(l.cfd);
    close(l.lfd);
    unlink(l.path);

    c.path = "/tmp/vufe-test-nobody-listens.sock";
    c.timeout_ms = 30;
    CU_ASSERT_PTR_NULL(vufe_new(&c, &err));
    CU_ASSERT_EQUAL(err, -ETIMEDOUT);
}

/* ---- guest memory ------------------------------------------------------ */

static void test_alloc_and_ptr(void)
{
    struct vufe_cfg c;
    int sv[2], err;
    unsigned n;

    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                               sv) == 0);
    base_cfg(&c, sv[0], VUFE_NOTIFY_EVENTFD);
    c.split_mem = true;
    struct vufe *fe = vufe_new(&c, &err);
    CU_ASSERT_FATAL(fe != NULL);
    const struct vu_mem_region *r = vufe_regions(fe, &n);
    uint64_t end0 = r[0].gpa + r[0].size;
    /* Fill region 0, then the next allocation jumps the gap. */
    uint64_t a = vufe_alloc(fe, 4096, 4096), prev = a;
    CU_ASSERT(a != 0 && a % 4096 == 0);
    while (a && a < end0) {
        prev = a;
        a = vufe_alloc(fe, 4096, 4096);
    }
    CU_ASSERT_EQUAL(prev, end0 - 4096);
    CU_ASSERT_EQUAL(a, r[1].gpa);
    CU_ASSERT_EQUAL(vufe_alloc(fe, 100, 3), 0);            /* bad align */
    CU_ASSERT_EQUAL(vufe_alloc(fe, r[1].size, 16), 0);     /* too big */
    CU_ASSERT_EQUAL(vufe_alloc(fe, 0, 16), 0);
    /* Host pointers follow the file offsets the back-end will map. */
    uint8_t *p = vufe_ptr(fe, r[1].gpa + 10, 1);
    uint8_t *base = vufe_ptr(fe, 0, 1);
    CU_ASSERT_PTR_NOT_NULL(p);
    CU_ASSERT_EQUAL((uint64_t)(p - base), r[1].mmap_offset + 10);
    CU_ASSERT_PTR_NULL(vufe_ptr(fe, end0, 1));              /* the gap */
    CU_ASSERT_PTR_NULL(vufe_ptr(fe, end0 - 1, 2));          /* straddles */
    CU_ASSERT_PTR_NULL(vufe_ptr(fe, r[1].gpa + r[1].size, 1));
    vufe_free(fe);
    close(sv[1]);
}

/* ---- rings against vu_vq ----------------------------------------------- */

/* The device side as the test thread sees it, built from the wire. */
struct mirror {
    struct vu_mem mem;
    struct vu_vq vq;
    struct vu_chain ch;
};

static void mirror_init(struct mirror *mi, struct fake *f, unsigned q)
{
    int fds[VU_MEM_TABLE_MAX];

    vu_mem_init(&mi->mem);
    vu_vq_init(&mi->vq);
    vu_chain_init(&mi->ch);
    pthread_mutex_lock(&f->mu);
    for (unsigned i = 0; i < f->nregions; i++) {
        fds[i] = dup(f->memfds[i]);
    }
    CU_ASSERT_EQUAL(vu_mem_set_table(&mi->mem, f->regions, fds,
                                     f->nregions), 0);
    CU_ASSERT_EQUAL(vu_vq_set_num(&mi->vq, f->vq[q].num), 0);
    vu_vq_set_addr(&mi->vq, &f->addr[q]);
    vu_vq_set_base(&mi->vq, (uint16_t)f->base[q]);
    mi->vq.event_idx = f->acked_features & F(VU_F_RING_EVENT_IDX);
    mi->vq.indirect_ok = f->acked_features & F(VU_F_RING_INDIRECT_DESC);
    pthread_mutex_unlock(&f->mu);
    CU_ASSERT_EQUAL(vu_vq_map(&mi->vq, &mi->mem), 0);
}

static void mirror_fini(struct mirror *mi)
{
    vu_chain_fini(&mi->ch);
    vu_mem_fini(&mi->mem);
}

static void open_for_rings(struct fix *x, bool split, bool event_idx)
{
    struct vufe_cfg c;

    fake_init(&x->f);
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    c.split_mem = split;
    c.event_idx = event_idx;
    c.queue_size = 16;
    fix_open(x, &c);
    CU_ASSERT_FATAL(x->fe != NULL);
}

/* Post one chain and check that vu_vq pops exactly those segments. */
static void post_and_pop(struct fix *x, struct mirror *mi,
                         const struct vufe_buf *b, unsigned n, bool ind)
{
    int head = vufe_add(x->fe, 0, b, n, ind);
    CU_ASSERT_FATAL(head >= 0);
    CU_ASSERT_EQUAL(vu_vq_pop(&mi->vq, &mi->mem, &mi->ch), 1);
    CU_ASSERT_EQUAL(mi->ch.head, head);
    CU_ASSERT_EQUAL(mi->ch.indirect, ind);
    CU_ASSERT_EQUAL(mi->ch.nrd + mi->ch.nwr, n);
    for (unsigned i = 0; i < n && i < mi->ch.nrd + mi->ch.nwr; i++) {
        CU_ASSERT_EQUAL(mi->ch.segs[i].gpa, b[i].gpa);
        CU_ASSERT_EQUAL(mi->ch.segs[i].len, b[i].len);
        CU_ASSERT_EQUAL(i >= mi->ch.nrd, b[i].writable);
    }
}

/* Many rounds through a 16-entry ring: u16 indices wrap on both sides,
 * direct and indirect chains, and every descriptor comes back. */
static void test_ring_vs_vq_wraparound(void)
{
    struct fix x;
    struct mirror mi;
    uint32_t id, len;

    open_for_rings(&x, true, true);
    mirror_init(&mi, &x.f, 0);
    uint64_t d0 = vufe_alloc(x.fe, 512, 16), d1 = vufe_alloc(x.fe, 64, 16);
    uint64_t d2 = vufe_alloc(x.fe, 256, 16);
    struct vufe_buf b[3] = { { d0, 512, false }, { d1, 64, false },
                             { d2, 256, true } };
    unsigned fails = CU_get_number_of_failures();
    for (unsigned i = 0; i < 70000; i++) {
        unsigned n = 1 + i % 3;
        bool ind = i % 4 == 1;
        post_and_pop(&x, &mi, b + 3 - n, n, ind);
        CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, mi.ch.head, i), 0);
        CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 1);
        CU_ASSERT_EQUAL(id, mi.ch.head);
        CU_ASSERT_EQUAL(len, i);
        CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 0);
        if (CU_get_number_of_failures() > fails) {
            break;
        }
    }
    CU_ASSERT_EQUAL(vufe_free_descs(x.fe, 0), 16);
    struct vufe_ring_info ri;
    vufe_ring_info(x.fe, 0, &ri);
    CU_ASSERT_EQUAL(ri.avail_idx, (uint16_t)70000);
    CU_ASSERT_EQUAL(ri.last_used, (uint16_t)70000);
    mirror_fini(&mi);
    fix_close(&x);
}

/* Out-of-order completion with a full ring, then -ENOSPC. */
static void test_ring_full_out_of_order(void)
{
    struct fix x;
    struct mirror mi;
    uint16_t heads[16];
    uint32_t id, len;

    open_for_rings(&x, false, false);
    mirror_init(&mi, &x.f, 0);
    uint64_t g = vufe_alloc(x.fe, 64, 16);
    struct vufe_buf b = { g, 64, true };
    for (int i = 0; i < 16; i++) {
        post_and_pop(&x, &mi, &b, 1, false);
        heads[i] = mi.ch.head;
    }
    CU_ASSERT_EQUAL(vufe_add(x.fe, 0, &b, 1, false), -ENOSPC);
    CU_ASSERT_EQUAL(vufe_free_descs(x.fe, 0), 0);
    for (int i = 15; i >= 0; i -= 2) {
        CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, heads[i], 1), 0);
    }
    for (int i = 15; i >= 0; i -= 2) {
        CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 1);
        CU_ASSERT_EQUAL(id, heads[i]);
    }
    CU_ASSERT_EQUAL(vufe_free_descs(x.fe, 0), 8);
    /* A chain longer than what is free does not fit. */
    struct vufe_buf nine[9];
    for (int i = 0; i < 9; i++) {
        nine[i] = b;
    }
    CU_ASSERT_EQUAL(vufe_add(x.fe, 0, nine, 9, false), -ENOSPC);
    CU_ASSERT_EQUAL(vufe_add(x.fe, 0, nine, 8, false) >= 0, 1);
    mirror_fini(&mi);
    fix_close(&x);
}

static void test_indirect_rules(void)
{
    struct fix x;
    struct vufe_buf b[VUFE_INDIRECT_MAX + 1];
    struct vufe_cfg c;

    fake_init(&x.f);
    x.f.features = FEAT_ALL & ~F(VU_F_RING_INDIRECT_DESC);
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    uint64_t g = vufe_alloc(x.fe, 64, 16);
    for (unsigned i = 0; i <= VUFE_INDIRECT_MAX; i++) {
        b[i] = (struct vufe_buf){ g, 64, false };
    }
    CU_ASSERT_EQUAL(vufe_add(x.fe, 0, b, 1, true), -EPROTO);
    CU_ASSERT_EQUAL(vufe_add(x.fe, 0, b, 0, false), -EINVAL);
    CU_ASSERT_EQUAL(vufe_add(x.fe, 1, b, 1, false), -EINVAL);
    fix_close(&x);

    open_for_rings(&x, false, false);
    CU_ASSERT_EQUAL(vufe_add(x.fe, 0, b, VUFE_INDIRECT_MAX + 1, true),
                    -EINVAL);
    CU_ASSERT(vufe_add(x.fe, 0, b, VUFE_INDIRECT_MAX, true) >= 0);
    CU_ASSERT_EQUAL(vufe_free_descs(x.fe, 0), 15);
    fix_close(&x);
}

/* A used element naming a head that is not out breaks the queue. */
static void test_reap_bad_id(void)
{
    struct fix x;
    struct mirror mi;
    uint32_t id, len;

    open_for_rings(&x, false, false);
    mirror_init(&mi, &x.f, 0);
    struct vufe_buf b = { vufe_alloc(x.fe, 64, 16), 64, true };
    post_and_pop(&x, &mi, &b, 1, false);
    CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, (uint16_t)(mi.ch.head + 1), 0), 0);
    int errs = 0;
    vusim_log_set_sink(count_sink, &errs);
    CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), -EPROTO);
    vusim_log_set_sink(NULL, NULL);
    CU_ASSERT_EQUAL(errs, 1);
    CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), -EIO);
    CU_ASSERT_EQUAL(vufe_add(x.fe, 0, &b, 1, false), -EIO);
    /* A driver reload clears it. */
    vufe_queue_reset(x.fe, 0);
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    mirror_fini(&mi);
    fix_close(&x);
}

/* EVENT_IDX: kicks follow the device's avail_event, calls our used_event. */
static void test_event_idx_suppression(void)
{
    struct fix x;
    struct mirror mi;
    uint32_t id, len;

    open_for_rings(&x, false, true);
    mirror_init(&mi, &x.f, 0);
    CU_ASSERT(mi.vq.event_idx);
    struct vufe_buf b = { vufe_alloc(x.fe, 64, 16), 64, true };
    vu_vq_enable_kicks(&mi.vq);                    /* avail_event = 0 */
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_TRUE(vufe_kick_needed(x.fe, 0));     /* 0 -> 1 crosses 0 */
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_FALSE(vufe_kick_needed(x.fe, 0));    /* 1 -> 2 does not */
    CU_ASSERT_EQUAL(vufe_notify(x.fe, 0), 0);
    CU_ASSERT_EQUAL(vufe_stats(x.fe)->q[0].kicks_suppressed, 1);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(vu_vq_pop(&mi.vq, &mi.mem, &mi.ch), 1);
        CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, mi.ch.head, 0), 0);
    }
    vu_vq_enable_kicks(&mi.vq);                    /* avail_event = 2 */
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_TRUE(vufe_kick_needed(x.fe, 0));
    /* Calls: the first is always sent; then only past used_event. */
    CU_ASSERT_TRUE(vu_vq_should_notify(&mi.vq));
    CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 1);   /* used_event 1 */
    CU_ASSERT_EQUAL(vu_vq_pop(&mi.vq, &mi.mem, &mi.ch), 1);
    CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, mi.ch.head, 0), 0);  /* used 3 */
    CU_ASSERT_FALSE(vu_vq_should_notify(&mi.vq));  /* 1 not in [2,3) */
    CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 1);
    CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 1);   /* used_event 3 */
    vufe_calls_enable(x.fe, 0, false);
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vu_vq_pop(&mi.vq, &mi.mem, &mi.ch), 1);
    CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, mi.ch.head, 0), 0);
    CU_ASSERT_FALSE(vu_vq_should_notify(&mi.vq));  /* suppressed */
    vufe_calls_enable(x.fe, 0, true);
    CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 1);
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vu_vq_pop(&mi.vq, &mi.mem, &mi.ch), 1);
    CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, mi.ch.head, 0), 0);
    CU_ASSERT_TRUE(vu_vq_should_notify(&mi.vq));
    mirror_fini(&mi);
    fix_close(&x);
}

/* Without EVENT_IDX: the NO_NOTIFY and NO_INTERRUPT flags. */
static void test_flag_suppression(void)
{
    struct fix x;
    struct mirror mi;
    struct vufe_ring_info ri;

    open_for_rings(&x, false, false);
    mirror_init(&mi, &x.f, 0);
    CU_ASSERT_FALSE(mi.vq.event_idx);
    struct vufe_buf b = { vufe_alloc(x.fe, 64, 16), 64, true };
    vufe_ring_info(x.fe, 0, &ri);
    uint16_t *uflags = vufe_ptr(x.fe, ri.used_gpa, 2);
    *uflags = VU_USED_F_NO_NOTIFY;
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_FALSE(vufe_kick_needed(x.fe, 0));
    vu_vq_enable_kicks(&mi.vq);
    CU_ASSERT_TRUE(vufe_kick_needed(x.fe, 0));
    vufe_calls_enable(x.fe, 0, false);
    CU_ASSERT_EQUAL(vu_vq_pop(&mi.vq, &mi.mem, &mi.ch), 1);
    CU_ASSERT_EQUAL(vu_vq_push(&mi.vq, mi.ch.head, 0), 0);
    CU_ASSERT_FALSE(vu_vq_should_notify(&mi.vq));
    vufe_calls_enable(x.fe, 0, true);
    CU_ASSERT_TRUE(vu_vq_should_notify(&mi.vq));
    mirror_fini(&mi);
    fix_close(&x);
}

/* ---- notifications end to end ------------------------------------------ */

static void echo_roundtrip(struct fix *x, unsigned q, bool indirect)
{
    uint64_t src = vufe_alloc(x->fe, 32, 16), dst = vufe_alloc(x->fe, 32, 16);
    uint32_t id, len;

    memcpy(vufe_ptr(x->fe, src, 32), "vusim front-end echo test 0123", 31);
    memset(vufe_ptr(x->fe, dst, 32), 0, 32);
    struct vufe_buf b[2] = { { src, 31, false }, { dst, 32, true } };
    int head = vufe_add(x->fe, q, b, 2, indirect);
    CU_ASSERT_FATAL(head >= 0);
    CU_ASSERT_EQUAL(vufe_notify(x->fe, q), 1);
    /* One kick, one completion, one call: wait for the call first, so no
     * call is left over for the next round (or for teardown). */
    CU_ASSERT_EQUAL(vufe_wait_call(x->fe, q, 3000), 0);
    CU_ASSERT_EQUAL(vufe_reap(x->fe, q, &id, &len), 1);
    CU_ASSERT_EQUAL(id, (uint32_t)head);
    CU_ASSERT_EQUAL(len, 31);
    CU_ASSERT_EQUAL(memcmp(vufe_ptr(x->fe, dst, 31),
                           "vusim front-end echo test 0123", 31), 0);
}

struct mode_case {
    const char *name;
    enum vufe_notify mode;
};

static const struct mode_case mode_cases[] = {
    { "eventfd", VUFE_NOTIFY_EVENTFD },
    { "in-band", VUFE_NOTIFY_INBAND },
    { "qemu", VUFE_NOTIFY_QEMU },
};

/* The echo device in the fake thread, reached through every mode. */
static void test_echo_all_modes(void)
{
    for (size_t i = 0; i < sizeof(mode_cases) / sizeof(mode_cases[0]); i++) {
        struct fix x;
        struct vufe_cfg c;

        fake_init(&x.f);
        base_cfg(&c, -1, mode_cases[i].mode);
        c.num_queues = 2;
        c.split_mem = true;
        fix_open(&x, &c);
        VU_ASSERT_MSG(x.fe != NULL, mode_cases[i].name);
        if (!x.fe) {
            fake_stop(&x.f);
            continue;
        }
        for (int k = 0; k < 20; k++) {
            echo_roundtrip(&x, (unsigned)k % 2, k % 3 == 0);
        }
        struct vufe_stats st = *vufe_stats(x.fe);
        fix_close(&x);
        const char *nm = mode_cases[i].name;
        VU_ASSERT_MSG(st.kicks == 20 && x.f.kicks_seen == 20, nm);
        VU_ASSERT_MSG(st.q[0].kicks == 10 && st.q[1].kicks == 10, nm);
        VU_ASSERT_MSG(x.f.calls_sent == 20 && st.calls == 20, nm);
        VU_ASSERT_MSG(st.q[0].calls == 10 && st.q[1].calls == 10, nm);
        VU_ASSERT_MSG(x.f.ncall_acks ==
                      (mode_cases[i].mode == VUFE_NOTIFY_INBAND ? 20u : 0u),
                      nm);
        VU_ASSERT_MSG(st.calls_rejected == 0 && st.bad_backend_msgs == 0, nm);
    }
}

/* A call that crosses a kick: the back-end calls before it acks the kick.
 * vufe serves the channel while it waits; UML-strict order times out. */
static void test_call_crosses_kick(void)
{
    for (int strict = 0; strict < 2; strict++) {
        struct fix x;
        struct vufe_cfg c;

        fake_init(&x.f);
        x.f.call_before_kick_ack = true;
        /* Long, for a loaded machine: in strict mode the front-end gives
         * up after 150 ms and closes, which ends the fake's wait. */
        x.f.call_ack_timeout_ms = 5000;
        base_cfg(&c, -1, VUFE_NOTIFY_INBAND);
        c.strict_order = strict;
        c.timeout_ms = strict ? 150 : 3000;
        fix_open(&x, &c);
        CU_ASSERT_FATAL(x.fe != NULL);
        uint64_t g = vufe_alloc(x.fe, 16, 16);
        struct vufe_buf b[2] = { { g, 8, false }, { g + 8, 8, true } };
        CU_ASSERT(vufe_add(x.fe, 0, b, 2, false) >= 0);
        int rc = vufe_kick(x.fe, 0);
        if (strict) {
            CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
            CU_ASSERT_EQUAL(vufe_stats(x.fe)->calls_during_wait, 0);
        } else {
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_EQUAL(vufe_stats(x.fe)->calls_during_wait, 1);
            CU_ASSERT_EQUAL(x.f.ncall_acks, 1);
            CU_ASSERT_EQUAL(x.f.call_acks[0], 0);
            /* The call already came: waiting returns at once. */
            CU_ASSERT_EQUAL(vufe_wait_call(x.fe, 0, 0), 0);
            CU_ASSERT_EQUAL(vufe_wait_call(x.fe, 0, 10), -ETIMEDOUT);
        }
        vufe_free(x.fe);
        fake_stop(&x.f);
        CU_ASSERT_EQUAL(x.f.call_ack_timeouts, (unsigned)strict);
    }
}

/* QEMU mode refuses in-band calls (non-zero ack) and counts them. */
static void test_qemu_rejects_inband_call(void)
{
    struct fix x;
    struct vufe_cfg c;

    fake_init(&x.f);
    base_cfg(&c, -1, VUFE_NOTIFY_QEMU);
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    CU_ASSERT_EQUAL(vufe_set_status(x.fe, CALL_MAGIC), 0);
    CU_ASSERT_EQUAL(x.f.ncall_acks, 1);
    CU_ASSERT_EQUAL(x.f.call_acks[0], 1);
    CU_ASSERT_EQUAL(vufe_stats(x.fe)->calls_rejected, 1);
    CU_ASSERT_EQUAL(vufe_stats(x.fe)->calls, 0);
    CU_ASSERT_EQUAL(vufe_wait_call(x.fe, 0, 10), -ETIMEDOUT);
    fix_close(&x);
}

/* In-band mode acks calls it receives outside any wait, via vufe_serve. */
static void test_inband_serve(void)
{
    struct fix x;
    struct vufe_cfg c;

    fake_init(&x.f);
    base_cfg(&c, -1, VUFE_NOTIFY_INBAND);
    c.strict_order = true;        /* the call is left for vufe_serve */
    c.timeout_ms = 3000;
    x.f.call_ack_timeout_ms = 100;
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    /* The fake's call times out (strict: nobody reads the channel), then
     * it acks SET_STATUS; the call is still queued on the channel. */
    CU_ASSERT_EQUAL(vufe_set_status(x.fe, CALL_MAGIC), 0);
    CU_ASSERT_EQUAL(x.f.call_ack_timeouts, 1);
    CU_ASSERT_EQUAL(vufe_serve(x.fe, 0), 1);
    CU_ASSERT_EQUAL(vufe_stats(x.fe)->calls, 1);
    CU_ASSERT_EQUAL(vufe_stats(x.fe)->q[0].calls, 1);
    CU_ASSERT_EQUAL(vufe_wait_call(x.fe, 0, 0), 0);
    fix_close(&x);
}

/* ---- stop, restart, reset, memory slots --------------------------------- */

static void test_vring_base_and_reconnect(void)
{
    struct fix x;
    uint16_t base = 0;
    uint32_t id, len;

    open_for_rings(&x, false, true);
    uint64_t g = vufe_alloc(x.fe, 64, 16);
    struct vufe_buf b = { g, 64, true };
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
        CU_ASSERT_EQUAL(vufe_notify(x.fe, 0) >= 0, 1);
        CU_ASSERT_EQUAL(vufe_reap_wait(x.fe, 0, &id, &len, 3000), 1);
    }
    /* Stop and restart the ring in place. */
    CU_ASSERT_EQUAL(vufe_get_vring_base(x.fe, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 3);
    CU_ASSERT_EQUAL(vufe_set_vring_base(x.fe, 0, base), 0);
    CU_ASSERT_EQUAL(vufe_set_vring_enable(x.fe, 0, false), 0);
    CU_ASSERT_EQUAL(vufe_set_vring_enable(x.fe, 0, true), 0);
    CU_ASSERT_EQUAL(vufe_get_vring_base(x.fe, 5, &base), -EINVAL);
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vufe_kick(x.fe, 0), 0);
    CU_ASSERT_EQUAL(vufe_reap_wait(x.fe, 0, &id, &len, 3000), 1);
    vufe_disconnect(x.fe);
    fake_stop(&x.f);

    /* Unclean restart: the new back-end resumes at used->idx (4). */
    fake_init(&x.f);
    CU_ASSERT_EQUAL(vufe_reconnect(x.fe, fake_start(&x.f)), 0);
    CU_ASSERT_EQUAL(vufe_negotiate(x.fe), 0);
    CU_ASSERT_EQUAL(vufe_setup(x.fe), 0);
    CU_ASSERT_EQUAL(x.f.base[0], 4);
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vufe_kick(x.fe, 0), 0);
    CU_ASSERT_EQUAL(vufe_reap_wait(x.fe, 0, &id, &len, 3000), 1);
    CU_ASSERT_EQUAL(vufe_get_vring_base(x.fe, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 5);
    vufe_disconnect(x.fe);
    fake_stop(&x.f);

    /* Clean restart: the GET_VRING_BASE answer is used. */
    fake_init(&x.f);
    CU_ASSERT_EQUAL(vufe_reconnect(x.fe, fake_start(&x.f)), 0);
    CU_ASSERT_EQUAL(vufe_negotiate(x.fe), 0);
    CU_ASSERT_EQUAL(vufe_setup(x.fe), 0);
    CU_ASSERT_EQUAL(x.f.base[0], 5);
    CU_ASSERT(vufe_add(x.fe, 0, &b, 1, false) >= 0);
    CU_ASSERT_EQUAL(vufe_kick(x.fe, 0), 0);
    CU_ASSERT_EQUAL(vufe_reap_wait(x.fe, 0, &id, &len, 3000), 1);
    fix_close(&x);
}

static void test_reset_and_mem_slots(void)
{
    struct fix x;
    struct vufe_cfg c;
    uint64_t slots = 0;
    uint32_t id, len;

    fake_init(&x.f);
    base_cfg(&c, -1, VUFE_NOTIFY_INBAND);
    c.split_mem = true;
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    CU_ASSERT_EQUAL(vufe_get_max_mem_slots(x.fe, &slots), 0);
    CU_ASSERT_EQUAL(slots, 32);
    CU_ASSERT_EQUAL(vufe_rem_mem_reg(x.fe, 1), 0);
    CU_ASSERT_EQUAL(x.f.mem.nregions, 1);
    CU_ASSERT_EQUAL(vufe_add_mem_reg(x.fe, 1), 0);
    CU_ASSERT_EQUAL(x.f.mem.nregions, 2);
    CU_ASSERT_EQUAL(vufe_add_mem_reg(x.fe, 2), -EINVAL);
    struct fake_rec *rec = &x.f.log[x.f.nlog - 1];
    CU_ASSERT_EQUAL(rec->req, VU_REQ_ADD_MEM_REG);
    CU_ASSERT_EQUAL(rec->nfds, 1);
    CU_ASSERT_EQUAL(rec->size, sizeof(struct vu_mem_single));
    echo_roundtrip(&x, 0, false);
    CU_ASSERT_EQUAL(vufe_reset_device(x.fe), 0);
    struct vufe_ring_info ri;
    vufe_ring_info(x.fe, 0, &ri);
    CU_ASSERT_EQUAL(ri.avail_idx, 0);
    CU_ASSERT_EQUAL(vufe_free_descs(x.fe, 0), 64);
    /* The device forgot everything; the fake re-reads used->idx (0). */
    for (unsigned i = 0; i < FAKE_QMAX; i++) {
        vu_vq_init(&x.f.vq[i]);
    }
    CU_ASSERT_EQUAL(vufe_setup(x.fe), 0);
    echo_roundtrip(&x, 0, true);
    CU_ASSERT_EQUAL(vufe_reap(x.fe, 0, &id, &len), 0);
    fix_close(&x);
}

/* vufe_request passes anything; the raw socket is there for worse. */
static void test_generic_request(void)
{
    struct fix x;
    struct vufe_cfg c;
    struct vu_msg r;
    uint64_t st = 0;

    fake_init(&x.f);
    base_cfg(&c, -1, VUFE_NOTIFY_EVENTFD);
    fix_open(&x, &c);
    CU_ASSERT_FATAL(x.fe != NULL);
    uint64_t v = 0x55;
    CU_ASSERT_EQUAL(vufe_request(x.fe, VU_REQ_SET_STATUS, &v, 8, NULL, 0,
                                 VU_FLAG_NEED_REPLY, &r), 0);
    CU_ASSERT_EQUAL(r.hdr.request, VU_REQ_SET_STATUS);
    CU_ASSERT_EQUAL(r.p.u64, 0);
    CU_ASSERT_EQUAL(vufe_request(x.fe, VU_REQ_SET_STATUS, NULL, 8, NULL, 0,
                                 0, NULL), -EINVAL);
    CU_ASSERT_EQUAL(vufe_request(x.fe, VU_REQ_SET_STATUS, &v, 8, NULL, 1,
                                 0, NULL), -EINVAL);
    CU_ASSERT_EQUAL(vufe_get_status(x.fe, &st), 0);
    CU_ASSERT_EQUAL(st, 0x55);
    unsigned before = x.f.nlog;
    uint8_t raw[12] = { 0 };
    CU_ASSERT_EQUAL(write(vufe_sock(x.fe), raw, 12), 12); /* version 0 */
    CU_ASSERT_EQUAL(vufe_get_status(x.fe, &st), -ENOTCONN);
    CU_ASSERT_EQUAL(x.f.nlog, before);
    fix_close(&x);
}

CU_TestInfo vufe_tests[] = {
    { "cfg_rejected", test_cfg_rejected },
    { "negotiation_sequences", test_negotiation_sequences },
    { "wire_addresses", test_wire_addresses },
    { "inband_needs_offer", test_inband_needs_offer },
    { "too_few_queues", test_too_few_queues },
    { "nack_keeps_connection", test_nack_keeps_connection },
    { "wrong_reply_breaks", test_wrong_reply_breaks },
    { "peer_gone", test_peer_gone },
    { "reply_timeout", test_reply_timeout },
    { "config_errors", test_config_errors },
    { "connect_retries", test_connect_retries },
    { "alloc_and_ptr", test_alloc_and_ptr },
    { "ring_vs_vq_wraparound", test_ring_vs_vq_wraparound },
    { "ring_full_out_of_order", test_ring_full_out_of_order },
    { "indirect_rules", test_indirect_rules },
    { "reap_bad_id", test_reap_bad_id },
    { "event_idx_suppression", test_event_idx_suppression },
    { "flag_suppression", test_flag_suppression },
    { "echo_all_modes", test_echo_all_modes },
    { "call_crosses_kick", test_call_crosses_kick },
    { "qemu_rejects_inband_call", test_qemu_rejects_inband_call },
    { "inband_serve", test_inband_serve },
    { "vring_base_and_reconnect", test_vring_base_and_reconnect },
    { "reset_and_mem_slots", test_reset_and_mem_slots },
    { "generic_request", test_generic_request },
    CU_TEST_INFO_NULL,
};
