/* SPDX-License-Identifier: MIT */
/*
 * traces/crc32c-internal.h - the CRC-32C implementations one by one, for
 * the tests; not installed. trace_crc32c (traces/trace.h) picks the fastest
 * this CPU has, and is what everything else calls.
 *
 * Owns/Borrows: nothing kept; the buffer is borrowed for the call.
 * Threading: pure functions, any thread.
 * Errors: none; asking for a path trace_crc32c_has denies is a bug (assert).
 * Determinism: every path gives the same CRC for the same bytes.
 */
#ifndef VUSIM_TRACES_CRC32C_INTERNAL_H
#define VUSIM_TRACES_CRC32C_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trace_crc32c_path {
    TRACE_CRC32C_TABLE, /* byte-wise table: any CPU */
    TRACE_CRC32C_SSE42, /* one chain of crc32 instructions */
    TRACE_CRC32C_3WAY,  /* three chains, joined with PCLMULQDQ */
};

/* Lane lengths of the three-way path, bytes: it runs blocks of three lanes,
 * longest first, and buffers under 3 * TRACE_CRC32C_SHORT run one chain. */
#define TRACE_CRC32C_LONG 8192
#define TRACE_CRC32C_MID 256
#define TRACE_CRC32C_SHORT 64

/* K(n) = x^(8n - 33) mod P, bit-reflected (bit 31 is x^0): multiplying by
 * it shifts a CRC over n zero bytes (traces/crc32c.c). K_ for one lane, K2_
 * for two. Constants so that nothing is computed at run time; the unit
 * tests recompute them. */
#define TRACE_CRC32C_K_LONG 0x54a86326u
#define TRACE_CRC32C_K2_LONG 0x1dc403ccu
#define TRACE_CRC32C_K_MID 0xb9e02b86u
#define TRACE_CRC32C_K2_MID 0xdd7e3b0cu
#define TRACE_CRC32C_K_SHORT 0x9e4addf8u
#define TRACE_CRC32C_K2_SHORT 0x0d3b6092u

/* Whether this build and CPU can run path. */
bool trace_crc32c_has(enum trace_crc32c_path path);

/* trace_crc32c computed through path, which trace_crc32c_has must allow. */
uint32_t trace_crc32c_via(enum trace_crc32c_path path, const void *p,
                          size_t len);

#endif
