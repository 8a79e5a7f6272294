/* SPDX-License-Identifier: MIT */
/*
 * A device's guest side on the reference front-end (cosim/frontend/work.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cosim/frontend/work.h"

static int work_slots(struct vufe *fe, const struct dev_work_ops *ops,
                      struct vufe_work_slot *slots, unsigned nslots)
{
    for (unsigned i = 0; i < nslots; i++) {
        struct vufe_work_slot *s = &slots[i];

        memset(s, 0, sizeof(*s));
        for (unsigned k = 0; k < ops->nbufs; k++) {
            const struct dev_work_bufspec *b = &ops->bufs[k];

            s->addr[k] = vufe_alloc(fe, b->size, b->align);
            if (!s->addr[k]) {
                return -ENOMEM;
            }
            s->buf[k].p = vufe_ptr(fe, s->addr[k], b->size);
        }
    }
    return 0;
}

int vufe_work_open(struct vufe *fe, const struct dev_work_ops *ops,
                   struct vufe_work_slot *slots, unsigned nslots,
                   struct dev_work **out, char *err, size_t errlen)
{
    uint32_t len = 0;
    const uint8_t *cfg = vufe_config(fe, &len);
    int rc;

    if (ops->nbufs > DEV_WORK_MAX_BUFS) {
        snprintf(err, errlen, "a request of %u buffers: at most %u",
                 ops->nbufs, DEV_WORK_MAX_BUFS);
        return -ERANGE;
    }
    rc = ops->open(cfg, cfg ? len : 0, nslots, out, err, errlen);
    if (rc < 0) {
        return rc;
    }
    rc = work_slots(fe, ops, slots, nslots);
    if (rc < 0) {
        snprintf(err, errlen, "guest memory for the buffers: %s",
                 strerror(-rc));
        ops->close(*out);
        *out = NULL;
    }
    return rc;
}

int vufe_work_add(struct vufe *fe, unsigned q, const struct dev_work_ops *ops,
                  struct vufe_work_slot *s, bool indirect)
{
    struct vufe_buf b[DEV_WORK_MAX_BUFS];
    unsigned nb = 0;

    for (unsigned k = 0; k < ops->nbufs; k++) {
        if (s->buf[k].len) {
            b[nb++] = (struct vufe_buf){ s->addr[k], s->buf[k].len,
                                         s->buf[k].writable };
        }
    }
    s->head = vufe_add(fe, q, b, nb, indirect);
    return s->head < 0 ? s->head : 0;
}
