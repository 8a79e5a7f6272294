// SPDX-License-Identifier: MIT
/*
 * tests/systemc/test_coupling.cc - units of libvusim-systemc: the time
 * coupling (kernel.h) and the bridge's model interface (bridge.h), against
 * the in-memory fakehost.
 *
 * SystemC's kernel is one per process and elaborates once, so every case
 * runs in a child process of its own (fork before SystemC is touched); the
 * child checks with CHECK() and exits non-zero on the first failure, and
 * the CUnit case asserts on its exit status.
 */
#include "config.h"

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "devices/sc-blk/blk.h"
#include "cosim/systemc/bridge.h"
#include "cosim/systemc/kernel.h"

extern "C" {
#include "sim/log.h"
#include "tests/cu_run.h"
#include "tests/unit/devices/fakehost.h"
}

using namespace sc_core;
using vusim_sc::bridge;
using vusim_sc::device_desc;
using vusim_sc::kernel;
using vusim_sc::request;

#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,      \
                         __LINE__, #c);                                      \
            std::exit(1);                                                    \
        }                                                                    \
    } while (0)

static void in_child(void (*fn)())
{
    pid_t pid = fork();
    int st = 0;

    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        fn();
        std::fflush(nullptr);
        _exit(0);
    }
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- the order at one time ------------------------------------------ */

static std::vector<std::string> g_log;
static struct sim_cal *g_cal;

// Record @what; the two clocks must agree whenever either side acts.
static void note(const std::string &what)
{
    CHECK(vusim_sc::from_sc(sc_time_stamp()) == sim_cal_now(g_cal));
    g_log.push_back(what + "@" + std::to_string(sim_cal_now(g_cal) / 1000));
}

struct order_mod : sc_module {
    sc_event cross_ev, d_ev;

    SC_HAS_PROCESS(order_mod);
    explicit order_mod(sc_module_name n) : sc_module(n)
    {
        SC_THREAD(timed);
        SC_METHOD(on_cross);
        sensitive << cross_ev;
        dont_initialize();
    }
    void timed()
    {
        wait(10, SC_NS);
        note("sc");
        d_ev.notify(SC_ZERO_TIME);
        wait(d_ev);
        note("sc-delta");
        wait(5, SC_NS);
        note("sc");
    }
    void on_cross() { note("sc-after-cross"); }
};

static order_mod *g_om;
static kernel *g_k;

// A vusim event that looks at SystemC: a crossing.
static void ev_note(struct sim_cal *, struct sim_event *ev)
{
    CHECK(g_k->enter() == 0);
    note(static_cast<const char *>(ev->arg));
    g_k->leave();
}

// One that also pokes it: a delta notification at the crossing's time.
static void ev_cross(struct sim_cal *, struct sim_event *ev)
{
    CHECK(g_k->enter() == 0);
    note(static_cast<const char *>(ev->arg));
    note("cross");
    g_om->cross_ev.notify(SC_ZERO_TIME);
    g_k->leave();
}

static void child_order()
{
    struct sim_event e[5];
    static const char *names[] = {"cal-5", "cal0", "cal5", "cal", "cal"};

    g_cal = sim_cal_new();
    g_om = new order_mod("om");
    g_k = new kernel(g_cal, "order");
    CHECK(g_k->start() == 0);
    sim_event_init(&e[0], ev_note, (void *)names[0]);
    sim_event_init(&e[1], ev_cross, (void *)names[1]);
    sim_event_init(&e[2], ev_note, (void *)names[2]);
    sim_event_init(&e[3], ev_cross, (void *)names[3]);
    sim_event_init(&e[4], ev_note, (void *)names[4]);
    // Scheduled in an order unlike the run order: the calendar decides.
    CHECK(sim_cal_at(g_cal, &e[2], sim_ns(10), 5) == 0);
    CHECK(sim_cal_at(g_cal, &e[4], sim_ns(15), 0) == 0);
    CHECK(sim_cal_at(g_cal, &e[1], sim_ns(10), 0) == 0);
    CHECK(sim_cal_at(g_cal, &e[3], sim_ns(12), 0) == 0);
    CHECK(sim_cal_at(g_cal, &e[0], sim_ns(10), -5) == 0);
    sim_cal_run_all(g_cal);
    std::vector<std::string> want = {
        "sc@10", "sc-delta@10", "cal-5@10", "cal0@10", "cross@10",
        "sc-after-cross@10", "cal5@10", "cal@12", "cross@12",
        "sc-after-cross@12", "sc@15", "cal@15",
    };
    if (g_log != want) {
        for (size_t i = 0; i < g_log.size(); i++) {
            std::fprintf(stderr, "  %s\n", g_log[i].c_str());
        }
    }
    CHECK(g_log == want);
    CHECK(!g_k->broken());
    CHECK(g_k->deltas() >= 4);
    CHECK(sc_time_stamp() == sc_time(15, SC_NS));
}

// Time order across crossings: SystemC never runs ahead of the calendar.
static void test_order() { in_child(child_order); }

/* ---- a model on the request socket ---------------------------------- */

// A loosely-timed echo: reads the readable part, writes it back reversed
// into the writable part, annotates ns_per_byte per byte; or defers and
// completes later, or misbehaves as told.
struct echo_model : sc_module {
    tlm_utils::simple_target_socket<echo_model> tgt;
    tlm_utils::simple_initiator_socket<echo_model> dma;
    bridge *br = nullptr;
    unsigned ns_per_byte = 1;
    enum mode { LT, DEFER, TWICE, TWICE_PENDING, UNKNOWN, PAST_WR,
                USED_PAST, STOP };
    mode m = LT;

    SC_HAS_PROCESS(echo_model);
    explicit echo_model(sc_module_name n)
        : sc_module(n), tgt("tgt"), dma("dma")
    {
        tgt.register_b_transport(this, &echo_model::b_req);
    }

    bool access(tlm::tlm_command c, uint64_t a, uint8_t *p, uint32_t n,
                sc_time &d)
    {
        tlm::tlm_generic_payload gp;

        gp.set_command(c);
        gp.set_address(a);
        gp.set_data_ptr(p);
        gp.set_data_length(n);
        gp.set_streaming_width(n);
        gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        dma->b_transport(gp, d);
        return gp.is_response_ok();
    }

    void b_req(tlm::tlm_generic_payload &gp, sc_time &delay)
    {
        request *rq = gp.get_extension<request>();
        std::vector<uint8_t> b(rq->rd_len);
        uint32_t n = rq->rd_len < rq->wr_len ? rq->rd_len : rq->wr_len;

        CHECK(vusim_sc::from_sc(sc_time_stamp()) == sim_cal_now(g_cal));
        access(tlm::TLM_READ_COMMAND, rq->dma_addr, b.data(), rq->rd_len,
               delay);
        for (uint32_t i = 0; i < n / 2; i++) {
            std::swap(b[i], b[n - 1 - i]);
        }
        if (m == PAST_WR) {
            n = rq->wr_len + 1;
            b.resize(n);
        }
        access(tlm::TLM_WRITE_COMMAND, rq->dma_addr, b.data(), n, delay);
        delay += sc_time(ns_per_byte * rq->rd_len, SC_NS);
        rq->used_len = m == USED_PAST ? rq->wr_len + 7 : n;
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
        if (m == STOP) {
            sc_stop();
        }
        if (m == TWICE_PENDING) {
            // the second while the first waits for its 10 ns
            rq->deferred = true;
            CHECK(br->complete(rq->handle, n, sc_time(10, SC_NS)) == 0);
            CHECK(br->complete(rq->handle, n) == -EALREADY);
            return;
        }
        if (m == DEFER || m == TWICE || m == UNKNOWN) {
            rq->deferred = true;
            sc_spawn([this, h = rq->handle, n, delay]() {
                wait(delay);
                CHECK(br->complete(m == UNKNOWN ? h + 1000 : h, n) ==
                      (m == UNKNOWN ? -ENOENT : 0));
                if (m == TWICE) {
                    CHECK(br->complete(h, n) == -EALREADY);
                }
            });
        }
    }
};

struct rig {
    echo_model *em;
    bridge *br;
    struct dev *dev = nullptr;
    struct fakehost *fh = nullptr;

    explicit rig(uint32_t virtio_id = 4)
    {
        device_desc d;

        d.name = "echo";
        d.virtio_id = virtio_id;
        d.num_queues = 2;
        g_cal = sim_cal_new();
        em = new echo_model("em");
        br = new bridge("br", d);
        em->br = br;
        br->req_socket.bind(em->tgt);
        em->dma.bind(br->dma_socket);
        CHECK(br->attach(g_cal, &dev) == 0);
        fh = fakehost_new(dev);
        CHECK(fh);
    }
    int add(uint16_t q, uint32_t len, uint32_t wr)
    {
        std::vector<uint8_t> in(len);

        for (uint32_t i = 0; i < len; i++) {
            in[i] = static_cast<uint8_t>(i * 7 + 1);
        }
        return fakehost_add(fh, q, in.data(), len, wr);
    }
    // One request on queue 0, kicked and run to the end: its id.
    int run_one(uint32_t len, uint32_t wr)
    {
        int id = add(0, len, wr);

        fakehost_kick(fh, 0);
        sim_cal_run_all(g_cal);
        return id;
    }
    // The echo arrived reversed, and used_len is right.
    void check_echo(int id, uint32_t len)
    {
        struct fakehost_req *r = fakehost_get(fh, id);

        CHECK(r && r->completed && r->used_len == len);
        for (uint32_t i = 0; i < len; i++) {
            CHECK(r->wr[i] == static_cast<uint8_t>((len - 1 - i) * 7 + 1));
        }
    }
};

// 1 ns per byte annotated by the model: exactly that, from the pop time.
static void child_ns_per_byte()
{
    rig g;
    int a = g.add(0, 100, 100), b, c;

    fakehost_kick(g.fh, 0);
    sim_cal_run_all(g_cal);
    CHECK(fakehost_get(g.fh, a)->done_at == sim_ns(100));
    g.check_echo(a, 100);
    sim_cal_run_until(g_cal, sim_us(1));
    b = g.add(1, 4096, 4096);
    c = g.add(1, 1, 1);
    fakehost_kick(g.fh, 1);
    sim_cal_run_all(g_cal);
    CHECK(fakehost_get(g.fh, b)->done_at == sim_us(1) + sim_ns(4096));
    CHECK(fakehost_get(g.fh, c)->done_at == sim_us(1) + sim_ns(1));
    g.check_echo(b, 4096);
    g.check_echo(c, 1);
    // completion order is time order: c (1 ns) before b (4096 ns)
    CHECK(fakehost_completed_id(g.fh, 1) == c);
    CHECK(fakehost_completed_id(g.fh, 2) == b);
    CHECK(fakehost_violations(g.fh) == 0);
    CHECK(g.br->get_stats().model_errors == 0);
}

static void test_ns_per_byte() { in_child(child_ns_per_byte); }

// The bridge's DMA timing: latency plus bandwidth on every access.
static void child_dma_timing()
{
    rig g;
    int a;

    g.em->ns_per_byte = 0;
    // 10 ns per access, 1 GB/s = 1 ns per byte: read 500 + write 500
    g.br->set_dma_timing(sc_time(10, SC_NS), 1000000000ull);
    a = g.run_one(500, 500);
    CHECK(fakehost_get(g.fh, a)->done_at == sim_ns(2 * 10 + 2 * 500));
    g.check_echo(a, 500);
}

static void test_dma_timing() { in_child(child_dma_timing); }

// A model that defers and completes later through bridge::complete().
static void child_deferred()
{
    rig g;
    int a;

    g.em->m = echo_model::DEFER;
    a = g.run_one(64, 64);
    CHECK(fakehost_get(g.fh, a)->done_at == sim_ns(64));
    g.check_echo(a, 64);
    CHECK(fakehost_violations(g.fh) == 0);
}

static void test_deferred() { in_child(child_deferred); }

// The model_if hooks: each reached through the device's ops, inside a
// crossing (SystemC's clock on vusim's), with its result passed back.
struct hook_model : vusim_sc::model_if {
    uint64_t features = 0;
    std::vector<std::string> calls;
    uint8_t cfg[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    void seen(const std::string &what)
    {
        CHECK(vusim_sc::from_sc(sc_time_stamp()) == sim_cal_now(g_cal));
        calls.push_back(what + "@" + std::to_string(sim_cal_now(g_cal) / 1000));
    }
    int set_features(uint64_t f) override
    {
        seen("features");
        features = f;
        return f & 1 ? -EINVAL : 0;
    }
    void queue_start(uint16_t q) override { seen("start" + std::to_string(q)); }
    void queue_stop(uint16_t q) override { seen("stop" + std::to_string(q)); }
    void reset() override { seen("reset"); }
    int get_config(uint32_t off, void *buf, uint32_t len) override
    {
        seen("get");
        std::memcpy(buf, cfg + off, len);
        return 0;
    }
    int set_config(uint32_t off, const void *buf, uint32_t len) override
    {
        seen("set");
        std::memcpy(cfg + off, buf, len);
        return 0;
    }
};

static void child_hooks()
{
    device_desc d;
    hook_model h;
    struct dev *dev = nullptr;
    struct fakehost *fh;
    uint8_t b[4] = {9, 9, 9, 9}, r[8];
    int id;

    d.name = "hooks";
    d.virtio_id = 4;
    d.num_queues = 2;
    d.config_size = sizeof(h.cfg);
    g_cal = sim_cal_new();
    auto *em = new echo_model("em");
    auto *br = new bridge("br", d, &h);
    br->req_socket.bind(em->tgt);
    em->dma.bind(br->dma_socket);
    CHECK(br->attach(g_cal, &dev) == 0);
    fh = fakehost_new(dev);
    CHECK(fh && dev->config_size == sizeof(h.cfg) && dev->num_queues == 2);
    sim_cal_run_until(g_cal, sim_ns(100));
    CHECK(dev->ops->set_features(dev, 0x6) == 0 && h.features == 0x6);
    CHECK(dev->ops->set_features(dev, 0x7) == -EINVAL);
    dev->ops->queue_start(dev, 1);
    CHECK(dev->ops->set_config(dev, 2, b, 4) == 0);
    CHECK(dev->ops->get_config(dev, 0, r, 8) == 0);
    CHECK(r[0] == 1 && r[1] == 2 && r[2] == 9 && r[5] == 9 && r[6] == 7);
    sim_cal_run_until(g_cal, sim_ns(250));
    dev->ops->queue_stop(dev, 1);
    dev->ops->reset(dev);
    std::vector<std::string> want = {"features@100", "features@100",
        "start1@100", "set@100", "get@100", "stop1@250", "reset@250"};
    CHECK(h.calls == want);
    // the model still serves requests after the reset
    id = fakehost_add(fh, 0, "abc", 3, 3);
    fakehost_kick(fh, 0);
    sim_cal_run_all(g_cal);
    CHECK(fakehost_get(fh, id)->completed &&
          fakehost_get(fh, id)->used_len == 3 &&
          fakehost_get(fh, id)->done_at == sim_ns(250 + 3));
    CHECK(fakehost_violations(fh) == 0);
}

static void test_hooks() { in_child(child_hooks); }

// An untimed model (no annotation, no DMA timing): done at the pop time.
static void child_untimed()
{
    rig g;
    int a, b;

    g.em->ns_per_byte = 0;
    sim_cal_run_until(g_cal, sim_ns(250));
    a = g.add(0, 300, 300);
    b = g.run_one(7, 7);
    CHECK(fakehost_get(g.fh, a)->done_at == sim_ns(250));
    CHECK(fakehost_get(g.fh, b)->done_at == sim_ns(250));
    CHECK(fakehost_completed_id(g.fh, 0) == a);
    CHECK(fakehost_completed_id(g.fh, 1) == b);
    g.check_echo(a, 300);
    g.check_echo(b, 7);
    CHECK(fakehost_violations(g.fh) == 0);
}

static void test_untimed() { in_child(child_untimed); }

// An approximately-timed model: its target socket has nb_transport_fw
// only (the 4-phase base protocol; simple_target_socket turns the
// bridge's b_transport into BEGIN_REQ .. BEGIN_RESP). It accepts a request
// with END_REQ after 5 ns and serves one at a time in an engine thread,
// each taking 100 ns, then answers BEGIN_RESP on the backward path.
struct at_model : sc_module {
    tlm_utils::simple_target_socket<at_model> tgt;
    tlm_utils::simple_initiator_socket<at_model> dma;
    std::deque<tlm::tlm_generic_payload *> q;
    sc_event work;
    std::vector<sim_time_t> accepted; // BEGIN_REQ times

    SC_HAS_PROCESS(at_model);
    explicit at_model(sc_module_name n)
        : sc_module(n), tgt("tgt"), dma("dma")
    {
        tgt.register_nb_transport_fw(this, &at_model::fw);
        SC_THREAD(engine);
    }

    tlm::tlm_sync_enum fw(tlm::tlm_generic_payload &gp, tlm::tlm_phase &ph,
                          sc_time &t)
    {
        CHECK(vusim_sc::from_sc(sc_time_stamp()) == sim_cal_now(g_cal));
        if (ph == tlm::BEGIN_REQ) {
            accepted.push_back(sim_cal_now(g_cal));
            q.push_back(&gp);
            work.notify(t);
            ph = tlm::END_REQ;
            t += sc_time(5, SC_NS);
            return tlm::TLM_UPDATED;
        }
        return tlm::TLM_COMPLETED; // END_RESP
    }

    void xfer(tlm::tlm_command c, uint64_t a, uint8_t *p, uint32_t n)
    {
        tlm::tlm_generic_payload gp;
        sc_time d = SC_ZERO_TIME;

        gp.set_command(c);
        gp.set_address(a);
        gp.set_data_ptr(p);
        gp.set_data_length(n);
        gp.set_streaming_width(n);
        gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        dma->b_transport(gp, d);
        CHECK(gp.is_response_ok() && d == SC_ZERO_TIME);
    }

    void engine()
    {
        for (;;) {
            while (q.empty()) {
                wait(work);
            }
            tlm::tlm_generic_payload *gp = q.front();
            q.pop_front();
            wait(100, SC_NS);
            request *rq = gp->get_extension<request>();
            CHECK(rq);
            std::vector<uint8_t> b(rq->rd_len);
            uint32_t n = rq->rd_len < rq->wr_len ? rq->rd_len : rq->wr_len;
            xfer(tlm::TLM_READ_COMMAND, rq->dma_addr, b.data(), rq->rd_len);
            for (uint32_t i = 0; i < n / 2; i++) {
                std::swap(b[i], b[n - 1 - i]);
            }
            xfer(tlm::TLM_WRITE_COMMAND, rq->dma_addr, b.data(), n);
            rq->used_len = n;
            gp->set_response_status(tlm::TLM_OK_RESPONSE);
            tlm::tlm_phase ph = tlm::BEGIN_RESP;
            sc_time t = SC_ZERO_TIME;
            CHECK(tgt->nb_transport_bw(*gp, ph, t) == tlm::TLM_COMPLETED);
        }
    }
};

// Three requests of one kick overlap in the AT model: accepted 5 ns
// apart (END_REQ), served back to back, each complete at exactly its
// BEGIN_RESP time; the echo is checked byte for byte.
static void child_at()
{
    device_desc d;
    struct dev *dev = nullptr;
    struct fakehost *fh;
    int id[3];

    d.name = "at";
    d.virtio_id = 4;
    g_cal = sim_cal_new();
    auto *m = new at_model("atm");
    auto *br = new bridge("br", d);
    br->req_socket.bind(m->tgt);
    m->dma.bind(br->dma_socket);
    CHECK(br->attach(g_cal, &dev) == 0);
    fh = fakehost_new(dev);
    CHECK(fh);
    sim_cal_run_until(g_cal, sim_ns(1000));
    for (int i = 0; i < 3; i++) {
        std::vector<uint8_t> in(64 + i);

        for (size_t k = 0; k < in.size(); k++) {
            in[k] = static_cast<uint8_t>(k * 7 + 1);
        }
        id[i] = fakehost_add(fh, 0, in.data(),
                             static_cast<uint32_t>(in.size()),
                             static_cast<uint32_t>(in.size()));
    }
    fakehost_kick(fh, 0);
    sim_cal_run_all(g_cal);
    CHECK(m->accepted.size() == 3);
    for (int i = 0; i < 3; i++) {
        struct fakehost_req *r = fakehost_get(fh, id[i]);
        uint32_t len = 64 + i;

        CHECK(m->accepted[i] == sim_ns(1000 + 5 * i));
        CHECK(r && r->completed && r->used_len == len);
        CHECK(r->done_at == sim_ns(1000 + 100 * (i + 1)));
        for (uint32_t k = 0; k < len; k++) {
            CHECK(r->wr[k] == static_cast<uint8_t>((len - 1 - k) * 7 + 1));
        }
        CHECK(fakehost_completed_id(fh, i) == id[i]);
    }
    CHECK(fakehost_violations(fh) == 0);
    CHECK(br->get_stats().model_errors == 0 && br->get_stats().failed == 0);
    CHECK(!br->kern()->broken());
}

static void test_at() { in_child(child_at); }

/* ---- the virtio-blk front and DMI ----------------------------------- */

// A 1 MiB memory: b_transport annotates 1 us per access; with dmi set it
// hints and grants DMI (read and write latency 3 ns / 5 ns).
struct dmi_mem : sc_module {
    tlm_utils::simple_target_socket<dmi_mem> socket;
    std::vector<uint8_t> m;
    bool dmi = false;
    unsigned calls = 0;

    explicit dmi_mem(sc_module_name n)
        : sc_module(n), socket("socket"), m(1 << 20)
    {
        socket.register_b_transport(this, &dmi_mem::b_transport);
        socket.register_get_direct_mem_ptr(this, &dmi_mem::get_dmi);
    }
    void b_transport(tlm::tlm_generic_payload &gp, sc_time &delay)
    {
        uint64_t a = gp.get_address();
        uint32_t n = gp.get_data_length();

        calls++;
        if (gp.is_read()) {
            std::memcpy(gp.get_data_ptr(), &m[a], n);
        } else if (gp.is_write()) {
            std::memcpy(&m[a], gp.get_data_ptr(), n);
        }
        delay += sc_time(1, SC_US);
        gp.set_dmi_allowed(dmi);
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }
    bool get_dmi(tlm::tlm_generic_payload &, tlm::tlm_dmi &d)
    {
        d.set_start_address(0);
        d.set_end_address(m.size() - 1);
        if (!dmi) {
            return false;
        }
        d.set_dmi_ptr(m.data());
        d.allow_read_write();
        d.set_read_latency(sc_time(3, SC_NS));
        d.set_write_latency(sc_time(5, SC_NS));
        return true;
    }
    void revoke()
    {
        dmi = false;
        socket->invalidate_direct_mem_ptr(0, m.size() - 1);
    }
};

// A 4 KiB virtio-blk OUT (@out) or IN at @sector; returns its id.
static int blk_rw(struct fakehost *fh, bool out, uint64_t sector,
                  uint8_t fill)
{
    std::vector<uint8_t> rd(16 + (out ? 4096 : 0), fill);
    uint32_t type = out ? 1 : 0;

    std::memcpy(rd.data(), &type, 4);
    std::memset(rd.data() + 4, 0, 4);
    std::memcpy(rd.data() + 8, &sector, 8);
    return fakehost_add(fh, 0, rd.data(), static_cast<uint32_t>(rd.size()),
                        out ? 1 : 4097);
}

// Data through the storage socket, then through DMI once the memory
// hints it, then through b_transport again once it revokes the grant;
// every byte checked, every completion time exact.
static void child_blk_dmi()
{
    g_cal = sim_cal_new();
    auto *mem = new dmi_mem("mem");
    auto *disk = new vusim_sc::blk_bridge("disk", "dmi", 1 << 20);
    struct dev *dev = nullptr;
    struct fakehost *fh;
    sim_time_t t0;
    int a, b, c, d;

    disk->storage.bind(mem->socket);
    CHECK(disk->br.attach(g_cal, &dev) == 0);
    fh = fakehost_new(dev);
    CHECK(fh);
    a = blk_rw(fh, true, 8, 0x11); // plain: 1 us, and the hint is taken
    mem->dmi = true;
    fakehost_kick(fh, 0);
    sim_cal_run_all(g_cal);
    CHECK(fakehost_get(fh, a)->done_at == sim_us(1));
    CHECK(mem->m[8 * 512] == 0x11 && mem->m[8 * 512 + 4095] == 0x11);
    CHECK(disk->front.get_counts().dmi == 0);
    t0 = sim_cal_now(g_cal);
    b = blk_rw(fh, true, 16, 0x22); // DMI write: 5 ns, no storage call
    c = blk_rw(fh, false, 8, 0);    // DMI read: 3 ns
    unsigned calls = mem->calls;
    fakehost_kick(fh, 0);
    sim_cal_run_all(g_cal);
    CHECK(mem->calls == calls);
    CHECK(disk->front.get_counts().dmi == 2);
    CHECK(fakehost_get(fh, b)->done_at == t0 + sim_ns(5));
    CHECK(fakehost_get(fh, c)->done_at == t0 + sim_ns(3));
    CHECK(mem->m[16 * 512] == 0x22 && mem->m[16 * 512 + 4095] == 0x22);
    CHECK(fakehost_get(fh, c)->used_len == 4097);
    for (int i = 0; i < 4096; i++) {
        CHECK(fakehost_get(fh, c)->wr[i] == 0x11);
    }
    CHECK(fakehost_get(fh, c)->wr[4096] == 0); // VIRTIO_BLK_S_OK
    mem->revoke();
    t0 = sim_cal_now(g_cal);
    d = blk_rw(fh, false, 16, 0); // plain again: 1 us
    fakehost_kick(fh, 0);
    sim_cal_run_all(g_cal);
    CHECK(fakehost_get(fh, d)->done_at == t0 + sim_us(1));
    CHECK(mem->calls == calls + 1);
    CHECK(disk->front.get_counts().dmi == 2);
    for (int i = 0; i < 4096; i++) {
        CHECK(fakehost_get(fh, d)->wr[i] == 0x22);
    }
    CHECK(fakehost_violations(fh) == 0);
}

static void test_blk_dmi() { in_child(child_blk_dmi); }

/* ---- bad model behaviour -------------------------------------------- */

static std::string g_errs;

static void err_sink(int level, const char *, const char *line, void *)
{
    if (level == VUSIM_LOG_ERR) {
        g_errs += line;
        g_errs += "\n";
    }
}

static bool said(const char *s)
{
    return g_errs.find(s) != std::string::npos;
}

// A rig whose errors go to g_errs, with its model misbehaving as @m.
struct bad_rig : rig {
    explicit bad_rig(echo_model::mode m, uint32_t virtio_id = 4)
        : rig((vusim_log_set_sink(err_sink, nullptr), virtio_id))
    {
        em->m = m;
    }
};

static void child_twice()
{
    bad_rig g(echo_model::TWICE);
    int a;

    a = g.run_one(8, 8);
    g.check_echo(a, 8);
    CHECK(fakehost_violations(g.fh) == 0);
    CHECK(g.br->get_stats().model_errors == 1);
    CHECK(said("model 'echo'") && said("request 1 twice"));
}

// The same while the first completion is still pending: named with its
// queue; the first completion stands, at its time.
static void child_twice_pending()
{
    bad_rig g(echo_model::TWICE_PENDING);
    int a;

    a = g.run_one(8, 8);
    g.check_echo(a, 8);
    CHECK(fakehost_get(g.fh, a)->done_at == sim_ns(10));
    CHECK(fakehost_violations(g.fh) == 0);
    CHECK(g.br->get_stats().model_errors == 1);
    CHECK(said("model 'echo': request 1 (queue 0): completed twice"));
}

static void child_unknown()
{
    bad_rig g(echo_model::UNKNOWN);
    int a;

    a = g.run_one(8, 8);
    CHECK(said("unknown request handle 1001"));
    CHECK(!fakehost_get(g.fh, a)->completed); // the model never completed it
    CHECK(fakehost_inflight(g.fh) == 1);
}

// A DMA write past the writable part: refused, named, the request fails
// with used length 0 (not virtio-blk) or IOERR in its status byte (blk).
static void child_past_wr()
{
    bad_rig g(echo_model::PAST_WR);
    int a;

    a = g.run_one(16, 8);
    CHECK(fakehost_get(g.fh, a)->completed);
    CHECK(fakehost_get(g.fh, a)->used_len == 0);
    CHECK(said("model 'echo': request 1 (queue 0): DMA write of 9 bytes at "
               "offset 0 is past the writable part (8 bytes)"));
    CHECK(fakehost_violations(g.fh) == 0);
    // the run goes on: the next request is served
    g.em->m = echo_model::LT;
    a = g.run_one(8, 8);
    g.check_echo(a, 8);
}

static void child_past_wr_blk()
{
    bad_rig g(echo_model::USED_PAST, 2);
    int a;

    a = g.run_one(16, 8);
    CHECK(fakehost_get(g.fh, a)->used_len == 8);
    CHECK(fakehost_get(g.fh, a)->wr[7] == 1); // VIRTIO_BLK_S_IOERR
    CHECK(said("used length 15 is past the writable part (8 bytes)"));
}

// sc_start() behind the bridge's back moves SystemC ahead of vusim: the
// kernel breaks with a clear error, requests fail, the run goes on.
static void child_backwards()
{
    bad_rig g(echo_model::LT);
    int a;

    sc_start(sc_time(1, SC_US));
    a = g.run_one(8, 8);
    CHECK(g.br->kern()->broken());
    CHECK(said("model 'echo'") && said("time would go backwards"));
    CHECK(said("model 'echo': request 1 (queue 0) fails: systemc model "
               "'echo': SystemC time"));
    CHECK(fakehost_get(g.fh, a)->completed);
    CHECK(fakehost_get(g.fh, a)->used_len == 0);
    CHECK(fakehost_violations(g.fh) == 0);
}

// sc_stop() in the model: outstanding and later requests fail.
static void child_stop()
{
    bad_rig g(echo_model::STOP);
    int a, b;

    a = g.run_one(8, 8);
    CHECK(said("sc_stop"));
    CHECK(said("model 'echo': request 1 (queue 0) fails:"));
    CHECK(fakehost_get(g.fh, a)->completed);
    b = g.run_one(8, 8);
    CHECK(fakehost_get(g.fh, b)->completed);
    CHECK(fakehost_get(g.fh, b)->used_len == 0);
    CHECK(fakehost_violations(g.fh) == 0);
}

// A request the host takes back while the model holds it is dropped.
static void child_cancel()
{
    rig g;
    int a, b;

    a = g.add(0, 1000, 1000);
    b = g.add(0, 10, 10);
    fakehost_kick(g.fh, 0);
    sim_cal_run_until(g_cal, sim_ns(500));
    CHECK(fakehost_get(g.fh, b)->completed);
    CHECK(fakehost_cancel(g.fh, a) == 0);
    sim_cal_run_all(g_cal);
    CHECK(!fakehost_get(g.fh, a)->completed);
    CHECK(g.br->get_stats().cancelled == 1);
    CHECK(fakehost_violations(g.fh) == 0);
}

static void test_twice() { in_child(child_twice); }
static void test_twice_pending() { in_child(child_twice_pending); }
static void test_unknown() { in_child(child_unknown); }
static void test_past_wr() { in_child(child_past_wr); }
static void test_past_wr_blk() { in_child(child_past_wr_blk); }
static void test_backwards() { in_child(child_backwards); }
static void test_stop() { in_child(child_stop); }
static void test_cancel() { in_child(child_cancel); }

static CU_TestInfo coupling_tests[] = {
    {"order", test_order},
    {"ns_per_byte", test_ns_per_byte},
    {"dma_timing", test_dma_timing},
    {"deferred", test_deferred},
    {"untimed", test_untimed},
    {"hooks", test_hooks},
    {"approximately_timed", test_at},
    {"cancel", test_cancel},
    {"blk_dmi", test_blk_dmi},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo bad_model_tests[] = {
    {"complete_twice", test_twice},
    {"complete_twice_pending", test_twice_pending},
    {"unknown_handle", test_unknown},
    {"dma_past_writable", test_past_wr},
    {"used_past_writable_blk", test_past_wr_blk},
    {"time_backwards", test_backwards},
    {"sc_stop", test_stop},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"systemc_coupling", nullptr, nullptr, nullptr, nullptr, coupling_tests},
    {"systemc_bad_model", nullptr, nullptr, nullptr, nullptr,
     bad_model_tests},
    CU_SUITE_INFO_NULL,
};

int sc_main(int argc, char **argv)
{
    return vusim_cu_main(argc, argv, suites);
}
