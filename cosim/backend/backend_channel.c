/* SPDX-License-Identifier: MIT */
/*
 * The back-end channel (SET_BACKEND_REQ_FD): the one place that owns its
 * fd, its reader and event, the in-band calls owed and the one in flight,
 * their acks, and VRING_ERR. Calls go out one at a time, lowest queue
 * first; while one waits for its ack the calendar is held (see backend.h).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cosim/backend/backend-internal.h"
#include "sim/log.h"

#define SS "vu"

void vu_chan_init(struct vu_backend *be)
{
    be->chan.fd = -1;
}

/* A request on the back-end channel; only VRING_CALL asks for a reply. */
static int vu_chan_send(struct vu_backend *be, uint32_t req,
                        const void *payload, uint32_t size)
{
    struct vu_msg m;

    vu_msg_init(&m, req, VU_VERSION, size);
    if (req == VU_BREQ_VRING_CALL) {
        m.hdr.flags |= VU_FLAG_NEED_REPLY;
    }
    if (size) {
        memcpy(&m.p, payload, size);
    }
    VU_OBS(be, msg, VU_OBS_BE_REQ, &m);
    return vu_msg_send(be->chan.fd, &m);
}

/* ---- calls ----------------------------------------------------------- */

/* Send the next owed in-band call, lowest queue first; at most one is
 * outstanding, and the calendar is held until it is acked. */
static void vu_flush_calls(struct vu_backend *be)
{
    struct vu_vring_state st = { 0, 0 };

    if (be->chan.awaiting_call_ack || be->broken || !vu_inband_ok(be)) {
        return;
    }
    for (uint16_t i = 0; i < be->nq; i++) {
        struct vu_queue *q = &be->q[i];

        if (!q->call_pending) {
            continue;
        }
        q->call_pending = false;
        st.index = i;
        if (vu_chan_send(be, VU_BREQ_VRING_CALL, &st, sizeof(st)) < 0) {
            vu_backend_fail(be, -ENOTCONN, "cannot send VRING_CALL");
            return;
        }
        be->chan.awaiting_call_ack = true;
        be->chan.call_inflight_q = i;
        be->st.q[i].calls_inband++;
        be->st.q[i].call_mode = VU_NOTIFY_INBAND;
        vu_loop_hold(be->loop);
        return;
    }
}

void vu_chan_call(struct vu_queue *q)
{
    q->call_pending = true;
    vu_flush_calls(q->be);
}

void vu_chan_forget_call(struct vu_queue *q)
{
    q->call_pending = false;
}

static void vu_chan_call_acked(struct vu_backend *be, uint64_t ack)
{
    be->chan.awaiting_call_ack = false;
    vu_loop_release(be->loop);
    if (ack != 0) {
        VUSIM_WARN(SS, "conn %u: front-end refused the call on queue %u "
                   "(ack %llu)", be->cfg.conn_id, be->chan.call_inflight_q,
                   (unsigned long long)ack);
    }
    vu_flush_calls(be);
}

void vu_chan_drop_calls(struct vu_backend *be)
{
    if (be->chan.awaiting_call_ack) {
        be->chan.awaiting_call_ack = false;
        vu_loop_release(be->loop);
    }
    for (uint16_t i = 0; i < be->nq; i++) {
        vu_chan_forget_call(&be->q[i]);
    }
}

/* ---- errors ------------------------------------------------------------ */

void vu_queue_error(struct vu_queue *q, int err)
{
    struct vu_backend *be = q->be;
    struct vu_vring_state st = { q->index, 0 };

    VUSIM_ERR(SS, "conn %u: queue %u broken: malformed descriptor chain (%s)",
              be->cfg.conn_id, q->index, strerror(-err));
    if (q->err_fd >= 0) {
        (void)vu_notify_write(q->err_fd, q->err_kind);
    } else if (vu_inband_ok(be)) {
        /* No NEED_REPLY: an ack here would be confused with a call's. */
        vu_chan_send(be, VU_BREQ_VRING_ERR, &st, sizeof(st));
    }
}

/* ---- config changes ------------------------------------------------- */

/* The device's config space changed (do=resize): the driver re-reads it
 * when told, which needs CONFIG and a back-end channel; no reply asked. */
void vu_chan_config_changed(struct vu_backend *be)
{
    if (!vu_has_pf(be, VU_PF_CONFIG) || be->chan.fd < 0) {
        VUSIM_WARN(SS, "conn %u: config changed, but the front-end cannot "
                   "be told (no CONFIG or back-end channel)",
                   be->cfg.conn_id);
        return;
    }
    if (vu_chan_send(be, VU_BREQ_CONFIG_CHANGE_MSG, NULL, 0) < 0) {
        vu_backend_fail(be, -ENOTCONN, "cannot send CONFIG_CHANGE_MSG");
    }
}

/* ---- the fd ------------------------------------------------------------ */

void vu_chan_close(struct vu_backend *be)
{
    vu_chan_drop_calls(be);
    if (be->chan.ev) {
        event_free(be->chan.ev);
        be->chan.ev = NULL;
    }
    if (be->chan.fd >= 0) {
        close(be->chan.fd);
        vu_msg_reader_fini(&be->chan.rd);
        be->chan.fd = -1;
    }
}

/* One reply from the back-end channel; false when nothing more to do. */
static bool vu_chan_one(struct vu_backend *be, int fd)
{
    struct vu_msg m;
    int rc;

    rc = vu_msg_read_nowait(&be->chan.rd, fd, &m);
    if (rc == -EAGAIN) {
        return false;
    }
    if (rc < 0) {
        /* A front-end that leaves closes the channel at a message boundary,
         * often before its main socket is seen to close: that is the end
         * of a good run. A torn message, or a call left without its ack,
         * is worth a warning. */
        if (rc == -ENOTCONN && !be->chan.awaiting_call_ack) {
            VUSIM_INFO(SS, "conn %u: back-end channel closed",
                       be->cfg.conn_id);
        } else {
            VUSIM_WARN(SS, "conn %u: back-end channel closed (%s)%s",
                       be->cfg.conn_id, strerror(-rc),
                       be->chan.awaiting_call_ack ? " with a call unacked"
                                                  : "");
        }
        vu_chan_close(be);
        return false;
    }
    VU_OBS(be, msg, VU_OBS_FE_REPLY, &m);
    vu_msg_close_fds(&m);
    if (!(m.hdr.flags & VU_FLAG_REPLY) ||
        m.hdr.request != VU_BREQ_VRING_CALL ||
        m.hdr.size != sizeof(uint64_t) || !be->chan.awaiting_call_ack) {
        vu_backend_fail(be, -EPROTO, "unexpected %s on the back-end channel",
                        vu_breq_name(m.hdr.request));
        vu_backend_close(be);
        return false;
    }
    vu_chan_call_acked(be, m.p.u64);
    if (be->broken) {
        vu_backend_close(be);
        return false;
    }
    return be->chan.fd >= 0 && vu_msg_reader_pending(&be->chan.rd);
}

void vu_chan_serve(struct vu_backend *be)
{
    while (be->chan.fd >= 0 && vu_chan_one(be, be->chan.fd)) {
    }
}

static void vu_chan_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vu_backend *be = arg;

    (void)fd;
    (void)what;
    vu_loop_touch(be->loop);
    vu_backend_set_hot(be);
    vu_chan_serve(be);
}

int vu_chan_set_fd(struct vu_backend *be, int fd)
{
    struct event *ev;

    ev = event_new(vu_loop_base(be->loop), fd, EV_READ | EV_PERSIST,
                   vu_chan_cb, be);
    if (ev) {
        event_priority_set(ev, VU_LOOP_PRIO_REPLY);
    }
    if (!ev || event_add(ev, NULL) < 0) {
        if (ev) {
            event_free(ev);
        }
        close(fd);
        return -ENOMEM;
    }
    vu_chan_close(be);
    be->chan.fd = fd;
    be->chan.ev = ev;
    vu_msg_reader_init(&be->chan.rd);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return 0;
}
