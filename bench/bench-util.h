/* SPDX-License-Identifier: MIT */
/*
 * bench/bench-util.h - what several benchmarks share: the raw socket
 * baseline and the in-band front-end they drive vusim with.
 */
#ifndef VUSIM_BENCH_UTIL_H
#define VUSIM_BENCH_UTIL_H

#include <stddef.h>

#include "cosim/vufe.h"

/* Wall nanoseconds per round trip of @size-byte messages between two
 * processes over an AF_UNIX stream socketpair (blocking write and read):
 * the floor for any synchronous message. Exits on failure. */
double bench_pingpong_ns(size_t size, long iters);

/* Rounds the benchmarks interleave their measurements in: a shared
 * machine's noise drifts over seconds, and each figure then sees the same
 * drift; the median of each is reported. */
#define BENCH_ROUNDS 9

/* The median of @n values (sorts them). */
double bench_median(double *v, int n);

/* The reference front-end, in-band, like UML: no EVENT_IDX, blocking on
 * each reply alone. Exits with a line naming @who on failure. */
struct vufe *bench_connect_inband(const char *path, const char *who);

#endif
