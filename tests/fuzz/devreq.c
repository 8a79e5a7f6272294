/* SPDX-License-Identifier: MIT */
/* tests/fuzz/devreq.c - see devreq.h */
#include "config.h"

#include "tests/fuzz/devreq.h"
#include "tests/unit/devices/fakehost.h"

#define FZ_MAX_REQS 64
#define FZ_MAX_RD 4200u      /* a header, a sector run, some slack */
#define FZ_MAX_WR 8300u

static void fz_cancel_oldest(struct fakehost *fh, int nids)
{
    for (int id = 0; id < nids; id++) {
        if (fakehost_cancel(fh, id) == 0) {
            return;
        }
    }
}

static void fz_check_done(struct fakehost *fh, int nids)
{
    fz_check(fakehost_violations(fh) == 0);
    fz_check(fakehost_inflight(fh) == 0);
    for (int id = 0; id < nids; id++) {
        struct fakehost_req *r = fakehost_get(fh, id);

        fz_check(r != NULL);
        fz_check(!r->completed || r->used_len <= r->req.wr_len);
    }
}

void fz_devreq_run(const struct dev_ops *ops, const char *const *args,
                   struct fz *f)
{
    static uint8_t rd[FZ_MAX_RD];
    struct sim_cal *cal = sim_cal_new();
    struct fakehost *fh = NULL;
    struct dev *dev = NULL;
    char err[256];
    int nids = 0;

    if (!cal || fakehost_create_dev(ops, cal, args, &dev, err,
                                    sizeof(err)) < 0) {
        sim_cal_free(cal);
        return;
    }
    fh = fakehost_new(dev);
    while (fh && fz_left(f) > 0 && nids < FZ_MAX_REQS) {
        uint8_t op = fz_u8(f);
        uint16_t q = (uint16_t)(op & 3) % dev->num_queues;
        uint32_t rl = fz_u16(f) % FZ_MAX_RD, wl = fz_u16(f) % FZ_MAX_WR;
        int id;

        fz_bytes(f, rd, rl);
        id = fakehost_add(fh, q, rd, rl, wl);
        if (id < 0) {
            break;
        }
        nids = id + 1;
        if (op & 0x10) {
            fakehost_fail_io(fh, id);
        }
        if (op & 0x20) {
            fakehost_kick(fh, q);
        }
        if (op & 0x40) {
            sim_cal_run_one(cal);
        }
        if (op & 0x80) {
            fz_cancel_oldest(fh, nids);
        }
    }
    for (uint16_t q = 0; fh && q < dev->num_queues; q++) {
        fakehost_kick(fh, q);
    }
    sim_cal_run_all(cal);
    if (fh) {
        fz_check_done(fh, nids);
    }
    fakehost_free(fh);
    dev->ops->destroy(dev);
    sim_cal_free(cal);
}
