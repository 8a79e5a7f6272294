/* SPDX-License-Identifier: MIT */
/*
 * cosim/frontend/work.h - a device's guest side (devices/work.h) on the
 * reference front-end: request slots in guest memory, and their chains
 *
 * Model:       the programs that drive a device without a guest OS (vusim
 *              demo, the benches) give each request slot the buffers the
 *              device's guest side asks for, once, in the front-end's
 *              guest memory; for each request the device's next() or
 *              fetch() fills them, and vufe_work_add() chains the ones it
 *              uses, in order, onto a queue.
 * Owns:        nothing: a slot's buffers are guest memory of @fe, which
 *              lives as long as @fe.
 * Borrows:     the front-end and the device's tables, for the call.
 * Threading:   the front-end's (vufe.h).
 * Errors:      negative errno: -ENOMEM no guest memory left; -ERANGE and
 *              one line in @err for a device the guest side cannot drive;
 *              vufe_add()'s errors.
 * Determinism: allocation order and addresses depend only on the calls.
 */
#ifndef VUSIM_COSIM_FRONTEND_WORK_H
#define VUSIM_COSIM_FRONTEND_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cosim/frontend/vufe.h"
#include "devices/work.h"

/* One request slot: its buffers, where the guest and this side see them. */
struct vufe_work_slot {
    uint64_t addr[DEV_WORK_MAX_BUFS];
    struct dev_work_buf buf[DEV_WORK_MAX_BUFS];
    int head;                   /* of its chain, after vufe_work_add() */
};

/* Open @ops's workload for the device @fe is connected to (its config
 * space, read at set-up: give vufe_cfg.config_size = ops->config_size),
 * with @nslots slots, and allocate each slot's buffers. */
int vufe_work_open(struct vufe *fe, const struct dev_work_ops *ops,
                   struct vufe_work_slot *slots, unsigned nslots,
                   struct dev_work **out, char *err, size_t errlen);

/* Chain the buffers of @s that its request uses onto queue @q, through an
 * indirect table if @indirect; s->head gets its head. 0 or -errno. */
int vufe_work_add(struct vufe *fe, unsigned q, const struct dev_work_ops *ops,
                  struct vufe_work_slot *s, bool indirect);

#endif
