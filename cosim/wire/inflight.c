/* SPDX-License-Identifier: MIT */
/* cosim/wire/inflight.c - see inflight.h */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cosim/wire/inflight.h"
#include "sim/log.h"

#define SS "inflight"
#define INFLIGHT_VERSION 1
#define INFLIGHT_ALIGN 64u

struct desc_state {
    uint8_t inflight;
    uint8_t padding[5];
    uint16_t next;
    uint64_t counter;
};

struct queue_region {
    uint64_t features;
    uint16_t version;
    uint16_t desc_num;
    uint16_t last_batch_head;
    uint16_t used_idx;
    struct desc_state desc[];
};

/* The spec's layout, which the natural alignment gives without packing. */
_Static_assert(sizeof(struct desc_state) == 16, "DescStateSplit is 16 bytes");
_Static_assert(sizeof(struct queue_region) == 16, "QueueRegionSplit header");

void vu_inflight_init(struct vu_inflight *inf)
{
    memset(inf, 0, sizeof(*inf));
}

void vu_inflight_fini(struct vu_inflight *inf)
{
    if (inf->map_base) {
        munmap(inf->map_base, inf->map_base_len);
    }
    vu_inflight_init(inf);
}

size_t vu_inflight_queue_bytes(uint16_t qsize)
{
    size_t n = sizeof(struct queue_region) +
               (size_t)qsize * sizeof(struct desc_state);

    return (n + INFLIGHT_ALIGN - 1) & ~(size_t)(INFLIGHT_ALIGN - 1);
}

static int check_desc(const struct vu_inflight_desc *d, uint64_t *need)
{
    if (d->num_queues == 0 || d->num_queues > VU_MAX_QUEUES ||
        d->queue_size == 0 || d->queue_size > VU_QUEUE_MAX) {
        return -EINVAL;
    }
    *need = (uint64_t)d->num_queues * vu_inflight_queue_bytes(d->queue_size);
    return 0;
}

static int attach(struct vu_inflight *inf, const struct vu_inflight_desc *d,
                  int fd)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t need, delta;
    struct stat st;
    void *p;
    int rc = check_desc(d, &need);

    if (rc < 0) {
        return rc;
    }
    if (d->mmap_size < need || d->mmap_size > (1ull << 30) ||
        d->mmap_offset % (uint64_t)page != 0) {
        return -EINVAL;
    }
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    /* Past the end of a regular file would SIGBUS on first touch. */
    if (S_ISREG(st.st_mode) &&
        (d->mmap_offset > (uint64_t)st.st_size ||
         d->mmap_size > (uint64_t)st.st_size - d->mmap_offset)) {
        return -EINVAL;
    }
    delta = 0;
    p = mmap(NULL, d->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             (off_t)d->mmap_offset);
    if (p == MAP_FAILED) {
        return -errno;
    }
    vu_inflight_fini(inf);
    inf->map_base = p;
    inf->map_base_len = d->mmap_size;
    inf->map = (uint8_t *)p + delta;
    inf->map_len = d->mmap_size;
    inf->nq = d->num_queues;
    inf->qsize = d->queue_size;
    inf->counter = 0;
    return 0;
}

int vu_inflight_get(struct vu_inflight *inf, struct vu_inflight_desc *d,
                    int *fd)
{
    uint64_t need;
    int rc = check_desc(d, &need);

    if (rc < 0) {
        return rc;
    }
    *fd = memfd_create("vusim-inflight", MFD_CLOEXEC);
    if (*fd < 0) {
        return -errno;
    }
    d->mmap_size = need;
    d->mmap_offset = 0;
    if (ftruncate(*fd, (off_t)need) < 0 || (rc = attach(inf, d, *fd)) < 0) {
        rc = rc < 0 ? rc : -errno;
        close(*fd);
        *fd = -1;
        return rc;
    }
    return 0;
}

int vu_inflight_set(struct vu_inflight *inf, const struct vu_inflight_desc *d,
                    int fd)
{
    int rc = attach(inf, d, fd);

    close(fd);
    return rc;
}

static struct queue_region *region(struct vu_inflight *inf, uint16_t qi)
{
    if (!inf->map || qi >= inf->nq) {
        return NULL;
    }
    return (struct queue_region *)(void *)(inf->map +
                                           qi * vu_inflight_queue_bytes(
                                               inf->qsize));
}

static void region_reset(struct queue_region *r, uint16_t num,
                         uint16_t used_idx)
{
    memset(r->desc, 0, (size_t)num * sizeof(r->desc[0]));
    r->features = 0;
    r->desc_num = num;
    r->last_batch_head = 0;
    r->used_idx = used_idx;
    __atomic_store_n(&r->version, INFLIGHT_VERSION, __ATOMIC_RELEASE);
}

/* The completion of the last batch reached the used ring, its marks were
 * not cleared: clear them now (at most @n heads, following next). */
static void repair_last_batch(struct queue_region *r, uint16_t num,
                              uint16_t used_idx)
{
    uint16_t n = (uint16_t)(used_idx - r->used_idx);
    uint16_t h = r->last_batch_head;

    for (uint16_t i = 0; i < n && i < num && h < num; i++) {
        r->desc[h].inflight = 0;
        h = r->desc[h].next;
    }
    r->used_idx = used_idx;
}

static struct queue_region *g_sort_region;

static int by_counter(const void *a, const void *b)
{
    const struct desc_state *d = g_sort_region->desc;
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

    if (d[x].counter != d[y].counter) {
        return d[x].counter < d[y].counter ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

long vu_inflight_start(struct vu_inflight *inf, uint16_t qi, uint16_t num,
                       uint16_t used_idx, struct vu_inflight_q *iq)
{
    struct queue_region *r = region(inf, qi);

    iq->checked = true;
    iq->nresubmit = iq->next = 0;
    if (!r || num > inf->qsize) {
        return -1;
    }
    if (__atomic_load_n(&r->version, __ATOMIC_ACQUIRE) != INFLIGHT_VERSION ||
        r->desc_num != num) {
        if (r->version != 0) {
            VUSIM_WARN(SS, "queue %u: in-flight region of version %u for %u "
                       "descriptors, ring has %u: reset, nothing resubmitted",
                       qi, r->version, r->desc_num, num);
        }
        region_reset(r, num, used_idx);
        return -1;
    }
    if (r->used_idx != used_idx) {
        repair_last_batch(r, num, used_idx);
    }
    for (uint16_t h = 0; h < num; h++) {
        if (r->desc[h].inflight == 1) {
            iq->resubmit[iq->nresubmit++] = h;
            if (r->desc[h].counter >= inf->counter) {
                inf->counter = r->desc[h].counter + 1;
            }
        } else {
            r->desc[h].inflight = 0;
        }
    }
    g_sort_region = r;
    qsort(iq->resubmit, iq->nresubmit, sizeof(iq->resubmit[0]), by_counter);
    if (iq->nresubmit) {
        VUSIM_INFO(SS, "queue %u: resubmitting %u request(s) in flight when "
                   "the previous back-end stopped", qi, iq->nresubmit);
    }
    return (uint16_t)(used_idx + iq->nresubmit);
}

bool vu_inflight_ran(const struct vu_inflight *inf, uint16_t qi)
{
    const struct queue_region *r;

    if (!inf->map || qi >= inf->nq) {
        return false;
    }
    r = (const struct queue_region *)(const void *)(
        inf->map + qi * vu_inflight_queue_bytes(inf->qsize));
    return __atomic_load_n(&r->version, __ATOMIC_ACQUIRE) == INFLIGHT_VERSION;
}

void vu_inflight_took(struct vu_inflight *inf, uint16_t qi, uint16_t head)
{
    struct queue_region *r = region(inf, qi);

    if (!r || head >= r->desc_num || r->version != INFLIGHT_VERSION) {
        return;
    }
    r->desc[head].counter = inf->counter++;
    __atomic_store_n(&r->desc[head].inflight, 1, __ATOMIC_RELEASE);
}

void vu_inflight_completing(struct vu_inflight *inf, uint16_t qi,
                            uint16_t head)
{
    struct queue_region *r = region(inf, qi);

    if (!r || head >= r->desc_num || r->version != INFLIGHT_VERSION) {
        return;
    }
    r->desc[head].next = r->last_batch_head;
    __atomic_store_n(&r->last_batch_head, head, __ATOMIC_RELEASE);
}

void vu_inflight_completed(struct vu_inflight *inf, uint16_t qi,
                           uint16_t head, uint16_t used_idx)
{
    struct queue_region *r = region(inf, qi);

    if (!r || head >= r->desc_num || r->version != INFLIGHT_VERSION) {
        return;
    }
    __atomic_store_n(&r->desc[head].inflight, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&r->used_idx, used_idx, __ATOMIC_RELEASE);
}
