/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/demo.h - `vusim demo`: a whole co-simulation without a guest OS
 *
 * The demo runs a back-end (vu_loop + vu_backend + vu_server on a private
 * socket path) in a thread, serving the first device of the registry that
 * has a guest side (devices/work.h; blk), and drives it over that real
 * socket with the reference front-end (cosim/frontend/vufe.h): the
 * device's seeded workload, several requests per kick, each completion
 * checked as the device's guest side says (blk: a shadow copy of the disk
 * against every byte read back). The report gives per-class latencies in
 * simulated time, the negotiated features and the notification mode.
 *
 * Latencies are measured on the device side by a probe: a device that
 * wraps the model, is the host of the model and a device to the
 * back-end, and timestamps each request (simulated time) from pop to
 * completion, by the class the device's guest side gives it. It keeps
 * dev.h's contract on both sides, so the model runs exactly as it would
 * alone.
 *
 * Part of the vusim program, not libvusim.
 * Owns:        the probe owns the device it wraps (destroyed with it).
 * Threading:   the probe runs on the back-end loop's thread; read its
 *              figures after that thread has stopped.
 * Determinism: the workload and every simulated figure depend only on the
 *              options (--seed included); wall time is reported apart.
 */
#ifndef VUSIM_COSIM_DEMO_H
#define VUSIM_COSIM_DEMO_H

#include <stdint.h>

#include "devices/dev.h"
#include "sim/time.h"

/* `vusim demo ARGS`: argv[0] is "demo". Returns the exit status. */
int vusim_demo_main(int argc, char **argv);

/* Request classes the probe tells apart (the device's, devices/work.h);
 * a class past the last is counted in the last. */
#define VUSIM_PROBE_NCLASS 8u

struct vusim_probe;

/* Wrap @inner (a created device); the probe owns it from now on.
 * -ENOMEM. */
int vusim_probe_new(struct dev *inner, struct vusim_probe **out);

/* The device to hand to the back-end. */
struct dev *vusim_probe_dev(struct vusim_probe *p);

/* Destroy the probe and the device it wraps. NULL is fine. */
void vusim_probe_free(struct vusim_probe *p);

/* Requests of @cls completed so far. */
uint64_t vusim_probe_count(const struct vusim_probe *p, unsigned cls);

/* Nearest-rank percentile (@permille 500 = median, 1000 = max) of the
 * pop-to-completion latency of @cls; -ENOENT if none completed. */
int vusim_probe_latency(const struct vusim_probe *p, unsigned cls,
                        unsigned permille, sim_time_t *out);

#endif
