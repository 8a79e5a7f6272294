// SPDX-License-Identifier: MIT
// vusim-sc-ssd: the NAND SSD model (ssd.h) behind virtio-blk.
#include "devices/sc-blk/blk.h"
#include "examples/systemc-ssd/ssd.h"

int sc_main(int argc, char **argv)
{
    return vusim_sc::main(argc, argv, {"sc-ssd", 2, ssd_example::ssd_options,
        [](vusim_sc::options &o) -> vusim_sc::bridge * {
            ssd_example::config cfg;
            if (cfg.parse(o) != 0) {
                return nullptr;
            }
            auto *nand = new ssd_example::ssd("nand", cfg);
            if (!nand->ok()) {
                o.fail(nand->why());
                return nullptr;
            }
            return vusim_sc::storage(o, nand->socket, nand->capacity());
        },
        "backing"});                    // its file: the disk at start
}
