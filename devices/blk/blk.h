/* SPDX-License-Identifier: MIT */
/*
 * devices/blk/blk.h - virtio-blk (virtio id 2): wire constants, config layout
 *
 * The model: a disk of 512-byte sectors backed by RAM (--size) or by a file
 * or block device (--backing), served by --channels parallel channels. A
 * request takes the lowest-index free channel (or, if all are busy, the one
 * that frees first) and completes at
 *     start = max(now, channel free time)
 *     done  = start + latency + sim_time_for_bytes(data bytes, bandwidth)
 * and the channel is busy until done; --bandwidth is each channel's, so N
 * channels move up to N times as much. Data bytes are the payload of IN/OUT
 * and the id bytes of GET_ID; FLUSH, DISCARD, WRITE_ZEROES and failed
 * requests move none, so they take the latency alone.
 *
 * Data moves when the request is popped (the backing store and the guest's
 * buffer change then); the status byte is written and the request completed
 * at done, so the guest learns nothing before done (a driver never reads a
 * buffer before it is used). FLUSH calls fdatasync()
 * when popped, so every write popped before it is durable when it completes.
 * A cancelled request keeps its channel busy until its done time: the model
 * does not know the work was abandoned. Reset frees every channel.
 *
 * Ties: completions run at priority 0; equal times complete in pop order.
 *
 * Layouts accepted (readable | writable), as virtio 1.1 5.2.6 puts them:
 *   IN            header           | n*512 data + status
 *   OUT           header + n*512   | status
 *   FLUSH         header           | status
 *   GET_ID        header           | k >= 1 id bytes + status (20 filled at
 *                                    most; the serial is NUL-padded)
 *   DISCARD, WRITE_ZEROES  header + 1..16 segments | status
 * used_len is the bytes written to the guest: data plus the status byte.
 * Every segment is checked before any is applied, so a bad one changes
 * nothing. DISCARD zeroes (punches a hole in a file where it can);
 * WRITE_ZEROES writes zeros, punching a hole if the segment has UNMAP.
 *
 * Fault actions (--fault, devices/faults/faults.h; the grammar is in
 * vusim(1)): rules are matched when a request is popped, before it runs,
 * and the firing is reported to the host (dev_fault_report) first.
 *   error      status ioerr/unsupp, no data moves, latency alone
 *   delay      completes delay= after the model's done time
 *   hang       runs (data moves) but is held: no completion until
 *              fault_release(), cancel or reset
 *   late       held; completes right after the next completion of another
 *              request (priority 1, same time) or at done + delay=
 *              (default 10 ms), whichever comes first
 *   torn       a write keeps its first sectors= sectors; status OK, timed
 *              as the whole write
 *   lost       a write/discard/write-zeroes changes nothing; status OK
 *   misdirect  a read/write uses sector to= instead; IOERR past the end
 *   rot        one bit of a read, drawn from the rules' generator, is
 *              flipped in the guest's buffer (the disk is unchanged)
 *   resize     capacity becomes size= (RAM reallocated, a regular file
 *              extended, never truncated), then dev_config_changed()
 *   timing     latency= / bandwidth= replace the model's from now on
 * Rules are not rewound by a device reset: a scenario runs across resets.
 *
 * Owns:        the backing fd or RAM, and a 64 KiB bounce buffer.
 * Borrows:     the calendar; requests from pop to completion or cancel.
 * Threading:   single thread (dev.h).
 * Errors:      create(): -EINVAL bad option or unusable backing, -ENOMEM.
 *              A bad request never fails the device: it gets
 *              DEV_BLK_S_IOERR (bad layout, out of range, read-only, I/O
 *              error) or DEV_BLK_S_UNSUPP (unknown type, unsupported
 *              flags), or, with no writable byte for the status, completes
 *              with used_len 0.
 * Determinism: completion times depend only on options, request sizes and
 *              the simulated times requests are popped at.
 */
#ifndef VUSIM_DEVICES_BLK_H
#define VUSIM_DEVICES_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "devices/dev.h"

#define DEV_BLK_VIRTIO_ID       2
#define DEV_BLK_SECTOR_SIZE     512u
#define DEV_BLK_ID_BYTES        20u

/* Request types (le32 at offset 0 of the header). */
#define DEV_BLK_T_IN            0u
#define DEV_BLK_T_OUT           1u
#define DEV_BLK_T_FLUSH         4u
#define DEV_BLK_T_GET_ID        8u
#define DEV_BLK_T_DISCARD       11u
#define DEV_BLK_T_WRITE_ZEROES  13u

/* Status, the last device-writable byte of a request. */
#define DEV_BLK_S_OK            0u
#define DEV_BLK_S_IOERR         1u
#define DEV_BLK_S_UNSUPP        2u

/* Feature bits. */
#define DEV_BLK_F_SEG_MAX       2
#define DEV_BLK_F_RO            5
#define DEV_BLK_F_BLK_SIZE      6
#define DEV_BLK_F_FLUSH         9
#define DEV_BLK_F_MQ            12
#define DEV_BLK_F_DISCARD       13
#define DEV_BLK_F_WRITE_ZEROES  14

/* Flags of a discard / write-zeroes segment. */
#define DEV_BLK_DWZ_F_UNMAP     1u

/* Limits this model advertises. */
#define DEV_BLK_SEG_MAX         126u
#define DEV_BLK_DWZ_MAX_SECTORS (1u << 21)   /* 1 GiB per segment */
#define DEV_BLK_DWZ_MAX_SEG     16u
#define DEV_BLK_QUEUE_SIZE_MAX  1024u
#define DEV_BLK_MAX_QUEUES      64u
#define DEV_BLK_MAX_CHANNELS    1024u

/* Request header, device-readable, little-endian. */
struct dev_blk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* One DISCARD / WRITE_ZEROES segment, after the header; little-endian. */
struct dev_blk_dwz_seg {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};

/* struct virtio_blk_config of virtio 1.1, little-endian, 60 bytes. */
struct dev_blk_config {
    uint64_t capacity;                  /* 512-byte sectors */
    uint32_t size_max;
    uint32_t seg_max;
    struct {
        uint16_t cylinders;
        uint8_t heads;
        uint8_t sectors;
    } geometry;
    uint32_t blk_size;
    struct {
        uint8_t physical_block_exp;
        uint8_t alignment_offset;
        uint16_t min_io_size;
        uint32_t opt_io_size;
    } topology;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
} __attribute__((packed));

_Static_assert(sizeof(struct dev_blk_req_hdr) == 16, "blk header");
_Static_assert(sizeof(struct dev_blk_dwz_seg) == 16, "blk dwz segment");
_Static_assert(sizeof(struct dev_blk_config) == 60, "blk config");

extern const struct dev_ops dev_blk_ops;

/* For dev_blk_ops (blk_describe.c): see devices/dev.h. */
extern const struct dev_feature_name dev_blk_feature_names[];
extern const char *const dev_blk_vhost_user_features[];
extern const struct dev_optalias dev_blk_aliases[];
void dev_blk_decode(const uint8_t *rd, uint32_t rd_len, uint32_t wr_len,
                    char *buf, size_t len);
const char *dev_blk_status_name(uint8_t status);
uint32_t dev_blk_channels(const struct dev_opt *opts, size_t nopts);
extern const uint8_t dev_blk_fail_status;

/* Its guest side (blk_work.c): see devices/work.h. */
extern const struct dev_work_ops dev_blk_work;

#endif
