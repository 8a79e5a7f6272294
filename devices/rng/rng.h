/* SPDX-License-Identifier: MIT */
/*
 * devices/rng/rng.h - virtio-rng (virtio id 4): a deterministic entropy source
 *
 * One queue; each request is a device-writable buffer the device fills with
 * min(wr_len, --max-request) bytes and completes with that used length.
 *
 * The bytes come from sim/rng.h's xoshiro256** seeded with --seed (default
 * 0; SplitMix64 expands it to the 256-bit state). A request of n bytes takes
 * ceil(n / 8) 64-bit words from the stream and writes them little-endian,
 * the last word truncated, so the guest's bytes are a function of the seed
 * and the sizes of the requests in pop order only, on every machine.
 *
 * Timing: requests are served back to back, in pop order:
 *     start = max(now, busy_until)
 *     done  = start + sim_time_for_bytes(n, --rate)     (rate 0 = at start)
 *     busy_until = done
 * Bytes are generated and written when the request is popped; completion
 * is at done (priority 0, so equal times complete in pop order). A
 * cancelled request keeps the device busy until its done time. Reset
 * re-seeds the stream and clears busy_until: the state after create.
 *
 * Owns:        its generator state and a 4 KiB bounce buffer.
 * Borrows:     the calendar; requests from pop to completion or cancel.
 * Threading:   single thread (dev.h).
 * Errors:      create(): -EINVAL bad option, -ENOMEM. A request the host
 *              cannot write into completes with the bytes written so far.
 * Determinism: bytes and times depend only on options, request sizes and
 *              the simulated times requests are popped at.
 */
#ifndef VUSIM_DEVICES_RNG_H
#define VUSIM_DEVICES_RNG_H

#include "devices/dev.h"

#define DEV_RNG_VIRTIO_ID       4
#define DEV_RNG_QUEUE_SIZE_MAX  1024u

extern const struct dev_ops dev_rng_ops;

#endif
