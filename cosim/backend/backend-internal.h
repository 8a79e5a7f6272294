/* SPDX-License-Identifier: MIT */
/*
 * cosim/backend/backend-internal.h - shared by backend.c (messages),
 * backend_queue.c (rings, requests, notifications) and backend_channel.c
 * (the back-end channel). Never installed.
 */
#ifndef VUSIM_COSIM_BACKEND_INTERNAL_H
#define VUSIM_COSIM_BACKEND_INTERNAL_H

#include <event2/event.h>

#include "cosim/backend/backend.h"
#include "cosim/backend/observer.h"
#include "cosim/wire/inflight.h"
#include "cosim/wire/mem.h"
#include "cosim/wire/msg.h"
#include "cosim/wire/vq.h"

/* A request: the device's view (dreq) plus the chain behind it. */
struct vu_request {
    struct dev_req dreq;          /* first: the device sees only this */
    struct vu_chain chain;
    struct vu_queue *q;
    sim_time_t t_pop;             /* simulated time the device took it */
    struct vu_request *next;          /* free list or in-flight list */
    bool inflight;
    void *obs_data;               /* the observer's (observer.h) */
};

struct vu_queue {
    struct vu_backend *be;
    uint16_t index;
    struct vu_vq vq;
    int kick_fd, call_fd, err_fd;
    int call_kind, err_kind;      /* vu_notify_fd_init() */
    bool kick_nonblock;           /* the front-end's eventfd is O_NONBLOCK */
    struct event *kick_ev;
    struct event *poll_ev;        /* NOFD kick: look at the ring on a timer */
    bool started, enabled;
    bool call_pending;            /* a call is owed (backend_channel.c) */
    struct vu_defer kick_defer;   /* eventfd kicks, run in queue order */
    struct vu_request *free_reqs;
    struct vu_request *inflight;      /* singly linked, newest first */
    uint32_t ninflight;
    struct vu_inflight_q iq;      /* INFLIGHT_SHMFD: heads to resubmit */
    bool restart_called;          /* the one call of a restart is sent */
    bool call_held;               /* an observer holds a call back */
};

struct vu_backend {
    struct vu_loop *loop;
    struct dev *dev;
    struct vu_backend_cfg cfg;
    /* connection */
    int sock;
    struct event *sock_ev;
    struct vu_msg_reader rd;      /* the socket's buffered messages */
    struct vu_defer mem_check;    /* vu_backend_check_mem() */
    struct vu_chan {              /* back-end channel: backend_channel.c */
        int fd;                   /* -1 if none */
        struct vu_msg_reader rd;  /* its buffered replies */
        struct event *ev;
        bool awaiting_call_ack;   /* an in-band call is out; calendar held */
        uint16_t call_inflight_q;
    } chan;
    bool owner;
    bool reply_deferred;          /* waits for reply_sync (vu_answer) */
    bool deferred_has_reply;      /* deferred_reply is to be sent */
    struct vu_msg deferred_reply;
    bool poked;                   /* vu_inflight_poke looked at a ring */
    bool warned_unwaited;         /* looks_unwaited warned about */
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
    const struct vu_backend_obs *obs;     /* the controller's, or NULL */
    void *obs_opaque;
    const struct vu_obs_ops *observer;    /* observer.h, or NULL */
    void *observer_ctx;
};

static inline bool vu_has_pf(const struct vu_backend *be, int bit)
{
    return (be->pfeatures & VU_BIT(bit)) != 0;
}

static inline bool vu_inband_ok(const struct vu_backend *be)
{
    return vu_has_pf(be, VU_PF_INBAND_NOTIFICATIONS) && be->chan.fd >= 0;
}

/* backend_queue.c */
extern const struct dev_host_ops vu_host_ops;
void vu_queue_init(struct vu_backend *be, struct vu_queue *q, uint16_t idx);
void vu_queue_reset(struct vu_queue *q);      /* back to stopped, fds closed */
void vu_queue_free_reqs(struct vu_queue *q);
int vu_queue_set_kick_fd(struct vu_queue *q, int fd);
int vu_queue_poll_kicks(struct vu_queue *q);
void vu_queue_kick(struct vu_queue *q, bool inband);
int vu_queue_write_call_fd(struct vu_queue *q);   /* warns; -errno */
void vu_queue_start(struct vu_queue *q);
void vu_queue_stop(struct vu_queue *q);
void vu_queue_enable(struct vu_queue *q, bool on);
void vu_queue_remap(struct vu_queue *q);

/* backend.c: after device work outside a message, close the connection
 * at the end of the batch if it met a shrunk region (memguard) */
void vu_backend_check_mem(struct vu_backend *be);

/* backend.c: make @be the loop's hot connection (vu_loop_set_hot) */
void vu_backend_set_hot(struct vu_backend *be);

/* backend_channel.c: the back-end channel, in-band calls and VRING_ERR */
void vu_chan_init(struct vu_backend *be);
int vu_chan_set_fd(struct vu_backend *be, int fd);   /* takes @fd */
void vu_chan_close(struct vu_backend *be);  /* drops the calls too */
void vu_chan_serve(struct vu_backend *be);  /* read and handle its replies */
void vu_chan_call(struct vu_queue *q);      /* owe an in-band call, send */
void vu_chan_forget_call(struct vu_queue *q);
void vu_chan_drop_calls(struct vu_backend *be);   /* owed and in flight */
void vu_chan_config_changed(struct vu_backend *be);   /* CONFIG_CHANGE_MSG */
void vu_queue_error(struct vu_queue *q, int err);

/* backend.c */
void vu_backend_fail(struct vu_backend *be, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Detach, then tell the owner (on_close) if a front-end was connected. */
void vu_backend_close(struct vu_backend *be);

/* The observer (observer.h): each call does nothing without one. */
#define VU_OBS(be, fn, ...) \
    do { \
        if ((be)->observer && (be)->observer->fn) { \
            (be)->observer->fn((be)->observer_ctx, __VA_ARGS__); \
        } \
    } while (0)
#define VU_OBS0(be, fn) \
    do { \
        if ((be)->observer && (be)->observer->fn) { \
            (be)->observer->fn((be)->observer_ctx); \
        } \
    } while (0)

void vu_obs_pop(struct vu_request *r);
void vu_obs_call(struct vu_queue *q);
void vu_obs_req_free(struct vu_request *r);

#endif
