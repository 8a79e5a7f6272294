/* SPDX-License-Identifier: MIT */
/*
 * cosim/vq: the split virtqueue walker against a ring laid out in a real
 * memfd. The test plays the driver: it writes descriptors, avail entries
 * and event indices into its own mapping of the file and reads the used
 * ring back from there, never through vu_mem.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cosim/wire/vq.h"
#include "sim/log.h"
#include "sim/rng.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

#define FILE_SIZE 0x100000u

/* R0|R1 adjacent in gpa, then a gap, then R2 at an unaligned file offset. */
static const struct vu_mem_region layout[3] = {
    { .gpa = 0x00000, .size = 0x40000, .uva = 0x7f0000000000,
      .mmap_offset = 0 },
    { .gpa = 0x40000, .size = 0x40000, .uva = 0x7f1000000000,
      .mmap_offset = 0x80000 },
    { .gpa = 0x100000, .size = 0x10000, .uva = 0x7f2000000000,
      .mmap_offset = 0xc0800 },
};

#define RING_R0  0x1000ull     /* desc; avail at +0x1000, used at +0x2000 */
#define RING_R2  0x100000ull
#define AVAIL_OFF 0x1000u
#define USED_OFF  0x2000u
#define BUF_A 0x10000ull       /* R0 */
#define BUF_B 0x3fff0ull       /* 0x20 bytes across R0|R1 */
#define BUF_C 0x108000ull      /* R2 */
#define BUF_D 0x60000ull       /* R1 */
#define ITAB  0x50000ull       /* R1 */
#define GAP   0x90000ull

#define F_N VU_DESC_F_NEXT
#define F_W VU_DESC_F_WRITE
#define F_I VU_DESC_F_INDIRECT

struct fx {
    int fd;
    uint8_t *file;          /* the driver's mapping of all guest memory */
    struct vu_mem mem;
    struct vu_vq vq;
    struct vu_chain ch;
    uint16_t num;
    uint64_t ring;
    uint16_t avail_idx;     /* driver's shadow */
    int nlog;
};

static void count_sink(int level, const char *subsys, const char *line,
                       void *opaque)
{
    (*(int *)opaque)++;
}

/* ---- the driver ------------------------------------------------------- */

static uint8_t *gp(struct fx *fx, uint64_t gpa)
{
    for (unsigned i = 0; i < 3; i++) {
        const struct vu_mem_region *r = &layout[i];

        if (gpa >= r->gpa && gpa < r->gpa + r->size) {
            return fx->file + r->mmap_offset + (gpa - r->gpa);
        }
    }
    CU_FAIL_FATAL("driver address outside the layout");
    return NULL;
}

static uint64_t uva_of(uint64_t gpa)
{
    for (unsigned i = 0; i < 3; i++) {
        if (gpa >= layout[i].gpa && gpa < layout[i].gpa + layout[i].size) {
            return layout[i].uva + (gpa - layout[i].gpa);
        }
    }
    return 0;
}

static volatile uint16_t *drv_avail(struct fx *fx)
{
    return (volatile uint16_t *)gp(fx, fx->ring + AVAIL_OFF);
}

static volatile uint16_t *drv_used(struct fx *fx)
{
    return (volatile uint16_t *)gp(fx, fx->ring + USED_OFF);
}

static volatile uint16_t *drv_used_event(struct fx *fx)
{
    return &drv_avail(fx)[2 + fx->num];
}

static volatile uint16_t *drv_avail_event(struct fx *fx)
{
    return &drv_used(fx)[2 + 4 * fx->num];
}

static struct vu_used_elem drv_used_elem(struct fx *fx, uint16_t slot)
{
    struct vu_used_elem e;

    memcpy(&e, gp(fx, fx->ring + USED_OFF + 4 + 8u * slot), sizeof(e));
    return e;
}

/* Write entry @i of the descriptor table at @tab. */
static void drv_desc_at(struct fx *fx, uint64_t tab, uint16_t i,
                        uint64_t addr, uint32_t len, uint16_t flags,
                        uint16_t next)
{
    struct vu_desc d = { .addr = addr, .len = len, .flags = flags,
                         .next = next };

    memcpy(gp(fx, tab + 16u * i), &d, sizeof(d));
}

static void drv_desc(struct fx *fx, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    drv_desc_at(fx, fx->ring, i, addr, len, flags, next);
}

/* Make @head available: ring entry first, then the index, released. */
static void drv_publish(struct fx *fx, uint16_t head)
{
    volatile uint16_t *a = drv_avail(fx);

    a[2 + (fx->avail_idx & (fx->num - 1))] = head;
    fx->avail_idx++;
    __atomic_store_n(&a[1], fx->avail_idx, __ATOMIC_RELEASE);
}

static void fx_ring_addr(struct fx *fx, struct vu_vring_addr *a)
{
    *a = (struct vu_vring_addr){
        .desc = uva_of(fx->ring),
        .avail = uva_of(fx->ring + AVAIL_OFF),
        .used = uva_of(fx->ring + USED_OFF),
        .log = UINT64_MAX,
    };
}

static int fx_share(struct fx *fx)
{
    int fds[3];

    for (unsigned i = 0; i < 3; i++) {
        fds[i] = dup(fx->fd);
    }
    return vu_mem_set_table(&fx->mem, layout, fds, 3);
}

/* A ring of @num at @ring whose indices all start at @base. */
static void fx_setup(struct fx *fx, uint16_t num, uint64_t ring,
                     uint16_t base)
{
    struct vu_vring_addr a;

    memset(fx, 0, sizeof(*fx));
    fx->fd = memfd_create("vusim-test-vq", MFD_CLOEXEC);
    CU_ASSERT_FATAL(fx->fd >= 0);
    CU_ASSERT_FATAL(ftruncate(fx->fd, FILE_SIZE) == 0);
    fx->file = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                    fx->fd, 0);
    CU_ASSERT_FATAL(fx->file != MAP_FAILED);
    fx->num = num;
    fx->ring = ring;
    fx->avail_idx = base;
    drv_avail(fx)[1] = base;
    drv_used(fx)[1] = base;
    vusim_log_set_sink(count_sink, &fx->nlog);
    vu_mem_init(&fx->mem);
    CU_ASSERT_EQUAL_FATAL(fx_share(fx), 0);
    vu_vq_init(&fx->vq);
    vu_chain_init(&fx->ch);
    CU_ASSERT_EQUAL_FATAL(vu_vq_set_num(&fx->vq, num), 0);
    vu_vq_set_base(&fx->vq, base);
    fx_ring_addr(fx, &a);
    vu_vq_set_addr(&fx->vq, &a);
    CU_ASSERT_EQUAL_FATAL(vu_vq_map(&fx->vq, &fx->mem), 0);
    CU_ASSERT_EQUAL(fx->vq.used_idx, base);
}

static void fx_teardown(struct fx *fx)
{
    vu_chain_fini(&fx->ch);
    vu_mem_fini(&fx->mem);
    munmap(fx->file, FILE_SIZE);
    close(fx->fd);
    vusim_log_set_sink(NULL, NULL);
}

static bool seg_is(const struct vu_chain *ch, uint32_t i, uint64_t gpa,
                   uint32_t len)
{
    return i < ch->nrd + ch->nwr && ch->segs[i].gpa == gpa &&
           ch->segs[i].len == len;
}

/* ---- well-formed chains ----------------------------------------------- */

/* Readable then writable descriptors, one buffer across two regions. */
static void test_pop_simple(void)
{
    struct fx fx;

    fx_setup(&fx, 16, RING_R0, 0);
    drv_desc(&fx, 0, BUF_A, 16, F_N, 1);
    drv_desc(&fx, 1, BUF_B, 0x20, F_N, 2);
    drv_desc(&fx, 2, BUF_C, 64, F_W, 0);
    drv_desc(&fx, 5, BUF_D, 8, F_N, 3);
    drv_desc(&fx, 3, BUF_D + 8, 24, F_W, 0);
    CU_ASSERT_EQUAL(vu_vq_avail_count(&fx.vq), 0);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 0);
    drv_publish(&fx, 0);
    drv_publish(&fx, 5);
    CU_ASSERT_EQUAL(vu_vq_avail_count(&fx.vq), 2);

    CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    CU_ASSERT_EQUAL(fx.ch.head, 0);
    CU_ASSERT_EQUAL(fx.ch.nrd, 2);
    CU_ASSERT_EQUAL(fx.ch.nwr, 1);
    CU_ASSERT_EQUAL(fx.ch.rd_len, 48);
    CU_ASSERT_EQUAL(fx.ch.wr_len, 64);
    CU_ASSERT_EQUAL(fx.ch.ndesc, 3);
    CU_ASSERT_FALSE(fx.ch.indirect);
    CU_ASSERT(seg_is(&fx.ch, 0, BUF_A, 16));
    CU_ASSERT(seg_is(&fx.ch, 1, BUF_B, 0x20));
    CU_ASSERT(seg_is(&fx.ch, 2, BUF_C, 64));
    CU_ASSERT_EQUAL(fx.vq.last_avail, 1);

    CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    CU_ASSERT_EQUAL(fx.ch.head, 5);
    CU_ASSERT_EQUAL(fx.ch.nrd, 1);
    CU_ASSERT_EQUAL(fx.ch.nwr, 1);
    CU_ASSERT(seg_is(&fx.ch, 1, BUF_D + 8, 24));
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 0);
    CU_ASSERT_EQUAL(vu_vq_avail_count(&fx.vq), 0);
    CU_ASSERT_FALSE(fx.vq.broken);
    CU_ASSERT_EQUAL(fx.nlog, 0);
    fx_teardown(&fx);
}

/* Copies through a chain honour offsets and the readable/writable split. */
static void test_chain_copy(void)
{
    static const char a[] = "0123456789abcdef";
    uint8_t b[0x20], got[48], before[8];
    struct fx fx;

    for (unsigned i = 0; i < sizeof(b); i++) {
        b[i] = (uint8_t)('A' + i);
    }
    fx_setup(&fx, 8, RING_R2, 0);
    memcpy(gp(&fx, BUF_A), a, 16);
    memcpy(gp(&fx, BUF_B), b, 0x10);                 /* R0 tail */
    memcpy(gp(&fx, BUF_B + 0x10), b + 0x10, 0x10);   /* R1 head */
    drv_desc(&fx, 0, BUF_A, 16, F_N, 1);
    drv_desc(&fx, 1, BUF_B, 0x20, F_N, 2);
    drv_desc(&fx, 2, BUF_C, 64, F_W | F_N, 3);
    drv_desc(&fx, 3, BUF_D, 32, F_W, 0);
    drv_publish(&fx, 0);
    CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);

    CU_ASSERT_EQUAL(vu_chain_read(&fx.ch, &fx.mem, 0, got, 48), 0);
    CU_ASSERT_EQUAL(memcmp(got, a, 16), 0);
    CU_ASSERT_EQUAL(memcmp(got + 16, b, 0x20), 0);
    CU_ASSERT_EQUAL(vu_chain_read(&fx.ch, &fx.mem, 10, got, 20), 0);
    CU_ASSERT_EQUAL(memcmp(got, a + 10, 6), 0);
    CU_ASSERT_EQUAL(memcmp(got + 6, b, 14), 0);
    CU_ASSERT_EQUAL(vu_chain_read(&fx.ch, &fx.mem, 40, got, 8), 0);
    CU_ASSERT_EQUAL(memcmp(got, b + 24, 8), 0);
    CU_ASSERT_EQUAL(vu_chain_read(&fx.ch, &fx.mem, 41, got, 8), -ERANGE);
    CU_ASSERT_EQUAL(vu_chain_read(&fx.ch, &fx.mem, 48, got, 0), 0);
    CU_ASSERT_EQUAL(vu_chain_read(&fx.ch, &fx.mem, 48, got, 1), -ERANGE);
    CU_ASSERT_EQUAL(vu_chain_read(&fx.ch, &fx.mem, UINT64_MAX, got, 2),
                    -ERANGE);

    CU_ASSERT_EQUAL(vu_chain_write(&fx.ch, &fx.mem, 60, "WXYZwxyz", 8), 0);
    CU_ASSERT_EQUAL(memcmp(gp(&fx, BUF_C + 60), "WXYZ", 4), 0);
    CU_ASSERT_EQUAL(memcmp(gp(&fx, BUF_D), "wxyz", 4), 0);
    memcpy(before, gp(&fx, BUF_D + 24), 8);
    CU_ASSERT_EQUAL(vu_chain_write(&fx.ch, &fx.mem, 90, "12345678", 8),
                    -ERANGE);
    CU_ASSERT_EQUAL(memcmp(gp(&fx, BUF_D + 24), before, 8), 0);
    CU_ASSERT_EQUAL(vu_chain_write(&fx.ch, &fx.mem, 88, "12345678", 8), 0);
    CU_ASSERT_EQUAL(memcmp(gp(&fx, BUF_D + 24), "12345678", 8), 0);
    fx_teardown(&fx);
}

/* A direct prefix, then an indirect table walked in its own next order. */
static void test_indirect(void)
{
    struct fx fx;

    fx_setup(&fx, 8, RING_R0, 0);
    fx.vq.indirect_ok = true;
    drv_desc(&fx, 4, BUF_A, 16, F_N, 6);
    drv_desc(&fx, 6, ITAB, 3 * 16, F_I, 0);
    drv_desc_at(&fx, ITAB, 0, BUF_A + 16, 8, F_N, 2);
    drv_desc_at(&fx, ITAB, 2, BUF_C, 64, F_W | F_N, 1);
    drv_desc_at(&fx, ITAB, 1, BUF_D, 32, F_W, 0);
    drv_publish(&fx, 4);
    CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    CU_ASSERT(fx.ch.indirect);
    CU_ASSERT_EQUAL(fx.ch.head, 4);
    CU_ASSERT_EQUAL(fx.ch.ndesc, 5);
    CU_ASSERT_EQUAL(fx.ch.nrd, 2);
    CU_ASSERT_EQUAL(fx.ch.nwr, 2);
    CU_ASSERT(seg_is(&fx.ch, 0, BUF_A, 16));
    CU_ASSERT(seg_is(&fx.ch, 1, BUF_A + 16, 8));
    CU_ASSERT(seg_is(&fx.ch, 2, BUF_C, 64));
    CU_ASSERT(seg_is(&fx.ch, 3, BUF_D, 32));

    /* The write flag on the indirect descriptor itself is ignored. */
    drv_desc_at(&fx, ITAB, 0, BUF_A, 8, 0, 0);
    drv_desc(&fx, 0, ITAB, 16, F_I | F_W, 0);
    drv_publish(&fx, 0);
    CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    CU_ASSERT_EQUAL(fx.ch.nrd, 1);
    CU_ASSERT_EQUAL(fx.ch.nwr, 0);
    CU_ASSERT_EQUAL(fx.nlog, 0);
    fx_teardown(&fx);
}

/* The largest indirect table accepted, chained end to end. */
static void test_indirect_max(void)
{
    struct fx fx;

    fx_setup(&fx, 4, RING_R0, 0);
    fx.vq.indirect_ok = true;
    for (uint16_t i = 0; i < VU_QUEUE_MAX; i++) {
        drv_desc_at(&fx, ITAB, i, BUF_D + i, 1,
                    i + 1 < VU_QUEUE_MAX ? F_N : 0, i + 1);
    }
    drv_desc(&fx, 0, ITAB, 16 * VU_QUEUE_MAX, F_I, 0);
    drv_publish(&fx, 0);
    CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    CU_ASSERT_EQUAL(fx.ch.nrd, VU_QUEUE_MAX);
    CU_ASSERT_EQUAL(fx.ch.rd_len, VU_QUEUE_MAX);
    CU_ASSERT(fx.ch.cap >= VU_QUEUE_MAX);
    CU_ASSERT(seg_is(&fx.ch, VU_QUEUE_MAX - 1, BUF_D + VU_QUEUE_MAX - 1, 1));
    fx_teardown(&fx);
}

/* Zero-length descriptors are walked but carry no segment. */
static void test_zero_len(void)
{
    struct fx fx;

    fx_setup(&fx, 8, RING_R0, 0);
    drv_desc(&fx, 0, GAP, 0, F_N, 1);
    drv_desc(&fx, 1, BUF_C, 16, F_W, 0);
    drv_publish(&fx, 0);
    CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    CU_ASSERT_EQUAL(fx.ch.ndesc, 2);
    CU_ASSERT_EQUAL(fx.ch.nrd, 0);
    CU_ASSERT_EQUAL(fx.ch.nwr, 1);
    CU_ASSERT(seg_is(&fx.ch, 0, BUF_C, 16));
    fx_teardown(&fx);
}

/* ---- malformed chains ------------------------------------------------- */

struct dsc {
    uint16_t i;
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct bad_chain {
    const char *name;
    bool indirect_ok;
    struct dsc direct[9];   /* an all-zero entry ends each list */
    struct dsc itab[3];     /* written at ITAB */
    uint16_t head;
    uint16_t avail_idx;     /* nonzero: store this instead of publishing */
    int rc;
};

#define NUM_BAD 8
#define D(i, a, l, f, n) { (i), (a), (l), (f), (n) }

static const struct bad_chain bad_chains[] = {
    { "indirect not negotiated", false, { D(0, ITAB, 32, F_I, 0) },
      { D(0, BUF_A, 4, F_N, 1), D(1, BUF_A, 4, 0, 0) }, 0, 0, -EPROTO },
    { "indirect in indirect", true, { D(0, ITAB, 32, F_I, 0) },
      { D(0, ITAB + 0x100, 16, F_I, 0) }, 0, 0, -EBADMSG },
    { "indirect with next", true,
      { D(0, ITAB, 16, F_I | F_N, 1), D(1, BUF_A, 4, 0, 0) },
      { D(0, BUF_A, 4, 0, 0) }, 0, 0, -EBADMSG },
    { "indirect len not multiple of 16", true, { D(0, ITAB, 24, F_I, 0) },
      { D(0, BUF_A, 4, 0, 0) }, 0, 0, -EBADMSG },
    { "indirect len zero", true,
      { D(0, BUF_A, 4, F_N, 1), D(1, ITAB, 0, F_I, 0) }, { { 0 } }, 0, 0,
      -EBADMSG },
    { "indirect table too large", true,
      { D(0, ITAB, 16 * (VU_QUEUE_MAX + 1), F_I, 0) },
      { D(0, BUF_A, 4, 0, 0) }, 0, 0, -EBADMSG },
    { "indirect table in gap", true, { D(0, GAP, 32, F_I, 0) }, { { 0 } },
      0, 0, -ERANGE },
    { "indirect table runs into gap", true,
      { D(0, 0x7fff0, 32, F_I, 0) }, { { 0 } }, 0, 0, -ERANGE },
    { "self loop", false, { D(0, BUF_A, 4, F_N, 0) }, { { 0 } }, 0, 0,
      -ELOOP },
    { "two-descriptor loop", false,
      { D(3, BUF_A, 4, F_N, 5), D(5, BUF_A, 4, F_N, 3) }, { { 0 } }, 3, 0,
      -ELOOP },
    { "chain through the whole ring and back", false,
      { D(0, BUF_A, 4, F_N, 1), D(1, BUF_A, 4, F_N, 2),
        D(2, BUF_A, 4, F_N, 3), D(3, BUF_A, 4, F_N, 4),
        D(4, BUF_A, 4, F_N, 5), D(5, BUF_A, 4, F_N, 6),
        D(6, BUF_A, 4, F_N, 7), D(7, BUF_A, 4, F_N, 0) }, { { 0 } }, 0, 0,
      -ELOOP },
    { "loop in indirect table", true, { D(0, ITAB, 48, F_I, 0) },
      { D(0, BUF_A, 4, F_N, 1), D(1, BUF_A, 4, F_N, 2),
        D(2, BUF_A, 4, F_N, 1) }, 0, 0, -ELOOP },
    { "next out of range", false, { D(0, BUF_A, 4, F_N, NUM_BAD) },
      { { 0 } }, 0, 0, -ERANGE },
    { "next 0xffff", false, { D(0, BUF_A, 4, F_N, 0xffff) }, { { 0 } }, 0,
      0, -ERANGE },
    { "indirect next past table", true, { D(0, ITAB, 32, F_I, 0) },
      { D(0, BUF_A, 4, F_N, 2), D(1, BUF_A, 4, 0, 0),
        D(2, BUF_A, 4, 0, 0) }, 0, 0, -ERANGE },
    { "head out of range", false, { D(0, BUF_A, 4, 0, 0) }, { { 0 } },
      NUM_BAD, 0, -ERANGE },
    { "head 0xffff", false, { D(0, BUF_A, 4, 0, 0) }, { { 0 } }, 0xffff, 0,
      -ERANGE },
    { "buffer in gap", false, { D(0, GAP, 4, 0, 0) }, { { 0 } }, 0, 0,
      -ERANGE },
    { "buffer past end of memory", false, { D(0, 0x10fff0, 0x20, 0, 0) },
      { { 0 } }, 0, 0, -ERANGE },
    { "buffer runs into gap", false, { D(0, 0x7fff0, 0x20, F_W, 0) },
      { { 0 } }, 0, 0, -ERANGE },
    { "buffer address wraps", false, { D(0, UINT64_MAX - 4, 16, 0, 0) },
      { { 0 } }, 0, 0, -ERANGE },
    { "buffer length huge", false, { D(0, BUF_A, UINT32_MAX, F_W, 0) },
      { { 0 } }, 0, 0, -ERANGE },
    { "buffer in indirect table outside memory", true,
      { D(0, ITAB, 16, F_I, 0) }, { D(0, GAP, 4, 0, 0) }, 0, 0, -ERANGE },
    { "readable after writable", false,
      { D(0, BUF_A, 4, F_W | F_N, 1), D(1, BUF_A, 4, 0, 0) }, { { 0 } }, 0,
      0, -EBADMSG },
    { "readable in table after writable before it", true,
      { D(0, BUF_A, 4, F_W | F_N, 1), D(1, ITAB, 16, F_I, 0) },
      { D(0, BUF_A, 4, 0, 0) }, 0, 0, -EBADMSG },
    { "readable after writable in indirect table", true,
      { D(0, ITAB, 32, F_I, 0) },
      { D(0, BUF_A, 4, F_W | F_N, 1), D(1, BUF_A, 4, 0, 0) }, 0, 0,
      -EBADMSG },
    { "avail idx jumps past the ring", false, { D(0, BUF_A, 4, 0, 0) },
      { { 0 } }, 0, NUM_BAD + 1, -ERANGE },
    { "avail idx behind last_avail", false, { D(0, BUF_A, 4, 0, 0) },
      { { 0 } }, 0, 0xfff0, -ERANGE },
};

static bool dsc_end(const struct dsc *d)
{
    return d->addr == 0 && d->flags == 0;
}

static void lay_bad_chain(struct fx *fx, const struct bad_chain *c)
{
    for (unsigned j = 0; j < 9 && !dsc_end(&c->direct[j]); j++) {
        const struct dsc *d = &c->direct[j];

        drv_desc(fx, d->i, d->addr, d->len, d->flags, d->next);
    }
    for (unsigned j = 0; j < 3 && !dsc_end(&c->itab[j]); j++) {
        const struct dsc *d = &c->itab[j];

        drv_desc_at(fx, ITAB, d->i, d->addr, d->len, d->flags, d->next);
    }
    if (c->avail_idx) {
        __atomic_store_n(&drv_avail(fx)[1], c->avail_idx, __ATOMIC_RELEASE);
    } else {
        drv_publish(fx, c->head);
    }
}

/* Each defect breaks the queue once, loudly, and moves nothing. */
static void test_malformed(void)
{
    for (size_t i = 0; i < sizeof(bad_chains) / sizeof(bad_chains[0]); i++) {
        const struct bad_chain *c = &bad_chains[i];
        struct fx fx;

        fx_setup(&fx, NUM_BAD, RING_R0, 0);
        fx.vq.indirect_ok = c->indirect_ok;
        fx.vq.event_idx = true;
        *drv_avail_event(&fx) = 0xdead;
        lay_bad_chain(&fx, c);
        VU_ASSERT_MSG(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch) == c->rc, c->name);
        VU_ASSERT_MSG(fx.vq.broken, c->name);
        VU_ASSERT_MSG(fx.vq.last_avail == 0, c->name);
        VU_ASSERT_MSG(*drv_avail_event(&fx) == 0xdead, c->name);
        VU_ASSERT_MSG(drv_used(&fx)[1] == 0, c->name);
        VU_ASSERT_MSG(fx.nlog == 1, c->name);
        VU_ASSERT_MSG(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch) == -EIO, c->name);
        VU_ASSERT_MSG(vu_vq_avail_count(&fx.vq) == -EIO, c->name);
        VU_ASSERT_MSG(fx.nlog == 1, c->name);
        fx_teardown(&fx);
    }
}

/* Once broken, fixing the ring does not help; setting it up again does. */
static void test_broken_stays_broken(void)
{
    struct fx fx;

    fx_setup(&fx, 8, RING_R0, 0);
    drv_desc(&fx, 0, BUF_A, 4, F_N, 0);
    drv_publish(&fx, 0);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), -ELOOP);
    drv_desc(&fx, 0, BUF_A, 4, 0, 0);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), -EIO);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), -EIO);
    CU_ASSERT_EQUAL(vu_vq_push(&fx.vq, 0, 0), -EIO);
    CU_ASSERT_FALSE(vu_vq_should_notify(&fx.vq));
    CU_ASSERT_EQUAL(drv_used(&fx)[1], 0);
    CU_ASSERT_EQUAL(fx.nlog, 1);
    vu_vq_set_base(&fx.vq, 0);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    fx_teardown(&fx);
}

/* ---- used ring, indices, notifications -------------------------------- */

/* Completions land in order of push, not of pop. */
static void test_push_used(void)
{
    struct vu_used_elem e;
    struct fx fx;

    fx_setup(&fx, 8, RING_R0, 0);
    for (uint16_t h = 0; h < 6; h += 2) {
        drv_desc(&fx, h, BUF_C + 64 * h, 64, F_W, 0);
        drv_publish(&fx, h);
        CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    }
    CU_ASSERT_EQUAL(vu_vq_push(&fx.vq, 2, 10), 0);
    CU_ASSERT_EQUAL(drv_used(&fx)[1], 1);
    CU_ASSERT_EQUAL(vu_vq_push(&fx.vq, 0, 0), 0);
    CU_ASSERT_EQUAL(vu_vq_push(&fx.vq, 4, 64), 0);
    CU_ASSERT_EQUAL(vu_vq_push(&fx.vq, 8, 1), -EINVAL);
    CU_ASSERT_EQUAL(drv_used(&fx)[1], 3);
    e = drv_used_elem(&fx, 0);
    CU_ASSERT(e.id == 2 && e.len == 10);
    e = drv_used_elem(&fx, 1);
    CU_ASSERT(e.id == 0 && e.len == 0);
    e = drv_used_elem(&fx, 2);
    CU_ASSERT(e.id == 4 && e.len == 64);
    fx_teardown(&fx);
}

/* Free-running u16 indices cross 65535 -> 0 on both rings. */
static void test_index_wrap(void)
{
    const uint16_t base = 65533;
    struct fx fx;

    fx_setup(&fx, 8, RING_R2, base);
    fx.vq.event_idx = true;
    for (uint16_t k = 0; k < 6; k++) {
        uint16_t h = (uint16_t)((k * 3) % 8);
        struct vu_used_elem e;

        drv_desc(&fx, h, BUF_C, 16, F_W, 0);
        drv_publish(&fx, h);
        CU_ASSERT_EQUAL(vu_vq_avail_count(&fx.vq), 1);
        CU_ASSERT_EQUAL_FATAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
        CU_ASSERT_EQUAL(fx.ch.head, h);
        CU_ASSERT_EQUAL(*drv_avail_event(&fx), (uint16_t)(base + k + 1));
        CU_ASSERT_EQUAL(vu_vq_push(&fx.vq, h, k), 0);
        CU_ASSERT_EQUAL(drv_used(&fx)[1], (uint16_t)(base + k + 1));
        e = drv_used_elem(&fx, (uint16_t)(base + k) & 7);
        CU_ASSERT(e.id == h && e.len == k);
    }
    CU_ASSERT_EQUAL(fx.vq.last_avail, 3);

    /* A full ring published at once, straddling the wrap again. */
    fx.avail_idx = 65532;
    vu_vq_set_base(&fx.vq, 65532);
    for (uint16_t h = 0; h < 8; h++) {
        drv_desc(&fx, h, BUF_A + h, 1, 0, 0);
        drv_publish(&fx, 7 - h);
    }
    CU_ASSERT_EQUAL(vu_vq_avail_count(&fx.vq), 8);
    for (uint16_t h = 0; h < 8; h++) {
        CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
        CU_ASSERT_EQUAL(fx.ch.head, 7 - h);
    }
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 0);
    CU_ASSERT_EQUAL(fx.vq.last_avail, 4);
    fx_teardown(&fx);
}

static void pop_push(struct fx *fx, uint16_t head)
{
    drv_desc(fx, head, BUF_C, 16, F_W, 0);
    drv_publish(fx, head);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx->vq, &fx->mem, &fx->ch), 1);
    CU_ASSERT_EQUAL(vu_vq_push(&fx->vq, head, 16), 0);
}

/* used_event suppresses calls until the used index passes it. */
static void test_event_idx(void)
{
    struct fx fx;
    int rc = 0;

    fx_setup(&fx, 8, RING_R0, 0);
    fx.vq.event_idx = true;
    *drv_used_event(&fx) = 0;
    pop_push(&fx, 0);
    CU_ASSERT_EQUAL(*drv_avail_event(&fx), 1);
    CU_ASSERT_TRUE(vu_vq_should_notify(&fx.vq));    /* nothing signalled yet */
    CU_ASSERT_FALSE(vu_vq_should_notify(&fx.vq));   /* nothing new */
    *drv_used_event(&fx) = 2;                       /* wake me after #2 */
    pop_push(&fx, 1);
    CU_ASSERT_FALSE(vu_vq_should_notify(&fx.vq));
    pop_push(&fx, 2);
    CU_ASSERT_TRUE(vu_vq_should_notify(&fx.vq));
    pop_push(&fx, 3);                                /* used_event stale */
    CU_ASSERT_FALSE(vu_vq_should_notify(&fx.vq));
    *drv_used_event(&fx) = 3;                        /* already passed */
    pop_push(&fx, 4);
    CU_ASSERT_FALSE(vu_vq_should_notify(&fx.vq));
    *drv_used_event(&fx) = 5;                        /* passed in a batch */
    pop_push(&fx, 5);
    pop_push(&fx, 6);
    CU_ASSERT_TRUE(vu_vq_should_notify(&fx.vq));
    CU_ASSERT_EQUAL(*drv_avail_event(&fx), 7);

    /* enable_kicks re-arms avail_event even without a pop. */
    *drv_avail_event(&fx) = 0;
    vu_vq_enable_kicks(&fx.vq);
    CU_ASSERT_EQUAL(*drv_avail_event(&fx), 7);
    /* A new set-up forgets what was signalled: notify once more. */
    vu_vq_set_base(&fx.vq, fx.vq.last_avail);
    pop_push(&fx, 7);
    *drv_used_event(&fx) = 100;
    CU_ASSERT_TRUE(vu_vq_should_notify(&fx.vq));

    /* Past 2^15 completions without a check, used_event cannot be told
     * from an old value any more: notify rather than risk a lost call. */
    *drv_used_event(&fx) = (uint16_t)(fx.vq.used_idx + 40000);
    for (int k = 0; k < 40000 && rc == 0; k++) {
        rc = vu_vq_push(&fx.vq, 0, 0);
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(vu_vq_should_notify(&fx.vq));
    fx_teardown(&fx);
}

/* Without EVENT_IDX, only NO_INTERRUPT suppresses calls. */
static void test_no_interrupt(void)
{
    struct fx fx;

    fx_setup(&fx, 8, RING_R0, 0);
    pop_push(&fx, 0);
    CU_ASSERT_TRUE(vu_vq_should_notify(&fx.vq));
    drv_avail(&fx)[0] = VU_AVAIL_F_NO_INTERRUPT;
    pop_push(&fx, 1);
    CU_ASSERT_FALSE(vu_vq_should_notify(&fx.vq));
    drv_avail(&fx)[0] = 0;
    pop_push(&fx, 2);
    CU_ASSERT_TRUE(vu_vq_should_notify(&fx.vq));
    CU_ASSERT_EQUAL(*drv_avail_event(&fx), 0);      /* not written */
    drv_used(&fx)[0] = VU_USED_F_NO_NOTIFY;
    vu_vq_enable_kicks(&fx.vq);
    CU_ASSERT_EQUAL(drv_used(&fx)[0], 0);
    fx_teardown(&fx);
}

/* ---- set-up ----------------------------------------------------------- */

static void test_set_num(void)
{
    static const struct { uint32_t num; int rc; } cases[] = {
        { 0, -EINVAL }, { 3, -EINVAL }, { 2048, -EINVAL },
        { 1025, -EINVAL }, { 65536, -EINVAL }, { 0x80000100, -EINVAL },
        { 1, 0 }, { 256, 0 }, { 1024, 0 },
    };
    struct vu_vq vq;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[32];

        snprintf(name, sizeof(name), "num %u", (unsigned)cases[i].num);
        vu_vq_init(&vq);
        CU_ASSERT_EQUAL(vu_vq_set_num(&vq, 64), 0);
        VU_ASSERT_MSG(vu_vq_set_num(&vq, cases[i].num) == cases[i].rc, name);
        VU_ASSERT_MSG(vq.num == (cases[i].rc ? 64 : cases[i].num), name);
    }
}

/* Rings must each lie inside one region and be aligned. */
static void test_map_errors(void)
{
    static const struct {
        const char *name;
        int64_t desc, avail, used;   /* offsets from the good addresses */
        int rc;
    } cases[] = {
        { "desc outside memory", 0x200000, 0, 0, -ERANGE },
        { "avail crosses region end", 0, 0x3e000 - 0x100, 0, -ERANGE },
        { "used crosses R0|R1", 0, 0, 0x3d000 - 0x100, -ERANGE },
        { "desc misaligned", 8, 0, 0, -EINVAL },
        { "avail misaligned", 0, 1, 0, -EINVAL },
        { "used misaligned", 0, 0, 2, -EINVAL },
    };
    struct vu_vring_addr a;
    struct fx fx;

    fx_setup(&fx, 256, RING_R0, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_ring_addr(&fx, &a);
        a.desc += (uint64_t)cases[i].desc;
        a.avail += (uint64_t)cases[i].avail;
        a.used += (uint64_t)cases[i].used;
        vu_vq_set_addr(&fx.vq, &a);
        VU_ASSERT_MSG(vu_vq_map(&fx.vq, &fx.mem) == cases[i].rc,
                      cases[i].name);
        VU_ASSERT_MSG(!vu_vq_ready(&fx.vq, &fx.mem), cases[i].name);
        VU_ASSERT_MSG(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch) == -EIO,
                      cases[i].name);
        VU_ASSERT_MSG(!fx.vq.broken, cases[i].name);
    }
    vu_vq_init(&fx.vq);
    CU_ASSERT_EQUAL(vu_vq_map(&fx.vq, &fx.mem), -EINVAL);   /* nothing set */
    fx_teardown(&fx);
}

/* A memory-table change unmaps the queue until it is mapped again. */
static void test_remap_generation(void)
{
    struct vu_mem_region r0 = layout[0];
    struct fx fx;

    fx_setup(&fx, 8, RING_R2, 0);
    drv_desc(&fx, 0, BUF_A, 4, 0, 0);
    drv_publish(&fx, 0);
    drv_publish(&fx, 0);
    CU_ASSERT_TRUE(vu_vq_ready(&fx.vq, &fx.mem));
    CU_ASSERT_EQUAL_FATAL(fx_share(&fx), 0);
    CU_ASSERT_FALSE(vu_vq_ready(&fx.vq, &fx.mem));
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), -EIO);
    CU_ASSERT_FALSE(fx.vq.broken);
    CU_ASSERT_EQUAL(vu_vq_map(&fx.vq, &fx.mem), 0);
    CU_ASSERT_TRUE(vu_vq_ready(&fx.vq, &fx.mem));
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);

    /* Buffers are checked against the table at pop time. */
    CU_ASSERT_EQUAL_FATAL(vu_mem_remove(&fx.mem, &r0), 0);
    CU_ASSERT_FALSE(vu_vq_ready(&fx.vq, &fx.mem));
    CU_ASSERT_EQUAL(vu_vq_map(&fx.vq, &fx.mem), 0);  /* rings are in R2 */
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), -ERANGE);
    CU_ASSERT_TRUE(fx.vq.broken);
    fx_teardown(&fx);
}

/* GET_VRING_BASE: stop reports where to resume; a new map resyncs used. */
static void test_stop(void)
{
    struct fx fx;

    fx_setup(&fx, 8, RING_R0, 0);
    pop_push(&fx, 0);
    pop_push(&fx, 1);
    drv_publish(&fx, 1);
    CU_ASSERT_EQUAL(vu_vq_stop(&fx.vq), 2);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), -EIO);
    CU_ASSERT_EQUAL(vu_vq_push(&fx.vq, 0, 0), -EIO);
    CU_ASSERT_FALSE(vu_vq_ready(&fx.vq, &fx.mem));
    drv_used(&fx)[1] = 5;                    /* the driver moved on */
    CU_ASSERT_EQUAL(vu_vq_map(&fx.vq, &fx.mem), 0);
    CU_ASSERT_EQUAL(fx.vq.used_idx, 5);
    CU_ASSERT_EQUAL(vu_vq_pop(&fx.vq, &fx.mem, &fx.ch), 1);
    CU_ASSERT_EQUAL(fx.ch.head, 1);
    fx_teardown(&fx);
}

/* ---- randomized ------------------------------------------------------- */

struct model_seg {
    uint64_t gpa;
    uint32_t len;
};

/* Lay a random valid chain at @head; return its segments in walk order. */
static unsigned random_chain(struct fx *fx, struct vusim_rng *rng,
                             uint16_t head, struct model_seg *segs)
{
    bool ind = vusim_rng_below(rng, 3) == 0;
    unsigned max = ind ? 32 : fx->num;
    unsigned n = 1 + (unsigned)vusim_rng_below(rng, max);
    unsigned nrd = (unsigned)vusim_rng_below(rng, n + 1);
    uint64_t tab = ind ? ITAB : fx->ring;
    uint16_t idx = ind ? 0 : head;

    for (unsigned k = 0; k < n; k++) {
        /* direct chains use descriptor head, head+1, ... mod num */
        uint16_t next = ind ? (uint16_t)(k + 1)
                            : (uint16_t)((head + k + 1) & (fx->num - 1));
        uint64_t gpa = BUF_B - 0x100 + vusim_rng_below(rng, 0x200);

        segs[k].gpa = gpa;
        segs[k].len = 1 + (uint32_t)vusim_rng_below(rng, 64);
        drv_desc_at(fx, tab, idx, gpa, segs[k].len,
                    (k + 1 < n ? F_N : 0) | (k >= nrd ? F_W : 0), next);
        idx = next;
    }
    if (ind) {
        drv_desc(fx, head, ITAB, 16 * n, F_I, 0);
    }
    return n;
}

/* Random chains, direct and indirect, across the u16 wrap. */
static void test_random_chains(void)
{
    const uint64_t seed = 0x76717571;
    struct model_seg want[32];
    struct vusim_rng rng;
    struct fx fx;
    int bad = 0;

    vusim_rng_seed(&rng, seed);
    fx_setup(&fx, 16, RING_R0, 65000);
    fx.vq.indirect_ok = true;
    for (int it = 0; it < 2000 && !bad; it++) {
        uint16_t head = (uint16_t)vusim_rng_below(&rng, fx.num);
        unsigned n = random_chain(&fx, &rng, head, want);
        uint16_t used = (uint16_t)(fx.vq.used_idx);

        drv_publish(&fx, head);
        bad |= vu_vq_pop(&fx.vq, &fx.mem, &fx.ch) != 1;
        bad |= fx.ch.head != head || fx.ch.nrd + fx.ch.nwr != n;
        for (unsigned k = 0; !bad && k < n; k++) {
            bad |= !seg_is(&fx.ch, k, want[k].gpa, want[k].len);
        }
        bad |= vu_vq_push(&fx.vq, head, (uint32_t)fx.ch.wr_len) != 0;
        bad |= drv_used(&fx)[1] != (uint16_t)(used + 1);
        bad |= drv_used_elem(&fx, used & (fx.num - 1)).id != head;
    }
    if (bad) {
        fprintf(stderr, "test_random_chains: seed 0x%llx\n",
                (unsigned long long)seed);
    }
    CU_ASSERT_FALSE(bad);
    CU_ASSERT_FALSE(fx.vq.broken);
    fx_teardown(&fx);
}

CU_TestInfo vq_tests[] = {
    { "pop_simple", test_pop_simple },
    { "chain_copy", test_chain_copy },
    { "indirect", test_indirect },
    { "indirect_max", test_indirect_max },
    { "zero_len", test_zero_len },
    { "malformed", test_malformed },
    { "broken_stays_broken", test_broken_stays_broken },
    { "push_used", test_push_used },
    { "index_wrap", test_index_wrap },
    { "event_idx", test_event_idx },
    { "no_interrupt", test_no_interrupt },
    { "set_num", test_set_num },
    { "map_errors", test_map_errors },
    { "remap_generation", test_remap_generation },
    { "stop", test_stop },
    { "random_chains", test_random_chains },
    CU_TEST_INFO_NULL,
};
