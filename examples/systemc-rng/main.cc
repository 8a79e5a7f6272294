// SPDX-License-Identifier: MIT
// vusim-sc-rng: the LFSR hardware RNG (rng.h) behind virtio-rng.
#include "cosim/systemc/program.h"

#include "examples/systemc-rng/rng.h"

int sc_main(int argc, char **argv)
{
    vusim_sc::program prog{"sc-rng", 4, rng_example::rng_options, nullptr};

    prog.build = [](const struct dev_opt *opts, size_t n,
                    std::string &err) -> vusim_sc::bridge * {
        uint64_t seed, rate;
        char why[256];

        if (rng_example::hwrng::parse(opts, n, &seed, &rate, why,
                                      sizeof(why)) != 0) {
            err = why;
            return nullptr;
        }
        vusim_sc::device_desc d;
        d.name = "sc-rng";
        d.virtio_id = 4;
        auto *rng = new rng_example::hwrng("rng", seed, rate);
        auto *br = new vusim_sc::bridge("bridge", d);
        br->req_socket.bind(rng->req);
        rng->dma.bind(br->dma_socket);
        return br;
    };
    return vusim_sc::main(argc, argv, prog);
}
