/* SPDX-License-Identifier: MIT */
/*
 * Hostile input, table-driven: each row sends raw bytes (or posts a hostile
 * chain) and says what must follow: the connection closed, the request
 * rejected with a non-zero ack, the queue marked broken and the error
 * signalled, or (a request nobody waits on) the connection going on. A
 * request with a defined reply is never left unanswered: its rejection
 * closes the connection. After every row a fresh front-end must still be served.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cosim/wire/msg.h"
#include "tests/cu_run.h"
#include "tests/integration/itest.h"

enum level { RAW, NEGOTIATED, SETUP };
enum outcome { CLOSED, REJECTED, BROKEN, GOES_ON };

struct raw {
    uint8_t buf[1024];
    size_t len;           /* bytes to send */
    int nfds;             /* memfd (or pipe with pipe_fd) descriptors */
    bool pipe_fd;
    bool shut;            /* half-close after sending (truncation) */
    bool chan;            /* send on the back-end channel instead */
};

struct bad_case {
    const char *name;
    enum level level;
    void (*make)(struct vufe *fe, struct raw *r);
    enum outcome expect;
};

/* ---- message builders -------------------------------------------- */

static void put_msg(struct raw *r, uint32_t req, uint32_t flags,
                    uint32_t size, const void *payload, uint32_t plen)
{
    struct vu_hdr h = { req, flags, size };

    memcpy(r->buf, &h, sizeof(h));
    if (plen) {
        memcpy(r->buf + sizeof(h), payload, plen);
    }
    r->len = sizeof(h) + plen;
}

#define NR (VU_VERSION | VU_FLAG_NEED_REPLY)

static void put_u64(struct raw *r, uint32_t req, uint64_t v)
{
    put_msg(r, req, NR, 8, &v, 8);
}

static void put_state(struct raw *r, uint32_t req, uint32_t idx,
                      uint32_t num)
{
    struct vu_vring_state s = { idx, num };

    put_msg(r, req, NR, sizeof(s), &s, sizeof(s));
}

static void put_mem(struct raw *r, uint32_t n, const struct vu_mem_region *rg,
                    uint32_t nsend)
{
    struct vu_mem_table t = { .nregions = n };

    memcpy(t.regions, rg, nsend * sizeof(*rg));
    put_msg(r, VU_REQ_SET_MEM_TABLE, NR, 8 + nsend * sizeof(*rg), &t,
            8 + nsend * sizeof(*rg));
}

static void m_trunc_header(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_FEATURES, VU_VERSION, 0, NULL, 0);
    r->len = 6;
    r->shut = true;
}

static void m_stalled_header(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_FEATURES, VU_VERSION, 0, NULL, 0);
    r->len = 6;                   /* and then silence, connection open */
}

static void m_oversized(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_FEATURES, VU_VERSION, 1u << 20, NULL, 0);
}

static void m_wrong_version(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_FEATURES, 0x2, 0, NULL, 0);
}

static void m_too_many_fds(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_SET_OWNER, VU_VERSION, 0, NULL, 0);
    r->nfds = VU_MAX_FDS + 1;
}

static void m_fd_on_fdless(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_SET_OWNER, NR, 0, NULL, 0);
    r->nfds = 1;
}

static void m_unknown(struct vufe *fe, struct raw *r)
{
    put_msg(r, 99, NR, 0, NULL, 0);
}

static void m_unsupported(struct vufe *fe, struct raw *r)
{
    uint64_t log[2] = { 4096, 0 };

    put_msg(r, VU_REQ_SET_LOG_BASE, NR, 16, log, 16);
}

static void m_trunc_payload(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_REQ_SET_FEATURES, 0);
    r->len -= 4;
    r->shut = true;
}

static void m_size_wrong(struct vufe *fe, struct raw *r)
{
    uint32_t v = 256;

    put_msg(r, VU_REQ_SET_VRING_NUM, NR, 4, &v, 4);
}

static void m_kick_unset(struct vufe *fe, struct raw *r)
{
    put_state(r, VU_REQ_VRING_KICK, 0, 0);
}

static void m_ring_oob(struct vufe *fe, struct raw *r)
{
    put_state(r, VU_REQ_SET_VRING_NUM, 7, 256);
}

static void m_num_not_pow2(struct vufe *fe, struct raw *r)
{
    put_state(r, VU_REQ_SET_VRING_NUM, 0, 3);
}

static void m_zero_region(struct vufe *fe, struct raw *r)
{
    struct vu_mem_region rg = { 0, 0, 0x1000, 0 };

    put_mem(r, 1, &rg, 1);
    r->nfds = 1;
}

static void m_overlap(struct vufe *fe, struct raw *r)
{
    struct vu_mem_region rg[2] = {
        { 0, 0x10000, 0x100000, 0 }, { 0x8000, 0x10000, 0x200000, 0 },
    };

    put_mem(r, 2, rg, 2);
    r->nfds = 2;
}

static void m_unmappable(struct vufe *fe, struct raw *r)
{
    struct vu_mem_region rg = { 0, 0x10000, 0x100000, 0 };

    put_mem(r, 1, &rg, 1);
    r->nfds = 1;
    r->pipe_fd = true;
}

static void m_fd_mismatch(struct vufe *fe, struct raw *r)
{
    struct vu_mem_region rg[2] = {
        { 0, 0x10000, 0x100000, 0 }, { 0x20000, 0x10000, 0x200000, 0 },
    };

    put_mem(r, 2, rg, 2);
    r->nfds = 1;
}

static void m_too_many_regions(struct vufe *fe, struct raw *r)
{
    struct vu_mem_region rg = { 0, 0x10000, 0x100000, 0 };

    put_mem(r, VU_MEM_TABLE_MAX + 1, &rg, 1);
    r->nfds = 1;
}

static void m_inband_alone(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_REQ_SET_PROTOCOL_FEATURES,
            VU_BIT(VU_PF_INBAND_NOTIFICATIONS));
}

static void m_pf_missing(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_QUEUE_NUM, NR, 0, NULL, 0);
}

static void m_pf_missing_ack(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_REQ_SET_STATUS, 0);
}

/* Requests whose reply has no way to say no: refused, they close. */
static void m_get_with_fd(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_FEATURES, VU_VERSION, 0, NULL, 0);
    r->nfds = 1;
}

static void m_get_with_fd_nr(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_PROTOCOL_FEATURES, NR, 0, NULL, 0);
    r->nfds = 2;
}

static void m_get_sized(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_REQ_GET_FEATURES, 0);
    ((struct vu_hdr *)r->buf)->flags = VU_VERSION;
}

static void m_get_base_oob(struct vufe *fe, struct raw *r)
{
    put_state(r, VU_REQ_GET_VRING_BASE, 9, 0);
    ((struct vu_hdr *)r->buf)->flags = VU_VERSION;
}

static void m_get_slots_early(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_MAX_MEM_SLOTS, VU_VERSION, 0, NULL, 0);
}

static void m_get_status_early(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_GET_STATUS, VU_VERSION, 0, NULL, 0);
}

static void m_get_config_fd(struct vufe *fe, struct raw *r)
{
    struct vu_config c = { .offset = 0, .size = 8 };

    put_msg(r, VU_REQ_GET_CONFIG, VU_VERSION, VU_CONFIG_HDR_SIZE + 8, &c,
            VU_CONFIG_HDR_SIZE + 8);
    r->nfds = 1;
}

static void m_postcopy_advise(struct vufe *fe, struct raw *r)
{
    put_msg(r, VU_REQ_POSTCOPY_ADVISE, VU_VERSION, 0, NULL, 0);
}

static void m_crypto_session(struct vufe *fe, struct raw *r)
{
    uint8_t b[64] = { 0 };

    put_msg(r, VU_REQ_CREATE_CRYPTO_SESSION, VU_VERSION, sizeof(b), b,
            sizeof(b));
}

/* Refused without NEED_REPLY: nobody waits, the connection goes on. */
static void m_unknown_noreply(struct vufe *fe, struct raw *r)
{
    put_msg(r, 77, VU_VERSION, 0, NULL, 0);
}

static void m_set_bad_noreply(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_REQ_SET_FEATURES, 1ull << 63);
    ((struct vu_hdr *)r->buf)->flags = VU_VERSION;
}

static void m_unoffered_features(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_REQ_SET_FEATURES, 1ull << 63);
}

static void m_nofd_with_fd(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_REQ_SET_VRING_KICK, VU_VRING_NOFD);
    r->nfds = 1;
}

static void m_config_oob(struct vufe *fe, struct raw *r)
{
    struct vu_config c = { .offset = 10, .size = 100 };

    put_msg(r, VU_REQ_GET_CONFIG, NR, VU_CONFIG_HDR_SIZE + 100, &c,
            VU_CONFIG_HDR_SIZE + 100);
}

static void m_unsolicited_chan(struct vufe *fe, struct raw *r)
{
    put_u64(r, VU_BREQ_VRING_CALL, 0);
    ((struct vu_hdr *)r->buf)->flags = VU_VERSION | VU_FLAG_REPLY;
    r->chan = true;
}

/* ---- hostile chains (posted in guest memory, then kicked) --------- */

static void post_head(struct vufe *fe, struct raw *r, uint16_t head)
{
    vufe_avail_put(fe, 0, head);
    put_state(r, VU_REQ_VRING_KICK, 0, 0);
}

static void m_ring_outside(struct vufe *fe, struct raw *r)
{
    struct vu_vring_addr a = {
        .index = 0, .desc = 0xdead00000000ull, .used = 0xdead00010000ull,
        .avail = 0xdead00020000ull,
    };

    put_msg(r, VU_REQ_SET_VRING_ADDR, NR, sizeof(a), &a, sizeof(a));
}

static void m_desc_loop(struct vufe *fe, struct raw *r)
{
    struct vu_desc *d = vufe_desc_table(fe, 0);

    d[0] = (struct vu_desc){ vufe_alloc(fe, 64, 16), 64, VU_DESC_F_NEXT, 1 };
    d[1] = (struct vu_desc){ d[0].addr, 64, VU_DESC_F_NEXT, 0 };
    post_head(fe, r, 0);
}

static void m_desc_oob(struct vufe *fe, struct raw *r)
{
    struct vu_desc *d = vufe_desc_table(fe, 0);

    d[0] = (struct vu_desc){ 0x7000000000ull, 64, VU_DESC_F_WRITE, 0 };
    post_head(fe, r, 0);
}

static void m_next_oob(struct vufe *fe, struct raw *r)
{
    struct vu_desc *d = vufe_desc_table(fe, 0);

    d[0] = (struct vu_desc){ vufe_alloc(fe, 64, 16), 64, VU_DESC_F_NEXT,
                             4000 };
    post_head(fe, r, 0);
}

static void m_nested_indirect(struct vufe *fe, struct raw *r)
{
    struct vu_desc *d = vufe_desc_table(fe, 0);
    uint64_t t = vufe_alloc(fe, 32, 16);
    struct vu_desc *it = vufe_ptr(fe, t, 32);

    it[0] = (struct vu_desc){ t, 32, VU_DESC_F_INDIRECT, 0 };
    it[1] = it[0];
    d[0] = (struct vu_desc){ t, 32, VU_DESC_F_INDIRECT, 0 };
    post_head(fe, r, 0);
}

static void m_head_oob(struct vufe *fe, struct raw *r)
{
    post_head(fe, r, 999);
}

static void m_avail_jump(struct vufe *fe, struct raw *r)
{
    struct vufe_ring_info ri;
    uint16_t *avail;

    vufe_ring_info(fe, 0, &ri);
    avail = vufe_ptr(fe, ri.avail_gpa, 4);
    __atomic_store_n(&avail[1], (uint16_t)(ri.avail_idx + 1000),
                     __ATOMIC_RELEASE);
    put_state(r, VU_REQ_VRING_KICK, 0, 0);
}

static const struct bad_case cases[] = {
    { "truncated header", RAW, m_trunc_header, CLOSED },
    { "stalled inside a header", RAW, m_stalled_header, CLOSED },
    { "oversized size", RAW, m_oversized, CLOSED },
    { "wrong version", RAW, m_wrong_version, CLOSED },
    { "too many fds", RAW, m_too_many_fds, CLOSED },
    { "truncated payload", RAW, m_trunc_payload, CLOSED },
    { "fd on a request that takes none", RAW, m_fd_on_fdless, REJECTED },
    { "unknown request", RAW, m_unknown, REJECTED },
    { "unsupported request", RAW, m_unsupported, REJECTED },
    { "payload size wrong", RAW, m_size_wrong, REJECTED },
    { "protocol feature not negotiated", RAW, m_pf_missing_ack, REJECTED },
    { "GET_QUEUE_NUM without MQ", RAW, m_pf_missing, CLOSED },
    { "GET_FEATURES with an fd", RAW, m_get_with_fd, CLOSED },
    { "GET_PROTOCOL_FEATURES, NEED_REPLY, fds", RAW, m_get_with_fd_nr,
      CLOSED },
    { "GET_FEATURES with a payload", RAW, m_get_sized, CLOSED },
    { "GET_VRING_BASE out of range", NEGOTIATED, m_get_base_oob, CLOSED },
    { "GET_MAX_MEM_SLOTS before negotiation", RAW, m_get_slots_early,
      CLOSED },
    { "GET_STATUS before negotiation", RAW, m_get_status_early, CLOSED },
    { "GET_CONFIG with an fd", NEGOTIATED, m_get_config_fd, CLOSED },
    { "POSTCOPY_ADVISE (reply, unsupported)", NEGOTIATED, m_postcopy_advise,
      CLOSED },
    { "CREATE_CRYPTO_SESSION (reply, unsupported)", NEGOTIATED,
      m_crypto_session, CLOSED },
    { "unknown request, no NEED_REPLY", NEGOTIATED, m_unknown_noreply,
      GOES_ON },
    { "bad SET_FEATURES, no NEED_REPLY", NEGOTIATED, m_set_bad_noreply,
      GOES_ON },
    { "features not offered", RAW, m_unoffered_features, REJECTED },
    { "ring index out of range", NEGOTIATED, m_ring_oob, REJECTED },
    { "ring size not a power of two", NEGOTIATED, m_num_not_pow2, REJECTED },
    { "VRING_KICK before ring set up", NEGOTIATED, m_kick_unset, REJECTED },
    { "NOFD bit with an fd", NEGOTIATED, m_nofd_with_fd, REJECTED },
    { "zero-size region", NEGOTIATED, m_zero_region, REJECTED },
    { "overlapping regions", NEGOTIATED, m_overlap, REJECTED },
    { "unmappable fd", NEGOTIATED, m_unmappable, REJECTED },
    { "fewer fds than regions", NEGOTIATED, m_fd_mismatch, REJECTED },
    { "too many regions", NEGOTIATED, m_too_many_regions, REJECTED },
    { "config access out of range", NEGOTIATED, m_config_oob, REJECTED },
    { "in-band without its companions", RAW, m_inband_alone, CLOSED },
    { "unsolicited back-end channel reply", NEGOTIATED, m_unsolicited_chan,
      CLOSED },
    { "ring addresses outside memory", SETUP, m_ring_outside, REJECTED },
    { "descriptor loop", SETUP, m_desc_loop, BROKEN },
    { "descriptor out of range", SETUP, m_desc_oob, BROKEN },
    { "next index out of range", SETUP, m_next_oob, BROKEN },
    { "indirect inside indirect", SETUP, m_nested_indirect, BROKEN },
    { "head index out of range", SETUP, m_head_oob, BROKEN },
    { "avail index jumps past the ring", SETUP, m_avail_jump, BROKEN },
};

/* ---- the runner ---------------------------------------------------- */

static int make_fd(bool pipe_fd)
{
    int p[2], fd;

    if (pipe_fd) {
        if (pipe(p) < 0) {
            return -1;
        }
        close(p[1]);
        return p[0];
    }
    fd = memfd_create("vusim-bad", MFD_CLOEXEC);
    if (fd >= 0 && ftruncate(fd, 0x40000) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_raw(int sock, const struct raw *r)
{
    int fds[VU_MAX_FDS + 1];
    char cbuf[CMSG_SPACE(sizeof(fds))] = { 0 };
    struct iovec iov = { (void *)r->buf, r->len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    for (int i = 0; i < r->nfds; i++) {
        fds[i] = make_fd(r->pipe_fd);
    }
    if (r->nfds) {
        struct cmsghdr *c;

        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(r->nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(r->nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, r->nfds * sizeof(int));
    }
    n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    for (int i = 0; i < r->nfds; i++) {
        close(fds[i]);
    }
    if (r->shut) {
        shutdown(sock, SHUT_WR);
    }
    return n == (ssize_t)r->len ? 0 : -1;
}

/* A reply arrives and says no: a non-zero ack or an empty payload. */
static bool rejected(int sock)
{
    struct pollfd p = { sock, POLLIN, 0 };
    struct vu_msg m;

    if (poll(&p, 1, 2000) <= 0 || vu_msg_recv(sock, &m) < 0) {
        return false;
    }
    vu_msg_close_fds(&m);
    return (m.hdr.flags & VU_FLAG_REPLY) &&
           (m.hdr.size == 0 || (m.hdr.size == 8 && m.p.u64 != 0));
}

/* Nothing comes back, and the next request is answered as usual. */
static bool goes_on(struct vufe *fe, int sock)
{
    struct pollfd p = { sock, POLLIN, 0 };
    struct vu_msg m;

    if (poll(&p, 1, 300) != 0) {
        return false;
    }
    vu_msg_init(&m, VU_REQ_GET_QUEUE_NUM, VU_VERSION, 0);
    if (vu_msg_send(sock, &m) < 0 || poll(&p, 1, 2000) <= 0 ||
        vu_msg_recv(sock, &m) < 0) {
        return false;
    }
    vu_msg_close_fds(&m);
    (void)fe;
    return (m.hdr.flags & VU_FLAG_REPLY) &&
           m.hdr.request == VU_REQ_GET_QUEUE_NUM && m.hdr.size == 8 &&
           m.p.u64 == 1;
}

static bool broken_signalled(struct vufe *fe, int sock)
{
    struct pollfd p = { sock, POLLIN, 0 };
    struct vu_msg m;
    bool acked;

    /* The kick itself is acked: the queue, not the request, failed. */
    acked = poll(&p, 1, 2000) > 0 && vu_msg_recv(sock, &m) == 0 &&
            m.hdr.size == 8 && m.p.u64 == 0;
    for (int i = 0; i < 20 && vufe_stats(fe)->errs == 0; i++) {
        vufe_serve(fe, 100);
    }
    return acked && vufe_stats(fe)->errs > 0;
}

static struct vufe *open_level(struct itest *t, enum level lv)
{
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err = 0;

    itest_fe_cfg(t, &cfg, 1);
    cfg.notify = VUFE_NOTIFY_INBAND;
    cfg.timeout_ms = 15000;     /* bounds a failing run only */
    fe = vufe_new(&cfg, &err);
    if (fe && lv >= NEGOTIATED && vufe_negotiate(fe) < 0) {
        vufe_free(fe);
        return NULL;
    }
    if (fe && lv >= SETUP && vufe_setup(fe) < 0) {
        vufe_free(fe);
        return NULL;
    }
    return fe;
}

static void still_serving(struct itest *t, const char *name)
{
    struct vufe_cfg cfg;
    struct vufe *fe;
    int err = 0;

    itest_fe_cfg(t, &cfg, 1);
    fe = vufe_open(&cfg, &err);
    VU_ASSERT_MSG(fe != NULL, name);
    if (fe) {
        itest_roundtrip(fe, 0, 64, 9);
        vufe_free(fe);
    }
}

static void run_case(struct itest *t, const struct bad_case *c)
{
    struct vufe *fe = open_level(t, c->level);
    struct raw r = { .len = 0 };
    bool ok = false;
    int sock;

    VU_ASSERT_MSG(fe != NULL, c->name);
    if (!fe) {
        return;
    }
    c->make(fe, &r);
    sock = r.chan ? vufe_channel(fe) : vufe_sock(fe);
    if (sock >= 0 && send_raw(sock, &r) == 0) {
        switch (c->expect) {
        case CLOSED:
            /* within 8 s: a stalled message is given up after 5 */
            ok = itest_peer_closed(vufe_sock(fe), 8000);
            break;
        case REJECTED:
            ok = rejected(sock);
            break;
        case BROKEN:
            ok = broken_signalled(fe, sock);
            break;
        case GOES_ON:
            ok = goes_on(fe, sock);
            break;
        }
    }
    if (!ok) {
        fprintf(stderr, "\nbad-input case failed: %s\n", c->name);
    }
    VU_ASSERT_MSG(ok, c->name);
    vufe_free(fe);
    still_serving(t, c->name);
}

/* Every row of the table against one long-lived back-end. */
static void test_bad_input_table(void)
{
    struct vu_backend_stats st;
    struct itest t;

    CU_ASSERT_FATAL(sizeof(cases) / sizeof(cases[0]) >= 20);
    CU_ASSERT_EQUAL_FATAL(itest_start(&t, 1, SIM_US, 0, VU_INBAND_AUTO), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&t, &cases[i]);
    }
    itest_stop(&t);
    vu_backend_get_stats(t.h.be, &st);
    CU_ASSERT(st.rejected >= 10);
    itest_free(&t);
}

CU_TestInfo badinput_tests[] = {
    { "bad_input_table", test_bad_input_table },
    CU_TEST_INFO_NULL,
};
