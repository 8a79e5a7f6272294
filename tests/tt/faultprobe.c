// SPDX-License-Identifier: MIT
/*
 * tests/tt/faultprobe.c - guest-side probe for the fault demonstrations
 * (tests/tt/tt-faults.sh)
 *
 * Runs inside a User-Mode Linux guest (static binary, no libvusim) and does
 * the two things the host's own tools cannot:
 *
 *   faultprobe fsync DEVICE [COUNT]
 *       COUNT (default 1, at most 16) fsync() calls on the block device
 *       with nothing dirty, each of which the kernel turns into exactly
 *       one FLUSH; prints how long each took on the guest's
 *       CLOCK_MONOTONIC (under time travel: vusim's clock):
 *         FAULTS-FSYNC: i=0 rc=0 errno=0 ns=N
 *   faultprobe torn DEVICE SECTORS
 *       one O_DIRECT write of SECTORS sectors at sector 0 (each sector
 *       filled with 0x5a and its number), then one O_DIRECT read of them
 *       back; counts the sectors that hold the new data and the ones that
 *       still hold zeros (the disk's state before):
 *         FAULTS-TORN: sector=0 wrote=SECTORS new=K old=M other=0
 *
 * Exit status 0, or 1 after a line "faultprobe: error ..." naming the
 * failed step. Compiled at test time with `cc -static -O2` (glibc static)
 * like ttprobe.c, so it does not include the build's config.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { FP_SECTOR = 512, FP_MAX_SECTORS = 256, FP_ALIGN = 4096 };

static uint64_t fp_now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fp_error(const char *what, const char *dev)
{
    printf("faultprobe: error %s %s: %s\n", what, dev, strerror(errno));
    return 1;
}

static int fp_fsync(const char *dev, unsigned count)
{
    int fd = open(dev, O_RDWR);
    int bad = 0;

    if (fd < 0) {
        return fp_error("open", dev);
    }
    for (unsigned i = 0; i < count; i++) {
        uint64_t t0 = fp_now(), t1;
        int rc = fsync(fd), e = rc ? errno : 0;

        t1 = fp_now();
        printf("FAULTS-FSYNC: i=%u rc=%d errno=%d ns=%" PRIu64 "\n", i, rc,
               e, t1 - t0);
        bad |= rc != 0;
    }
    close(fd);
    return bad;
}

/* Sector @i of the new data: 0x5a with the sector number in front, so a
 * sector written to the wrong place does not count as new. */
static void fp_fill(unsigned char *s, unsigned i)
{
    memset(s, 0x5a, FP_SECTOR);
    memcpy(s, &i, sizeof(i));
}

static int fp_zero(const unsigned char *s)
{
    for (size_t i = 0; i < FP_SECTOR; i++) {
        if (s[i]) {
            return 0;
        }
    }
    return 1;
}

static int fp_torn(const char *dev, unsigned n)
{
    unsigned char *buf, want[FP_SECTOR];
    unsigned fresh = 0, old = 0, other = 0;
    size_t len = (size_t)n * FP_SECTOR;
    ssize_t got;
    int fd;

    if (posix_memalign((void **)&buf, FP_ALIGN, len) != 0) {
        printf("faultprobe: error no memory\n");
        return 1;
    }
    fd = open(dev, O_RDWR | O_DIRECT);
    if (fd < 0) {
        free(buf);
        return fp_error("open", dev);
    }
    for (unsigned i = 0; i < n; i++) {
        fp_fill(buf + (size_t)i * FP_SECTOR, i);
    }
    got = pwrite(fd, buf, len, 0);
    if (got != (ssize_t)len) {
        free(buf);
        close(fd);
        return fp_error("write", dev);
    }
    memset(buf, 0xee, len);
    got = pread(fd, buf, len, 0);
    close(fd);
    if (got != (ssize_t)len) {
        free(buf);
        return fp_error("read", dev);
    }
    for (unsigned i = 0; i < n; i++) {
        const unsigned char *s = buf + (size_t)i * FP_SECTOR;

        fp_fill(want, i);
        if (memcmp(s, want, FP_SECTOR) == 0) {
            fresh++;
        } else if (fp_zero(s)) {
            old++;
        } else {
            other++;
        }
    }
    free(buf);
    printf("FAULTS-TORN: sector=0 wrote=%u new=%u old=%u other=%u\n", n,
           fresh, old, other);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "fsync") == 0) {
        long n = argc == 4 ? strtol(argv[3], NULL, 10) : 1;

        if (n >= 1 && n <= 16) {
            return fp_fsync(argv[2], (unsigned)n);
        }
    }
    if (argc == 4 && strcmp(argv[1], "torn") == 0) {
        long n = strtol(argv[3], NULL, 10);

        if (n >= 1 && n <= FP_MAX_SECTORS && n % 8 == 0) {
            return fp_torn(argv[2], (unsigned)n);
        }
    }
    fprintf(stderr, "usage: faultprobe fsync DEVICE [COUNT] | torn DEVICE SECTORS "
            "(a multiple of 8, at most %d)\n", FP_MAX_SECTORS);
    return 2;
}
