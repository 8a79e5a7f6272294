/* SPDX-License-Identifier: MIT */
/*
 * cosim/frontend/vufe-internal.h - shared by vufe.c (lifecycle, negotiation, typed
 * requests), vufe_io.c (messages, waits, notifications) and vufe_ring.c
 * (guest memory, split rings). Never installed.
 */
#ifndef VUSIM_COSIM_VUFE_INTERNAL_H
#define VUSIM_COSIM_VUFE_INTERNAL_H

#include <stddef.h>

#include "cosim/wire/inflight.h"
#include "cosim/frontend/vufe.h"
#include "sim/log.h"

#define VUFE_SS "vufe"

struct vufe_queue {
    uint16_t num;
    uint64_t desc_gpa, avail_gpa, used_gpa, itab_gpa;  /* itab 0: none */
    struct vu_desc *desc;
    uint16_t *avail;          /* flags, idx, ring[num], used_event */
    uint8_t *used;            /* flags, idx, elems[num], avail_event */
    uint16_t avail_idx;       /* shadow of avail->idx */
    uint16_t kicked_avail;    /* avail_idx when kicks were last decided */
    uint16_t last_used;
    uint16_t *free_stack;     /* free descriptor ids */
    uint16_t nfree;
    uint16_t *next;           /* private copy of each chain's links */
    uint16_t *chain_len;      /* per head: descriptors held, 0 = not out */
    bool calls_off;
    bool broken;
    int kick_fd, call_fd;     /* eventfds, -1 in in-band mode */
    uint64_t calls_pending;   /* in-band calls not yet waited for */
    uint16_t base;            /* next SET_VRING_BASE */
    bool base_fresh;          /* base came from GET_VRING_BASE */
};

struct vufe {
    struct vufe_cfg cfg;
    char *path;
    int sock;
    struct vu_msg_reader rd;  /* every read of sock goes through it */
    int chan;                 /* our end of the back-end channel */
    struct vu_msg_reader chan_rd; /* every read of chan goes through it:
                                     header and payload in one recvmsg */
    bool broken;
    int memfd;
    uint8_t *map;
    size_t map_len;
    struct vu_mem_region regions[2];
    unsigned nregions;
    uint64_t bump;            /* next free gpa */
    uint64_t offered, offered_pf, features, pf;
    uint8_t config[VU_CONFIG_MAX];
    uint32_t config_len;
    struct vufe_stats st;
    struct vufe_queue *q;
    /* INFLIGHT_SHMFD: the region the back-end gave, kept across its
     * restarts as QEMU keeps it; -1 none */
    int inflight_fd;
    struct vu_inflight_desc inflight;
};

static inline bool vufe_has_pf(const struct vufe *fe, int bit)
{
    return (fe->pf & VU_BIT(bit)) != 0;
}

static inline bool vufe_has_f(const struct vufe *fe, int bit)
{
    return (fe->features & VU_BIT(bit)) != 0;
}

static inline bool vufe_inband(const struct vufe *fe)
{
    return fe->cfg.notify == VUFE_NOTIFY_INBAND;
}

/* vufe_ring.c */
int vufe_mem_init(struct vufe *fe);
void vufe_mem_fini(struct vufe *fe);
int vufe_rings_init(struct vufe *fe);
void vufe_rings_fini(struct vufe *fe);
uint64_t vufe_gpa_to_uva(const struct vufe *fe, uint64_t gpa);
uint16_t vufe_used_idx(const struct vufe_queue *vq);

/* vufe_io.c */
/* Send with NEED_REPLY when REPLY_ACK is negotiated; -EREMOTEIO on nack. */
int vufe_send_acked(struct vufe *fe, uint32_t req, const void *payload,
                    uint32_t size, const int *fds, int nfds);
/* Send a request that has a reply body of @size bytes (exactly). */
int vufe_query(struct vufe *fe, uint32_t req, const void *payload,
               uint32_t psize, struct vu_msg *reply, uint32_t rsize);
int vufe_connect(struct vufe *fe, int fd);
void vufe_close_conn(struct vufe *fe);

#endif
