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

/* One xoshiro256** step on @s. vusim_rng_fill runs it on a local copy of
 * the state, which the compiler keeps in registers. */
static inline uint64_t sim_rng_step(uint64_t s[4])
{
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

uint64_t vusim_rng_next(struct vusim_rng *r)
{
    return sim_rng_step(r->s);
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

/* Each word's bytes go out least significant first, whatever the host's
 * byte order. Whole words are stored without a per-byte loop or a memcpy:
 * the rng device fills every guest buffer through here, and the fuzzer's
 * instrumented build spent most of its time in that loop. */
static inline void put_le64(unsigned char *p, uint64_t w)
{
    p[0] = (unsigned char)w;
    p[1] = (unsigned char)(w >> 8);
    p[2] = (unsigned char)(w >> 16);
    p[3] = (unsigned char)(w >> 24);
    p[4] = (unsigned char)(w >> 32);
    p[5] = (unsigned char)(w >> 40);
    p[6] = (unsigned char)(w >> 48);
    p[7] = (unsigned char)(w >> 56);
}

void vusim_rng_fill(struct vusim_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf, b[8];
    size_t words = len / 8, tail = len % 8;
    uint64_t s[4] = { r->s[0], r->s[1], r->s[2], r->s[3] };

    for (size_t i = 0; i < words; i++) {
        put_le64(p + 8 * i, sim_rng_step(s));
    }
    if (tail) {
        put_le64(b, sim_rng_step(s));
        memcpy(p + 8 * words, b, tail);
    }
    memcpy(r->s, s, sizeof(s));
}
