/* SPDX-License-Identifier: MIT */
/* devices/blk/blk.c through a fake host: data paths on RAM and on a file, bad
 * requests, config space, features, options and the exact timing model. */
#define _GNU_SOURCE
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/blk/blk.h"
#include "devices/rng/rng.h"
#include "sim/log.h"
#include "sim/rng.h"
#include "tests/cu_run.h"
#include "tests/unit/devices/fakehost.h"
#include "tests/unit/suites.h"

#define SS DEV_BLK_SECTOR_SIZE
#define MAX_ARGS 12

struct fx {
    struct sim_cal *cal;
    struct dev *dev;
    struct fakehost *fh;
    char path[64];              /* temp backing file, "" if none */
    char err[256];
    int rc;
};

/* Create a device; f->rc holds create()'s result. */
static int fx_init_ops(struct fx *f, const struct dev_ops *ops,
                       const char *const *args)
{
    memset(f, 0, sizeof(*f));
    f->cal = sim_cal_new();
    CU_ASSERT_FATAL(f->cal != NULL);
    f->rc = fakehost_create_dev(ops, f->cal, args, &f->dev, f->err,
                                sizeof(f->err));
    if (f->rc == 0) {
        f->fh = fakehost_new(f->dev);
        CU_ASSERT_FATAL(f->fh != NULL);
    }
    return f->rc;
}

static int fx_init(struct fx *f, const char *const *args)
{
    return fx_init_ops(f, &dev_blk_ops, args);
}

static void fx_fini(struct fx *f)
{
    if (f->fh) {
        CU_ASSERT_EQUAL(fakehost_violations(f->fh), 0);
        fakehost_free(f->fh);
    }
    if (f->dev) {
        f->dev->ops->destroy(f->dev);
    }
    sim_cal_free(f->cal);
    if (f->path[0]) {
        unlink(f->path);
    }
}

/* A temp file of @size bytes holding @fill, its path in f->path. */
static void make_file(char *path, size_t len, off_t size, uint8_t fill)
{
    uint8_t buf[4096];
    int fd;

    snprintf(path, len, "/tmp/vusim-blk-XXXXXX");
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    memset(buf, fill, sizeof(buf));
    for (off_t off = 0; off < size; off += (off_t)sizeof(buf)) {
        size_t n = size - off < (off_t)sizeof(buf) ? (size_t)(size - off)
                                                    : sizeof(buf);
        CU_ASSERT_FATAL(pwrite(fd, buf, n, off) == (ssize_t)n);
    }
    close(fd);
}

/* A file-backed device: "backing=PATH" is prepended to @args. */
static int fx_init_file(struct fx *f, off_t size, uint8_t fill,
                        const char *const *args)
{
    char path[64], opt[80];
    const char *all[MAX_ARGS] = { opt };
    size_t i = 0;

    make_file(path, sizeof(path), size, fill);
    snprintf(opt, sizeof(opt), "backing=%s", path);
    for (; args && args[i]; i++) {
        all[i + 1] = args[i];
    }
    all[i + 1] = NULL;
    fx_init(f, all);
    snprintf(f->path, sizeof(f->path), "%s", path);
    return f->rc;
}

/* ---- request builders ------------------------------------------------ */

static void put_hdr(uint8_t *p, uint32_t type, uint64_t sector)
{
    struct dev_blk_req_hdr h = {
        .type = htole32(type), .reserved = 0, .sector = htole64(sector),
    };
    memcpy(p, &h, sizeof(h));
}

/* Header + @extra readable bytes; @wr_len writable. */
static int add_req(struct fx *f, uint16_t q, uint32_t type, uint64_t sector,
                   const void *extra, uint32_t extra_len, uint32_t wr_len)
{
    uint8_t *rd = malloc(16 + extra_len);
    int id;

    put_hdr(rd, type, sector);
    if (extra_len) {
        memcpy(rd + 16, extra, extra_len);
    }
    id = fakehost_add(f->fh, q, rd, 16 + extra_len, wr_len);
    free(rd);
    CU_ASSERT_FATAL(id >= 0);
    return id;
}

static int add_in(struct fx *f, uint64_t sector, uint32_t nsec)
{
    return add_req(f, 0, DEV_BLK_T_IN, sector, NULL, 0, nsec * SS + 1);
}

static int add_out(struct fx *f, uint64_t sector, const void *data,
                   uint32_t len)
{
    return add_req(f, 0, DEV_BLK_T_OUT, sector, data, len, 1);
}

static int add_dwz(struct fx *f, uint32_t type,
                   const struct dev_blk_dwz_seg *segs, uint32_t n)
{
    struct dev_blk_dwz_seg le[32];

    for (uint32_t i = 0; i < n; i++) {
        le[i].sector = htole64(segs[i].sector);
        le[i].num_sectors = htole32(segs[i].num_sectors);
        le[i].flags = htole32(segs[i].flags);
    }
    return add_req(f, 0, type, 0, le, n * sizeof(le[0]), 1);
}

static struct fakehost_req *R(struct fx *f, int id)
{
    struct fakehost_req *r = fakehost_get(f->fh, id);

    CU_ASSERT_FATAL(r != NULL);
    return r;
}

static uint8_t status_of(struct fx *f, int id)
{
    struct fakehost_req *r = R(f, id);

    return r->req.wr_len ? r->wr[r->req.wr_len - 1] : 0xee;
}

static void run(struct fx *f, uint16_t q)
{
    fakehost_kick(f->fh, q);
    sim_cal_run_all(f->cal);
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
    }
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static int log_lines;

static void count_sink(int level, const char *subsys, const char *line,
                       void *opaque)
{
    (void)level; (void)subsys; (void)line; (void)opaque;
    log_lines++;
}

static void quiet_logs(void)
{
    log_lines = 0;
    vusim_log_set_sink(count_sink, NULL);
}

static void restore_logs(void)
{
    vusim_log_set_sink(NULL, NULL);
}

/* ---- registry and options --------------------------------------------- */

static void test_registry_lookup(void)
{
    CU_ASSERT_PTR_EQUAL(dev_lookup("blk"), &dev_blk_ops);
    CU_ASSERT_PTR_EQUAL(dev_lookup("rng"), &dev_rng_ops);
    CU_ASSERT_PTR_NULL(dev_lookup("net"));
    CU_ASSERT_PTR_NULL(dev_lookup(""));
    CU_ASSERT_PTR_NULL(dev_lookup(NULL));
    /* A device the build has no model of reads as its virtio type's. */
    CU_ASSERT_PTR_EQUAL(dev_lookup_like("blk", 2), &dev_blk_ops);
    CU_ASSERT_PTR_EQUAL(dev_lookup_like("sc-ssd", 2), &dev_blk_ops);
    CU_ASSERT_PTR_EQUAL(dev_lookup_like("rng", 4), &dev_rng_ops);
    CU_ASSERT_PTR_EQUAL(dev_lookup_like("sc-rng", 4), &dev_rng_ops);
    CU_ASSERT_PTR_NULL(dev_lookup_like("net", 1));
    CU_ASSERT_PTR_EQUAL(dev_lookup_like("blk", 1), &dev_blk_ops);
    CU_ASSERT_EQUAL(*dev_blk_ops.fail_status, DEV_BLK_S_IOERR);
    CU_ASSERT_PTR_NULL(dev_rng_ops.fail_status);
    CU_ASSERT_PTR_EQUAL(dev_registry[0], &dev_blk_ops);
    CU_ASSERT_PTR_EQUAL(dev_registry[1], &dev_rng_ops);
    CU_ASSERT_PTR_NULL(dev_registry[2]);
    CU_ASSERT_EQUAL(dev_blk_ops.virtio_id, 2);
    CU_ASSERT_EQUAL(dev_rng_ops.virtio_id, 4);
    for (size_t i = 0; dev_registry[i]; i++) {
        const struct dev_ops *o = dev_registry[i];
        CU_ASSERT(o->create && o->destroy && o->avail && o->cancel);
        CU_ASSERT((o->get_config == NULL) == (o->set_config == NULL));
        CU_ASSERT_PTR_NOT_NULL(o->opts);
    }
}

static const struct {
    const char *val;
    uint64_t min, max;
    int rc;
    uint64_t want;
} bytes_cases[] = {
    { "0", 0, UINT64_MAX, 0, 0 },
    { "512", 0, UINT64_MAX, 0, 512 },
    { "4K", 0, UINT64_MAX, 0, 4096 },
    { "4k", 0, UINT64_MAX, 0, 4096 },
    { "64M", 0, UINT64_MAX, 0, 64ull << 20 },
    { "3G", 0, UINT64_MAX, 0, 3ull << 30 },
    { "2t", 0, UINT64_MAX, 0, 2ull << 40 },
    { "0x200", 0, UINT64_MAX, 0, 512 },
    { "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
    { "18446744073709551616", 0, UINT64_MAX, -EINVAL, 0 },
    { "16777216T", 0, UINT64_MAX, -EINVAL, 0 },      /* 2^64 */
    { "16777215T", 0, UINT64_MAX, 0, 16777215ull << 40 },
    { "1.5M", 0, UINT64_MAX, -EINVAL, 0 },
    { "1MB", 0, UINT64_MAX, -EINVAL, 0 },
    { "1P", 0, UINT64_MAX, -EINVAL, 0 },
    { "-1", 0, UINT64_MAX, -EINVAL, 0 },
    { " 1", 0, UINT64_MAX, -EINVAL, 0 },
    { "", 0, UINT64_MAX, -EINVAL, 0 },
    { "K", 0, UINT64_MAX, -EINVAL, 0 },
    { "0x", 0, UINT64_MAX, -EINVAL, 0 },
    { "1K", 2000, 3000, -EINVAL, 0 },
    { "2K", 2000, 3000, 0, 2048 },
};

static void test_opt_bytes_table(void)
{
    for (size_t i = 0; i < sizeof(bytes_cases) / sizeof(bytes_cases[0]);
         i++) {
        struct dev_opt o = { "size", bytes_cases[i].val };
        char err[200] = "";
        uint64_t v = 12345;
        int rc = dev_opt_bytes(&o, bytes_cases[i].min, bytes_cases[i].max,
                               &v, err, sizeof(err));
        VU_ASSERT_MSG(rc == bytes_cases[i].rc, bytes_cases[i].val);
        if (rc == 0) {
            VU_ASSERT_MSG(v == bytes_cases[i].want, bytes_cases[i].val);
        } else {
            VU_ASSERT_MSG(v == 12345, bytes_cases[i].val);
            VU_ASSERT_MSG(strstr(err, "--size=") != NULL, bytes_cases[i].val);
        }
    }
}

static const struct {
    const char *args[4];
    const char *needle[3];      /* each must appear in the error line */
} bad_opts[] = {
    { { "size=0" }, { "--size=0", "512" } },
    { { "size=1000" }, { "--size=1000", "multiple of 512" } },
    { { "size=12X" }, { "--size=12X", "byte count" } },
    { { "size=-1" }, { "--size=-1" } },
    { { "size=" }, { "--size", "needs a value", "SIZE" } },
    { { "size" }, { "--size", "needs a value" } },
    { { "size=99999999999T" }, { "--size=99999999999T" } },
    { { "num-queues=0" }, { "--num-queues=0", "from 1 to 64" } },
    { { "num-queues=65" }, { "--num-queues=65", "from 1 to 64" } },
    { { "num-queues=two" }, { "--num-queues=two", "integer" } },
    { { "channels=0" }, { "--channels=0", "from 1 to 1024" } },
    { { "channels=1025" }, { "--channels=1025", "1024" } },
    { { "latency=5" }, { "--latency=5", "duration", "missing unit" } },
    { { "latency=1.5fs" }, { "--latency=1.5fs", "unknown unit" } },
    { { "latency=0.1ps" }, { "--latency=0.1ps", "finer than 1ps" } },
    { { "latency=soon" }, { "--latency=soon", "duration" } },
    { { "bandwidth=1Q" }, { "--bandwidth=1Q", "byte count" } },
    { { "bandwidth=-5" }, { "--bandwidth=-5" } },
    { { "serial=123456789012345678901" },
      { "--serial=123456789012345678901", "at most 20 bytes" } },
    { { "read-only=yes" }, { "--read-only=yes", "flag", "no value" } },
    { { "frobnicate=1" }, { "--frobnicate", "unknown option", "latency" } },
    { { "backing=/nonexistent/vusim" },
      { "--backing=/nonexistent/vusim", "cannot open" } },
    { { "backing=/dev/null" }, { "--backing=/dev/null", "512 bytes" } },
    { { "backing=/tmp" }, { "--backing=/tmp" } },
    { { "backing=/etc/hostname", "size=1M" },
      { "--size", "not allowed with --backing=/etc/hostname" } },
    { { "size=1M", "latency=1us", "size=2M" },
      { "--size", "more than once" } },
};

static void test_options_bad(void)
{
    for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
        struct fx f;
        const char *name = bad_opts[i].args[0];

        fx_init(&f, bad_opts[i].args);
        VU_ASSERT_MSG(f.rc == -EINVAL, name);
        VU_ASSERT_MSG(f.dev == NULL, name);
        for (int k = 0; k < 3 && bad_opts[i].needle[k]; k++) {
            VU_ASSERT_MSG(strstr(f.err, bad_opts[i].needle[k]) != NULL,
                          name);
        }
        VU_ASSERT_MSG(strchr(f.err, '\n') == NULL, name);
        fx_fini(&f);
    }
}

static uint64_t cfg_le(struct fx *f, uint32_t off, uint32_t len)
{
    uint8_t b[8] = { 0 };
    uint64_t v = 0;

    CU_ASSERT_EQUAL(f->dev->ops->get_config(f->dev, off, b, len), 0);
    for (uint32_t i = 0; i < len; i++) {
        v |= (uint64_t)b[i] << (8 * i);
    }
    return v;
}

static void test_options_good(void)
{
    static const struct {
        const char *args[5];
        uint64_t capacity;
    } cases[] = {
        { { NULL }, (64ull << 20) / 512 },
        { { "size=512" }, 1 },
        { { "size=4K" }, 8 },
        { { "size=0x100000" }, 2048 },
        { { "size=3m", "latency=0", "bandwidth=0" }, 3 * 2048 },
        { { "size=1M", "latency=1.5us", "bandwidth=10M", "channels=8" },
          2048 },
        { { "size=1M", "serial=abcdefghijklmnopqrst", "read-only" }, 2048 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;
        const char *name = cases[i].args[0] ? cases[i].args[0] : "default";

        fx_init(&f, cases[i].args);
        VU_ASSERT_MSG(f.rc == 0, name);
        if (f.rc == 0) {
            VU_ASSERT_MSG(cfg_le(&f, 0, 8) == cases[i].capacity, name);
        }
        fx_fini(&f);
    }
}

/* ---- config space and features ---------------------------------------- */

static void test_config_space(void)
{
    const char *args[] = { "size=1M", "num-queues=4", NULL };
    struct fx f;
    uint8_t all[60], part[4];

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    CU_ASSERT_EQUAL(f.dev->config_size, 60);
    CU_ASSERT_EQUAL(f.dev->num_queues, 4);
    CU_ASSERT_EQUAL(f.dev->queue_size_max, 1024);
    CU_ASSERT_EQUAL(cfg_le(&f, 0, 8), 2048);        /* capacity */
    CU_ASSERT_EQUAL(cfg_le(&f, 8, 4), 0);           /* size_max */
    CU_ASSERT_EQUAL(cfg_le(&f, 12, 4), 126);        /* seg_max */
    CU_ASSERT_EQUAL(cfg_le(&f, 16, 4), 0);          /* geometry */
    CU_ASSERT_EQUAL(cfg_le(&f, 20, 4), 512);        /* blk_size */
    CU_ASSERT_EQUAL(cfg_le(&f, 24, 8), 0);          /* topology */
    CU_ASSERT_EQUAL(cfg_le(&f, 32, 1), 1);          /* writeback */
    CU_ASSERT_EQUAL(cfg_le(&f, 34, 2), 4);          /* num_queues */
    CU_ASSERT_EQUAL(cfg_le(&f, 36, 4), DEV_BLK_DWZ_MAX_SECTORS);
    CU_ASSERT_EQUAL(cfg_le(&f, 40, 4), 16);         /* max_discard_seg */
    CU_ASSERT_EQUAL(cfg_le(&f, 44, 4), 1);          /* alignment */
    CU_ASSERT_EQUAL(cfg_le(&f, 48, 4), DEV_BLK_DWZ_MAX_SECTORS);
    CU_ASSERT_EQUAL(cfg_le(&f, 52, 4), 16);         /* max_wz_seg */
    CU_ASSERT_EQUAL(cfg_le(&f, 56, 1), 1);          /* may_unmap */
    CU_ASSERT_EQUAL(cfg_le(&f, 57, 3), 0);          /* unused1 */
    /* A whole read equals the pieces; reads past the end are refused. */
    CU_ASSERT_EQUAL(f.dev->ops->get_config(f.dev, 0, all, 60), 0);
    CU_ASSERT_EQUAL(all[0], 0x00);
    CU_ASSERT_EQUAL(all[1], 0x08);
    CU_ASSERT_EQUAL(all[12], 126);
    CU_ASSERT_EQUAL(f.dev->ops->get_config(f.dev, 58, part, 4), -EINVAL);
    CU_ASSERT_EQUAL(f.dev->ops->set_config(f.dev, 32, part, 1), -EINVAL);
    CU_ASSERT_EQUAL(cfg_le(&f, 32, 1), 1);
    fx_fini(&f);
}

#define FB(bit) (1ull << (bit))
#define BASE_FEATURES                                                        \
    (FB(DEV_BLK_F_SEG_MAX) | FB(DEV_BLK_F_BLK_SIZE) | FB(DEV_BLK_F_FLUSH) |  \
     FB(DEV_BLK_F_DISCARD) | FB(DEV_BLK_F_WRITE_ZEROES))

static void test_features(void)
{
    static const struct {
        const char *args[4];
        uint64_t features;
        uint16_t nq;
    } cases[] = {
        { { "size=1M" }, BASE_FEATURES, 1 },
        { { "size=1M", "read-only" }, BASE_FEATURES | FB(DEV_BLK_F_RO), 1 },
        { { "size=1M", "num-queues=1" }, BASE_FEATURES, 1 },
        { { "size=1M", "num-queues=2" }, BASE_FEATURES | FB(DEV_BLK_F_MQ),
          2 },
        { { "size=1M", "num-queues=64", "read-only" },
          BASE_FEATURES | FB(DEV_BLK_F_MQ) | FB(DEV_BLK_F_RO), 64 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;

        fx_init(&f, cases[i].args);
        VU_ASSERT_MSG(f.rc == 0, cases[i].args[1]);
        if (f.rc == 0) {
            VU_ASSERT_MSG(f.dev->features == cases[i].features,
                          cases[i].args[1]);
            VU_ASSERT_MSG(f.dev->num_queues == cases[i].nq, cases[i].args[1]);
            VU_ASSERT_MSG(cfg_le(&f, 34, 2) == cases[i].nq, cases[i].args[1]);
        }
        fx_fini(&f);
    }
}

/* ---- data paths ------------------------------------------------------- */

/* Write 3 sectors at 5, read 5 sectors at 4 back: zeros around the data. */
static void check_rw(struct fx *f)
{
    uint8_t data[3 * SS];
    int w, r;

    pattern(data, sizeof(data), 1);
    w = add_out(f, 5, data, sizeof(data));
    run(f, 0);
    CU_ASSERT_TRUE(R(f, w)->completed);
    CU_ASSERT_EQUAL(status_of(f, w), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(R(f, w)->used_len, 1);
    r = add_in(f, 4, 5);
    run(f, 0);
    CU_ASSERT_EQUAL(status_of(f, r), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(R(f, r)->used_len, 5 * SS + 1);
    CU_ASSERT_TRUE(all_zero(R(f, r)->wr, SS));
    CU_ASSERT_EQUAL(memcmp(R(f, r)->wr + SS, data, sizeof(data)), 0);
    CU_ASSERT_TRUE(all_zero(R(f, r)->wr + 4 * SS, SS));
}

static void test_rw_ram(void)
{
    const char *args[] = { "size=1M", NULL };
    struct fx f;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    check_rw(&f);
    fx_fini(&f);
}

static void test_rw_file(void)
{
    uint8_t back[3 * SS], want[3 * SS];
    struct fx f;
    int fd;

    fx_init_file(&f, 1 << 20, 0, NULL);
    CU_ASSERT_FATAL(f.rc == 0);
    CU_ASSERT_EQUAL(cfg_le(&f, 0, 8), 2048);
    check_rw(&f);
    /* Completed data is in the file. */
    pattern(want, sizeof(want), 1);
    fd = open(f.path, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pread(fd, back, sizeof(back), 5 * SS),
                    (ssize_t)sizeof(back));
    CU_ASSERT_EQUAL(memcmp(back, want, sizeof(want)), 0);
    close(fd);
    fx_fini(&f);
}

/* Data already in the file is what IN returns, up to the last sector. */
static void test_read_file_contents(void)
{
    struct fx f;
    int r;

    fx_init_file(&f, 64 * SS, 0xa5, NULL);
    CU_ASSERT_FATAL(f.rc == 0);
    r = add_in(&f, 62, 2);
    run(&f, 0);
    CU_ASSERT_EQUAL(status_of(&f, r), DEV_BLK_S_OK);
    for (size_t i = 0; i < 2 * SS; i++) {
        if (R(&f, r)->wr[i] != 0xa5) {
            CU_FAIL("file contents not returned");
            break;
        }
    }
    fx_fini(&f);
}

/* Requests larger than the 64 KiB bounce buffer, RAM and file. */
static void test_large_requests(void)
{
    const uint32_t len = 200 * 1024 + 3 * SS;
    uint8_t *data = malloc(len), *back = malloc(len);

    for (int file = 0; file < 2; file++) {
        const char *ram[] = { "size=2M", NULL };
        struct fx f;
        int w, r, fd;

        file ? fx_init_file(&f, 2 << 20, 0, NULL) : fx_init(&f, ram);
        CU_ASSERT_FATAL(f.rc == 0);
        pattern(data, len, 9 + (unsigned)file);
        w = add_out(&f, 17, data, len);
        r = add_in(&f, 17, len / SS);
        run(&f, 0);
        CU_ASSERT_EQUAL(status_of(&f, w), DEV_BLK_S_OK);
        CU_ASSERT_EQUAL(status_of(&f, r), DEV_BLK_S_OK);
        CU_ASSERT_EQUAL(memcmp(R(&f, r)->wr, data, len), 0);
        if (file) {
            fd = open(f.path, O_RDONLY);
            CU_ASSERT_EQUAL(pread(fd, back, len, 17 * SS), (ssize_t)len);
            CU_ASSERT_EQUAL(memcmp(back, data, len), 0);
            close(fd);
        }
        fx_fini(&f);
    }
    free(data);
    free(back);
}

static void test_flush(void)
{
    for (int file = 0; file < 2; file++) {
        const char *ram[] = { "size=1M", "latency=3us", NULL };
        const char *fargs[] = { "latency=3us", NULL };
        uint8_t data[SS];
        struct fx f;
        int w, fl;

        file ? fx_init_file(&f, 1 << 20, 0, fargs) : fx_init(&f, ram);
        CU_ASSERT_FATAL(f.rc == 0);
        pattern(data, sizeof(data), 3);
        w = add_out(&f, 0, data, sizeof(data));
        fl = add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
        run(&f, 0);
        CU_ASSERT_EQUAL(status_of(&f, fl), DEV_BLK_S_OK);
        CU_ASSERT_EQUAL(R(&f, fl)->used_len, 1);
        CU_ASSERT_EQUAL(R(&f, w)->done_at, sim_us(3));
        CU_ASSERT_EQUAL(R(&f, fl)->done_at, sim_us(6));
        CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 1), fl);
        fx_fini(&f);
    }
}

static void test_get_id(void)
{
    static const struct {
        const char *serial;         /* NULL: default */
        uint32_t wr_len;
        const char *want;
        uint32_t want_len;
    } cases[] = {
        { NULL, 21, "vusim-blk", 20 },
        { "ABC", 21, "ABC", 20 },
        { "abcdefghijklmnopqrst", 21, "abcdefghijklmnopqrst", 20 },
        { "abcdefghijklmnopqrst", 5, "abcd", 4 },
        { "xyz", 64, "xyz", 20 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char opt[64];
        const char *args[] = { "size=1M", cases[i].serial ? opt : NULL,
                               NULL };
        struct fx f;
        int id;

        snprintf(opt, sizeof(opt), "serial=%s",
                 cases[i].serial ? cases[i].serial : "");
        fx_init(&f, args);
        CU_ASSERT_FATAL(f.rc == 0);
        id = add_req(&f, 0, DEV_BLK_T_GET_ID, 0, NULL, 0, cases[i].wr_len);
        run(&f, 0);
        VU_ASSERT_MSG(status_of(&f, id) == DEV_BLK_S_OK, cases[i].want);
        VU_ASSERT_MSG(R(&f, id)->used_len == cases[i].want_len + 1,
                      cases[i].want);
        char got[21] = { 0 };
        memcpy(got, R(&f, id)->wr, cases[i].want_len);
        VU_ASSERT_MSG(strncmp(got, cases[i].want, cases[i].want_len) == 0,
                      cases[i].want);
        /* NUL padding up to 20 bytes, nothing between id and status. */
        VU_ASSERT_MSG(all_zero(R(&f, id)->wr + strlen(cases[i].want),
                               cases[i].wr_len - 1 - strlen(cases[i].want)),
                      cases[i].want);
        fx_fini(&f);
    }
}

/* Fill sectors 0..15 with a pattern, zero some with @type, check. */
static void check_dwz(struct fx *f, uint32_t type, uint32_t flags)
{
    const struct dev_blk_dwz_seg segs[] = {
        { 2, 3, flags }, { 10, 1, flags },
    };
    uint8_t data[16 * SS];
    int w, d, r;

    pattern(data, sizeof(data), 5);
    w = add_out(f, 0, data, sizeof(data));
    d = add_dwz(f, type, segs, 2);
    r = add_in(f, 0, 16);
    run(f, 0);
    CU_ASSERT_EQUAL(status_of(f, w), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(status_of(f, d), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(R(f, d)->used_len, 1);
    memset(data + 2 * SS, 0, 3 * SS);
    memset(data + 10 * SS, 0, SS);
    CU_ASSERT_EQUAL(memcmp(R(f, r)->wr, data, sizeof(data)), 0);
}

static void check_file_matches(struct fx *f, uint64_t sector, uint32_t n)
{
    struct fakehost_req *r;
    uint8_t *back = malloc(n * SS);
    int fd = open(f->path, O_RDONLY), id;

    id = add_in(f, sector, n);
    run(f, 0);
    r = R(f, id);
    CU_ASSERT_EQUAL(pread(fd, back, n * SS, (off_t)(sector * SS)),
                    (ssize_t)(n * SS));
    CU_ASSERT_EQUAL(memcmp(back, r->wr, n * SS), 0);
    close(fd);
    free(back);
}

static void test_discard_write_zeroes(void)
{
    static const struct {
        uint32_t type, flags;
        const char *name;
    } cases[] = {
        { DEV_BLK_T_DISCARD, 0, "discard" },
        { DEV_BLK_T_WRITE_ZEROES, 0, "write-zeroes" },
        { DEV_BLK_T_WRITE_ZEROES, DEV_BLK_DWZ_F_UNMAP, "write-zeroes unmap" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int file = 0; file < 2; file++) {
            const char *ram[] = { "size=1M", NULL };
            struct fx f;
            unsigned before;

            file ? fx_init_file(&f, 1 << 20, 0, NULL) : fx_init(&f, ram);
            CU_ASSERT_FATAL(f.rc == 0);
            before = CU_get_number_of_failures();
            check_dwz(&f, cases[i].type, cases[i].flags);
            if (file) {
                check_file_matches(&f, 0, 16);
            }
            VU_ASSERT_MSG(CU_get_number_of_failures() == before,
                          cases[i].name);
            fx_fini(&f);
        }
    }
}

/* ---- bad requests ------------------------------------------------------ */

enum shape { S_HDR, S_SHORT_HDR };

static const struct {
    const char *name;
    enum shape shape;
    uint32_t type;
    uint64_t sector;
    uint32_t extra;             /* readable bytes after the header */
    uint32_t wr_len;
    uint32_t seg_flags;         /* DISCARD/WZ: flags of every segment */
    uint64_t seg_sector;
    uint32_t seg_sectors;
    uint8_t status;
    uint32_t used;
} bad_reqs[] = {
    { "in past end", S_HDR, DEV_BLK_T_IN, 2048, 0, SS + 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "in straddles end", S_HDR, DEV_BLK_T_IN, 2047, 0, 2 * SS + 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "in at end, 0 sectors", S_HDR, DEV_BLK_T_IN, 2048, 0, 1, 0, 0, 0,
      DEV_BLK_S_OK, 1 },
    { "in huge sector", S_HDR, DEV_BLK_T_IN, UINT64_MAX, 0, SS + 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "in 2^55 sector", S_HDR, DEV_BLK_T_IN, 1ull << 55, 0, SS + 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "out past end", S_HDR, DEV_BLK_T_OUT, 2048, SS, 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "out huge sector", S_HDR, DEV_BLK_T_OUT, UINT64_MAX - 1, SS, 1, 0, 0,
      0, DEV_BLK_S_IOERR, 1 },
    { "short header", S_SHORT_HDR, DEV_BLK_T_IN, 0, 0, SS + 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "no status byte", S_HDR, DEV_BLK_T_IN, 0, 0, 0, 0, 0, 0, 0xee, 0 },
    { "no status byte, out", S_HDR, DEV_BLK_T_OUT, 0, SS, 0, 0, 0, 0, 0xee,
      0 },
    { "in data not n*512", S_HDR, DEV_BLK_T_IN, 0, 0, 101, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "in with readable data", S_HDR, DEV_BLK_T_IN, 0, 16, SS + 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "out data not n*512", S_HDR, DEV_BLK_T_OUT, 0, 100, 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "out with writable data", S_HDR, DEV_BLK_T_OUT, 0, SS, SS + 1, 0, 0,
      0, DEV_BLK_S_IOERR, 1 },
    { "flush with data", S_HDR, DEV_BLK_T_FLUSH, 0, SS, 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "flush wide status", S_HDR, DEV_BLK_T_FLUSH, 0, 0, 2, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "get_id no room", S_HDR, DEV_BLK_T_GET_ID, 0, 0, 1, 0, 0, 0,
      DEV_BLK_S_IOERR, 1 },
    { "unknown type 99", S_HDR, 99, 0, 0, 1, 0, 0, 0, DEV_BLK_S_UNSUPP, 1 },
    { "scsi cmd (2)", S_HDR, 2, 0, 0, 1, 0, 0, 0, DEV_BLK_S_UNSUPP, 1 },
    { "get_lifetime (10)", S_HDR, 10, 0, 0, 9, 0, 0, 0, DEV_BLK_S_UNSUPP,
      1 },
    { "discard unmap", S_HDR, DEV_BLK_T_DISCARD, 0, 16, 1,
      DEV_BLK_DWZ_F_UNMAP, 0, 1, DEV_BLK_S_UNSUPP, 1 },
    { "discard unknown flag", S_HDR, DEV_BLK_T_DISCARD, 0, 16, 1, 2, 0, 1,
      DEV_BLK_S_UNSUPP, 1 },
    { "wz unknown flag", S_HDR, DEV_BLK_T_WRITE_ZEROES, 0, 16, 1, 4, 0, 1,
      DEV_BLK_S_UNSUPP, 1 },
    { "wz past end", S_HDR, DEV_BLK_T_WRITE_ZEROES, 0, 16, 1, 0, 2047, 2,
      DEV_BLK_S_IOERR, 1 },
    { "discard huge sector", S_HDR, DEV_BLK_T_DISCARD, 0, 16, 1, 0,
      UINT64_MAX, 1, DEV_BLK_S_IOERR, 1 },
    { "discard too many sectors", S_HDR, DEV_BLK_T_DISCARD, 0, 16, 1, 0, 0,
      DEV_BLK_DWZ_MAX_SECTORS + 1, DEV_BLK_S_IOERR, 1 },
    { "discard no segment", S_HDR, DEV_BLK_T_DISCARD, 0, 0, 1, 0, 0, 1,
      DEV_BLK_S_IOERR, 1 },
    { "discard half segment", S_HDR, DEV_BLK_T_DISCARD, 0, 8, 1, 0, 0, 1,
      DEV_BLK_S_IOERR, 1 },
    { "discard 17 segments", S_HDR, DEV_BLK_T_DISCARD, 0, 17 * 16, 1, 0, 0,
      1, DEV_BLK_S_IOERR, 1 },
    { "wz wide status", S_HDR, DEV_BLK_T_WRITE_ZEROES, 0, 16, 2, 0, 0, 1,
      DEV_BLK_S_IOERR, 1 },
};

static int add_bad(struct fx *f, size_t i)
{
    uint8_t rd[16 + 2 * SS];
    uint32_t len = 16 + bad_reqs[i].extra;
    int id;

    CU_ASSERT_FATAL(len <= sizeof(rd));
    memset(rd, 0x5a, sizeof(rd));
    put_hdr(rd, bad_reqs[i].type, bad_reqs[i].sector);
    for (uint32_t off = 16; off + 16 <= len &&
         (bad_reqs[i].type == DEV_BLK_T_DISCARD ||
          bad_reqs[i].type == DEV_BLK_T_WRITE_ZEROES); off += 16) {
        struct dev_blk_dwz_seg s = {
            .sector = htole64(bad_reqs[i].seg_sector),
            .num_sectors = htole32(bad_reqs[i].seg_sectors),
            .flags = htole32(bad_reqs[i].seg_flags),
        };
        memcpy(rd + off, &s, sizeof(s));
    }
    if (bad_reqs[i].shape == S_SHORT_HDR) {
        len = 12;
    }
    id = fakehost_add(f->fh, 0, rd, len, bad_reqs[i].wr_len);
    CU_ASSERT_FATAL(id >= 0);
    return id;
}

static void test_bad_requests(void)
{
    const char *args[] = { "size=1M", "latency=1us", NULL };
    uint8_t data[2 * SS];
    struct fx f;
    int ids[sizeof(bad_reqs) / sizeof(bad_reqs[0])], chk;

    quiet_logs();
    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    pattern(data, sizeof(data), 7);
    add_out(&f, 0, data, sizeof(data));
    for (size_t i = 0; i < sizeof(bad_reqs) / sizeof(bad_reqs[0]); i++) {
        ids[i] = add_bad(&f, i);
    }
    chk = add_in(&f, 0, 2);
    run(&f, 0);
    for (size_t i = 0; i < sizeof(bad_reqs) / sizeof(bad_reqs[0]); i++) {
        struct fakehost_req *r = R(&f, ids[i]);
        VU_ASSERT_MSG(r->completed, bad_reqs[i].name);
        VU_ASSERT_MSG(status_of(&f, ids[i]) == bad_reqs[i].status,
                      bad_reqs[i].name);
        VU_ASSERT_MSG(r->used_len == bad_reqs[i].used, bad_reqs[i].name);
        /* Failed requests take the latency alone, channel after channel. */
        VU_ASSERT_MSG(r->done_at == sim_us(2 + i), bad_reqs[i].name);
    }
    /* Nothing a bad request did touched the disk; the device lives on. */
    CU_ASSERT_EQUAL(status_of(&f, chk), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(memcmp(R(&f, chk)->wr, data, sizeof(data)), 0);
    /* One WARN for the first bad request, the rest at DEBUG (dropped). */
    CU_ASSERT_EQUAL(log_lines, 1);
    restore_logs();
    fx_fini(&f);
}

/* A DISCARD whose second segment is bad changes nothing. */
static void test_dwz_all_or_nothing(void)
{
    const char *args[] = { "size=1M", NULL };
    const struct dev_blk_dwz_seg segs[] = { { 0, 1, 0 }, { 4000, 1, 0 } };
    uint8_t data[SS];
    struct fx f;
    int d, r;

    quiet_logs();
    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    pattern(data, sizeof(data), 11);
    add_out(&f, 0, data, sizeof(data));
    d = add_dwz(&f, DEV_BLK_T_DISCARD, segs, 2);
    r = add_in(&f, 0, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(status_of(&f, d), DEV_BLK_S_IOERR);
    CU_ASSERT_EQUAL(memcmp(R(&f, r)->wr, data, sizeof(data)), 0);
    restore_logs();
    fx_fini(&f);
}

static void test_read_only(void)
{
    const struct dev_blk_dwz_seg seg = { 0, 1, 0 };
    const char *ro[] = { "read-only", NULL };

    quiet_logs();
    for (int file = 0; file < 2; file++) {
        const char *ram[] = { "size=1M", "read-only", NULL };
        uint8_t data[SS];
        struct fx f;
        int w, d, z, fl, r;

        file ? fx_init_file(&f, 1 << 20, 0x33, ro) : fx_init(&f, ram);
        CU_ASSERT_FATAL(f.rc == 0);
        pattern(data, sizeof(data), 2);
        w = add_out(&f, 0, data, sizeof(data));
        d = add_dwz(&f, DEV_BLK_T_DISCARD, &seg, 1);
        z = add_dwz(&f, DEV_BLK_T_WRITE_ZEROES, &seg, 1);
        fl = add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
        r = add_in(&f, 0, 1);
        run(&f, 0);
        CU_ASSERT_EQUAL(status_of(&f, w), DEV_BLK_S_IOERR);
        CU_ASSERT_EQUAL(status_of(&f, d), DEV_BLK_S_IOERR);
        CU_ASSERT_EQUAL(status_of(&f, z), DEV_BLK_S_IOERR);
        CU_ASSERT_EQUAL(status_of(&f, fl), DEV_BLK_S_OK);
        CU_ASSERT_EQUAL(status_of(&f, r), DEV_BLK_S_OK);
        CU_ASSERT_EQUAL(R(&f, r)->wr[0], file ? 0x33 : 0);
        CU_ASSERT_EQUAL(R(&f, r)->wr[SS - 1], file ? 0x33 : 0);
        fx_fini(&f);
    }
    restore_logs();
}

/* The host failing reads and writes: no status can be written. */
static void test_host_io_failure(void)
{
    const char *args[] = { "size=1M", NULL };
    uint8_t data[SS] = { 1 };
    struct fx f;
    int w, r, ok;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    w = add_out(&f, 0, data, sizeof(data));
    r = add_in(&f, 0, 1);
    ok = add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
    fakehost_fail_io(f.fh, w);
    fakehost_fail_io(f.fh, r);
    run(&f, 0);
    CU_ASSERT_TRUE(R(&f, w)->completed);
    CU_ASSERT_TRUE(R(&f, r)->completed);
    CU_ASSERT_EQUAL(R(&f, w)->used_len, 0);
    CU_ASSERT_EQUAL(R(&f, r)->used_len, 0);
    CU_ASSERT_EQUAL(status_of(&f, ok), DEV_BLK_S_OK);
    fx_fini(&f);
}

static void test_file_backing_sizes(void)
{
    struct fx f;

    quiet_logs();
    /* A tail that is not a whole sector is ignored, with a warning. */
    fx_init_file(&f, 3 * SS + 100, 0, NULL);
    CU_ASSERT_EQUAL(f.rc, 0);
    if (f.rc == 0) {
        CU_ASSERT_EQUAL(cfg_le(&f, 0, 8), 3);
    }
    CU_ASSERT_EQUAL(log_lines, 1);
    fx_fini(&f);
    fx_init_file(&f, 511, 0, NULL);
    CU_ASSERT_EQUAL(f.rc, -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(f.err, "at least 512 bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(f.err, f.path));
    fx_fini(&f);
    restore_logs();
}

static void test_multiqueue(void)
{
    const char *args[] = { "size=1M", "num-queues=3", "latency=1us", NULL };
    uint8_t data[SS];
    struct fx f;
    int w, r;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    pattern(data, sizeof(data), 4);
    w = add_req(&f, 2, DEV_BLK_T_OUT, 7, data, SS, 1);
    r = add_req(&f, 1, DEV_BLK_T_IN, 7, NULL, 0, SS + 1);
    fakehost_kick(f.fh, 2);
    fakehost_kick(f.fh, 1);
    sim_cal_run_all(f.cal);
    CU_ASSERT_EQUAL(status_of(&f, w), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(status_of(&f, r), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(memcmp(R(&f, r)->wr, data, SS), 0);
    CU_ASSERT_EQUAL(R(&f, w)->done_at, sim_us(1));
    CU_ASSERT_EQUAL(R(&f, r)->done_at, sim_us(2));
    fx_fini(&f);
}

/* ---- timing ----------------------------------------------------------- */

/* @n IN requests of @nsec[i] sectors each, then the done times. */
static void check_times(const char *const *args, const uint32_t *nsec,
                        const sim_time_t *want, const int *order, size_t n)
{
    struct fx f;
    int ids[16];

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    for (size_t i = 0; i < n; i++) {
        ids[i] = add_in(&f, 0, nsec[i]);
    }
    fakehost_kick(f.fh, 0);
    CU_ASSERT_EQUAL(fakehost_ncompleted(f.fh), 0);
    sim_cal_run_all(f.cal);
    for (size_t i = 0; i < n; i++) {
        VU_ASSERT_MSG(R(&f, ids[i])->done_at == want[i], args[1]);
        VU_ASSERT_MSG(fakehost_completed_id(f.fh, (unsigned)i) ==
                      ids[order[i]], args[1]);
    }
    fx_fini(&f);
}

static void test_timing_latency(void)
{
    const char *args[] = { "size=1M", "latency=10us", NULL };
    const uint32_t nsec[] = { 1, 8, 1 };
    const sim_time_t want[] = { 10000000, 20000000, 30000000 };
    const int order[] = { 0, 1, 2 };

    check_times(args, nsec, want, order, 3);
}

static void test_timing_bandwidth(void)
{
    /* 4096 B at 2^20 B/s = 1/256 s; 512 B = 1/2048 s: exact in ps. */
    const char *args[] = { "size=1M", "bandwidth=1M", NULL };
    const uint32_t nsec[] = { 8, 1 };
    const sim_time_t want[] = { 3906250000ull, 3906250000ull + 488281250ull };
    const int order[] = { 0, 1 };

    check_times(args, nsec, want, order, 2);
}

static void test_timing_bandwidth_rounds_up(void)
{
    /* 512 B at 3 B/s = 170666666666666.67 ps -> ...667 per request. */
    const char *args[] = { "size=1M", "bandwidth=3", NULL };
    const uint32_t nsec[] = { 1, 1 };
    const sim_time_t want[] = { 170666666666667ull, 341333333333334ull };
    const int order[] = { 0, 1 };

    check_times(args, nsec, want, order, 2);
}

static void test_timing_latency_bandwidth(void)
{
    const char *args[] = { "size=1M", "latency=1.5us", "bandwidth=1M",
                           NULL };
    const uint32_t nsec[] = { 8, 1 };
    const sim_time_t want[] = { 3907750000ull,
                                3907750000ull + 1500000 + 488281250ull };
    const int order[] = { 0, 1 };

    check_times(args, nsec, want, order, 2);
}

static void test_timing_channels(void)
{
    /* Equal requests: two at a time. */
    const char *eq[] = { "size=1M", "latency=10us", "channels=2", NULL };
    const uint32_t n1[] = { 1, 1, 1, 1 };
    const sim_time_t w1[] = { sim_us(10), sim_us(10), sim_us(20),
                              sim_us(20) };
    const int o1[] = { 0, 1, 2, 3 };
    /* A long one on channel 0; the short ones reuse channel 1:
     * r0 1us + 3906.25us; r1 1us + 488.28125us; r2, r3 follow r1. */
    const char *mix[] = { "size=1M", "latency=1us", "channels=2",
                          "bandwidth=1M", NULL };
    const uint32_t n2[] = { 8, 1, 1, 1 };
    const sim_time_t w2[] = { 3907250000ull, 489281250ull, 978562500ull,
                              1467843750ull };
    const int o2[] = { 1, 2, 3, 0 };

    check_times(eq, n1, w1, o1, 4);
    check_times(mix, n2, w2, o2, 4);
}

static void test_timing_zero(void)
{
    const char *args[] = { "size=1M", NULL };
    struct fx f;
    int a, b;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    a = add_in(&f, 0, 1);
    fakehost_kick(f.fh, 0);
    /* Scheduled at now, never completed inside avail(). */
    CU_ASSERT_EQUAL(fakehost_ncompleted(f.fh), 0);
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), 1);
    sim_cal_run_all(f.cal);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, 0);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, sim_us(5)), 0);
    b = add_in(&f, 0, 64);
    run(&f, 0);
    CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_us(5));
    CU_ASSERT_EQUAL(status_of(&f, b), DEV_BLK_S_OK);
    fx_fini(&f);
}

/* Arrivals while busy queue behind; arrivals while idle start at once. */
static void test_timing_arrivals(void)
{
    const char *args[] = { "size=1M", "latency=10us", NULL };
    struct fx f;
    int a, b, c;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    a = add_in(&f, 0, 1);
    fakehost_kick(f.fh, 0);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, sim_us(25)), 1);
    b = add_in(&f, 0, 1);
    fakehost_kick(f.fh, 0);
    CU_ASSERT_EQUAL(sim_cal_run_until(f.cal, sim_us(30)), 0);
    c = add_in(&f, 0, 1);
    fakehost_kick(f.fh, 0);
    sim_cal_run_all(f.cal);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, sim_us(10));
    CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_us(35));
    CU_ASSERT_EQUAL(R(&f, c)->done_at, sim_us(45));
    fx_fini(&f);
}

/* Equal completion times complete in pop order, whatever the queue. */
static void test_timing_ties(void)
{
    const char *args[] = { "size=1M", "latency=10us", "channels=4",
                           "num-queues=2", NULL };

    for (int first = 0; first < 2; first++) {
        struct fx f;
        int a, b, c;

        fx_init(&f, args);
        CU_ASSERT_FATAL(f.rc == 0);
        a = add_req(&f, 0, DEV_BLK_T_IN, 0, NULL, 0, SS + 1);
        b = add_req(&f, 1, DEV_BLK_T_IN, 0, NULL, 0, SS + 1);
        c = add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
        fakehost_kick(f.fh, (uint16_t)first);
        fakehost_kick(f.fh, (uint16_t)!first);
        sim_cal_run_all(f.cal);
        CU_ASSERT_EQUAL(R(&f, a)->done_at, sim_us(10));
        CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_us(10));
        CU_ASSERT_EQUAL(R(&f, c)->done_at, sim_us(10));
        if (first == 0) {
            CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 0), a);
            CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 1), c);
            CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 2), b);
        } else {
            CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 0), b);
            CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 1), a);
            CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 2), c);
        }
        fx_fini(&f);
    }
}

/* A cancelled request never completes and keeps its channel busy. */
static void test_cancel(void)
{
    const char *args[] = { "size=1M", "latency=10us", NULL };
    struct fx f;
    int a, b;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    a = add_in(&f, 0, 1);
    b = add_in(&f, 0, 1);
    fakehost_kick(f.fh, 0);
    CU_ASSERT_EQUAL(fakehost_inflight(f.fh), 2);
    CU_ASSERT_EQUAL(fakehost_cancel(f.fh, a), 0);
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), 1);
    sim_cal_run_all(f.cal);
    CU_ASSERT_FALSE(R(&f, a)->completed);
    CU_ASSERT_EQUAL(R(&f, b)->done_at, sim_us(20));
    CU_ASSERT_EQUAL(fakehost_inflight(f.fh), 0);
    fx_fini(&f);
}

/* Reset frees the channels: a new request starts at once. */
static void test_reset(void)
{
    const char *args[] = { "size=1M", "latency=10us", NULL };
    struct fx f;
    int a, b, c;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    a = add_in(&f, 0, 1);
    b = add_in(&f, 0, 1);
    fakehost_kick(f.fh, 0);
    fakehost_cancel(f.fh, a);
    fakehost_cancel(f.fh, b);
    f.dev->ops->reset(f.dev);
    CU_ASSERT_EQUAL(sim_cal_pending(f.cal), 0);
    c = add_in(&f, 0, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(R(&f, c)->done_at, sim_us(10));
    fx_fini(&f);
}

static void test_stats_json(void)
{
    const char *args[] = { "size=1M", NULL };
    static const char *const want[] = {
        "\"req_in\": 2,", "\"req_out\": 1,", "\"req_get_id\": 1,",
        "\"req_other\": 1,", "\"bytes_read\": 512,",
        "\"bytes_written\": 1024,", "\"errors\": 2,",
        "\"unsupported\": 1,", "\"completed\": 5,", NULL,
    };
    uint8_t data[2 * SS] = { 0 };
    struct fx f;

    quiet_logs();
    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    add_out(&f, 0, data, sizeof(data));
    add_in(&f, 0, 1);
    add_in(&f, 5000, 1);
    add_req(&f, 0, 77, 0, NULL, 0, 1);
    add_req(&f, 0, DEV_BLK_T_GET_ID, 0, NULL, 0, 21);
    run(&f, 0);
    CU_ASSERT_PTR_NULL(fakehost_stats_missing(f.dev, want));
    restore_logs();
    fx_fini(&f);
}

/* Many random requests against a RAM mirror; fixed seed, printed on
 * failure. */
static void test_random_against_model(void)
{
    const char *args[] = { "size=256K", "channels=3", "latency=7ns",
                           "bandwidth=5M", NULL };
    const uint64_t seed = 20240611;
    const uint32_t sectors = 512;
    uint8_t *mirror = calloc(sectors, SS), *buf = malloc(16 * SS);
    struct vusim_rng rng;
    struct fx f;
    unsigned bad = 0;

    vusim_rng_seed(&rng, seed);
    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    for (int i = 0; i < 400; i++) {
        uint32_t n = 1 + (uint32_t)vusim_rng_below(&rng, 16);
        uint64_t s = vusim_rng_below(&rng, sectors - n + 1);
        int id;

        if (vusim_rng_below(&rng, 2)) {
            vusim_rng_fill(&rng, buf, n * SS);
            memcpy(mirror + s * SS, buf, n * SS);
            id = add_out(&f, s, buf, n * SS);
            run(&f, 0);
        } else {
            id = add_in(&f, s, n);
            run(&f, 0);
            bad += memcmp(R(&f, id)->wr, mirror + s * SS, n * SS) != 0;
        }
        bad += status_of(&f, id) != DEV_BLK_S_OK;
    }
    if (bad) {
        fprintf(stderr, "random blk test failed with seed %llu\n",
                (unsigned long long)seed);
    }
    CU_ASSERT_EQUAL(bad, 0);
    fx_fini(&f);
    free(mirror);
    free(buf);
}


/* ---- fault rules ------------------------------------------------------ */

/* The 3rd write fails with IOERR and writes nothing; others are fine. */
static void test_fault_error_nth(void)
{
    const char *args[] = { "size=64K", "fault=on=write,nth=3,do=error,"
                           "status=ioerr", NULL };
    uint8_t data[SS];
    struct fx f;
    int id[5];

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    pattern(data, sizeof(data), 3);
    for (int i = 0; i < 5; i++) {
        id[i] = add_out(&f, (uint64_t)i, data, SS);
    }
    run(&f, 0);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(status_of(&f, id[i]), i == 2 ? DEV_BLK_S_IOERR
                                                      : DEV_BLK_S_OK);
    }
    id[0] = add_in(&f, 2, 1);
    run(&f, 0);
    CU_ASSERT(all_zero(R(&f, id[0])->wr, SS));
    fx_fini(&f);
}

/* torn keeps the first K sectors; lost keeps none; both report OK. */
static void test_fault_torn_lost(void)
{
    const char *args[] = { "size=64K", "fault=on=write,nth=1,do=torn,"
                           "sectors=3", "fault=on=write,nth=2,do=lost",
                           NULL };
    uint8_t data[8 * SS];
    struct fx f;
    int a, b, r;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    pattern(data, sizeof(data), 5);
    a = add_out(&f, 0, data, sizeof(data));
    b = add_out(&f, 16, data, sizeof(data));
    run(&f, 0);
    CU_ASSERT_EQUAL(status_of(&f, a), DEV_BLK_S_OK);
    CU_ASSERT_EQUAL(status_of(&f, b), DEV_BLK_S_OK);
    r = add_in(&f, 0, 8);
    run(&f, 0);
    CU_ASSERT(memcmp(R(&f, r)->wr, data, 3 * SS) == 0);
    CU_ASSERT(all_zero(R(&f, r)->wr + 3 * SS, 5 * SS));
    r = add_in(&f, 16, 8);
    run(&f, 0);
    CU_ASSERT(all_zero(R(&f, r)->wr, 8 * SS));
    fx_fini(&f);
}

/* misdirect puts a write elsewhere; rot flips exactly one bit of a read
 * and not of the disk, the same bit for the same seed. */
static void test_fault_misdirect_rot(void)
{
    const char *args[] = { "size=64K", "seed=11", "fault=on=write,nth=1,"
                           "do=misdirect,to=40", "fault=on=read,nth=2,"
                           "do=rot", NULL };
    uint8_t data[2 * SS];
    struct fx f;
    int r1, r2, r3, flips = 0;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    pattern(data, sizeof(data), 9);
    add_out(&f, 4, data, sizeof(data));
    run(&f, 0);
    r1 = add_in(&f, 4, 2);
    r2 = add_in(&f, 40, 2);
    r3 = add_in(&f, 40, 2);
    run(&f, 0);
    CU_ASSERT(all_zero(R(&f, r1)->wr, 2 * SS));
    CU_ASSERT(memcmp(R(&f, r3)->wr, data, 2 * SS) == 0);
    for (size_t i = 0; i < 2 * SS; i++) {
        flips += __builtin_popcount(R(&f, r2)->wr[i] ^ data[i]);
    }
    CU_ASSERT_EQUAL(flips, 1);
    fx_fini(&f);
}

/* delay adds to one completion; timing changes the model from then on. */
static void test_fault_delay_timing(void)
{
    const char *args[] = { "size=64K", "latency=10us", "fault=on=read,"
                           "nth=1,do=delay,delay=1ms", "fault=on=flush,"
                           "do=timing,latency=2us", NULL };
    struct fx f;
    int a, b, c;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    a = add_in(&f, 0, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, sim_us(10) + sim_ms(1));
    b = add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(R(&f, b)->done_at, R(&f, a)->done_at + sim_us(2));
    c = add_in(&f, 0, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(R(&f, c)->done_at, R(&f, b)->done_at + sim_us(2));
    fx_fini(&f);
}

/* hang: no completion until released (with a status) or cancelled. */
static void test_fault_hang(void)
{
    const char *args[] = { "size=64K", "fault=on=flush,do=hang", NULL };
    struct fx f;
    int a, b;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    a = add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
    b = add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(fakehost_inflight(f.fh), 2);
    sim_cal_advance(f.cal, sim_ms(5));
    CU_ASSERT_EQUAL(f.dev->ops->fault_release(f.dev, 0, DEV_BLK_S_UNSUPP),
                    0);
    sim_cal_run_all(f.cal);
    CU_ASSERT_TRUE(R(&f, a)->completed);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, sim_ms(5));
    CU_ASSERT_EQUAL(status_of(&f, a), DEV_BLK_S_UNSUPP);
    CU_ASSERT_EQUAL(fakehost_cancel(f.fh, b), 0);
    CU_ASSERT_EQUAL(f.dev->ops->fault_release(f.dev, 0, 0), -ENOENT);
    fx_fini(&f);
}

/* late: completes right after the next request, out of order; alone, it
 * completes delay= after its own time. */
static void test_fault_late(void)
{
    const char *args[] = { "size=64K", "latency=10us", "channels=2",
                           "fault=on=read,nth=1,do=late,delay=1s",
                           "fault=on=read,nth=3,do=late,delay=3ms", NULL };
    struct fx f;
    int a, b, c;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    a = add_in(&f, 0, 1);
    b = add_in(&f, 1, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 0), b);
    CU_ASSERT_EQUAL(fakehost_completed_id(f.fh, 1), a);
    CU_ASSERT_EQUAL(R(&f, a)->done_at, sim_us(10));
    c = add_in(&f, 2, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(R(&f, c)->done_at, sim_us(20) + sim_ms(3));
    fx_fini(&f);
}

/* resize: the capacity in config space changes and the disk grows. */
static void test_fault_resize(void)
{
    const char *args[] = { "size=64K", "fault=on=flush,do=resize,size=1M",
                           NULL };
    uint64_t cap;
    struct fx f;
    int a;

    fx_init(&f, args);
    CU_ASSERT_FATAL(f.rc == 0);
    add_req(&f, 0, DEV_BLK_T_FLUSH, 0, NULL, 0, 1);
    run(&f, 0);
    CU_ASSERT_EQUAL(f.dev->ops->get_config(f.dev, 0, &cap, 8), 0);
    CU_ASSERT_EQUAL(le64toh(cap), 2048);
    a = add_in(&f, 2000, 8);
    run(&f, 0);
    CU_ASSERT_EQUAL(status_of(&f, a), DEV_BLK_S_OK);
    fx_fini(&f);
}

/* Rules the device refuses at create, one line each. */
static void test_fault_refused(void)
{
    static const struct {
        const char *rule, *want;
    } bad[] = {
        { "fault=on=write,do=misdirect,to=128", "to=128: beyond the disk's 128 "
          "sectors" },
        { "fault=do=resize,size=1000", "size=1000: must be a multiple of "
          "512" },
        { "fault=on=write,do=torn,sectors=0", "sectors=0" },
        { "fault=do=short,bytes=1", "--fault=do=short,bytes=1: do=short: "
          "not an action of this device" },
        { "fault=on=read,do=lost", "do=lost: applies only to on=write or "
          "on=discard or on=write-zeroes" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = { "size=64K", bad[i].rule, NULL };
        struct fx f;

        fx_init(&f, args);
        VU_ASSERT_MSG(f.rc == -EINVAL, bad[i].rule);
        VU_ASSERT_MSG(strstr(f.err, bad[i].want) != NULL, f.err);
        fx_fini(&f);
    }
}

/* Same rules and seed: the same firings and bytes, run after run. */
static void test_fault_deterministic(void)
{
    const char *args[] = { "size=64K", "seed=5", "fault=on=read,"
                           "probability=0.5,do=rot", NULL };
    uint8_t out[2][32][SS];

    for (int run_no = 0; run_no < 2; run_no++) {
        struct fx f;
        int id[32];

        fx_init(&f, args);
        CU_ASSERT_FATAL(f.rc == 0);
        for (int i = 0; i < 32; i++) {
            id[i] = add_in(&f, (uint64_t)i, 1);
        }
        run(&f, 0);
        for (int i = 0; i < 32; i++) {
            memcpy(out[run_no][i], R(&f, id[i])->wr, SS);
        }
        fx_fini(&f);
    }
    CU_ASSERT(memcmp(out[0], out[1], sizeof(out[0])) == 0);
}

CU_TestInfo blk_tests[] = {
    { "fault_error_nth", test_fault_error_nth },
    { "fault_torn_lost", test_fault_torn_lost },
    { "fault_misdirect_rot", test_fault_misdirect_rot },
    { "fault_delay_timing", test_fault_delay_timing },
    { "fault_hang", test_fault_hang },
    { "fault_late", test_fault_late },
    { "fault_resize", test_fault_resize },
    { "fault_refused", test_fault_refused },
    { "fault_deterministic", test_fault_deterministic },
    { "registry_lookup", test_registry_lookup },
    { "opt_bytes_table", test_opt_bytes_table },
    { "options_bad", test_options_bad },
    { "options_good", test_options_good },
    { "config_space", test_config_space },
    { "features", test_features },
    { "rw_ram", test_rw_ram },
    { "rw_file", test_rw_file },
    { "read_file_contents", test_read_file_contents },
    { "large_requests", test_large_requests },
    { "flush", test_flush },
    { "get_id", test_get_id },
    { "discard_write_zeroes", test_discard_write_zeroes },
    { "bad_requests", test_bad_requests },
    { "dwz_all_or_nothing", test_dwz_all_or_nothing },
    { "read_only", test_read_only },
    { "host_io_failure", test_host_io_failure },
    { "file_backing_sizes", test_file_backing_sizes },
    { "multiqueue", test_multiqueue },
    { "timing_latency", test_timing_latency },
    { "timing_bandwidth", test_timing_bandwidth },
    { "timing_bandwidth_rounds_up", test_timing_bandwidth_rounds_up },
    { "timing_latency_bandwidth", test_timing_latency_bandwidth },
    { "timing_channels", test_timing_channels },
    { "timing_zero", test_timing_zero },
    { "timing_arrivals", test_timing_arrivals },
    { "timing_ties", test_timing_ties },
    { "cancel", test_cancel },
    { "reset", test_reset },
    { "stats_json", test_stats_json },
    { "random_against_model", test_random_against_model },
    CU_TEST_INFO_NULL,
};
