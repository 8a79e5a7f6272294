/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_vq.c - the split-ring descriptor-chain walker
 * (cosim/wire/vq.c) over fuzzed guest memory
 *
 * Guest memory is two 8 KiB memfd regions with a hole between them, shared
 * through vu_mem exactly as a front-end's table is. Input: a 16-byte header
 * (ring size, the three ring addresses, base, EVENT_IDX and INDIRECT_DESC,
 * script length), a script, then the memory image. The ring is set up as
 * SET_VRING_NUM/ADDR/BASE would, then each script step pops a chain (reads
 * all its readable bytes, writes its writable ones, pushes it, asks whether
 * to notify), re-enables kicks, or rewrites two bytes of guest memory, as a
 * guest racing the device would. Invariants: a popped chain lies inside
 * shared memory and its lengths add up; after an error other than -ENOMEM
 * the queue stays broken.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cosim/wire/mem.h"
#include "cosim/wire/vq.h"
#include "tests/fuzz/fuzz.h"

#define REG 0x2000u
#define GPA_B 0x3000u            /* region B; [0x2000, 0x3000) is a hole */
#define UVA_A 0x7f0000100000ull
#define UVA_B 0x7f0000200000ull

static struct vu_mem g_mem;
static uint8_t *g_host[2];
static uint8_t g_buf[1u << 16];

static int fz_region(struct vu_mem_region *r, uint64_t gpa, uint64_t uva)
{
    int fd = memfd_create("fuzz-vq", MFD_CLOEXEC);

    if (fd < 0 || ftruncate(fd, REG) < 0) {
        abort();
    }
    *r = (struct vu_mem_region){ gpa, REG, uva, 0 };
    return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct vu_mem_region r[2];
    int fds[2];

    (void)argc;
    (void)argv;
    fz_quiet_logs();
    fds[0] = fz_region(&r[0], 0, UVA_A);
    fds[1] = fz_region(&r[1], GPA_B, UVA_B);
    vu_mem_init(&g_mem);
    if (vu_mem_set_table(&g_mem, r, fds, 2) < 0) {
        abort();
    }
    g_host[0] = vu_mem_gpa(&g_mem, 0, REG);
    g_host[1] = vu_mem_gpa(&g_mem, GPA_B, REG);
    if (!g_host[0] || !g_host[1]) {
        abort();
    }
    return 0;
}

static uint64_t fz_ring_uva(uint16_t v)
{
    return ((v & 0x8000) ? UVA_B : UVA_A) + (v & 0x3fff);
}

static void fz_take_chain(struct vu_vq *vq, struct vu_chain *ch)
{
    uint64_t rd = 0, wr = 0;

    fz_check(ch->nrd + ch->nwr <= ch->ndesc);
    for (uint32_t i = 0; i < ch->nrd + ch->nwr; i++) {
        fz_check(vu_mem_gpa_check(&g_mem, ch->segs[i].gpa,
                                  ch->segs[i].len) == 0);
        *(i < ch->nrd ? &rd : &wr) += ch->segs[i].len;
    }
    fz_check(rd == ch->rd_len && wr == ch->wr_len);
    if (ch->rd_len <= sizeof(g_buf)) {
        fz_check(vu_chain_read(ch, &g_mem, 0, g_buf, ch->rd_len) == 0);
    }
    fz_check(vu_chain_read(ch, &g_mem, ch->rd_len, g_buf, 1) == -ERANGE);
    if (ch->wr_len <= sizeof(g_buf)) {
        memset(g_buf, 0xa5, ch->wr_len);
        fz_check(vu_chain_write(ch, &g_mem, 0, g_buf, ch->wr_len) == 0);
    }
    fz_check(vu_vq_push(vq, ch->head, (uint32_t)ch->wr_len) == 0);
}

static void fz_step(struct vu_vq *vq, struct vu_chain *ch, uint8_t op,
                    struct fz *script)
{
    int rc;

    switch (op & 3) {
    case 0:
    case 1:
        rc = vu_vq_pop(vq, &g_mem, ch);
        if (rc == 1) {
            fz_take_chain(vq, ch);
            (void)vu_vq_should_notify(vq);
        } else if (rc < 0 && rc != -ENOMEM && rc != -EIO) {
            fz_check(vu_vq_pop(vq, &g_mem, ch) == -EIO);
        }
        break;
    case 2:
        vu_vq_enable_kicks(vq);
        (void)vu_vq_avail_count(vq);
        break;
    case 3: {
        uint16_t at = fz_u16(script);
        uint16_t v = fz_u16(script);

        memcpy(g_host[at >> 15] + (at & (REG - 2)), &v, 2);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size }, script;
    struct vu_vring_addr a = { 0 };
    struct vu_chain ch;
    struct vu_vq vq;
    uint8_t flags = fz_u8(&f);
    uint8_t lognum = fz_u8(&f);
    uint16_t base, slen;

    a.desc = fz_ring_uva(fz_u16(&f));
    a.avail = fz_ring_uva(fz_u16(&f));
    a.used = fz_ring_uva(fz_u16(&f));
    base = fz_u16(&f);
    slen = fz_u16(&f) % 256;
    (void)fz_u16(&f);
    script = (struct fz){ f.p, slen < f.n ? slen : f.n };
    f.p += script.n;
    f.n -= script.n;
    fz_bytes(&f, g_host[0], REG);
    fz_bytes(&f, g_host[1], REG);

    vu_vq_init(&vq);
    vq.event_idx = flags & 1;
    vq.indirect_ok = flags & 2;
    if (vu_vq_set_num(&vq, 1u << (lognum % 10)) < 0) {
        return 0;
    }
    vu_vq_set_addr(&vq, &a);
    vu_vq_set_base(&vq, base);
    if (vu_vq_map(&vq, &g_mem) < 0) {
        return 0;
    }
    vu_chain_init(&ch);
    while (fz_left(&script) > 0) {
        fz_step(&vq, &ch, fz_u8(&script), &script);
    }
    for (int i = 0; i < 8; i++) {
        fz_step(&vq, &ch, 0, &script);
    }
    (void)vu_vq_stop(&vq);
    fz_check(vu_vq_pop(&vq, &g_mem, &ch) == -EIO);
    vu_chain_fini(&ch);
    return 0;
}
