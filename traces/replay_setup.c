/* SPDX-License-Identifier: MIT */
/*
 * Building the recorded device for replay: its options (with overrides)
 * and, for a file-backed disk, an in-memory copy of the starting image, so
 * replay's writes never reach the file.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "traces/replay-internal.h"

#define RP_FD_PATH 32

struct rp_opts {
    struct dev_opt *o;
    size_t n;
    char fdpath[RP_FD_PATH];
};

static int opts_add(struct rp_opts *ro, const char *name, const char *value)
{
    struct dev_opt *o = realloc(ro->o, (ro->n + 1) * sizeof(*o));

    if (!o) {
        return -ENOMEM;
    }
    ro->o = o;
    ro->o[ro->n++] = (struct dev_opt){ .name = name, .value = value };
    return 0;
}

static int opts_set(struct rp_opts *ro, const char *name, const char *value)
{
    struct dev_opt *o;

    for (size_t i = 0; i < ro->n; i++) {
        if (strcmp(ro->o[i].name, name) == 0) {
            ro->o[i].value = value;
            return 0;
        }
    }
    o = realloc(ro->o, (ro->n + 1) * sizeof(*o));
    if (!o) {
        return -ENOMEM;
    }
    ro->o = o;
    ro->o[ro->n++] = (struct dev_opt){ .name = name, .value = value };
    return 0;
}

static int opts_build(const struct trace_header *h,
                      const struct trace_replay_cfg *cfg, struct rp_opts *ro)
{
    int rc = 0;

    /* The recorded options as they are: "fault" repeats, in order. */
    for (size_t i = 0; i < h->nopts && !rc; i++) {
        rc = strcmp(h->opts[i].name, "fault") == 0 ?
             opts_add(ro, h->opts[i].name, h->opts[i].value) :
             opts_set(ro, h->opts[i].name, h->opts[i].value);
    }
    for (size_t i = 0; i < cfg->noverrides && !rc; i++) {
        rc = opts_set(ro, cfg->overrides[i].name, cfg->overrides[i].value);
    }
    return rc;
}

static void hex(const uint8_t *p, char *out)
{
    for (unsigned i = 0; i < TRACE_SHA256_SIZE; i++) {
        sprintf(out + 2 * i, "%02x", p[i]);
    }
}

/* Is @path the recorded starting image? */
static int image_check(const struct trace_header *h, const char *path,
                       char *err, size_t errlen)
{
    const char *opt = h->image_opt;
    uint8_t sha[TRACE_SHA256_SIZE];
    char want[2 * TRACE_SHA256_SIZE + 1], got[2 * TRACE_SHA256_SIZE + 1];
    uint64_t size;
    int rc = trace_image_hash(path, &size, sha);

    if (rc < 0) {
        snprintf(err, errlen, "--%s=%s: %s", opt, path, strerror(-rc));
        return rc;
    }
    if (size != h->image_size ||
        memcmp(sha, h->image_sha256, TRACE_SHA256_SIZE) != 0) {
        hex(h->image_sha256, want);
        hex(sha, got);
        snprintf(err, errlen, "--%s=%s is not the recorded starting "
                 "image: recorded %llu bytes, sha256 %s; this file has "
                 "%llu bytes, sha256 %s", opt, path,
                 (unsigned long long)h->image_size, want,
                 (unsigned long long)size, got);
        return -EINVAL;
    }
    return 0;
}

static int copy_all(int in, int out)
{
    static const size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    off_t off = 0;
    int rc = 0;

    if (!buf) {
        return -ENOMEM;
    }
    for (;;) {
        ssize_t n = pread(in, buf, chunk, off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = pwrite(out, buf + done, (size_t)(n - done),
                               off + done);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                free(buf);
                return w < 0 ? -errno : -EIO;
            }
            done += w;
        }
        off += n;
    }
    free(buf);
    return rc;
}

/* The image in a memfd; returns the fd or -errno. */
static int image_overlay(const char *opt, const char *path, char *err,
                         size_t errlen)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int fd = memfd_create("vusim-replay-image", MFD_CLOEXEC);
    int rc = 0;

    if (in < 0 || fd < 0) {
        rc = -errno;
    } else {
        rc = copy_all(in, fd);
    }
    if (in >= 0) {
        close(in);
    }
    if (rc < 0) {
        snprintf(err, errlen, "--%s=%s: cannot copy it to memory: %s",
                 opt, path, strerror(-rc));
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    return fd;
}

/* The starting image given for the replay: cfg->image, else an override
 * named as the device's image option (ops->image_opt). */
static const char *image_given(const struct dev_ops *ops,
                               const struct trace_replay_cfg *cfg)
{
    if (cfg->image) {
        return cfg->image;
    }
    for (size_t i = 0; ops->image_opt && i < cfg->noverrides; i++) {
        if (strcmp(cfg->overrides[i].name, ops->image_opt) == 0) {
            return cfg->overrides[i].value;
        }
    }
    return NULL;
}

static int image_setup(const struct dev_ops *ops,
                       const struct trace_header *h,
                       const struct trace_replay_cfg *cfg, struct rp_opts *ro,
                       int *fd, char *err, size_t errlen)
{
    const char *opt = ops->image_opt ? ops->image_opt : "image";
    const char *path = image_given(ops, cfg);
    int rc;

    if (h->image != TRACE_IMAGE_FILE) {
        if (path) {
            snprintf(err, errlen, "--%s=%s: this trace was recorded "
                     "without an image file", opt, path);
            return -EINVAL;
        }
        return 0;
    }
    if (!path) {
        snprintf(err, errlen, "this trace was recorded with an image file "
                 "(--%s, %llu bytes): give its starting image with "
                 "--%s=FILE", h->image_opt, (unsigned long long)h->image_size,
                 opt);
        return -EINVAL;
    }
    rc = image_check(h, path, err, errlen);
    if (rc < 0) {
        return rc;
    }
    *fd = image_overlay(h->image_opt, path, err, errlen);
    if (*fd < 0) {
        return *fd;
    }
    snprintf(ro->fdpath, sizeof(ro->fdpath), "/proc/self/fd/%d", *fd);
    return opts_set(ro, h->image_opt, ro->fdpath);
}

int trace_replay_device(const struct trace_reader *r,
                        const struct trace_replay_cfg *cfg,
                        struct sim_cal *cal, struct dev **out, char *err,
                        size_t errlen)
{
    const struct trace_header *h = trace_reader_header(r);
    const struct dev_ops *ops = h ? dev_lookup(h->device) : NULL;
    struct rp_opts ro = { 0 };
    char why[256] = "";
    int fd = -1, rc;

    if (!ops) {
        snprintf(err, errlen, h ? "device '%s' is not in this vusim" :
                 "the trace has no HEADER", h ? h->device : "");
        return -EINVAL;
    }
    rc = opts_build(h, cfg, &ro);
    if (rc == 0) {
        rc = image_setup(ops, h, cfg, &ro, &fd, err, errlen);
    }
    if (rc == 0) {
        rc = ops->create(cal, ro.o, ro.n, out, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, errlen, "%s: %s", h->device, why);
        }
    }
    /* The device opened the overlay by path: it holds its own fd. */
    if (fd >= 0) {
        close(fd);
    }
    free(ro.o);
    if (rc == -ENOMEM && !err[0]) {
        snprintf(err, errlen, "out of memory");
    }
    return rc;
}
