/* SPDX-License-Identifier: MIT */
/*
 * cosim/frontend/vufe_io.c - vufe's messages: requests and replies on the main
 * socket, back-end requests on the channel, kicks and waits for calls.
 *
 * Every wait polls with a deadline taken from the host clock; the clock only
 * bounds how long we wait, it never changes what is sent. While a reply is
 * awaited the back-end channel is served first, so a call the back-end sent
 * before its reply is acked before the reply is read, as a guest would.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cosim/frontend/vufe-internal.h"
#include "sim/wallclock.h"

/* ---- connection ------------------------------------------------------ */

static int connect_once(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (s < 0) {
        return -errno;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int rc = -errno;
        close(s);
        return rc;
    }
    return s;
}

/* Replies are read by blocking on the socket alone, bounded by a receive
 * timeout, when nothing else needs watching: one recvmsg per reply. */
static int vufe_adopt_sock(struct vufe *fe, int s)
{
    struct timeval tv = {
        .tv_sec = fe->cfg.timeout_ms / 1000,
        .tv_usec = (fe->cfg.timeout_ms % 1000) * 1000,
    };

    fe->sock = s;
    vu_msg_reader_init(&fe->rd);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return 0;
}

int vufe_connect(struct vufe *fe, int fd)
{
    struct timespec pause = { 0, 10 * 1000 * 1000 };
    int tries = fe->cfg.timeout_ms / 10 + 1;

    fe->pf = 0;
    fe->broken = false;
    if (fd >= 0) {
        return vufe_adopt_sock(fe, fd);
    }
    if (!fe->path || strlen(fe->path) >= sizeof(((struct sockaddr_un *)0)
                                                    ->sun_path)) {
        return -EINVAL;
    }
    /* The listener may not exist yet (a back-end still starting). */
    for (int i = 0; i < tries; i++) {
        int s = connect_once(fe->path);
        if (s >= 0) {
            return vufe_adopt_sock(fe, s);
        }
        if (s != -ENOENT && s != -ECONNREFUSED && s != -EAGAIN) {
            return s;
        }
        nanosleep(&pause, NULL);
    }
    return -ETIMEDOUT;
}

void vufe_close_conn(struct vufe *fe)
{
    if (fe->sock >= 0) {
        close(fe->sock);
        fe->sock = -1;
        vu_msg_reader_fini(&fe->rd);
    }
    if (fe->chan >= 0) {
        close(fe->chan);
        fe->chan = -1;
        vu_msg_reader_fini(&fe->chan_rd);
    }
}

/* ---- waiting --------------------------------------------------------- */

static uint64_t deadline_after(int timeout_ms)
{
    return vusim_wallclock_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0)
                                      * 1000000ull;
}

/* poll() until @deadline; returns the count of ready fds, 0 on timeout. */
static int poll_until(struct pollfd *p, nfds_t n, uint64_t deadline)
{
    for (;;) {
        uint64_t now = vusim_wallclock_ns();
        int ms = now >= deadline ? 0
                                 : (int)((deadline - now + 999999) / 1000000);
        int rc = poll(p, n, ms);
        if (rc >= 0) {
            return rc;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

/* ---- the back-end channel -------------------------------------------- */

/* Validate a VRING_CALL/VRING_ERR payload; the queue index or -1. */
static int breq_queue(const struct vufe *fe, const struct vu_msg *m)
{
    if (m->hdr.size != sizeof(struct vu_vring_state) ||
        m->p.state.index >= fe->cfg.num_queues) {
        return -1;
    }
    return (int)m->p.state.index;
}

static void take_call(struct vufe *fe, unsigned q, bool in_wait)
{
    fe->q[q].calls_pending++;
    fe->st.calls++;
    fe->st.q[q].calls++;
    if (in_wait) {
        fe->st.calls_during_wait++;
    }
}

/* Act on one back-end request; returns the ack value (0 accepted). */
static uint64_t handle_breq(struct vufe *fe, const struct vu_msg *m,
                            bool in_wait)
{
    uint32_t req = m->hdr.request;
    int q = -1;

    if (req == VU_BREQ_VRING_CALL || req == VU_BREQ_VRING_ERR) {
        q = breq_queue(fe, m);
    }
    if ((m->hdr.flags & VU_FLAG_REPLY) ||
        ((req == VU_BREQ_VRING_CALL || req == VU_BREQ_VRING_ERR) && q < 0)) {
        fe->st.bad_backend_msgs++;
        return 1;
    }
    switch (req) {
    case VU_BREQ_VRING_CALL:
        if (!vufe_inband(fe)) {
            /* QEMU 7.2 refuses in-band calls; so do we in that mode. */
            fe->st.calls_rejected++;
            return 1;
        }
        take_call(fe, (unsigned)q, in_wait);
        return 0;
    case VU_BREQ_VRING_ERR:
        fe->st.errs++;
        return vufe_inband(fe) ? 0 : 1;
    case VU_BREQ_CONFIG_CHANGE_MSG:
        fe->st.config_changes++;
        return 0;
    default:
        fe->st.bad_backend_msgs++;
        return 1;
    }
}

/* Read and answer one channel message; 1 served, 0 channel closed,
 * -EAGAIN nothing there (@nowait only). */
static int serve_one_how(struct vufe *fe, bool in_wait, bool nowait)
{
    struct vu_msg m, r;
    int rc = nowait ? vu_msg_read_nowait(&fe->chan_rd, fe->chan, &m)
                    : vu_msg_read(&fe->chan_rd, fe->chan, &m);

    if (rc == -ENOTCONN) {
        close(fe->chan);
        fe->chan = -1;
        vu_msg_reader_fini(&fe->chan_rd);
        return 0;
    }
    if (rc == -EAGAIN && nowait) {
        return rc;
    }
    if (rc < 0) {
        VUSIM_ERR(VUFE_SS, "back-end channel: %s", strerror(-rc));
        return rc;
    }
    VUSIM_DEBUG(VUFE_SS, "back-end request %s", vu_breq_name(m.hdr.request));
    uint64_t ack = handle_breq(fe, &m, in_wait);
    vu_msg_close_fds(&m);
    if (!(m.hdr.flags & VU_FLAG_NEED_REPLY)) {
        return 1;
    }
    vu_msg_init(&r, m.hdr.request, VU_VERSION | VU_FLAG_REPLY, 8);
    r.p.u64 = ack;
    rc = vu_msg_send(fe->chan, &r);
    return rc < 0 ? rc : 1;
}

static int serve_one(struct vufe *fe, bool in_wait)
{
    return serve_one_how(fe, in_wait, false);
}

/* A message the channel's reader holds raises no poll event. */
static bool chan_buffered(const struct vufe *fe)
{
    return fe->chan >= 0 && vu_msg_reader_pending(&fe->chan_rd);
}

int vufe_serve(struct vufe *fe, int timeout_ms)
{
    uint64_t deadline = deadline_after(timeout_ms);
    int served = 0;

    while (fe->chan >= 0) {
        struct pollfd p = { .fd = fe->chan, .events = POLLIN };
        int rc = chan_buffered(fe) ? 1 : poll_until(&p, 1, deadline);
        if (rc <= 0) {
            return rc < 0 ? rc : served;
        }
        rc = serve_one(fe, false);
        if (rc < 0) {
            return rc;
        }
        served += rc;
    }
    return served;
}

/* ---- requests -------------------------------------------------------- */

/* The spec's rule, shared with the back-end (cosim/wire/proto.c). */
static bool has_reply_body(uint32_t req)
{
    return vu_req_has_reply(req) != 0;
}

static int check_reply(uint32_t req, const struct vu_msg *r)
{
    if (r->hdr.request != req || !(r->hdr.flags & VU_FLAG_REPLY)) {
        VUSIM_ERR(VUFE_SS, "expected the reply to %s, got %s flags 0x%x",
                  vu_req_name(req), vu_req_name(r->hdr.request),
                  r->hdr.flags);
        return -EPROTO;
    }
    return 0;
}

static int read_reply(struct vufe *fe, uint32_t req, struct vu_msg *out)
{
    int rc = vu_msg_read(&fe->rd, fe->sock, out);

    if (rc == -EAGAIN) {
        return -ETIMEDOUT;            /* SO_RCVTIMEO ran out */
    }
    return rc < 0 ? rc : check_reply(req, out);
}

static int wait_reply(struct vufe *fe, uint32_t req, struct vu_msg *out)
{
    uint64_t deadline = deadline_after(fe->cfg.timeout_ms);
    bool both = fe->chan >= 0 && !fe->cfg.strict_order;

    while (both && !vu_msg_reader_pending(&fe->rd)) {
        struct pollfd p[2] = { { .fd = fe->sock, .events = POLLIN },
                               { .fd = fe->chan, .events = POLLIN } };
        int rc = chan_buffered(fe) ? 1 : poll_until(p, 2, deadline);
        if (rc <= 0) {
            return rc < 0 ? rc : -ETIMEDOUT;
        }
        if (!chan_buffered(fe) && !p[1].revents) {
            break;
        }
        rc = serve_one(fe, true);
        if (rc < 0) {
            return rc;
        }
    }
    return read_reply(fe, req, out);
}

/* Transport and protocol failures end the connection; refusals don't. */
static int fe_result(struct vufe *fe, int rc)
{
    if (rc < 0 && rc != -EREMOTEIO && rc != -EINVAL) {
        fe->broken = true;
    }
    return rc;
}

int vufe_request(struct vufe *fe, uint32_t req, const void *payload,
                 uint32_t size, const int *fds, int nfds, uint32_t flags,
                 struct vu_msg *reply)
{
    struct vu_msg m, tmp;
    struct vu_msg *r = reply ? reply : &tmp;

    vu_msg_init(r, VU_REQ_NONE, 0, 0);   /* safe to close_fds on error */
    if (size > VU_PAYLOAD_MAX || (size && !payload) || nfds < 0 ||
        nfds > VU_MAX_FDS || (nfds && !fds)) {
        return -EINVAL;
    }
    if (fe->sock < 0) {
        return -ENOTCONN;
    }
    if (fe->broken) {
        return -EIO;
    }
    vu_msg_init(&m, req, flags, size);
    memcpy(m.p.raw, payload ? payload : m.p.raw, size);
    memcpy(m.fds, fds ? fds : m.fds, (size_t)nfds * sizeof(int));
    m.nfds = nfds;
    VUSIM_DEBUG(VUFE_SS, "-> %s flags 0x%x size %u", vu_req_name(req),
                m.hdr.flags, size);
    int rc = vu_msg_send(fe->sock, &m);
    if (rc < 0) {
        return fe_result(fe, rc);
    }
    fe->st.requests++;
    if (!has_reply_body(req) && !(flags & VU_FLAG_NEED_REPLY)) {
        return 0;
    }
    rc = wait_reply(fe, req, r);
    if (!reply) {
        vu_msg_close_fds(&tmp);
    }
    return fe_result(fe, rc);
}

int vufe_send_acked(struct vufe *fe, uint32_t req, const void *payload,
                    uint32_t size, const int *fds, int nfds)
{
    bool ack = vufe_has_pf(fe, VU_PF_REPLY_ACK);
    struct vu_msg r;
    int rc = vufe_request(fe, req, payload, size, fds, nfds,
                          ack ? VU_FLAG_NEED_REPLY : 0, &r);

    if (rc < 0 || !ack) {
        return rc;
    }
    vu_msg_close_fds(&r);
    if (r.hdr.size != sizeof(uint64_t)) {
        return fe_result(fe, -EBADMSG);
    }
    if (r.p.u64 != 0) {
        VUSIM_DEBUG(VUFE_SS, "%s refused: ack %llu", vu_req_name(req),
                    (unsigned long long)r.p.u64);
        return -EREMOTEIO;
    }
    return 0;
}

int vufe_query(struct vufe *fe, uint32_t req, const void *payload,
               uint32_t psize, struct vu_msg *reply, uint32_t rsize)
{
    int rc = vufe_request(fe, req, payload, psize, NULL, 0, 0, reply);

    if (rc < 0) {
        return rc;
    }
    vu_msg_close_fds(reply);
    if (reply->hdr.size != rsize) {
        VUSIM_ERR(VUFE_SS, "reply to %s: size %u, want %u",
                  vu_req_name(req), reply->hdr.size, rsize);
        return fe_result(fe, -EBADMSG);
    }
    return 0;
}

/* ---- notifications --------------------------------------------------- */

int vufe_kick(struct vufe *fe, unsigned q)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    if (vufe_inband(fe)) {
        /* In-band kicks always wait for their ack (the spec ties in-band
         * notifications to REPLY_ACK for exactly this). */
        struct vu_vring_state s = { q, 0 };
        struct vu_msg r;
        int rc = vufe_request(fe, VU_REQ_VRING_KICK, &s, sizeof(s), NULL, 0,
                              VU_FLAG_NEED_REPLY, &r);
        if (rc < 0) {
            return rc;
        }
        vu_msg_close_fds(&r);
        if (r.hdr.size != sizeof(uint64_t)) {
            return fe_result(fe, -EBADMSG);
        }
        if (r.p.u64 != 0) {
            return -EREMOTEIO;
        }
    } else {
        uint64_t one = 1;
        if (write(fe->q[q].kick_fd, &one, sizeof(one)) != sizeof(one)) {
            return -errno;
        }
    }
    /* The ring runs again: a stored GET_VRING_BASE answer is stale now. */
    fe->q[q].base_fresh = false;
    fe->st.kicks++;
    fe->st.q[q].kicks++;
    return 0;
}

int vufe_notify(struct vufe *fe, unsigned q)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    bool need = vufe_kick_needed(fe, q);
    if (!need && !fe->cfg.always_kick) {
        fe->st.q[q].kicks_suppressed++;
        return 0;
    }
    int rc = vufe_kick(fe, q);
    return rc < 0 ? rc : 1;
}

/* Something arrived on the main socket unasked: EOF or a protocol error. */
static int unsolicited(struct vufe *fe)
{
    struct vu_msg m;
    int rc = vu_msg_read(&fe->rd, fe->sock, &m);

    if (rc == 0) {
        VUSIM_ERR(VUFE_SS, "unsolicited %s on the main socket",
                  vu_req_name(m.hdr.request));
        vu_msg_close_fds(&m);
        rc = -EPROTO;
    }
    return fe_result(fe, rc);
}

/* One round of waiting for a call on @q; 1 got one, 0 not yet. */
static int wait_call_once(struct vufe *fe, struct vufe_queue *vq,
                          uint64_t deadline)
{
    struct pollfd p[3];
    nfds_t n = 0;
    int ichan = -1, icall = -1, isock = -1, rc;

    /* The channel first and without a poll: an in-band call is usually
     * there already, sent right behind the kick's ack. */
    if (fe->chan >= 0) {
        rc = serve_one_how(fe, false, true);
        if (rc != -EAGAIN) {
            return rc < 0 ? fe_result(fe, rc) : 0;
        }
    }
    if (fe->chan >= 0) {
        ichan = (int)n;
        p[n++] = (struct pollfd){ .fd = fe->chan, .events = POLLIN };
    }
    if (vq->call_fd >= 0) {
        icall = (int)n;
        p[n++] = (struct pollfd){ .fd = vq->call_fd, .events = POLLIN };
    }
    if (fe->sock >= 0) {
        isock = (int)n;
        p[n++] = (struct pollfd){ .fd = fe->sock, .events = POLLIN };
    }
    rc = poll_until(p, n, deadline);
    if (rc <= 0) {
        return rc < 0 ? rc : -ETIMEDOUT;
    }
    if (ichan >= 0 && p[ichan].revents) {
        rc = serve_one(fe, false);
        return rc < 0 ? fe_result(fe, rc) : 0;
    }
    if (icall >= 0 && p[icall].revents) {
        uint64_t v;
        return read(vq->call_fd, &v, sizeof(v)) == sizeof(v) ? 1 : 0;
    }
    return isock >= 0 ? unsolicited(fe) : 0;
}

int vufe_wait_call(struct vufe *fe, unsigned q, int timeout_ms)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    struct vufe_queue *vq = &fe->q[q];
    uint64_t deadline = deadline_after(timeout_ms);

    for (;;) {
        if (vq->calls_pending) {
            vq->calls_pending--;      /* one call per wait */
            return 0;
        }
        if (vufe_inband(fe) && fe->chan < 0) {
            return -ENOTCONN;
        }
        int rc = wait_call_once(fe, vq, deadline);
        if (rc < 0) {
            return rc;
        }
        if (rc == 1) {
            /* An eventfd call: counted here, in-band ones on arrival. */
            fe->st.calls++;
            fe->st.q[q].calls++;
            return 0;
        }
    }
}

int vufe_reap_wait(struct vufe *fe, unsigned q, uint32_t *id, uint32_t *len,
                   int timeout_ms)
{
    uint64_t deadline = deadline_after(timeout_ms);

    for (;;) {
        int rc = vufe_reap(fe, q, id, len);
        if (rc != 0) {
            return rc;
        }
        uint64_t now = vusim_wallclock_ns();
        int left = now >= deadline
                       ? 0 : (int)((deadline - now + 999999) / 1000000);
        rc = vufe_wait_call(fe, q, left);
        if (rc < 0) {
            /* The used entry may have landed with its call suppressed. */
            int r2 = vufe_reap(fe, q, id, len);
            return r2 != 0 ? r2 : rc;
        }
    }
}
