/* SPDX-License-Identifier: MIT */
/*
 * sim/time.h - simulated time
 *
 * Simulated time is a free-running 64-bit unsigned count of picoseconds
 * (sim_time_t). It never mixes with wall-clock types: the only wall clock in
 * vusim is vusim_wallclock_ns() in sim/wallclock.h, for stats and pacing.
 * 2^64 ps is about 213 days of simulated time; SIM_TIME_MAX means "never".
 *
 * Owns:        nothing; pure functions.
 * Errors:      -ERANGE on overflow, -EINVAL on a malformed string.
 * Determinism: integer arithmetic only; parsing never uses floating point.
 */
#ifndef VUSIM_SIM_TIME_H
#define VUSIM_SIM_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t sim_time_t;

#define SIM_TIME_MAX UINT64_MAX

#define SIM_PS ((sim_time_t)1)
#define SIM_NS ((sim_time_t)1000)
#define SIM_US ((sim_time_t)1000 * SIM_NS)
#define SIM_MS ((sim_time_t)1000 * SIM_US)
#define SIM_S  ((sim_time_t)1000 * SIM_MS)

static inline sim_time_t sim_ns(uint64_t n) { return n * SIM_NS; }
static inline sim_time_t sim_us(uint64_t n) { return n * SIM_US; }
static inline sim_time_t sim_ms(uint64_t n) { return n * SIM_MS; }
static inline sim_time_t sim_s(uint64_t n)  { return n * SIM_S; }

/* *out = a + b; -ERANGE (and *out untouched) if it would pass SIM_TIME_MAX. */
int sim_time_add(sim_time_t a, sim_time_t b, sim_time_t *out);

/* *out = a * n; -ERANGE (and *out untouched) on overflow. */
int sim_time_mul(sim_time_t a, uint64_t n, sim_time_t *out);

/*
 * Time to move @bytes at @bytes_per_s, rounded up to the next picosecond,
 * computed exactly in 128-bit integers. A rate of 0 means unlimited (0 ps).
 * -ERANGE if the result does not fit.
 */
int sim_time_for_bytes(uint64_t bytes, uint64_t bytes_per_s, sim_time_t *out);

/*
 * Parse a duration: a decimal number with an optional fraction and a unit
 * among ps, ns, us, ms and s ("250ns", "1.5ms", "0"). The unit may be omitted
 * only for zero. A value finer than one picosecond, or one that overflows,
 * is rejected. On error @err (if not NULL, @errlen bytes) receives a one-line
 * reason. Returns 0 or -EINVAL / -ERANGE.
 */
int sim_time_parse(const char *s, sim_time_t *out, char *err, size_t errlen);

/*
 * Format @t with the largest unit that shows it exactly ("1.5ms", "250ns",
 * "0s"). Returns @buf. 32 bytes always suffice.
 */
char *sim_time_fmt(sim_time_t t, char *buf, size_t len);

#endif
