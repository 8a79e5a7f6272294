// SPDX-License-Identifier: MIT
/*
 * examples/systemc-ssd/ssd.h - a loosely-timed NAND SSD as a TLM-2.0
 * storage target
 *
 * Model. channels x dies NAND dies; die k sits on channel k % channels, so
 * consecutive dies are on different channels. Each die and each channel
 * is a queue: an operation starts when its resource is free (FIFO in
 * arrival order) and keeps it busy for its duration:
 *   read page      die: read-time, then channel: the bytes asked for at
 *                  channel-bandwidth
 *   program page   channel: the bytes at channel-bandwidth, then die:
 *                  program-time (a partial page of a mapped page reads the
 *                  old page first: read-time on its die)
 *   erase block    die: erase-time
 * A request completes when its last page does: b_transport returns with
 * that time as its annotated delay (loosely timed, no wait()).
 *
 * A simple page-mapping FTL: logical page -> physical page; writes go to
 * the active block of the next die round-robin; an overwritten page is
 * invalidated; when a die is down to its last free block, garbage
 * collection takes the block with the fewest valid pages (lowest index on
 * ties), moves them (read + program on that die) and erases it, before the
 * write that needed the space. Physical space is the logical space plus
 * 1/8 plus two blocks per die. An unmapped page reads as zeros but still
 * costs a page read. DISCARD (TLM_IGNORE_COMMAND with a range) unmaps the
 * whole pages in it and zeroes the range; FLUSH (ignore, length 0) syncs
 * the backing file and takes no time.
 *
 * Data lives in a flat image, RAM (--size) or a shared mapping of the
 * backing file (--backing): what the guest wrote is in the file, at its
 * byte offset, when the run ends. The FTL only decides timing.
 *
 * Owns:        the image mapping, the FTL tables.
 * Threading:   SystemC's.
 * Errors:      a transaction past the capacity gets
 *              TLM_ADDRESS_ERROR_RESPONSE; byte enables or streaming get
 *              their TLM errors.
 * Determinism: times depend only on the options and the arrival times and
 *              sizes of the transactions.
 */
#ifndef VUSIM_EXAMPLES_SYSTEMC_SSD_H
#define VUSIM_EXAMPLES_SYSTEMC_SSD_H

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "cosim/systemc/program.h"

namespace ssd_example {

struct config {
    uint64_t size = 0;              // bytes (0: the backing file's size)
    std::string backing;            // file, or empty for RAM
    uint32_t channels = 4, dies = 2;
    uint32_t page_size = 4096, pages_per_block = 64;
    sim_time_t t_read = sim_us(50), t_prog = sim_us(500);
    sim_time_t t_erase = sim_ms(3);
    uint64_t channel_bw = 400ull * 1000 * 1000; // bytes/s

    // From the device options (ssd_options); 0, or -EINVAL with the
    // reason recorded in @o.
    int parse(vusim_sc::options &o);
};

// --help lines of the options config::parse() reads; NULL-name terminated.
extern const struct dev_optdesc ssd_options[];

class ssd : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<ssd> socket;

    // Opens or allocates the image; ok() is false (and why() says why) if
    // that failed.
    ssd(sc_core::sc_module_name name, const config &cfg);
    ~ssd() override;

    bool ok() const { return img_ != nullptr; }
    const std::string &why() const { return why_; }
    uint64_t capacity() const { return cap_; }

    struct counts {
        uint64_t page_reads = 0, page_programs = 0, erases = 0;
        uint64_t gc_moves = 0, discarded_pages = 0;
    };
    const counts &get_counts() const { return n_; }

private:
    void b_transport(tlm::tlm_generic_payload &gp, sc_core::sc_time &delay);
    sim_time_t read_page(uint64_t lpn, uint32_t bytes, sim_time_t t);
    sim_time_t write_page(uint64_t lpn, uint32_t bytes, sim_time_t t);
    uint32_t alloc_page(uint32_t die, sim_time_t *t);
    void gc(uint32_t die);
    void invalidate(uint64_t lpn);
    sim_time_t xfer(uint32_t bytes) const;
    uint32_t die_of(uint64_t ppn) const;

    config cfg_;
    uint64_t cap_ = 0;
    uint8_t *img_ = nullptr;
    int fd_ = -1;
    std::string why_;
    uint32_t ndies_, blocks_per_die_;
    std::vector<uint32_t> l2p_, p2l_;      // UINT32_MAX: unmapped / free
    std::vector<uint32_t> valid_;          // per physical block
    std::vector<std::vector<uint32_t>> free_; // per die, free blocks
    std::vector<uint32_t> active_, wp_;    // per die: block, next page
    std::vector<sim_time_t> die_free_, ch_free_;
    uint32_t next_die_ = 0;
    counts n_;
};

} // namespace ssd_example

#endif
