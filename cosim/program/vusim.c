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
#include "cosim/program/cli.h"
#include "cosim/control/control.h"
#include "cosim/program/demo.h"
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
 * VHostUserBackendType by virtio device id. QEMU's schema defines features
 * only for "block" (read-only, blk-file), "input" and "gpu"; for "rng" it
 * has the type but no features, so an rng back-end reports the type alone.
 */
static const struct vusim_cap {
    uint32_t virtio_id;
    const char *type;
    const char *features; /* JSON array body, or NULL */
} vusim_caps[] = {
    {1, "net", NULL},
    {2, "block", "\"read-only\",\n        \"blk-file\""},
    {3, "console", NULL},
    {4, "rng", NULL},
    {5, "balloon", NULL},
    {7, "rpmsg", NULL},
    {8, "scsi", NULL},
    {9, "9p", NULL},
    {11, "rproc-serial", NULL},
    {12, "caif", NULL},
    {16, "gpu", NULL},
    {18, "input", NULL},
    {19, "vsock", NULL},
    {20, "crypto", NULL},
    {26, "fs", NULL},
};

static const struct vusim_cap *cap_find(uint32_t virtio_id)
{
    for (size_t i = 0; i < sizeof(vusim_caps) / sizeof(vusim_caps[0]); i++) {
        if (vusim_caps[i].virtio_id == virtio_id) {
            return &vusim_caps[i];
        }
    }
    return NULL;
}

static int print_capabilities(const struct dev_ops *ops)
{
    const struct vusim_cap *cap = cap_find(ops->virtio_id);

    if (!cap) {
        fprintf(stderr, PROG ": %s: virtio id %u has no vhost-user type\n",
                ops->name, ops->virtio_id);
        return 1;
    }
    printf("{\n    \"type\": \"%s\"", cap->type);
    if (cap->features) {
        printf(",\n    \"features\": [\n        %s\n    ]", cap->features);
    }
    printf("\n}\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- options ------------------------------------------------------------ */

enum gopt {
    GOPT_SOCKET_PATH,
    GOPT_FD,
    GOPT_PRINT_CAPS,
    GOPT_INBAND,
    GOPT_CLOCK,
    GOPT_STATS,
    GOPT_TRACE,
    GOPT_TRACE_DIGEST,
    GOPT_VERBOSE,
    GOPT_LOG_LEVEL,
    GOPT_TIME_TRAVEL,
    GOPT_START_TIME,
    GOPT_FREE_UNTIL,
    GOPT_GUESTS,
    GOPT_SCENARIO,
    GOPT_CONTROL,
    GOPT_HELP,
    GOPT_N,
};

static const struct dev_optdesc gopts[GOPT_N] = {
    [GOPT_SOCKET_PATH] = {"socket-path", "PATH",
                          "listen on this Unix socket (mode 0600, removed "
                          "at exit)"},
    [GOPT_FD] = {"fd", "FDNUM",
                 "serve an inherited socket, listening or connected"},
    [GOPT_PRINT_CAPS] = {"print-capabilities", NULL,
                         "print the vhost-user capabilities (JSON) and exit"},
    [GOPT_INBAND] = {"inband", "auto|on|off",
                     "offer in-band notifications (default auto)"},
    [GOPT_CLOCK] = {"clock", "afap|realtime[:RATIO]",
                    "as fast as possible (default) or paced to the host "
                    "clock"},
    [GOPT_STATS] = {"stats", "FILE", "write a JSON summary at exit"},
    [GOPT_TRACE] = {"trace", "FILE", "record the run as a deterministic "
                    "trace (vusim trace, vusim replay)"},
    [GOPT_TRACE_DIGEST] = {"trace-digest", "ALG",
                           "digest of what each completion wrote: xxh128 "
                           "(default) or sha256"},
    [GOPT_VERBOSE] = {"verbose", NULL,
                      "log every vhost-user message decoded"},
    [GOPT_LOG_LEVEL] = {"log-level", "LEVEL",
                        "err, warn (default), info, debug or trace"},
    [GOPT_TIME_TRAVEL] = {"time-travel", "PATH",
                          "be the time controller of UMLs started with "
                          "time-travel=ext:ID:PATH and of vusim's QEMUs "
                          "started with -object time-travel,path=PATH"},
    [GOPT_START_TIME] = {"start-time", "SECONDS",
                         "the guests' time of day at simulated time 0, in "
                         "seconds since 1970 (default 1767225600)"},
    [GOPT_FREE_UNTIL] = {"free-until", "on|off",
                         "let a guest run without asking up to the next "
                         "foreign event (default on)"},
    [GOPT_GUESTS] = {"guests", "N",
                     "time-travel guests to start together (default: one "
                     "per device)"},
    [GOPT_SCENARIO] = {"scenario", "FILE",
                       "fault rules, one per line ('#' comments), as if "
                       "each were a --fault here"},
    [GOPT_CONTROL] = {"control", "PATH",
                      "a QMP-style control socket (mode 0600): stop, step, "
                      "break, rules at run time (vusim ctl)"},
    [GOPT_HELP] = {"help", NULL, "show this help and exit"},
};

/* --blk-file=PATH is vhost-user-blk's name (the "blk-file" capability)
 * for what our blk model calls --backing. */
#define ALIAS_NAME "blk-file"
#define ALIAS_TARGET "backing"

static bool has_opt(const struct dev_ops *ops, const char *name)
{
    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        if (strcmp(d->name, name) == 0) {
            return true;
        }
    }
    return false;
}

static const struct dev_optdesc *dev_optdesc(const struct dev_ops *ops,
                                             const char *name)
{
    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        if (strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

static int parse_fd(struct vusim_cli *c, const char *v)
{
    long fd = 0;

    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || fd > 100000000) {
            return vusim_cli_bad("--fd=%s: expected a file descriptor "
                                 "number (0 or more)", v);
        }
        fd = fd * 10 + (*p - '0');
    }
    if (!v[0]) {
        return vusim_cli_bad(
            "--fd=: expected a file descriptor number (0 or more)");
    }
    c->fd = (int)fd;
    c->fd_arg = v;
    return 0;
}

static int parse_clock(struct vusim_cli *c, const char *v)
{
    char err[160];

    if (strcmp(v, "external") == 0) {
        return vusim_cli_bad(
            "--clock=external: reserved for the UML time-travel "
            "controller; expected afap or realtime[:RATIO]");
    }
    if (sim_clock_parse(v, &c->clock, err, sizeof(err)) < 0) {
        if (strncmp(v, "realtime:", 9) == 0) {
            return vusim_cli_bad("--clock=%s: RATIO must be a positive "
                                 "decimal such as 0.25 or 10", v);
        }
        return vusim_cli_bad(
            "--clock=%s: expected afap, realtime or realtime:RATIO", v);
    }
    return 0;
}

static int parse_socket_path(struct vusim_cli *c, const char *v)
{
    if (!v[0]) {
        return vusim_cli_bad("--socket-path=: expected a path");
    }
    if (strlen(v) >= UNIX_PATH_MAX) {
        return vusim_cli_bad("--socket-path=%s: longer than %d bytes, the "
                             "limit of a Unix socket path", v,
                             UNIX_PATH_MAX - 1);
    }
    c->socket_path = v;
    return 0;
}

static int parse_time_travel(struct vusim_cli *c, const char *v)
{
    if (!v[0] || strlen(v) >= UNIX_PATH_MAX) {
        return vusim_cli_bad("--time-travel=%s: expected a Unix socket path "
                             "shorter than %d bytes", v, UNIX_PATH_MAX);
    }
    c->time_travel = v;
    return 0;
}

/* SECONDS[.FRACTION] since 1970, exact to the nanosecond. */
static int parse_start_time(struct vusim_cli *c, const char *v)
{
    uint64_t s = 0, ns = 0, scale = 100000000;
    const char *p = v;

    for (; *p >= '0' && *p <= '9' && s < 100000000000ull; p++) {
        s = s * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10) {
            ns += (uint64_t)(*p - '0') * scale;
        }
    }
    if (p == v || *p != '\0' || s >= 100000000000ull) {
        return vusim_cli_bad("--start-time=%s: expected seconds since 1970, "
                             "such as 1767225600 or 1767225600.5 (at most "
                             "9 decimals)", v);
    }
    c->start_tod_ns = s * 1000000000u + ns;
    return 0;
}

static int generic_opt(struct vusim_cli *c, enum gopt id, const char *v)
{
    int lvl;

    switch (id) {
    case GOPT_SOCKET_PATH:
        return parse_socket_path(c, v);
    case GOPT_FD:
        return parse_fd(c, v);
    case GOPT_INBAND:
        if (vu_inband_parse(v, &c->inband) < 0) {
            return vusim_cli_bad("--inband=%s: expected auto, on or off", v);
        }
        return 0;
    case GOPT_CLOCK:
        return parse_clock(c, v);
    case GOPT_STATS:
        c->stats = v;
        return 0;
    case GOPT_TRACE:
        c->trace = v;
        return 0;
    case GOPT_CONTROL:
        if (!v[0] || strlen(v) >= UNIX_PATH_MAX) {
            return vusim_cli_bad("--control=%s: expected a Unix socket path "
                                 "shorter than %d bytes", v, UNIX_PATH_MAX);
        }
        c->control = v;
        return 0;
    case GOPT_TRACE_DIGEST:
        if (trace_digest_parse(v, &c->trace_digest) < 0) {
            return vusim_cli_bad("--trace-digest=%s: expected xxh128 or "
                                 "sha256", v);
        }
        return 0;
    case GOPT_VERBOSE:
        c->verbose = true;
        return 0;
    case GOPT_TIME_TRAVEL:
        return parse_time_travel(c, v);
    case GOPT_START_TIME:
        return parse_start_time(c, v);
    case GOPT_FREE_UNTIL:
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
            return vusim_cli_bad("--free-until=%s: expected on or off", v);
        }
        c->free_until = strcmp(v, "on") == 0;
        return 0;
    case GOPT_GUESTS: {
        char *end;
        unsigned long n = strtoul(v, &end, 10);

        if (!v[0] || *end || n < 1 || n > 64) {
            return vusim_cli_bad("--guests=%s: expected a number from 1 to "
                                 "64", v);
        }
        c->guests = (unsigned)n;
        return 0;
    }
    case GOPT_LOG_LEVEL:
        if ((lvl = vusim_log_level_parse(v)) < 0) {
            return vusim_cli_bad("--log-level=%s: expected err, warn, "
                                 "info, debug or trace", v);
        }
        c->log_level = lvl;
        return 0;
    default:
        return 0; /* --help, --print-capabilities: pre-scanned */
    }
}

/* "socket-path, fd, ..." then the device's: for the unknown-option line. */
static void allowed_list(const struct dev_ops *ops, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (int i = 0; i < GOPT_N && n < len; i++) {
        n += (size_t)snprintf(buf + n, len - n, "%s--%s", i ? ", " : "",
                              gopts[i].name);
    }
    for (const struct dev_optdesc *d = ops->opts; d && d->name && n < len;
         d++) {
        n += (size_t)snprintf(buf + n, len - n, ", --%s", d->name);
    }
    if (has_opt(ops, ALIAS_TARGET) && n < len) {
        snprintf(buf + n, len - n, ", --%s", ALIAS_NAME);
    }
}

static int unknown_opt(const struct dev_ops *ops, const char *arg)
{
    char list[1024];

    allowed_list(ops, list, sizeof(list));
    return vusim_cli_bad("%s: unknown option for %s; allowed: %s", arg,
                         ops->name, list);
}

/* Which option @name is: a generic one (*g), a device one (*d), or none. */
static void opt_lookup(const struct dev_ops *ops, const char **name, int *g,
                       const struct dev_optdesc **d)
{
    *g = -1;
    *d = NULL;
    for (int i = 0; i < GOPT_N; i++) {
        if (strcmp(gopts[i].name, *name) == 0) {
            *g = i;
            return;
        }
    }
    if (strcmp(*name, ALIAS_NAME) == 0 && has_opt(ops, ALIAS_TARGET)) {
        *name = ALIAS_TARGET;
    }
    *d = dev_optdesc(ops, *name);
}

/* --scenario=FILE: its rules become "fault" options here, so the trace's
 * HEADER holds the rules themselves and replay needs no file. */
static int parse_scenario(struct vusim_cli *c, int argc, const char *path)
{
    char err[768];
    struct dev_opt *o;

    if (!c->ops->fault_actions) {
        return vusim_cli_bad("--scenario=%s: device %s has no fault rules",
                             path, c->ops->name);
    }
    if (faults_scenario_lines(path, c->ops->fault_actions, &c->scenario,
                              &c->nscenario, err, sizeof(err)) < 0) {
        return vusim_cli_bad("%s", err);
    }
    o = realloc(c->dopts, ((size_t)argc + c->nscenario) * sizeof(*o));
    if (!o) {
        return vusim_cli_bad("--scenario=%s: out of memory", path);
    }
    c->dopts = o;
    for (size_t k = 0; k < c->nscenario; k++) {
        c->dopts[c->ndopts++] = (struct dev_opt){"fault", c->scenario[k]};
    }
    return 0;
}

static int parse_one(struct vusim_cli *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *name, *value;
    const struct dev_optdesc *d;
    char nbuf[64];
    int g, rc;

    if (strcmp(a, "-v") == 0) {
        argv[*i] = (char *)(a = "--verbose");
    }
    if (!vusim_cli_name(a, nbuf, sizeof(nbuf))) {
        return vusim_cli_bad("%s: unexpected argument; options are "
                             "--name=value (see vusim %s --help)",
                             a, c->ops->name);
    }
    name = nbuf;
    opt_lookup(c->ops, &name, &g, &d);
    if (g < 0 && !d) {
        return unknown_opt(c->ops, a);
    }
    rc = vusim_cli_value(argc, argv, i, g >= 0 ? gopts[g].metavar : d->metavar,
                         &value);
    if (rc) {
        return rc;
    }
    if (g < 0) {
        c->dopts[c->ndopts++] = (struct dev_opt){d->name, value};
        return 0;
    }
    if (c->seen & (1u << g)) {
        return vusim_cli_bad("%s: --%s given more than once; allowed once", a,
                             gopts[g].name);
    }
    c->seen |= 1u << g;
    if (g == GOPT_SCENARIO) {
        return parse_scenario(c, argc, value);
    }
    return generic_opt(c, (enum gopt)g, value);
}

/* A parsed device: exactly one socket, and options its model knows. */
static int cli_check(struct vusim_cli *c)
{
    char err[512] = "";

    if (c->socket_path && c->fd_arg) {
        return vusim_cli_bad("--socket-path=%s and --fd=%s: give one of "
                             "them, not both", c->socket_path, c->fd_arg);
    }
    if (!c->socket_path && !c->fd_arg) {
        return vusim_cli_bad("no socket: give --socket-path=PATH or "
                             "--fd=FDNUM (see vusim %s --help)",
                             c->ops->name);
    }
    if (dev_opts_check(c->ops, c->dopts, c->ndopts, err, sizeof(err)) < 0) {
        return vusim_cli_bad("%s", err);
    }
    return 0;
}

static int cli_parse(struct vusim_cli *c, int argc, char **argv)
{
    int rc;

    for (int i = 1; i < argc; i++) {
        if ((rc = parse_one(c, argc, argv, &i)) != 0) {
            return rc;
        }
    }
    return cli_check(c);
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
        const struct vusim_cap *cap = cap_find(dev_registry[i]->virtio_id);

        fprintf(f, "  %-8s virtio %s (virtio id %u)\n", dev_registry[i]->name,
                cap ? cap->type : "device", dev_registry[i]->virtio_id);
    }
    fprintf(f, "  %-8s run a blk co-simulation with the reference "
               "front-end\n\n", "demo");
    fprintf(f, "'" PROG " DEVICE --help' lists the generic options and the "
               "device's own.\nSee vusim(1).\n");
}

#endif

static void dev_help(FILE *f, const struct dev_ops *ops)
{
    const struct vusim_cap *cap = cap_find(ops->virtio_id);

    fprintf(f,
            "Usage: " PROG " %s --socket-path=PATH | --fd=FDNUM "
            "[options]\n       " PROG " %s --print-capabilities\n\n"
            "Serve a virtio %s device (virtio id %u) to one vhost-user "
            "front-end at a\ntime, with its timing on the simulation "
            "calendar.\n\nGeneric options:\n",
            ops->name, ops->name, cap ? cap->type : "", ops->virtio_id);
    for (int i = 0; i < GOPT_N; i++) {
        const char *shortopt = i == GOPT_VERBOSE ? "-v, "
                               : i == GOPT_HELP  ? "-h, " : "";

        vusim_cli_help_opt(f, shortopt, &gopts[i]);
    }
    fprintf(f, "\nOptions of %s:\n", ops->name);
    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        vusim_cli_help_opt(f, "", d);
    }
    if (has_opt(ops, ALIAS_TARGET)) {
        static const struct dev_optdesc alias = {
            ALIAS_NAME, "PATH",
            "the same as --" ALIAS_TARGET " (vhost-user-blk's name)"};

        vusim_cli_help_opt(f, "", &alias);
    }
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
    if (vusim_cli_help_wanted(argc, argv)) {
        dev_help(stdout, ops);
        return 0;
    }
    c.dopts = calloc((size_t)argc, sizeof(*c.dopts));
    if (!c.dopts) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    rc = cli_parse(&c, argc, argv);
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
               "(or fd) and trace, which are per device. With\n"
               "--time-travel, every UML guest joins the same calendar "
               "(--guests=N,\nby default one per device).\n\n"
               "Generic options:\n");
    for (int i = 0; i < GOPT_N; i++) {
        if (i != GOPT_SOCKET_PATH && i != GOPT_FD && i != GOPT_TRACE &&
            i != GOPT_PRINT_CAPS) {
            vusim_cli_help_opt(f, i == GOPT_VERBOSE ? "-v, " :
                               i == GOPT_HELP ? "-h, " : "", &gopts[i]);
        }
    }
    fprintf(f, "\nExample:\n  " PROG " multi --time-travel=tt.sock \\\n"
               "      --device blk,socket-path=a.sock,latency=1ms,size=16M "
               "\\\n      --device blk,socket-path=b.sock,latency=1ms,"
               "size=16M\n");
}

/* "TYPE,k=v,k=v" into a device parsed like `vusim TYPE --k=v --k=v`, with
 * the generic options of @base. */
static int multi_device(const struct vusim_cli *base, const char *spec,
                        struct multi_dev *md)
{
    char *copy = strdup(spec), *save = NULL, *tok;
    const struct dev_ops *ops;
    int rc = 0;

    md->argv = calloc(strlen(spec) + 2, sizeof(char *));
    if (!copy || !md->argv) {
        free(copy);
        return vusim_cli_bad("out of memory");
    }
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (md->argc > 0 && asprintf(&md->argv[md->argc], "--%s", tok) < 0) {
            md->argv[md->argc] = NULL;
            free(copy);
            return vusim_cli_bad("out of memory");
        }
        if (md->argc == 0) {
            md->argv[0] = strdup(tok);
        }
        md->argc++;
    }
    free(copy);
    if (md->argc == 0 || !(ops = dev_lookup(md->argv[0]))) {
        return vusim_cli_bad("--device=%s: expected TYPE,KEY=VALUE,... with "
                             "TYPE a device such as blk or rng", spec);
    }
    md->c = *base;
    md->c.ops = ops;
    md->c.dopts = calloc((size_t)md->argc, sizeof(*md->c.dopts));
    md->c.ndopts = 0;
    if (!md->c.dopts) {
        return vusim_cli_bad("out of memory");
    }
    for (int i = 1; i < md->argc && rc == 0; i++) {
        rc = parse_one(&md->c, md->argc, md->argv, &i);
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

/* Collect --device specs; everything else is a generic option. */
static int multi_args(struct vusim_cli *base, int argc, char **argv,
                      const char **specs, size_t *n)
{
    int rc = 0;

    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--device") == 0 || strncmp(a, "--device=", 9) == 0) {
            if (*n == VUSIM_MAX_DEVICES || (a[8] == '\0' && i + 1 >= argc)) {
                return vusim_cli_bad("%s: at most %d devices, each with a "
                                     "value", a, VUSIM_MAX_DEVICES);
            }
            specs[(*n)++] = a[8] == '=' ? a + 9 : argv[++i];
        } else {
            rc = parse_one(base, argc, argv, &i);
        }
    }
    if (rc == 0 && *n == 0) {
        rc = vusim_cli_bad("multi: no device; give --device TYPE,KEY=VALUE,"
                           "... (see vusim multi --help)");
    }
    if (rc == 0 && (base->socket_path || base->fd_arg || base->trace)) {
        rc = vusim_cli_bad("multi: socket-path, fd and trace are per device: "
                           "give them inside --device");
    }
    return rc;
}

static int multi_main(int argc, char **argv)
{
    struct multi_dev md[VUSIM_MAX_DEVICES] = {{.argc = 0}};
    const struct vusim_cli *cs[VUSIM_MAX_DEVICES];
    const char *specs[VUSIM_MAX_DEVICES];
    struct vusim_cli base;
    size_t n = 0, built = 0;
    int rc;

    if (vusim_cli_help_wanted(argc, argv)) {
        multi_help(stdout);
        return 0;
    }
    cli_defaults(&base, &multi_ops);
    rc = multi_args(&base, argc, argv, specs, &n);
    for (; rc == 0 && built < n; built++) {
        rc = multi_device(&base, specs[built], &md[built]);
        cs[built] = &md[built].c;
    }
    if (rc == 0) {
        rc = vusim_serve_many(cs, n);
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
    return vusim_cli_bad("%s: unknown device; expected %sor demo (see "
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
        return vusim_cli_bad("missing DEVICE: expected vusim DEVICE "
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
        return vusim_cli_bad("%s: expected a DEVICE first (vusim DEVICE "
                             "[options]; see vusim --help)", argv[1]);
    }
    return word_main(argv[1], argc - 1, argv + 1);
}
#endif
