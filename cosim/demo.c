/* SPDX-License-Identifier: MIT */
/*
 * `vusim demo` (cosim/demo.h): the set-up, the back-end thread and the
 * report. The workload itself is in demo_work.c.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosim/backend.h"
#include "cosim/demo-internal.h"
#include "cosim/loop.h"
#include "cosim/server.h"
#include "cosim/stats.h"
#include "devices/blk.h"
#include "sim/log.h"
#include "sim/wallclock.h"

#define PROG "vusim"

/* ---- options ---------------------------------------------------------- */

/* Demo options; the blk ones are forwarded to the device as they are. */
static const struct dev_optdesc demo_opts[] = {
    { "requests", "N", "requests to run, 1-10000000 (default 2000)" },
    { "seed", "N", "workload seed (default 1)" },
    { "inflight", "N", "up to N requests per kick, 1-64 (default 8)" },
    { "notify", "MODE", "front-end notifications: inband (default, like "
      "UML), eventfd, or qemu (QEMU 7.2's mix)" },
    { "latency", "DURATION", "blk: fixed time per request (default 20us)" },
    { "bandwidth", "BYTES_PER_SEC", "blk: per channel (default 256M)" },
    { "channels", "N", "blk: requests served in parallel (default 4)" },
    { "size", "SIZE", "blk: RAM disk size, 64K-1G (default 16M)" },
    { "stats", "FILE", "write the JSON summary (as vusim DEVICE --stats)" },
    { "log-level", "LEVEL", "err, warn (default), info, debug or trace" },
    { "verbose", NULL, "log every vhost-user message decoded (-v)" },
    { "help", NULL, "show this help and exit (-h)" },
    { NULL, NULL, NULL },
};

static void demo_help(FILE *f)
{
    fprintf(f, "Usage: " PROG " demo [options]\n"
            "Run a virtio-blk co-simulation without a guest OS: a vusim "
            "back-end in a\nthread, driven over a real vhost-user socket by "
            "the reference front-end\nwith a seeded mixed workload; every "
            "byte read back is checked.\n\nOptions:\n");
    for (const struct dev_optdesc *d = demo_opts; d->name; d++) {
        char lhs[64];

        snprintf(lhs, sizeof(lhs), "--%s%s%s", d->name,
                 d->metavar ? "=" : "", d->metavar ? d->metavar : "");
        fprintf(f, "  %-26s %s\n", lhs, d->help);
    }
    fprintf(f, "\nExit status: 0 all verified, 1 a mismatch or a failure, "
            "2 a bad option.\n");
}

static int opt_bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

static int set_u64(const struct dev_opt *o, uint64_t min, uint64_t max,
                   uint64_t *out)
{
    char err[256];

    if (dev_opt_u64(o, min, max, out, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    return 0;
}

static int demo_notify_parse(const char *v, enum vufe_notify *out)
{
    static const char *const names[] = { "eventfd", "inband", "qemu" };

    for (int i = 0; i < 3; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = (enum vufe_notify)i;
            return 0;
        }
    }
    return opt_bad("--notify=%s: expected inband, eventfd or qemu%s", v, "");
}

/* One option, already checked against demo_opts. */
static int demo_opt(struct demo_cfg *c, const struct dev_opt *o)
{
    const char *n = o->name;
    int lvl;

    if (!strcmp(n, "requests")) {
        return set_u64(o, 1, 10000000, &c->requests);
    } else if (!strcmp(n, "seed")) {
        return set_u64(o, 0, UINT64_MAX, &c->seed);
    } else if (!strcmp(n, "inflight")) {
        return set_u64(o, 1, DEMO_MAX_INFLIGHT, &c->inflight);
    } else if (!strcmp(n, "notify")) {
        return demo_notify_parse(o->value, &c->notify);
    } else if (!strcmp(n, "stats")) {
        c->stats = o->value;
    } else if (!strcmp(n, "verbose")) {
        c->verbose = true;
    } else if (!strcmp(n, "log-level")) {
        if ((lvl = vusim_log_level_parse(o->value)) < 0) {
            return opt_bad("--log-level=%s: expected err, warn, info, debug "
                           "or trace%s", o->value, "");
        }
        c->log_level = lvl;
    } else {
        /* latency, bandwidth, channels, size: the blk model judges them. */
        for (size_t i = 0; i < c->nblk; i++) {
            if (!strcmp(c->blk[i].name, n)) {
                c->blk[i].value = o->value;
            }
        }
    }
    return 0;
}

/* Split "--name=value" / "--name value" / "-v" into @o; 0, or 2 after
 * printing why not. */
static int demo_split(int argc, char **argv, int *i, struct dev_opt *o,
                      char *name, size_t nlen)
{
    const char *a = argv[*i], *eq;
    const struct dev_optdesc *d;

    if (!strcmp(a, "-v") || !strcmp(a, "-h")) {
        a = a[1] == 'v' ? "--verbose" : "--help";
    }
    if (strncmp(a, "--", 2) != 0) {
        return opt_bad("%s: unexpected argument (options are --name=value)%s",
                       a, "");
    }
    eq = strchr(a + 2, '=');
    snprintf(name, nlen, "%.*s", (int)(eq ? (size_t)(eq - a - 2)
                                          : strlen(a + 2)), a + 2);
    for (d = demo_opts; d->name && strcmp(d->name, name); d++) {
    }
    if (!d->name) {
        return opt_bad("%s: unknown option for vusim demo (see vusim demo "
                       "--help)%s", a, "");
    }
    o->name = d->name;
    o->value = eq ? eq + 1 : NULL;
    if (d->metavar && !eq && *i + 1 < argc) {
        o->value = argv[++*i];
    }
    if (d->metavar && (!o->value || !o->value[0])) {
        return opt_bad("--%s: needs a value: --%s=VALUE", name, name);
    }
    if (!d->metavar && o->value) {
        return opt_bad("%s: --%s takes no value", a, name);
    }
    return 0;
}

static void demo_cfg_init(struct demo_cfg *c)
{
    static const char *const names[] = { "latency", "bandwidth", "channels",
                                         "size" };
    static const char *const defs[] = { "20us", "256M", "4", "16M" };

    *c = (struct demo_cfg){
        .requests = 2000, .seed = 1, .inflight = 8,
        .notify = VUFE_NOTIFY_INBAND, .log_level = -1, .nblk = 4,
    };
    for (size_t i = 0; i < c->nblk; i++) {
        c->blk[i] = (struct dev_opt){ names[i], defs[i] };
    }
}

/* 0 to run, 2 for a bad option, -1 after --help. */
static int demo_parse(int argc, char **argv, struct demo_cfg *c)
{
    demo_cfg_init(c);
    for (int i = 1; i < argc; i++) {
        struct dev_opt o;
        char name[64];
        int rc = demo_split(argc, argv, &i, &o, name, sizeof(name));

        if (rc) {
            return rc;
        }
        if (!strcmp(o.name, "help")) {
            demo_help(stdout);
            return -1;
        }
        if ((rc = demo_opt(c, &o)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- the back-end side ---------------------------------------------- */

struct demo_be {
    char dir[64];
    char path[96];
    struct vu_loop *loop;
    struct vusim_probe *probe;
    struct vu_backend *be;
    struct vu_server *srv;
    pthread_t thread;
    bool running;
    int rc;
};

static void *demo_be_main(void *arg)
{
    struct demo_be *b = arg;

    b->rc = vu_loop_run(b->loop);
    return NULL;
}

/* The blk model wrapped in the probe; 2 and a line on a bad option. */
static int demo_dev(struct demo_be *b, const struct demo_cfg *c)
{
    char err[256] = "";
    struct dev *blk = NULL;
    int rc = dev_blk_ops.create(vu_loop_cal(b->loop), c->blk, c->nblk, &blk,
                                err, sizeof(err));

    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", err[0] ? err : strerror(-rc));
        return 2;
    }
    if (dev_opt_find(c->blk, c->nblk, "size") && blk->config_size >= 8) {
        struct dev_blk_config cfg;
        uint64_t max = DEMO_MAX_DISK / DEV_BLK_SECTOR_SIZE;

        blk->ops->get_config(blk, 0, &cfg, sizeof(cfg.capacity));
        if (le64toh(cfg.capacity) * DEV_BLK_SECTOR_SIZE < DEMO_MIN_DISK ||
            le64toh(cfg.capacity) > max) {
            blk->ops->destroy(blk);
            return opt_bad("--size=%s: the demo keeps a shadow copy of the "
                           "disk: expected 64K to 1G%s",
                           dev_opt_find(c->blk, c->nblk, "size")->value, "");
        }
    }
    if (vusim_probe_new(blk, &b->probe) < 0) {
        blk->ops->destroy(blk);
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    return 0;
}

static int demo_listen(struct demo_be *b, const struct demo_cfg *c)
{
    struct vu_backend_cfg bc = { .inband = VU_INBAND_AUTO, .conn_id = 1,
                                 .verbose = c->verbose };
    const char *tmp = getenv("TMPDIR");
    int rc;

    snprintf(b->dir, sizeof(b->dir), "%s/vusim-demo-XXXXXX",
             tmp && tmp[0] && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) {
        fprintf(stderr, PROG ": demo: %s: %s\n", b->dir, strerror(errno));
        b->dir[0] = '\0';
        return 1;
    }
    snprintf(b->path, sizeof(b->path), "%s/blk.sock", b->dir);
    b->be = vu_backend_new(b->loop, vusim_probe_dev(b->probe), &bc);
    if (!b->be) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    rc = vu_server_listen(b->loop, b->be, b->path, &b->srv);
    if (rc < 0) {
        fprintf(stderr, PROG ": demo: cannot listen on %s: %s\n", b->path,
                strerror(-rc));
        return 1;
    }
    vu_server_set_oneshot(b->srv, true);
    return 0;
}

static int demo_be_start(struct demo_be *b, const struct demo_cfg *c)
{
    int rc;

    b->loop = vu_loop_new(NULL);
    if (!b->loop) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if ((rc = demo_dev(b, c)) != 0 || (rc = demo_listen(b, c)) != 0) {
        return rc;
    }
    if (pthread_create(&b->thread, NULL, demo_be_main, b) != 0) {
        fprintf(stderr, PROG ": demo: cannot start the back-end thread\n");
        return 1;
    }
    b->running = true;
    return 0;
}

/* Stop the loop (the front-end is gone by now) and join the thread. */
static void demo_be_stop(struct demo_be *b)
{
    char byte = 1;

    if (!b->running) {
        return;
    }
    if (write(vu_loop_stop_fd(b->loop), &byte, 1) < 0) {
        VUSIM_WARN("demo", "cannot stop the back-end loop: %s",
                   strerror(errno));
    }
    pthread_join(b->thread, NULL);
    b->running = false;
}

static void demo_be_free(struct demo_be *b)
{
    demo_be_stop(b);
    vu_server_free(b->srv);
    vu_backend_free(b->be);
    vusim_probe_free(b->probe);
    vu_loop_free(b->loop);
    if (b->dir[0]) {
        rmdir(b->dir);
    }
}

/* ---- the report ------------------------------------------------------- */

static const char *const class_names[VUSIM_PROBE_NCLASS] = {
    "read", "write", "flush", "other",
};

static void report_lat_row(const char *name, uint64_t count, uint64_t bytes,
                           const sim_time_t lat[4], bool have)
{
    char t[4][32];

    for (int i = 0; i < 4; i++) {
        if (have) {
            vusim_dur_fmt(lat[i], t[i], sizeof(t[i]));
        } else {
            snprintf(t[i], sizeof(t[i]), "-");
        }
    }
    printf("  %-6s %7" PRIu64 " %10.1f KiB %12s %12s %12s %12s\n", name,
           count, (double)bytes / 1024.0, t[0], t[1], t[2], t[3]);
}

static void report_latency(const struct demo_be *b, const struct demo_run *r)
{
    static const unsigned pm[4] = { 500, 900, 990, 1000 };
    sim_time_t lat[4];

    printf("requests (latency in simulated time, device pop to "
           "completion):\n  %-6s %7s %14s %12s %12s %12s %12s\n", "type",
           "count", "bytes", "p50", "p90", "p99", "max");
    for (unsigned c = 0; c < VUSIM_PROBE_NCLASS; c++) {
        bool have = true;

        if (vusim_probe_count(b->probe, c) == 0 && r->count[c] == 0) {
            continue;
        }
        for (int i = 0; i < 4; i++) {
            have = have && vusim_probe_latency(b->probe, c, pm[i],
                                               &lat[i]) == 0;
        }
        report_lat_row(class_names[c], vusim_probe_count(b->probe, c),
                       r->bytes[c], lat, have);
    }
    bool have = true;
    for (int i = 0; i < 4; i++) {
        have = have && vu_backend_latency(b->be, pm[i], &lat[i]) == 0;
    }
    report_lat_row("all", r->done, r->bytes[0] + r->bytes[1], lat, have);
}

static void report_features(const struct demo_be *b)
{
    struct vu_backend_stats st;
    char buf[1024];
    uint64_t ki = 0, ke = 0, ci = 0, ce = 0, cs = 0;

    vu_backend_get_stats(b->be, &st);
    printf("negotiated:\n  features: %s\n",
           vusim_features_str(DEV_BLK_VIRTIO_ID, st.features, buf,
                              sizeof(buf)));
    printf("  protocol features: %s\n",
           vusim_pfeatures_str(st.protocol_features, buf, sizeof(buf)));
    for (uint16_t i = 0; i < st.num_queues; i++) {
        ki += st.q[i].kicks_inband;
        ke += st.q[i].kicks_eventfd;
        ci += st.q[i].calls_inband;
        ce += st.q[i].calls_eventfd;
        cs += st.q[i].calls_suppressed;
    }
    printf("  notification mode: %s (kicks: %" PRIu64 " in-band, %" PRIu64
           " eventfd; calls: %" PRIu64 " in-band, %" PRIu64 " eventfd, %"
           PRIu64 " suppressed)\n", vusim_notify_summary(&st), ki, ke, ci,
           ce, cs);
}

static void report_time(const struct demo_be *b, const struct demo_run *r)
{
    struct sim_cal *cal = vu_loop_cal(b->loop);
    sim_time_t now = sim_cal_now(cal);
    struct sim_cal_stats cs;
    char t[32];
    uint64_t moved = r->bytes[0] + r->bytes[1];

    sim_cal_get_stats(cal, &cs);
    printf("simulated time: %s (%" PRIu64 " calendar events fired, %" PRIu64
           " scheduled); %.1f MiB/s in simulated time\n",
           vusim_dur_fmt(now, t, sizeof(t)), cs.fired, cs.scheduled,
           now ? (double)moved / 1048576.0 / ((double)now / 1e12) : 0.0);
    printf("wall time: %.3f s (%.0f requests/s)\n",
           (double)r->wall_ns / 1e9,
           r->wall_ns ? (double)r->done * 1e9 / (double)r->wall_ns : 0.0);
}

static void report(const struct demo_be *b, const struct demo_cfg *c,
                   const struct demo_run *r)
{
    printf("vusim demo: virtio-blk, %" PRIu64 " KiB RAM disk, latency %s, "
           "bandwidth %s/s per channel, %s channel(s)\n",
           r->disk_bytes / 1024, c->blk[0].value, c->blk[1].value,
           c->blk[2].value);
    printf("  workload: %" PRIu64 " requests, up to %" PRIu64 " per kick, "
           "seed %" PRIu64 ", front-end notifications: %s\n", r->done,
           c->inflight, c->seed, c->notify == VUFE_NOTIFY_INBAND ? "inband"
           : c->notify == VUFE_NOTIFY_QEMU ? "qemu" : "eventfd");
    report_features(b);
    report_latency(b, r);
    report_time(b, r);
    if (r->errors) {
        printf("errors: %" PRIu64 " request(s) failed\n", r->errors);
    }
    if (r->mismatches) {
        printf("verify: %" PRIu64 " bytes read back, %" PRIu64
               " DO NOT MATCH\n", r->verified, r->mismatches);
    } else {
        printf("verify: %" PRIu64 " bytes read back, all match\n",
               r->verified);
    }
}

static int demo_write_stats(const struct demo_be *b, const struct demo_cfg *c,
                            const struct demo_run *r)
{
    char extra[256];
    FILE *f = fopen(c->stats, "w");
    int rc;

    if (!f) {
        fprintf(stderr, PROG ": --stats=%s: cannot open: %s\n", c->stats,
                strerror(errno));
        return 1;
    }
    snprintf(extra, sizeof(extra), "\"demo\": {\"requests\": %" PRIu64
             ", \"seed\": %" PRIu64 ", \"verified_bytes\": %" PRIu64
             ", \"mismatched_bytes\": %" PRIu64 ", \"errors\": %" PRIu64 "}",
             r->done, c->seed, r->verified, r->mismatches, r->errors);
    rc = vusim_stats_write(f, &(struct vusim_run_info){
        .device = "blk", .loop = b->loop, .be = b->be,
        .dev = vusim_probe_dev(b->probe), .wall_ns = r->wall_ns,
        .extra = extra });
    if (fclose(f) != 0 || rc < 0) {
        fprintf(stderr, PROG ": --stats=%s: cannot write\n", c->stats);
        return 1;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------- */

int vusim_demo_main(int argc, char **argv)
{
    struct demo_cfg c;
    struct demo_be b = { .rc = 0 };
    struct demo_run r = { .wall_ns = 0 };
    uint64_t t0;
    int rc = demo_parse(argc, argv, &c);

    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    g_vusim_log_level = c.log_level >= 0 ? c.log_level : VUSIM_LOG_WARN;
    if (c.verbose && g_vusim_log_level < VUSIM_LOG_INFO) {
        g_vusim_log_level = VUSIM_LOG_INFO;
    }
    t0 = vusim_wallclock_ns();
    rc = demo_be_start(&b, &c);
    if (rc == 0) {
        rc = vusim_demo_work(&c, b.path, &r);
        r.wall_ns = vusim_wallclock_ns() - t0;
        demo_be_stop(&b);
        if (rc == 0 || r.done > 0) {
            report(&b, &c, &r);
        }
        if (rc == 0 && (r.mismatches || r.errors)) {
            rc = 1;
        }
        if (c.stats && demo_write_stats(&b, &c, &r) != 0 && rc == 0) {
            rc = 1;
        }
    }
    demo_be_free(&b);
    return rc;
}
