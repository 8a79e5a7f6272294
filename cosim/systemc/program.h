// SPDX-License-Identifier: MIT
/*
 * cosim/systemc/program.h - a SystemC model's whole program in one call
 *
 * A user's sc_main fills a vusim_sc::program (the device's name, its
 * virtio id, its options and a build function) and returns
 * vusim_sc::main(argc, argv, prog). That call takes everything `vusim
 * DEVICE` takes: the generic options (--socket-path, --fd, --inband,
 * --clock, --trace, --time-travel, --stats, --print-capabilities, -v,
 * --help, ...), the model's options, and the subcommand `replay TRACE`
 * (re-run a recorded trace against the model, without a guest).
 *
 * build() runs once, during elaboration (the program's time resolution is
 * already 1 ps): it constructs the model and its bridge (bridge.h, or
 * blk.h's blk_bridge), binds them, and returns the bridge. Two options
 * are the library's, for every model: --bus-latency=DURATION and
 * --bus-bandwidth=BYTES_PER_S, the bridge's DMA timing.
 *
 * Threading:   the program's one thread.
 * Errors:      as `vusim DEVICE`: 2 for a bad option (one line naming it),
 *              1 for a run-time failure, 0 otherwise.
 */
#ifndef VUSIM_COSIM_SYSTEMC_PROGRAM_H
#define VUSIM_COSIM_SYSTEMC_PROGRAM_H

#include <functional>
#include <string>

#include "cosim/systemc/bridge.h"

namespace vusim_sc {

struct program {
    const char *name;                   // "sc-ssd": traces, --help, errors
    uint32_t virtio_id;                 // the device type (2 blk, 4 rng)
    const struct dev_optdesc *opts;     // the model's; NULL-name ended
    // Build model and bridge from the parsed options; nullptr with @err
    // set (one line naming the option) if they are wrong.
    std::function<bridge *(const struct dev_opt *opts, size_t n,
                           std::string &err)> build;
};

int main(int argc, char **argv, const program &prog);

} // namespace vusim_sc

#endif
