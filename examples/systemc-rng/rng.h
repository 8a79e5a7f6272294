// SPDX-License-Identifier: MIT
/*
 * examples/systemc-rng/rng.h - a hardware random number generator behind
 * virtio-rng, on the bridge's generic request interface
 *
 * Model. A 64-bit Galois LFSR (taps 64, 63, 61, 60: polynomial
 * 0xD800000000000000), seeded from --seed (0 is replaced by 1, the LFSR's
 * one forbidden state), clocked 8 times per output byte. The device fills
 * each request's writable part through the bridge's DMA socket and takes
 * bytes / --rate to do it (annotated, loosely timed); requests are served
 * one after another, as one generator would, so a request waits for the
 * one before it. Data: the byte stream follows the order requests reach
 * the model, which is pop order.
 *
 * Threading:   SystemC's.
 * Determinism: the seed, the rate and the request sizes and times.
 */
#ifndef VUSIM_EXAMPLES_SYSTEMC_RNG_H
#define VUSIM_EXAMPLES_SYSTEMC_RNG_H

#include <cstdint>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

extern "C" {
#include "devices/dev.h"
}

namespace rng_example {

extern const struct dev_optdesc rng_options[];

class hwrng : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<hwrng> req;     // from the bridge
    tlm_utils::simple_initiator_socket<hwrng> dma;  // to the bridge

    hwrng(sc_core::sc_module_name name, uint64_t seed,
          uint64_t bytes_per_s);

private:
    void b_transport(tlm::tlm_generic_payload &gp, sc_core::sc_time &delay);
    uint8_t next_byte();

    uint64_t lfsr_;
    uint64_t rate_;
    sc_core::sc_time busy_until_;
};

} // namespace rng_example

#endif
