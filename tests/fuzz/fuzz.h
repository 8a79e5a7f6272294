/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz.h - what every fuzz target shares
 *
 * Model. Each target is one LLVMFuzzerTestOneInput(): built with
 * -fsanitize=fuzzer it is a libFuzzer binary (`make fuzz`); built with
 * replay_main.c it is a plain program that runs the committed corpus and
 * every past crash (tests/fuzz/regress/) as a regression test in make check.
 * An fz cursor hands out the input's bytes; past the end it yields zeros,
 * so a short input is still a complete, deterministic case.
 *
 * Owns:        nothing.
 * Threading:   single thread.
 * Errors:      a target returns 0; a bug shows as a sanitizer report or an
 *              abort (fz_check), never as a return value.
 * Determinism: a target's behaviour is a function of its input only.
 */
#ifndef VUSIM_TESTS_FUZZ_FUZZ_H
#define VUSIM_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fz {
    const uint8_t *p;
    size_t n;
};

static inline size_t fz_left(const struct fz *f)
{
    return f->n;
}

/* Up to @len bytes into @buf, zero-filled past the end of the input. */
static inline void fz_bytes(struct fz *f, void *buf, size_t len)
{
    size_t k = len < f->n ? len : f->n;

    memcpy(buf, f->p, k);
    memset((uint8_t *)buf + k, 0, len - k);
    f->p += k;
    f->n -= k;
}

static inline uint8_t fz_u8(struct fz *f)
{
    uint8_t v;

    fz_bytes(f, &v, 1);
    return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
    uint16_t v;

    fz_bytes(f, &v, 2);
    return v;
}

static inline uint32_t fz_u32(struct fz *f)
{
    uint32_t v;

    fz_bytes(f, &v, 4);
    return v;
}

static inline uint64_t fz_u64(struct fz *f)
{
    uint64_t v;

    fz_bytes(f, &v, 8);
    return v;
}

/* An invariant the code under test promises: its breach is a finding. */
#define fz_check(cond)                                                       \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,  \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* Drop vusim's log lines (they are still formatted, so their arguments
 * are exercised). */
void fz_quiet_logs(void);

#endif
