/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "sim/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void vusim_rng_seed(struct vusim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&seed);
    }
}

uint64_t vusim_rng_next(struct vusim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t vusim_rng_below(struct vusim_rng *r, uint64_t bound)
{
    uint64_t x, lim;

    if (bound == 0) {
        return 0;
    }
    /* Reject the top partial bucket so every value is equally likely. */
    lim = UINT64_MAX - UINT64_MAX % bound;
    do {
        x = vusim_rng_next(r);
    } while (x >= lim);
    return x % bound;
}

void vusim_rng_fill(struct vusim_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        uint64_t w = vusim_rng_next(r);
        unsigned char b[8];
        size_t n = len < 8 ? len : 8;

        for (int i = 0; i < 8; i++) {
            b[i] = (unsigned char)(w >> (8 * i));
        }
        memcpy(p, b, n);
        p += n;
        len -= n;
    }
}
