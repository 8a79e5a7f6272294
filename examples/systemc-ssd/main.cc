// SPDX-License-Identifier: MIT
// vusim-sc-ssd: the NAND SSD model (ssd.h) behind virtio-blk.
#include "cosim/systemc/blk.h"
#include "cosim/systemc/program.h"

#include "examples/systemc-ssd/ssd.h"

int sc_main(int argc, char **argv)
{
    vusim_sc::program prog{"sc-ssd", 2, ssd_example::ssd_options, nullptr};

    prog.build = [](const struct dev_opt *opts, size_t n,
                    std::string &err) -> vusim_sc::bridge * {
        ssd_example::config cfg;
        char why[256];

        if (cfg.parse(opts, n, why, sizeof(why)) != 0) {
            err = why;
            return nullptr;
        }
        auto *nand = new ssd_example::ssd("nand", cfg);
        if (!nand->ok()) {
            err = nand->why();
            return nullptr;
        }
        auto *disk = new vusim_sc::blk_bridge("disk", "sc-ssd",
                                              nand->capacity());
        disk->storage.bind(nand->socket);
        return &disk->br;
    };
    return vusim_sc::main(argc, argv, prog);
}
