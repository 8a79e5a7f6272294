/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/devreq.h - drive a device model's request decoder with fuzzed
 * requests through the unit tests' fakehost (tests/unit/devices/fakehost.h)
 *
 * Input: a sequence of requests, each { u8 op; u16 rd_len; u16 wr_len;
 * rd_len bytes }. op's low bits pick the queue, bit 4 makes its I/O fail,
 * bit 5 kicks right after it, bit 6 runs the calendar a step, bit 7 cancels
 * the oldest request in flight. At the end the calendar runs dry, and the
 * device's side of dev.h must hold: no contract breach (fakehost counts
 * them), nothing left in flight, every completion within wr_len.
 *
 * Owns:        nothing between runs: device, calendar and host are made
 *              and freed per input.
 * Threading:   single thread.
 */
#ifndef VUSIM_TESTS_FUZZ_DEVREQ_H
#define VUSIM_TESTS_FUZZ_DEVREQ_H

#include "devices/dev.h"
#include "tests/fuzz/fuzz.h"

/* @args: NULL-terminated device options (fakehost_create_dev). */
void fz_devreq_run(const struct dev_ops *ops, const char *const *args,
                   struct fz *f);

#endif
