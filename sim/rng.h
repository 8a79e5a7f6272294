/* SPDX-License-Identifier: MIT */
/*
 * sim/rng.h - the one source of randomness in vusim
 *
 * Generator: xoshiro256** 1.0 (Blackman and Vigna, 2018), seeded by
 * expanding a 64-bit seed with SplitMix64, as its authors recommend. Both are
 * fully specified by their public reference code, so the same seed gives the
 * same stream on every machine and compiler. Not cryptographic.
 *
 * Owns:        its 256-bit state; no globals.
 * Errors:      none.
 * Determinism: a pure function of the seed and the call sequence.
 */
#ifndef VUSIM_SIM_RNG_H
#define VUSIM_SIM_RNG_H

#include <stddef.h>
#include <stdint.h>

struct vusim_rng {
    uint64_t s[4];
};

void vusim_rng_seed(struct vusim_rng *r, uint64_t seed);
uint64_t vusim_rng_next(struct vusim_rng *r);

/* Uniform in [0, bound) without modulo bias; bound 0 returns 0. */
uint64_t vusim_rng_below(struct vusim_rng *r, uint64_t bound);

/* Fill @len bytes, little-endian words, the tail from one more word. */
void vusim_rng_fill(struct vusim_rng *r, void *buf, size_t len);

#endif
