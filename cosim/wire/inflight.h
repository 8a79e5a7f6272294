/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/inflight.h - in-flight request tracking in memory the front-end
 * keeps (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, split rings)
 *
 * Model. GET_INFLIGHT_FD makes a zeroed memfd of one region per queue and
 * hands it to the front-end, which keeps it across back-end restarts and
 * gives it back with SET_INFLIGHT_FD. Each region is the spec's
 * QueueRegionSplit: a header {features, version, desc_num,
 * last_batch_head, used_idx} and one DescStateSplit {inflight, next,
 * counter} per descriptor. The back-end marks a head in flight (with a
 * running counter) when it takes the chain, and when it completes it links
 * the head as the last batch, publishes the used element, clears the mark
 * and records used->idx. A back-end that starts on a region a dead one
 * wrote first repairs the last batch (used_idx behind used->idx: the
 * completion reached the ring, the mark was not cleared), then resubmits
 * every head still marked, oldest counter first, and takes new chains from
 * avail index used->idx + (heads resubmitted).
 *
 * Per queue region size: 16 + 16 * queue_size, rounded up to 64 bytes.
 *
 * Owns:        the mapping of the region (and the fd until it is sent or
 *              replaced).
 * Borrows:     nothing.
 * Threading:   the event loop's thread.
 * Errors:      -EINVAL bad sizes (queues, queue size, a region smaller
 *              than the queues need, an offset not page-aligned or past the
 *              end of the file), -errno from memfd, fstat or mmap. The
 *              region's contents come from the front-end: every index read
 *              from it is checked against the ring size, a region whose
 *              desc_num disagrees with the ring is reset, not trusted.
 * Determinism: resubmission order is the counters' order, ties by head.
 */
#ifndef VUSIM_COSIM_INFLIGHT_H
#define VUSIM_COSIM_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cosim/wire/proto.h"

/* The inflight description (vhost-user.rst). Its fields take 20 bytes, but
 * QEMU and libvhost-user declare it unpacked and so send it, and insist on
 * it back, with 4 bytes of tail padding: 24 on the wire. A request of 20
 * or 24 bytes is taken; the reply is 24, padding zeroed. */
struct vu_inflight_desc {
    uint64_t mmap_size;
    uint64_t mmap_offset;
    uint16_t num_queues;
    uint16_t queue_size;
    uint32_t padding;
};

/* The shortest description a front-end may send: the fields alone. */
#define VU_INFLIGHT_DESC_MIN 20

struct vu_inflight {
    uint8_t *map;               /* NULL: none attached */
    size_t map_len;
    void *map_base;             /* what mmap returned (page aligned) */
    size_t map_base_len;
    uint16_t nq, qsize;
    uint64_t counter;           /* next counter to hand out */
};

/* Per queue: what the region says must be resubmitted. */
struct vu_inflight_q {
    bool checked;               /* the region was read for this start */
    uint16_t resubmit[VU_QUEUE_MAX];
    uint16_t nresubmit, next;
};

void vu_inflight_init(struct vu_inflight *inf);
void vu_inflight_fini(struct vu_inflight *inf);

/* Bytes one queue's region takes. */
size_t vu_inflight_queue_bytes(uint16_t qsize);

/* GET_INFLIGHT_FD: a new zeroed region for @d's queues, attached, and its
 * fd in *@fd (the caller sends and closes it); @d is filled for the reply. */
int vu_inflight_get(struct vu_inflight *inf, struct vu_inflight_desc *d,
                    int *fd);

/* SET_INFLIGHT_FD: attach the region in @fd (taken: closed here). */
int vu_inflight_set(struct vu_inflight *inf, const struct vu_inflight_desc *d,
                    int fd);

/*
 * Queue @qi starts with a ring of @num entries whose used->idx is
 * @used_idx. Fills @iq with the heads to resubmit and returns the avail
 * index to take new chains from (used_idx + resubmitted), or -1 when the
 * region has nothing to say (none attached, queue outside it, fresh).
 */
long vu_inflight_start(struct vu_inflight *inf, uint16_t qi, uint16_t num,
                       uint16_t used_idx, struct vu_inflight_q *iq);

/* Whether queue @qi's region was written by a back-end before (version
 * set): a ring that starts on it is a restart, not a fresh start. */
bool vu_inflight_ran(const struct vu_inflight *inf, uint16_t qi);

/* The back-end took the chain at @head from the avail ring. */
void vu_inflight_took(struct vu_inflight *inf, uint16_t qi, uint16_t head);
/* Before the used element for @head is published, and after (with the
 * new used->idx). */
void vu_inflight_completing(struct vu_inflight *inf, uint16_t qi,
                            uint16_t head);
void vu_inflight_completed(struct vu_inflight *inf, uint16_t qi,
                           uint16_t head, uint16_t used_idx);

#endif
