// SPDX-License-Identifier: MIT
/*
 * cosim/systemc/program.h - a SystemC model's whole program in one call
 *
 * A user's sc_main returns vusim_sc::main(argc, argv, prog): prog names
 * the device, its virtio id, its options (for --help and checking) and a
 * build function. That call takes everything `vusim DEVICE` takes: the
 * generic options (--socket-path, --fd, --inband, --clock, --trace,
 * --time-travel, --stats, --print-capabilities, -v, --help, ...), the
 * model's options, and the subcommand `replay TRACE` (re-run a recorded
 * trace against the model, without a guest). A whole program:
 *
 *   int sc_main(int argc, char **argv)
 *   {
 *       return vusim_sc::main(argc, argv, {"sc-rng", 4, rng_options,
 *           [](vusim_sc::options &o) {
 *               auto *m = new hwrng("rng", o.u64("seed", 1),
 *                                   o.bytes("rate", 1000000, 1));
 *               return vusim_sc::connect(o, m->req, m->dma);
 *           }});
 *   }
 *
 * build() runs once, during elaboration (the program's time resolution is
 * already 1 ps): it reads its options through @o, constructs the model,
 * and returns the bridge that fronts it: connect() for a model on the
 * generic request interface (bridge.h), or a helper that a device folder
 * built on this library gives (the SystemC virtio-blk adapter's storage(),
 * for a TLM memory or flash model). A bad option value (or the model's
 * own o.fail()) makes the program exit 2 with one line naming it,
 * whatever build() returns. Two options are the library's, for every
 * model: --bus-latency=DURATION and --bus-bandwidth=BYTES_PER_S, the
 * bridge's DMA timing.
 *
 * Owns:        the bridge and model build() made (for the process's life:
 *              SystemC elaborates once).
 * Threading:   the program's one thread.
 * Errors:      as `vusim DEVICE`: 2 for a bad option (one line naming it),
 *              1 for a run-time failure, 0 otherwise.
 * Determinism: as the model's.
 */
#ifndef VUSIM_COSIM_SYSTEMC_PROGRAM_H
#define VUSIM_COSIM_SYSTEMC_PROGRAM_H

#include <functional>
#include <string>

#include "cosim/systemc/bridge.h"

extern "C" {
#include "sim/time.h"
}

namespace vusim_sc {

// The model's options as build() reads them. Each getter returns the
// option's value, or @def when it is not given; a bad value (malformed,
// or outside [min, max]) is recorded (the first one wins, with the
// device API's one-line message) and @def returned.
class options {
public:
    options(const struct dev_opt *opts, size_t n, const device_desc &desc);

    bool has(const char *name) const;
    bool flag(const char *name) const { return has(name); }
    std::string str(const char *name, const std::string &def = "");
    uint64_t u64(const char *name, uint64_t def, uint64_t min = 0,
                 uint64_t max = UINT64_MAX);
    // A byte count: K, M, G, T suffixes (powers of 1024).
    uint64_t bytes(const char *name, uint64_t def, uint64_t min = 0,
                   uint64_t max = UINT64_MAX);
    // A duration ("250ns", "1.5ms").
    sim_time_t duration(const char *name, sim_time_t def);

    // The model's own complaint (a combination of values, a file that
    // does not open): recorded like a bad value.
    void fail(const std::string &why);
    bool ok() const { return err_.empty(); }
    const std::string &error() const { return err_; }

    // The program's device: name and virtio id (for connect()).
    const device_desc &desc() const { return desc_; }
    // The raw options, for the device API's dev_opt_* helpers.
    const struct dev_opt *raw() const { return opts_; }
    size_t count() const { return n_; }

private:
    const struct dev_opt *find(const char *name) const;
    bool check(int rc, const char *buf);

    const struct dev_opt *opts_;
    size_t n_;
    device_desc desc_;
    std::string err_;
};

struct program {
    const char *name;                   // "sc-ssd": traces, --help, errors
    uint32_t virtio_id;                 // the device type (2 blk, 4 rng)
    const struct dev_optdesc *opts;     // the model's; NULL-name ended
    // Build model and bridge (see above); nullptr if it cannot (with
    // o.fail() saying why).
    std::function<bridge *(options &o)> build;
    // Optional (devices/dev.h): the option naming the model's image file,
    // which a trace hashes and replay needs; the option seeding it.
    const char *image_opt = nullptr;
    const char *seed_opt = nullptr;
};

int main(int argc, char **argv, const program &prog);

// A bridge for the program's device (o.desc(), with @num_queues queues of
// up to @queue_size entries and @config_size bytes of config space), its
// request socket bound to the model's @req target socket and the model's
// @dma initiator socket bound to its DMA socket.
template <class TARGET, class INITIATOR>
bridge *connect(const options &o, TARGET &req, INITIATOR &dma,
                model_if *hooks = nullptr, uint16_t num_queues = 1,
                uint16_t queue_size = 1024, uint32_t config_size = 0)
{
    device_desc d = o.desc();

    d.num_queues = num_queues;
    d.queue_size_max = queue_size;
    d.config_size = config_size;
    auto *b = new bridge("bridge", d, hooks);
    b->req_socket.bind(req);
    dma.bind(b->dma_socket);
    return b;
}

} // namespace vusim_sc

#endif
