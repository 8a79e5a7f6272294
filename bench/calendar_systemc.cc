// SPDX-License-Identifier: MIT
//
// bench/calendar-systemc - the SystemC side of bench/calendar: the hold
// model of bench/calendar-hold.h on the SystemC kernel.
//
// usage: calendar-systemc N TARGET_NS
//
// N sc_events, each with an SC_METHOD sensitive to it (dont_initialize);
// the method re-notifies its event after the next delay of the shared
// table, so the earliest pending notification fires next, as in the
// calendar. Time resolution is 1 ps, the calendar's unit. The run stops
// (sc_stop) after TARGET_NS of wall time, measured like the vusim side
// (struct hold_meter), and prints: systemc_eps=X events=M check=T
#include "config.h"

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "bench/calendar-hold.h"

namespace {

struct hold : sc_core::sc_module {
    std::vector<uint64_t> delay;
    std::unique_ptr<sc_core::sc_event[]> ev;
    size_t n;
    uint64_t next = 0, fired = 0, check = 0;
    uint64_t target_ns;
    struct hold_meter meter {};

    SC_HAS_PROCESS(hold);

    hold(sc_core::sc_module_name name, size_t n_, uint64_t target)
        : sc_core::sc_module(name), delay(HOLD_NDELAYS),
          ev(new sc_core::sc_event[n_]), n(n_), target_ns(target)
    {
        hold_delays(delay.data());
        for (size_t i = 0; i < n; i++) {
            sc_core::sc_spawn_options opt;

            opt.spawn_method();
            opt.dont_initialize();
            opt.set_sensitivity(&ev[i]);
            sc_core::sc_spawn(sc_bind(&hold::fire, this, i), nullptr, &opt);
        }
        SC_METHOD(kick);
    }

    sc_core::sc_time next_delay()
    {
        return sc_core::sc_time::from_value(
            delay[next++ & (HOLD_NDELAYS - 1)]);
    }

    // Runs once at time 0: the first notification of every event.
    void kick()
    {
        for (size_t i = 0; i < n; i++) {
            ev[i].notify(next_delay());
        }
        hold_meter_start(&meter, target_ns, fired);
    }

    void fire(size_t i)
    {
        if (++fired == HOLD_CHECK_AT) {
            check = sc_core::sc_time_stamp().value();
        }
        if (fired % HOLD_BATCH == 0 && hold_meter_tick(&meter, fired)) {
            sc_core::sc_stop();
            return;
        }
        ev[i].notify(next_delay());
    }
};

} // namespace

int sc_main(int argc, char *argv[])
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s N TARGET_NS\n", argv[0]);
        return 2;
    }
    size_t n = std::strtoull(argv[1], nullptr, 10);
    uint64_t target = std::strtoull(argv[2], nullptr, 10);
    if (n == 0 || target == 0) {
        std::fprintf(stderr, "%s: N and TARGET_NS must be positive\n",
                     argv[0]);
        return 2;
    }
    sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO,
                                            sc_core::SC_DO_NOTHING);
    hold top("hold", n, target);
    sc_core::sc_start();
    std::printf("systemc_eps=%.0f events=%" PRIu64 " check=%" PRIu64 "\n",
                top.meter.best_eps, top.fired, top.check);
    return 0;
}
