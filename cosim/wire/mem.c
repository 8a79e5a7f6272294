/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cosim/wire/mem.h"
#include "cosim/wire/memguard.h"
#include "sim/log.h"

#define SS "mem"

/* ---- building one mapping --------------------------------------------- */

/* Does [a, a+s) overlap [b, b+t)? Callers have ruled out wrapping. */
static int ranges_overlap(uint64_t a, uint64_t s, uint64_t b, uint64_t t)
{
    return a < b + t && b < a + s;
}

/* Reject what no mapping can make sense of, before any syscall. */
static int region_check(const struct vu_mem_region *r)
{
    if (r->size == 0) {
        return -EINVAL;
    }
    if (r->size > UINT64_MAX - r->gpa || r->size > UINT64_MAX - r->uva ||
        r->size > UINT64_MAX - r->mmap_offset) {
        return -EINVAL;
    }
    return 0;
}

/*
 * Mapping granularity of @fd: hugetlbfs files must be mapped at huge-page
 * offsets, everything else at the base page size.
 */
static uint64_t fd_align(int fd)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t align = page > 0 ? (uint64_t)page : 4096;
    struct statfs fs;

    if (fstatfs(fd, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC &&
        fs.f_bsize > 0 && (uint64_t)fs.f_bsize > align) {
        align = (uint64_t)fs.f_bsize;
    }
    return align;
}

/*
 * A region past the end of a regular file would map fine and then raise
 * SIGBUS on first touch; refuse it up front so a lying front-end cannot
 * kill the simulator.
 */
static int fd_check_size(int fd, const struct vu_mem_region *r)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size < r->mmap_offset + r->size) {
        return -EINVAL;
    }
    return 0;
}

/* mmap @r from @fd into @m. On failure nothing is mapped; @fd stays open. */
static int map_region(struct vu_mem_map *m, const struct vu_mem_region *r,
                      int fd)
{
    uint64_t align, aligned, pad, len;
    void *p;
    int rc = fd_check_size(fd, r);

    if (rc < 0) {
        return rc;
    }
    align = fd_align(fd);
    aligned = r->mmap_offset & ~(align - 1);
    pad = r->mmap_offset - aligned;
    if (r->size > UINT64_MAX - pad - (align - 1)) {
        return -EINVAL;
    }
    len = (pad + r->size + align - 1) & ~(align - 1);
    if (len > SIZE_MAX || aligned > (uint64_t)INT64_MAX) {
        return -EINVAL;
    }
    p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             (off_t)aligned);
    if (p == MAP_FAILED) {
        return -errno;
    }
    m->r = *r;
    m->map_base = p;
    m->map_len = (size_t)len;
    m->host = (uint8_t *)p + pad;
    m->fd = fd;
    m->guard = vu_memguard_register(p, (size_t)len);
    return 0;
}

static void unmap_region(struct vu_mem_map *m)
{
    if (m->map_base) {
        vu_memguard_unregister(m->guard);
        munmap(m->map_base, m->map_len);
    }
    m->guard = -1;
    if (m->fd >= 0) {
        close(m->fd);
    }
    m->map_base = NULL;
    m->host = NULL;
    m->fd = -1;
}

/* ---- whole tables ----------------------------------------------------- */

/* Insert @m into @maps[0..n) keeping gpa order. */
static void insert_sorted(struct vu_mem_map *maps, unsigned n,
                          const struct vu_mem_map *m)
{
    unsigned i = n;

    while (i > 0 && maps[i - 1].r.gpa > m->r.gpa) {
        maps[i] = maps[i - 1];
        i--;
    }
    maps[i] = *m;
}

/* May @r join the regions in @maps[0..n)? */
static int fits(const struct vu_mem_map *maps, unsigned n,
                const struct vu_mem_region *r)
{
    int rc = region_check(r);

    if (rc < 0) {
        return rc;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct vu_mem_region *o = &maps[i].r;

        if (ranges_overlap(r->gpa, r->size, o->gpa, o->size) ||
            ranges_overlap(r->uva, r->size, o->uva, o->size)) {
            return -EINVAL;
        }
    }
    return 0;
}

/* Swap in a fully built table, then release the old mappings. */
static void commit(struct vu_mem *mem, const struct vu_mem_map *maps,
                   unsigned n)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        unmap_region(&mem->maps[i]);
    }
    memcpy(mem->maps, maps, n * sizeof(*maps));
    mem->nregions = n;
    mem->generation++;
}

void vu_mem_init(struct vu_mem *mem)
{
    memset(mem, 0, sizeof(*mem));
}

bool vu_mem_broken(const struct vu_mem *mem)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        if (vu_memguard_broken(mem->maps[i].guard)) {
            return true;
        }
    }
    return false;
}

void vu_mem_fini(struct vu_mem *mem)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        unmap_region(&mem->maps[i]);
    }
    mem->nregions = 0;
    mem->generation++;   /* a queue mapped before must not look ready */
}

static void close_fds(const int *fds, unsigned from, unsigned n)
{
    for (unsigned i = from; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
}

int vu_mem_set_table(struct vu_mem *mem, const struct vu_mem_region *regs,
                     const int *fds, unsigned n)
{
    struct vu_mem_map maps[VU_MAX_MEM_SLOTS];
    struct vu_mem_map m;
    unsigned built = 0;
    int rc = 0;

    if (n > VU_MAX_MEM_SLOTS) {
        close_fds(fds, 0, n);
        return -EINVAL;
    }
    for (; built < n; built++) {
        rc = fits(maps, built, &regs[built]);
        if (rc == 0) {
            rc = map_region(&m, &regs[built], fds[built]);
        }
        if (rc < 0) {
            VUSIM_WARN(SS, "region %u (gpa 0x%llx size 0x%llx) refused: %s",
                       built, (unsigned long long)regs[built].gpa,
                       (unsigned long long)regs[built].size, strerror(-rc));
            goto fail;
        }
        insert_sorted(maps, built, &m);
    }
    commit(mem, maps, n);
    return 0;

fail:
    for (unsigned i = 0; i < built; i++) {
        unmap_region(&maps[i]);   /* closes the fds already taken */
    }
    close_fds(fds, built, n);
    return rc;
}

int vu_mem_add(struct vu_mem *mem, const struct vu_mem_region *reg, int fd)
{
    struct vu_mem_map m;
    int rc = -EINVAL;

    if (mem->nregions < VU_MAX_MEM_SLOTS) {
        rc = fits(mem->maps, mem->nregions, reg);
    }
    if (rc == 0) {
        rc = map_region(&m, reg, fd);
    }
    if (rc < 0) {
        VUSIM_WARN(SS, "added region (gpa 0x%llx size 0x%llx) refused: %s",
                   (unsigned long long)reg->gpa,
                   (unsigned long long)reg->size, strerror(-rc));
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    insert_sorted(mem->maps, mem->nregions, &m);
    mem->nregions++;
    mem->generation++;
    return 0;
}

int vu_mem_remove(struct vu_mem *mem, const struct vu_mem_region *reg)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        const struct vu_mem_region *r = &mem->maps[i].r;

        if (r->gpa == reg->gpa && r->size == reg->size &&
            r->uva == reg->uva) {
            unmap_region(&mem->maps[i]);
            memmove(&mem->maps[i], &mem->maps[i + 1],
                    (mem->nregions - i - 1) * sizeof(mem->maps[0]));
            mem->nregions--;
            mem->generation++;
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- translation ------------------------------------------------------ */

/* Is [a, a+len) inside [base, base+size)? len 0 needs a inside. */
static int inside(uint64_t a, uint64_t len, uint64_t base, uint64_t size)
{
    if (a < base || a - base >= size) {
        return 0;
    }
    return len <= size - (a - base);
}

/* The region holding @gpa, by binary search over the gpa-sorted table. */
static const struct vu_mem_map *find_gpa(const struct vu_mem *mem,
                                         uint64_t gpa)
{
    unsigned lo = 0, hi = mem->nregions;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;

        if (mem->maps[mid].r.gpa <= gpa) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return NULL;
    }
    const struct vu_mem_map *m = &mem->maps[lo - 1];
    return inside(gpa, 0, m->r.gpa, m->r.size) ? m : NULL;
}

void *vu_mem_uva(const struct vu_mem *mem, uint64_t uva, uint64_t len)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        const struct vu_mem_map *m = &mem->maps[i];

        if (inside(uva, len, m->r.uva, m->r.size)) {
            return m->host + (uva - m->r.uva);
        }
    }
    return NULL;
}

void *vu_mem_gpa(const struct vu_mem *mem, uint64_t gpa, uint64_t len)
{
    const struct vu_mem_map *m = find_gpa(mem, gpa);

    if (!m || !inside(gpa, len, m->r.gpa, m->r.size)) {
        return NULL;
    }
    return m->host + (gpa - m->r.gpa);
}

int vu_mem_gpa_iov(const struct vu_mem *mem, uint64_t gpa, uint64_t len,
                   struct iovec *iov, int max)
{
    int n = 0;

    if (len > UINT64_MAX - gpa) {
        return -ERANGE;
    }
    while (len > 0) {
        const struct vu_mem_map *m = find_gpa(mem, gpa);
        uint64_t off, chunk;

        if (!m) {
            return -ERANGE;
        }
        off = gpa - m->r.gpa;
        chunk = m->r.size - off < len ? m->r.size - off : len;
        if (n == max) {
            return -ENOSPC;
        }
        iov[n].iov_base = m->host + off;
        iov[n].iov_len = (size_t)chunk;
        n++;
        gpa += chunk;
        len -= chunk;
    }
    return n;
}

int vu_mem_gpa_check(const struct vu_mem *mem, uint64_t gpa, uint64_t len)
{
    if (len > UINT64_MAX - gpa) {
        return -ERANGE;
    }
    while (len > 0) {
        const struct vu_mem_map *m = find_gpa(mem, gpa);
        uint64_t left;

        if (!m) {
            return -ERANGE;
        }
        left = m->r.size - (gpa - m->r.gpa);
        if (left >= len) {
            break;
        }
        gpa += left;
        len -= left;
    }
    return 0;
}

/*
 * A range crosses at most every region once, so VU_MAX_MEM_SLOTS segments
 * always suffice; translating all of it first means a failed copy leaves
 * both sides untouched.
 */
int vu_mem_read(const struct vu_mem *mem, uint64_t gpa, void *buf, size_t len)
{
    struct iovec iov[VU_MAX_MEM_SLOTS];
    int n = vu_mem_gpa_iov(mem, gpa, len, iov, VU_MAX_MEM_SLOTS);
    uint8_t *p = buf;

    if (n < 0) {
        return n == -ENOSPC ? -ERANGE : n;
    }
    for (int i = 0; i < n; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    return 0;
}

int vu_mem_write(const struct vu_mem *mem, uint64_t gpa, const void *buf,
                 size_t len)
{
    struct iovec iov[VU_MAX_MEM_SLOTS];
    int n = vu_mem_gpa_iov(mem, gpa, len, iov, VU_MAX_MEM_SLOTS);
    const uint8_t *p = buf;

    if (n < 0) {
        return n == -ENOSPC ? -ERANGE : n;
    }
    for (int i = 0; i < n; i++) {
        memcpy(iov[i].iov_base, p, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    return 0;
}
