// SPDX-License-Identifier: MIT
//
// devices/sc-blk/bench.cc - `make bench-systemc` (the program bench/systemc):
// the bridge's cost on this device: the same virtio-blk request workload
// through libvusim-systemc (blk_bridge in front of a zero-time TLM memory)
// and through the native C blk model (registry name "blk", --latency=0),
// both
// hosted in memory (no sockets: only the device path is timed, which is where the bridge adds its work), in interleaved rounds.
// The host is a minimal one of this file (a fixed batch of preallocated
// requests, memcpy for reads and writes), so the figures are the devices'.
//
// Each round: BATCHES kicks of BATCH requests (alternately 4 KiB OUT and
// 4 KiB IN at moving offsets), the calendar run to completion after each
// kick, every status checked. Per request: this thread's CPU time and the
// wall time, median of --rounds rounds per side (min and max beside
// them). Both sides are one thread that never sleeps, so CPU time is the
// work done; wall time adds the time the thread was not running, which on
// a shared 2-core machine (load 10-28) is most of it and differs between
// a round of 1.3 ms and one of 2.5 ms (a longer round is preempted more
// often). R is therefore taken on CPU time; the wall-time ratio is
// printed beside it.
//
// crossing-ns: one vusim -> SystemC crossing that moves SystemC's clock
// (kernel::enter() + leave() after the calendar advanced 1 ns: one
// sc_start), timed over CROSSINGS of them.
//
// The SystemC side runs two rounds per native one: the memory as a plain
// b_transport target, then the same memory granting DMI (the blk front
// then moves data guest <-> memory in one copy, as the native model does).
//
// Last line: systemc-vs-native=R crossing-ns=N systemc-dmi-vs-native=D,
// R = native CPU time per request / SystemC CPU time per request with the
// plain memory, D the same with DMI, medians (1 = no cost; the goal is
// R >= 0.7); N in CPU time.
#include "config.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <string>
#include <vector>

#include "devices/sc-blk/blk.h"

extern "C" {
#include "devices/dev.h"
#include "sim/wallclock.h"
}

using namespace sc_core;

namespace {

constexpr int BATCHES = 200, BATCH = 32;
constexpr uint32_t IO = 4096;
constexpr long CROSSINGS = 200000;
constexpr uint64_t DISK = 64ull << 20;
constexpr uint32_t T_IN = 0, T_OUT = 1; // virtio-blk request types

// Zero-time storage: a TLM memory that annotates nothing. With dmi set it
// also grants DMI to all of itself (hinted by dmi_allowed, as TLM-2.0
// memories do); clearing it revokes the grant.
struct zmem : sc_module {
    tlm_utils::simple_target_socket<zmem> socket;
    std::vector<uint8_t> m;
    bool dmi = false;

    explicit zmem(sc_module_name n) : sc_module(n), socket("socket"), m(DISK)
    {
        socket.register_b_transport(this, &zmem::b_transport);
        socket.register_get_direct_mem_ptr(this, &zmem::get_dmi);
    }
    void set_dmi(bool on)
    {
        dmi = on;
        if (!on) {
            socket->invalidate_direct_mem_ptr(0, DISK - 1);
        }
    }
    bool get_dmi(tlm::tlm_generic_payload &, tlm::tlm_dmi &d)
    {
        d.set_start_address(0);
        d.set_end_address(DISK - 1);
        if (!dmi) {
            return false;
        }
        d.set_dmi_ptr(m.data());
        d.allow_read_write();
        return true;
    }
    void b_transport(tlm::tlm_generic_payload &gp, sc_time &)
    {
        uint64_t a = gp.get_address();
        uint32_t n = gp.get_data_length();

        if (gp.is_read()) {
            std::memcpy(gp.get_data_ptr(), &m[a], n);
        } else if (gp.is_write()) {
            std::memcpy(&m[a], gp.get_data_ptr(), n);
        }
        gp.set_dmi_allowed(dmi);
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

// Wall time and this thread's CPU time, ns.
struct stamp {
    uint64_t wall, cpu;

    static stamp now()
    {
        return {vusim_wallclock_ns(), vusim_thread_cpu_ns()};
    }
};

// Per operation since @t0.
struct fig {
    double wall, cpu;
};

fig since(const stamp &t0, double n)
{
    stamp t1 = stamp::now();

    return {double(t1.wall - t0.wall) / n, double(t1.cpu - t0.cpu) / n};
}

// The bench's host: BATCH requests, refilled before each kick.
struct breq {
    struct dev_req req;
    uint8_t rd[16 + IO], wr[IO + 1];
    bool done;
};

struct bhost {
    breq r[BATCH];
    int next = 0, n = 0;
};

bhost g_host[2];

bhost *host_of(struct dev *d) { return static_cast<bhost *>(d->host_ctx); }

struct dev_req *h_pop(struct dev *d, uint16_t)
{
    bhost *h = host_of(d);

    return h->next < h->n ? &h->r[h->next++].req : nullptr;
}

breq *to_breq(struct dev_req *q) { return reinterpret_cast<breq *>(q); }

int h_read(struct dev_req *q, uint64_t off, void *buf, size_t len)
{
    if (off > q->rd_len || len > q->rd_len - off) {
        return -ERANGE;
    }
    std::memcpy(buf, to_breq(q)->rd + off, len);
    return 0;
}

int h_write(struct dev_req *q, uint64_t off, const void *buf, size_t len)
{
    if (off > q->wr_len || len > q->wr_len - off) {
        return -ERANGE;
    }
    std::memcpy(to_breq(q)->wr + off, buf, len);
    return 0;
}

void h_complete(struct dev_req *q, uint32_t) { to_breq(q)->done = true; }

struct dev_host_ops bench_host_ops; // the optional hooks stay NULL

void attach(struct dev *d, bhost *h)
{
    bench_host_ops.pop = h_pop;
    bench_host_ops.read = h_read;
    bench_host_ops.write = h_write;
    bench_host_ops.complete = h_complete;
    d->host = &bench_host_ops;
    d->host_ctx = h;
}

// One round on @dev: ns per request; exits on a wrong status.
fig round_on(struct dev *dev, struct sim_cal *cal, unsigned seed)
{
    bhost *h = host_of(dev);
    stamp t0 = stamp::now();
    unsigned n = 0;

    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < BATCH; i++, n++) {
            breq *r = &h->r[i];
            bool out = n % 2 == 0;
            uint32_t type = out ? T_OUT : T_IN;
            uint64_t sector = (n / 2 * 8 + seed * 8) % (DISK / 512 - 8);

            std::memset(&r->req, 0, sizeof(r->req));
            r->req.dev = dev;
            r->req.rd_len = out ? 16 + IO : 16;
            r->req.wr_len = out ? 1 : IO + 1;
            std::memcpy(r->rd, &type, 4);
            std::memset(r->rd + 4, 0, 4);
            std::memcpy(r->rd + 8, &sector, 8);
            r->rd[16] = uint8_t(n);
            r->wr[r->req.wr_len - 1] = 0xff;
            r->done = false;
        }
        h->next = 0;
        h->n = BATCH;
        dev->ops->avail(dev, 0);
        sim_cal_run_all(cal);
        for (int i = 0; i < BATCH; i++) {
            breq *r = &h->r[i];

            if (!r->done || r->wr[r->req.wr_len - 1] != 0) {
                std::fprintf(stderr, "bench-systemc: request %u failed\n",
                             n - BATCH + i);
                std::exit(1);
            }
        }
    }
    return since(t0, n);
}

struct stat3 {
    double med, min, max;
};

stat3 stats(const std::vector<fig> &f, double fig::*m)
{
    std::vector<double> v;

    for (const fig &x : f) {
        v.push_back(x.*m);
    }
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

fig crossing_ns(vusim_sc::kernel *k, struct sim_cal *cal)
{
    stamp t0 = stamp::now();

    for (long i = 0; i < CROSSINGS; i++) {
        sim_cal_advance(cal, sim_cal_now(cal) + sim_ns(1));
        k->enter();
        k->leave();
    }
    return since(t0, CROSSINGS);
}

void row(const char *name, const stat3 &c, const stat3 &w)
{
    std::printf("%-22s %8.0f %8.0f %8.0f   %8.0f %8.0f %8.0f\n", name, c.med,
                c.min, c.max, w.med, w.min, w.max);
}

std::string load()
{
    char buf[128] = "?";
    FILE *f = std::fopen("/proc/loadavg", "r");

    if (f) {
        if (!std::fgets(buf, sizeof(buf), f)) {
            buf[0] = 0;
        }
        std::fclose(f);
    }
    std::string s(buf);
    return s.substr(0, s.find('\n'));
}

void usage(FILE *f)
{
    std::fprintf(f,
        "usage: bench/systemc [--rounds=N] [--side=both|systemc|native]\n"
        "  The same virtio-blk workload through libvusim-systemc (zero-time\n"
        "  TLM memory) and the native blk model, N interleaved rounds\n"
        "  (default 15). --side runs one side only (for a profiler; no\n"
        "  ratio is printed).\n");
}

} // namespace

int sc_main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"rounds", required_argument, nullptr, 'r'},
        {"side", required_argument, nullptr, 's'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    struct sim_cal *sc_cal = sim_cal_new(), *nat_cal = sim_cal_new();
    static const struct dev_opt nat_args[] = {{"size", "64M"},
                                              {"latency", "0"}};
    struct dev *sc_dev = nullptr, *nat_dev = nullptr;
    char err[256] = "";
    std::vector<fig> sc_v, dmi_v, nat_v;
    long rounds = 15;
    bool do_sc = true, do_nat = true;
    int c;

    while ((c = getopt_long(argc, argv, "h", lo, nullptr)) != -1) {
        std::string a = optarg ? optarg : "";

        if (c == 'r') {
            rounds = std::strtol(a.c_str(), nullptr, 10);
        } else if (c == 's' && (a == "both" || a == "systemc" ||
                                a == "native")) {
            do_sc = a != "native";
            do_nat = a != "systemc";
        } else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (rounds < 1 || rounds > 100000) {
        std::fprintf(stderr, "bench-systemc: --rounds must be 1..100000\n");
        return 2;
    }

    auto *mem = new zmem("mem");
    auto *disk = new vusim_sc::blk_bridge("disk", "bench", DISK);
    disk->storage.bind(mem->socket);
    if (disk->br.attach(sc_cal, &sc_dev) != 0 ||
        dev_lookup("blk")->create(nat_cal, nat_args, 2, &nat_dev, err,
                                  sizeof(err)) != 0) {
        std::fprintf(stderr, "bench-systemc: cannot set up: %s\n", err);
        return 1;
    }
    attach(sc_dev, &g_host[0]);
    attach(nat_dev, &g_host[1]);
    // warm-up: workers spawned, pages touched, on both sides
    round_on(sc_dev, sc_cal, 0);
    round_on(nat_dev, nat_cal, 0);
    uint64_t cx0 = disk->br.kern()->crossings();
    uint64_t wk0 = disk->br.kern()->wakes();
    for (long r = 0; r < rounds; r++) {
        if (do_sc) {
            sc_v.push_back(round_on(sc_dev, sc_cal, unsigned(r + 1)));
            mem->set_dmi(true);
            dmi_v.push_back(round_on(sc_dev, sc_cal, unsigned(r + 1)));
            mem->set_dmi(false);
        }
        if (do_nat) {
            nat_v.push_back(round_on(nat_dev, nat_cal, unsigned(r + 1)));
        }
    }
    uint64_t cx = disk->br.kern()->crossings() - cx0;
    uint64_t wk = disk->br.kern()->wakes() - wk0;
    std::printf("requests per round: %d (4 KiB OUT/IN alternating, "
                "batches of %d), %ld interleaved rounds\n",
                BATCHES * BATCH, BATCH, rounds);
    std::printf("load: %s\n", load().c_str());
    std::printf("%-22s %8s %8s %8s   %8s %8s %8s\n", "ns per request",
                "cpu med", "min", "max", "wall med", "min", "max");
    stat3 sc{}, sw{}, dc{}, dw{}, nc{}, nw{};
    if (do_sc) {
        sc = stats(sc_v, &fig::cpu);
        sw = stats(sc_v, &fig::wall);
        row("systemc (zero-time)", sc, sw);
        dc = stats(dmi_v, &fig::cpu);
        dw = stats(dmi_v, &fig::wall);
        row("systemc, DMI memory", dc, dw);
    }
    if (do_nat) {
        nc = stats(nat_v, &fig::cpu);
        nw = stats(nat_v, &fig::wall);
        row("native blk", nc, nw);
    }
    if (do_sc) {
        std::printf("crossings per request: %.3f, wakes per request: "
                    "%.3f\n",
                    double(cx) / double(2 * rounds * BATCHES * BATCH),
                    double(wk) / double(2 * rounds * BATCHES * BATCH));
        std::printf("through DMI: %" PRIu64 " requests\n",
                    disk->front.get_counts().dmi);
    }
    if (!do_sc || !do_nat) {
        return 0;
    }
    fig cxf = crossing_ns(disk->br.kern(), sc_cal);
    std::printf("one crossing that moves SystemC's clock: %.0f ns cpu, "
                "%.0f ns wall\n", cxf.cpu, cxf.wall);
    std::printf("wall-time ratio (noise on a shared machine): %.2f, "
                "DMI %.2f\n", nw.med / sw.med, nw.med / dw.med);
    std::printf("systemc-vs-native=%.2f crossing-ns=%.0f "
                "systemc-dmi-vs-native=%.2f\n",
                nc.med / sc.med, cxf.cpu, nc.med / dc.med);
    return 0;
}
