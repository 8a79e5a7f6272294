/* SPDX-License-Identifier: MIT */
/*
 * CRC-32C of trace records (FORMAT.md, "Conventions").
 *
 * Ours rather than zlib's: zlib has only CRC-32, and CRC-32C is what
 * SSE4.2's crc32 instruction computes, one instruction per 8 bytes, several
 * times faster than a table on the small records of the hot path and on
 * every byte a replay reads (measured: bench-trace).
 *
 * One chain of crc32 instructions uses a third of the unit: each step waits
 * 3 cycles for the one before, but a new one could start every cycle. So
 * from 3 * TRACE_CRC32C_SHORT bytes on, the buffer is cut into blocks of
 * three equal lanes, run as three chains in one loop, and the lane CRCs are
 * joined: the CRC of A||B is the CRC of A pushed through |B| zero bytes, xor
 * the CRC of B started from zero, and pushing through n zero bytes is a
 * multiplication by x^(8n) mod P.
 *
 * That multiplication is one PCLMULQDQ by a constant plus one crc32 to
 * reduce the product (crc32c_shift), rather than lookup tables: two 32-bit
 * constants per lane length instead of 4 KiB of table per shift, nothing to
 * compute at start-up, no cache misses. x86 CPUs with SSE4.2 have had
 * PCLMULQDQ too since 2010 (Westmere); one without it (Nehalem, or a VM that
 * hides it) gets the single chain.
 *
 * Lane lengths (traces/crc32c-internal.h): long lanes keep the joins rare on
 * big buffers; the shorter ones serve what is left and medium records (a
 * join waits about 15 cycles, some 40 bytes of one chain). Blocks of 3 x 64
 * bytes are about where three lanes start to pay (measured, 20 B .. 1 MiB).
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "traces/crc32c-internal.h"
#include "traces/trace.h"

/* ---- byte-wise table: any CPU ---- */

/* CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, one byte at a
 * time: the fallback on CPUs without the SSE4.2 instruction. */
static const uint32_t crc32c_tab[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu,
    0x35f1141cu, 0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu,
    0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u,
    0x5e133c24u, 0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu,
    0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u, 0x9a879fa0u,
    0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u,
    0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u,
    0xaa64d611u, 0x580f5512u, 0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu,
    0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau, 0x30e349b1u, 0xc288cab2u,
    0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u,
    0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu,
    0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u,
    0x67dafa54u, 0x95b17957u, 0xcba24573u, 0x39c9c670u, 0x2a993584u,
    0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu, 0xed03a29bu, 0x1f682198u,
    0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u, 0x96bf4dccu,
    0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u,
    0x0f36e6f7u, 0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u,
    0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u, 0xeb1fcbadu,
    0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u,
    0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu, 0x90a324fau,
    0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu,
    0xceb018deu, 0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu,
    0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u, 0xb7072f64u, 0xa457dc90u,
    0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
    0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu, 0x92a8fc17u,
    0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu,
    0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u,
    0xa24bb5a6u, 0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u,
    0x97baa1bau, 0x84ea524eu, 0x7681d14du, 0x2892ed69u, 0xdaf96e6au,
    0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u,
    0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u,
    0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au,
    0x1e6dcdeeu, 0xec064eedu, 0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u,
    0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu,
    0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu, 0x8ecee914u,
    0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u,
    0x07198540u, 0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u,
    0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au,
    0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u,
    0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u,
    0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au,
    0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u,
    0x988c474du, 0x6ae7c44eu, 0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u,
    0xad7d5351u,
};

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t n)
{
    while (n--) {
        c = crc32c_tab[(c ^ *p++) & 0xffu] ^ (c >> 8);
    }
    return c;
}

#if defined(__x86_64__)
/* ---- crc32 instruction, one chain ---- */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Records are often a few dozen bytes: the last 0..7 finish in at most
 * three steps (4, 2, 1) instead of seven. aligned(64) here and on
 * crc32c_3way keeps their loops, a few bytes into the function, from
 * straddling a 64-byte line: that made 64-byte buffers half again as slow
 * (measured, GCC 12 -O2, AMD EPYC). */
__attribute__((target("sse4.2"), aligned(64)))
static uint32_t crc32c_hw(uint32_t c32, const uint8_t *p, size_t n)
{
    uint64_t c = c32;
    uint32_t v4;
    uint16_t v2;

    for (; n >= 8; p += 8, n -= 8) {
        c = _mm_crc32_u64(c, load64(p));
    }
    if (n == 0) {
        return (uint32_t)c;
    }
    if (n & 4) {
        memcpy(&v4, p, sizeof(v4));
        c = _mm_crc32_u32((uint32_t)c, v4);
        p += 4;
    }
    if (n & 2) {
        memcpy(&v2, p, sizeof(v2));
        c = _mm_crc32_u16((uint32_t)c, v2);
        p += 2;
    }
    if (n & 1) {
        c = _mm_crc32_u8((uint32_t)c, *p);
    }
    return (uint32_t)c;
}

/* ---- crc32 instruction, three chains ---- */

/* A lane length (bytes, a multiple of 8) and the constants that shift a
 * CRC over one lane (k1) and over two (k2). Longest first. */
struct crc32c_lane {
    size_t len;
    uint32_t k1, k2;
};

static const struct crc32c_lane crc32c_lanes[] = {
    { TRACE_CRC32C_LONG, TRACE_CRC32C_K_LONG, TRACE_CRC32C_K2_LONG },
    { TRACE_CRC32C_MID, TRACE_CRC32C_K_MID, TRACE_CRC32C_K2_MID },
    { TRACE_CRC32C_SHORT, TRACE_CRC32C_K_SHORT, TRACE_CRC32C_K2_SHORT },
};

/* c * x^(8n) mod P, with k = x^(8n-33) mod P: the carry-less product c * k
 * is 63 bits, which as a reflected 64-bit word means c * k * x; crc32 of
 * that word from zero multiplies by x^32 and reduces mod P. */
__attribute__((target("sse4.2,pclmul")))
static inline uint64_t crc32c_shift(uint64_t c, uint32_t k)
{
    __m128i m = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)c),
                                     _mm_cvtsi64_si128(k), 0x00);

    return _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(m));
}

/* Blocks of three lanes, longest lanes first, then one chain for the rest.
 * Lanes 1 and 2 start from zero; the join shifts lane 0 over two lanes and
 * lane 1 over one (see the top of the file). */
__attribute__((target("sse4.2,pclmul"), aligned(64)))
static uint32_t crc32c_3way(uint32_t c32, const uint8_t *p, size_t n)
{
    uint64_t c = c32;

    for (size_t l = 0; l < sizeof(crc32c_lanes) / sizeof(crc32c_lanes[0]);
         l++) {
        const struct crc32c_lane *lane = &crc32c_lanes[l];
        const size_t len = lane->len;

        for (; n >= 3 * len; p += 3 * len, n -= 3 * len) {
            uint64_t c1 = 0, c2 = 0;

            for (size_t i = 0; i < len; i += 8) {
                c = _mm_crc32_u64(c, load64(p + i));
                c1 = _mm_crc32_u64(c1, load64(p + len + i));
                c2 = _mm_crc32_u64(c2, load64(p + 2 * len + i));
            }
            c = crc32c_shift(c, lane->k2) ^ crc32c_shift(c1, lane->k1) ^ c2;
        }
    }
    return crc32c_hw((uint32_t)c, p, n);
}
#endif

/* ---- dispatch ---- */

bool trace_crc32c_has(enum trace_crc32c_path path)
{
    switch (path) {
    case TRACE_CRC32C_TABLE:
        return true;
#if defined(__x86_64__)
    case TRACE_CRC32C_SSE42:
        return __builtin_cpu_supports("sse4.2");
    case TRACE_CRC32C_3WAY:
        return __builtin_cpu_supports("sse4.2") &&
               __builtin_cpu_supports("pclmul");
#endif
    default:
        return false;
    }
}

uint32_t trace_crc32c_via(enum trace_crc32c_path path, const void *p,
                          size_t len)
{
    assert(trace_crc32c_has(path));
#if defined(__x86_64__)
    if (path == TRACE_CRC32C_3WAY) {
        return ~crc32c_3way(0xffffffffu, p, len);
    }
    if (path == TRACE_CRC32C_SSE42) {
        return ~crc32c_hw(0xffffffffu, p, len);
    }
#endif
    return ~crc32c_sw(0xffffffffu, p, len);
}

/* The feature tests read a word libgcc fills in at start-up: cheap enough
 * per call even for 20-byte records. */
uint32_t trace_crc32c(const void *p, size_t len)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) {
        if (len >= 3 * TRACE_CRC32C_SHORT &&
            __builtin_cpu_supports("pclmul")) {
            return ~crc32c_3way(0xffffffffu, p, len);
        }
        return ~crc32c_hw(0xffffffffu, p, len);
    }
#endif
    return ~crc32c_sw(0xffffffffu, p, len);
}
