// SPDX-License-Identifier: MIT
/*
 * The NAND SSD model (ssd.h): timing from per-die and per-channel free
 * times and a page-mapping FTL; data in a flat image. Like every example,
 * it needs nothing of vusim's build but the installed headers.
 */
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/systemc-ssd/ssd.h"

extern "C" {
#include "sim/time.h"
}

using namespace sc_core;

namespace ssd_example {

namespace {
constexpr uint32_t NONE = UINT32_MAX;
}

const struct dev_optdesc ssd_options[] = {
    {"size", "BYTES", "capacity (K/M/G suffixes); with --backing, the size "
                      "of a file that does not exist yet"},
    {"backing", "FILE", "keep the data in FILE (its size is the capacity)"},
    {"channels", "N", "NAND channels (default 4)"},
    {"dies", "N", "dies per channel (default 2)"},
    {"page-size", "BYTES", "NAND page (default 4K)"},
    {"pages-per-block", "N", "pages per erase block (default 64)"},
    {"read-time", "DURATION", "page read, tR (default 50us)"},
    {"program-time", "DURATION", "page program, tPROG (default 500us)"},
    {"erase-time", "DURATION", "block erase, tBERS (default 3ms)"},
    {"channel-bandwidth", "BYTES_PER_S",
     "each channel's transfer rate (default 400000000)"},
    {nullptr, nullptr, nullptr},
};

int config::parse(vusim_sc::options &o)
{
    size = o.bytes("size", 0, 512, 1ull << 40);
    backing = o.str("backing");
    channels = static_cast<uint32_t>(o.u64("channels", channels, 1, 64));
    dies = static_cast<uint32_t>(o.u64("dies", dies, 1, 64));
    pages_per_block = static_cast<uint32_t>(
        o.u64("pages-per-block", pages_per_block, 2, 4096));
    page_size = static_cast<uint32_t>(o.bytes("page-size", page_size, 512,
                                              65536));
    t_read = o.duration("read-time", t_read);
    t_prog = o.duration("program-time", t_prog);
    t_erase = o.duration("erase-time", t_erase);
    channel_bw = o.u64("channel-bandwidth", channel_bw, 1);
    if (o.ok() && !size && backing.empty()) {
        o.fail("give --size=BYTES or --backing=FILE");
    }
    if (o.ok() && size % 512) {
        o.fail("--size=" + o.str("size") + ": not a multiple of 512");
    }
    if (o.ok() && page_size % 512) {
        o.fail("--page-size=" + o.str("page-size") +
               ": not a multiple of 512");
    }
    return o.ok() ? 0 : -EINVAL;
}

ssd::ssd(sc_module_name name, const config &cfg)
    : sc_module(name), socket("socket"), cfg_(cfg)
{
    void *p;

    socket.register_b_transport(this, &ssd::b_transport);
    cap_ = cfg.size;
    if (!cfg.backing.empty()) {
        struct stat st;

        fd_ = open(cfg.backing.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0 || fstat(fd_, &st) != 0) {
            why_ = cfg.backing + ": " + std::strerror(errno);
            return;
        }
        if (st.st_size == 0 && cap_ && ftruncate(fd_, cap_) != 0) {
            why_ = cfg.backing + ": " + std::strerror(errno);
            return;
        }
        if (st.st_size) {
            cap_ = static_cast<uint64_t>(st.st_size);
        }
        if (cap_ == 0 || cap_ % 512) {
            why_ = cfg.backing + ": size " + std::to_string(cap_) +
                   " is not a positive multiple of 512";
            return;
        }
        p = mmap(nullptr, cap_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    } else {
        p = mmap(nullptr, cap_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    }
    if (p == MAP_FAILED) {
        why_ = std::string("cannot map the image: ") + std::strerror(errno);
        return;
    }
    img_ = static_cast<uint8_t *>(p);

    uint64_t lpages = (cap_ + cfg_.page_size - 1) / cfg_.page_size;
    uint64_t ppages = lpages + lpages / 8;
    ndies_ = cfg_.channels * cfg_.dies;
    blocks_per_die_ = static_cast<uint32_t>(
        (ppages + ndies_ - 1) / ndies_ / cfg_.pages_per_block + 1 + 2);
    uint64_t nblocks = static_cast<uint64_t>(blocks_per_die_) * ndies_;
    l2p_.assign(lpages, NONE);
    p2l_.assign(nblocks * cfg_.pages_per_block, NONE);
    valid_.assign(nblocks, 0);
    free_.resize(ndies_);
    active_.assign(ndies_, 0);
    wp_.assign(ndies_, 0);
    die_free_.assign(ndies_, 0);
    ch_free_.assign(cfg_.channels, 0);
    for (uint32_t d = 0; d < ndies_; d++) {
        // a stack: the lowest block is taken first
        for (uint32_t b = blocks_per_die_; b-- > 1;) {
            free_[d].push_back(d * blocks_per_die_ + b);
        }
        active_[d] = d * blocks_per_die_;
    }
}

ssd::~ssd()
{
    if (img_) {
        munmap(img_, cap_);
    }
    if (fd_ >= 0) {
        close(fd_);
    }
}

sim_time_t ssd::xfer(uint32_t bytes) const
{
    sim_time_t t = 0;

    sim_time_for_bytes(bytes, cfg_.channel_bw, &t);
    return t;
}

uint32_t ssd::die_of(uint64_t ppn) const
{
    return static_cast<uint32_t>(ppn / cfg_.pages_per_block /
                                 blocks_per_die_);
}

void ssd::invalidate(uint64_t lpn)
{
    uint32_t ppn = l2p_[lpn];

    if (ppn != NONE) {
        valid_[ppn / cfg_.pages_per_block]--;
        p2l_[ppn] = NONE;
        l2p_[lpn] = NONE;
    }
}

// The die is down to its reserve block: move the valid pages of the
// block with the fewest into the reserve, erase it, and make the reserve
// the active block.
void ssd::gc(uint32_t die)
{
    uint32_t ppb = cfg_.pages_per_block, first = die * blocks_per_die_;
    uint32_t victim = NONE, dest, moved = 0;
    sim_time_t t = die_free_[die];

    for (uint32_t b = first; b < first + blocks_per_die_; b++) {
        if (b == active_[die] ||
            std::find(free_[die].begin(), free_[die].end(), b) !=
                free_[die].end()) {
            continue;
        }
        if (valid_[b] < ppb && (victim == NONE || valid_[b] < valid_[victim])) {
            victim = b;
        }
    }
    if (victim == NONE || free_[die].empty()) {
        return;
    }
    dest = free_[die].back();
    free_[die].pop_back();
    for (uint32_t p = 0; p < ppb; p++) {
        uint32_t from = victim * ppb + p, lpn = p2l_[from];

        if (lpn == NONE) {
            continue;
        }
        uint32_t to = dest * ppb + moved++;
        p2l_[from] = NONE;
        p2l_[to] = lpn;
        l2p_[lpn] = to;
        t += cfg_.t_read + cfg_.t_prog;
        n_.gc_moves++;
    }
    valid_[dest] = moved;
    valid_[victim] = 0;
    t += cfg_.t_erase;
    n_.erases++;
    free_[die].insert(free_[die].begin(), victim);
    active_[die] = dest;
    wp_[die] = moved;
    die_free_[die] = t;
}

// A free page on @die, garbage-collecting first if needed (the die is
// busy until then); NONE if the die has no reclaimable space.
uint32_t ssd::alloc_page(uint32_t die, sim_time_t *t)
{
    uint32_t ppb = cfg_.pages_per_block;

    if (wp_[die] == ppb) {
        if (free_[die].size() > 1) {
            active_[die] = free_[die].back();
            free_[die].pop_back();
            wp_[die] = 0;
        } else {
            die_free_[die] = std::max(die_free_[die], *t);
            gc(die);
            if (wp_[die] == ppb) {
                return NONE;
            }
        }
    }
    return active_[die] * ppb + wp_[die]++;
}

sim_time_t ssd::read_page(uint64_t lpn, uint32_t bytes, sim_time_t t)
{
    uint32_t ppn = l2p_[lpn];
    uint32_t die = ppn != NONE ? die_of(ppn)
                               : static_cast<uint32_t>(lpn % ndies_);
    uint32_t ch = die % cfg_.channels;
    sim_time_t s = std::max(t, die_free_[die]);

    die_free_[die] = s + cfg_.t_read;
    s = std::max(die_free_[die], ch_free_[ch]);
    ch_free_[ch] = s + xfer(bytes);
    n_.page_reads++;
    return ch_free_[ch];
}

sim_time_t ssd::write_page(uint64_t lpn, uint32_t bytes, sim_time_t t)
{
    uint32_t die = 0, ppn = NONE, ch;
    sim_time_t s;

    if (bytes < cfg_.page_size && l2p_[lpn] != NONE) {
        t = read_page(lpn, 0, t); // read-modify-write of the old page
    }
    for (uint32_t k = 0; k < ndies_ && ppn == NONE; k++) {
        die = (next_die_ + k) % ndies_;
        ppn = alloc_page(die, &t);
    }
    next_die_ = (die + 1) % ndies_;
    invalidate(lpn);
    if (ppn == NONE) {
        return t; // cannot happen with the spare space ssd.h reserves
    }
    l2p_[lpn] = ppn;
    p2l_[ppn] = static_cast<uint32_t>(lpn);
    valid_[ppn / cfg_.pages_per_block]++;
    ch = die % cfg_.channels;
    s = std::max(t, ch_free_[ch]);
    ch_free_[ch] = s + xfer(cfg_.page_size);
    s = std::max(ch_free_[ch], die_free_[die]);
    die_free_[die] = s + cfg_.t_prog;
    n_.page_programs++;
    return die_free_[die];
}

void ssd::b_transport(tlm::tlm_generic_payload &gp, sc_time &delay)
{
    uint64_t addr = gp.get_address(), len = gp.get_data_length();
    sim_time_t now = sc_time_stamp().value(), t = now + delay.value();
    sim_time_t done = t;
    uint32_t ps = cfg_.page_size;

    if (gp.get_byte_enable_ptr()) {
        gp.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        return;
    }
    if (gp.get_command() != tlm::TLM_IGNORE_COMMAND &&
        gp.get_streaming_width() < len) {
        gp.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
        return;
    }
    if (addr > cap_ || len > cap_ - addr) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    switch (gp.get_command()) {
    case tlm::TLM_READ_COMMAND:
        std::memcpy(gp.get_data_ptr(), img_ + addr, len);
        for (uint64_t o = addr; o < addr + len;) {
            uint64_t end = std::min(addr + len, (o / ps + 1) * ps);
            done = std::max(done, read_page(o / ps, uint32_t(end - o), t));
            o = end;
        }
        break;
    case tlm::TLM_WRITE_COMMAND:
        std::memcpy(img_ + addr, gp.get_data_ptr(), len);
        for (uint64_t o = addr; o < addr + len;) {
            uint64_t end = std::min(addr + len, (o / ps + 1) * ps);
            done = std::max(done, write_page(o / ps, uint32_t(end - o), t));
            o = end;
        }
        break;
    default:
        if (len == 0) { // FLUSH
            if (fd_ >= 0) {
                msync(img_, cap_, MS_SYNC);
            }
            break;
        }
        std::memset(img_ + addr, 0, len); // DISCARD
        for (uint64_t p = (addr + ps - 1) / ps; (p + 1) * ps <= addr + len;
             p++) {
            invalidate(p);
            n_.discarded_pages++;
        }
        break;
    }
    delay = sc_time::from_value(done - now);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

} // namespace ssd_example
