/* SPDX-License-Identifier: MIT */
/*
 * cosim/backend/backend-internal.h - shared by backend.c (messages) and
 * backend_queue.c (rings, requests, notifications). Never installed.
 */
#ifndef VUSIM_COSIM_BACKEND_INTERNAL_H
#define VUSIM_COSIM_BACKEND_INTERNAL_H

#include <event2/event.h>

#include "cosim/backend/backend.h"
#include "cosim/wire/inflight.h"
#include "cosim/wire/mem.h"
#include "cosim/wire/msg.h"
#include "cosim/wire/vq.h"
#include "traces/trace.h"

/* A request: the device's view (dreq) plus the chain behind it. */
struct vu_request {
    struct dev_req dreq;          /* first: the device sees only this */
    struct vu_chain chain;
    struct vu_queue *q;
    sim_time_t t_pop;             /* simulated time the device took it */
    struct vu_request *next;          /* free list or in-flight list */
    bool inflight;
    /* traces (backend_trace.c): the request's id and what it wrote */
    uint64_t trace_id;
    struct trace_wbuf trace_wb;
};

struct vu_queue {
    struct vu_backend *be;
    uint16_t index;
    struct vu_vq vq;
    int kick_fd, call_fd, err_fd;
    struct event *kick_ev;
    struct event *poll_ev;        /* NOFD kick: look at the ring on a timer */
    bool started, enabled;
    bool call_pending;            /* a call is owed and waits its turn */
    struct vu_defer kick_defer;   /* eventfd kicks, run in queue order */
    struct vu_request *free_reqs;
    struct vu_request *inflight;      /* singly linked, newest first */
    uint32_t ninflight;
    struct vu_inflight_q iq;      /* INFLIGHT_SHMFD: heads to resubmit */
};

struct vu_backend {
    struct vu_loop *loop;
    struct dev *dev;
    struct vu_backend_cfg cfg;
    /* connection */
    int sock;
    struct event *sock_ev;
    struct vu_msg_reader rd;      /* the socket's buffered messages */
    int bfd;                      /* back-end channel, -1 if none */
    struct vu_msg_reader brd;     /* its buffered replies */
    struct event *bfd_ev;
    bool awaiting_call_ack;       /* an in-band call is out; calendar held */
    uint16_t call_inflight_q;
    bool owner;
    bool ack_deferred;            /* a kick's ack waits for kick_sync */
    uint32_t deferred_flags;
    bool broken;
    uint64_t features;            /* acked virtio features */
    uint64_t pfeatures;           /* acked protocol features */
    bool features_set, pfeatures_set;
    uint8_t status;
    struct vu_mem mem;
    struct vu_inflight inflight;  /* INFLIGHT_SHMFD region, if any */
    uint16_t nq;
    struct vu_queue q[VU_MAX_QUEUES];
    /* counters */
    struct vu_backend_stats st;
    sim_time_t *lat;              /* per-request simulated latency samples */
    size_t nlat, lat_cap;
    int errs_logged;
    struct trace_writer *trace;   /* NULL: not recording */
    const struct vu_backend_obs *obs;     /* NULL: no observer */
    void *obs_opaque;
    struct vu_trace_base {        /* front-end addresses are traced */
        bool set;                 /* relative to its first memory table */
        uint64_t gpa, uva, off;
    } trace_base;
};

static inline bool vu_has_pf(const struct vu_backend *be, int bit)
{
    return (be->pfeatures & VU_BIT(bit)) != 0;
}

static inline bool vu_inband_ok(const struct vu_backend *be)
{
    return vu_has_pf(be, VU_PF_INBAND_NOTIFICATIONS) && be->bfd >= 0;
}

/* backend_queue.c */
extern const struct dev_host_ops vu_host_ops;
void vu_queue_init(struct vu_backend *be, struct vu_queue *q, uint16_t idx);
void vu_queue_reset(struct vu_queue *q);      /* back to stopped, fds closed */
void vu_queue_free_reqs(struct vu_queue *q);
int vu_queue_set_kick_fd(struct vu_queue *q, int fd);
int vu_queue_poll_kicks(struct vu_queue *q);
void vu_queue_kick(struct vu_queue *q, bool inband);
void vu_queue_start(struct vu_queue *q);
void vu_queue_stop(struct vu_queue *q);
void vu_queue_enable(struct vu_queue *q, bool on);
void vu_queue_remap(struct vu_queue *q);
void vu_queue_error(struct vu_queue *q, int err);
void vu_backend_call_acked(struct vu_backend *be, uint64_t ack);
void vu_backend_drop_call_state(struct vu_backend *be);

/* backend.c */
void vu_backend_fail(struct vu_backend *be, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vu_backend_send_breq(struct vu_backend *be, uint32_t req,
                         const void *payload, uint32_t size);

/* backend_trace.c: the recording hooks; each does nothing without a
 * trace. They sit where the back-end crosses a boundary. Calls into the
 * device are bracketed, so the trace knows which calendar events are the
 * device's: vu_trace_avail, _queue, _cancel and _reset record and enter,
 * vu_trace_leave follows the device's hook; vu_trace_enter precedes the
 * features and config hooks, and vu_trace_config records and leaves. */
void vu_trace_enter(struct vu_backend *be);
void vu_trace_leave(struct vu_backend *be);
void vu_trace_msg(struct vu_backend *be, enum trace_msg_dir dir,
                  const struct vu_msg *m);
void vu_trace_conn(struct vu_backend *be, bool up);
void vu_trace_neg(struct vu_backend *be, enum trace_neg what, uint64_t v);
void vu_trace_config(struct vu_backend *be, bool set, uint32_t off,
                     const void *data, uint32_t len, int rc);
void vu_trace_reset(struct vu_backend *be);
void vu_trace_kick(struct vu_queue *q, bool inband);
void vu_trace_avail(struct vu_queue *q);
void vu_trace_queue(struct vu_queue *q, bool started);
void vu_trace_call(struct vu_queue *q);       /* flushes the trace */
void vu_trace_pop(struct vu_request *r);
void vu_trace_write(struct vu_request *r, uint64_t off, const void *buf,
                    size_t len);
void vu_trace_complete(struct vu_request *r, uint32_t used_len);
void vu_trace_cancel(struct vu_request *r);
void vu_trace_fault(struct vu_request *r, const struct faults_fire *f);
void vu_trace_req_fini(struct vu_request *r);

#endif
