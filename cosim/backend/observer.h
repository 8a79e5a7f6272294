/* SPDX-License-Identifier: MIT */
/*
 * cosim/backend/observer.h - what the back-end tells an observer
 *
 * The back-end calls an observer where it crosses a boundary: every
 * vhost-user message both ways on both channels, the connection coming and
 * going, negotiated features, each kick and call, each device hook it runs,
 * each chain the device takes, the bytes the device writes, each fault
 * rule that fires and each completion. traces/ records a run through it
 * (traces/record.h); the back-end knows nothing of traces.
 *
 * Calls into the device are bracketed so an observer can tell the device's
 * calendar events from the transport's: avail, queue, cancel and reset
 * come before the device's hook and dev_leave after it; dev_enter comes
 * before the features and config hooks, and config after them (it leaves).
 *
 * Model:       a table of callbacks and a context, attached to one back-end
 *              with vu_backend_set_observer(); every callback is optional.
 * Owns:        nothing.
 * Borrows:     @ops and @ctx, until vu_backend_set_observer(be, NULL, NULL)
 *              or vu_backend_free(); messages, chains and memory only for
 *              the duration of a call.
 * Threading:   called on the back-end's loop thread.
 * Errors:      callbacks return nothing: an observer cannot change what the
 *              back-end does.
 * Determinism: calls come in the back-end's own order, which depends only
 *              on the front-end's messages and on simulated time.
 */
#ifndef VUSIM_COSIM_BACKEND_OBSERVER_H
#define VUSIM_COSIM_BACKEND_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cosim/wire/mem.h"
#include "cosim/wire/msg.h"
#include "cosim/wire/vq.h"

struct vu_backend;
struct faults_fire;               /* devices/faults/faults.h */
struct dev_ctl;                   /* devices/dev.h */

/* Which channel a message is on and who sent it. */
enum vu_obs_dir {
    VU_OBS_FE_REQ,        /* front-end request, main socket */
    VU_OBS_BE_REPLY,      /* back-end reply, main socket */
    VU_OBS_BE_REQ,        /* back-end request, back-end channel */
    VU_OBS_FE_REPLY,      /* front-end reply, back-end channel */
};

enum vu_obs_neg { VU_OBS_NEG_FEATURES, VU_OBS_NEG_PROTOCOL };

/* The path a call takes; NONE: no path, the call is suppressed. */
enum vu_obs_notify { VU_OBS_NOTIFY_NONE, VU_OBS_NOTIFY_EVENTFD,
                     VU_OBS_NOTIFY_INBAND };

/* A chain the device takes; its readable bytes are readable through
 * vu_chain_read(chain, mem, ...) during the call. */
struct vu_obs_chain {
    uint16_t queue;
    const struct vu_chain *chain;
    const struct vu_mem *mem;
    uint32_t rd_len, wr_len;      /* as the device sees them */
};

/*
 * Per-request storage for the observer: NULL when the back-end makes a
 * request, kept while the request is reused, given to req_free when the
 * back-end frees it. pop may set it (for example to keep what the device
 * writes); write, complete and cancel get it back.
 */
struct vu_obs_ops {
    void (*dev_enter)(void *ctx);
    void (*dev_leave)(void *ctx);
    void (*msg)(void *ctx, enum vu_obs_dir dir, const struct vu_msg *m);
    void (*conn)(void *ctx, bool up);
    void (*neg)(void *ctx, enum vu_obs_neg what, uint64_t value);
    void (*config)(void *ctx, bool set, uint32_t off, const void *data,
                   uint32_t len, int rc);
    void (*reset)(void *ctx);
    void (*kick)(void *ctx, uint16_t queue, bool inband);
    void (*avail)(void *ctx, uint16_t queue);
    /* @hook: the device's queue_start/queue_stop hook runs (a stop runs it
     * only for a started queue). */
    void (*queue)(void *ctx, uint16_t queue, bool started, bool hook);
    /* Before the call is signalled. */
    void (*call)(void *ctx, uint16_t queue, enum vu_obs_notify how);
    void (*pop)(void *ctx, void **req, const struct vu_obs_chain *c);
    void (*write)(void *ctx, void *req, uint16_t queue, uint64_t off,
                  const void *buf, size_t len);
    void (*complete)(void *ctx, void *req, uint16_t queue, uint16_t head,
                     uint32_t wr_len, uint32_t used_len);
    void (*cancel)(void *ctx, void *req, uint16_t queue);
    /* A fault rule fired on the request, before the device acts on it. */
    void (*fault)(void *ctx, void *req, uint16_t queue,
                  const struct faults_fire *f);
    void (*req_free)(void *ctx, void *req);
    /* The device was changed from outside (vu_backend_ctl: the control
     * socket), inside dev_enter/dev_leave, after the change. */
    void (*control)(void *ctx, const struct dev_ctl *c);
};

/* Observe @be from now on (@ops NULL stops). Requests' storage from an
 * earlier observer is freed through that observer first. */
void vu_backend_set_observer(struct vu_backend *be,
                             const struct vu_obs_ops *ops, void *ctx);

#endif
