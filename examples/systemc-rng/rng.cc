// SPDX-License-Identifier: MIT
/* The LFSR hardware RNG (rng.h). Built out of the tree too (README), so
 * it needs nothing of vusim's build but the installed headers. */
#include <cerrno>
#include <vector>

#include "cosim/systemc/bridge.h"
#include "examples/systemc-rng/rng.h"

extern "C" {
#include "sim/time.h"
}

using namespace sc_core;

namespace rng_example {

const struct dev_optdesc rng_options[] = {
    {"seed", "N", "LFSR seed (default 1; 0 means 1)"},
    {"rate", "BYTES_PER_S", "output rate (default 1000000)"},
    {nullptr, nullptr, nullptr},
};

hwrng::hwrng(sc_module_name name, uint64_t seed, uint64_t bytes_per_s)
    : sc_module(name), req("req"), dma("dma"), lfsr_(seed ? seed : 1),
      rate_(bytes_per_s)
{
    req.register_b_transport(this, &hwrng::b_transport);
}

uint8_t hwrng::next_byte()
{
    uint8_t b = 0;

    for (int i = 0; i < 8; i++) {
        uint64_t out = lfsr_ & 1;

        lfsr_ >>= 1;
        if (out) {
            lfsr_ ^= 0xD800000000000000ull;
        }
        b = static_cast<uint8_t>((b << 1) | out);
    }
    return b;
}

void hwrng::b_transport(tlm::tlm_generic_payload &gp, sc_time &delay)
{
    auto *rq = gp.get_extension<vusim_sc::request>();
    sc_time start = sc_time_stamp() + delay;
    sim_time_t t = 0;

    if (!rq) {
        gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        return;
    }
    std::vector<uint8_t> buf(rq->wr_len);
    for (auto &b : buf) {
        b = next_byte();
    }
    if (start < busy_until_) {
        start = busy_until_;
    }
    sim_time_for_bytes(buf.size(), rate_, &t);
    busy_until_ = start + sc_time::from_value(t);
    delay = busy_until_ - sc_time_stamp();

    tlm::tlm_generic_payload w;
    w.set_command(tlm::TLM_WRITE_COMMAND);
    w.set_address(rq->dma_addr);
    w.set_data_ptr(buf.data());
    w.set_data_length(static_cast<unsigned>(buf.size()));
    w.set_streaming_width(static_cast<unsigned>(buf.size()));
    w.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    dma->b_transport(w, delay);
    rq->used_len = w.is_response_ok() ? rq->wr_len : 0;
    gp.set_response_status(w.get_response_status());
}

} // namespace rng_example
