/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_faults.c - the fault-rule and scenario parser
 * (devices/faults/faults.c) and the matcher it feeds
 *
 * Input: { u8 device (blk or rng actions); u8 seed; u16 text length; the
 * scenario text (not NUL-terminated: the parser must not read past it);
 * then requests { u8 op; u8 queue; u32 sector; u16 sectors; u32 time in
 * us } }. The text is parsed as a scenario into a set and, line by line,
 * as single rules; the requests go through faults_match. Invariants: a
 * failed parse leaves the set empty and says why in one line; a firing
 * names a rule of the set and counts up; rewinding and replaying the same
 * requests fires the same rules (determinism).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "devices/blk/blk.h"
#include "devices/faults/faults.h"
#include "devices/rng/rng.h"
#include "tests/fuzz/fuzz.h"

#define FZ_REQS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    return 0;
}

static void fz_lines(const char *text, size_t len,
                     const struct faults_action *acts)
{
    size_t at = 0;

    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        struct faults_rule r;
        char err[256];

        if (faults_rule_parse(text + at, n, acts, &r, err, sizeof(err)) ==
            0) {
            faults_rule_fini(&r);
        } else {
            fz_check(err[0] != '\0');
        }
        at += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t dev = fz_u8(&f);
    uint64_t seed = fz_u8(&f);
    size_t tlen = fz_u16(&f) % 4096;
    const struct faults_action *acts =
        (dev & 1) ? dev_rng_ops.fault_actions : dev_blk_ops.fault_actions;
    struct faults_req reqs[FZ_REQS];
    uint32_t fired[FZ_REQS];
    struct faults_set set;
    char err[256] = "";
    char *text;
    int nreq = 0;

    if (!acts) {
        return 0;
    }
    tlen = tlen < fz_left(&f) ? tlen : fz_left(&f);
    text = malloc(tlen ? tlen : 1);     /* exactly tlen: ASan sees overruns */
    if (!text) {
        return 0;
    }
    fz_bytes(&f, text, tlen);
    fz_lines(text, tlen, acts);
    faults_set_init(&set, acts, seed);
    if (faults_scenario_parse(&set, text, tlen, err, sizeof(err)) < 0) {
        fz_check(set.n == 0 && err[0] != '\0');
    }
    while (fz_left(&f) > 0 && nreq < FZ_REQS) {
        struct faults_req *q = &reqs[nreq];

        q->op = (enum faults_op)(fz_u8(&f) % FAULTS_OP_N);
        q->queue = fz_u8(&f);
        q->sector = fz_u32(&f);
        q->nsectors = fz_u16(&f);
        q->now = sim_us(fz_u32(&f));
        nreq++;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < nreq; i++) {
            struct faults_fire fire;
            bool hit = faults_match(&set, &reqs[i], &fire);
            uint32_t id = hit ? fire.rule->id : 0;

            if (hit) {
                fz_check(fire.firing >= 1 && fire.state && fire.action);
            }
            if (pass == 0) {
                fired[i] = id;
            } else {
                fz_check(fired[i] == id);
            }
            (void)faults_rand_below(&set, 1 + reqs[i].sector);
        }
        faults_set_rewind(&set);
    }
    faults_set_fini(&set);
    free(text);
    return 0;
}
