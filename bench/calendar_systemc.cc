// SPDX-License-Identifier: MIT
//
// bench/calendar-systemc - the SystemC side of bench/calendar: the hold
// model of bench/calendar-hold.h on the SystemC kernel, in two idioms.
//
// usage: calendar-systemc N TARGET_NS event|trigger
//
// event    N sc_events, each with an SC_METHOD sensitive to it
//          (dont_initialize); the method re-notifies its event after the
//          next delay of the shared table;
// trigger  N SC_METHODs, each re-triggering itself with next_trigger(delay)
//          (no sc_event of its own: the lighter idiom).
// Either way the earliest pending notification fires next, as in the
// calendar. Time resolution is 1 ps, the calendar's unit. The run stops
// (sc_stop) once TARGET_NS of wall time is over and the check event has
// passed, measured like the vusim side (struct hold_meter), and prints:
//   systemc_eps=X events=M check=T bytes_per_event=B
// where B is the allocator's bytes in use (mallinfo2) after elaboration and
// the first notifications, minus before, over N.
#include "config.h"

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <memory>
#include <vector>

#include "bench/calendar-hold.h"

namespace {

size_t heap_inuse()
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

struct hold : sc_core::sc_module {
    std::vector<uint64_t> delay;
    std::unique_ptr<sc_core::sc_event[]> ev;
    size_t n;
    bool trigger;
    uint64_t next = 0, fired = 0, check = 0;
    uint64_t target_ns;
    size_t inuse0;
    double bytes_per_event = 0;
    struct hold_meter meter {};

    SC_HAS_PROCESS(hold);

    hold(sc_core::sc_module_name name, size_t n_, uint64_t target,
         bool trig, size_t before)
        : sc_core::sc_module(name), delay(HOLD_NDELAYS),
          ev(trig ? nullptr : new sc_core::sc_event[n_]), n(n_),
          trigger(trig), target_ns(target), inuse0(before)
    {
        hold_delays(delay.data());
        for (size_t i = 0; i < n; i++) {
            sc_core::sc_spawn_options opt;

            opt.spawn_method();
            if (trigger) {
                // Runs once at time 0 to set its first trigger.
                sc_core::sc_spawn(sc_bind(&hold::fire_trigger, this),
                                  nullptr, &opt);
            } else {
                opt.dont_initialize();
                opt.set_sensitivity(&ev[i]);
                sc_core::sc_spawn(sc_bind(&hold::fire_event, this, i),
                                  nullptr, &opt);
            }
        }
        SC_METHOD(kick);
    }

    sc_core::sc_time next_delay()
    {
        return sc_core::sc_time::from_value(
            delay[next++ & (HOLD_NDELAYS - 1)]);
    }

    // Runs once at time 0, after the processes' first runs: the event
    // idiom's first notifications, then the memory figure and the meter.
    void kick()
    {
        if (!trigger) {
            for (size_t i = 0; i < n; i++) {
                ev[i].notify(next_delay());
            }
        }
        bytes_per_event = (double)(heap_inuse() - inuse0) / (double)n;
        hold_meter_start(&meter, target_ns, fired);
    }

    // True when the run is over.
    bool count()
    {
        if (++fired == HOLD_CHECK_AT) {
            check = sc_core::sc_time_stamp().value();
        }
        if (fired % HOLD_BATCH == 0 && hold_meter_tick(&meter, fired)) {
            sc_core::sc_stop();
            return true;
        }
        return false;
    }

    void fire_event(size_t i)
    {
        if (!count()) {
            ev[i].notify(next_delay());
        }
    }

    void fire_trigger()
    {
        // The first run, at time 0 in the initialization phase, only sets
        // the first trigger (as kick() notifies the events' first time).
        if (sc_core::sc_delta_count() == 0) {
            next_trigger(next_delay());
            return;
        }
        if (!count()) {
            next_trigger(next_delay());
        }
    }
};

} // namespace

int sc_main(int argc, char *argv[])
{
    if (argc != 4 || (std::strcmp(argv[3], "event") != 0 &&
                      std::strcmp(argv[3], "trigger") != 0)) {
        std::fprintf(stderr, "usage: %s N TARGET_NS event|trigger\n",
                     argv[0]);
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
    size_t before = heap_inuse();
    hold top("hold", n, target, std::strcmp(argv[3], "trigger") == 0,
             before);
    sc_core::sc_start();
    std::printf("systemc_eps=%.0f events=%" PRIu64 " check=%" PRIu64
                " bytes_per_event=%.1f\n", top.meter.eps, top.fired,
                top.check, top.bytes_per_event);
    return 0;
}
