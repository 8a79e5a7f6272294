// SPDX-License-Identifier: MIT
/*
 * cosim/systemc/kernel.h - SystemC's kernel on vusim's calendar: one
 * timeline, no quantum
 *
 * Model. SystemC and vusim share one clock: SystemC's time resolution is
 * 1 ps, vusim's sim_time_t counts picoseconds, and sc_time_stamp() equals
 * sim_cal_now() whenever either side acts. SystemC never runs on its own:
 * its next pending activity (sc_time_to_pending_activity()) is kept as one
 * calendar event, the *wake*, and only the wake runs SystemC's processes.
 * So the calendar, and through it the clock mode (afap, realtime, external
 * time-travel grants), paces SystemC exactly as it paces every device; no
 * wall clock is read, and nothing runs ahead of the other side.
 *
 * The order at one simulated time t, fixed and documented:
 *   1. the wake, at priority VUSIM_SC_WAKE_PRIO (INT32_MIN, before every
 *      other event at t): SystemC's timed activity at t, then every delta
 *      cycle that follows it, until SystemC has nothing left at t;
 *   2. vusim's events at t, in the calendar's (priority, sequence) order;
 *   3. a crossing from vusim into SystemC at t (enter(): a request handed
 *      to the model, a config access, a reset) runs at once, with
 *      sc_time_stamp() == t; the delta activity it causes is SystemC's
 *      pending activity at t, so leave() puts the wake back at
 *      (t, INT32_MIN): it runs right after the current event, before the
 *      next vusim event at t.
 * SystemC never has activity before vusim's now: the wake would have run
 * it. enter() only moves sc_time_stamp() forward to now (sc_start with
 * nothing to run on the way).
 *
 * Owns:        the wake event; SystemC's kernel while attached (one
 *              kernel per process: SystemC's simulation context is global).
 * Borrows:     the calendar, which must outlive the kernel.
 * Threading:   single thread: the calendar's. SystemC's coroutines run
 *              inside enter()/the wake, on that thread.
 * Errors:      a SystemC report thrown out of sc_start, sc_stop() by the
 *              model, a runaway delta loop (more than max_deltas at one
 *              time) or SystemC's time ahead of vusim's (time would go
 *              backwards) break the kernel: broken() is true, error() says
 *              why and names the model, and no SystemC code runs again.
 *              Exceptions never leave this class (C frames are above it).
 * Determinism: what runs, and in what order, depends only on the calendar's
 *              order and SystemC's own (deterministic) scheduler.
 */
#ifndef VUSIM_COSIM_SYSTEMC_KERNEL_H
#define VUSIM_COSIM_SYSTEMC_KERNEL_H

#include <cstdint>
#include <functional>
#include <string>

#include <systemc>

extern "C" {
#include "sim/cal.h"
}

#define VUSIM_SC_WAKE_PRIO INT32_MIN

namespace vusim_sc {

inline sc_core::sc_time to_sc(sim_time_t t)
{
    return sc_core::sc_time::from_value(t);
}

inline sim_time_t from_sc(const sc_core::sc_time &t)
{
    return t.value();
}

class kernel {
public:
    // @model names the model in every error. The kernel is idle until
    // start().
    kernel(struct sim_cal *cal, std::string model);
    ~kernel();
    kernel(const kernel &) = delete;
    kernel &operator=(const kernel &) = delete;

    // Elaborate (if not yet) and run SystemC's initialization phase at
    // vusim's now. 0, or -EBUSY if another kernel is attached, -EIO if
    // SystemC's time resolution is not 1 ps, its time differs from
    // vusim's, or elaboration failed (error() says which).
    int start();

    // A crossing from vusim into SystemC: bring sc_time_stamp() to now.
    // 0, or -EIO when broken. Every enter() is followed by leave().
    int enter();
    // End of a crossing: run nothing, put the wake at SystemC's next
    // pending activity (or take it off the calendar if there is none).
    void leave();

    bool broken() const { return broken_; }
    const std::string &error() const { return error_; }
    const std::string &model() const { return model_; }
    struct sim_cal *cal() const { return cal_; }
    sim_time_t now() const { return sim_cal_now(cal_); }

    // Crossings so far (enter() calls plus wakes): for stats and benches.
    uint64_t crossings() const { return crossings_; }
    uint64_t wakes() const { return wakes_; }
    uint64_t deltas() const { return deltas_; }

    // A delta loop longer than this at one time breaks the kernel.
    void set_max_deltas(uint64_t n) { max_deltas_ = n; }

    // Break the kernel with a message (used by the bridge too).
    void fail(const std::string &why);
    // Called once, when the kernel breaks.
    void on_fail(std::function<void()> fn) { on_fail_ = std::move(fn); }

private:
    static void wake_fn(struct sim_cal *cal, struct sim_event *ev);
    void wake();
    bool sync_to(sim_time_t t);
    bool run_deltas();
    bool check_status();
    bool guarded_start(const sc_core::sc_time &d);

    struct sim_cal *cal_;
    std::string model_;
    struct sim_event ev_;
    bool started_ = false;
    bool broken_ = false;
    std::string error_;
    uint64_t crossings_ = 0, wakes_ = 0, deltas_ = 0;
    uint64_t max_deltas_ = 1000000;
    std::function<void()> on_fail_;
};

} // namespace vusim_sc

#endif
