/* SPDX-License-Identifier: MIT */
/*
 * The vusim program's run summary (cosim/program/stats.h). Feature names follow the
 * virtio 1.2 specification and shared/reference/vhost-user.rst, without
 * their VIRTIO_F_ / VHOST_USER_PROTOCOL_F_ prefixes; a device's own bits
 * are named by the device (devices/dev.h, feature_names).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/wire/proto.h"
#include "cosim/program/stats.h"
#include "sim/cal.h"

struct bitname {
    unsigned bit;
    const char *name;
};

/* Transport bits, the same for every device type. */
static const struct bitname transport_bits[] = {
    { 24, "NOTIFY_ON_EMPTY" },
    { 27, "ANY_LAYOUT" },
    { VU_F_RING_INDIRECT_DESC, "INDIRECT_DESC" },
    { VU_F_RING_EVENT_IDX, "EVENT_IDX" },
    { VU_F_PROTOCOL_FEATURES, "PROTOCOL_FEATURES" },
    { VU_F_VERSION_1, "VERSION_1" },
    { 33, "ACCESS_PLATFORM" },
    { 34, "RING_PACKED" },
    { 35, "IN_ORDER" },
    { 36, "ORDER_PLATFORM" },
    { 37, "SR_IOV" },
    { 38, "NOTIFICATION_DATA" },
    { 39, "NOTIF_CONFIG_DATA" },
    { 40, "RING_RESET" },
    { 0, NULL },
};

static const char *const pfeature_names[] = {
    [VU_PF_MQ] = "MQ",
    [VU_PF_LOG_SHMFD] = "LOG_SHMFD",
    [VU_PF_RARP] = "RARP",
    [VU_PF_REPLY_ACK] = "REPLY_ACK",
    [VU_PF_MTU] = "MTU",
    [VU_PF_BACKEND_REQ] = "BACKEND_REQ",
    [VU_PF_CROSS_ENDIAN] = "CROSS_ENDIAN",
    [VU_PF_CRYPTO_SESSION] = "CRYPTO_SESSION",
    [VU_PF_PAGEFAULT] = "PAGEFAULT",
    [VU_PF_CONFIG] = "CONFIG",
    [VU_PF_BACKEND_SEND_FD] = "BACKEND_SEND_FD",
    [VU_PF_HOST_NOTIFIER] = "HOST_NOTIFIER",
    [VU_PF_INFLIGHT_SHMFD] = "INFLIGHT_SHMFD",
    [VU_PF_RESET_DEVICE] = "RESET_DEVICE",
    [VU_PF_INBAND_NOTIFICATIONS] = "INBAND_NOTIFICATIONS",
    [VU_PF_CONFIGURE_MEM_SLOTS] = "CONFIGURE_MEM_SLOTS",
    [VU_PF_STATUS] = "STATUS",
};

static const char *bitname_find(const struct bitname *t, unsigned bit)
{
    for (; t->name; t++) {
        if (t->bit == bit) {
            return t->name;
        }
    }
    return NULL;
}

/* The device's names for its bits, or those of this build's device of
 * its virtio type (a SystemC or out-of-tree virtio-blk has blk's). */
static const struct dev_feature_name *dev_bitnames(const struct dev_ops *ops)
{
    if (ops && !ops->feature_names) {
        ops = dev_lookup_like(ops->name, ops->virtio_id);
    }
    return ops ? ops->feature_names : NULL;
}

const char *vusim_feature_name(const struct dev_ops *ops, unsigned bit)
{
    /* Bits 24..40 are the transport's (virtio 1.2, 6 "Reserved Feature
     * Bits"); below that they belong to the device type, which names its
     * own (devices/dev.h, feature_names). */
    if (bit >= 24 && bit <= 40) {
        return bitname_find(transport_bits, bit);
    }
    for (const struct dev_feature_name *f = dev_bitnames(ops); f && f->name;
         f++) {
        if (f->bit == bit) {
            return f->name;
        }
    }
    return NULL;
}

const char *vusim_pfeature_name(unsigned bit)
{
    if (bit < sizeof(pfeature_names) / sizeof(pfeature_names[0])) {
        return pfeature_names[bit];
    }
    return NULL;
}

/* Append @s to @buf (length *n so far), space-separated, truncating. */
static void append_word(char *buf, size_t len, size_t *n, const char *s)
{
    int w = snprintf(buf + *n, len - *n, "%s%s", *n ? " " : "", s);

    if (w > 0) {
        *n += (size_t)w < len - *n ? (size_t)w : len - *n - 1;
    }
}

static char *bits_str(const struct dev_ops *ops, bool proto, uint64_t bits,
                      char *buf, size_t len)
{
    size_t n = 0;

    if (!len) {
        return buf;
    }
    buf[0] = '\0';
    for (unsigned b = 0; b < 64; b++) {
        const char *name;
        char tmp[16];

        if (!(bits & VU_BIT(b))) {
            continue;
        }
        name = proto ? vusim_pfeature_name(b) : vusim_feature_name(ops, b);
        if (!name) {
            snprintf(tmp, sizeof(tmp), "bit %u", b);
            name = tmp;
        }
        append_word(buf, len, &n, name);
    }
    if (n == 0) {
        snprintf(buf, len, "(none)");
    }
    return buf;
}

char *vusim_features_str(const struct dev_ops *ops, uint64_t bits,
                         char *buf, size_t len)
{
    return bits_str(ops, false, bits, buf, len);
}

char *vusim_pfeatures_str(uint64_t bits, char *buf, size_t len)
{
    return bits_str(NULL, true, bits, buf, len);
}


char *vusim_dur_fmt(sim_time_t t, char *buf, size_t len)
{
    static const struct {
        sim_time_t unit;
        const char *name;
    } units[] = { { SIM_S, "s" }, { SIM_MS, "ms" }, { SIM_US, "us" } };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        sim_time_t u = units[i].unit;

        if (t >= u) {
            /* Three decimals, rounded to nearest. */
            sim_time_t milli = t / (u / 1000) + ((t % (u / 1000)) >= u / 2000);

            snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 " %s", milli / 1000,
                     milli % 1000, units[i].name);
            return buf;
        }
    }
    snprintf(buf, len, "%" PRIu64 " ns", (t + SIM_NS / 2) / SIM_NS);
    return buf;
}

static void json_bits(FILE *f, const char *key, const struct dev_ops *ops,
                      bool proto, uint64_t bits)
{
    bool first = true;

    fprintf(f, "\"%s\": [", key);
    for (unsigned b = 0; b < 64; b++) {
        const char *name;

        if (!(bits & VU_BIT(b))) {
            continue;
        }
        name = proto ? vusim_pfeature_name(b) : vusim_feature_name(ops, b);
        if (name) {
            fprintf(f, "%s\"%s\"", first ? "" : ", ", name);
        } else {
            fprintf(f, "%s\"bit %u\"", first ? "" : ", ", b);
        }
        first = false;
    }
    fprintf(f, "], ");
}

/* The device's stats_json members, in a buffer grown until they fit. */
static int json_device(FILE *f, struct dev *dev)
{
    size_t len = 4096;
    char *buf = NULL;
    int n = 0;

    if (!dev->ops->stats_json) {
        fprintf(f, "\"device_stats\": {}, ");
        return 0;
    }
    for (;;) {
        char *nb = realloc(buf, len);

        if (!nb) {
            free(buf);
            return -ENOMEM;
        }
        buf = nb;
        n = dev->ops->stats_json(dev, buf, len);
        if (n != -ENOSPC || len >= (1u << 20)) {
            break;
        }
        len *= 4;
    }
    fprintf(f, "\"device_stats\": {%s}, ", n > 0 ? buf : "");
    free(buf);
    return 0;
}

static void json_sim(FILE *f, struct vu_loop *loop)
{
    struct sim_cal *cal = vu_loop_cal(loop);
    struct sim_cal_stats cs;
    char t[32];

    sim_cal_get_stats(cal, &cs);
    fprintf(f, "\"sim_time_ps\": %" PRIu64 ", \"sim_time\": \"%s\", "
            "\"calendar\": {\"fired\": %" PRIu64 ", \"scheduled\": %" PRIu64
            ", \"cancelled\": %" PRIu64 ", \"max_pending\": %zu}, ",
            sim_cal_now(cal), sim_time_fmt(sim_cal_now(cal), t, sizeof(t)),
            cs.fired, cs.scheduled, cs.cancelled, cs.max_pending);
}

/* What the loop's polling cost: spin_ns is host CPU time spent spinning. */
static void json_poll(FILE *f, const struct vu_loop *loop)
{
    struct vu_loop_poll_stats ps;

    vu_loop_get_poll_stats(loop, &ps);
    fprintf(f, "\"polling\": {\"max_ns\": %" PRIu64 ", \"polls\": %" PRIu64
            ", \"caught\": %" PRIu64 ", \"spin_ns\": %" PRIu64 "}, ",
            ps.max_ns, ps.polls, ps.caught, ps.spin_ns);
}

/* vu_backend_stats_json()'s members, without its braces, so they sit at
 * the top level of the summary (where tests/guest/lib.sh reads them). */
static int json_backend(FILE *f, const struct vu_backend *be)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc;

    if (!m) {
        return -ENOMEM;
    }
    rc = vu_backend_stats_json(be, m);
    if (fclose(m) != 0 && rc == 0) {
        rc = -ENOMEM;
    }
    if (rc == 0 && (len < 2 || buf[0] != '{' || buf[len - 1] != '}')) {
        rc = -EIO;
    }
    if (rc == 0 && len > 2) {
        fprintf(f, "%.*s, ", (int)(len - 2), buf + 1);
    }
    free(buf);
    return rc;
}

int vusim_stats_write(FILE *f, const struct vusim_run_info *ri)
{
    struct vu_backend_stats st;
    const struct dev_ops *ops = ri->dev->ops;
    int rc;

    vu_backend_get_stats(ri->be, &st);
    fprintf(f, "{\"device\": \"%s\", ", ri->device);
    rc = json_backend(f, ri->be);
    json_bits(f, "feature_names", ops, false, st.features);
    json_bits(f, "protocol_feature_names", ops, true, st.protocol_features);
    json_sim(f, ri->loop);
    json_poll(f, ri->loop);
    if (rc == 0) {
        rc = json_device(f, ri->dev);
    }
    if (ri->extra && ri->extra[0]) {
        fprintf(f, "%s, ", ri->extra);
    }
    fprintf(f, "\"wall\": {\"elapsed_ns\": %" PRIu64 ", \"elapsed_s\": "
            "%" PRIu64 ".%03" PRIu64 "}}\n", ri->wall_ns,
            ri->wall_ns / 1000000000u, ri->wall_ns / 1000000u % 1000u);
    if (fflush(f) != 0 || ferror(f)) {
        return -EIO;
    }
    return rc;
}
