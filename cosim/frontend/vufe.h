/* SPDX-License-Identifier: MIT */
/*
 * cosim/frontend/vufe.h - the reference vhost-user front-end (the guest side)
 *
 * vufe plays the part UML's virtio_uml or QEMU play: it owns guest memory (a
 * memfd shared with the back-end), negotiates over a real Unix socket, sets
 * up split rings and drives them as a virtio driver does. Integration tests,
 * benchmarks and the demo use it to reach the back-end through exactly the
 * bytes a guest sends. The back-end never uses it.
 *
 * Notification modes (cfg.notify):
 *   EVENTFD  kick and call eventfds; no back-end channel.
 *   INBAND   like UML: acks INBAND_NOTIFICATIONS, BACKEND_REQ and REPLY_ACK,
 *            sends no SET_VRING_KICK/CALL; a kick is VRING_KICK with
 *            NEED_REPLY and waits for its ack, a call is BACKEND_VRING_CALL
 *            on the back-end channel and is acked.
 *   QEMU     like QEMU 7.2: acks the in-band bits but still sets eventfds,
 *            and refuses (non-zero ack) any in-band call or error, counting
 *            it in stats.calls_rejected.
 * Every wait for a reply also serves the back-end channel, so a call that
 * crosses a kick is acked (stats.calls_during_wait), unless cfg.strict_order
 * asks for UML's behaviour: block on the reply alone.
 *
 * Guest memory is gpa [0, mem_size): one region whose gpa and file offset
 * match, or (cfg.split_mem) two halves with VUFE_GPA_GAP between them in gpa
 * space, the second at a non-zero mmap offset. User addresses on the wire
 * are synthetic (VUFE_UVA_BASE + file offset), never host pointers, so the
 * bytes sent are the same on every run. vufe_new() lays out each queue's
 * rings (and indirect tables, if cfg.indirect) from gpa 0 in queue order;
 * vufe_alloc() hands out what follows.
 *
 * Lifecycle: vufe_new() connects and maps memory, vufe_negotiate() is the
 * boot part (SET_OWNER .. GET_QUEUE_NUM), vufe_setup() the driver-load part
 * (SET_FEATURES .. SET_VRING_ENABLE); vufe_open() does all three.
 *
 * Owns:        the socket, the back-end channel, eventfds, the memfd and its
 *              mapping; cfg is copied (path included).
 * Threading:   single thread; every call blocks, each wait bounded by
 *              cfg.timeout_ms.
 * Errors:      -EINVAL bad argument or config, -ENOTCONN back-end gone,
 *              -ETIMEDOUT no reply or call in time, -EBADMSG malformed reply,
 *              -EPROTO reply to another request, unsolicited message, bad
 *              used element, or a feature the mode needs is missing,
 *              -EREMOTEIO the back-end acked with a non-zero value, -ENOSPC
 *              ring full, -ENOMEM guest memory exhausted, -EIO the connection
 *              failed earlier (reconnect first). A failed request (not a
 *              non-zero ack) leaves the connection failed.
 * Determinism: wire bytes depend only on cfg, the back-end's replies and the
 *              call order; wall time only bounds waits.
 */
#ifndef VUSIM_COSIM_VUFE_H
#define VUSIM_COSIM_VUFE_H

#include <stdbool.h>
#include <stdint.h>

#include "cosim/wire/msg.h"
#include "cosim/wire/proto.h"

#define VUFE_UVA_BASE     0x100000000000ull  /* user address of file offset 0 */
#define VUFE_GPA_GAP      0x100000ull        /* split_mem: hole in gpa space */
#define VUFE_INDIRECT_MAX 16u                /* entries per indirect table */

enum vufe_notify {
    VUFE_NOTIFY_EVENTFD = 0,
    VUFE_NOTIFY_INBAND,
    VUFE_NOTIFY_QEMU,
};

struct vufe_cfg {
    const char *path;         /* connect here (retried until timeout_ms) */
    int fd;                   /* or this connected socket (taken); -1 */
    unsigned num_queues;      /* 1..VU_MAX_QUEUES */
    unsigned queue_size;      /* power of two, <= VU_QUEUE_MAX */
    uint64_t mem_size;        /* multiple of 8 KiB */
    bool split_mem;
    bool mem_slots;           /* ADD_MEM_REG instead of SET_MEM_TABLE, if
                                 CONFIGURE_MEM_SLOTS is negotiated */
    enum vufe_notify notify;
    bool event_idx;           /* accept VIRTIO_RING_F_EVENT_IDX */
    bool indirect;            /* accept VIRTIO_RING_F_INDIRECT_DESC */
    uint64_t features;        /* virtio features to accept (mask) */
    uint64_t protocol_features; /* protocol features to accept (mask) */
    bool reply_ack;           /* use REPLY_ACK (in-band needs it) */
    bool always_kick;         /* vufe_notify() ignores suppression */
    bool strict_order;        /* see above */
    uint32_t config_size;     /* GET_CONFIG bytes during setup; 0 none */
    int timeout_ms;
};

/* Defaults: 1 queue of 256, 16 MiB, eventfd, every feature, REPLY_ACK,
 * config_size 0, timeout 5 s. */
void vufe_cfg_init(struct vufe_cfg *cfg);

struct vufe_qstats {
    uint64_t kicks, kicks_suppressed, calls;
};

/* Calls count in-band calls as they arrive and call-eventfd reads (several
 * eventfd writes may merge into one read). */
struct vufe_stats {
    uint64_t requests;          /* messages sent on the main socket */
    uint64_t kicks, calls;      /* all queues */
    uint64_t calls_during_wait; /* in-band calls served awaiting a reply */
    uint64_t calls_rejected;    /* QEMU mode: in-band calls refused */
    uint64_t errs;              /* BACKEND_VRING_ERR received */
    uint64_t config_changes;
    uint64_t bad_backend_msgs;  /* unknown or malformed, refused */
    struct vufe_qstats q[VU_MAX_QUEUES];
};

struct vufe;

/* Map memory, lay out rings, connect. NULL with *err set on failure. */
struct vufe *vufe_new(const struct vufe_cfg *cfg, int *err);
int vufe_negotiate(struct vufe *fe);
int vufe_setup(struct vufe *fe);
/* vufe_new + vufe_negotiate + vufe_setup. */
struct vufe *vufe_open(const struct vufe_cfg *cfg, int *err);
void vufe_free(struct vufe *fe);

/* Close the socket and channel; memory, rings and eventfds stay. */
void vufe_disconnect(struct vufe *fe);
/* Connect again (@fd >= 0 is taken, else cfg.path); then call
 * vufe_negotiate() and vufe_setup(). A ring resumes at the base last got or
 * set with vufe_{get,set}_vring_base() if it was not kicked since, else at
 * used->idx (right for devices that complete in order). */
int vufe_reconnect(struct vufe *fe, int fd);

int vufe_sock(const struct vufe *fe);       /* raw main socket, -1 none */
int vufe_channel(const struct vufe *fe);    /* our channel end, -1 none */
uint64_t vufe_features(const struct vufe *fe);          /* acked */
uint64_t vufe_protocol_features(const struct vufe *fe); /* acked */
uint64_t vufe_offered_features(const struct vufe *fe);
uint64_t vufe_offered_protocol_features(const struct vufe *fe);
/* Device config read during setup; *len 0 if none. */
const uint8_t *vufe_config(const struct vufe *fe, uint32_t *len);
const struct vufe_stats *vufe_stats(const struct vufe *fe);

/*
 * Send any request: @flags adds to the version (e.g. VU_FLAG_NEED_REPLY).
 * Waits for the reply when the request has one or NEED_REPLY is set, and
 * copies it into @reply (may be NULL); a REPLY_ACK value is reply->p.u64.
 * Only the reply's request id and REPLY flag are checked. @fds are not
 * taken. Returns 0 or -errno.
 */
int vufe_request(struct vufe *fe, uint32_t req, const void *payload,
                 uint32_t size, const int *fds, int nfds, uint32_t flags,
                 struct vu_msg *reply);

/* Typed requests: NEED_REPLY when REPLY_ACK is negotiated; -EREMOTEIO on a
 * non-zero ack or an empty GET_CONFIG reply. */
int vufe_set_mem_table(struct vufe *fe);
int vufe_queue_setup(struct vufe *fe, unsigned q);
int vufe_get_vring_base(struct vufe *fe, unsigned q, uint16_t *base);
int vufe_set_vring_base(struct vufe *fe, unsigned q, uint16_t base);
int vufe_set_vring_enable(struct vufe *fe, unsigned q, bool on);
/* RESET_DEVICE; the driver side of every queue is reset too. */
int vufe_reset_device(struct vufe *fe);
int vufe_get_config(struct vufe *fe, uint32_t off, void *buf, uint32_t len);
int vufe_set_config(struct vufe *fe, uint32_t off, const void *buf,
                    uint32_t len, uint32_t flags);
int vufe_get_status(struct vufe *fe, uint64_t *status);
int vufe_set_status(struct vufe *fe, uint64_t status);
int vufe_get_max_mem_slots(struct vufe *fe, uint64_t *slots);
int vufe_add_mem_reg(struct vufe *fe, unsigned region);
int vufe_rem_mem_reg(struct vufe *fe, unsigned region);

/* Serve back-end channel messages for up to @timeout_ms (0: only what is
 * already there). Returns how many were served, or -errno. */
int vufe_serve(struct vufe *fe, int timeout_ms);

/* ---- guest memory (vufe_ring.c) ---- */

/* Bump allocator: a gpa aligned to @align (0: 16), never straddling a
 * region; 0 when memory is exhausted (gpa 0 holds queue 0's ring). */
uint64_t vufe_alloc(struct vufe *fe, uint64_t len, uint64_t align);
/* Host pointer for [gpa, gpa+len) inside one region, else NULL. */
void *vufe_ptr(const struct vufe *fe, uint64_t gpa, uint64_t len);
/* The region table as sent on the wire. */
const struct vu_mem_region *vufe_regions(const struct vufe *fe, unsigned *n);

/* ---- driver-side split rings (vufe_ring.c) ---- */

struct vufe_buf {
    uint64_t gpa;
    uint32_t len;
    bool writable;            /* device writes it */
};

/* Add a chain of @n buffers, through an indirect table if @indirect (needs
 * INDIRECT_DESC, n <= VUFE_INDIRECT_MAX), and publish it. Buffers are not
 * checked, so tests can post hostile chains. Returns the head id. */
int vufe_add(struct vufe *fe, unsigned q, const struct vufe_buf *bufs,
             unsigned n, bool indirect);
/* Does the device want a kick for what was added since the last one? */
bool vufe_kick_needed(struct vufe *fe, unsigned q);
/* Kick unconditionally (in-band: VRING_KICK and wait for its ack). */
int vufe_kick(struct vufe *fe, unsigned q);
/* Kick if needed or cfg.always_kick; 1 kicked, 0 suppressed, -errno. */
int vufe_notify(struct vufe *fe, unsigned q);
/* Wait for one call on @q (each call received is taken by one wait); 0 or
 * -ETIMEDOUT. */
int vufe_wait_call(struct vufe *fe, unsigned q, int timeout_ms);
/* Take one used element: 1 taken, 0 none, -EPROTO bad id (queue broken). */
int vufe_reap(struct vufe *fe, unsigned q, uint32_t *id, uint32_t *len);
/* Wait for calls until a used element is there, then reap it. */
int vufe_reap_wait(struct vufe *fe, unsigned q, uint32_t *id, uint32_t *len,
                   int timeout_ms);
/* Ask for calls (default) or suppress them (NO_INTERRUPT / used_event). */
void vufe_calls_enable(struct vufe *fe, unsigned q, bool on);
/* Free descriptors left in @q's table. */
unsigned vufe_free_descs(const struct vufe *fe, unsigned q);
/* Forget every buffer and zero the rings (a driver reload); base 0. */
void vufe_queue_reset(struct vufe *fe, unsigned q);

struct vufe_ring_info {
    uint16_t num;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    uint16_t avail_idx;       /* next avail index the driver publishes */
    uint16_t last_used;       /* next used index the driver reaps */
};
void vufe_ring_info(const struct vufe *fe, unsigned q,
                    struct vufe_ring_info *ri);

/* Raw access for hostile tests: the descriptor table, and publishing any
 * head id without bookkeeping. */
struct vu_desc *vufe_desc_table(struct vufe *fe, unsigned q);
void vufe_avail_put(struct vufe *fe, unsigned q, uint16_t head);

#endif
