// SPDX-License-Identifier: MIT
/*
 * cosim/systemc/bridge.h - a SystemC/TLM-2.0 model as a vusim device
 *
 * Model. The bridge is an sc_module that is also a vusim device
 * (devices/dev.h): vusim hosts it like any C model (live guest, replay,
 * trace), and the bridge hands each request to a SystemC model through
 * TLM-2.0, on the one timeline of kernel.h.
 *
 *   req_socket (initiator -> the model's target socket). For every request
 *     the guest makes available, a worker thread of the bridge calls
 *     b_transport(gp, delay = 0) at the simulated time the request was
 *     popped. gp carries a vusim_sc::request extension: handle (unique in
 *     the run), queue, readable and writable lengths, and the DMA address
 *     of the request's buffers; command TLM_IGNORE_COMMAND, no data.
 *     gp and the extension belong to the bridge and are reused: valid
 *     during b_transport and, for a deferred request, until complete().
 *     - An untimed or loosely-timed model returns when it is done: it sets
 *       request::used_len and the response status; the request completes
 *       at sc_time_stamp() + delay (the bridge's own timed notification;
 *       the worker is free to take the next request at once). A status
 *       other than TLM_OK_RESPONSE fails the request.
 *     - A model that answers later (approximately-timed, or queued
 *       internally) sets request::deferred before it returns and calls
 *       bridge::complete(handle, used_len, delay) when it is done.
 *   dma_socket (target <- the model's DMA initiator). Address
 *     request::dma_addr + offset: a TLM_READ_COMMAND reads the request's
 *     readable part at offset, a TLM_WRITE_COMMAND writes its writable part
 *     at offset. Each access adds set_dma_timing()'s latency plus its bytes
 *     at the configured bandwidth to the caller's annotated delay.
 *   Features, config space, reset and queue start/stop reach the model
 *   through model_if (every hook optional), as devices/dev.h has them.
 *
 * Bad model behaviour: completing a request twice, completing an unknown
 * handle, a used length past the writable part, a DMA access outside the
 * request's buffers or for a request the bridge does not know: one error
 * line naming the model and the request (handle, queue), the access gets
 * TLM_ADDRESS_ERROR_RESPONSE, and the request fails: where vusim's own
 * model of the virtio type has a failure status (devices/dev.h,
 * fail_status; virtio-blk's IOERR) the request's last writable byte gets
 * it, any other completes with used length 0. The run goes on. When the
 * kernel breaks (kernel.h), every outstanding and later request fails the
 * same way, each named with the model and the kernel's error (the first
 * 32; then one line says later ones fail too), and the run goes on
 * without SystemC.
 *
 * Cost. Nothing is allocated per request once the pools have grown to
 * the largest number in flight: records (with their transaction and
 * extension) are reused, live ones are found by handle in a slot table,
 * and a timed completion is a notification of the record's own method
 * process. One worker thread serves every request of a kick in turn (one
 * coroutine switch in and out per kick, not per request); before it hands
 * a request to the model it arms a spare worker for the next delta cycle,
 * which takes over the queue only if the model wait()s, and is disarmed
 * otherwise.
 *
 * Owns:        its request records, its worker threads, its struct dev.
 * Borrows:     the calendar (from attach() to destruction), the model bound
 *              to the sockets, the model_if hooks.
 * Threading:   single thread (kernel.h).
 * Errors:      attach(): -EBUSY another bridge is attached, -EIO SystemC
 *              could not start (error() says why).
 * Determinism: requests reach the model in pop order, starting one delta
 *              cycle after the crossing that popped them: one after the
 *              other in that delta while the model returns without
 *              waiting; after a model that waits, the next one starts in
 *              the delta cycle after that. Handles increase in pop order
 *              (a handle whose slot is taken by a request still in flight
 *              is skipped, never reused). Nothing else orders them.
 */
#ifndef VUSIM_COSIM_SYSTEMC_BRIDGE_H
#define VUSIM_COSIM_SYSTEMC_BRIDGE_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "cosim/systemc/kernel.h"

extern "C" {
#include "devices/dev.h"
}

namespace vusim_sc {

// What the model learns about a request; attached to every transaction on
// req_socket. The model writes used_len and deferred, nothing else.
struct request : tlm::tlm_extension<request> {
    uint64_t handle = 0;    // unique in the run, never reused
    uint16_t queue = 0;
    uint32_t rd_len = 0;    // device-readable bytes (the guest's input)
    uint32_t wr_len = 0;    // device-writable bytes (for the guest)
    uint64_t dma_addr = 0;  // base of this request on the DMA socket
    uint32_t used_len = 0;  // model: bytes written for the guest
    bool deferred = false;  // model: "I complete it with complete()"

    tlm::tlm_extension_base *clone() const override;
    void copy_from(const tlm::tlm_extension_base &other) override;
};

// Optional hooks of the model, the C++ face of devices/dev.h's ops.
// Each runs inside a crossing, with sc_time_stamp() equal to vusim's now.
struct model_if {
    virtual ~model_if() = default;
    virtual int set_features(uint64_t /*features*/) { return 0; }
    virtual void queue_start(uint16_t /*queue*/) {}
    virtual void queue_stop(uint16_t /*queue*/) {}
    virtual void reset() {}
    // Both or neither (a config_size of 0 means neither); the bridge has
    // checked off + len <= config_size.
    virtual int get_config(uint32_t /*off*/, void * /*buf*/,
                           uint32_t /*len*/)
    {
        return -ENOTSUP;
    }
    virtual int set_config(uint32_t /*off*/, const void * /*buf*/,
                           uint32_t /*len*/)
    {
        return -ENOTSUP;
    }
    // JSON members ("key": value, ...) for --stats, after the bridge's.
    virtual std::string stats_json() { return std::string(); }
    // The size of an image that starts as zeros, for a trace's HEADER
    // (devices/dev.h, image_size); -ENOTSUP: the model has none.
    virtual int image_size(uint64_t * /*bytes*/) { return -ENOTSUP; }
};

// The virtio face of the model.
struct device_desc {
    std::string name;               // names the model in errors and traces
    uint32_t virtio_id = 0;
    uint64_t features = 0;          // device-specific bits offered
    uint16_t num_queues = 1;
    uint16_t queue_size_max = 1024;
    uint32_t config_size = 0;
};

class bridge : public sc_core::sc_module {
public:
    tlm_utils::simple_initiator_socket<bridge> req_socket;
    tlm_utils::simple_target_socket<bridge> dma_socket;

    bridge(sc_core::sc_module_name name, const device_desc &desc,
           model_if *hooks = nullptr);
    ~bridge() override;

    // Annotated cost of each DMA access: @latency plus its bytes at
    // @bytes_per_s (0: no bandwidth limit). Default: none.
    void set_dma_timing(const sc_core::sc_time &latency,
                        uint64_t bytes_per_s);

    // Start SystemC on @cal (kernel::start) and return the device to host.
    // 0 or a negative errno; *out stays valid until the bridge is gone.
    // @ops: the table the host calls through (NULL: the bridge's own);
    // a program's table must take its hooks from fill_ops().
    int attach(struct sim_cal *cal, struct dev **out,
               const struct dev_ops *ops = nullptr);

    // Set every hook of @ops but name, virtio_id, opts and create.
    static void fill_ops(struct dev_ops *ops);

    // Complete a deferred request at sc_time_stamp() + @delay. 0, or
    // -ENOENT unknown handle, -EALREADY completed (or failed) already;
    // both are logged as the model's error.
    int complete(uint64_t handle, uint32_t used_len,
                 const sc_core::sc_time &delay = sc_core::SC_ZERO_TIME);

    const device_desc &desc() const { return desc_; }
    kernel *kern() { return kern_.get(); }

    struct stats {
        uint64_t requests = 0, completed = 0, failed = 0, cancelled = 0;
        uint64_t dma_reads = 0, dma_writes = 0, dma_bytes = 0;
        uint64_t model_errors = 0;
    };
    const stats &get_stats() const { return st_; }

private:
    struct rec;
    struct host_dev;
    struct worker;

    // dev_ops trampolines
    static void op_destroy(struct dev *d);
    static void op_avail(struct dev *d, uint16_t q);
    static void op_cancel(struct dev *d, struct dev_req *req);
    static int op_set_features(struct dev *d, uint64_t f);
    static void op_queue_start(struct dev *d, uint16_t q);
    static void op_queue_stop(struct dev *d, uint16_t q);
    static void op_reset(struct dev *d);
    static int op_get_config(struct dev *d, uint32_t off, void *buf,
                             uint32_t len);
    static int op_set_config(struct dev *d, uint32_t off, const void *buf,
                             uint32_t len);
    static int op_stats_json(struct dev *d, char *buf, size_t len);
    static int op_image_size(struct dev *d, uint64_t *bytes);
    static bridge *of(struct dev *d);

    void avail(uint16_t q);
    rec *take(struct dev_req *req, uint16_t q);
    void worker_main(worker *w);
    void serve();
    void arm();
    void disarm();
    void run(rec *r);
    void on_done(rec *r);
    void finish(rec *r, uint32_t used_len);
    void fail_req(rec *r);
    void settle(rec *r);
    void fail_all_later();
    void name_failed(const rec *r);
    rec *find(uint64_t handle) const;
    rec *find_dma(uint32_t key) const;
    void grow_slots();
    void model_error(const rec *r, const std::string &what);
    void b_dma(tlm::tlm_generic_payload &gp, sc_core::sc_time &delay);

    device_desc desc_;
    model_if *hooks_;
    std::unique_ptr<kernel> kern_;
    std::unique_ptr<host_dev> hd_;
    struct dev_ops ops_ {};
    // Every record ever made (the pool), the free ones, and the live ones
    // by handle: slot handle & (size - 1), size a power of two.
    std::vector<std::unique_ptr<rec>> recs_;
    std::vector<rec *> free_;
    std::vector<rec *> slots_;
    size_t nlive_ = 0;
    rec *fifo_head_ = nullptr, *fifo_tail_ = nullptr;
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<worker *> idle_;
    worker *armed_ = nullptr; // notified for the next delta, not started
    uint64_t next_handle_ = 1;
    uint64_t named_ = 0; // requests failed by a broken kernel, logged
    sc_core::sc_time dma_lat_;
    uint64_t dma_bw_ = 0;
    stats st_;
};

} // namespace vusim_sc

#endif
