// SPDX-License-Identifier: MIT
//
// bench/systemc - the bridge's cost: the same virtio-blk request workload
// through libvusim-systemc (blk_bridge in front of a zero-time TLM memory)
// and through the native C blk model (devices/blk, --latency=0), both
// hosted in memory (no sockets: only the device path is
// timed, which is where the bridge adds its work), in interleaved rounds.
// The host is a minimal one of this file (a fixed batch of preallocated
// requests, memcpy for reads and writes), so the figures are the devices'.
//
// Each round: BATCHES kicks of BATCH requests (alternately 4 KiB OUT and
// 4 KiB IN at moving offsets), the calendar run to completion after each
// kick, every status checked. Wall time per request, median of ROUNDS
// rounds per side (min and max beside it).
//
// crossing-ns: one vusim -> SystemC crossing that moves SystemC's clock
// (kernel::enter() + leave() after the calendar advanced 1 ns: one
// sc_start), timed over CROSSINGS of them.
//
// Last line: systemc-vs-native=R crossing-ns=N, R = native time per
// request / SystemC time per request (1 = no cost; the goal is >= 0.7).
#include "config.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "cosim/systemc/blk.h"

extern "C" {
#include "devices/dev.h"
extern const struct dev_ops dev_blk_ops; // devices/blk/blk.h is C-only
}

using namespace sc_core;

namespace {

constexpr int ROUNDS = 9, BATCHES = 200, BATCH = 32;
constexpr uint32_t IO = 4096;
constexpr long CROSSINGS = 200000;
constexpr uint64_t DISK = 64ull << 20;
constexpr uint32_t T_IN = 0, T_OUT = 1; // virtio-blk request types

// Zero-time storage: a TLM memory that annotates nothing.
struct zmem : sc_module {
    tlm_utils::simple_target_socket<zmem> socket;
    std::vector<uint8_t> m;

    explicit zmem(sc_module_name n) : sc_module(n), socket("socket"), m(DISK)
    {
        socket.register_b_transport(this, &zmem::b_transport);
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
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

uint64_t now_ns()
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
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
double round_on(struct dev *dev, struct sim_cal *cal, unsigned seed)
{
    bhost *h = host_of(dev);
    uint64_t t0 = now_ns();
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
    return double(now_ns() - t0) / n;
}

struct stat3 {
    double med, min, max;
};

stat3 stats(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

double crossing_ns(vusim_sc::kernel *k, struct sim_cal *cal)
{
    uint64_t t0 = now_ns();

    for (long i = 0; i < CROSSINGS; i++) {
        sim_cal_advance(cal, sim_cal_now(cal) + sim_ns(1));
        k->enter();
        k->leave();
    }
    return double(now_ns() - t0) / CROSSINGS;
}

} // namespace

int sc_main(int, char **)
{
    struct sim_cal *sc_cal = sim_cal_new(), *nat_cal = sim_cal_new();
    static const struct dev_opt nat_args[] = {{"size", "64M"},
                                              {"latency", "0"}};
    struct dev *sc_dev = nullptr, *nat_dev = nullptr;
    char err[256];
    std::vector<double> sc_v, nat_v;

    auto *mem = new zmem("mem");
    auto *disk = new vusim_sc::blk_bridge("disk", "bench", DISK);
    disk->storage.bind(mem->socket);
    if (disk->br.attach(sc_cal, &sc_dev) != 0 ||
        dev_blk_ops.create(nat_cal, nat_args, 2, &nat_dev, err,
                           sizeof(err)) != 0) {
        std::fprintf(stderr, "bench-systemc: cannot set up: %s\n", err);
        return 1;
    }
    attach(sc_dev, &g_host[0]);
    attach(nat_dev, &g_host[1]);
    // warm-up: workers spawned, pages touched, on both sides
    round_on(sc_dev, sc_cal, 0);
    round_on(nat_dev, nat_cal, 0);
    for (int r = 0; r < ROUNDS; r++) {
        sc_v.push_back(round_on(sc_dev, sc_cal, unsigned(r + 1)));
        nat_v.push_back(round_on(nat_dev, nat_cal, unsigned(r + 1)));
    }
    stat3 s = stats(sc_v), n = stats(nat_v);
    double cx = crossing_ns(disk->br.kern(), sc_cal);
    std::printf("requests per round: %d (4 KiB OUT/IN alternating, "
                "batches of %d), %d interleaved rounds\n",
                BATCHES * BATCH, BATCH, ROUNDS);
    std::printf("%-22s %10s %10s %10s  (ns per request)\n", "", "median",
                "min", "max");
    std::printf("%-22s %10.0f %10.0f %10.0f\n", "systemc (zero-time)",
                s.med, s.min, s.max);
    std::printf("%-22s %10.0f %10.0f %10.0f\n", "native blk", n.med, n.min,
                n.max);
    std::printf("crossings per request: %.2f (%" PRIu64 " wakes)\n",
                double(disk->br.kern()->crossings()) /
                    double((ROUNDS + 1) * BATCHES * BATCH),
                disk->br.kern()->wakes());
    std::printf("systemc-vs-native=%.2f crossing-ns=%.0f\n", n.med / s.med,
                cx);
    return 0;
}
