/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/devices/fakehost.h - an in-memory dev_host for device unit tests
 *
 * A fakehost attaches to one device and plays the host's part of dev.h
 * without sockets or guest memory: a test adds requests (readable bytes it
 * provides, a zeroed writable buffer of a given size) to a queue, kicks the
 * queue (the device's avail() runs and pops them in order), runs the
 * calendar and inspects what the device wrote, the used length and the
 * simulated time of each completion, in completion order.
 *
 * It also checks the device's side of the contract and counts breaches
 * (fakehost_violations()): completing a request twice, completing a
 * cancelled or unpopped one, a used length beyond wr_len, or completing
 * from inside avail() instead of from the calendar. Reads and writes
 * outside a request's parts return -ERANGE without counting a breach (the
 * device may probe); a request marked with fakehost_fail_io() returns -EIO
 * to every read and write.
 *
 * Owns:        every request it made, until fakehost_free().
 * Borrows:     the device and its calendar; both outlive the fakehost.
 * Threading:   single thread.
 */
#ifndef VUSIM_TESTS_UNIT_FAKEHOST_H
#define VUSIM_TESTS_UNIT_FAKEHOST_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/dev.h"

struct fakehost;

/* One request as the test sees it. */
struct fakehost_req {
    struct dev_req req;         /* what the device sees */
    int id;
    uint8_t *rd;                /* rd_len readable bytes (test's input) */
    uint8_t *wr;                /* wr_len writable bytes, zeroed at add */
    bool popped, completed, cancelled, fail_io;
    sim_time_t done_at;         /* simulated time of complete() */
    uint32_t used_len;
};

/* Build a device through ops->create() from NULL-terminated "name=value"
 * or "flag" strings (at most 16); returns create()'s result. */
int fakehost_create_dev(const struct dev_ops *ops, struct sim_cal *cal,
                        const char *const *args, struct dev **out,
                        char *err, size_t errlen);

/* Attach to @dev (sets dev->host, dev->host_ctx). NULL on ENOMEM. */
struct fakehost *fakehost_new(struct dev *dev);

/* Free every request; the device is not destroyed. NULL is fine. */
void fakehost_free(struct fakehost *fh);

/* Queue a request on @queue; returns its id (>= 0) or -ENOMEM. */
int fakehost_add(struct fakehost *fh, uint16_t queue, const void *rd,
                 uint32_t rd_len, uint32_t wr_len);

/* The request with @id, or NULL. Valid until fakehost_free(). */
struct fakehost_req *fakehost_get(struct fakehost *fh, int id);

/* Make every read and write of request @id fail with -EIO. */
void fakehost_fail_io(struct fakehost *fh, int id);

/* Call the device's avail() for @queue. */
void fakehost_kick(struct fakehost *fh, uint16_t queue);

/* Take back popped, uncompleted request @id through ops->cancel.
 * -ENOENT if it is not in flight. */
int fakehost_cancel(struct fakehost *fh, int id);

/* Completions so far, and the id of the i-th one (in completion order). */
unsigned fakehost_ncompleted(const struct fakehost *fh);
int fakehost_completed_id(const struct fakehost *fh, unsigned i);

/* Requests popped but neither completed nor cancelled. */
unsigned fakehost_inflight(const struct fakehost *fh);

/* Contract breaches by the device so far (see above). */
unsigned fakehost_violations(const struct fakehost *fh);

/* What @dev's stats_json() gets wrong of @want (NULL-terminated members as
 * they must appear, "\"completed\": 5,"): NULL when the output holds
 * every one, its length is what it returns and an 8-byte buffer gets
 * -ENOSPC; else the first member missing, "length" or "ENOSPC". */
const char *fakehost_stats_missing(struct dev *dev, const char *const *want);

#endif
