// SPDX-License-Identifier: MIT
/*
 * SystemC's kernel on vusim's calendar (kernel.h has the model and the
 * order). Every sc_start() goes through guarded_start(), the one place
 * that turns SystemC's exceptions and sc_stop() into a broken kernel.
 */
#include "config.h"

#include <cerrno>
#include <exception>

#include "cosim/systemc/kernel.h"

extern "C" {
#include "sim/log.h"
}

using namespace sc_core;

namespace vusim_sc {

namespace {
kernel *g_attached; // SystemC's simulation context is one per process
}

kernel::kernel(struct sim_cal *cal, std::string model)
    : cal_(cal), model_(std::move(model))
{
    sim_event_init(&ev_, wake_fn, this);
}

kernel::~kernel()
{
    if (sim_event_pending(&ev_)) {
        sim_cal_cancel(cal_, &ev_);
    }
    if (g_attached == this) {
        g_attached = nullptr;
    }
}

void kernel::fail(const std::string &why)
{
    if (broken_) {
        return;
    }
    broken_ = true;
    error_ = "systemc model '" + model_ + "': " + why;
    VUSIM_ERR("systemc", "%s", error_.c_str());
    if (sim_event_pending(&ev_)) {
        sim_cal_cancel(cal_, &ev_);
    }
    if (on_fail_) {
        on_fail_();
    }
}

bool kernel::check_status()
{
    if (sc_end_of_simulation_invoked() || sc_get_status() == SC_STOPPED) {
        fail("the model called sc_stop(); SystemC cannot run again");
    }
    return !broken_;
}

bool kernel::guarded_start(const sc_time &d)
{
    if (broken_) {
        return false;
    }
    try {
        sc_start(d);
    } catch (const sc_report &r) {
        fail(std::string("SystemC error: ") + r.what());
    } catch (const std::exception &e) {
        fail(std::string("exception from the model: ") + e.what());
    } catch (...) {
        fail("unknown exception from the model");
    }
    return check_status();
}

// Move SystemC's time to @t. Nothing may be pending before @t: the wake
// would have run it, so anything there was put in by someone driving
// SystemC outside the bridge.
bool kernel::sync_to(sim_time_t t)
{
    sim_time_t stamp = from_sc(sc_time_stamp());

    if (broken_) {
        return false;
    }
    if (stamp > t) {
        fail("SystemC time " + sc_time_stamp().to_string() +
             " is ahead of vusim's " + to_sc(t).to_string() +
             ": time would go backwards (was sc_start called outside the"
             " bridge?)");
        return false;
    }
    if (stamp == t) {
        return true;
    }
    if (sc_pending_activity() &&
        from_sc(sc_time_to_pending_activity()) < t - stamp) {
        fail("SystemC has activity at " +
             (sc_time_stamp() + sc_time_to_pending_activity()).to_string() +
             ", before vusim's now " + to_sc(t).to_string());
        return false;
    }
    while (!broken_ && (stamp = from_sc(sc_time_stamp())) < t) {
        // Runs nothing (see above) and stops at t without running t's
        // activity: that is the wake's, or the next delta loop's.
        guarded_start(to_sc(t - stamp));
    }
    return !broken_;
}

bool kernel::run_deltas()
{
    uint64_t n = 0;

    while (!broken_ && sc_pending_activity_at_current_time()) {
        if (++n > max_deltas_) {
            fail("more than " + std::to_string(max_deltas_) +
                 " delta cycles at " + sc_time_stamp().to_string() +
                 " (a zero-time loop?)");
            break;
        }
        guarded_start(SC_ZERO_TIME);
    }
    deltas_ += n;
    return !broken_;
}

int kernel::start()
{
    if (g_attached && g_attached != this) {
        return -EBUSY;
    }
    if (started_) {
        return broken_ ? -EIO : 0;
    }
    if (sc_get_time_resolution() != sc_time(1, SC_PS)) {
        fail("SystemC's time resolution is " +
             sc_get_time_resolution().to_string() + ", vusim needs 1 ps");
        return -EIO;
    }
    g_attached = this;
    started_ = true;
    if (from_sc(sc_time_stamp()) > now()) {
        sync_to(now()); // reports the backwards time
        return -EIO;
    }
    if (sc_get_status() == SC_ELABORATION) {
        guarded_start(SC_ZERO_TIME); // elaboration and initialization
    }
    if (!sync_to(now()) || !run_deltas()) {
        return -EIO;
    }
    leave();
    return 0;
}

int kernel::enter()
{
    crossings_++;
    if (!started_ || broken_) {
        return -EIO;
    }
    return sync_to(now()) ? 0 : -EIO;
}

void kernel::leave()
{
    sim_time_t t;

    if (broken_ || !started_) {
        return;
    }
    if (!sc_pending_activity()) {
        if (sim_event_pending(&ev_)) {
            sim_cal_cancel(cal_, &ev_);
        }
        return;
    }
    t = from_sc(sc_time_stamp()) + from_sc(sc_time_to_pending_activity());
    if (sim_event_pending(&ev_)) {
        if (sim_event_time(&ev_) == t) {
            return;
        }
        sim_cal_cancel(cal_, &ev_);
    }
    if (sim_cal_at(cal_, &ev_, t, VUSIM_SC_WAKE_PRIO) != 0) {
        fail("cannot put SystemC's next activity at " + to_sc(t).to_string() +
             " on the calendar");
    }
}

void kernel::wake_fn(struct sim_cal *, struct sim_event *ev)
{
    static_cast<kernel *>(ev->arg)->wake();
}

void kernel::wake()
{
    wakes_++;
    crossings_++;
    if (sync_to(now())) {
        run_deltas();
    }
    leave();
}

} // namespace vusim_sc
