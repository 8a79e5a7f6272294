/* SPDX-License-Identifier: MIT */
/*
 * tests/guest/rng-expect - the bytes `vusim rng --seed=SEED` serves
 *
 * Usage: rng-expect SEED NBYTES [SKIP]
 *
 * Prints, as lowercase hex on one line, bytes SKIP .. SKIP+NBYTES-1 of the
 * stream sim/rng.h produces for SEED. devices/rng/rng.h takes whole 64-bit
 * words per request, so when every request is a multiple of 8 bytes (the
 * Linux driver asks for 64) the guest sees exactly this stream. The guest
 * tests compare /dev/hwrng's bytes with it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/rng.h"

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(s, &end, 0);
    return (errno != 0 || end == s || *end != '\0' || *s == '-') ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct vusim_rng rng;
    uint64_t seed, n, skip = 0;
    unsigned char *buf;

    if (argc < 3 || argc > 4 || parse_u64(argv[1], &seed) != 0 ||
        parse_u64(argv[2], &n) != 0 ||
        (argc == 4 && parse_u64(argv[3], &skip) != 0) ||
        n > (1u << 20) || skip > (1u << 20)) {
        fprintf(stderr, "usage: rng-expect SEED NBYTES [SKIP]"
                " (each at most 1 MiB)\n");
        return 2;
    }
    /* One fill call, as one request of SKIP + NBYTES bytes would take. */
    buf = malloc(skip + n + 1);
    if (buf == NULL) {
        perror("rng-expect");
        return 1;
    }
    vusim_rng_seed(&rng, seed);
    vusim_rng_fill(&rng, buf, skip + n);
    for (uint64_t i = skip; i < skip + n; i++) {
        printf("%02x", buf[i]);
    }
    printf("\n");
    free(buf);
    return 0;
}
