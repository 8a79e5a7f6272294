/* SPDX-License-Identifier: MIT */
/*
 * What hosts without a blk instance know of blk (devices/dev.h, "What hosts
 * that have no instance of the device need"): its vhost-user type, feature
 * names, the --blk-file alias, and requests decoded from their bytes, for
 * trace dump, diff and replay's divergence reports.
 */
#define _GNU_SOURCE
#include "config.h"

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devices/blk/blk.h"

/* virtio 1.2, 5.2.3: virtio-blk's device bits, without VIRTIO_BLK_F_. */
const struct dev_feature_name dev_blk_feature_names[] = {
    { 0, "BARRIER" },
    { 1, "SIZE_MAX" },
    { DEV_BLK_F_SEG_MAX, "SEG_MAX" },
    { 4, "GEOMETRY" },
    { DEV_BLK_F_RO, "RO" },
    { DEV_BLK_F_BLK_SIZE, "BLK_SIZE" },
    { 7, "SCSI" },
    { DEV_BLK_F_FLUSH, "FLUSH" },
    { 10, "TOPOLOGY" },
    { 11, "CONFIG_WCE" },
    { DEV_BLK_F_MQ, "MQ" },
    { DEV_BLK_F_DISCARD, "DISCARD" },
    { DEV_BLK_F_WRITE_ZEROES, "WRITE_ZEROES" },
    { 15, "LIFETIME" },
    { 16, "SECURE_ERASE" },
    { 0, NULL },
};

/* QEMU's docs/interop/vhost-user.json: the "block" type's features. */
const char *const dev_blk_vhost_user_features[] = {
    "read-only", "blk-file", NULL,
};

const struct dev_optalias dev_blk_aliases[] = {
    { "blk-file", "backing", "the same as --backing (vhost-user-blk's name)" },
    { NULL, NULL, NULL },
};

static uint32_t le32_at(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static uint64_t le64_at(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static const char *blk_type_name(uint32_t t)
{
    switch (t) {
    case DEV_BLK_T_IN: return "IN";
    case DEV_BLK_T_OUT: return "OUT";
    case DEV_BLK_T_FLUSH: return "FLUSH";
    case DEV_BLK_T_GET_ID: return "GET_ID";
    case DEV_BLK_T_DISCARD: return "DISCARD";
    case DEV_BLK_T_WRITE_ZEROES: return "WRITE_ZEROES";
    default: return NULL;
    }
}

/* "IN" or "type=77". */
static void type_word(uint32_t type, char *buf, size_t len)
{
    const char *name = blk_type_name(type);

    if (name) {
        snprintf(buf, len, "%s", name);
    } else {
        snprintf(buf, len, "type=%u", type);
    }
}

void dev_blk_decode(const uint8_t *rd, uint32_t rd_len, uint32_t wr_len,
                    char *buf, size_t len)
{
    uint32_t type;
    char t[16];

    if (!len) {
        return;
    }
    if (rd_len < sizeof(struct dev_blk_req_hdr)) {
        snprintf(buf, len, "blk (header short: %u bytes)", rd_len);
        return;
    }
    type = le32_at(rd);
    type_word(type, t, sizeof(t));
    if (type == DEV_BLK_T_IN || type == DEV_BLK_T_OUT) {
        uint32_t n = type == DEV_BLK_T_IN ? (wr_len ? wr_len - 1 : 0)
                                          : rd_len - 16;

        snprintf(buf, len, "blk %s sector=%" PRIu64 " len=%u", t,
                 le64_at(rd + 8), n);
    } else if ((type == DEV_BLK_T_DISCARD ||
                type == DEV_BLK_T_WRITE_ZEROES) && rd_len >= 32) {
        snprintf(buf, len, "blk %s segs=%u sector=%" PRIu64 " sectors=%u", t,
                 (rd_len - 16) / 16, le64_at(rd + 16), le32_at(rd + 24));
    } else if (type == DEV_BLK_T_DISCARD || type == DEV_BLK_T_WRITE_ZEROES) {
        snprintf(buf, len, "blk %s segs=%u", t, (rd_len - 16) / 16);
    } else {
        snprintf(buf, len, "blk %s", t);
    }
}

const char *dev_blk_status_name(uint8_t s)
{
    switch (s) {
    case DEV_BLK_S_OK: return "OK";
    case DEV_BLK_S_IOERR: return "IOERR";
    case DEV_BLK_S_UNSUPP: return "UNSUPP";
    default: return "?";
    }
}

/* A request a host fails for blk (a broken SystemC storage model). */
const uint8_t dev_blk_fail_status = DEV_BLK_S_IOERR;

uint32_t dev_blk_channels(const struct dev_opt *opts, size_t nopts)
{
    const struct dev_opt *o = dev_opt_find(opts, nopts, "channels");
    uint64_t c = 1;

    if (o && dev_opt_u64(o, 1, DEV_BLK_MAX_CHANNELS, &c, NULL, 0) < 0) {
        c = 1;
    }
    return (uint32_t)c;
}
