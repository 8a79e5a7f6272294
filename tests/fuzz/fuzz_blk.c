/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_blk.c - the virtio-blk request decoder (devices/blk/blk.c)
 *
 * The first byte picks the device's options (read-only, queues, channels,
 * latency, bandwidth) over a 64 KiB RAM disk, so sector ranges at and past
 * the end are easy to reach; the rest is requests (tests/fuzz/devreq.h).
 */
#include "config.h"

#include "devices/blk/blk.h"
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
    const char *args[8];
    int n = 0;

    args[n++] = "size=64K";
    args[n++] = (o & 1) ? "num-queues=2" : "num-queues=1";
    args[n++] = (o & 2) ? "channels=4" : "channels=1";
    if (o & 4) {
        args[n++] = "read-only";
    }
    if (o & 8) {
        args[n++] = "latency=10us";
    }
    if (o & 16) {
        args[n++] = "bandwidth=1M";
    }
    args[n] = NULL;
    fz_devreq_run(&dev_blk_ops, args, &f);
    return 0;
}
