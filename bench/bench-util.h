/* SPDX-License-Identifier: MIT */
/*
 * bench/bench-util.h - what several benchmarks share: the raw socket
 * baselines (with vusim's adaptive polling, or blocking), wall and CPU
 * meters, the one statistic, and the in-band front-end they drive vusim
 * with.
 *
 * Model: a benchmark alternates vusim and its baselines for BENCH_ROUNDS
 * rounds; each round of each side gives one struct bench_fig (wall and the
 * CPU of both processes per iteration); each figure is reported as the
 * median of its rounds, min and max beside it (bench_stat).
 * Owns: the raw baseline's child process, for the length of one call.
 * Borrows: nothing.
 * Threading: single-threaded; the peer runs in another process.
 * Errors: setup and I/O failures print a line and exit(1): a benchmark
 * that cannot measure must not print a figure.
 * Determinism: none, by nature (wall time); no simulated state here.
 */
#ifndef VUSIM_BENCH_UTIL_H
#define VUSIM_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cosim/frontend/vufe.h"
#include "cosim/frontend/work.h"
#include "devices/dev.h"

/* Rounds the benchmarks interleave their measurements in: a shared
 * machine's noise drifts over seconds, and each figure then sees the same
 * drift; the median of each is reported, min and max beside it. */
#define BENCH_ROUNDS 9

/* One round of one side, per iteration: wall nanoseconds, the CPU
 * nanoseconds the driving process (fe) and its peer (be) used, and how
 * often each slept (voluntary context switches, /proc/PID/status). */
struct bench_fig {
    double ns, fe_cpu_ns, be_cpu_ns, fe_sleeps, be_sleeps;
};

/* Median, min and max of n values. */
struct bench_stat {
    double med, min, max;
};

/* The median (v[n/2] once sorted), min and max of @n values (sorts @v). */
struct bench_stat bench_stat(double *v, int n);

/* Statistics of one field over @n rounds: the field's offset in struct
 * bench_fig, e.g. offsetof(struct bench_fig, ns). */
struct bench_stat bench_fig_stat(const struct bench_fig *f, int n,
                                 size_t field);

/* The median over BENCH_ROUNDS rounds of both processes' CPU per
 * iteration. */
double bench_cpu_med(const struct bench_fig *f);

/* "name  median  min  max  fe-cpu  be-cpu  both  sl-fe  sl-be" for one
 * side (nanoseconds per iteration; the CPU columns are medians), under
 * bench_print_head()'s titles. sl-fe and sl-be are each side's sleeps
 * (voluntary context switches) per iteration, medians: a side that never
 * sleeps is spinning, and pays for it in CPU. */
void bench_print_head(void);
void bench_print_row(const char *name, const struct bench_fig *f, int n);

/* A meter over one timed region: wall time, this process's CPU and
 * @peer's CPU (its process CPU clock, nanosecond resolution, read from
 * here: the peer keeps running). */
struct bench_meter {
    clockid_t peer;
    pid_t pid;
    uint64_t wall0, self0, peer0, sl_self0, sl_peer0;
};

void bench_meter_start(struct bench_meter *m, pid_t peer);
/* Per iteration over @iters into *out. */
void bench_meter_stop(struct bench_meter *m, long iters,
                      struct bench_fig *out);

/*
 * The raw baseline: a child process on one or two AF_UNIX stream
 * socketpairs, plain read(2) and write(2) of @size-byte messages, no event
 * loop. @pattern is the driving side's steps per iteration, in order:
 * "w0" writes on socketpair 0, "r1" reads socketpair 1, and so on; the
 * child does the mirror (every w a r and back), or, after a '/', its own
 * steps: "w0r0r1w1/r0w1w0r1" is a request whose peer answers on 1 before
 * 0 while the driver reads 0 first, as vusim's in-band cycle. The child reads as vusim's
 * loop waits: it polls with non-blocking reads for an adaptive window of
 * up to @poll_ns (the rule of cosim/backend/loop.c: double on a catch, halve on a
 * miss, learn from short sleeps) and then blocks; 0 blocks at once. The
 * driving side blocks, as the reference front-end does. Warms up with a
 * tenth of @iters first. Exits on failure.
 */
void bench_raw(const char *pattern, size_t size, long iters,
               uint64_t poll_ns, struct bench_fig *out);

/* The reference front-end, in-band, like UML: no EVENT_IDX, blocking on
 * each reply alone. Exits with a line naming @who on failure. */
struct vufe *bench_connect_inband(const char *path, const char *who);

/* One request slot of a device's guest side (devices/work.h), for the
 * benchmarks that time one request's cycle on any device that has one. */
struct bench_req {
    const struct dev_work_ops *ops;
    struct dev_work *w;
    struct vufe_work_slot slot;
};

/* Connect as bench_connect_inband() does to the back-end of @ops at
 * @path, and open the device's guest side with one slot in @r. Exits with
 * a line naming @who on failure (also for a device without one). */
struct vufe *bench_connect_req(const char *path, const char *who,
                               const struct dev_ops *ops,
                               struct bench_req *r);

/* Lay out the device's plain request that moves @len bytes from @at
 * (ops->fetch()) and chain it on queue 0. Exits on failure. */
void bench_req_add(struct vufe *fe, struct bench_req *r, uint64_t at,
                   uint32_t len, const char *who);

/* Did the request complete with @used bytes as it must? */
bool bench_req_ok(struct bench_req *r, uint32_t used);

void bench_req_close(struct bench_req *r);

/* The load average line of /proc/loadavg (three numbers), for the record:
 * a shared machine's figures mean little without it. */
const char *bench_load(void);

/* The vusim side of a benchmark, in its forked child: serve one front-end
 * at @path with @dev on @loop, in-band (VU_INBAND_ON), until it leaves.
 * 0, or -1 when the socket cannot be listened on. The caller frees @loop
 * and @dev. */
struct vu_loop;
struct dev;
int bench_serve_one(struct vu_loop *loop, struct dev *dev, const char *path);

#endif
