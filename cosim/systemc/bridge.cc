// SPDX-License-Identifier: MIT
/*
 * The bridge between vusim's device API and a TLM-2.0 model (bridge.h).
 * Every entry from vusim (the dev_ops trampolines) is one crossing:
 * kernel::enter(), the work, kernel::leave(). Requests live in slots_
 * from pop until they are settled: done (completed or failed) or
 * cancelled, and neither a worker nor a pending completion holds them;
 * then their record goes back to the pool.
 */
#include "config.h"

#define SC_INCLUDE_DYNAMIC_PROCESSES // sc_spawn: workers, completions
#include <systemc>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <vector>

#include "cosim/systemc/bridge.h"

extern "C" {
#include "sim/log.h"
#include "sim/time.h"
}

using namespace sc_core;

namespace vusim_sc {

tlm::tlm_extension_base *request::clone() const
{
    return new request(*this);
}

void request::copy_from(const tlm::tlm_extension_base &other)
{
    *this = static_cast<const request &>(other);
}

// A request from pop to settle; pooled, so everything here is reset by
// bridge::take().
struct bridge::rec {
    uint64_t handle = 0;
    struct dev_req *req = nullptr;  // NULL once the host took it back
    tlm::tlm_generic_payload gp;
    request ext;
    sc_event done_ev;        // fires the record's method: a timed completion
    uint32_t done_used = 0;  // the used length it completes with
    bool in_model = false;   // a worker is inside b_transport with it
    bool timed = false;      // its timed completion (done_ev) is pending
    bool done = false;       // completed or failed towards the host
    bool completing = false; // complete() accepted, waiting its delay
    bool failed = false;     // a bad DMA: fail it at completion
    bool cancelled = false;
    rec *next = nullptr;     // the worker queue

    rec() { gp.set_extension(&ext); }
    ~rec() { gp.clear_extension(&ext); }
};

// A worker thread; idle ones wait on ev.
struct bridge::worker {
    sc_event ev;
    bool armed = false; // ev notified for the next delta: take the queue
};

struct bridge::host_dev {
    struct dev dev;          // first: what the host sees
    bridge *self;
};

bridge::bridge(sc_module_name name, const device_desc &desc, model_if *hooks)
    : sc_module(name), req_socket("req_socket"), dma_socket("dma_socket"),
      desc_(desc), hooks_(hooks), hd_(new host_dev())
{
    dma_socket.register_b_transport(this, &bridge::b_dma);
    hd_->self = this;
    ops_.name = desc_.name.c_str();
    ops_.virtio_id = desc_.virtio_id;
    fill_ops(&ops_);
}

bridge::~bridge() = default;

constexpr size_t SLOTS_MIN = 64;

void bridge::fill_ops(struct dev_ops *ops)
{
    ops->destroy = op_destroy;
    ops->avail = op_avail;
    ops->cancel = op_cancel;
    ops->set_features = op_set_features;
    ops->queue_start = op_queue_start;
    ops->queue_stop = op_queue_stop;
    ops->reset = op_reset;
    ops->stats_json = op_stats_json;
    ops->get_config = op_get_config;
    ops->image_size = op_image_size;
    ops->set_config = op_set_config;
}

void bridge::set_dma_timing(const sc_time &latency, uint64_t bytes_per_s)
{
    dma_lat_ = latency;
    dma_bw_ = bytes_per_s;
}

int bridge::attach(struct sim_cal *cal, struct dev **out,
                   const struct dev_ops *ops)
{
    struct dev *d = &hd_->dev;
    int rc;

    if (kern_) {
        return -EBUSY;
    }
    kern_.reset(new kernel(cal, desc_.name));
    kern_->on_fail([this]() { fail_all_later(); });
    rc = kern_->start();
    if (rc != 0) {
        return rc;
    }
    d->ops = ops ? ops : &ops_;
    d->cal = cal;
    d->features = desc_.features;
    d->num_queues = desc_.num_queues;
    d->queue_size_max = desc_.queue_size_max;
    d->config_size = desc_.config_size;
    *out = d;
    return 0;
}

bridge *bridge::of(struct dev *d)
{
    return reinterpret_cast<host_dev *>(d)->self;
}

/* ---- errors -------------------------------------------------------- */

void bridge::model_error(const rec *r, const std::string &what)
{
    st_.model_errors++;
    if (r) {
        VUSIM_ERR("systemc", "model '%s': request %" PRIu64 " (queue %u): %s",
                  desc_.name.c_str(), r->handle, r->ext.queue, what.c_str());
    } else {
        VUSIM_ERR("systemc", "model '%s': %s", desc_.name.c_str(),
                  what.c_str());
    }
}

bridge::rec *bridge::find(uint64_t handle) const
{
    rec *r;

    if (slots_.empty()) {
        return nullptr;
    }
    r = slots_[handle & (slots_.size() - 1)];
    return r && r->handle == handle ? r : nullptr;
}

// A DMA address names its request by the handle's low 32 bits; no two
// live requests share them (their slots differ, and the table has at
// most 2^32 slots).
bridge::rec *bridge::find_dma(uint32_t key) const
{
    rec *r;

    if (slots_.empty()) {
        return nullptr;
    }
    r = slots_[key & (slots_.size() - 1)];
    return r && static_cast<uint32_t>(r->handle) == key ? r : nullptr;
}

// Double the slot table. Handles in distinct slots of the old table are
// in distinct slots of the new one (the new mask has one bit more).
void bridge::grow_slots()
{
    std::vector<rec *> n(slots_.empty() ? SLOTS_MIN : slots_.size() * 2);

    for (rec *r : slots_) {
        if (r) {
            n[r->handle & (n.size() - 1)] = r;
        }
    }
    slots_.swap(n);
}

// A record for @req, live under a fresh handle: the next one whose slot
// is free (a request in flight for long keeps its slot; the handles
// that would land on it are skipped, never reused).
bridge::rec *bridge::take(struct dev_req *req, uint16_t q)
{
    rec *r;
    uint64_t h;

    if ((nlive_ + 1) * 2 > slots_.size()) {
        grow_slots();
    }
    if (free_.empty()) {
        recs_.emplace_back(new rec());
        r = recs_.back().get();
        sc_spawn_options o;
        o.spawn_method();
        o.dont_initialize();
        o.set_sensitivity(&r->done_ev);
        sc_spawn(sc_bind(&bridge::on_done, this, r),
                 sc_gen_unique_name("vusim_done"), &o);
    } else {
        r = free_.back();
        free_.pop_back();
    }
    for (h = next_handle_; slots_[h & (slots_.size() - 1)]; h++) {
    }
    next_handle_ = h + 1;
    slots_[h & (slots_.size() - 1)] = r;
    nlive_++;
    r->handle = h;
    r->req = req;
    r->in_model = r->timed = false;
    r->done = r->completing = r->failed = r->cancelled = false;
    r->next = nullptr;
    r->done_used = 0;
    r->ext.handle = h;
    r->ext.queue = q;
    r->ext.rd_len = req->rd_len;
    r->ext.wr_len = req->wr_len;
    r->ext.dma_addr = static_cast<uint64_t>(static_cast<uint32_t>(h)) << 32;
    r->ext.used_len = 0;
    r->ext.deferred = false;
    req->dev_data[0] = h; // op_cancel finds it by this
    return r;
}

// Forget @r once nobody holds it any more: back to the pool.
void bridge::settle(rec *r)
{
    if ((r->done || r->cancelled) && !r->in_model && !r->timed) {
        slots_[r->handle & (slots_.size() - 1)] = nullptr;
        nlive_--;
        r->req = nullptr;
        free_.push_back(r);
    }
}

/* ---- completion ---------------------------------------------------- */

// The failure status of the device type, where it has one (dev_ops
// fail_status of vusim's own model of that type: virtio-blk's IOERR in its
// last writable byte), used length 0 otherwise.
void bridge::fail_req(rec *r)
{
    const struct dev_ops *like;
    uint32_t used = 0;

    if (r->done || !r->req) {
        return;
    }
    like = dev_lookup_like(desc_.name.c_str(), desc_.virtio_id);
    if (like && like->fail_status && r->ext.wr_len > 0) {
        uint8_t s = *like->fail_status;

        if (dev_req_write(r->req, r->ext.wr_len - 1, &s, 1) == 0) {
            used = r->ext.wr_len;
        }
    }
    r->done = true;
    st_.failed++;
    dev_req_complete(r->req, used);
    r->req = nullptr;
}

void bridge::finish(rec *r, uint32_t used_len)
{
    if (r->cancelled || r->done) {
        return;
    }
    if (used_len > r->ext.wr_len) {
        model_error(r, "used length " + std::to_string(used_len) +
                       " is past the writable part (" +
                       std::to_string(r->ext.wr_len) + " bytes)");
        r->failed = true;
    }
    if (r->failed) {
        fail_req(r);
        return;
    }
    r->done = true;
    st_.completed++;
    dev_req_complete(r->req, used_len);
    r->req = nullptr;
}

int bridge::complete(uint64_t handle, uint32_t used_len, const sc_time &delay)
{
    rec *r = find(handle);

    if (!r) {
        if (handle != 0 && handle < next_handle_) {
            model_error(nullptr, "completes request " +
                                 std::to_string(handle) +
                                 " twice (it is already completed)");
            return -EALREADY;
        }
        model_error(nullptr, "completes unknown request handle " +
                             std::to_string(handle));
        return -ENOENT;
    }
    if (r->done || r->completing) {
        model_error(r, "completed twice");
        return -EALREADY;
    }
    if (!r->ext.deferred) {
        model_error(r, "complete() on a request the model did not defer "
                       "(request::deferred is false)");
        r->failed = true;
        return -EINVAL;
    }
    r->completing = true;
    if (delay == SC_ZERO_TIME) {
        finish(r, used_len);
        settle(r);
        return 0;
    }
    r->timed = true;
    r->done_used = used_len;
    r->done_ev.notify(delay);
    return 0;
}

// The record's method: its timed completion (a loosely-timed model's
// annotated delay, or complete() with a delay) is due.
void bridge::on_done(rec *r)
{
    if (!r->timed) {
        return; // failed already when the kernel broke
    }
    r->timed = false;
    finish(r, r->done_used);
    settle(r);
}

// The kernel broke: SystemC will never answer. Fail every request the
// model holds, from a calendar event of its own (the break may come in a
// crossing, where the host does not expect completions).
void bridge::fail_all_later()
{
    sim_cal_post(kern_->cal(), 0, 0, [](struct sim_cal *, struct sim_event *ev) {
        bridge *b = static_cast<bridge *>(ev->arg);
        std::vector<rec *> v;

        for (rec *r : b->slots_) {
            if (r) {
                v.push_back(r);
            }
        }
        for (rec *r : v) {
            r->in_model = r->timed = false; // SystemC runs no more
            if (!r->done && r->req) {
                b->name_failed(r);
            }
            b->fail_req(r);
            b->settle(r);
        }
        b->fifo_head_ = b->fifo_tail_ = nullptr;
    }, this);
}

// A request failed because the kernel broke: named with the model and
// the kernel's error, the first FAILED_NAMED of them (a guest may go on
// kicking a broken device; after that they fail without a line each).
constexpr uint64_t FAILED_NAMED = 32;

void bridge::name_failed(const rec *r)
{
    if (named_ < FAILED_NAMED) {
        VUSIM_ERR("systemc", "model '%s': request %" PRIu64 " (queue %u) "
                  "fails: %s", desc_.name.c_str(), r->handle, r->ext.queue,
                  kern_->error().c_str());
    } else if (named_ == FAILED_NAMED) {
        VUSIM_ERR("systemc", "model '%s': later requests fail the same way "
                  "(not named one by one)", desc_.name.c_str());
    }
    named_++;
}

/* ---- requests to the model ----------------------------------------- */

// A worker: idle until armed, then it serves the queue.
void bridge::worker_main(worker *w)
{
    for (;;) {
        if (w->armed) { // (a cancelled arming may still wake it: ignored)
            w->armed = false;
            if (armed_ == w) {
                armed_ = nullptr;
            }
            serve();
            idle_.push_back(w);
        }
        wait(w->ev);
    }
}

// Hand the queued requests to the model, one after the other. Before each
// one, a spare worker is armed for the next delta cycle if more are
// queued: if the model wait()s, the spare takes the rest of the queue; if
// it returns at once, this worker goes on and the spare is disarmed at
// the end, having cost nothing.
void bridge::serve()
{
    while (rec *r = fifo_head_) {
        fifo_head_ = r->next;
        if (!fifo_head_) {
            fifo_tail_ = nullptr;
        }
        r->next = nullptr;
        if (fifo_head_) {
            arm();
        }
        run(r);
    }
    disarm();
}

// Someone takes the queue in the next delta cycle: an idle worker, or a
// new one (which starts then anyway).
void bridge::arm()
{
    worker *w;

    if (armed_ || !fifo_head_) {
        return;
    }
    if (idle_.empty()) {
        workers_.emplace_back(new worker());
        w = workers_.back().get();
        w->armed = true;
        sc_spawn(sc_bind(&bridge::worker_main, this, w),
                 sc_gen_unique_name("worker"));
    } else {
        w = idle_.back();
        idle_.pop_back();
        w->armed = true;
        w->ev.notify(SC_ZERO_TIME);
    }
    armed_ = w;
}

// The queue is empty: an armed worker that has not started is not needed.
void bridge::disarm()
{
    worker *w = armed_;

    if (!w || fifo_head_) {
        return;
    }
    armed_ = nullptr;
    w->armed = false;
    w->ev.cancel();
    idle_.push_back(w);
}

void bridge::run(rec *r)
{
    sc_time delay = SC_ZERO_TIME;

    if (r->cancelled || kern_->broken()) {
        fail_req(r);
        settle(r);
        return;
    }
    r->in_model = true;
    r->gp.set_command(tlm::TLM_IGNORE_COMMAND);
    r->gp.set_address(r->ext.dma_addr);
    r->gp.set_data_ptr(nullptr);
    r->gp.set_data_length(0);
    r->gp.set_streaming_width(0);
    r->gp.set_byte_enable_ptr(nullptr);
    r->gp.set_byte_enable_length(0);
    r->gp.set_dmi_allowed(false);
    r->gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    req_socket->b_transport(r->gp, delay);
    r->in_model = false;
    if (r->ext.deferred) {
        settle(r);
        return;
    }
    if (!r->gp.is_response_ok()) {
        r->failed = true;
    }
    if (!r->cancelled && !r->done && delay != SC_ZERO_TIME) {
        // loosely timed: the model ran ahead by @delay; complete then
        r->timed = true;
        r->done_used = r->ext.used_len;
        r->done_ev.notify(delay);
        return;
    }
    finish(r, r->ext.used_len);
    settle(r);
}

void bridge::avail(uint16_t q)
{
    struct dev *d = &hd_->dev;
    struct dev_req *req;
    bool broken = kern_->enter() != 0;

    while ((req = dev_pop(d, q))) {
        rec *r = take(req, q);

        st_.requests++;
        if (broken) {
            continue;
        }
        if (fifo_tail_) {
            fifo_tail_->next = r;
        } else {
            fifo_head_ = r;
        }
        fifo_tail_ = r;
    }
    if (broken) {
        fail_all_later(); // from the calendar, not from inside avail()
    } else {
        arm();
    }
    kern_->leave();
}

/* ---- DMA from the model -------------------------------------------- */

void bridge::b_dma(tlm::tlm_generic_payload &gp, sc_time &delay)
{
    uint64_t addr = gp.get_address();
    uint32_t off = static_cast<uint32_t>(addr);
    uint32_t len = gp.get_data_length();
    rec *r = find_dma(static_cast<uint32_t>(addr >> 32));
    bool rd = gp.is_read();
    uint32_t lim;
    int rc;

    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    if (!r || r->done || r->completing) {
        char a[32];
        std::snprintf(a, sizeof(a), "0x%" PRIx64, addr);
        model_error(r, std::string("DMA at ") + a +
                       (r ? " after the request completed"
                          : " for no request the bridge knows"));
        return;
    }
    if (r->cancelled) {
        return; // taken back by the host: not the model's fault
    }
    if (gp.get_command() == tlm::TLM_IGNORE_COMMAND) {
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
        return;
    }
    if (gp.get_byte_enable_ptr()) {
        gp.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        model_error(r, "DMA with byte enables (not supported)");
        r->failed = true;
        return;
    }
    if (gp.get_streaming_width() < len) {
        gp.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
        model_error(r, "DMA with a streaming width (not supported)");
        r->failed = true;
        return;
    }
    lim = rd ? r->ext.rd_len : r->ext.wr_len;
    if (off > lim || len > lim - off) {
        model_error(r, std::string("DMA ") + (rd ? "read" : "write") +
                       " of " + std::to_string(len) + " bytes at offset " +
                       std::to_string(off) + " is past the " +
                       (rd ? "readable" : "writable") + " part (" +
                       std::to_string(lim) + " bytes)");
        r->failed = true;
        return;
    }
    rc = rd ? dev_req_read(r->req, off, gp.get_data_ptr(), len)
            : dev_req_write(r->req, off, gp.get_data_ptr(), len);
    if (rc != 0) {
        model_error(r, "guest memory refused the DMA (" + std::to_string(rc) +
                       ")");
        r->failed = true;
        return;
    }
    if (rd) {
        st_.dma_reads++;
    } else {
        st_.dma_writes++;
    }
    st_.dma_bytes += len;
    delay += dma_lat_;
    if (dma_bw_) {
        sim_time_t t;

        if (sim_time_for_bytes(len, dma_bw_, &t) == 0) {
            delay += to_sc(t);
        }
    }
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

/* ---- the other dev_ops --------------------------------------------- */

void bridge::op_destroy(struct dev *d)
{
    bridge *b = of(d);

    b->kern_.reset();
}

void bridge::op_avail(struct dev *d, uint16_t q)
{
    of(d)->avail(q);
}

// The host takes @req back. A worker may still be inside the model with
// it; the record stays until the model lets go, but nothing reaches the
// host for it any more.
void bridge::op_cancel(struct dev *d, struct dev_req *req)
{
    bridge *b = of(d);
    rec *r = b->find(req->dev_data[0]);

    if (r && r->req == req) {
        r->req = nullptr;
        r->cancelled = true;
        b->st_.cancelled++;
        b->settle(r);
    }
}

int bridge::op_set_features(struct dev *d, uint64_t f)
{
    bridge *b = of(d);
    int rc = 0;

    if (b->kern_->enter() == 0 && b->hooks_) {
        rc = b->hooks_->set_features(f);
    }
    b->kern_->leave();
    return rc;
}

void bridge::op_queue_start(struct dev *d, uint16_t q)
{
    bridge *b = of(d);

    if (b->kern_->enter() == 0 && b->hooks_) {
        b->hooks_->queue_start(q);
    }
    b->kern_->leave();
}

void bridge::op_queue_stop(struct dev *d, uint16_t q)
{
    bridge *b = of(d);

    if (b->kern_->enter() == 0 && b->hooks_) {
        b->hooks_->queue_stop(q);
    }
    b->kern_->leave();
}

void bridge::op_reset(struct dev *d)
{
    bridge *b = of(d);

    if (b->kern_->enter() == 0 && b->hooks_) {
        b->hooks_->reset();
    }
    b->kern_->leave();
}

int bridge::op_image_size(struct dev *d, uint64_t *bytes)
{
    bridge *b = of(d);

    return b->hooks_ ? b->hooks_->image_size(bytes) : -ENOTSUP;
}

int bridge::op_get_config(struct dev *d, uint32_t off, void *buf,
                          uint32_t len)
{
    bridge *b = of(d);
    int rc = -EIO;

    if (b->kern_->enter() == 0) {
        rc = b->hooks_ ? b->hooks_->get_config(off, buf, len) : -ENOTSUP;
    }
    b->kern_->leave();
    return rc;
}

int bridge::op_set_config(struct dev *d, uint32_t off, const void *buf,
                          uint32_t len)
{
    bridge *b = of(d);
    int rc = -EIO;

    if (b->kern_->enter() == 0) {
        rc = b->hooks_ ? b->hooks_->set_config(off, buf, len) : -ENOTSUP;
    }
    b->kern_->leave();
    return rc;
}

int bridge::op_stats_json(struct dev *d, char *buf, size_t len)
{
    bridge *b = of(d);
    const stats &s = b->st_;
    const kernel *k = b->kern_.get();
    int n = std::snprintf(buf, len,
        "\"systemc_requests\": %" PRIu64 ", \"systemc_completed\": %" PRIu64
        ", \"systemc_failed\": %" PRIu64 ", \"systemc_cancelled\": %" PRIu64
        ", \"systemc_model_errors\": %" PRIu64 ", \"systemc_dma_bytes\": %"
        PRIu64 ", \"systemc_crossings\": %" PRIu64 ", \"systemc_wakes\": %"
        PRIu64 ", \"systemc_deltas\": %" PRIu64 ", \"systemc_broken\": %s",
        s.requests, s.completed, s.failed, s.cancelled, s.model_errors,
        s.dma_bytes, k ? k->crossings() : 0, k ? k->wakes() : 0,
        k ? k->deltas() : 0, k && k->broken() ? "true" : "false");
    std::string more = b->hooks_ ? b->hooks_->stats_json() : std::string();

    if (n >= 0 && !more.empty()) {
        n += std::snprintf(buf + n, static_cast<size_t>(n) < len ? len - n : 0,
                           ", %s", more.c_str());
    }
    return (n < 0 || static_cast<size_t>(n) >= len) ? -ENOSPC : n;
}

} // namespace vusim_sc
