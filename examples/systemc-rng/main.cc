// SPDX-License-Identifier: MIT
// vusim-sc-rng: the LFSR hardware RNG (rng.h) behind virtio-rng.
#include "cosim/systemc/program.h"
#include "examples/systemc-rng/rng.h"

int sc_main(int argc, char **argv)
{
    return vusim_sc::main(argc, argv, {"sc-rng", 4, rng_example::rng_options,
        [](vusim_sc::options &o) {
            auto *rng = new rng_example::hwrng(
                "rng", o.u64("seed", 1),
                o.bytes("rate", 1000000, 1, 1ull << 40));
            return vusim_sc::connect(o, rng->req, rng->dma);
        },
        nullptr, "seed"});              // --seed: in the trace HEADER
}
