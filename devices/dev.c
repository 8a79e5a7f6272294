/* SPDX-License-Identifier: MIT */
/*
 * The option parsers every create() hook shares (devices/dev.h), so all
 * devices reject bad options with the same kind of line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/dev.h"
#include "devices/faults/faults.h"
#include "sim/log.h"

static const struct dev_optdesc *optdesc_find(const struct dev_ops *ops,
                                              const char *name)
{
    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        if (strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

/* "--backing, --size, --read-only" into @buf, for the unknown-option
 * line. */
static void optdesc_list(const struct dev_ops *ops, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (const struct dev_optdesc *d = ops->opts; d && d->name; d++) {
        int w = snprintf(buf + n, len - n, "%s--%s", n ? ", " : "",
                         d->name);
        if (w < 0 || (size_t)w >= len - n) {
            return;
        }
        n += (size_t)w;
    }
}

static int opt_check_one(const struct dev_ops *ops, const struct dev_opt *o,
                         char *err, size_t errlen)
{
    const struct dev_optdesc *d = optdesc_find(ops, o->name);
    char names[512];

    /* The lines of the program's option parser (cosim/program/opts.h):
     * the option as given, then what is allowed. */
    if (!d) {
        optdesc_list(ops, names, sizeof(names));
        return vusim_errf(err, errlen,
                          "--%s%s%s: unknown option for %s; "
                          "allowed: %s",
                          o->name, o->value ? "=" : "",
                          o->value ? o->value : "", ops->name,
                          names[0] ? names : "none");
    }
    if (!d->metavar && o->value) {
        return vusim_errf(err, errlen,
                          "--%s=%s: --%s is a flag and takes no "
                          "value",
                          o->name, o->value, o->name);
    }
    if (d->metavar && (!o->value || !o->value[0])) {
        return vusim_errf(err, errlen, "--%s: needs a value: --%s=%s", o->name,
                          o->name, d->metavar);
    }
    return 0;
}

int dev_opts_check(const struct dev_ops *ops, const struct dev_opt *opts,
                   size_t nopts, char *err, size_t errlen)
{
    for (size_t i = 0; i < nopts; i++) {
        int rc;

        if (!opts[i].name) {
            return vusim_errf(err, errlen, "option %zu has no name", i);
        }
        rc = opt_check_one(ops, &opts[i], err, errlen);
        if (rc) {
            return rc;
        }
        for (size_t j = 0; j < i && strcmp(opts[i].name, "fault") != 0;
             j++) {
            if (strcmp(opts[j].name, opts[i].name) == 0) {
                return vusim_errf(err, errlen,
                                  "--%s%s%s: --%s given more than "
                                  "once; allowed once",
                                  opts[i].name, opts[i].value ? "=" : "",
                                  opts[i].value ? opts[i].value : "",
                                  opts[i].name);
            }
        }
    }
    return 0;
}

const struct dev_opt *dev_opt_find(const struct dev_opt *opts, size_t nopts,
                                   const char *name)
{
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].name && strcmp(opts[i].name, name) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

static int digit_value(char c, unsigned base)
{
    int v = -1;

    if (c >= '0' && c <= '9') {
        v = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
        v = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
        v = c - 'A' + 10;
    }
    return (v >= 0 && (unsigned)v < base) ? v : -1;
}

/* Leading digits of @s into *out; *end past them. -ERANGE on overflow,
 * -EINVAL if there is no digit. */
static int parse_digits(const char *s, uint64_t *out, const char **end)
{
    unsigned base = 10;
    uint64_t v = 0;
    const char *p = s;
    int d;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (digit_value(*p, base) < 0) {
        return -EINVAL;
    }
    for (; (d = digit_value(*p, base)) >= 0; p++) {
        if (v > (UINT64_MAX - (uint64_t)d) / base) {
            return -ERANGE;
        }
        v = v * base + (uint64_t)d;
    }
    *out = v;
    *end = p;
    return 0;
}

static int range_fail(const struct dev_opt *opt, uint64_t min, uint64_t max,
                      const char *what, char *err, size_t errlen)
{
    return vusim_errf(err, errlen, "--%s=%s: must be %s from %llu to %llu",
                      opt->name, opt->value, what, (unsigned long long)min,
                      (unsigned long long)max);
}

int dev_opt_u64(const struct dev_opt *opt, uint64_t min, uint64_t max,
                uint64_t *out, char *err, size_t errlen)
{
    const char *end = NULL;
    uint64_t v;

    if (!opt->value || parse_digits(opt->value, &v, &end) || *end != '\0' ||
        v < min || v > max) {
        return range_fail(opt, min, max, "an integer", err, errlen);
    }
    *out = v;
    return 0;
}

static int suffix_shift(const char *s)
{
    static const char sfx[] = "KMGT";
    const char *p;

    if (s[0] == '\0') {
        return 0;
    }
    if (s[1] != '\0') {
        return -1;
    }
    p = strchr(sfx, s[0] >= 'a' ? s[0] - 'a' + 'A' : s[0]);
    return p ? 10 * (int)(p - sfx + 1) : -1;
}

int dev_opt_bytes(const struct dev_opt *opt, uint64_t min, uint64_t max,
                  uint64_t *out, char *err, size_t errlen)
{
    const char *end = NULL;
    uint64_t v;
    int sh;

    if (!opt->value || parse_digits(opt->value, &v, &end) ||
        (sh = suffix_shift(end)) < 0 || (sh && v > (UINT64_MAX >> sh))) {
        goto bad;
    }
    v <<= sh;
    if (v < min || v > max) {
        goto bad;
    }
    *out = v;
    return 0;
bad:
    return range_fail(opt, min, max,
                      "a byte count (optional K, M, G or T suffix)", err,
                      errlen);
}

int dev_opt_duration(const struct dev_opt *opt, sim_time_t *out, char *err,
                     size_t errlen)
{
    char why[128] = "";

    if (!opt->value || sim_time_parse(opt->value, out, why, sizeof(why))) {
        return vusim_errf(err, errlen,
                          "--%s=%s: must be a duration such as "
                          "250ns, 1.5ms or 0 (%s)",
                          opt->name, opt->value ? opt->value : "",
                          opt->value ? why : "missing");
    }
    return 0;
}

int dev_faults_create(const struct dev_ops *ops, const struct dev_opt *opts,
                      size_t nopts, struct faults_set *set, char *err,
                      size_t errlen)
{
    const struct dev_opt *seed = dev_opt_find(opts, nopts, "seed");
    uint64_t s = 0;
    char why[512];
    int rc = 0;

    if (seed) {
        rc = dev_opt_u64(seed, 0, UINT64_MAX, &s, err, errlen);
        if (rc) {
            return rc;
        }
    }
    faults_set_init(set, ops->fault_actions, s);
    for (size_t i = 0; i < nopts && rc == 0; i++) {
        if (strcmp(opts[i].name, "fault") != 0 || !opts[i].value) {
            continue;
        }
        rc = faults_set_add(set, opts[i].value, strlen(opts[i].value), NULL,
                            why, sizeof(why));
        if (rc == -EINVAL) {
            vusim_errf(err, errlen, "--fault=%s: %s", opts[i].value, why);
        } else if (rc) {
            vusim_errf(err, errlen, "--fault=%s: %s", opts[i].value,
                       strerror(-rc));
        }
    }
    if (rc) {
        faults_set_fini(set);
    }
    return rc;
}

static struct faults_set *ctl_rules(struct dev *d, char *err, size_t errlen)
{
    if (!d->ops->faults) {
        vusim_errf(err, errlen, "device %s has no fault rules", d->ops->name);
        return NULL;
    }
    return d->ops->faults(d);
}

int dev_ctl_apply(struct dev *d, struct dev_ctl *c, char *err, size_t errlen)
{
    struct faults_set *s = NULL;
    char why[512];
    uint32_t id;

    if ((c->op == DEV_CTL_RULE_ADD || c->op == DEV_CTL_RULE_DEL) &&
        !(s = ctl_rules(d, err, errlen))) {
        return -ENOTSUP;
    }
    switch (c->op) {
    case DEV_CTL_RULE_ADD:
        if (!c->text || faults_set_add(s, c->text, strlen(c->text), &id, why,
                                       sizeof(why))) {
            return vusim_errf(err, errlen, "'rule': %s",
                              c->text ? why : "missing");
        }
        c->arg = id;
        return 0;
    case DEV_CTL_RULE_DEL:
        if (c->arg == 0 || c->arg > UINT32_MAX ||
            faults_set_del(s, (uint32_t)c->arg)) {
            vusim_errf(err, errlen, "no rule %llu", (unsigned long long)c->arg);
            return -ENOENT;
        }
        return 0;
    case DEV_CTL_RELEASE:
        if (!d->ops->fault_release) {
            vusim_errf(err, errlen, "device %s holds no requests",
                       d->ops->name);
            return -ENOTSUP;
        }
        if (d->ops->fault_release(d, c->arg, c->status)) {
            vusim_errf(err, errlen, "no hung request %llu",
                       (unsigned long long)c->arg);
            return -ENOENT;
        }
        return 0;
    case DEV_CTL_RESET:
        if (d->ops->reset) {
            d->ops->reset(d);
        }
        return 0;
    }
    vusim_errf(err, errlen, "unknown control operation %d", (int)c->op);
    return -EINVAL;
}

uint32_t dev_channel_pick(const sim_time_t *free_at, uint32_t n, sim_time_t now)
{
    uint32_t best = 0;

    for (uint32_t i = 0; i < n; i++) {
        if (free_at[i] <= now) {
            return i;
        }
        if (free_at[i] < free_at[best]) {
            best = i;
        }
    }
    return best;
}

const char *dev_opt_unalias(const struct dev_ops *ops, const char *name)
{
    for (const struct dev_optalias *a = ops->aliases; a && a->alias; a++) {
        if (strcmp(a->alias, name) == 0) {
            return a->name;
        }
    }
    return name;
}
