/* SPDX-License-Identifier: MIT */
/* The option parser of the vusim program (cosim/program/opts.h). */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cosim/program/opts.h"
#include "sim/log.h"
#include "traces/trace.h"

int vusim_opts_bad(const char *fmt, ...)
{
    va_list ap;

    fputs("vusim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return VUSIM_OPTS_BAD;
}

bool vusim_opts_help_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return true;
        }
    }
    return false;
}

/* Where an option was found: its set and its row. */
struct found {
    const struct vusim_optset *set;
    size_t row;
};

/* Row named @name (@nlen bytes), or with @shortopt when @name is NULL. */
static bool lookup(const struct vusim_cmdline *cl, const char *name,
                   size_t nlen, char shortopt, struct found *f)
{
    for (size_t s = 0; s < cl->nsets; s++) {
        const struct vusim_opt *o = cl->sets[s].opts;

        for (size_t r = 0; o && o[r].name; r++) {
            if (name ? strlen(o[r].name) == nlen &&
                       strncmp(o[r].name, name, nlen) == 0
                     : o[r].shortopt && o[r].shortopt == shortopt) {
                *f = (struct found){ &cl->sets[s], r };
                return true;
            }
        }
    }
    return false;
}

/* "--a, --b, ..." of every table, for the unknown-option line. */
static void allowed_list(const struct vusim_cmdline *cl, char *buf,
                         size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t s = 0; s < cl->nsets; s++) {
        for (const struct vusim_opt *o = cl->sets[s].opts; o && o->name;
             o++) {
            int w = snprintf(buf + n, len - n, "%s--%s", n ? ", " : "",
                             o->name);

            if (w < 0 || (size_t)w >= len - n) {
                return;
            }
            n += (size_t)w;
        }
    }
}

static int unknown(const struct vusim_cmdline *cl, const char *arg)
{
    char list[1536];

    if (cl->other) {
        return cl->other(cl->ctx, arg);
    }
    allowed_list(cl, list, sizeof(list));
    return vusim_opts_bad("%s: unknown option for %s; allowed: %s", arg,
                          cl->cmd, list[0] ? list : "none");
}

static int positional(const struct vusim_cmdline *cl, const char *arg)
{
    if (cl->positional) {
        return cl->positional(cl->ctx, arg);
    }
    return vusim_opts_bad("%s: unexpected argument; options are "
                          "--name=value (see vusim %s --help)", arg, cl->cmd);
}

/* The value of option argv[*i] ("--name..." naming @o): after '=', else,
 * if it takes one, the next argument (*i then moves past it). */
static int value_of(const struct vusim_opt *o, int argc, char **argv, int *i,
                    const char **value)
{
    const char *arg = argv[*i], *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;

    *value = eq ? eq + 1 : NULL;
    if (o->metavar && !eq && *i + 1 < argc) {
        *value = argv[++*i];
    }
    if (o->metavar && !*value) {
        return vusim_opts_bad("--%s: needs a value: --%s=%s", o->name,
                              o->name, o->metavar);
    }
    if (!o->metavar && *value) {
        return vusim_opts_bad("%s: --%s is a flag and takes no value", arg,
                              o->name);
    }
    return 0;
}

static int once(const struct found *f, const char *arg)
{
    const struct vusim_opt *o = &f->set->opts[f->row];
    uint64_t bit = f->row < 64 ? 1ull << f->row : 0;

    if (!(o->flags & VUSIM_OPT_ONCE) || !f->set->seen || !bit) {
        return 0;
    }
    if (*f->set->seen & bit) {
        return vusim_opts_bad("%s: --%s given more than once; allowed once",
                              arg, o->name);
    }
    *f->set->seen |= bit;
    return 0;
}

static int parse_one(const struct vusim_cmdline *cl, int argc, char **argv,
                     int *i)
{
    const char *a = argv[*i], *value;
    const struct vusim_opt *o;
    struct found f;
    bool found;
    int rc;

    if (a[0] == '-' && a[1] && a[1] != '-' && !a[2]) {
        found = lookup(cl, NULL, 0, a[1], &f);
    } else if (a[0] == '-' && a[1] == '-' && a[2] && a[2] != '=') {
        found = lookup(cl, a + 2, strcspn(a + 2, "="), 0, &f);
    } else {
        return positional(cl, a);
    }
    if (!found) {
        return a[1] == '-' ? unknown(cl, a) : positional(cl, a);
    }
    o = &f.set->opts[f.row];
    if ((rc = value_of(o, argc, argv, i, &value)) != 0 ||
        (rc = once(&f, a)) != 0) {
        return rc;
    }
    return o->set ? o->set(f.set->ctx, o, value) : 0;
}

int vusim_opts_parse(const struct vusim_cmdline *cl, int argc, char **argv)
{
    int rc;

    for (int i = 1; i < argc; i++) {
        if ((rc = parse_one(cl, argc, argv, &i)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- help ---------------------------------------------------------------- */

/* @text from column @col, words wrapped before column 80. */
static void help_wrap(FILE *f, const char *text, int col)
{
    int at = col;

    while (*text) {
        int w = (int)strcspn(text, " ");

        if (at > col && at + 1 + w > 79) {
            fprintf(f, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', f);
            at++;
        }
        fprintf(f, "%.*s", w, text);
        at += w;
        text += w;
        text += strspn(text, " ");
    }
    fputc('\n', f);
}

static void help_line(FILE *f, const struct vusim_opt *o)
{
    char lhs[96], shortopt[8] = "";

    if (o->shortopt) {
        snprintf(shortopt, sizeof(shortopt), "-%c, ", o->shortopt);
    }
    snprintf(lhs, sizeof(lhs), "%s--%s%s%s", shortopt, o->name,
             o->metavar ? "=" : "", o->metavar ? o->metavar : "");
    if (strlen(lhs) > 25) {
        fprintf(f, "  %s\n%28s", lhs, "");
    } else {
        fprintf(f, "  %-25s ", lhs);
    }
    help_wrap(f, o->help, 28);
}

void vusim_opts_help(FILE *f, const struct vusim_opt *opts, unsigned skip)
{
    for (const struct vusim_opt *o = opts; o && o->name; o++) {
        if (!(o->flags & skip)) {
            help_line(f, o);
        }
    }
}

/* ---- a device's options as rows ---------------------------------------- */

/* The row of @ops's option @name, or NULL. */
static const struct dev_optdesc *dev_row(const struct dev_ops *ops,
                                         const char *name)
{
    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        if (strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

struct vusim_opt *vusim_opts_from_dev(const struct dev_ops *ops,
                                      vusim_opt_set_fn set)
{
    size_t n = 0, k = 0;
    struct vusim_opt *rows;

    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        n++;
    }
    for (const struct dev_optalias *a = ops->aliases; a && a->alias; a++) {
        n++;
    }
    rows = calloc(n + 1, sizeof(*rows));
    if (!rows) {
        return NULL;
    }
    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        rows[k++] = (struct vusim_opt){ .name = d->name,
                                        .metavar = d->metavar,
                                        .help = d->help, .set = set };
    }
    for (const struct dev_optalias *a = ops->aliases; a && a->alias; a++) {
        const struct dev_optdesc *d = dev_row(ops, a->name);

        if (d) {
            rows[k++] = (struct vusim_opt){ .name = a->alias,
                                            .metavar = d->metavar,
                                            .help = a->help, .set = set,
                                            .target = a->name };
        }
    }
    return rows;
}

/* ---- setters of values more than one command takes ---------------------- */

int vusim_opts_set_digest(void *ctx, const struct vusim_opt *o,
                          const char *v)
{
    (void)o;
    if (trace_digest_parse(v, ctx) < 0) {
        return vusim_opts_bad("--trace-digest=%s: expected xxh128 or sha256",
                              v);
    }
    return 0;
}

int vusim_opts_set_log_level(void *ctx, const struct vusim_opt *o,
                             const char *v)
{
    int lvl = vusim_log_level_parse(v);

    (void)o;
    if (lvl < 0) {
        return vusim_opts_bad("--log-level=%s: expected err, warn, info, "
                              "debug or trace", v);
    }
    *(int *)ctx = lvl;
    return 0;
}
