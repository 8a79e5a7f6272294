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

options::options(const struct dev_opt *opts, size_t n,
                 const device_desc &desc)
    : opts_(opts), n_(n), desc_(desc)
{
}

const struct dev_opt *options::find(const char *name) const
{
    return dev_opt_find(opts_, n_, name);
}

bool options::has(const char *name) const
{
    return find(name) != nullptr;
}

// Keep the first error; true when @rc is 0.
bool options::check(int rc, const char *buf)
{
    if (rc != 0 && err_.empty()) {
        err_ = buf;
    }
    return rc == 0;
}

std::string options::str(const char *name, const std::string &def)
{
    const struct dev_opt *o = find(name);

    return o && o->value ? std::string(o->value) : def;
}

uint64_t options::u64(const char *name, uint64_t def, uint64_t min,
                      uint64_t max)
{
    const struct dev_opt *o = find(name);
    char e[256] = "";
    uint64_t v;

    return o && check(dev_opt_u64(o, min, max, &v, e, sizeof(e)), e) ? v
                                                                      : def;
}

uint64_t options::bytes(const char *name, uint64_t def, uint64_t min,
                        uint64_t max)
{
    const struct dev_opt *o = find(name);
    char e[256] = "";
    uint64_t v;

    return o && check(dev_opt_bytes(o, min, max, &v, e, sizeof(e)), e) ? v
                                                                        : def;
}

sim_time_t options::duration(const char *name, sim_time_t def)
{
    const struct dev_opt *o = find(name);
    char e[256] = "";
    sim_time_t v;

    return o && check(dev_opt_duration(o, &v, e, sizeof(e)), e) ? v : def;
}

void options::fail(const std::string &why)
{
    if (err_.empty()) {
        err_ = why.empty() ? "the model refused its options" : why;
    }
}

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


// SystemC elaborates once: a second create() in one process (another
// connection, a second replay) is refused.
int create(struct sim_cal *cal, const struct dev_opt *opts, size_t n,
           struct dev **out, char *err, size_t len)
{
    device_desc d;
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
    d.name = g_prog->name;
    d.virtio_id = g_prog->virtio_id;
    options o(opts, n, d);
    sim_time_t lat = o.duration("bus-latency", 0);
    uint64_t bw = o.u64("bus-bandwidth", 0);
    b = o.ok() ? g_prog->build(o) : nullptr;
    if (!o.ok() || !b) {
        std::snprintf(err, len, "%s", o.ok() ? "the model could not be built"
                                             : o.error().c_str());
        return -EINVAL;
    }
    b->set_dma_timing(to_sc(lat), bw);
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
    g_ops.image_opt = prog.image_opt;
    g_ops.seed_opt = prog.seed_opt;
    bridge::fill_ops(&g_ops);
    return vusim_main(argc, argv, &g_ops);
}

} // namespace vusim_sc
