/* SPDX-License-Identifier: MIT */
/*
 * cosim/mem: region tables over a real memfd. The test plays the front-end:
 * it maps the whole file itself and shares pieces of it at file offsets,
 * one of them not page-aligned, with a gap between gpa ranges.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cosim/wire/mem.h"
#include "cosim/wire/memguard.h"
#include "sim/log.h"
#include "sim/rng.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

#define FILE_SIZE 0x100000u

/*
 * R0 and R1 are adjacent in gpa but not in the file nor in uva; R2 sits
 * after a gap, at a file offset that is not a page multiple.
 */
static const struct vu_mem_region layout[3] = {
    { .gpa = 0x00000, .size = 0x40000, .uva = 0x7f0000000000,
      .mmap_offset = 0 },
    { .gpa = 0x40000, .size = 0x40000, .uva = 0x7f1000000000,
      .mmap_offset = 0x80000 },
    { .gpa = 0x100000, .size = 0x10000, .uva = 0x7f2000000000,
      .mmap_offset = 0xc0800 },
};

/* The front-end: one memfd, mapped whole. */
struct fe {
    int fd;
    uint8_t *file;
    struct vu_mem mem;
    int nlog;
};

static void count_sink(int level, const char *subsys, const char *line,
                       void *opaque)
{
    (*(int *)opaque)++;
}

static void fe_open(struct fe *fe)
{
    fe->fd = memfd_create("vusim-test-mem", MFD_CLOEXEC);
    CU_ASSERT_FATAL(fe->fd >= 0);
    CU_ASSERT_FATAL(ftruncate(fe->fd, FILE_SIZE) == 0);
    fe->file = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                    fe->fd, 0);
    CU_ASSERT_FATAL(fe->file != MAP_FAILED);
    vu_mem_init(&fe->mem);
    fe->nlog = 0;
    vusim_log_set_sink(count_sink, &fe->nlog);
}

static void fe_close(struct fe *fe)
{
    vu_mem_fini(&fe->mem);
    munmap(fe->file, FILE_SIZE);
    close(fe->fd);
    vusim_log_set_sink(NULL, NULL);
}

/* The front-end's own view of @gpa under @layout (not through vu_mem). */
static uint8_t *fe_gpa(struct fe *fe, uint64_t gpa)
{
    for (unsigned i = 0; i < 3; i++) {
        const struct vu_mem_region *r = &layout[i];

        if (gpa >= r->gpa && gpa < r->gpa + r->size) {
            return fe->file + r->mmap_offset + (gpa - r->gpa);
        }
    }
    return NULL;
}

static int fe_share(struct fe *fe, const struct vu_mem_region *regs,
                    unsigned n)
{
    int fds[VU_MAX_MEM_SLOTS + 1];

    for (unsigned i = 0; i < n; i++) {
        fds[i] = dup(fe->fd);
    }
    return vu_mem_set_table(&fe->mem, regs, fds, n);
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* ---- tests ------------------------------------------------------------ */

/* Both address kinds translate into the same shared bytes, bounds exact. */
static void test_translate(void)
{
    const struct vu_mem_region shuffled[3] = { layout[2], layout[0],
                                               layout[1] };
    struct fe fe;

    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, shuffled, 3), 0);
    CU_ASSERT_EQUAL(fe.mem.nregions, 3);
    CU_ASSERT_NOT_EQUAL(fe.mem.generation, 0);
    for (unsigned i = 0; i < 3; i++) {
        const struct vu_mem_region *r = &layout[i];
        uint8_t *g, *u;

        CU_ASSERT_EQUAL(fe.mem.maps[i].r.gpa, r->gpa);   /* sorted */
        memcpy(fe_gpa(&fe, r->gpa + 0x10), "mark", 4);
        g = vu_mem_gpa(&fe.mem, r->gpa + 0x10, 4);
        u = vu_mem_uva(&fe.mem, r->uva + 0x10, 4);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        CU_ASSERT_PTR_EQUAL(g, u);
        CU_ASSERT_EQUAL(memcmp(g, "mark", 4), 0);
        g[0] = 'M';                          /* shared, not a copy */
        CU_ASSERT_EQUAL(*fe_gpa(&fe, r->gpa + 0x10), 'M');
        CU_ASSERT_PTR_NOT_NULL(vu_mem_gpa(&fe.mem, r->gpa + r->size - 4, 4));
        CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, r->gpa + r->size - 4, 5));
        CU_ASSERT_PTR_NOT_NULL(vu_mem_uva(&fe.mem, r->uva + r->size - 4, 4));
        CU_ASSERT_PTR_NULL(vu_mem_uva(&fe.mem, r->uva + r->size - 4, 5));
        CU_ASSERT_PTR_NULL(vu_mem_uva(&fe.mem, r->uva - 1, 1));
        CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, r->gpa, UINT64_MAX));
    }
    /* One-region lookups do not span adjacent regions or gaps. */
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, 0x3fffe, 4));
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, 0x80000, 1));
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, 0x110000, 0));
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, UINT64_MAX, 1));
    CU_ASSERT_PTR_NULL(vu_mem_uva(&fe.mem, 0x1000, 1));
    fe_close(&fe);
}

/* A region mapped from an unaligned file offset lands on the right bytes. */
static void test_mmap_offset(void)
{
    const struct vu_mem_region r = { .gpa = 0x8000, .size = 0x2000,
                                     .uva = 0x1000000, .mmap_offset = 0x3000 };
    const struct vu_mem_map *m;
    long page = sysconf(_SC_PAGESIZE);
    struct fe fe;
    uint8_t *p;

    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    fe.file[0xc0800] = 0x5a;
    fe.file[0xc0800 + 0xffff] = 0xa5;
    p = vu_mem_gpa(&fe.mem, 0x100000, 0x10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p[0], 0x5a);
    CU_ASSERT_EQUAL(p[0xffff], 0xa5);
    m = &fe.mem.maps[2];
    CU_ASSERT_EQUAL((uintptr_t)m->map_base % (uintptr_t)page, 0);
    CU_ASSERT_EQUAL(m->host - (uint8_t *)m->map_base, 0x800);
    CU_ASSERT(m->map_len >= 0x800 + 0x10000);

    /* A page-aligned nonzero offset, as the only region. */
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, &r, 1), 0);
    fe.file[0x3000 + 0x1234] = 0x77;
    p = vu_mem_gpa(&fe.mem, 0x8000 + 0x1234, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(*p, 0x77);
    fe_close(&fe);
}

/* A second SET_MEM_TABLE replaces the first instead of adding to it. */
static void test_replace(void)
{
    const struct vu_mem_region r = { .gpa = 0x200000, .size = 0x1000,
                                     .uva = 0x7f3000000000,
                                     .mmap_offset = 0x1000 };
    struct fe fe;
    uint64_t gen;
    int fd;

    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    fd = fe.mem.maps[0].fd;
    gen = fe.mem.generation;
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, &r, 1), 0);
    CU_ASSERT_EQUAL(fe.mem.nregions, 1);
    CU_ASSERT(fe.mem.generation > gen);
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, 0, 1));
    CU_ASSERT_PTR_NULL(vu_mem_uva(&fe.mem, layout[1].uva, 1));
    CU_ASSERT_PTR_NOT_NULL(vu_mem_gpa(&fe.mem, 0x200fff, 1));
    CU_ASSERT_FALSE(fd_is_open(fd));   /* old region's fd released */

    /* An empty table is legal and empties the map. */
    CU_ASSERT_EQUAL(vu_mem_set_table(&fe.mem, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(fe.mem.nregions, 0);
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, 0x200000, 1));
    fe_close(&fe);
}

enum fd_kind { FD_GOOD, FD_SOCKET, FD_PIPE, FD_RDONLY, FD_NONE };

struct bad_table {
    const char *name;
    unsigned n;
    struct vu_mem_region r[2];
    enum fd_kind fd[2];
    int rc;
};

#define R(g, s, u, o) \
    { .gpa = (g), .size = (s), .uva = (u), .mmap_offset = (o) }

/* Clear of the layout above, so only the defect itself is refused. */
#define G 0x200000ull
#define U 0x1000000ull

static const struct bad_table bad_tables[] = {
    { "zero size", 1, { R(G, 0, U, 0) }, { FD_GOOD }, -EINVAL },
    { "gpa overlap", 2, { R(G, 0x2000, U, 0), R(G + 0x1000, 0x2000, 2 * U, 0) },
      { FD_GOOD, FD_GOOD }, -EINVAL },
    { "uva overlap", 2, { R(G, 0x2000, U, 0), R(2 * G, 0x2000, U + 0x1000, 0) },
      { FD_GOOD, FD_GOOD }, -EINVAL },
    { "identical regions", 2, { R(G, 0x2000, U, 0), R(G, 0x2000, U, 0) },
      { FD_GOOD, FD_GOOD }, -EINVAL },
    { "gpa wraps", 1, { R(UINT64_MAX - 0xfff, 0x2000, U, 0) }, { FD_GOOD },
      -EINVAL },
    { "uva wraps", 1, { R(G, 0x2000, UINT64_MAX - 0xfff, 0) }, { FD_GOOD },
      -EINVAL },
    { "offset wraps", 1, { R(G, 0x2000, U, UINT64_MAX - 0x10) }, { FD_GOOD },
      -EINVAL },
    { "past end of file", 1, { R(G, 0x2000, U, FILE_SIZE - 0x1000) },
      { FD_GOOD }, -EINVAL },
    { "socket fd", 1, { R(G, 0x2000, U, 0) }, { FD_SOCKET }, -ENODEV },
    { "pipe fd", 1, { R(G, 0x2000, U, 0) }, { FD_PIPE }, -EACCES },
    { "read-only fd", 1, { R(G, 0x2000, U, 0) }, { FD_RDONLY }, -EACCES },
    { "no fd", 1, { R(G, 0x2000, U, 0) }, { FD_NONE }, -EBADF },
    { "second region bad", 2,
      { R(G, 0x2000, U, 0), R(2 * G, 0x2000, 2 * U, 0) },
      { FD_GOOD, FD_SOCKET }, -ENODEV },
};

static int make_fd(struct fe *fe, enum fd_kind k)
{
    char path[64];
    int p[2];

    switch (k) {
    case FD_GOOD:
        return dup(fe->fd);
    case FD_SOCKET:
        CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
        close(p[1]);
        return p[0];
    case FD_PIPE:
        CU_ASSERT_FATAL(pipe(p) == 0);
        close(p[1]);
        return p[0];
    case FD_RDONLY:
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fe->fd);
        return open(path, O_RDONLY | O_CLOEXEC);
    case FD_NONE:
        break;
    }
    return -1;
}

/* Every refused table leaves the old one working and closes its own fds. */
static void test_bad_table_keeps_old(void)
{
    for (size_t i = 0; i < sizeof(bad_tables) / sizeof(bad_tables[0]); i++) {
        const struct bad_table *c = &bad_tables[i];
        struct fe fe;
        int fds[2];
        uint64_t gen;
        uint8_t b = 0;

        fe_open(&fe);
        CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
        gen = fe.mem.generation;
        for (unsigned j = 0; j < c->n; j++) {
            fds[j] = make_fd(&fe, c->fd[j]);
        }
        VU_ASSERT_MSG(vu_mem_set_table(&fe.mem, c->r, fds, c->n) == c->rc,
                      c->name);
        VU_ASSERT_MSG(fe.mem.generation == gen, c->name);
        VU_ASSERT_MSG(fe.mem.nregions == 3, c->name);
        for (unsigned j = 0; j < c->n; j++) {
            VU_ASSERT_MSG(fds[j] < 0 || !fd_is_open(fds[j]), c->name);
        }
        fe.file[0x80000 + 0x20] = 0x42;    /* R1, old table */
        VU_ASSERT_MSG(vu_mem_read(&fe.mem, 0x40020, &b, 1) == 0 && b == 0x42,
                      c->name);
        VU_ASSERT_MSG(vu_mem_uva(&fe.mem, layout[2].uva, 1) != NULL, c->name);

        /* The same region refused by ADD_MEM_REG, too. */
        if (c->n == 1) {
            int fd = make_fd(&fe, c->fd[0]);

            VU_ASSERT_MSG(vu_mem_add(&fe.mem, &c->r[0], fd) == c->rc,
                          c->name);
            VU_ASSERT_MSG(fe.mem.nregions == 3, c->name);
            VU_ASSERT_MSG(fd < 0 || !fd_is_open(fd), c->name);
        }
        fe_close(&fe);
    }
}

/* VU_MAX_MEM_SLOTS regions fit; one more does not, in either message. */
static void test_too_many(void)
{
    struct vu_mem_region r[VU_MAX_MEM_SLOTS + 1];
    int fds[VU_MAX_MEM_SLOTS + 1];
    struct fe fe;

    for (unsigned i = 0; i <= VU_MAX_MEM_SLOTS; i++) {
        r[i] = (struct vu_mem_region)R(0x10000 * i, 0x1000,
                                       0x1000000 + 0x10000 * i, 0x1000 * i);
    }
    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    for (unsigned i = 0; i <= VU_MAX_MEM_SLOTS; i++) {
        fds[i] = dup(fe.fd);
    }
    CU_ASSERT_EQUAL(vu_mem_set_table(&fe.mem, r, fds, VU_MAX_MEM_SLOTS + 1),
                    -EINVAL);
    CU_ASSERT_EQUAL(fe.mem.nregions, 3);
    for (unsigned i = 0; i <= VU_MAX_MEM_SLOTS; i++) {
        CU_ASSERT_FALSE(fd_is_open(fds[i]));
    }
    CU_ASSERT_EQUAL(fe_share(&fe, r, VU_MAX_MEM_SLOTS), 0);
    CU_ASSERT_EQUAL(fe.mem.nregions, VU_MAX_MEM_SLOTS);
    fds[0] = dup(fe.fd);
    CU_ASSERT_EQUAL(vu_mem_add(&fe.mem, &r[VU_MAX_MEM_SLOTS], fds[0]),
                    -EINVAL);
    CU_ASSERT_FALSE(fd_is_open(fds[0]));
    CU_ASSERT_EQUAL(fe.mem.nregions, VU_MAX_MEM_SLOTS);
    fe_close(&fe);
}

/* ADD_MEM_REG keeps the table sorted; REM_MEM_REG matches gpa+size+uva. */
static void test_add_remove(void)
{
    struct vu_mem_region r;
    struct iovec iov[2];
    struct fe fe;
    uint64_t gen;
    int fd;

    fe_open(&fe);
    CU_ASSERT_EQUAL(vu_mem_add(&fe.mem, &layout[1], dup(fe.fd)), 0);
    CU_ASSERT_EQUAL(vu_mem_add(&fe.mem, &layout[2], dup(fe.fd)), 0);
    gen = fe.mem.generation;
    CU_ASSERT_EQUAL(vu_mem_add(&fe.mem, &layout[0], dup(fe.fd)), 0);
    CU_ASSERT(fe.mem.generation > gen);
    CU_ASSERT_EQUAL_FATAL(fe.mem.nregions, 3);
    for (unsigned i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(fe.mem.maps[i].r.gpa, layout[i].gpa);
    }
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0x3fff0, 0x20, iov, 2), 2);

    r = layout[0];
    r.gpa = 0x3f000;                         /* overlaps R0 and R1 */
    r.uva = 0x6000000;
    CU_ASSERT_EQUAL(vu_mem_add(&fe.mem, &r, dup(fe.fd)), -EINVAL);
    CU_ASSERT_EQUAL(fe.mem.nregions, 3);

    r = layout[0];
    r.size -= 0x1000;
    CU_ASSERT_EQUAL(vu_mem_remove(&fe.mem, &r), -ENOENT);
    r = layout[0];
    r.uva += 0x1000;
    CU_ASSERT_EQUAL(vu_mem_remove(&fe.mem, &r), -ENOENT);
    r = layout[0];
    r.mmap_offset = 0x12345;                 /* ignored, as the spec says */
    fd = fe.mem.maps[0].fd;
    gen = fe.mem.generation;
    CU_ASSERT_EQUAL(vu_mem_remove(&fe.mem, &r), 0);
    CU_ASSERT(fe.mem.generation > gen);
    CU_ASSERT_FALSE(fd_is_open(fd));
    CU_ASSERT_EQUAL(fe.mem.nregions, 2);
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, 0x10, 1));
    CU_ASSERT_PTR_NOT_NULL(vu_mem_gpa(&fe.mem, 0x40010, 1));
    CU_ASSERT_PTR_NOT_NULL(vu_mem_gpa(&fe.mem, 0x100010, 1));
    CU_ASSERT_EQUAL(vu_mem_remove(&fe.mem, &r), -ENOENT);
    fe_close(&fe);
}

/* A range over adjacent regions becomes one iovec per region. */
static void test_gpa_iov(void)
{
    struct iovec iov[4];
    struct fe fe;

    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    CU_ASSERT_EQUAL_FATAL(vu_mem_gpa_iov(&fe.mem, 0x3fff0, 0x20, iov, 4), 2);
    CU_ASSERT_PTR_EQUAL(iov[0].iov_base, vu_mem_gpa(&fe.mem, 0x3fff0, 0x10));
    CU_ASSERT_EQUAL(iov[0].iov_len, 0x10);
    CU_ASSERT_PTR_EQUAL(iov[1].iov_base, vu_mem_gpa(&fe.mem, 0x40000, 0x10));
    CU_ASSERT_EQUAL(iov[1].iov_len, 0x10);
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0, 0x80000, iov, 4), 2);
    CU_ASSERT_EQUAL(iov[1].iov_len, 0x40000);
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0x100, 0x10, iov, 4), 1);
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0x100, 0, iov, 4), 0);
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0x3fff0, 0x20, iov, 1), -ENOSPC);
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0x7fff0, 0x20, iov, 4), -ERANGE);
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0x90000, 1, iov, 4), -ERANGE);
    CU_ASSERT_EQUAL(vu_mem_gpa_iov(&fe.mem, 0x100000, UINT64_MAX, iov, 4),
                    -ERANGE);

    CU_ASSERT_EQUAL(vu_mem_gpa_check(&fe.mem, 0x3fff0, 0x20), 0);
    CU_ASSERT_EQUAL(vu_mem_gpa_check(&fe.mem, 0, 0x80000), 0);
    CU_ASSERT_EQUAL(vu_mem_gpa_check(&fe.mem, 0, 0x80001), -ERANGE);
    CU_ASSERT_EQUAL(vu_mem_gpa_check(&fe.mem, 0x10fff0, 0x20), -ERANGE);
    CU_ASSERT_EQUAL(vu_mem_gpa_check(&fe.mem, UINT64_MAX - 4, 16), -ERANGE);
    fe_close(&fe);
}

/* Copies split at region boundaries and are all-or-nothing. */
static void test_read_write_across(void)
{
    uint8_t pat[64], got[64], before[16];
    struct fe fe;

    for (unsigned i = 0; i < sizeof(pat); i++) {
        pat[i] = (uint8_t)(i * 7 + 1);
    }
    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    CU_ASSERT_EQUAL(vu_mem_write(&fe.mem, 0x3ffe0, pat, sizeof(pat)), 0);
    CU_ASSERT_EQUAL(memcmp(fe.file + 0x3ffe0, pat, 32), 0);
    CU_ASSERT_EQUAL(memcmp(fe.file + 0x80000, pat + 32, 32), 0);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x3ffe0, got, sizeof(got)), 0);
    CU_ASSERT_EQUAL(memcmp(got, pat, sizeof(pat)), 0);

    /* R1 ends at 0x80000, then a gap: nothing moves. */
    memset(got, 0xaa, sizeof(got));
    memcpy(before, fe.file + 0xbfff0, 16);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x7fff0, got, 0x20), -ERANGE);
    CU_ASSERT_EQUAL(got[0], 0xaa);
    CU_ASSERT_EQUAL(vu_mem_write(&fe.mem, 0x7fff0, pat, 0x20), -ERANGE);
    CU_ASSERT_EQUAL(memcmp(fe.file + 0xbfff0, before, 16), 0);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x90000, got, 1), -ERANGE);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x110000, got, 1), -ERANGE);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, UINT64_MAX, got, 2), -ERANGE);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x10ffff, got, 1), 0);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x90000, got, 0), 0);
    fe_close(&fe);
}

/* Random ranges against the front-end's own view of the layout. */
static void test_random_ranges(void)
{
    const uint64_t seed = 0x6d656d;
    struct vusim_rng rng;
    uint8_t got[0x300];
    struct fe fe;
    int bad = 0;

    vusim_rng_seed(&rng, seed);
    fe_open(&fe);
    vusim_rng_fill(&rng, fe.file, FILE_SIZE);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    for (int it = 0; it < 2000 && !bad; it++) {
        uint64_t gpa = vusim_rng_below(&rng, 0x120000);
        size_t len = (size_t)vusim_rng_below(&rng, sizeof(got));
        int expect = 0, rc;

        for (size_t k = 0; k < len; k++) {
            expect |= fe_gpa(&fe, gpa + k) == NULL;
        }
        rc = vu_mem_read(&fe.mem, gpa, got, len);
        bad |= rc != (expect ? -ERANGE : 0);
        for (size_t k = 0; rc == 0 && k < len; k++) {
            bad |= got[k] != *fe_gpa(&fe, gpa + k);
        }
        bad |= (vu_mem_gpa_check(&fe.mem, gpa, len) == 0) != (rc == 0);
    }
    if (bad) {
        fprintf(stderr, "test_random_ranges: seed 0x%llx\n",
                (unsigned long long)seed);
    }
    CU_ASSERT_FALSE(bad);
    fe_close(&fe);
}

/* fini unmaps and closes, and no earlier generation comes back. */
static void test_fini(void)
{
    struct fe fe;
    uint64_t gen;
    int fd;

    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    fd = fe.mem.maps[1].fd;
    gen = fe.mem.generation;
    vu_mem_fini(&fe.mem);
    CU_ASSERT_FALSE(fd_is_open(fd));
    CU_ASSERT_EQUAL(fe.mem.nregions, 0);
    CU_ASSERT(fe.mem.generation > gen);
    CU_ASSERT_PTR_NULL(vu_mem_gpa(&fe.mem, 0, 1));
    CU_ASSERT_EQUAL(fe.nlog, 0);
    fe_close(&fe);
}

/* A front-end that shrinks the file under regions vusim mapped: with the
 * guard, the touch of a page past the new end lands on a private zero
 * page instead of ending the process, only the shrunk regions say broken,
 * and a SIGBUS outside every guarded range still ends the process. */
static void test_shrunk_under_mapping(void)
{
    static const uint8_t pat[16] = "vusim-memguard!";
    uint8_t buf[16];
    struct fe fe;
    pid_t pid;
    int st = 0;

    CU_ASSERT_EQUAL_FATAL(vu_memguard_install(), 0);
    fe_open(&fe);
    CU_ASSERT_EQUAL_FATAL(fe_share(&fe, layout, 3), 0);
    fe.file[0xc0800] = 0x5a;
    CU_ASSERT_EQUAL(vu_mem_write(&fe.mem, 0x40000, pat, sizeof(pat)), 0);
    CU_ASSERT_FALSE(vu_mem_broken(&fe.mem));
    /* Regions 1 and 2 lie past the new end; region 0 does not. */
    CU_ASSERT_FATAL(ftruncate(fe.fd, 0x80000) == 0);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x100000, buf, 1), 0);
    CU_ASSERT_EQUAL(buf[0], 0);                  /* a zero page now */
    CU_ASSERT_EQUAL(vu_mem_write(&fe.mem, 0x40000, pat, sizeof(pat)), 0);
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x40000, buf, sizeof(buf)), 0);
    CU_ASSERT_EQUAL(memcmp(buf, pat, sizeof(pat)), 0);
    CU_ASSERT_TRUE(vu_mem_broken(&fe.mem));
    CU_ASSERT_FALSE(vu_memguard_broken(fe.mem.maps[0].guard));
    CU_ASSERT_TRUE(vu_memguard_broken(fe.mem.maps[1].guard));
    CU_ASSERT_TRUE(vu_memguard_broken(fe.mem.maps[2].guard));
    CU_ASSERT_EQUAL(vu_mem_read(&fe.mem, 0x3fff0, buf, sizeof(buf)), 0);
    vu_mem_fini(&fe.mem);
    CU_ASSERT_FALSE(vu_mem_broken(&fe.mem));

    /* Not a guarded range: the fault is not swallowed. */
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        volatile uint8_t *p = fe.file + 0x90000;   /* past the end */

        (void)*p;
        _exit(0);
    }
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fe_close(&fe);
}

CU_TestInfo mem_tests[] = {
    { "shrunk_under_mapping", test_shrunk_under_mapping },
    { "translate", test_translate },
    { "mmap_offset", test_mmap_offset },
    { "replace", test_replace },
    { "bad_table_keeps_old", test_bad_table_keeps_old },
    { "too_many", test_too_many },
    { "add_remove", test_add_remove },
    { "gpa_iov", test_gpa_iov },
    { "read_write_across", test_read_write_across },
    { "random_ranges", test_random_ranges },
    { "fini", test_fini },
    CU_TEST_INFO_NULL,
};
