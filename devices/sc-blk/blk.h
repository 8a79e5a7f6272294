// SPDX-License-Identifier: MIT
/*
 * devices/sc-blk/blk.h - virtio-blk in front of a SystemC/TLM-2.0 storage
 * model: virtio-blk requests become TLM-2.0 READ and WRITE transactions
 * on a storage socket
 *
 * A device model built on the SystemC bridge library (cosim/systemc,
 * libvusim-systemc, which knows no device): the blk counterpart of
 * devices/blk for users who have a TLM memory or flash model rather than
 * a C one. Installed in libvusim-systemc; storage() below is what a
 * program's build() returns (cosim/systemc/program.h).
 *
 * Model. blk_bridge is a bridge (bridge.h) with a ready-made model in front
 * of it: it decodes each virtio-blk request (through the bridge's DMA
 * socket) and drives the user's storage model through `storage`, an
 * initiator socket whose address is the byte offset on the disk. An
 * existing TLM memory or flash model binds its target socket to it
 * unchanged. Everything runs in the worker's b_transport, loosely timed:
 * the storage model's annotated delays (and the DMA's) add up, and the
 * request completes at the time they reach. A storage model may also
 * wait() inside b_transport.
 *
 *   IN            storage READ  [sector*512, +n), then DMA to the guest
 *   OUT           DMA from the guest, then storage WRITE [sector*512, +n)
 *                 DMI: once a storage response sets dmi_allowed, the front
 *                 asks for a direct memory pointer (get_direct_mem_ptr)
 *                 and, while the granted region covers a later IN or OUT
 *                 with the access it needs, moves the data between the
 *                 guest and that memory with one DMA (no storage call, no
 *                 bounce copy), adding the region's read or write latency
 *                 once per request. invalidate_direct_mem_ptr drops it.
 *                 A failed DMA of an OUT through DMI may have written part
 *                 of the range (the request fails with IOERR, as a failed
 *                 write on a real disk leaves its range unspecified).
 *   FLUSH         storage TLM_IGNORE_COMMAND at address 0, length 0: a
 *                 model that caches writes makes them durable; others
 *                 answer OK
 *   DISCARD       per segment, storage TLM_IGNORE_COMMAND with the range as
 *                 (address, data length) and no data: a model may unmap it
 *                 (the example SSD trims its FTL); its data is unspecified
 *   WRITE_ZEROES  per segment, storage WRITEs of zeros (64 KiB at a time)
 *   GET_ID        the serial ("vusim-sc" and the model's name), no storage
 * Any other type gets VIRTIO_BLK_S_UNSUPP; a bad layout, a range past the
 * capacity or a storage error response gets VIRTIO_BLK_S_IOERR. used_len
 * is the data written to the guest plus the status byte.
 *
 * Owns:        a context per request in flight (its two transactions and
 *              bounce buffer), pooled: none is allocated per request once
 *              the pool has grown to the largest number in flight.
 * Borrows:     the storage model bound to `storage`.
 * Threading:   single thread (kernel.h).
 * Errors:      as bridge.h; a storage error fails the one request.
 * Determinism: the storage model's times only.
 */
#ifndef VUSIM_DEVICES_SC_BLK_H
#define VUSIM_DEVICES_SC_BLK_H

#include <memory>
#include <vector>

#include "cosim/systemc/bridge.h"
#include "cosim/systemc/program.h"

namespace vusim_sc {

class blk_front : public sc_core::sc_module, public model_if {
public:
    tlm_utils::simple_target_socket<blk_front> req_target;
    tlm_utils::simple_initiator_socket<blk_front> dma;
    tlm_utils::simple_initiator_socket<blk_front> storage;

    // @capacity in bytes (a multiple of 512), @read_only offers VIRTIO_BLK_F_RO.
    blk_front(sc_core::sc_module_name name, uint64_t capacity,
              bool read_only, uint16_t num_queues);

    device_desc desc(const std::string &model) const;
    int get_config(uint32_t off, void *buf, uint32_t len) override;
    int image_size(uint64_t *bytes) override;
    std::string stats_json() override;

    struct counts {
        uint64_t in = 0, out = 0, flush = 0, get_id = 0, discard = 0;
        uint64_t write_zeroes = 0, unsupported = 0, errors = 0;
        uint64_t dmi = 0; // IN and OUT served through DMI
    };
    const counts &get_counts() const { return n_; }

private:
    struct ctx;

    void b_req(tlm::tlm_generic_payload &gp, sc_core::sc_time &delay);
    void answer(ctx &c, tlm::tlm_generic_payload &gp, request &rq,
                sc_core::sc_time &delay);
    uint8_t serve(ctx &c, request &rq, sc_core::sc_time &delay,
                  uint32_t *data);
    uint8_t rw(ctx &c, request &rq, uint32_t type, uint64_t sector,
               sc_core::sc_time &delay, uint32_t *data);
    uint8_t dwz(ctx &c, request &rq, uint32_t type, sc_core::sc_time &delay);
    bool to_dma(ctx &c, tlm::tlm_command cmd, uint64_t addr, void *p,
                uint32_t len, sc_core::sc_time &delay);
    bool to_storage(ctx &c, tlm::tlm_command cmd, uint64_t addr, uint8_t *p,
                    uint32_t len, sc_core::sc_time &delay);
    uint8_t *dmi_ptr(uint64_t addr, uint32_t len, bool write);
    void dmi_ask(uint64_t addr);
    void invalidate(sc_dt::uint64 start, sc_dt::uint64 end);

    uint64_t capacity_;
    bool ro_;
    uint16_t nq_;
    std::string serial_;
    counts n_;
    std::vector<std::unique_ptr<ctx>> ctxs_; // the pool
    std::vector<ctx *> free_;
    tlm::tlm_dmi dmi_;      // the storage's grant, valid while dmi_ok_
    bool dmi_ok_ = false;
};

// The bridge and the front half in one, bound together: bind your storage
// model's target socket to `storage`.
class blk_bridge : public sc_core::sc_module {
public:
    blk_front front;
    bridge br;
    tlm_utils::simple_initiator_socket<blk_front> &storage;

    blk_bridge(sc_core::sc_module_name name, const std::string &model,
               uint64_t capacity, bool read_only = false,
               uint16_t num_queues = 1);
};

// virtio-blk in front of a storage model, for a program's build()
// (cosim/systemc/program.h): a blk_bridge of @capacity bytes whose storage
// socket is bound to the model's @target.
template <class TARGET>
bridge *storage(const options &o, TARGET &target, uint64_t capacity,
                bool read_only = false, uint16_t num_queues = 1)
{
    auto *disk = new blk_bridge("disk", o.desc().name, capacity, read_only,
                                num_queues);
    disk->storage.bind(target);
    return &disk->br;
}

} // namespace vusim_sc

#endif
