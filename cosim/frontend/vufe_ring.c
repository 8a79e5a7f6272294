/* SPDX-License-Identifier: MIT */
/*
 * cosim/frontend/vufe_ring.c - vufe's guest memory and the driver side of split rings
 *
 * The rings live in the shared memfd, so the back-end sees them; everything
 * the driver needs to stay correct (free descriptors, chain links, which
 * heads are out) is kept in private arrays, never read back from guest
 * memory, because the device could overwrite it.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cosim/frontend/vufe-internal.h"

#define VUFE_PAGE 4096ull

/* ---- guest memory ---------------------------------------------------- */

static void set_regions(struct vufe *fe, uint64_t mem)
{
    if (!fe->cfg.split_mem) {
        fe->regions[0] = (struct vu_mem_region){ 0, mem, VUFE_UVA_BASE, 0 };
        fe->nregions = 1;
        return;
    }
    /* The second half sits one page further into the file than its gpa
     * distance suggests, so its mmap offset is neither 0 nor its gpa. */
    uint64_t half = (mem / 2) & ~(VUFE_PAGE - 1);
    uint64_t off1 = half + VUFE_PAGE;
    fe->regions[0] = (struct vu_mem_region){ 0, half, VUFE_UVA_BASE, 0 };
    fe->regions[1] = (struct vu_mem_region){
        half + VUFE_GPA_GAP, mem - half, VUFE_UVA_BASE + off1, off1 };
    fe->nregions = 2;
}

int vufe_mem_init(struct vufe *fe)
{
    uint64_t mem = fe->cfg.mem_size;

    set_regions(fe, mem);
    fe->map_len = fe->cfg.split_mem ? mem + VUFE_PAGE : mem;
    fe->memfd = memfd_create("vufe-guest", MFD_CLOEXEC);
    if (fe->memfd < 0) {
        return -errno;
    }
    if (ftruncate(fe->memfd, (off_t)fe->map_len) < 0) {
        return -errno;
    }
    void *p = mmap(NULL, fe->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                   fe->memfd, 0);
    if (p == MAP_FAILED) {
        return -errno;
    }
    fe->map = p;
    fe->bump = 0;
    return 0;
}

void vufe_mem_fini(struct vufe *fe)
{
    if (fe->map) {
        munmap(fe->map, fe->map_len);
        fe->map = NULL;
    }
    if (fe->memfd >= 0) {
        close(fe->memfd);
        fe->memfd = -1;
    }
}

static const struct vu_mem_region *region_of(const struct vufe *fe,
                                             uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < fe->nregions; i++) {
        const struct vu_mem_region *r = &fe->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
            len <= r->size - (gpa - r->gpa)) {
            return r;
        }
    }
    return NULL;
}

void *vufe_ptr(const struct vufe *fe, uint64_t gpa, uint64_t len)
{
    const struct vu_mem_region *r = region_of(fe, gpa, len);

    if (!r || (len == 0 && gpa - r->gpa == r->size)) {
        return NULL;
    }
    return fe->map + r->mmap_offset + (gpa - r->gpa);
}

uint64_t vufe_gpa_to_uva(const struct vufe *fe, uint64_t gpa)
{
    const struct vu_mem_region *r = region_of(fe, gpa, 1);

    return r ? r->uva + (gpa - r->gpa) : 0;
}

const struct vu_mem_region *vufe_regions(const struct vufe *fe, unsigned *n)
{
    *n = fe->nregions;
    return fe->regions;
}

uint64_t vufe_alloc(struct vufe *fe, uint64_t len, uint64_t align)
{
    if (align == 0) {
        align = 16;
    }
    if (len == 0 || (align & (align - 1)) != 0) {
        return 0;
    }
    for (unsigned i = 0; i < fe->nregions; i++) {
        const struct vu_mem_region *r = &fe->regions[i];
        uint64_t start = fe->bump > r->gpa ? fe->bump : r->gpa;
        start = (start + align - 1) & ~(align - 1);
        if (start - r->gpa < r->size && len <= r->size - (start - r->gpa)) {
            fe->bump = start + len;
            return start;
        }
    }
    return 0;
}

/* ---- ring layout ----------------------------------------------------- */

static uint16_t *used_event(const struct vufe_queue *vq)
{
    return &vq->avail[2 + vq->num];
}

static uint16_t *avail_event(const struct vufe_queue *vq)
{
    return (uint16_t *)(vq->used + 4 + 8 * (size_t)vq->num);
}

static uint16_t *used_flags(const struct vufe_queue *vq)
{
    return (uint16_t *)vq->used;
}

uint16_t vufe_used_idx(const struct vufe_queue *vq)
{
    return __atomic_load_n((uint16_t *)(vq->used + 2), __ATOMIC_ACQUIRE);
}

static int queue_alloc_rings(struct vufe *fe, struct vufe_queue *vq)
{
    uint64_t n = vq->num;

    vq->desc_gpa = vufe_alloc(fe, 16 * n, VUFE_PAGE);
    vq->avail_gpa = vufe_alloc(fe, 6 + 2 * n, 64);
    vq->used_gpa = vufe_alloc(fe, 6 + 8 * n, VUFE_PAGE);
    if (fe->cfg.indirect) {
        vq->itab_gpa = vufe_alloc(fe, n * VUFE_INDIRECT_MAX * 16, VUFE_PAGE);
        if (!vq->itab_gpa) {
            return -ENOMEM;
        }
    }
    if (!vq->avail_gpa || !vq->used_gpa ||
        (!vq->desc_gpa && vq != &fe->q[0])) {
        return -ENOMEM;
    }
    vq->desc = vufe_ptr(fe, vq->desc_gpa, 16 * n);
    vq->avail = vufe_ptr(fe, vq->avail_gpa, 6 + 2 * n);
    vq->used = vufe_ptr(fe, vq->used_gpa, 6 + 8 * n);
    return 0;
}

static int queue_init(struct vufe *fe, struct vufe_queue *vq)
{
    vq->num = (uint16_t)fe->cfg.queue_size;
    vq->kick_fd = vq->call_fd = -1;
    vq->free_stack = calloc(vq->num, sizeof(uint16_t));
    vq->next = calloc(vq->num, sizeof(uint16_t));
    vq->chain_len = calloc(vq->num, sizeof(uint16_t));
    if (!vq->free_stack || !vq->next || !vq->chain_len) {
        return -ENOMEM;
    }
    int rc = queue_alloc_rings(fe, vq);
    if (rc < 0) {
        return rc;
    }
    if (!vufe_inband(fe)) {
        vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vq->kick_fd < 0 || vq->call_fd < 0) {
            return -errno;
        }
    }
    vufe_queue_reset(fe, (unsigned)(vq - fe->q));
    return 0;
}

int vufe_rings_init(struct vufe *fe)
{
    fe->q = calloc(fe->cfg.num_queues, sizeof(*fe->q));
    if (!fe->q) {
        return -ENOMEM;
    }
    for (unsigned i = 0; i < fe->cfg.num_queues; i++) {
        fe->q[i].kick_fd = fe->q[i].call_fd = -1;
    }
    for (unsigned i = 0; i < fe->cfg.num_queues; i++) {
        int rc = queue_init(fe, &fe->q[i]);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

void vufe_rings_fini(struct vufe *fe)
{
    if (!fe->q) {
        return;
    }
    for (unsigned i = 0; i < fe->cfg.num_queues; i++) {
        struct vufe_queue *vq = &fe->q[i];
        if (vq->kick_fd >= 0) {
            close(vq->kick_fd);
        }
        if (vq->call_fd >= 0) {
            close(vq->call_fd);
        }
        free(vq->free_stack);
        free(vq->next);
        free(vq->chain_len);
    }
    free(fe->q);
    fe->q = NULL;
}

void vufe_queue_reset(struct vufe *fe, unsigned q)
{
    struct vufe_queue *vq = &fe->q[q];
    uint64_t junk;

    memset(vq->desc, 0, 16 * (size_t)vq->num);
    memset(vq->avail, 0, 6 + 2 * (size_t)vq->num);
    memset(vq->used, 0, 6 + 8 * (size_t)vq->num);
    /* Hand out ids 0, 1, 2, ... first: the stack pops from its top. */
    for (uint16_t i = 0; i < vq->num; i++) {
        vq->free_stack[i] = (uint16_t)(vq->num - 1 - i);
        vq->chain_len[i] = 0;
    }
    vq->nfree = vq->num;
    vq->avail_idx = vq->kicked_avail = vq->last_used = 0;
    vq->calls_off = vq->broken = false;
    vq->calls_pending = 0;
    vq->base = 0;
    vq->base_fresh = false;
    if (vq->call_fd >= 0 && read(vq->call_fd, &junk, sizeof(junk)) < 0) {
        junk = 0;   /* nothing pending: fine */
    }
}

/* ---- adding buffers -------------------------------------------------- */

static void publish(struct vufe_queue *vq, uint16_t head)
{
    vq->avail[2 + (vq->avail_idx & (vq->num - 1))] = head;
    vq->avail_idx++;
    /* The device must see the descriptors and the slot before the index. */
    __atomic_store_n(&vq->avail[1], vq->avail_idx, __ATOMIC_RELEASE);
}

static void fill_desc(struct vu_desc *d, const struct vufe_buf *b,
                      bool more, uint16_t next)
{
    d->addr = b->gpa;
    d->len = b->len;
    d->flags = (uint16_t)((more ? VU_DESC_F_NEXT : 0) |
                          (b->writable ? VU_DESC_F_WRITE : 0));
    d->next = more ? next : 0;
}

static uint16_t pop_free(struct vufe_queue *vq)
{
    return vq->free_stack[--vq->nfree];
}

static int add_direct(struct vufe_queue *vq, const struct vufe_buf *bufs,
                      unsigned n)
{
    if (n > vq->nfree) {
        return -ENOSPC;
    }
    uint16_t head = pop_free(vq);
    uint16_t cur = head;
    for (unsigned i = 0; i < n; i++) {
        bool more = i + 1 < n;
        uint16_t nxt = more ? pop_free(vq) : 0;
        fill_desc(&vq->desc[cur], &bufs[i], more, nxt);
        vq->next[cur] = nxt;
        cur = nxt;
    }
    vq->chain_len[head] = (uint16_t)n;
    publish(vq, head);
    return head;
}

static int add_indirect(struct vufe *fe, struct vufe_queue *vq,
                        const struct vufe_buf *bufs, unsigned n)
{
    if (!vufe_has_f(fe, VU_F_RING_INDIRECT_DESC) || !vq->itab_gpa) {
        return -EPROTO;
    }
    if (n > VUFE_INDIRECT_MAX) {
        return -EINVAL;
    }
    if (vq->nfree == 0) {
        return -ENOSPC;
    }
    uint16_t head = pop_free(vq);
    /* Each head owns one table, so a table is never reused while out. */
    uint64_t tgpa = vq->itab_gpa + (uint64_t)head * VUFE_INDIRECT_MAX * 16;
    struct vu_desc *t = vufe_ptr(fe, tgpa, n * 16ull);
    for (unsigned i = 0; i < n; i++) {
        fill_desc(&t[i], &bufs[i], i + 1 < n, (uint16_t)(i + 1));
    }
    vq->desc[head] = (struct vu_desc){ tgpa, n * 16u, VU_DESC_F_INDIRECT, 0 };
    vq->chain_len[head] = 1;
    publish(vq, head);
    return head;
}

int vufe_add(struct vufe *fe, unsigned q, const struct vufe_buf *bufs,
             unsigned n, bool indirect)
{
    if (q >= fe->cfg.num_queues || n == 0 || !bufs) {
        return -EINVAL;
    }
    struct vufe_queue *vq = &fe->q[q];
    if (vq->broken) {
        return -EIO;
    }
    return indirect ? add_indirect(fe, vq, bufs, n)
                    : add_direct(vq, bufs, n);
}

bool vufe_kick_needed(struct vufe *fe, unsigned q)
{
    struct vufe_queue *vq = &fe->q[q];
    uint16_t old = vq->kicked_avail, now = vq->avail_idx;

    vq->kicked_avail = now;
    /* Order our avail->idx store before reading the device's wishes. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (vufe_has_f(fe, VU_F_RING_EVENT_IDX)) {
        uint16_t ev = __atomic_load_n(avail_event(vq), __ATOMIC_RELAXED);
        return vu_need_event(ev, now, old);
    }
    uint16_t fl = __atomic_load_n(used_flags(vq), __ATOMIC_RELAXED);
    return !(fl & VU_USED_F_NO_NOTIFY);
}

/* ---- taking used buffers --------------------------------------------- */

static void free_chain(struct vufe_queue *vq, uint16_t head)
{
    uint16_t d = head;

    for (uint16_t k = 0; k < vq->chain_len[head]; k++) {
        vq->free_stack[vq->nfree++] = d;
        d = vq->next[d];
    }
    vq->chain_len[head] = 0;
}

int vufe_reap(struct vufe *fe, unsigned q, uint32_t *id, uint32_t *len)
{
    if (q >= fe->cfg.num_queues) {
        return -EINVAL;
    }
    struct vufe_queue *vq = &fe->q[q];
    if (vq->broken) {
        return -EIO;
    }
    uint16_t uidx = vufe_used_idx(vq);
    if (uidx == vq->last_used) {
        return 0;
    }
    struct vu_used_elem e;
    memcpy(&e, vq->used + 4 + 8 * (size_t)(vq->last_used & (vq->num - 1)),
           sizeof(e));
    if ((uint16_t)(uidx - vq->last_used) > vq->num || e.id >= vq->num ||
        vq->chain_len[e.id] == 0) {
        VUSIM_ERR(VUFE_SS, "queue %u: bad used element id %u (used idx %u, "
                  "last %u)", q, e.id, uidx, vq->last_used);
        vq->broken = true;
        return -EPROTO;
    }
    free_chain(vq, (uint16_t)e.id);
    vq->last_used++;
    if (!vq->calls_off && vufe_has_f(fe, VU_F_RING_EVENT_IDX)) {
        __atomic_store_n(used_event(vq), vq->last_used, __ATOMIC_SEQ_CST);
    }
    *id = e.id;
    *len = e.len;
    return 1;
}

void vufe_calls_enable(struct vufe *fe, unsigned q, bool on)
{
    struct vufe_queue *vq = &fe->q[q];

    vq->calls_off = !on;
    if (vufe_has_f(fe, VU_F_RING_EVENT_IDX)) {
        /* Half the index space away: the device never crosses it. */
        uint16_t ev = on ? vq->last_used : (uint16_t)(vq->last_used + 0x8000);
        __atomic_store_n(used_event(vq), ev, __ATOMIC_SEQ_CST);
        return;
    }
    __atomic_store_n(&vq->avail[0], on ? 0 : VU_AVAIL_F_NO_INTERRUPT,
                     __ATOMIC_SEQ_CST);
}

unsigned vufe_free_descs(const struct vufe *fe, unsigned q)
{
    return fe->q[q].nfree;
}

void vufe_ring_info(const struct vufe *fe, unsigned q,
                    struct vufe_ring_info *ri)
{
    const struct vufe_queue *vq = &fe->q[q];

    ri->num = vq->num;
    ri->desc_gpa = vq->desc_gpa;
    ri->avail_gpa = vq->avail_gpa;
    ri->used_gpa = vq->used_gpa;
    ri->avail_idx = vq->avail_idx;
    ri->last_used = vq->last_used;
}

struct vu_desc *vufe_desc_table(struct vufe *fe, unsigned q)
{
    return fe->q[q].desc;
}

void vufe_avail_put(struct vufe *fe, unsigned q, uint16_t head)
{
    publish(&fe->q[q], head);
}
