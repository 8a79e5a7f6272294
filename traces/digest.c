/* SPDX-License-Identifier: MIT */
/*
 * Digests of traces: what a device wrote (through a shadow of the writable
 * part, so the order and size of the writes do not matter) and a disk
 * image.
 *
 * Both digests are libraries' (Debian's nettle-dev and libxxhash-dev)
 * rather than our own: a hash we rely on is not one to write. nettle picks
 * the SHA extensions at run time where the CPU has them; libxxhash's XXH3
 * runs at memory speed (measured here: SHA-256 1.4 GB/s with SHA-NI,
 * XXH3-128 17 GB/s), which is what makes replay fast (trace.h).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <xxhash.h>

#include "traces/trace.h"

/* ---- digests ---- */

const char *trace_digest_name(enum trace_digest d)
{
    switch (d) {
    case TRACE_DIGEST_SHA256:
        return "sha256";
    case TRACE_DIGEST_XXH128:
        return "xxh128";
    }
    return NULL;
}

int trace_digest_parse(const char *s, enum trace_digest *d)
{
    if (s && strcmp(s, "sha256") == 0) {
        *d = TRACE_DIGEST_SHA256;
    } else if (s && strcmp(s, "xxh128") == 0) {
        *d = TRACE_DIGEST_XXH128;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* @out has TRACE_DIGEST_SIZE bytes; a shorter digest is zero padded. */
static void digest(enum trace_digest alg, const uint8_t *p, size_t len,
                   uint8_t *out)
{
    memset(out, 0, TRACE_DIGEST_SIZE);
    if (alg == TRACE_DIGEST_SHA256) {
        struct sha256_ctx ctx;

        sha256_init(&ctx);
        sha256_update(&ctx, len, p);
        sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
    } else {
        XXH128_canonical_t c;

        XXH128_canonicalFromHash(&c, XXH3_128bits(p, len));
        memcpy(out, c.digest, sizeof(c.digest));
    }
}

/* ---- written bytes and completions ---- */

void trace_wbuf_clear(struct trace_wbuf *wb)
{
    wb->end = 0;
}

void trace_wbuf_fini(struct trace_wbuf *wb)
{
    free(wb->buf);
    *wb = (struct trace_wbuf){ 0 };
}

int trace_wbuf_write(struct trace_wbuf *wb, uint64_t off, const void *p,
                     size_t len)
{
    uint64_t end = off + len;

    if (off > UINT32_MAX || len > UINT32_MAX || end > UINT32_MAX) {
        return -ERANGE;
    }
    if (end > wb->cap) {
        uint64_t cap = wb->cap ? wb->cap : 4096;
        uint8_t *n;

        while (cap < end) {
            cap *= 2;
        }
        cap = cap > UINT32_MAX ? UINT32_MAX : cap;
        n = realloc(wb->buf, cap);
        if (!n) {
            return -ENOMEM;
        }
        wb->buf = n;
        wb->cap = (uint32_t)cap;
    }
    if (off > wb->end) {
        memset(wb->buf + wb->end, 0, off - wb->end);  /* a gap reads zero */
    }
    memcpy(wb->buf + off, p, len);
    if (end > wb->end) {
        wb->end = (uint32_t)end;
    }
    return 0;
}

void trace_done_fields(const struct trace_wbuf *wb, uint32_t wr_len,
                       uint32_t used_len, struct trace_done *d)
{
    memset(d, 0, sizeof(*d));
    d->used_len = used_len;
    d->extent = wb->end;
    /* The furthest write reached the last writable byte: that byte is
     * the virtio status for devices that have one (virtio-blk). */
    if (wr_len > 0 && wb->end == wr_len) {
        d->flags |= TRACE_DONE_STATUS;
        d->status = wb->buf[wr_len - 1];
    }
}

void trace_done_digest(enum trace_digest alg, const struct trace_wbuf *wb,
                       struct trace_done *d)
{
    digest(alg, wb->end ? wb->buf : (const uint8_t *)"", wb->end,
           d->digest);
}

void trace_done_compute(enum trace_digest alg, const struct trace_wbuf *wb,
                        uint32_t wr_len, uint32_t used_len,
                        struct trace_done *d)
{
    trace_done_fields(wb, wr_len, used_len, d);
    trace_done_digest(alg, wb, d);
}

int trace_image_hash(const char *path, uint64_t *size,
                     uint8_t sha256[TRACE_SHA256_SIZE])
{
    struct sha256_ctx ctx;
    size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    uint64_t off = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0 || !buf) {
        rc = fd < 0 ? -errno : -ENOMEM;
        goto out;
    }
    sha256_init(&ctx);
    for (;;) {
        ssize_t n = pread(fd, buf, chunk, (off_t)off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0) {
            break;
        }
        sha256_update(&ctx, (size_t)n, buf);
        off += (uint64_t)n;
    }
    sha256_digest(&ctx, TRACE_SHA256_SIZE, sha256);
    *size = off;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    return rc;
}
