/* SPDX-License-Identifier: MIT */
/*
 * sim/clock.h - clock modes: how simulated time relates to the host
 *
 * A clock sits between an event loop and a calendar and says when the next
 * event may run:
 *   SIM_CLOCK_AFAP      as fast as possible: jump to the next event at once.
 *   SIM_CLOCK_PACED     paced to the host clock at a ratio (simulated seconds
 *                       per host second), for interactive runs against a
 *                       guest that runs in real time. "realtime" is ratio 1.
 *   SIM_CLOCK_EXTERNAL  simulated time advances only as far as an external
 *                       controller granted (sim_clock_grant()); the UML
 *                       time-travel controller drives this mode.
 * The clock never changes the order of events, only when they run, so the
 * simulated behaviour is the same in every mode.
 *
 * The loop calls sim_clock_step() whenever it wakes; it runs what is due and
 * says how long the loop may sleep before calling again.
 *
 * Owns:        the mode, the ratio and the pacing origin.
 * Borrows:     the host clock (a test may pass its own) and the calendar
 *              passed to each step.
 * Threading:   single thread.
 * Errors:      -EINVAL bad mode string or ratio.
 * Determinism: the host clock decides only when events run, never which or
 *              in what order; externally granted time is a pure input.
 */
#ifndef VUSIM_SIM_CLOCK_H
#define VUSIM_SIM_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "sim/cal.h"
#include "sim/wallclock.h"

enum sim_clock_mode {
    SIM_CLOCK_AFAP = 0,
    SIM_CLOCK_PACED,
    SIM_CLOCK_EXTERNAL,
};

struct sim_clock_cfg {
    enum sim_clock_mode mode;
    /* PACED: ratio = num / den simulated seconds per host second (exact). */
    uint64_t num, den;
};

/* "afap", "realtime", "realtime:RATIO" (RATIO a positive decimal such as
 * 0.25 or 10), "external". On error @err gets one line. */
int sim_clock_parse(const char *s, struct sim_clock_cfg *cfg, char *err,
                    size_t errlen);

struct sim_clock;

/* @host NULL means the real monotonic clock. */
struct sim_clock *sim_clock_new(const struct sim_clock_cfg *cfg,
                                const struct vusim_hostclock *host);
void sim_clock_free(struct sim_clock *clk);

enum sim_clock_mode sim_clock_mode(const struct sim_clock *clk);

/* Sleep forever (until an fd wakes the loop or a grant arrives). */
#define SIM_CLOCK_IDLE UINT64_MAX

/*
 * Run the events of @cal that the clock lets run now. Returns the number run
 * and sets *wait_ns to the host nanoseconds until the next one may run (0 if
 * one is due now but the step stopped after @budget events, SIM_CLOCK_IDLE if
 * none is pending or the external grant is used up). @budget 0 = unlimited.
 * PACED: an event at simulated time t runs when host time reaches
 * origin_host + (t - origin_sim) / ratio; the origin is set at the first step.
 * Once nothing is due, PACED also advances the calendar's now to the paced
 * time, so work arriving from outside is stamped with the host's time;
 * AFAP and EXTERNAL leave now at the last event run.
 */
long sim_clock_step(struct sim_clock *clk, struct sim_cal *cal,
                    long budget, uint64_t *wait_ns);

/* EXTERNAL: allow simulated time up to @until (never moves back). */
void sim_clock_grant(struct sim_clock *clk, sim_time_t until);

/* EXTERNAL: time granted so far. */
sim_time_t sim_clock_granted(const struct sim_clock *clk);

#endif
