/* SPDX-License-Identifier: MIT */
/*
 * vusim - the program: `vusim DEVICE [options]`, `vusim demo`, and the
 * per-device entry points vusim-DEVICE (symlinks; the device is taken from
 * the basename of argv[0]).
 *
 * It follows the vhost-user back-end program conventions
 * (shared/reference/vhost-user.rst, "Backend program conventions"):
 * --socket-path or --fd, --print-capabilities, no daemonizing, a quick
 * clean exit on SIGTERM. Bad options get one line on stderr naming the
 * option, the value and what is allowed, and exit status 2.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/backend/backend.h"
#include "cosim/control/control.h"
#include "cosim/program/demo.h"
#include "cosim/program/opts.h"
#include "cosim/program/vusim-internal.h"
#include "cosim/program/vusim-main.h"
#include "devices/dev.h"
#include "devices/faults/faults.h"
#include "sim/clock.h"
#include "sim/log.h"
#include "cosim/program/trace_tool.h"

#define PROG "vusim"
#define UNIX_PATH_MAX 108

/* ---- capabilities (QEMU docs/interop/vhost-user.json) ---------------- */

/*
 * VHostUserBackendType: the device's own (ops->vhost_user_type, with the
 * features QEMU's schema defines for it), else the schema's type for its
 * virtio id, without features.
 */
static const struct vusim_cap {
    uint32_t virtio_id;
    const char *type;
} vusim_caps[] = {
    {1, "net"}, {2, "block"}, {3, "console"}, {4, "rng"}, {5, "balloon"},
    {7, "rpmsg"}, {8, "scsi"}, {9, "9p"}, {11, "rproc-serial"},
    {12, "caif"}, {16, "gpu"}, {18, "input"}, {19, "vsock"},
    {20, "crypto"}, {26, "fs"},
};

static const char *vu_type(const struct dev_ops *ops)
{
    if (ops->vhost_user_type) {
        return ops->vhost_user_type;
    }
    for (size_t i = 0; i < sizeof(vusim_caps) / sizeof(vusim_caps[0]); i++) {
        if (vusim_caps[i].virtio_id == ops->virtio_id) {
            return vusim_caps[i].type;
        }
    }
    return NULL;
}

static int print_capabilities(const struct dev_ops *ops)
{
    const char *const *f = ops->vhost_user_features;
    const char *type = vu_type(ops);

    if (!type) {
        fprintf(stderr, PROG ": %s: virtio id %u has no vhost-user type\n",
                ops->name, ops->virtio_id);
        return 1;
    }
    printf("{\n    \"type\": \"%s\"", type);
    if (f && f[0]) {
        printf(",\n    \"features\": [");
        for (size_t i = 0; f[i]; i++) {
            printf("%s\n        \"%s\"", i ? "," : "", f[i]);
        }
        printf("\n    ]");
    }
    printf("\n}\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- options ------------------------------------------------------------ */

static int dopt_push(struct vusim_cli *c, const char *name, const char *value)
{
    if (c->ndopts == c->dopts_cap) {
        size_t cap = c->dopts_cap ? 2 * c->dopts_cap : 8;
        struct dev_opt *o = realloc(c->dopts, cap * sizeof(*o));

        if (!o) {
            return vusim_opts_bad("--%s: out of memory", name);
        }
        c->dopts = o;
        c->dopts_cap = cap;
    }
    c->dopts[c->ndopts++] = (struct dev_opt){name, value};
    return 0;
}

/* A device option: kept in order (under its target's name for an alias),
 * for the device's create() to judge. */
static int set_dev(void *ctx, const struct vusim_opt *o, const char *v)
{
    return dopt_push(ctx, vusim_opt_target(o), v);
}

static int set_fd(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct vusim_cli *c = ctx;
    long fd = 0;

    (void)o;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || fd > 100000000) {
            return vusim_opts_bad("--fd=%s: expected a file descriptor "
                                  "number (0 or more)", v);
        }
        fd = fd * 10 + (*p - '0');
    }
    if (!v[0]) {
        return vusim_opts_bad(
            "--fd=: expected a file descriptor number (0 or more)");
    }
    c->fd = (int)fd;
    c->fd_arg = v;
    return 0;
}

static int set_clock(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct vusim_cli *c = ctx;
    char err[160];

    (void)o;
    if (strcmp(v, "external") == 0) {
        return vusim_opts_bad(
            "--clock=external: reserved for the UML time-travel "
            "controller; expected afap or realtime[:RATIO]");
    }
    if (sim_clock_parse(v, &c->clock, err, sizeof(err)) < 0) {
        if (strncmp(v, "realtime:", 9) == 0) {
            return vusim_opts_bad("--clock=%s: RATIO must be a positive "
                                  "decimal such as 0.25 or 10", v);
        }
        return vusim_opts_bad(
            "--clock=%s: expected afap, realtime or realtime:RATIO", v);
    }
    return 0;
}

static int set_socket_path(void *ctx, const struct vusim_opt *o,
                           const char *v)
{
    struct vusim_cli *c = ctx;

    (void)o;
    if (!v[0]) {
        return vusim_opts_bad("--socket-path=: expected a path");
    }
    if (strlen(v) >= UNIX_PATH_MAX) {
        return vusim_opts_bad("--socket-path=%s: longer than %d bytes, the "
                              "limit of a Unix socket path", v,
                              UNIX_PATH_MAX - 1);
    }
    c->socket_path = v;
    return 0;
}

/* --time-travel and --control: a Unix socket path to listen on. */
static int set_listen_path(void *ctx, const struct vusim_opt *o,
                           const char *v)
{
    struct vusim_cli *c = ctx;

    if (!v[0] || strlen(v) >= UNIX_PATH_MAX) {
        return vusim_opts_bad("--%s=%s: expected a Unix socket path "
                              "shorter than %d bytes", o->name, v,
                              UNIX_PATH_MAX);
    }
    *(strcmp(o->name, "control") == 0 ? &c->control : &c->time_travel) = v;
    return 0;
}

/* SECONDS[.FRACTION] since 1970, exact to the nanosecond. */
static int set_start_time(void *ctx, const struct vusim_opt *o,
                          const char *v)
{
    struct vusim_cli *c = ctx;
    uint64_t s = 0, ns = 0, scale = 100000000;
    const char *p = v;

    (void)o;
    for (; *p >= '0' && *p <= '9' && s < 100000000000ull; p++) {
        s = s * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10) {
            ns += (uint64_t)(*p - '0') * scale;
        }
    }
    if (p == v || *p != '\0' || s >= 100000000000ull) {
        return vusim_opts_bad("--start-time=%s: expected seconds since 1970, "
                              "such as 1767225600 or 1767225600.5 (at most "
                              "9 decimals)", v);
    }
    c->start_tod_ns = s * 1000000000u + ns;
    return 0;
}

static int set_inband(void *ctx, const struct vusim_opt *o, const char *v)
{
    (void)o;
    if (vu_inband_parse(v, &((struct vusim_cli *)ctx)->inband) < 0) {
        return vusim_opts_bad("--inband=%s: expected auto, on or off", v);
    }
    return 0;
}

/* --stats and --trace: a file written at exit or while running. */
static int set_file(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct vusim_cli *c = ctx;

    *(strcmp(o->name, "stats") == 0 ? &c->stats : &c->trace) = v;
    return 0;
}

static int set_digest(void *ctx, const struct vusim_opt *o, const char *v)
{
    return vusim_opts_set_digest(&((struct vusim_cli *)ctx)->trace_digest, o,
                                 v);
}

static int set_log_level(void *ctx, const struct vusim_opt *o, const char *v)
{
    return vusim_opts_set_log_level(&((struct vusim_cli *)ctx)->log_level, o,
                                    v);
}

static int set_verbose(void *ctx, const struct vusim_opt *o, const char *v)
{
    (void)o;
    (void)v;
    ((struct vusim_cli *)ctx)->verbose = true;
    return 0;
}

static int set_free_until(void *ctx, const struct vusim_opt *o,
                          const char *v)
{
    (void)o;
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
        return vusim_opts_bad("--free-until=%s: expected on or off", v);
    }
    ((struct vusim_cli *)ctx)->free_until = strcmp(v, "on") == 0;
    return 0;
}

static int set_guests(void *ctx, const struct vusim_opt *o, const char *v)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);

    (void)o;
    if (!v[0] || *end || n < 1 || n > 64) {
        return vusim_opts_bad("--guests=%s: expected a number from 1 to 64",
                              v);
    }
    ((struct vusim_cli *)ctx)->guests = (unsigned)n;
    return 0;
}

/* --scenario=FILE: its rules become "fault" options of the device, as if
 * each were a --fault there; the trace header records them as such, so
 * replay needs no file. */
static int set_scenario(void *ctx, const struct vusim_opt *o,
                        const char *path)
{
    struct vusim_cli *c = ctx;
    char err[768];
    int rc = 0;

    (void)o;
    if (strcmp(c->ops->name, "multi") == 0) {
        return vusim_opts_bad("--scenario=%s: rules are per device in "
                              "multi: give scenario=FILE inside --device",
                              path);
    }
    if (!c->ops->fault_actions) {
        return vusim_opts_bad("--scenario=%s: device %s has no fault rules",
                              path, c->ops->name);
    }
    if (faults_scenario_lines(path, c->ops->fault_actions, &c->scenario,
                              &c->nscenario, err, sizeof(err)) < 0) {
        return vusim_opts_bad("%s", err);
    }
    for (size_t k = 0; k < c->nscenario && rc == 0; k++) {
        rc = dopt_push(c, "fault", c->scenario[k]);
    }
    return rc;
}

#define ONCE VUSIM_OPT_ONCE
#define PER_DEV (VUSIM_OPT_ONCE | VUSIM_OPT_PER_DEVICE)
#define RUN (VUSIM_OPT_ONCE | VUSIM_OPT_RUN)

/* The generic options, shared by every device, multi and vusim_main(). */
static const struct vusim_opt gopts[] = {
    {"socket-path", "PATH", "listen on this Unix socket (mode 0600, removed "
     "at exit)", set_socket_path, 0, PER_DEV, NULL},
    {"fd", "FDNUM", "serve an inherited socket, listening or connected",
     set_fd, 0, PER_DEV, NULL},
    {"print-capabilities", NULL, "print the vhost-user capabilities (JSON) "
     "and exit", NULL, 0, PER_DEV, NULL},
    {"inband", "auto|on|off", "offer in-band notifications (default auto)",
     set_inband, 0, ONCE, NULL},
    {"clock", "afap|realtime[:RATIO]", "as fast as possible (default) or "
     "paced to the host clock", set_clock, 0, RUN, NULL},
    {"stats", "FILE", "write a JSON summary at exit", set_file, 0, RUN,
     NULL},
    {"trace", "FILE", "record the run as a deterministic trace (vusim "
     "trace, vusim replay)", set_file, 0, PER_DEV, NULL},
    {"trace-digest", "ALG", "digest of what each completion wrote: xxh128 "
     "(default) or sha256", set_digest, 0, ONCE, NULL},
    {"verbose", NULL, "log every vhost-user message decoded", set_verbose,
     'v', ONCE, NULL},
    {"log-level", "LEVEL", "err, warn (default), info, debug or trace",
     set_log_level, 0, RUN, NULL},
    {"time-travel", "PATH", "be the time controller of UMLs started with "
     "time-travel=ext:ID:PATH and of vusim's QEMUs started with -icount "
     "shift=N,sleep=off -smp 1 -object time-travel,id=tt,path=PATH,"
     "client-id=ID[,quantum=NS] (NS: how far past a RUN without "
     "FREE_UNTIL, default 1000000; see vusim(1))", set_listen_path, 0, RUN,
     NULL},
    {"start-time", "SECONDS", "the guests' time of day at simulated time 0, "
     "in seconds since 1970 (default 1767225600)", set_start_time, 0, RUN,
     NULL},
    {"free-until", "on|off", "let a guest run without asking up to the next "
     "foreign event (default on)", set_free_until, 0, RUN, NULL},
    {"guests", "N", "time-travel guests to start together (default: one per "
     "device)", set_guests, 0, RUN, NULL},
    {"scenario", "FILE", "fault rules, one per line ('#' comments), as if "
     "each were a --fault here", set_scenario, 0, PER_DEV, NULL},
    {"control", "PATH", "a QMP-style control socket (mode 0600): stop, step, "
     "break, rules at run time (vusim ctl); one for all devices of a multi "
     "run", set_listen_path, 0, RUN, NULL},
    {"help", NULL, "show this help and exit", NULL, 'h', 0, NULL},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};

/* A parsed device: exactly one socket, and options its model knows. */
static int cli_check(struct vusim_cli *c)
{
    char err[512] = "";

    if (c->socket_path && c->fd_arg) {
        return vusim_opts_bad("--socket-path=%s and --fd=%s: give one of "
                              "them, not both", c->socket_path, c->fd_arg);
    }
    if (!c->socket_path && !c->fd_arg) {
        return vusim_opts_bad("no socket: give --socket-path=PATH or "
                              "--fd=FDNUM (see vusim %s --help)",
                              c->ops->name);
    }
    if (dev_opts_check(c->ops, c->dopts, c->ndopts, err, sizeof(err)) < 0) {
        return vusim_opts_bad("%s", err);
    }
    return 0;
}

/* `vusim DEVICE ARGS` into @c: the generic options, then the device's. */
static int cli_parse(struct vusim_cli *c, int argc, char **argv)
{
    struct vusim_opt *drows = vusim_opts_from_dev(c->ops, set_dev);
    const struct vusim_optset sets[] = {
        {gopts, c, &c->seen},
        {drows, c, NULL},
    };
    const struct vusim_cmdline cl = {.cmd = c->ops->name, .sets = sets,
                                     .nsets = 2};
    int rc;

    if (!drows) {
        return vusim_opts_bad("%s: out of memory", c->ops->name);
    }
    rc = vusim_opts_parse(&cl, argc, argv);
    free(drows);
    return rc;
}

/* ---- help -------------------------------------------------------------- */

#ifndef VUSIM_NO_MAIN
static void main_help(FILE *f)
{
    fprintf(f, "Usage: " PROG " DEVICE [options]   serve a virtio device "
               "over vhost-user\n"
               "       " PROG " demo [options]     co-simulation demo, no "
               "guest needed\n"
               "       " PROG " trace info|dump|check|diff|export ...  "
               "inspect traces\n"
               "       " PROG " replay TRACE [options]  re-run a device from "
               "its trace\n"
               "       " PROG " multi [options] --device TYPE,KEY=VALUE,... "
               "...  several devices\n"
               "       " PROG " --help | --version\n\n"
               "vusim is a deterministic simulation back-end: device work runs "
               "on a\ndiscrete-event calendar in simulated time.\n\nDevices "
               "(also installed as vusim-DEVICE):\n");
    for (size_t i = 0; dev_registry[i]; i++) {
        const char *type = vu_type(dev_registry[i]);

        fprintf(f, "  %-8s virtio %s (virtio id %u)\n", dev_registry[i]->name,
                type ? type : "device", dev_registry[i]->virtio_id);
    }
    fprintf(f, "  %-8s run a blk co-simulation with the reference "
               "front-end\n\n", "demo");
    fprintf(f, "'" PROG " DEVICE --help' lists the generic options and the "
               "device's own.\nSee vusim(1).\n");
}

#endif

/* A program of its own (vusim_main()): its name, for its --help. */
static const char *own_prog;

static void dev_help(FILE *f, const struct dev_ops *ops)
{
    const char *type = vu_type(ops);
    struct vusim_opt *drows = vusim_opts_from_dev(ops, set_dev);
    char cmd[128];

    snprintf(cmd, sizeof(cmd), own_prog ? "%s" : PROG " %s",
             own_prog ? own_prog : ops->name);
    fprintf(f, "Usage: %s --socket-path=PATH | --fd=FDNUM [options]\n"
            "       %s --print-capabilities\n", cmd, cmd);
    if (own_prog) {
        fprintf(f, "       %s replay TRACE [--OPTION[=VALUE]...]\n"
                "       %s trace info|dump|check|diff|export ...\n", cmd,
                cmd);
    }
    fprintf(f, "\nServe a virtio %s device (virtio id %u) to one vhost-user "
            "front-end at a\ntime, with its timing on the simulation "
            "calendar.\n\nGeneric options:\n", type ? type : "",
            ops->virtio_id);
    vusim_opts_help(f, gopts, 0);
    fprintf(f, "\nOptions of %s:\n", ops->name);
    vusim_opts_help(f, drows, 0);
    free(drows);
    fprintf(f, "\nExit status: 0 after SIGTERM or SIGINT (or when an "
               "inherited connected\nsocket closes), 1 on a run-time failure, "
               "2 on a bad option.\n");
}

/* ---- main ------------------------------------------------------------- */

static bool arg_is(int argc, char **argv, const char *a)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], a) == 0) {
            return true;
        }
    }
    return false;
}

static void cli_defaults(struct vusim_cli *c, const struct dev_ops *ops)
{
    *c = (struct vusim_cli){.ops = ops,
                            .fd = -1,
                            .inband = VU_INBAND_AUTO,
                            .clock = {.mode = SIM_CLOCK_AFAP},
                            .start_tod_ns = 1767225600ull * 1000000000u,
                            .free_until = true,
                            .log_level = -1};
}

/* `vusim DEVICE ARGS`: argv[0] is the device word. */
static int device_main(const struct dev_ops *ops, int argc, char **argv)
{
    struct vusim_cli c;
    int rc;

    cli_defaults(&c, ops);

    /* The conventions: with --print-capabilities, other options are
     * ignored; --help likewise wins over anything wrong beside it. */
    if (arg_is(argc, argv, "--print-capabilities")) {
        return print_capabilities(ops);
    }
    if (vusim_opts_help_wanted(argc, argv)) {
        dev_help(stdout, ops);
        return 0;
    }
    rc = cli_parse(&c, argc, argv);
    if (rc == 0) {
        rc = cli_check(&c);
    }
    if (rc == 0) {
        rc = vusim_serve(&c);
    }
    free(c.dopts);
    faults_lines_free(c.scenario, c.nscenario);
    return rc;
}

/* ---- vusim multi ------------------------------------------------------ */

/* The top level of `vusim multi` takes generic options only. */
static const struct dev_ops multi_ops = {.name = "multi"};

struct multi_dev {
    struct vusim_cli c;
    char **argv;                /* "TYPE", "--key=value", ... (owned) */
    int argc;
};

static void multi_help(FILE *f)
{
    fprintf(f, "Usage: " PROG " multi [options] --device TYPE,KEY=VALUE,... "
               "[--device ...]\n\nServe several devices on one loop and one "
               "simulation calendar: each\n--device gives its type (blk, "
               "rng) and its options as KEY=VALUE, among\nthem socket-path "
               "(or fd), trace, fault and scenario, which are per\ndevice; "
               "a doubled comma is a comma of the value (fault=on=write,,"
               "nth=3,,\ndo=error,,status=ioerr). With --time-travel, every "
               "UML guest joins the\nsame calendar (--guests=N, by default "
               "one per device). One --control\nsocket serves the run: its "
               "commands name a device by its index in --device\norder "
               "(\"device\": 0, 1, ...).\n\nGeneric options:\n");
    vusim_opts_help(f, gopts, VUSIM_OPT_PER_DEVICE);
    fprintf(f, "\nExample:\n  " PROG " multi --time-travel=tt.sock "
               "--control=ctl.sock \\\n"
               "      --device blk,socket-path=a.sock,latency=1ms,size=16M,"
               "scenario=a.rules \\\n      --device blk,socket-path=b.sock,"
               "latency=1ms,size=16M,fault=on=flush,,do=hang\n");
}

/* "TYPE,k=v,k=v" split at single commas; ",," is a comma of the value,
 * as in QEMU's option strings (a fault rule is itself a comma list).
 * Empty pieces are skipped. Each piece is malloc'd into @argv, which has
 * room for strlen(spec) + 1 of them. */
static int spec_split(const char *spec, char **argv, int *argc)
{
    size_t n = strlen(spec);
    char *buf = malloc(n + 1);
    size_t k = 0;

    if (!buf) {
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        if (spec[i] == ',' && spec[i + 1] == ',') {
            buf[k++] = spec[i++];
            continue;
        }
        if (spec[i] != ',' && spec[i] != '\0') {
            buf[k++] = spec[i];
            continue;
        }
        buf[k] = '\0';
        if (k > 0 && asprintf(&argv[*argc], *argc ? "--%s" : "%s", buf) < 0) {
            argv[*argc] = NULL;
            free(buf);
            return -1;
        }
        *argc += k > 0;
        k = 0;
    }
    free(buf);
    return 0;
}

/* A generic option of the whole run given inside --device: refused, as
 * it would apply to every device or, after the first, to none. */
static int multi_run_opts(const struct vusim_cli *base,
                          const struct multi_dev *md, const char *spec)
{
    uint64_t added = md->c.seen & ~base->seen;

    for (size_t r = 0; gopts[r].name && r < 64; r++) {
        if ((gopts[r].flags & VUSIM_OPT_RUN) && ((added >> r) & 1)) {
            return vusim_opts_bad("--device=%s: %s: an option of the whole "
                                  "run, not of one device; give --%s "
                                  "before the devices", spec, gopts[r].name,
                                  gopts[r].name);
        }
    }
    return 0;
}

/* "TYPE,k=v,k=v" into a device parsed like `vusim TYPE --k=v --k=v`, with
 * the generic options of @base. */
static int multi_device(const struct vusim_cli *base, const char *spec,
                        struct multi_dev *md)
{
    const struct dev_ops *ops;
    int rc = 0;

    md->argv = calloc(strlen(spec) + 2, sizeof(char *));
    if (!md->argv || spec_split(spec, md->argv, &md->argc) < 0) {
        return vusim_opts_bad("out of memory");
    }
    if (md->argc == 0 || !(ops = dev_lookup(md->argv[0]))) {
        return vusim_opts_bad("--device=%s: expected TYPE,KEY=VALUE,... with "
                             "TYPE a device such as blk or rng", spec);
    }
    md->c = *base;
    md->c.ops = ops;
    md->c.dopts = NULL;
    md->c.ndopts = md->c.dopts_cap = 0;
    md->c.scenario = NULL;
    md->c.nscenario = 0;
    rc = cli_parse(&md->c, md->argc, md->argv);
    if (rc == 0) {
        rc = multi_run_opts(base, md, spec);
    }
    return rc ? rc : cli_check(&md->c);
}

static void multi_free(struct multi_dev *md, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < md[i].argc; k++) {
            free(md[i].argv[k]);
        }
        free(md[i].argv);
        free(md[i].c.dopts);
        faults_lines_free(md[i].c.scenario, md[i].c.nscenario);
    }
}

/* --device TYPE,KEY=VALUE,...: collected, parsed once the generic
 * options are known. */
struct multi_specs {
    const char *spec[VUSIM_MAX_DEVICES];
    size_t n;
};

static int set_device(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct multi_specs *ms = ctx;

    (void)o;
    if (ms->n == VUSIM_MAX_DEVICES) {
        return vusim_opts_bad("--device=%s: at most %d devices", v,
                              VUSIM_MAX_DEVICES);
    }
    ms->spec[ms->n++] = v;
    return 0;
}

static const struct vusim_opt multi_opts[] = {
    {"device", "TYPE,KEY=VALUE,...", "a device and its options; "
     "repeatable", set_device, 0, 0, NULL},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};

/* An unknown option of multi: a device's own (--fault, --size) is given
 * inside --device. */
static int multi_other(void *ctx, const char *arg)
{
    (void)ctx;
    if (strncmp(arg, "--fault", 7) == 0 && (!arg[7] || arg[7] == '=')) {
        return vusim_opts_bad("%s: rules are per device in multi: give "
                              "fault=RULE inside --device, each comma of the "
                              "rule doubled (fault=on=write,,nth=3,,do=error,,"
                              "status=ioerr), or scenario=FILE", arg);
    }
    return vusim_opts_bad("%s: unknown option for multi; a device's options "
                          "go inside --device TYPE,KEY=VALUE,... (see vusim "
                          "multi --help)", arg);
}

/* Collect --device specs; everything else is a generic option. */
static int multi_args(struct vusim_cli *base, int argc, char **argv,
                      struct multi_specs *ms)
{
    const struct vusim_optset sets[] = {
        {gopts, base, &base->seen},
        {multi_opts, ms, NULL},
    };
    const struct vusim_cmdline cl = {.cmd = "multi", .sets = sets,
                                     .nsets = 2, .other = multi_other};
    int rc = vusim_opts_parse(&cl, argc, argv);

    if (rc == 0 && ms->n == 0) {
        rc = vusim_opts_bad("multi: no device; give --device TYPE,KEY=VALUE,"
                            "... (see vusim multi --help)");
    }
    if (rc == 0 && (base->socket_path || base->fd_arg || base->trace)) {
        rc = vusim_opts_bad("multi: socket-path, fd and trace are per "
                            "device: give them inside --device");
    }
    return rc;
}

static int multi_main(int argc, char **argv)
{
    struct multi_dev md[VUSIM_MAX_DEVICES] = {{.argc = 0}};
    const struct vusim_cli *cs[VUSIM_MAX_DEVICES];
    struct multi_specs ms = {.n = 0};
    struct vusim_cli base;
    size_t built = 0;
    int rc;

    if (vusim_opts_help_wanted(argc, argv)) {
        multi_help(stdout);
        return 0;
    }
    cli_defaults(&base, &multi_ops);
    rc = multi_args(&base, argc, argv, &ms);
    for (; rc == 0 && built < ms.n; built++) {
        rc = multi_device(&base, ms.spec[built], &md[built]);
        cs[built] = &md[built].c;
    }
    if (rc == 0) {
        rc = vusim_serve_many(cs, ms.n);
    }
    multi_free(md, built);
    return rc;
}

static int unknown_device(const char *word)
{
    char list[256] = "";
    size_t n = 0;

    for (size_t i = 0; dev_registry[i] && n < sizeof(list); i++) {
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s, ",
                              dev_registry[i]->name);
    }
    return vusim_opts_bad("%s: unknown device; expected %sor demo (see "
                         "vusim --help)", word, list);
}

static int word_main(const char *word, int argc, char **argv)
{
    const struct dev_ops *ops;

    if (strcmp(word, "demo") == 0) {
        return vusim_demo_main(argc, argv);
    }
    if (strcmp(word, "trace") == 0) {
        return trace_cmd_main(argc, argv);
    }
    if (strcmp(word, "multi") == 0) {
        return multi_main(argc, argv);
    }
    if (strcmp(word, "replay") == 0) {
        return trace_replay_main(argc, argv);
    }
    if (strcmp(word, "ctl") == 0) {
        return vu_control_client_main(argc, argv);
    }
    ops = dev_lookup(word);
    if (!ops) {
        return unknown_device(word);
    }
    return device_main(ops, argc, argv);
}

int vusim_main(int argc, char **argv, const struct dev_ops *ops)
{
    const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;

    own_prog = base ? base + 1 : argv[0] ? argv[0] : ops->name;
    dev_register(ops);
    if (argc >= 2 && (strcmp(argv[1], "replay") == 0 ||
                      strcmp(argv[1], "trace") == 0)) {
        return word_main(argv[1], argc - 1, argv + 1);
    }
    return device_main(ops, argc, argv);
}

#ifndef VUSIM_NO_MAIN
int main(int argc, char **argv)
{
    const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;

    base = base ? base + 1 : argv[0] ? argv[0] : PROG;
    /* vusim-blk, vusim-rng: the device is in the program's name. */
    if (strncmp(base, PROG "-", sizeof(PROG)) == 0 && base[sizeof(PROG)]) {
        argv[0] = (char *)base + sizeof(PROG);
        return word_main(argv[0], argc, argv);
    }
    if (argc < 2) {
        return vusim_opts_bad("missing DEVICE: expected vusim DEVICE "
                             "[options], vusim demo or vusim --help");
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        main_help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf(PROG " " PACKAGE_VERSION "\n");
        return 0;
    }
    if (argv[1][0] == '-') {
        return vusim_opts_bad("%s: expected a DEVICE first (vusim DEVICE "
                             "[options]; see vusim --help)", argv[1]);
    }
    return word_main(argv[1], argc - 1, argv + 1);
}
#endif
