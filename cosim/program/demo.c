/* SPDX-License-Identifier: MIT */
/*
 * `vusim demo` (cosim/program/demo.h): options, the in-process back-end and its
 * thread, and the run. The workload is in demo_work.c, the report in
 * demo_report.c.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosim/program/demo-internal.h"
#include "cosim/program/opts.h"
#include "devices/work.h"
#include "sim/log.h"
#include "sim/wallclock.h"
#include "traces/record.h"

#define PROG "vusim"

/* ---- options ---------------------------------------------------------- */

/* A device option the demo forwards by name (ops->work->demo_opts): the
 * model judges it when the demo creates it. */
static int set_dopt(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct demo_cfg *c = ctx;

    for (size_t k = 0; k < c->ndopt; k++) {
        if (strcmp(c->dopt[k].name, o->name) == 0) {
            c->dopt[k].value = v;
            c->dopt_given[k] = true;
        }
    }
    return 0;
}

static int set_u64(const char *name, const char *v, uint64_t min,
                   uint64_t max, uint64_t *out)
{
    const struct dev_opt o = { name, v };
    char err[256];

    if (dev_opt_u64(&o, min, max, out, err, sizeof(err)) < 0) {
        return vusim_opts_bad("%s", err);
    }
    return 0;
}

static int set_requests(void *ctx, const struct vusim_opt *o, const char *v)
{
    return set_u64(o->name, v, 1, 10000000,
                   &((struct demo_cfg *)ctx)->requests);
}

static int set_seed(void *ctx, const struct vusim_opt *o, const char *v)
{
    return set_u64(o->name, v, 0, UINT64_MAX,
                   &((struct demo_cfg *)ctx)->seed);
}

static int set_inflight(void *ctx, const struct vusim_opt *o, const char *v)
{
    return set_u64(o->name, v, 1, DEMO_MAX_INFLIGHT,
                   &((struct demo_cfg *)ctx)->inflight);
}

static int set_notify(void *ctx, const struct vusim_opt *o, const char *v)
{
    static const char *const names[] = { "eventfd", "inband", "qemu" };

    (void)o;
    for (int i = 0; i < 3; i++) {
        if (strcmp(v, names[i]) == 0) {
            ((struct demo_cfg *)ctx)->notify = (enum vufe_notify)i;
            return 0;
        }
    }
    return vusim_opts_bad("--notify=%s: expected inband, eventfd or qemu", v);
}

/* --connect, --stats, --trace: a path kept as given. */
static int set_path(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct demo_cfg *c = ctx;

    *(!strcmp(o->name, "connect") ? &c->connect :
      !strcmp(o->name, "stats") ? &c->stats : &c->trace) = v;
    return 0;
}

static int set_digest(void *ctx, const struct vusim_opt *o, const char *v)
{
    return vusim_opts_set_digest(&((struct demo_cfg *)ctx)->trace_digest, o,
                                 v);
}

static int set_level(void *ctx, const struct vusim_opt *o, const char *v)
{
    return vusim_opts_set_log_level(&((struct demo_cfg *)ctx)->log_level, o,
                                    v);
}

static int set_verbose(void *ctx, const struct vusim_opt *o, const char *v)
{
    (void)o;
    (void)v;
    ((struct demo_cfg *)ctx)->verbose = true;
    return 0;
}

static const struct vusim_opt demo_opts[] = {
    { "requests", "N", "requests to run, 1 to 10000000 (default 2000)",
      set_requests, 0, 0, NULL },
    { "seed", "N", "workload seed (default 1)", set_seed, 0, 0, NULL },
    { "inflight", "N", "up to N requests per kick, 1 to 64 (default 8)",
      set_inflight, 0, 0, NULL },
    { "notify", "MODE", "front-end notifications: inband (default, as "
      "User-Mode Linux), eventfd, or qemu (as QEMU 7.2)", set_notify, 0, 0,
      NULL },
    { "connect", "PATH", "drive the back-end listening at PATH instead of "
      "an in-process one (the same device, in the state it starts in)",
      set_path,
      0, 0, NULL },
    { "stats", "FILE", "write a JSON summary at exit", set_path, 0, 0,
      NULL },
    { "trace", "FILE", "record the back-end side as a trace (vusim trace, "
      "vusim replay)", set_path, 0, 0, NULL },
    { "trace-digest", "ALG", "digest of what each completion wrote: xxh128 "
      "(default) or sha256", set_digest, 0, 0, NULL },
    { "log-level", "LEVEL", "err, warn (default), info, debug or trace",
      set_level, 0, 0, NULL },
    { "verbose", NULL, "log every vhost-user message decoded", set_verbose,
      'v', 0, NULL },
    { "help", NULL, "show this help and exit", NULL, 'h', 0, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

/* The rows of the device's demo options, with their help. */
struct demo_dev_rows {
    struct vusim_opt row[DEMO_MAX_DOPTS + 1];
    char help[DEMO_MAX_DOPTS][160];
};

static void demo_help(FILE *f, const struct demo_cfg *c,
                      const struct demo_dev_rows *d)
{
    fprintf(f, "Usage: " PROG " demo [options]\n\n"
            "Run a co-simulation of %s without a guest OS: a vusim back-end "
            "in a\nthread, driven over a real vhost-user socket by the "
            "reference front-end\nwith the device's seeded workload "
            "(devices/work.h). Every completion is\nchecked as the device's "
            "guest side says; latencies are measured in\nsimulated time."
            "\n\nOptions:\n", c->ops->name);
    vusim_opts_help(f, d->row, 0);
    vusim_opts_help(f, demo_opts, 0);
    fprintf(f, "\nExit status: 0 every check passed, 1 a mismatch or a "
            "failure, 2 a bad\noption.\n");
}

/* The first device of the registry with a guest side, and its options at
 * their demo defaults. */
static int demo_cfg_init(struct demo_cfg *c, struct demo_dev_rows *d)
{
    const struct dev_work_opt *w;

    *c = (struct demo_cfg){
        .requests = 2000, .seed = 1, .inflight = 8,
        .notify = VUFE_NOTIFY_INBAND, .log_level = -1,
    };
    for (size_t i = 0; dev_registry[i] && !c->ops; i++) {
        c->ops = dev_registry[i]->work ? dev_registry[i] : NULL;
    }
    if (!c->ops) {
        fprintf(stderr, PROG ": demo: no device has a guest side\n");
        return 1;
    }
    memset(d, 0, sizeof(*d));
    w = c->ops->work->demo_opts;
    for (size_t k = 0; w && w[k].name && k < DEMO_MAX_DOPTS; k++) {
        const struct dev_optdesc *o = c->ops->opts;

        while (o->name && strcmp(o->name, w[k].name) != 0) {
            o++;
        }
        c->dopt[k] = (struct dev_opt){ w[k].name, w[k].value };
        snprintf(d->help[k], sizeof(d->help[k]), "%s: %s", c->ops->name,
                 w[k].help);
        d->row[k] = (struct vusim_opt){ w[k].name, o->metavar, d->help[k],
                                        set_dopt, 0, 0, NULL };
        c->ndopt = k + 1;
    }
    return 0;
}

/* 0 to run, 2 for a bad option, -1 after --help. */
static int demo_parse(int argc, char **argv, struct demo_cfg *c)
{
    struct demo_dev_rows d;
    const struct vusim_optset set[] = { { d.row, c, NULL },
                                        { demo_opts, c, NULL } };
    const struct vusim_cmdline cl = { .cmd = "demo", .sets = set,
                                      .nsets = 2 };
    int rc;

    if (demo_cfg_init(c, &d) != 0) {
        return 1;
    }
    if (vusim_opts_help_wanted(argc, argv)) {
        demo_help(stdout, c, &d);
        return -1;
    }
    if ((rc = vusim_opts_parse(&cl, argc, argv)) != 0) {
        return rc;
    }
    for (size_t k = 0; c->connect && k < c->ndopt; k++) {
        if (c->dopt_given[k]) {
            return vusim_opts_bad("--%s=%s: not with --connect (the "
                                 "back-end there has its own)",
                                 c->dopt[k].name, c->dopt[k].value);
        }
    }
    if (c->connect && c->trace) {
        return vusim_opts_bad("--trace=%s: not with --connect (give it to "
                             "the back-end)", c->trace);
    }
    if (c->connect && c->stats) {
        return vusim_opts_bad("--stats=%s: not with --connect (give it to "
                             "the back-end)", c->stats);
    }
    return 0;
}

/* ---- the in-process back-end ------------------------------------------- */

static void *demo_be_main(void *arg)
{
    struct demo_be *b = arg;

    b->rc = vu_loop_run(b->loop);
    return NULL;
}

/* The device options given on the command line, "--size=1K ...", or the
 * device's name when none was: what a refusal names. */
static const char *given_opts(const struct demo_cfg *c, char *buf,
                              size_t len)
{
    size_t at = 0;

    buf[0] = '\0';
    for (size_t k = 0; k < c->ndopt && at < len; k++) {
        if (c->dopt_given[k]) {
            at += (size_t)snprintf(buf + at, len - at, "%s--%s=%s",
                                   at ? " " : "", c->dopt[k].name,
                                   c->dopt[k].value);
        }
    }
    if (!buf[0]) {
        snprintf(buf, len, "demo: %s", c->ops->name);
    }
    return buf;
}

/* Can the device's guest side drive this device? Asked before the
 * back-end starts, from the model's own config space. */
static int demo_check_work(struct dev *d, const struct demo_cfg *c)
{
    char opts[256];
    const struct dev_work_ops *w = c->ops->work;
    uint8_t cfg[256] = { 0 };
    uint32_t len = w->config_size < d->config_size ? w->config_size
                                                   : d->config_size;
    struct dev_work *dw = NULL;
    char err[256] = "";
    int rc;

    if (len > sizeof(cfg) || !d->ops->get_config ||
        d->ops->get_config(d, 0, cfg, len) < 0) {
        len = 0;
    }
    rc = w->open(cfg, len, (unsigned)c->inflight, &dw, err, sizeof(err));
    if (rc == -ERANGE) {
        return vusim_opts_bad("%s: %s", given_opts(c, opts, sizeof(opts)),
                              err);
    }
    if (rc < 0) {
        fprintf(stderr, PROG ": demo: %s\n", err[0] ? err : strerror(-rc));
        return 1;
    }
    w->close(dw);
    return 0;
}

/* The model wrapped in the probe; 2 and a line on a bad option. */
static int demo_dev(struct demo_be *b, const struct demo_cfg *c)
{
    char err[256] = "";
    struct dev *d = NULL;
    int rc = c->ops->create(vu_loop_cal(b->loop), c->dopt, c->ndopt, &d,
                            err, sizeof(err));

    if (rc < 0) {
        return vusim_opts_bad("%s", err[0] ? err : strerror(-rc));
    }
    if ((rc = demo_check_work(d, c)) != 0) {
        d->ops->destroy(d);
        return rc;
    }
    if (vusim_probe_new(d, &b->probe) < 0) {
        d->ops->destroy(d);
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    return 0;
}

/* --trace: the model's side, as `vusim DEVICE --trace` records it. */
static int demo_trace_open(struct demo_be *b, const struct demo_cfg *c)
{
    struct trace_record_cfg tc = { .path = c->trace, .device = c->ops->name,
                               .opts = c->dopt, .nopts = c->ndopt,
                               .clock = "afap", .seed = c->seed,
                               .digest = c->trace_digest };
    char err[256] = "";

    if (trace_record_open(b->be, &tc, &b->trace, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": demo: %s\n", err);
        return 1;
    }
    b->trace_path = c->trace;
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
    snprintf(b->path, sizeof(b->path), "%s/%s.sock", b->dir, c->ops->name);
    b->be = vu_backend_new(b->loop, vusim_probe_dev(b->probe), &bc);
    if (!b->be) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (c->trace && demo_trace_open(b, c) != 0) {
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
    vu_loop_set_poll(b->loop, VUSIM_POLL_NS);   /* as the program runs */
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

/* Stop the loop and join the thread. The front-end has disconnected by
 * now, which stops a one-shot server's loop already; the stop byte covers
 * a front-end that never connected. */
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
    if (b->trace && trace_record_close(NULL, b->trace) < 0) {
        fprintf(stderr, PROG ": demo: --trace=%s: cannot write it\n",
                b->trace_path);
    }
    vusim_probe_free(b->probe);
    vu_loop_free(b->loop);
    if (b->dir[0]) {
        rmdir(b->dir);
    }
}

/* ---- the run ------------------------------------------------------------ */

/* Run the workload against @b, or against c->connect when @b is NULL. */
static int demo_run(struct demo_be *b, const struct demo_cfg *c,
                    uint64_t t0)
{
    struct demo_run r = { .done = 0 };
    int rc = vusim_demo_work(c, b ? b->path : c->connect, &r);

    r.wall_ns = vusim_wallclock_ns() - t0;
    if (b) {
        demo_be_stop(b);
    }
    if (rc == 0 || r.done > 0) {
        vusim_demo_report(b, c, &r);
    }
    if (rc == 0 && (r.mismatches || r.errors)) {
        rc = 1;
    }
    if (b && c->stats && vusim_demo_write_stats(b, c, &r) != 0) {
        rc = rc ? rc : 1;
    }
    return rc;
}

int vusim_demo_main(int argc, char **argv)
{
    struct demo_cfg c;
    struct demo_be b = { .rc = 0 };
    uint64_t t0 = vusim_wallclock_ns();
    int rc = demo_parse(argc, argv, &c);

    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    g_vusim_log_level = c.log_level >= 0 ? c.log_level : VUSIM_LOG_WARN;
    if (c.verbose && g_vusim_log_level < VUSIM_LOG_INFO) {
        g_vusim_log_level = VUSIM_LOG_INFO;
    }
    if (c.connect) {
        return demo_run(NULL, &c, t0);
    }
    rc = demo_be_start(&b, &c);
    if (rc == 0) {
        rc = demo_run(&b, &c, t0);
    }
    demo_be_free(&b);
    return rc;
}
