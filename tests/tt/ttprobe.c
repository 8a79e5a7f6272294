// SPDX-License-Identifier: MIT
/*
 * tests/tt/ttprobe.c - guest-side probe for the time-travel tests
 *
 * Runs inside a User-Mode Linux guest (static binary, no libvusim). It
 * prints the guest's CLOCK_MONOTONIC and CLOCK_REALTIME, then reads COUNT
 * blocks of 4 KiB from a block device with O_DIRECT, one at a time, at
 * offsets spread over the device, and prints each read's latency as the
 * guest's monotonic clock saw it:
 *
 *   ttprobe: start mono_ns=N real_ns=N
 *   ttprobe: dev=/dev/vda size=N count=16 block=4096
 *   read i=3 off=N lat_ns=N sum=HEX
 *   ttprobe: reads=16 min_ns=N max_ns=N total_ns=N
 *   ttprobe: end mono_ns=N real_ns=N
 *
 * Under a deterministic clock (UML time-travel) every byte of this output
 * is deterministic: no addresses, no PIDs, nothing from the host's clock.
 * sum= is an FNV-1a hash of the block read, so the data is compared too.
 *
 * Exit status 0, or 1 after a line "ttprobe: error ..." naming the failed
 * step. Compiled at test time with `cc -static -O2` (glibc static), so it
 * does not include the build's config.h.
 *
 * Usage: ttprobe DEVICE [COUNT]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { TTP_BLOCK = 4096, TTP_MAX_COUNT = 4096 };

static uint64_t ttp_now(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void ttp_stamp(const char *what)
{
    uint64_t mono = ttp_now(CLOCK_MONOTONIC);
    uint64_t real = ttp_now(CLOCK_REALTIME);

    printf("ttprobe: %s mono_ns=%" PRIu64 " real_ns=%" PRIu64 "\n", what,
           mono, real);
}

static int ttp_error(const char *step, int err)
{
    printf("ttprobe: error %s: %s\n", step, strerror(err));
    return 1;
}

static uint32_t ttp_fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/*
 * Offset of read I of COUNT: the device cut into COUNT equal slices, read
 * I at the start of slice I plus I blocks, so neither the offsets nor their
 * distances are all the same.
 */
static uint64_t ttp_offset(uint64_t size, long count, long i)
{
    uint64_t blocks = size / TTP_BLOCK;
    uint64_t slice = blocks / (uint64_t)count;
    uint64_t extra = slice > 1 ? (uint64_t)i % slice : 0;

    return ((uint64_t)i * slice + extra) * TTP_BLOCK;
}

/* A block device's size, or a regular file's (handy on the host). */
static int ttp_size(int fd, uint64_t *size)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        return ttp_error("fstat", errno);
    }
    if (S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        return 0;
    }
    if (ioctl(fd, BLKGETSIZE64, size) != 0) {
        return ttp_error("BLKGETSIZE64", errno);
    }
    return 0;
}

struct ttp_sum {
    uint64_t min, max, total;
};

static int ttp_read_one(int fd, void *buf, long i, uint64_t off,
                        struct ttp_sum *s)
{
    uint64_t t0 = ttp_now(CLOCK_MONOTONIC);
    ssize_t n = pread(fd, buf, TTP_BLOCK, (off_t)off);
    uint64_t lat = ttp_now(CLOCK_MONOTONIC) - t0;

    if (n < 0) {
        return ttp_error("pread", errno);
    }
    if (n != TTP_BLOCK) {
        printf("ttprobe: error pread: short read of %zd bytes\n", n);
        return 1;
    }
    printf("read i=%ld off=%" PRIu64 " lat_ns=%" PRIu64 " sum=%08" PRIx32
           "\n", i, off, lat, ttp_fnv1a(buf, TTP_BLOCK));
    s->min = i == 0 || lat < s->min ? lat : s->min;
    s->max = lat > s->max ? lat : s->max;
    s->total += lat;
    return 0;
}

static int ttp_probe(const char *dev, long count)
{
    struct ttp_sum s = { 0, 0, 0 };
    uint64_t size = 0;
    void *buf = NULL;
    int fd, rc = 0, err;

    fd = open(dev, O_RDONLY | O_DIRECT);
    if (fd < 0) {
        return ttp_error("open", errno);
    }
    rc = ttp_size(fd, &size);
    if (rc == 0 && size < (uint64_t)count * TTP_BLOCK) {
        printf("ttprobe: error size %" PRIu64 " too small\n", size);
        rc = 1;
    }
    if (rc == 0 && (err = posix_memalign(&buf, TTP_BLOCK, TTP_BLOCK))) {
        rc = ttp_error("posix_memalign", err);
    }
    if (rc == 0) {
        printf("ttprobe: dev=%s size=%" PRIu64 " count=%ld block=%d\n", dev,
               size, count, TTP_BLOCK);
    }
    for (long i = 0; rc == 0 && i < count; i++) {
        rc = ttp_read_one(fd, buf, i, ttp_offset(size, count, i), &s);
    }
    if (rc == 0) {
        printf("ttprobe: reads=%ld min_ns=%" PRIu64 " max_ns=%" PRIu64
               " total_ns=%" PRIu64 "\n", count, s.min, s.max, s.total);
    }
    free(buf);
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    long count = 16;
    char *end;
    int rc;

    /* One line per write: the console interleaves with date(1) output. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || argc > 3) {
        printf("usage: ttprobe DEVICE [COUNT]\n");
        return 2;
    }
    if (argc == 3) {
        errno = 0;
        count = strtol(argv[2], &end, 10);
        if (errno || *end || count < 1 || count > TTP_MAX_COUNT) {
            printf("ttprobe: error COUNT must be 1 to %d\n", TTP_MAX_COUNT);
            return 2;
        }
    }
    ttp_stamp("start");
    rc = ttp_probe(argv[1], count);
    ttp_stamp("end");
    return rc;
}
