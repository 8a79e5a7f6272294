/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/proto.h - vhost-user wire format (shared/reference/vhost-user.rst)
 *
 * Constants and packed payload layouts, shared by the back-end and the
 * reference front-end. Everything is in host byte order (little-endian on
 * every host vusim supports), as the spec says.
 *
 * Owns:        nothing; declarations only.
 */
#ifndef VUSIM_COSIM_PROTO_H
#define VUSIM_COSIM_PROTO_H

#include <stdint.h>

/* Front-end requests (front-end -> back-end, on the main socket). */
enum vu_req {
    VU_REQ_NONE = 0,
    VU_REQ_GET_FEATURES = 1,
    VU_REQ_SET_FEATURES = 2,
    VU_REQ_SET_OWNER = 3,
    VU_REQ_RESET_OWNER = 4,
    VU_REQ_SET_MEM_TABLE = 5,
    VU_REQ_SET_LOG_BASE = 6,
    VU_REQ_SET_LOG_FD = 7,
    VU_REQ_SET_VRING_NUM = 8,
    VU_REQ_SET_VRING_ADDR = 9,
    VU_REQ_SET_VRING_BASE = 10,
    VU_REQ_GET_VRING_BASE = 11,
    VU_REQ_SET_VRING_KICK = 12,
    VU_REQ_SET_VRING_CALL = 13,
    VU_REQ_SET_VRING_ERR = 14,
    VU_REQ_GET_PROTOCOL_FEATURES = 15,
    VU_REQ_SET_PROTOCOL_FEATURES = 16,
    VU_REQ_GET_QUEUE_NUM = 17,
    VU_REQ_SET_VRING_ENABLE = 18,
    VU_REQ_SEND_RARP = 19,
    VU_REQ_NET_SET_MTU = 20,
    VU_REQ_SET_BACKEND_REQ_FD = 21,
    VU_REQ_IOTLB_MSG = 22,
    VU_REQ_SET_VRING_ENDIAN = 23,
    VU_REQ_GET_CONFIG = 24,
    VU_REQ_SET_CONFIG = 25,
    VU_REQ_CREATE_CRYPTO_SESSION = 26,
    VU_REQ_CLOSE_CRYPTO_SESSION = 27,
    VU_REQ_POSTCOPY_ADVISE = 28,
    VU_REQ_POSTCOPY_LISTEN = 29,
    VU_REQ_POSTCOPY_END = 30,
    VU_REQ_GET_INFLIGHT_FD = 31,
    VU_REQ_SET_INFLIGHT_FD = 32,
    VU_REQ_GPU_SET_SOCKET = 33,
    VU_REQ_RESET_DEVICE = 34,
    VU_REQ_VRING_KICK = 35,
    VU_REQ_GET_MAX_MEM_SLOTS = 36,
    VU_REQ_ADD_MEM_REG = 37,
    VU_REQ_REM_MEM_REG = 38,
    VU_REQ_SET_STATUS = 39,
    VU_REQ_GET_STATUS = 40,
    VU_REQ_MAX
};

/* Back-end requests (back-end -> front-end, on the back-end channel). */
enum vu_breq {
    VU_BREQ_NONE = 0,
    VU_BREQ_IOTLB_MSG = 1,
    VU_BREQ_CONFIG_CHANGE_MSG = 2,
    VU_BREQ_VRING_HOST_NOTIFIER_MSG = 3,
    VU_BREQ_VRING_CALL = 4,
    VU_BREQ_VRING_ERR = 5,
    VU_BREQ_MAX
};

/* Header flags. */
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_VERSION           0x1u
#define VU_FLAG_REPLY        (1u << 2)
#define VU_FLAG_NEED_REPLY   (1u << 3)

/* Virtio transport feature bits vhost-user cares about. */
#define VU_F_RING_INDIRECT_DESC   28
#define VU_F_RING_EVENT_IDX       29
#define VU_F_PROTOCOL_FEATURES    30
#define VU_F_VERSION_1            32

/* Protocol feature bits. */
#define VU_PF_MQ                   0
#define VU_PF_LOG_SHMFD            1
#define VU_PF_RARP                 2
#define VU_PF_REPLY_ACK            3
#define VU_PF_MTU                  4
#define VU_PF_BACKEND_REQ          5
#define VU_PF_CROSS_ENDIAN         6
#define VU_PF_CRYPTO_SESSION       7
#define VU_PF_PAGEFAULT            8
#define VU_PF_CONFIG               9
#define VU_PF_BACKEND_SEND_FD      10
#define VU_PF_HOST_NOTIFIER        11
#define VU_PF_INFLIGHT_SHMFD       12
#define VU_PF_RESET_DEVICE         13
#define VU_PF_INBAND_NOTIFICATIONS 14
#define VU_PF_CONFIGURE_MEM_SLOTS  15
#define VU_PF_STATUS               16

#define VU_BIT(n) (1ull << (n))

/* SET_VRING_KICK/CALL/ERR payload: low byte is the index; this bit says
 * no fd came with the message. */
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD     (1u << 8)

/* SET_VRING_ADDR flags */
#define VU_VRING_F_LOG 0x1u

#define VU_MAX_FDS          8     /* fds one message may carry */
#define VU_MEM_TABLE_MAX    8     /* regions in one SET_MEM_TABLE */
#define VU_MAX_MEM_SLOTS    32    /* answer to GET_MAX_MEM_SLOTS */
#define VU_CONFIG_MAX       256   /* config space bytes one message moves */
#define VU_QUEUE_MAX        1024  /* largest split ring accepted */
#define VU_MAX_QUEUES       64

struct vu_hdr {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
} __attribute__((packed));

struct vu_vring_state {
    uint32_t index;
    uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
    uint32_t index;
    uint32_t flags;
    uint64_t desc;
    uint64_t used;
    uint64_t avail;
    uint64_t log;
} __attribute__((packed));

struct vu_mem_region {
    uint64_t gpa;
    uint64_t size;
    uint64_t uva;
    uint64_t mmap_offset;
} __attribute__((packed));

struct vu_mem_table {
    uint32_t nregions;
    uint32_t padding;
    struct vu_mem_region regions[VU_MEM_TABLE_MAX];
} __attribute__((packed));

struct vu_mem_single {
    uint64_t padding;
    struct vu_mem_region region;
} __attribute__((packed));

struct vu_config {
    uint32_t offset;
    uint32_t size;
    uint32_t flags;
    uint8_t payload[VU_CONFIG_MAX];
} __attribute__((packed));

#define VU_CONFIG_HDR_SIZE 12u

/* All payloads, for the message buffer. */
union vu_payload {
    uint64_t u64;
    struct vu_vring_state state;
    struct vu_vring_addr addr;
    struct vu_mem_table mem;
    struct vu_mem_single mreg;
    struct vu_config config;
    uint8_t raw[512];
};

#define VU_PAYLOAD_MAX ((uint32_t)sizeof(union vu_payload))

/* Split virtqueue layout (virtio 1.x, little-endian). */
#define VU_DESC_F_NEXT     1u
#define VU_DESC_F_WRITE    2u
#define VU_DESC_F_INDIRECT 4u
#define VU_AVAIL_F_NO_INTERRUPT 1u
#define VU_USED_F_NO_NOTIFY     1u

struct vu_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} __attribute__((packed));

struct vu_used_elem {
    uint32_t id;
    uint32_t len;
} __attribute__((packed));

/* Event index: may the other side skip a notification? Free-running u16
 * indices compared modulo 2^16, as virtio specifies. */
static inline int vu_need_event(uint16_t event_idx, uint16_t new_idx,
                                uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) <
           (uint16_t)(new_idx - old_idx);
}

const char *vu_req_name(uint32_t req);
const char *vu_breq_name(uint32_t req);

/* Does the spec define a reply for @req whatever NEED_REPLY says? Such a
 * request cannot be refused with an ack: the front-end reads the reply
 * body, so a back-end that cannot answer must close the connection. */
int vu_req_has_reply(uint32_t req);

#endif
