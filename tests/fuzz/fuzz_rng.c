/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_rng.c - the virtio-rng request handling (devices/rng/rng.c)
 *
 * The first byte picks a rate limit or none; the rest is requests
 * (tests/fuzz/devreq.h): readable bytes the device must ignore, writable
 * buffers of every size it must fill exactly.
 */
#include "config.h"

#include "devices/rng/rng.h"
#include "tests/fuzz/devreq.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    uint8_t o = fz_u8(&f);
    const char *args[4];
    int n = 0;

    args[n++] = "seed=7";
    if (o & 1) {
        args[n++] = "rate=64K";
    }
    args[n] = NULL;
    fz_devreq_run(&dev_rng_ops, args, &f);
    return 0;
}
