/* SPDX-License-Identifier: MIT */
/*
 * cosim/backend/backend.h - the vhost-user back-end for one device
 *
 * A vu_backend serves one front-end connection at a time for one device
 * model (devices/dev.h). It reads requests from the socket, checks each
 * against one dispatch table (payload size, fd count, required feature),
 * runs one handler per request and sends the reply or REPLY_ACK. It maps
 * guest memory, walks the virtqueues and turns kicks into device work and
 * completions into calls.
 *
 * Notifications are chosen per queue and per direction from what the
 * front-end set up, not from the feature bit alone:
 *   kick  an fd from SET_VRING_KICK    -> eventfd (watched by libevent)
 *         VRING_KICK messages          -> in-band (needs INBAND_NOTIFICATIONS)
 *   call  an fd from SET_VRING_CALL    -> eventfd write
 *         none, in-band negotiated and a back-end channel -> BACKEND_VRING_CALL
 *         with NEED_REPLY; the calendar is held until the front-end acks.
 * QEMU 7.2 acks the in-band bits but sets eventfds and rejects in-band calls;
 * the fds win, so it works. A kick is processed (device avail() called and
 * its work put on the calendar) before its ack is sent; a call is sent only
 * after that ack, and while its own ack is pending the socket is still
 * served, so a kick that crosses a call cannot deadlock.
 *
 * When the front-end disconnects or breaks the protocol, all connection
 * state (memory, rings, fds, in-flight requests) is dropped and the
 * on_close callback tells the owner, which may attach the next connection.
 *
 * Owns:        the connection socket and every fd it received, the guest
 *              memory mappings and the request pool.
 * Borrows:     the loop and the device; both outlive the back-end.
 * Threading:   the loop's thread only.
 * Errors:      -EBADMSG malformed message, -EPROTO protocol or feature rule
 *              broken (connection closed); -EINVAL, -ERANGE a rejected
 *              request (non-zero ack, connection kept); -EBUSY already
 *              serving a connection.
 * Determinism: device work reaches the calendar in message order (in-band)
 *              or in queue order per loop batch (eventfd). A ring look (a
 *              ring started or enabled) runs before the reply to the
 *              message that caused it; with reply_sync, also when the
 *              front-end does not wait, which is counted (looks_unwaited):
 *              what such a look finds depends on the guest's progress.
 */
#ifndef VUSIM_COSIM_BACKEND_H
#define VUSIM_COSIM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cosim/backend/loop.h"
#include "cosim/wire/proto.h"
#include "devices/dev.h"
#include "sim/time.h"

struct vu_backend;

enum vu_inband_mode {
    VU_INBAND_AUTO = 0,   /* offer it; per-queue choice from the fds */
    VU_INBAND_ON,         /* offer it; a front-end that declines is refused */
    VU_INBAND_OFF,        /* do not offer it */
};

/* "auto", "on" or "off". */
int vu_inband_parse(const char *s, enum vu_inband_mode *mode);

struct vu_backend_cfg {
    enum vu_inband_mode inband;
    uint32_t conn_id;     /* orders deferred work between back-ends */
    bool verbose;         /* log every message decoded (INFO level) */
    /* Optional: called after each message's work (an in-band kick's, a
     * ring look's) is on the calendar and before its reply or ack goes.
     * Returning false defers the reply (and stops reading this front-end)
     * until vu_backend_reply_resume(); the time-travel controller uses it
     * to bound the running guest first. With it, ring looks run when their
     * message is handled, never at the end of the loop's batch. */
    bool (*reply_sync)(struct vu_backend *be, void *opaque);
    void *sync_opaque;
    /* Called when the connection is gone (closed or broken). */
    void (*on_close)(struct vu_backend *be, void *opaque);
    void *opaque;
};

enum vu_notify_mode {
    VU_NOTIFY_NONE = 0,   /* not set up, or polling (NOFD) */
    VU_NOTIFY_EVENTFD,
    VU_NOTIFY_INBAND,
};

const char *vu_notify_mode_name(enum vu_notify_mode m);

struct vu_queue_stats {
    uint64_t kicks_inband, kicks_eventfd;
    uint64_t calls_inband, calls_eventfd, calls_suppressed;
    uint64_t requests, completions, bytes_read, bytes_written;
    enum vu_notify_mode kick_mode, call_mode;   /* last used */
};

struct vu_backend_stats {
    uint64_t features, protocol_features;       /* negotiated */
    uint64_t messages, rejected;
    /* Messages the front-end did not wait for that made the back-end look
     * at a ring: what the look found depends on host timing. */
    uint64_t looks_unwaited;
    uint32_t connections;
    uint16_t num_queues;
    struct vu_queue_stats q[VU_MAX_QUEUES];
};

struct vu_backend *vu_backend_new(struct vu_loop *loop, struct dev *dev,
                                  const struct vu_backend_cfg *cfg);

/* Drops any connection; the device is not freed. NULL is fine. */
void vu_backend_free(struct vu_backend *be);

/* Serve a connected front-end socket; takes ownership of @sock. */
int vu_backend_attach(struct vu_backend *be, int sock);

/* Send the reply that reply_sync deferred, and read the socket again. */
void vu_backend_reply_resume(struct vu_backend *be);

/* Drop the connection (if any) and all its state. */
void vu_backend_detach(struct vu_backend *be);

bool vu_backend_connected(const struct vu_backend *be);

/* Replace the on_close callback (the server uses it to accept the next). */
void vu_backend_set_on_close(struct vu_backend *be,
                             void (*fn)(struct vu_backend *be, void *opaque),
                             void *opaque);

/*
 * An observer for a controller (cosim/control): what the device does and
 * when the front-end comes and goes. Every hook is optional; each runs on
 * the loop's thread, inside the back-end's own call, and must not call back
 * into the back-end except through the queries below.
 */
struct faults_fire;
struct vu_backend_obs {
    void (*pop)(void *o, struct vu_backend *be, const struct dev_req *req);
    void (*complete)(void *o, struct vu_backend *be,
                     const struct dev_req *req, uint32_t used_len);
    /* Before a call goes out; true holds it (not sent) until
     * vu_backend_release_calls(), for a debugger that stops between a
     * completion reaching the used ring and the front-end hearing of it. */
    bool (*call)(void *o, struct vu_backend *be, uint16_t queue);
    void (*fault)(void *o, struct vu_backend *be, const struct dev_req *req,
                  const struct faults_fire *f);
    void (*conn)(void *o, struct vu_backend *be, bool up);
};
void vu_backend_set_obs(struct vu_backend *be,
                        const struct vu_backend_obs *obs, void *opaque);

struct dev *vu_backend_dev(const struct vu_backend *be);

/* Send the calls an observer held, in queue order; returns how many. */
unsigned vu_backend_release_calls(struct vu_backend *be);

/* Change the running device from outside (devices/dev.h dev_ctl_apply)
 * and record it in the trace, where replay makes it again: 0, or -errno
 * with one line in @err. */
int vu_backend_ctl(struct vu_backend *be, struct dev_ctl *c, char *err,
                   size_t errlen);

/* A queue's state: its ring indices and requests in flight. */
struct vu_queue_info {
    bool started, enabled;
    uint16_t num, last_avail, used_idx;
    uint32_t ninflight;
};
int vu_backend_queue_info(const struct vu_backend *be, uint16_t queue,
                          struct vu_queue_info *out);
/* Up to @n of @queue's requests in flight, oldest first, with the
 * simulated time the device took each; returns how many. */
size_t vu_backend_inflight(const struct vu_backend *be, uint16_t queue,
                           struct dev_req **reqs, sim_time_t *t_pop,
                           size_t n);

/* Features and protocol features this back-end offers. */
uint64_t vu_backend_features(const struct vu_backend *be);
uint64_t vu_backend_protocol_features(const struct vu_backend *be);

/* What the back-end was made with: its queue count and config (an
 * observer describes a run with them, and with vu_backend_dev()). */
uint16_t vu_backend_num_queues(const struct vu_backend *be);
const struct vu_backend_cfg *vu_backend_config(const struct vu_backend *be);

/* Counters since creation (they survive reconnects; features are the
 * last connection's). */
void vu_backend_get_stats(const struct vu_backend *be,
                          struct vu_backend_stats *st);

/*
 * Simulated-time latency (pop to completion) of requests completed so far,
 * over all queues: @permille 500 is the median, 1000 the maximum. -ENOENT
 * if none completed. At most VU_LAT_SAMPLES are kept; later ones are
 * counted but not sampled.
 */
#define VU_LAT_SAMPLES (1u << 20)
int vu_backend_latency(const struct vu_backend *be, unsigned permille,
                       sim_time_t *out);

/* "inband", "eventfd", "mixed" or "none": the paths the queues used. */
const char *vu_backend_mode_summary(const struct vu_backend_stats *st);

/* Write the stats as one JSON object. */
int vu_backend_stats_json(const struct vu_backend *be, FILE *f);

#endif
