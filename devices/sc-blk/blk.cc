// SPDX-License-Identifier: MIT
/*
 * The virtio-blk front half (blk.h). Layouts are those of devices/blk/blk.h
 * (virtio 1.1 5.2.6): header readable first, status the last writable
 * byte. Each request uses its own context (transactions and bounce
 * buffer), so several may be inside a storage model that wait()s at once;
 * contexts are pooled.
 */
#include "config.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include "devices/sc-blk/blk.h"

using namespace sc_core;

namespace vusim_sc {

namespace {

enum : uint32_t {
    T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11,
    T_WRITE_ZEROES = 13,
};
constexpr uint8_t S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
enum : unsigned {
    F_SEG_MAX = 2, F_RO = 5, F_BLK_SIZE = 6, F_FLUSH = 9, F_MQ = 12,
    F_DISCARD = 13, F_WRITE_ZEROES = 14,
};
constexpr uint32_t SECTOR = 512, HDR = 16, SEG = 16, ID_BYTES = 20;
constexpr uint32_t SEG_MAX = 126, DWZ_MAX_SECTORS = 1u << 21, DWZ_MAX_SEG = 16;
constexpr uint32_t ZERO_CHUNK = 64 * 1024, CONFIG_SIZE = 60;

void put16(uint8_t *p, uint16_t v) { std::memcpy(p, &v, 2); }
void put32(uint8_t *p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(uint8_t *p, uint64_t v) { std::memcpy(p, &v, 8); }

// A transaction ready for one access (every attribute a target may look
// at is set: the transaction is reused).
void prepare(tlm::tlm_generic_payload &gp, tlm::tlm_command cmd,
             uint64_t addr, unsigned char *p, uint32_t len)
{
    gp.set_command(cmd);
    gp.set_address(addr);
    gp.set_data_ptr(p);
    gp.set_data_length(len);
    gp.set_streaming_width(len);
    gp.set_byte_enable_ptr(nullptr);
    gp.set_byte_enable_length(0);
    gp.set_dmi_allowed(false);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

} // namespace

// One request's working set: a transaction for the DMA socket, one for the
// storage socket, the bounce buffer (it only grows) and the DISCARD /
// WRITE_ZEROES segments.
struct blk_front::ctx {
    tlm::tlm_generic_payload dma_gp, st_gp;
    std::vector<uint8_t> buf, segs;
};

blk_front::blk_front(sc_module_name name, uint64_t capacity, bool read_only,
                     uint16_t num_queues)
    : sc_module(name), req_target("req_target"), dma("dma"),
      storage("storage"), capacity_(capacity), ro_(read_only),
      nq_(num_queues ? num_queues : 1), serial_("vusim-sc")
{
    req_target.register_b_transport(this, &blk_front::b_req);
    storage.register_invalidate_direct_mem_ptr(this, &blk_front::invalidate);
}

device_desc blk_front::desc(const std::string &model) const
{
    device_desc d;

    d.name = model;
    d.virtio_id = 2;
    d.features = (1ull << F_SEG_MAX) | (1ull << F_BLK_SIZE) |
                 (1ull << F_FLUSH) | (1ull << F_DISCARD) |
                 (1ull << F_WRITE_ZEROES);
    if (ro_) {
        d.features |= 1ull << F_RO;
    }
    if (nq_ > 1) {
        d.features |= 1ull << F_MQ;
    }
    d.num_queues = nq_;
    d.queue_size_max = 1024;
    d.config_size = CONFIG_SIZE;
    return d;
}

// A RAM disk that starts as zeros: the trace records its size (what the
// capacity in config space says, in whole sectors).
int blk_front::image_size(uint64_t *bytes)
{
    *bytes = capacity_ / SECTOR * SECTOR;
    return 0;
}

int blk_front::get_config(uint32_t off, void *buf, uint32_t len)
{
    uint8_t c[CONFIG_SIZE] = {};

    put64(c + 0, capacity_ / SECTOR);
    put32(c + 12, SEG_MAX);
    put32(c + 20, SECTOR);
    put16(c + 34, nq_);
    put32(c + 36, DWZ_MAX_SECTORS);
    put32(c + 40, DWZ_MAX_SEG);
    put32(c + 44, 1);
    put32(c + 48, DWZ_MAX_SECTORS);
    put32(c + 52, DWZ_MAX_SEG);
    c[56] = 0;
    std::memcpy(buf, c + off, len);
    return 0;
}

std::string blk_front::stats_json()
{
    return "\"req_in\": " + std::to_string(n_.in) +
           ", \"req_out\": " + std::to_string(n_.out) +
           ", \"req_flush\": " + std::to_string(n_.flush) +
           ", \"req_get_id\": " + std::to_string(n_.get_id) +
           ", \"req_discard\": " + std::to_string(n_.discard) +
           ", \"req_write_zeroes\": " + std::to_string(n_.write_zeroes) +
           ", \"unsupported\": " + std::to_string(n_.unsupported) +
           ", \"errors\": " + std::to_string(n_.errors) +
           ", \"dmi\": " + std::to_string(n_.dmi);
}

bool blk_front::to_dma(ctx &c, tlm::tlm_command cmd, uint64_t addr, void *p,
                       uint32_t len, sc_time &delay)
{
    prepare(c.dma_gp, cmd, addr, static_cast<unsigned char *>(p), len);
    dma->b_transport(c.dma_gp, delay);
    return c.dma_gp.is_response_ok();
}

bool blk_front::to_storage(ctx &c, tlm::tlm_command cmd, uint64_t addr,
                           uint8_t *p, uint32_t len, sc_time &delay)
{
    prepare(c.st_gp, cmd, addr, p, len);
    storage->b_transport(c.st_gp, delay);
    return c.st_gp.is_response_ok();
}

/* ---- DMI to the storage model ---------------------------------------- */

// The granted memory for [addr, addr + len) with read (IN) or write (OUT)
// access, or nullptr.
uint8_t *blk_front::dmi_ptr(uint64_t addr, uint32_t len, bool write)
{
    if (!dmi_ok_ || addr < dmi_.get_start_address() ||
        addr > dmi_.get_end_address() ||
        (len && len - 1 > dmi_.get_end_address() - addr) ||
        !(write ? dmi_.is_write_allowed() : dmi_.is_read_allowed())) {
        return nullptr;
    }
    return dmi_.get_dmi_ptr() + (addr - dmi_.get_start_address());
}

// The storage hinted (dmi_allowed) that it grants DMI around @addr.
void blk_front::dmi_ask(uint64_t addr)
{
    tlm::tlm_generic_payload gp;

    prepare(gp, tlm::TLM_READ_COMMAND, addr, nullptr, 0);
    dmi_.init();
    dmi_ok_ = storage->get_direct_mem_ptr(gp, dmi_) && dmi_.get_dmi_ptr();
}

void blk_front::invalidate(sc_dt::uint64 start, sc_dt::uint64 end)
{
    if (dmi_ok_ && start <= dmi_.get_end_address() &&
        end >= dmi_.get_start_address()) {
        dmi_ok_ = false;
    }
}

// IN and OUT: one storage transaction for the whole payload, or one DMA
// straight from or to the storage's DMI memory.
uint8_t blk_front::rw(ctx &c, request &rq, uint32_t type, uint64_t sector,
                      sc_time &delay, uint32_t *data)
{
    bool in = type == T_IN;
    uint32_t n = in ? rq.wr_len - 1 : rq.rd_len - HDR;
    uint64_t off = sector * SECTOR;
    uint8_t *buf;

    if (!in && ro_) {
        return S_IOERR;
    }
    if (n % SECTOR || sector > capacity_ / SECTOR || off > capacity_ ||
        n > capacity_ - off) {
        return S_IOERR;
    }
    if ((buf = dmi_ptr(off, n, !in))) {
        n_.dmi++;
        delay += in ? dmi_.get_read_latency() : dmi_.get_write_latency();
        if (!to_dma(c, in ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND,
                    rq.dma_addr + (in ? 0 : HDR), buf, n, delay)) {
            return S_IOERR;
        }
        *data = in ? n : 0;
        return S_OK;
    }
    if (c.buf.size() < n) {
        c.buf.resize(n); // every byte is written before it is read
    }
    buf = c.buf.data();
    if (in) {
        if (!to_storage(c, tlm::TLM_READ_COMMAND, off, buf, n, delay) ||
            !to_dma(c, tlm::TLM_WRITE_COMMAND, rq.dma_addr, buf, n, delay)) {
            return S_IOERR;
        }
        *data = n;
    } else if (!to_dma(c, tlm::TLM_READ_COMMAND, rq.dma_addr + HDR, buf, n,
                       delay) ||
               !to_storage(c, tlm::TLM_WRITE_COMMAND, off, buf, n, delay)) {
        return S_IOERR;
    }
    if (c.st_gp.is_dmi_allowed() && !dmi_ok_) {
        dmi_ask(off);
    }
    return S_OK;
}

// DISCARD and WRITE_ZEROES: every segment checked before any is applied.
uint8_t blk_front::dwz(ctx &c, request &rq, uint32_t type, sc_time &delay)
{
    uint32_t nseg = (rq.rd_len - HDR) / SEG;
    std::vector<uint8_t> &segs = c.segs;
    std::vector<uint8_t> zero;

    if (ro_ || (rq.rd_len - HDR) % SEG || nseg == 0 || nseg > DWZ_MAX_SEG) {
        return S_IOERR;
    }
    segs.resize(nseg * SEG);
    if (!to_dma(c, tlm::TLM_READ_COMMAND, rq.dma_addr + HDR, segs.data(),
                nseg * SEG, delay)) {
        return S_IOERR;
    }
    for (uint32_t i = 0; i < nseg; i++) {
        uint64_t s;
        uint32_t k;

        std::memcpy(&s, &segs[i * SEG], 8);
        std::memcpy(&k, &segs[i * SEG + 8], 4);
        if (k > DWZ_MAX_SECTORS || s > capacity_ / SECTOR ||
            k > capacity_ / SECTOR - s) {
            return S_IOERR;
        }
    }
    if (type == T_WRITE_ZEROES) {
        zero.assign(ZERO_CHUNK, 0);
    }
    for (uint32_t i = 0; i < nseg; i++) {
        uint64_t s, off, left;
        uint32_t k;

        std::memcpy(&s, &segs[i * SEG], 8);
        std::memcpy(&k, &segs[i * SEG + 8], 4);
        off = s * SECTOR;
        left = static_cast<uint64_t>(k) * SECTOR;
        if (type == T_DISCARD) {
            if (!to_storage(c, tlm::TLM_IGNORE_COMMAND, off, nullptr,
                            static_cast<uint32_t>(left), delay)) {
                return S_IOERR;
            }
            continue;
        }
        while (left) {
            uint32_t k = left < ZERO_CHUNK ? static_cast<uint32_t>(left)
                                           : ZERO_CHUNK;
            if (!to_storage(c, tlm::TLM_WRITE_COMMAND, off, zero.data(), k,
                            delay)) {
                return S_IOERR;
            }
            off += k;
            left -= k;
        }
    }
    return S_OK;
}

uint8_t blk_front::serve(ctx &c, request &rq, sc_time &delay,
                         uint32_t *data)
{
    uint8_t hdr[HDR];
    uint32_t type;
    uint64_t sector;

    if (rq.rd_len < HDR || rq.wr_len < 1 ||
        !to_dma(c, tlm::TLM_READ_COMMAND, rq.dma_addr, hdr, HDR, delay)) {
        return S_IOERR;
    }
    std::memcpy(&type, hdr, 4);
    std::memcpy(&sector, hdr + 8, 8);
    switch (type) {
    case T_IN:
        n_.in++;
        return rq.rd_len == HDR ? rw(c, rq, type, sector, delay, data)
                                : S_IOERR;
    case T_OUT:
        n_.out++;
        return rq.wr_len == 1 ? rw(c, rq, type, sector, delay, data)
                              : S_IOERR;
    case T_FLUSH:
        n_.flush++;
        return to_storage(c, tlm::TLM_IGNORE_COMMAND, 0, nullptr, 0, delay)
                   ? S_OK : S_IOERR;
    case T_GET_ID: {
        uint8_t id[ID_BYTES] = {};
        uint32_t k = rq.wr_len - 1 < ID_BYTES ? rq.wr_len - 1 : ID_BYTES;

        n_.get_id++;
        std::memcpy(id, serial_.data(),
                    serial_.size() < ID_BYTES ? serial_.size() : ID_BYTES);
        if (k == 0 || !to_dma(c, tlm::TLM_WRITE_COMMAND, rq.dma_addr, id, k,
                              delay)) {
            return S_IOERR;
        }
        *data = k;
        return S_OK;
    }
    case T_DISCARD:
        n_.discard++;
        return rq.wr_len == 1 ? dwz(c, rq, type, delay) : S_IOERR;
    case T_WRITE_ZEROES:
        n_.write_zeroes++;
        return rq.wr_len == 1 ? dwz(c, rq, type, delay) : S_IOERR;
    default:
        n_.unsupported++;
        return S_UNSUPP;
    }
}

void blk_front::b_req(tlm::tlm_generic_payload &gp, sc_time &delay)
{
    request *rq = gp.get_extension<request>();
    ctx *c;

    if (!rq) {
        gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        return;
    }
    if (free_.empty()) {
        ctxs_.emplace_back(new ctx());
        c = ctxs_.back().get();
    } else {
        c = free_.back();
        free_.pop_back();
    }
    answer(*c, gp, *rq, delay);
    free_.push_back(c);
}

void blk_front::answer(ctx &c, tlm::tlm_generic_payload &gp, request &rq,
                       sc_time &delay)
{
    uint32_t data = 0;
    uint8_t st = serve(c, rq, delay, &data);

    if (st == S_IOERR) {
        n_.errors++;
    }
    if (rq.wr_len == 0) {
        rq.used_len = 0;
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
        return;
    }
    if (!to_dma(c, tlm::TLM_WRITE_COMMAND, rq.dma_addr + rq.wr_len - 1, &st,
                1, delay)) {
        gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        return;
    }
    rq.used_len = data + 1;
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

blk_bridge::blk_bridge(sc_module_name name, const std::string &model,
                       uint64_t capacity, bool read_only, uint16_t num_queues)
    : sc_module(name), front("front", capacity, read_only, num_queues),
      br("bridge", front.desc(model), &front), storage(front.storage)
{
    br.req_socket.bind(front.req_target);
    front.dma.bind(br.dma_socket);
}

} // namespace vusim_sc
