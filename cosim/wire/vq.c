/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/wire/vq.h"
#include "sim/log.h"

#define SS "vq"

#define DESC_SIZE ((uint32_t)sizeof(struct vu_desc))

/* ---- ring layout ------------------------------------------------------ */

static uint64_t desc_bytes(uint16_t num)
{
    return (uint64_t)DESC_SIZE * num;
}

static uint64_t avail_bytes(uint16_t num)
{
    return 6 + 2 * (uint64_t)num;    /* flags, idx, ring[num], used_event */
}

static uint64_t used_bytes(uint16_t num)
{
    return 6 + 8 * (uint64_t)num;    /* flags, idx, ring[num], avail_event */
}

static volatile uint16_t *used_event(const struct vu_vq *vq)
{
    return &vq->avail[2 + vq->num];
}

static volatile uint16_t *avail_event(const struct vu_vq *vq)
{
    return &vq->used[2 + 4 * (uint32_t)vq->num];
}

static volatile struct vu_used_elem *used_elem(const struct vu_vq *vq,
                                               uint16_t idx)
{
    volatile uint8_t *base = (volatile uint8_t *)vq->used + 4;

    return (volatile struct vu_used_elem *)(base + 8u * (idx & (vq->num - 1)));
}

/* ---- set-up ----------------------------------------------------------- */

static void vq_unmap(struct vu_vq *vq)
{
    vq->desc = NULL;
    vq->avail = NULL;
    vq->used = NULL;
    vq->mapped = false;
}

void vu_vq_init(struct vu_vq *vq)
{
    memset(vq, 0, sizeof(*vq));
}

int vu_vq_set_num(struct vu_vq *vq, uint32_t num)
{
    if (num == 0 || num > VU_QUEUE_MAX || (num & (num - 1)) != 0) {
        return -EINVAL;
    }
    vq->num = (uint16_t)num;
    vq_unmap(vq);
    return 0;
}

void vu_vq_set_addr(struct vu_vq *vq, const struct vu_vring_addr *a)
{
    vq->addr_flags = a->flags;
    vq->desc_uva = a->desc;
    vq->avail_uva = a->avail;
    vq->used_uva = a->used;
    vq->addr_set = true;
    vq->used_sync = true;
    vq->signalled_valid = false;
    vq->broken = false;
    vq_unmap(vq);
}

void vu_vq_set_base(struct vu_vq *vq, uint16_t base)
{
    vq->last_avail = base;
    vq->signalled_valid = false;
    vq->broken = false;
}

int vu_vq_map(struct vu_vq *vq, const struct vu_mem *mem)
{
    void *d, *a, *u;

    vq_unmap(vq);
    if (!vq->addr_set || vq->num == 0) {
        return -EINVAL;
    }
    if (vq->desc_uva % 16 || vq->avail_uva % 2 || vq->used_uva % 4) {
        return -EINVAL;
    }
    d = vu_mem_uva(mem, vq->desc_uva, desc_bytes(vq->num));
    a = vu_mem_uva(mem, vq->avail_uva, avail_bytes(vq->num));
    u = vu_mem_uva(mem, vq->used_uva, used_bytes(vq->num));
    if (!d || !a || !u) {
        return -ERANGE;
    }
    /* A front-end whose uva and mmap_offset disagree could hand us rings
     * that are aligned as uvas but not in our mapping. */
    if ((uintptr_t)a % 2 || (uintptr_t)u % 4) {
        return -EINVAL;
    }
    vq->desc = d;
    vq->avail = a;
    vq->used = u;
    vq->mem_gen = mem->generation;
    vq->mapped = true;
    if (vq->used_sync) {
        vq->used_idx = __atomic_load_n(&vq->used[1], __ATOMIC_ACQUIRE);
        vq->used_sync = false;
    }
    return 0;
}

bool vu_vq_ready(const struct vu_vq *vq, const struct vu_mem *mem)
{
    return vq->mapped && vq->mem_gen == mem->generation;
}

uint16_t vu_vq_stop(struct vu_vq *vq)
{
    vq_unmap(vq);
    vq->used_sync = true;
    vq->signalled_valid = false;
    return vq->last_avail;
}

/* ---- chains ----------------------------------------------------------- */

void vu_chain_init(struct vu_chain *ch)
{
    memset(ch, 0, sizeof(*ch));
}

void vu_chain_fini(struct vu_chain *ch)
{
    free(ch->segs);
    free(ch->itab);
    memset(ch, 0, sizeof(*ch));
}

static void chain_reset(struct vu_chain *ch, uint16_t head)
{
    ch->head = head;
    ch->nrd = 0;
    ch->nwr = 0;
    ch->rd_len = 0;
    ch->wr_len = 0;
    ch->ndesc = 0;
    ch->indirect = false;
}

/* Where the walk is: which table, how big, and what it has seen. */
struct walk {
    const struct vu_desc *tab;
    uint32_t max;           /* entries in tab */
    uint32_t budget;        /* descriptors left before the chain loops */
    bool in_indirect;
    bool wr_seen;
    const char *why;        /* for the log line when the walk fails */
};

/* Each field read exactly once: the guest may be rewriting the table. */
static void desc_load(const struct vu_desc *tab, uint32_t i,
                      struct vu_desc *out)
{
    const volatile struct vu_desc *d = &tab[i];

    out->addr = d->addr;
    out->len = d->len;
    out->flags = d->flags;
    out->next = d->next;
}

static int fail(struct walk *w, int rc, const char *why)
{
    w->why = why;
    return rc;
}

static int itab_reserve(struct vu_chain *ch, uint32_t n)
{
    struct vu_desc *t;

    if (ch->itab_cap >= n) {
        return 0;
    }
    t = realloc(ch->itab, (size_t)n * DESC_SIZE);
    if (!t) {
        return -ENOMEM;
    }
    ch->itab = t;
    ch->itab_cap = n;
    return 0;
}

/* Switch the walk to the indirect table @d points at, copied out first. */
static int enter_indirect(const struct vu_vq *vq, const struct vu_mem *mem,
                          struct walk *w, const struct vu_desc *d,
                          struct vu_chain *ch)
{
    uint32_t n = d->len / DESC_SIZE;
    int rc;

    if (!vq->indirect_ok) {
        return fail(w, -EPROTO, "indirect descriptor not negotiated");
    }
    if (w->in_indirect) {
        return fail(w, -EBADMSG, "indirect descriptor in indirect table");
    }
    if (d->flags & VU_DESC_F_NEXT) {
        return fail(w, -EBADMSG, "indirect descriptor with NEXT");
    }
    if (d->len == 0 || d->len % DESC_SIZE != 0 || n > VU_QUEUE_MAX) {
        return fail(w, -EBADMSG, "bad indirect table length");
    }
    rc = itab_reserve(ch, n);
    if (rc < 0) {
        return fail(w, rc, "out of memory");
    }
    if (vu_mem_read(mem, d->addr, ch->itab, d->len) < 0) {
        return fail(w, -ERANGE, "indirect table outside shared memory");
    }
    w->tab = ch->itab;
    w->max = n;
    w->budget = n;
    w->in_indirect = true;
    ch->indirect = true;
    return 0;
}

static int segs_reserve(struct vu_chain *ch, uint32_t n)
{
    uint32_t cap = ch->cap ? ch->cap : 8;
    struct vu_seg *s;

    if (ch->cap >= n) {
        return 0;
    }
    while (cap < n) {
        cap *= 2;
    }
    s = realloc(ch->segs, (size_t)cap * sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    ch->segs = s;
    ch->cap = cap;
    return 0;
}

/* Append the buffer of data descriptor @d, after checking order and range. */
static int add_seg(struct vu_chain *ch, const struct vu_mem *mem,
                   struct walk *w, const struct vu_desc *d)
{
    bool wr = (d->flags & VU_DESC_F_WRITE) != 0;
    uint32_t n = ch->nrd + ch->nwr;

    if (!wr && w->wr_seen) {
        return fail(w, -EBADMSG, "readable descriptor after a writable one");
    }
    w->wr_seen |= wr;
    if (vu_mem_gpa_check(mem, d->addr, d->len) < 0) {
        return fail(w, -ERANGE, "buffer outside shared memory");
    }
    if (d->len == 0) {
        return 0;
    }
    if (segs_reserve(ch, n + 1) < 0) {
        return fail(w, -ENOMEM, "out of memory");
    }
    ch->segs[n].gpa = d->addr;
    ch->segs[n].len = d->len;
    if (wr) {
        ch->nwr++;
        ch->wr_len += d->len;
    } else {
        ch->nrd++;
        ch->rd_len += d->len;
    }
    return 0;
}

/*
 * Walk the chain at @head. The budget bounds every table by its own size,
 * which catches loops without remembering visited entries: a chain with no
 * loop cannot be longer than its table.
 */
static int chain_walk(const struct vu_vq *vq, const struct vu_mem *mem,
                      uint16_t head, struct vu_chain *ch, struct walk *w)
{
    uint32_t i = head;
    struct vu_desc d;
    int rc;

    *w = (struct walk){ .tab = vq->desc, .max = vq->num, .budget = vq->num };
    chain_reset(ch, head);
    for (;;) {
        if (i >= w->max) {
            return fail(w, -ERANGE, "descriptor index out of range");
        }
        if (w->budget-- == 0) {
            return fail(w, -ELOOP, "descriptor chain loops or is too long");
        }
        desc_load(w->tab, i, &d);
        ch->ndesc++;
        if (d.flags & VU_DESC_F_INDIRECT) {
            rc = enter_indirect(vq, mem, w, &d, ch);
            i = 0;
        } else {
            rc = add_seg(ch, mem, w, &d);
            if (rc == 0 && !(d.flags & VU_DESC_F_NEXT)) {
                return 0;
            }
            i = d.next;
        }
        if (rc < 0) {
            return rc;
        }
    }
}

/* ---- the data path ---------------------------------------------------- */

static int vq_break(struct vu_vq *vq, int rc, const char *why)
{
    vq->broken = true;
    VUSIM_ERR(SS, "queue broken at avail %u: %s (%d)", vq->last_avail, why,
              rc);
    return rc;
}

int vu_vq_avail_count(const struct vu_vq *vq)
{
    uint16_t n;

    if (vq->broken || !vq->mapped) {
        return -EIO;
    }
    n = (uint16_t)(__atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE) -
                   vq->last_avail);
    return n > vq->num ? -ERANGE : n;
}

int vu_vq_pop(struct vu_vq *vq, const struct vu_mem *mem,
              struct vu_chain *ch)
{
    struct walk w;
    uint16_t head;
    int rc;

    if (vq->broken || !vu_vq_ready(vq, mem)) {
        return -EIO;
    }
    /* Acquire: the ring entry and descriptors are read after the index. */
    rc = vu_vq_avail_count(vq);
    if (rc <= 0) {
        return rc < 0 ? vq_break(vq, rc, "avail index jumped past the ring")
                      : 0;
    }
    head = vq->avail[2 + (vq->last_avail & (vq->num - 1))];
    if (head >= vq->num) {
        return vq_break(vq, -ERANGE, "head index out of range");
    }
    rc = chain_walk(vq, mem, head, ch, &w);
    if (rc == -ENOMEM) {
        return rc;    /* our shortage, not the guest's fault: retry later */
    }
    if (rc < 0) {
        return vq_break(vq, rc, w.why);
    }
    vq->last_avail++;
    if (vq->event_idx) {
        __atomic_store_n(avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
    }
    return 1;
}

int vu_vq_pop_head(struct vu_vq *vq, const struct vu_mem *mem, uint16_t head,
                   struct vu_chain *ch)
{
    struct walk w;
    int rc;

    if (vq->broken || !vu_vq_ready(vq, mem)) {
        return -EIO;
    }
    if (head >= vq->num) {
        return vq_break(vq, -ERANGE, "resubmitted head index out of range");
    }
    rc = chain_walk(vq, mem, head, ch, &w);
    if (rc < 0 && rc != -ENOMEM) {
        return vq_break(vq, rc, w.why);
    }
    return rc < 0 ? rc : 1;
}

int vu_vq_push(struct vu_vq *vq, uint16_t head, uint32_t len)
{
    volatile struct vu_used_elem *e;

    if (vq->broken || !vq->mapped) {
        return -EIO;
    }
    if (head >= vq->num) {
        return -EINVAL;
    }
    e = used_elem(vq, vq->used_idx);
    e->id = head;
    e->len = len;
    vq->used_idx++;
    /* Release: the element is visible before the index that publishes it. */
    __atomic_store_n(&vq->used[1], vq->used_idx, __ATOMIC_RELEASE);
    /* After 2^15 pushes without a notification the event-index comparison
     * becomes ambiguous; forget the old value and notify next time. */
    if ((int16_t)(uint16_t)(vq->used_idx - vq->signalled_used) < 1) {
        vq->signalled_valid = false;
    }
    return 0;
}

bool vu_vq_should_notify(struct vu_vq *vq)
{
    uint16_t old;
    bool valid;

    if (vq->broken || !vq->mapped) {
        return false;
    }
    /* Our used->idx store must be visible before we read what the guest
     * asked for, or a guest that just re-enabled interrupts is missed. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!vq->event_idx) {
        return !(__atomic_load_n(&vq->avail[0], __ATOMIC_RELAXED) &
                 VU_AVAIL_F_NO_INTERRUPT);
    }
    old = vq->signalled_used;
    valid = vq->signalled_valid;
    vq->signalled_used = vq->used_idx;
    vq->signalled_valid = true;
    if (!valid) {
        return true;
    }
    return vu_need_event(__atomic_load_n(used_event(vq), __ATOMIC_RELAXED),
                         vq->used_idx, old);
}

void vu_vq_enable_kicks(struct vu_vq *vq)
{
    if (vq->broken || !vq->mapped) {
        return;
    }
    if (vq->event_idx) {
        __atomic_store_n(avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
    } else {
        uint16_t f = __atomic_load_n(&vq->used[0], __ATOMIC_RELAXED);

        __atomic_store_n(&vq->used[0], f & ~VU_USED_F_NO_NOTIFY,
                         __ATOMIC_RELAXED);
    }
    /* The request must be visible before the caller looks at avail->idx
     * again, or a buffer added in between would wait for a kick forever. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* ---- copying through a chain ------------------------------------------ */

static int chain_copy(const struct vu_chain *ch, const struct vu_mem *mem,
                      bool wr, uint64_t off, uint8_t *buf, size_t len)
{
    uint32_t first = wr ? ch->nrd : 0;
    uint32_t end = wr ? ch->nrd + ch->nwr : ch->nrd;
    uint64_t total = wr ? ch->wr_len : ch->rd_len;

    if (len > total || off > total - len) {
        return -ERANGE;
    }
    for (uint32_t i = first; i < end && len > 0; i++) {
        const struct vu_seg *s = &ch->segs[i];
        size_t n;
        int rc;

        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        n = s->len - off < len ? (size_t)(s->len - off) : len;
        rc = wr ? vu_mem_write(mem, s->gpa + off, buf, n)
                : vu_mem_read(mem, s->gpa + off, buf, n);
        if (rc < 0) {
            return rc;
        }
        buf += n;
        len -= n;
        off = 0;
    }
    return 0;
}

int vu_chain_read(const struct vu_chain *ch, const struct vu_mem *mem,
                  uint64_t off, void *buf, size_t len)
{
    return chain_copy(ch, mem, false, off, buf, len);
}

int vu_chain_write(const struct vu_chain *ch, const struct vu_mem *mem,
                   uint64_t off, const void *buf, size_t len)
{
    return chain_copy(ch, mem, true, off, (uint8_t *)buf, len);
}
