/* SPDX-License-Identifier: MIT */
/*
 * ramdisk - a virtio-blk RAM disk built outside vusim's tree, against the
 * installed devices/dev.h; vusim_main() makes it a whole back-end program
 * with every generic option and `ramdisk replay TRACE`. Its own options:
 * --size=BYTES, --latency=DURATION. Read, write, flush and get-id (others
 * get UNSUPP) each complete --latency after they were popped, on vusim's
 * calendar, so a run replays bit for bit. Build: make (pkg-config only).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include <cosim/program/vusim-main.h>
#include <devices/dev.h>

#define SECTOR 512u
#define HDR sizeof(struct virtio_blk_outhdr)
#define SEG_MAX 126u

struct ramdisk {
    struct dev dev;                 /* first: what the host sees */
    uint8_t *data;
    uint64_t size;
    sim_time_t latency;
    struct virtio_blk_config cfg;
    uint64_t nread, nwrite, nflush;
};

static const struct dev_ops ramdisk_ops;

static const struct dev_optdesc rd_opts[] = {
    { "size", "BYTES", "disk size, whole sectors (K, M, G; default 64M)" },
    { "latency", "DURATION", "time each request takes (default 10us)" },
    { NULL, NULL, NULL },
};

/* @len bytes from @sector on the disk, if all of them are on it. */
static uint8_t *rd_at(struct ramdisk *r, uint64_t sector, uint64_t len)
{
    if (len % SECTOR || sector > r->size / SECTOR ||
        len > r->size - sector * SECTOR) {
        return NULL;
    }
    return r->data + sector * SECTOR;
}

static uint8_t rd_rw(struct ramdisk *r, struct dev_req *req, bool in,
                     uint64_t sector, uint32_t *used)
{
    uint32_t len = in ? req->wr_len - 1 : req->rd_len - (uint32_t)HDR;
    uint8_t *p = rd_at(r, sector, len);

    if (!p) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (in) {
        r->nread++;
        *used = len;
        return dev_req_write(req, 0, p, len) ? VIRTIO_BLK_S_IOERR : 0;
    }
    r->nwrite++;
    return dev_req_read(req, HDR, p, len) ? VIRTIO_BLK_S_IOERR : 0;
}

/* Do @req now; its status byte and the bytes written are its result. */
static uint8_t rd_do(struct ramdisk *r, struct dev_req *req, uint32_t *used)
{
    static const char id[VIRTIO_BLK_ID_BYTES] = "vusim-ramdisk";
    struct virtio_blk_outhdr h;
    uint32_t n;

    if (req->rd_len < HDR || req->wr_len < 1 ||
        dev_req_read(req, 0, &h, HDR)) {
        return VIRTIO_BLK_S_IOERR;
    }
    switch (le32toh(h.type)) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        return rd_rw(r, req, le32toh(h.type) == VIRTIO_BLK_T_IN,
                     le64toh(h.sector), used);
    case VIRTIO_BLK_T_FLUSH:
        r->nflush++;
        return VIRTIO_BLK_S_OK;         /* nothing is ever volatile here */
    case VIRTIO_BLK_T_GET_ID:
        n = req->wr_len - 1 < VIRTIO_BLK_ID_BYTES ? req->wr_len - 1
                                                  : VIRTIO_BLK_ID_BYTES;
        *used = n;                      /* NUL-padded to 20 bytes */
        return dev_req_write(req, 0, id, n) ? VIRTIO_BLK_S_IOERR : 0;
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

static void rd_done(struct sim_cal *cal, struct sim_event *ev)
{
    struct dev_req *req = container_of(ev, struct dev_req, ev);

    (void)cal;
    dev_req_complete(req, (uint32_t)req->dev_data[0]);
}

static void rd_avail(struct dev *d, uint16_t queue)
{
    struct ramdisk *r = (struct ramdisk *)d;
    struct dev_req *req;

    while ((req = dev_pop(d, queue)) != NULL) {
        uint32_t used = 0;
        uint8_t st = rd_do(r, req, &used);

        if (req->wr_len == 0 || dev_req_write(req, req->wr_len - 1, &st, 1)) {
            used = 0;                   /* no status byte to write */
        } else if (st != VIRTIO_BLK_S_OK) {
            used = 1;
        } else {
            used += 1;
        }
        req->dev_data[0] = used;
        sim_event_init(&req->ev, rd_done, NULL);
        if (sim_cal_after(d->cal, &req->ev, r->latency, 0) != 0) {
            rd_done(d->cal, &req->ev);
        }
    }
}

static void rd_cancel(struct dev *d, struct dev_req *req)
{
    if (sim_event_pending(&req->ev)) {
        sim_cal_cancel(d->cal, &req->ev);
    }
}

static int rd_get_config(struct dev *d, uint32_t off, void *buf, uint32_t len)
{
    memcpy(buf, (uint8_t *)&((struct ramdisk *)d)->cfg + off, len);
    return 0;
}

static int rd_set_config(struct dev *d, uint32_t off, const void *buf,
                         uint32_t len)
{
    (void)d, (void)off, (void)buf, (void)len;
    return -EPERM;                      /* nothing in it is writable */
}

static int rd_stats_json(struct dev *d, char *buf, size_t len)
{
    struct ramdisk *r = (struct ramdisk *)d;

    return snprintf(buf, len, "\"req_read\": %" PRIu64 ", \"req_write\": %"
                    PRIu64 ", \"req_flush\": %" PRIu64, r->nread, r->nwrite,
                    r->nflush);
}

/* A trace's HEADER records the size of the disk, zeros at start. */
static int rd_image_size(struct dev *d, uint64_t *bytes)
{
    *bytes = ((struct ramdisk *)d)->size;
    return 0;
}

static void rd_destroy(struct dev *d)
{
    free(((struct ramdisk *)d)->data);
    free(d);
}

static int rd_create(struct sim_cal *cal, const struct dev_opt *opts,
                     size_t nopts, struct dev **out, char *err, size_t errlen)
{
    const struct dev_opt *size = dev_opt_find(opts, nopts, "size");
    const struct dev_opt *lat = dev_opt_find(opts, nopts, "latency");
    struct ramdisk *r = calloc(1, sizeof(*r));
    int rc = 0;

    if (!r) {
        return -ENOMEM;
    }
    r->size = 64u << 20;
    r->latency = 10 * SIM_US;
    if (size && !(rc = dev_opt_bytes(size, SECTOR, 1ull << 36, &r->size,
                                     err, errlen)) && r->size % SECTOR) {
        rc = -EINVAL;
        snprintf(err, errlen, "--size=%s: must be whole sectors of 512 "
                 "bytes", size->value);
    }
    if (!rc && lat) {
        rc = dev_opt_duration(lat, &r->latency, err, errlen);
    }
    if (!rc && !(r->data = calloc(1, r->size))) {
        rc = -ENOMEM;
    }
    if (rc) {
        free(r);
        return rc;
    }
    r->dev = (struct dev){ .ops = &ramdisk_ops, .cal = cal, .num_queues = 1,
                           .queue_size_max = 1024,
                           .config_size = sizeof(r->cfg),
                           .features = 1ull << VIRTIO_BLK_F_SEG_MAX |
                                       1ull << VIRTIO_BLK_F_BLK_SIZE |
                                       1ull << VIRTIO_BLK_F_FLUSH };
    r->cfg.capacity = htole64(r->size / SECTOR);
    r->cfg.seg_max = htole32(SEG_MAX);
    r->cfg.blk_size = htole32(SECTOR);
    *out = &r->dev;
    return 0;
}

static const struct dev_ops ramdisk_ops = {
    .name = "ramdisk",
    .virtio_id = VIRTIO_ID_BLOCK,
    .opts = rd_opts,
    .create = rd_create,
    .destroy = rd_destroy,
    .avail = rd_avail,
    .cancel = rd_cancel,
    .get_config = rd_get_config,
    .set_config = rd_set_config,
    .stats_json = rd_stats_json,
    .image_size = rd_image_size,
};

int main(int argc, char **argv)
{
    return vusim_main(argc, argv, &ramdisk_ops);
}
