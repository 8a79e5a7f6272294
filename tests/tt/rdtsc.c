// SPDX-License-Identifier: MIT
/*
 * tests/tt/rdtsc.c - guest-side probe: what RDTSC and RDTSCP read
 *
 * Runs inside a time-travel User-Mode Linux guest (static binary). A user
 * process there is a host process, so without the kernel's help these two
 * instructions read the host's time-stamp counter: it runs while the
 * simulated clock stands still and differs on every run. The time-travel
 * UML (scripts/patches/linux-6.1/0004-*) makes them fault and emulates
 * them from the simulated clock: one tick per simulated nanosecond,
 * TSC_AUX 0. This program prints, around sleeps of known simulated length:
 *
 *   TT-RDTSC: sleep_ns=N tsc_ns=N mono_ns=N
 *   TT-RDTSCP: sleep_ns=N tsc_ns=N aux=N
 *   TT-RDTSC-SPIN: ticks=N reads=N
 *
 * tsc_ns is the counter's delta over the sleep, mono_ns CLOCK_MONOTONIC's;
 * the spin line counts the reads a loop needs until the counter has moved
 * by `ticks` (it must end: each read costs simulated time, like a clock
 * read). Under a deterministic clock every byte is the same on every run.
 * It then checks what holds whatever the clock: a delta is at least the
 * sleep, and the counter agrees with CLOCK_MONOTONIC within 1 ms; a
 * failed check prints "rdtsc: error ..." and exits 1.
 *
 * Usage: rdtsc
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t rdtscp(uint32_t *aux)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(*aux));
	return (uint64_t)hi << 32 | lo;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* A delta over a sleep of `ns` is plausible: at least the sleep, and the
 * counter and the clock agree within 1 ms. */
static int check(const char *what, int64_t ns, uint64_t tsc, int64_t mono)
{
	int64_t gap = (int64_t)tsc - mono;

	if ((int64_t)tsc < ns || gap > 1000000 || gap < -1000000) {
		printf("rdtsc: error %s: slept %" PRId64 " ns, the counter "
		       "moved %" PRIu64 ", CLOCK_MONOTONIC %" PRId64 " ns\n",
		       what, ns, tsc, mono);
		return 1;
	}
	return 0;
}

int main(void)
{
	static const int64_t sleeps[] = { 1000000, 10000000, 250000000 };
	uint64_t t0, t1, reads;
	int64_t m0, m1;
	uint32_t aux0, aux1;
	int bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned i = 0; i < sizeof(sleeps) / sizeof(sleeps[0]); i++) {
		m0 = mono_ns();
		t0 = rdtsc();
		sleep_ns(sleeps[i]);
		t1 = rdtsc();
		m1 = mono_ns();
		printf("TT-RDTSC: sleep_ns=%" PRId64 " tsc_ns=%" PRIu64
		       " mono_ns=%" PRId64 "\n", sleeps[i], t1 - t0, m1 - m0);
		bad |= check("rdtsc", sleeps[i], t1 - t0, m1 - m0);
	}
	m0 = mono_ns();
	t0 = rdtscp(&aux0);
	sleep_ns(5000000);
	t1 = rdtscp(&aux1);
	m1 = mono_ns();
	printf("TT-RDTSCP: sleep_ns=5000000 tsc_ns=%" PRIu64 " aux=%" PRIu32
	       "\n", t1 - t0, aux1);
	bad |= check("rdtscp", 5000000, t1 - t0, m1 - m0);
	if (aux0 != aux1) {
		printf("rdtsc: error TSC_AUX changed: %" PRIu32 " then %"
		       PRIu32 "\n", aux0, aux1);
		bad = 1;
	}
	t0 = rdtsc();
	for (reads = 1; rdtsc() - t0 < 100000; reads++)
		;
	printf("TT-RDTSC-SPIN: ticks=100000 reads=%" PRIu64 "\n", reads);
	return bad;
}
