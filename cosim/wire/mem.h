/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/mem.h - guest memory shared by the front-end
 *
 * The front-end shares regions: each has a guest physical address (gpa),
 * the front-end's user address (uva), a size, and an fd mapped at an offset.
 * Ring addresses arrive as uvas, descriptor addresses as gpas. Every
 * translation is bounds-checked: a range is translated only if every byte of
 * it lies in shared regions, so nothing the guest writes can make vusim touch
 * other memory.
 *
 * A table change (set, add, remove) builds the new table completely before
 * it replaces the old one; if any region fails, the old table stays intact.
 * Host pointers from this module are valid only until the next table change:
 * keep guest addresses, translate again.
 *
 * Owns:        the mappings and the region fds (closed on remove/fini).
 * Threading:   single thread.
 * Errors:      -EINVAL zero-size, overlapping or wrapping region, too many,
 *              or a region reaching past the end of its (regular) file,
 *              which would SIGBUS on first touch; -ERANGE address outside
 *              the shared regions; -ENOENT removing a region that is not
 *              there; -errno from fstat/mmap (e.g. -EBADF, -ENODEV, -EACCES
 *              for an unmappable fd).
 * Determinism: lookups depend only on the table, never on host addresses.
 */
#ifndef VUSIM_COSIM_MEM_H
#define VUSIM_COSIM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "cosim/wire/proto.h"

struct vu_mem_map {
    struct vu_mem_region r;  /* as the front-end sent it */
    uint8_t *host;           /* host address of gpa r.gpa */
    void *map_base;          /* what mmap returned */
    size_t map_len;
    int fd;
    int guard;               /* memguard.h slot, -1 none */
};

struct vu_mem {
    unsigned nregions;
    struct vu_mem_map maps[VU_MAX_MEM_SLOTS];  /* sorted by gpa */
    uint64_t generation;     /* bumped on every table change */
};

void vu_mem_init(struct vu_mem *mem);

/* Has the front-end shrunk a region's file under its mapping since it was
 * mapped (a SIGBUS the guard took, memguard.h)? Then the connection goes:
 * the region's pages are no longer the front-end's. */
bool vu_mem_broken(const struct vu_mem *mem);

/* Unmap and close everything; bumps the generation, so no queue mapped
 * before looks ready afterwards. */
void vu_mem_fini(struct vu_mem *mem);

/*
 * Replace the table with @n regions (0 empties it), taking ownership of
 * @fds on success and on failure alike (they are closed on failure). Each
 * region is mapped MAP_SHARED from its mmap_offset rounded down to the page
 * (huge page on hugetlbfs) size.
 */
int vu_mem_set_table(struct vu_mem *mem, const struct vu_mem_region *regs,
                     const int *fds, unsigned n);

/* Add one region (ADD_MEM_REG); takes @fd in every case. */
int vu_mem_add(struct vu_mem *mem, const struct vu_mem_region *reg, int fd);

/* Remove the region matching @reg's gpa, size and uva (REM_MEM_REG). */
int vu_mem_remove(struct vu_mem *mem, const struct vu_mem_region *reg);

/* Host pointer for [uva, uva+len) if it lies in one region, else NULL. */
void *vu_mem_uva(const struct vu_mem *mem, uint64_t uva, uint64_t len);

/* Host pointer for [gpa, gpa+len) if it lies in one region, else NULL. */
void *vu_mem_gpa(const struct vu_mem *mem, uint64_t gpa, uint64_t len);

/*
 * Translate [gpa, gpa+len), which may span adjacent regions, into at most
 * @max host segments. Returns the number used, -ERANGE if any byte is not
 * shared, -ENOSPC if more than @max segments would be needed.
 */
int vu_mem_gpa_iov(const struct vu_mem *mem, uint64_t gpa, uint64_t len,
                   struct iovec *iov, int max);

/* 0 if every byte of [gpa, gpa+len) is shared (regions may be adjacent),
 * else -ERANGE. len 0 is always fine. */
int vu_mem_gpa_check(const struct vu_mem *mem, uint64_t gpa, uint64_t len);

/* Copy between guest memory at @gpa and a host buffer, across regions:
 * 0, or -ERANGE with nothing copied. */
int vu_mem_read(const struct vu_mem *mem, uint64_t gpa, void *buf, size_t len);
int vu_mem_write(const struct vu_mem *mem, uint64_t gpa, const void *buf,
                 size_t len);

#endif
