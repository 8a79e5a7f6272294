/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/vq.h - split virtqueue, device side
 *
 * The front-end gives a ring size (SET_VRING_NUM), three ring addresses as
 * user addresses (SET_VRING_ADDR) and the next available index
 * (SET_VRING_BASE). vu_vq_map() translates the rings through vu_mem; it must
 * be called again after every memory-table change (vq->mem_gen tells).
 *
 * vu_vq_pop() walks one descriptor chain, direct or through one indirect
 * table, into a vu_chain of guest addresses: the device-readable segments
 * first, then the device-writable ones. It never keeps a host pointer into
 * guest memory. Everything the guest controls is checked before use: ring
 * indices, descriptor indices, chain length, loops, indirect tables and
 * every buffer's range. A malformed chain marks the queue broken (one ERR
 * log line); after that pop returns -EIO until SET_VRING_ADDR or
 * SET_VRING_BASE sets the queue up again. An indirect table is copied out of
 * guest memory before it is walked, and every descriptor is read once, so a
 * guest rewriting the ring meanwhile cannot get past the checks.
 * Zero-length descriptors are accepted and left out of the segment list.
 *
 * Ring sizes mapped: descriptors 16 * num, avail 6 + 2 * num, used
 * 6 + 8 * num (the event-index words included). Ring addresses must be
 * aligned as virtio requires (16, 2, 4).
 *
 * Indices are free-running u16 counters, masked with num - 1 only on access.
 * Barriers: pop reads avail->idx with acquire before it reads ring entries;
 * push writes the used element, then publishes used->idx with release;
 * vu_vq_should_notify() issues a full fence before it reads used_event or
 * avail->flags, so a notification is never lost.
 *
 * Owns:        indices and shadows; each vu_chain owns its segment array.
 * Borrows:     the vu_mem passed to each call.
 * Threading:   single thread; not re-entrant per queue.
 * Errors:      -ERANGE address or index outside shared memory or the ring
 *              (also avail->idx more than num ahead), -ELOOP chain loops or
 *              is longer than its table, -EBADMSG bad indirect table
 *              (nested, with NEXT, bad length) or readable after writable,
 *              -EPROTO indirect descriptor without INDIRECT_DESC, -EINVAL
 *              bad size or misaligned ring, -EIO queue broken or not mapped,
 *              -ENOMEM (the queue is not marked broken for that one).
 * Determinism: output depends only on guest memory and call order.
 */
#ifndef VUSIM_COSIM_VQ_H
#define VUSIM_COSIM_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include "cosim/wire/mem.h"
#include "cosim/wire/proto.h"

/* One guest buffer of a chain. */
struct vu_seg {
    uint64_t gpa;
    uint32_t len;
};

struct vu_chain {
    uint16_t head;          /* id for the used ring */
    uint32_t nrd, nwr;      /* readable segments, then writable ones */
    uint64_t rd_len, wr_len;
    uint32_t ndesc;         /* descriptors walked, the one pointing at an
                               indirect table and those in it included */
    bool indirect;
    struct vu_seg *segs;    /* nrd + nwr entries, grown on demand */
    uint32_t cap;
    /* private: */
    struct vu_desc *itab;   /* copy of the indirect table being walked */
    uint32_t itab_cap;      /* entries */
};

struct vu_vq {
    /* set by the front-end */
    uint16_t num;
    uint32_t addr_flags;
    uint64_t desc_uva, avail_uva, used_uva;
    bool addr_set;
    bool event_idx;         /* VIRTIO_RING_F_EVENT_IDX negotiated */
    bool indirect_ok;       /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
    /* private: */
    struct vu_desc *desc;
    volatile uint16_t *avail;   /* flags, idx, ring[num], used_event */
    volatile uint16_t *used;    /* flags, idx, then elems, avail_event */
    uint64_t mem_gen;
    bool mapped;
    bool broken;
    uint16_t last_avail;    /* next available entry to pop */
    uint16_t used_idx;      /* shadow of used->idx */
    uint16_t signalled_used;
    bool signalled_valid;
    bool used_sync;         /* next map reloads used_idx from used->idx */
};

void vu_vq_init(struct vu_vq *vq);

/* SET_VRING_NUM: a power of two up to VU_QUEUE_MAX, else -EINVAL. */
int vu_vq_set_num(struct vu_vq *vq, uint32_t num);

/* SET_VRING_ADDR; unmaps the rings until the next vu_vq_map(). */
void vu_vq_set_addr(struct vu_vq *vq, const struct vu_vring_addr *a);

/* SET_VRING_BASE: the next available index to pop. */
void vu_vq_set_base(struct vu_vq *vq, uint16_t base);

/*
 * Translate the rings (each must lie in one region): 0, -ERANGE, -EINVAL
 * (no size or address yet, misaligned). On the first map after set_addr or
 * stop, used_idx = used->idx. Call again after every memory-table change:
 * push and should_notify use the mapping without looking at the table.
 */
int vu_vq_map(struct vu_vq *vq, const struct vu_mem *mem);

/* Is the queue mapped for @mem's current generation? */
bool vu_vq_ready(const struct vu_vq *vq, const struct vu_mem *mem);

/* Number of chains the guest has made available and we have not popped;
 * -EIO if not mapped or broken, -ERANGE if avail->idx is implausible. */
int vu_vq_avail_count(const struct vu_vq *vq);

/* Pop one chain: 1 popped, 0 nothing available, < 0 error (see above). */
int vu_vq_pop(struct vu_vq *vq, const struct vu_mem *mem,
              struct vu_chain *ch);

/* Walk the chain at @head again without taking anything from the avail
 * ring: a request in flight when the previous back-end died, resubmitted
 * (cosim/wire/inflight.h). 1 or an error as for pop. */
int vu_vq_pop_head(struct vu_vq *vq, const struct vu_mem *mem, uint16_t head,
                   struct vu_chain *ch);

/* Return @head to the guest with @len bytes written: 0, -EIO (broken or
 * not mapped), -EINVAL (@head not below num). */
int vu_vq_push(struct vu_vq *vq, uint16_t head, uint32_t len);

/* After pushes: must the guest be notified (EVENT_IDX / NO_INTERRUPT)? */
bool vu_vq_should_notify(struct vu_vq *vq);

/*
 * Ask the guest for a kick as soon as it adds a buffer: avail_event =
 * last_avail with EVENT_IDX (pop also does this, without the fence), else
 * clear USED_F_NO_NOTIFY. Ends with a full fence; check vu_vq_avail_count()
 * or pop once more afterwards before waiting for a kick.
 */
void vu_vq_enable_kicks(struct vu_vq *vq);

/* GET_VRING_BASE: unmap the rings; returns the next available index.
 * Pops and pushes fail with -EIO until the next vu_vq_map(). */
uint16_t vu_vq_stop(struct vu_vq *vq);

/* Copy out of the readable part / into the writable part of a chain, from
 * byte @off of that part: 0, or -ERANGE past its end (nothing copied) or
 * if the memory table no longer covers a segment. */
int vu_chain_read(const struct vu_chain *ch, const struct vu_mem *mem,
                  uint64_t off, void *buf, size_t len);
int vu_chain_write(const struct vu_chain *ch, const struct vu_mem *mem,
                   uint64_t off, const void *buf, size_t len);

void vu_chain_init(struct vu_chain *ch);
void vu_chain_fini(struct vu_chain *ch);

#endif
