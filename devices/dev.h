/* SPDX-License-Identifier: MIT */
/*
 * devices/dev.h - the device API: where users' hardware models live
 *
 * A device model is a virtio device seen from the inside: it declares its
 * virtio id, features, queues and config space, receives requests (one
 * descriptor chain each) and completes them on the simulation calendar. It
 * never sees sockets, fds, vhost-user messages or notification modes; the
 * host (cosim/ for a live guest, traces/ for replay) does all of that behind
 * the four dev_host_ops below. Because replay and live runs call a device
 * through the same contract, a device that schedules all its work on the
 * calendar replays bit for bit.
 *
 * Life of a request:
 *   1. The guest makes buffers available; the host calls ops->avail(dev, q).
 *   2. The device calls dev_pop(dev, q) until it returns NULL. Each request
 *      is a chain: rd_len device-readable bytes then wr_len device-writable
 *      bytes, read and written through dev_req_read() / dev_req_write().
 *   3. The device schedules its completion on the calendar (req->ev is free
 *      for that) and, when it fires, calls dev_req_complete(req, used_len).
 *      The host writes the used ring and notifies the guest in whatever
 *      mode was negotiated.
 *   4. If the host must take a request back before completion (queue stop,
 *      reset, disconnect) it calls ops->cancel(dev, req); the device then
 *      forgets the request (cancelling req->ev if it used it).
 *
 * Owns:        a device owns its private state and backing store.
 * Borrows:     requests, from dev_pop() until complete or cancel; the
 *              calendar, for its whole life.
 * Threading:   single thread: every hook runs from the host's event loop or
 *              from a calendar event.
 * Errors:      hooks return 0 or a negative errno; -EINVAL bad option,
 *              -ERANGE access outside a request's buffers.
 * Determinism: a device may depend only on its options, its seed, the
 *              requests' bytes and simulated time (sim_cal_now()).
 */
#ifndef VUSIM_DEVICES_DEV_H
#define VUSIM_DEVICES_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/cal.h"

struct dev;
struct dev_req;
struct faults_action;           /* devices/faults/faults.h */
struct faults_fire;
struct faults_set;
struct faults_req;
struct dev_work_ops;            /* devices/work.h */

/* One device request: a descriptor chain the guest made available. */
struct dev_req {
    struct dev *dev;
    uint16_t queue;
    uint32_t rd_len;        /* bytes the device may read (guest's input) */
    uint32_t wr_len;        /* bytes the device may write (to the guest) */
    struct sim_event ev;    /* free for the device, e.g. its completion */
    uint64_t dev_data[4];   /* free for the device's per-request state */
};

/* What the host provides; a device calls these through the wrappers. */
struct dev_host_ops {
    struct dev_req *(*pop)(struct dev *dev, uint16_t queue);
    int (*read)(struct dev_req *req, uint64_t off, void *buf, size_t len);
    int (*write)(struct dev_req *req, uint64_t off, const void *buf,
                 size_t len);
    void (*complete)(struct dev_req *req, uint32_t used_len);
    /* Optional. A fault rule fired on @req (before the device acts on it):
     * the host records it (traces/, the control socket). */
    void (*fault)(struct dev_req *req, const struct faults_fire *f);
    /* Optional. The device's config space changed on its own (a resize):
     * the host tells the driver (BACKEND_CONFIG_CHANGE_MSG). */
    void (*config_changed)(struct dev *dev);
};

/* A device option, for --help and for rejecting unknown options. */
struct dev_optdesc {
    const char *name;       /* "latency" for --latency=VALUE */
    const char *metavar;    /* "DURATION"; NULL for a flag without value */
    const char *help;
};

/* One parsed option; value is NULL for a flag. */
struct dev_opt {
    const char *name;
    const char *value;
};

/* A device feature bit's name, for stats and trace tools ("FLUSH"). */
struct dev_feature_name {
    unsigned bit;
    const char *name;
};

/* Another name a host accepts for one of the device's options:
 * --blk-file=PATH (vhost-user-blk's name) is blk's --backing=PATH. */
struct dev_optalias {
    const char *alias;
    const char *name;           /* one of the device's opts */
    const char *help;           /* for --help */
};

struct dev_ops {
    const char *name;                   /* "blk"; the CLI's DEVICE word */
    uint32_t virtio_id;                 /* VIRTIO_ID_* */
    const struct dev_optdesc *opts;     /* NULL-name terminated */

    /*
     * What hosts that have no instance of the device need (the program's
     * --print-capabilities, stats and aliases; the trace tools). All
     * optional; NULL is "none".
     */
    /* QEMU's VHostUserBackendType ("block", "rng"), and the features its
     * schema defines for it, NULL-terminated. */
    const char *vhost_user_type;
    const char *const *vhost_user_features;
    /* Names of the device-specific feature bits (below 24), {0, NULL}-
     * terminated. */
    const struct dev_feature_name *feature_names;
    /* Other names of options, NULL-alias terminated. */
    const struct dev_optalias *aliases;
    /* The option naming a file the device serves as its image: a trace
     * hashes it at start, and replay needs the same starting bytes. */
    const char *image_opt;
    /* The option whose value seeds the device (its faults, its data); the
     * trace HEADER records it. */
    const char *seed_opt;
    /* Optional. The size of an image that starts as zeros (no image_opt
     * given): a trace records it so replay makes the same. */
    int (*image_size)(struct dev *dev, uint64_t *bytes);
    /* Optional. A request in words from its bytes alone (@rd the device-
     * readable ones, as a trace keeps them), e.g. "IN sector=8 len=4096",
     * for trace dump, diff and replay's divergence reports; writes "" when
     * there is nothing to say. */
    void (*decode)(const uint8_t *rd, uint32_t rd_len, uint32_t wr_len,
                   char *buf, size_t len);
    /* Optional. The name of a completion's status byte ("OK", "IOERR"),
     * or NULL. */
    const char *(*status_name)(uint8_t status);
    /* Optional. How many requests the timing model serves at once for
     * @opts (checked by create() before), each request taking a channel by
     * dev_channel_pick(); NULL is one. Trace exports draw the occupancy. */
    uint32_t (*channels)(const struct dev_opt *opts, size_t nopts);
    /* The status byte a request ends with when a host fails it on the
     * device's behalf (a SystemC model that breaks its contract): written
     * as the last device-writable byte. NULL: such a request completes
     * with used length 0. */
    const uint8_t *fail_status;
    /* Optional. The device's guest side (devices/work.h): its requests as
     * plain buffers and the check of their completions, for programs that
     * drive it without a guest OS (vusim demo, the benches). */
    const struct dev_work_ops *work;

    /* Required. Build a device from its options; on error, one line in
     * @err naming the option, the value and what is allowed. */
    int (*create)(struct sim_cal *cal, const struct dev_opt *opts,
                  size_t nopts, struct dev **out, char *err, size_t errlen);
    /* Required. Free everything; no request is outstanding by then. */
    void (*destroy)(struct dev *dev);
    /* Required. Buffers are available on @queue: pop and schedule. */
    void (*avail)(struct dev *dev, uint16_t queue);
    /* Required. Forget @req: the host takes it back. */
    void (*cancel)(struct dev *dev, struct dev_req *req);

    /* Optional. The driver acked @features (device bits and transport
     * bits); -EINVAL refuses them. */
    int (*set_features)(struct dev *dev, uint64_t features);
    /* Optional. A queue starts (ring set up and enabled) or stops. */
    void (*queue_start)(struct dev *dev, uint16_t queue);
    void (*queue_stop)(struct dev *dev, uint16_t queue);
    /* Optional. Device reset: back to the state after create. */
    void (*reset)(struct dev *dev);
    /* Optional, both or neither: config space access; the host checks
     * off + len <= config_size before calling. */
    int (*get_config)(struct dev *dev, uint32_t off, void *buf, uint32_t len);
    int (*set_config)(struct dev *dev, uint32_t off, const void *buf,
                      uint32_t len);
    /* Optional. Add device stats as JSON members ("key": value, ...) to
     * @buf; returns the length written. */
    int (*stats_json)(struct dev *dev, char *buf, size_t len);

    /* Optional: fault rules (devices/faults/faults.h). The actions this
     * device implements, NULL-name terminated; a device with a table takes
     * DEV_FAULT_OPTDESC (--fault=RULE, repeatable) and --seed=N and
     * builds its rule set with dev_faults_create(). */
    const struct faults_action *fault_actions;
    /* Optional, with fault_actions: the device's rule set, for the host
     * (control socket: fault-add, fault-del, query-faults). */
    struct faults_set *(*faults)(struct dev *dev);
    /* Optional: release the @n-th oldest request held by do=hang; it
     * completes now with @status (device-specific; < 0 keeps the status it
     * had). 0, or -ENOENT when there is no such request. */
    int (*fault_release)(struct dev *dev, uint64_t n, int status);
    /* Optional: @req as rule triggers see it (type, queue, sectors), for
     * the host's breakpoints and queries; now is left to the caller. */
    void (*describe)(struct dev *dev, struct dev_req *req,
                     struct faults_req *out);
};

/* The public part of every device; a device embeds it as its first member. */
struct dev {
    const struct dev_ops *ops;
    struct sim_cal *cal;
    uint64_t features;          /* device-specific feature bits offered */
    uint16_t num_queues;
    uint16_t queue_size_max;    /* largest ring the device accepts */
    uint32_t config_size;
    uint64_t acked_features;    /* set by the host after negotiation */
    /* private: set by the host when it attaches the device */
    const struct dev_host_ops *host;
    void *host_ctx;
};

static inline struct dev_req *dev_pop(struct dev *dev, uint16_t queue)
{
    return dev->host->pop(dev, queue);
}

static inline int dev_req_read(struct dev_req *req, uint64_t off, void *buf,
                               size_t len)
{
    return req->dev->host->read(req, off, buf, len);
}

static inline int dev_req_write(struct dev_req *req, uint64_t off,
                                const void *buf, size_t len)
{
    return req->dev->host->write(req, off, buf, len);
}

/* The one completion call; @req is gone afterwards. */
static inline void dev_req_complete(struct dev_req *req, uint32_t used_len)
{
    req->dev->host->complete(req, used_len);
}

/*
 * Option helpers for create() hooks (devices/registry.c). On failure each
 * writes one line to @err naming the option, the value and what is allowed,
 * and returns -EINVAL (a value out of range is a bad option too).
 */

/* Every option is one of ops->opts, a flag (NULL metavar) has no value, a
 * valued option has a non-empty one, and none is given twice but "fault"
 * (DEV_FAULT_OPTDESC), the one option that repeats. */
int dev_opts_check(const struct dev_ops *ops, const struct dev_opt *opts,
                   size_t nopts, char *err, size_t errlen);

/* The option named @name, or NULL. */
const struct dev_opt *dev_opt_find(const struct dev_opt *opts, size_t nopts,
                                   const char *name);

/* An integer in [min, max]: decimal, or hex with a 0x prefix. */
int dev_opt_u64(const struct dev_opt *opt, uint64_t min, uint64_t max,
                uint64_t *out, char *err, size_t errlen);

/* A byte count in [min, max]: an integer as above with an optional suffix
 * K, M, G or T (powers of 1024, either case); exact, no fractions. */
int dev_opt_bytes(const struct dev_opt *opt, uint64_t min, uint64_t max,
                  uint64_t *out, char *err, size_t errlen);

/* A duration, as sim_time_parse() reads it ("250ns", "1.5ms", "0"). */
int dev_opt_duration(const struct dev_opt *opt, sim_time_t *out, char *err,
                     size_t errlen);

/* The options of a device with fault rules, for its opts table: --fault,
 * and --seed unless the device has its own (its seed seeds both). */
#define DEV_FAULT_OPTDESC                                                \
    { "fault", "RULE", "a fault or timing rule (vusim(1), FAULT RULES); "  \
      "repeatable, applied in order" }
#define DEV_SEED_OPTDESC                                                 \
    { "seed", "N", "seed of the rules' probability= draws (default 0)" }

/* The rule set of @opts: every "fault" option in order, seeded with
 * "seed" (default 0), checked against @ops->fault_actions. On error one
 * line in @err naming the rule and the key, and -EINVAL. */
int dev_faults_create(const struct dev_ops *ops, const struct dev_opt *opts,
                      size_t nopts, struct faults_set *set, char *err,
                      size_t errlen);

/*
 * A change made to a running model from outside it (the control socket):
 * a trace records each as a CONTROL record and replay makes it again at
 * the same simulated time, so such a run replays like any other.
 */
enum dev_ctl_op {
    DEV_CTL_RULE_ADD = 1,       /* text: a rule; arg out: its id */
    DEV_CTL_RULE_DEL = 2,       /* arg: the rule's id */
    DEV_CTL_RELEASE = 3,        /* arg: the n-th oldest hung request;
                                   status: < 0 keeps its own */
    DEV_CTL_RESET = 4,
};
struct dev_ctl {
    enum dev_ctl_op op;
    uint64_t arg;
    int32_t status;
    const char *text;
};
/* Apply @c to @d: 0, or -errno with one line in @err. */
int dev_ctl_apply(struct dev *d, struct dev_ctl *c, char *err,
                  size_t errlen);

/* Give a firing to the host, if it wants them. */
static inline void dev_fault_report(struct dev_req *req,
                                    const struct faults_fire *f)
{
    if (req->dev->host->fault) {
        req->dev->host->fault(req, f);
    }
}

static inline void dev_config_changed(struct dev *dev)
{
    if (dev->host->config_changed) {
        dev->host->config_changed(dev);
    }
}

/* The channel a request that arrives at @now takes when channel i is next
 * free at @free_at[i]: the lowest-index free one, else the one that frees
 * first (devices/blk/blk.h's rule; exports draw it the same way). */
uint32_t dev_channel_pick(const sim_time_t *free_at, uint32_t n,
                          sim_time_t now);

/* @name, or the option @name is an alias of (ops->aliases). */
const char *dev_opt_unalias(const struct dev_ops *ops, const char *name);

/* Find a device by name in the registry (devices/registry.c). */
const struct dev_ops *dev_lookup(const char *name);

/* The device whose words describe one named @name of virtio type
 * @virtio_id that the host has no model of (a trace's device, a SystemC
 * model): @name's own ops when they decode requests, else the registry's
 * first device of that virtio type (a SystemC or out-of-tree virtio-blk
 * reads as blk), else @name's ops or NULL. */
const struct dev_ops *dev_lookup_like(const char *name, uint32_t virtio_id);

/* A program built around one device of its own (an out-of-tree model, a
 * SystemC model through libvusim-systemc) makes it known to dev_lookup(),
 * so `replay` and `multi` find it by the name in a trace or on the command
 * line. One per process, set once at start-up, before any lookup. */
void dev_register(const struct dev_ops *ops);

/* The registry, NULL-terminated, in a fixed order. */
extern const struct dev_ops *const dev_registry[];

#endif
