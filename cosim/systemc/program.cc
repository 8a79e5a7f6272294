// SPDX-License-Identifier: MIT
/*
 * vusim_sc::main (program.h): a dev_ops for the user's model, whose
 * create() runs the user's build() and attaches the bridge, handed to the
 * vusim program's vusim_main().
 */
#include "config.h"

#include <cerrno>
#include <cstdio>
#include <vector>

#include "cosim/systemc/program.h"

extern "C" {
#include "cosim/program/vusim-main.h"
#include "sim/time.h"
}

namespace vusim_sc {

namespace {

const program *g_prog;
std::vector<struct dev_optdesc> g_opts;
struct dev_ops g_ops;
bridge *g_br;

const struct dev_optdesc bus_opts[] = {
    {"bus-latency", "DURATION", "each DMA access of the model: this much "
                                "annotated latency (default 0)"},
    {"bus-bandwidth", "BYTES_PER_S", "and its bytes at this rate (default 0 "
                                     "= no limit)"},
};

int bus_timing(const struct dev_opt *opts, size_t n, bridge *b, char *err,
               size_t len)
{
    const struct dev_opt *o;
    sim_time_t lat = 0;
    uint64_t bw = 0;

    if ((o = dev_opt_find(opts, n, "bus-latency")) &&
        dev_opt_duration(o, &lat, err, len)) {
        return -EINVAL;
    }
    if ((o = dev_opt_find(opts, n, "bus-bandwidth")) &&
        dev_opt_u64(o, 0, UINT64_MAX, &bw, err, len)) {
        return -EINVAL;
    }
    b->set_dma_timing(to_sc(lat), bw);
    return 0;
}

// SystemC elaborates once: a second create() in one process (another
// connection, a second replay) is refused.
int create(struct sim_cal *cal, const struct dev_opt *opts, size_t n,
           struct dev **out, char *err, size_t len)
{
    std::string why;
    bridge *b;
    int rc;

    if (g_br) {
        std::snprintf(err, len, "a SystemC model is built once per process");
        return -EBUSY;
    }
    rc = dev_opts_check(&g_ops, opts, n, err, len);
    if (rc) {
        return rc;
    }
    b = g_prog->build(opts, n, why);
    if (!b) {
        std::snprintf(err, len, "%s", why.c_str());
        return -EINVAL;
    }
    rc = bus_timing(opts, n, b, err, len);
    if (rc) {
        return rc;
    }
    rc = b->attach(cal, out, &g_ops);
    if (rc) {
        std::snprintf(err, len, "%s", b->kern() && b->kern()->broken()
                                          ? b->kern()->error().c_str()
                                          : "SystemC could not start");
        return rc;
    }
    g_br = b;
    return 0;
}

} // namespace

int main(int argc, char **argv, const program &prog)
{
    g_prog = &prog;
    for (const struct dev_optdesc *o = prog.opts; o && o->name; o++) {
        g_opts.push_back(*o);
    }
    for (const auto &o : bus_opts) {
        g_opts.push_back(o);
    }
    g_opts.push_back({nullptr, nullptr, nullptr});
    g_ops.name = prog.name;
    g_ops.virtio_id = prog.virtio_id;
    g_ops.opts = g_opts.data();
    g_ops.create = create;
    bridge::fill_ops(&g_ops);
    return vusim_main(argc, argv, &g_ops);
}

} // namespace vusim_sc
