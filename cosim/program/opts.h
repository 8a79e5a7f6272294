/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/opts.h - the one option parser of the vusim program and
 * its subcommands (`vusim DEVICE`, multi, demo, trace, replay, and every
 * program built on vusim_main())
 *
 * Model:       a command's options are tables of struct vusim_opt (name,
 *              metavar, help, setter), searched in order; the generic
 *              options are one shared table (vusim.c). An argument is
 *              "--name=value", "--name value" (an option with a metavar),
 *              "--name" (a flag, metavar NULL) or a short "-v" (the
 *              option's shortopt). vusim_opts_parse() walks argv once and
 *              calls each option's setter with its value; words that are
 *              not options go to the command's positional hook, unknown
 *              "--options" to its other hook (replay's device overrides).
 *              vusim_opts_help() prints the same tables as --help lines.
 * Owns:        nothing; the tables are static or the caller's.
 * Borrows:     argv and the tables for the call; a setter gets a pointer
 *              into argv (valid as long as argv is).
 * Threading:   single thread (writes to stderr).
 * Errors:      every refusal is one line on stderr, "vusim: " then the
 *              option as given ("--OPT=VALUE") then what is allowed, and
 *              the status VUSIM_OPTS_BAD (2), which the program exits with.
 *              Setters report the same way (vusim_opts_bad()) and return
 *              its status; 0 is success.
 * Determinism: parsing depends on argv and the tables only.
 */
#ifndef VUSIM_COSIM_PROGRAM_OPTS_H
#define VUSIM_COSIM_PROGRAM_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/dev.h"

#define VUSIM_OPTS_BAD 2     /* exit status for a bad option */

struct vusim_opt;

/* Take option @o's @value (NULL for a flag) into @ctx: 0, or
 * VUSIM_OPTS_BAD after vusim_opts_bad(). */
typedef int (*vusim_opt_set_fn)(void *ctx, const struct vusim_opt *o,
                                const char *value);

enum {
    VUSIM_OPT_ONCE = 1u << 0,       /* a second one is refused */
    VUSIM_OPT_PER_DEVICE = 1u << 1, /* not at multi's top level (help) */
    VUSIM_OPT_RUN = 1u << 2,        /* the whole run's: not in --device */
};

struct vusim_opt {
    const char *name;       /* "socket-path" for --socket-path */
    const char *metavar;    /* "PATH"; NULL for a flag */
    const char *help;
    vusim_opt_set_fn set;   /* NULL: accepted, nothing to set (--help) */
    char shortopt;          /* 'v' for -v; 0 for none */
    unsigned flags;         /* VUSIM_OPT_* */
    const char *target;     /* the setter's name for the value; NULL: name
                               (an alias: a device option's other name) */
};

/* One table of a command: NULL-name terminated, with its setters' @ctx.
 * @seen (may be NULL) holds a bit per table row, for VUSIM_OPT_ONCE;
 * at most 64 rows use it. */
struct vusim_optset {
    const struct vusim_opt *opts;
    void *ctx;
    uint64_t *seen;
};

/* A command line to parse: its name ("blk", "demo", "trace export") for
 * the error lines, its tables in order, and what else it takes. */
struct vusim_cmdline {
    const char *cmd;
    const struct vusim_optset *sets;
    size_t nsets;
    /* A word that is not an option ("TRACE"): 0 or VUSIM_OPTS_BAD. NULL:
     * the command takes none. */
    int (*positional)(void *ctx, const char *arg);
    /* An unknown "--name[=value]" (as given): NULL refuses it. */
    int (*other)(void *ctx, const char *arg);
    void *ctx;
};

/* Print "vusim: " and the message on stderr; returns VUSIM_OPTS_BAD. */
int vusim_opts_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse argv[1..argc-1]: 0, or VUSIM_OPTS_BAD after one line on stderr
 * (the first bad argument or what its setter refused). */
int vusim_opts_parse(const struct vusim_cmdline *cl, int argc, char **argv);

/* Is "--help" or "-h" among argv[1..]? (Help wins over bad options.) */
bool vusim_opts_help_wanted(int argc, char **argv);

/* One help line per row of @opts but those with a flag in @skip:
 * "  -v, --name=METAVAR   help", wrapped at 80 columns. */
void vusim_opts_help(FILE *f, const struct vusim_opt *opts, unsigned skip);

/*
 * The rows of a device's options (ops->opts), each with setter @set and
 * its value under the device option's name, plus a row per alias the
 * device declares (ops->aliases, whose target is one of its options;
 * others are left out), into a calloc'ed NULL-terminated table; NULL when
 * out of memory.
 */
struct vusim_opt *vusim_opts_from_dev(const struct dev_ops *ops,
                                      vusim_opt_set_fn set);

/* Setters of values several commands take; @ctx points at the value.
 * --trace-digest=ALG (enum trace_digest), --log-level=LEVEL (int). */
int vusim_opts_set_digest(void *ctx, const struct vusim_opt *o,
                          const char *v);
int vusim_opts_set_log_level(void *ctx, const struct vusim_opt *o,
                             const char *v);

/* The name an option's value goes under: o->target, else o->name. */
static inline const char *vusim_opt_target(const struct vusim_opt *o)
{
    return o->target ? o->target : o->name;
}

#endif
