/* SPDX-License-Identifier: MIT */
/*
 * Fault rules (devices/faults/faults.h): the parser (one table of keys),
 * the set, and the matching engine.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/faults/faults.h"
#include "sim/log.h"

static const char *const op_names[FAULTS_OP_N] = {
    [FAULTS_OP_READ] = "read",
    [FAULTS_OP_WRITE] = "write",
    [FAULTS_OP_FLUSH] = "flush",
    [FAULTS_OP_DISCARD] = "discard",
    [FAULTS_OP_WRITE_ZEROES] = "write-zeroes",
    [FAULTS_OP_GET_ID] = "get-id",
    [FAULTS_OP_OTHER] = "other",
};

const char *faults_op_name(enum faults_op op)
{
    return (unsigned)op < FAULTS_OP_N ? op_names[op] : "?";
}

/* ---- value parsers: 0 or -EINVAL, never a partial value ------------- */

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) {
        return -EINVAL;
    }
    for (; *s; s++) {
        unsigned d;

        if (*s >= '0' && *s <= '9') {
            d = (unsigned)(*s - '0');
        } else if (base == 16 && *s >= 'a' && *s <= 'f') {
            d = (unsigned)(*s - 'a' + 10);
        } else if (base == 16 && *s >= 'A' && *s <= 'F') {
            d = (unsigned)(*s - 'A' + 10);
        } else {
            return -EINVAL;
        }
        if (v > (UINT64_MAX - d) / base) {
            return -EINVAL;
        }
        v = v * base + d;
    }
    *out = v;
    return 0;
}

/* An integer with an optional K, M, G or T suffix (powers of 1024). */
static int parse_bytes(const char *s, uint64_t *out)
{
    static const char suf[] = "KMGT";
    char num[32];
    size_t len = strlen(s);
    unsigned shift = 0;
    const char *p;

    if (len == 0 || len >= sizeof(num)) {
        return -EINVAL;
    }
    memcpy(num, s, len + 1);
    p = strchr(suf, num[len - 1] & ~0x20);
    if (len > 1 && num[len - 1] != '\0' && p && num[len - 1] != 'x') {
        shift = 10u * (unsigned)(p - suf + 1);
        num[len - 1] = '\0';
    }
    if (parse_u64(num, out) || (shift && *out > (UINT64_MAX >> shift))) {
        return -EINVAL;
    }
    *out <<= shift;
    return 0;
}

/* 0, 1, or a decimal fraction with at most 9 digits, in 1e-9 units. */
static int parse_prob(const char *s, uint32_t *out)
{
    uint64_t v = 0, scale = FAULTS_PROB_ONE;

    if (s[0] == '1' && (!s[1] || (s[1] == '.' && !s[2 + strspn(s + 2,
                                                               "0")]))) {
        *out = FAULTS_PROB_ONE;
        return 0;
    }
    if (s[0] != '0' || (s[1] && s[1] != '.') || (s[1] == '.' && !s[2])) {
        return -EINVAL;
    }
    for (s += s[1] ? 2 : 1; *s; s++) {
        if (*s < '0' || *s > '9' || scale == 1) {
            return -EINVAL;
        }
        scale /= 10;
        v += (uint64_t)(*s - '0') * scale;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_name(const char *s, char *out)
{
    size_t n = strlen(s);

    if (n == 0 || n >= FAULTS_NAME_MAX ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n) {
        return -EINVAL;
    }
    memcpy(out, s, n + 1);
    return 0;
}

/* ---- the key table ------------------------------------------------- */

/* Parse state shared by the key handlers. */
struct rp {
    struct faults_rule *r;
    const struct faults_action *actions;
    const char *action;         /* do='s value, checked last */
};

typedef int (*key_fn)(struct rp *rp, const char *v, int arg);

static int k_on(struct rp *rp, const char *v, int arg)
{
    (void)arg;
    if (strcmp(v, "any") == 0) {
        rp->r->ops = (1u << FAULTS_OP_N) - 1;
        return 0;
    }
    for (unsigned i = 0; i < FAULTS_OP_OTHER; i++) {
        if (strcmp(v, op_names[i]) == 0) {
            rp->r->ops = 1u << i;
            return 0;
        }
    }
    return -EINVAL;
}

static int k_queue(struct rp *rp, const char *v, int arg)
{
    uint64_t q;

    (void)arg;
    if (parse_u64(v, &q) || q > UINT16_MAX) {
        return -EINVAL;
    }
    rp->r->has_queue = true;
    rp->r->queue = (uint16_t)q;
    return 0;
}

static int k_sector(struct rp *rp, const char *v, int arg)
{
    char a[32];
    const char *dash = strchr(v, '-');
    size_t n = dash ? (size_t)(dash - v) : strlen(v);

    (void)arg;
    if (n == 0 || n >= sizeof(a)) {
        return -EINVAL;
    }
    memcpy(a, v, n);
    a[n] = '\0';
    if (parse_u64(a, &rp->r->sec_lo)) {
        return -EINVAL;
    }
    rp->r->sec_hi = rp->r->sec_lo;
    if (dash && (parse_u64(dash + 1, &rp->r->sec_hi) ||
                 rp->r->sec_hi < rp->r->sec_lo)) {
        return -EINVAL;
    }
    rp->r->has_sector = true;
    return 0;
}

static int k_count(struct rp *rp, const char *v, int arg)
{
    uint64_t n;
    uint64_t *dst = arg == 0 ? &rp->r->nth : arg == 1 ? &rp->r->every
                                                      : &rp->r->times;

    if (arg == 2 && strcmp(v, "once") == 0) {
        *dst = 1;
        return 0;
    }
    if (parse_u64(v, &n) || n == 0) {
        return -EINVAL;
    }
    *dst = n;
    return 0;
}

static int k_time(struct rp *rp, const char *v, int arg)
{
    sim_time_t t;

    if (sim_time_parse(v, &t, NULL, 0)) {
        return -EINVAL;
    }
    if (arg == 0) {
        rp->r->has_after = true;
        rp->r->after = t;
    } else {
        rp->r->has_before = true;
        rp->r->before = t;
    }
    return 0;
}

static int k_prob(struct rp *rp, const char *v, int arg)
{
    (void)arg;
    return parse_prob(v, &rp->r->prob);
}

static int k_state(struct rp *rp, const char *v, int arg)
{
    if (arg == 0) {
        rp->r->has_state = true;
        return parse_name(v, rp->r->state);
    }
    rp->r->has_then = true;
    return parse_name(v, rp->r->then);
}

static int k_do(struct rp *rp, const char *v, int arg)
{
    (void)arg;
    rp->action = v;
    return 0;
}

static int k_param(struct rp *rp, const char *v, int key)
{
    uint64_t *dst = &rp->r->p[key];
    sim_time_t t;

    rp->r->pset |= FAULTS_KEY(key);
    switch (key) {
    case FAULTS_K_STATUS:
        *dst = strcmp(v, "ioerr") == 0 ? FAULTS_STATUS_IOERR
             : strcmp(v, "unsupp") == 0 ? FAULTS_STATUS_UNSUPP : 0;
        return *dst ? 0 : -EINVAL;
    case FAULTS_K_DELAY:
    case FAULTS_K_LATENCY:
        if (sim_time_parse(v, &t, NULL, 0)) {
            return -EINVAL;
        }
        *dst = t;
        return 0;
    case FAULTS_K_SIZE:
    case FAULTS_K_BANDWIDTH:
        return parse_bytes(v, dst);
    default:
        return parse_u64(v, dst);
    }
}

static const struct rkey {
    const char *name;
    key_fn fn;
    int arg;
    const char *expect;
} rkeys[] = {
    { "on", k_on, 0, "read, write, flush, discard, write-zeroes, get-id "
      "or any" },
    { "queue", k_queue, 0, "a queue index, 0-65535" },
    { "sector", k_sector, 0, "a sector A or a range A-B with A <= B" },
    { "nth", k_count, 0, "a count from 1" },
    { "every", k_count, 1, "a count from 1" },
    { "times", k_count, 2, "a count from 1, or once" },
    { "after", k_time, 0, "a duration such as 250ns, 1.5ms or 2s" },
    { "before", k_time, 1, "a duration such as 250ns, 1.5ms or 2s" },
    { "probability", k_prob, 0, "0, 1, or a decimal such as 0.25 (at most "
      "9 decimals)" },
    { "state", k_state, 0, "a name of 1-31 letters, digits, _ - ." },
    { "then", k_state, 1, "a name of 1-31 letters, digits, _ - ." },
    { "do", k_do, 0, NULL },
    { "status", k_param, FAULTS_K_STATUS, "ioerr or unsupp" },
    { "delay", k_param, FAULTS_K_DELAY, "a duration such as 5ms" },
    { "sectors", k_param, FAULTS_K_SECTORS, "a sector count" },
    { "to", k_param, FAULTS_K_TO, "a sector number" },
    { "size", k_param, FAULTS_K_SIZE, "a byte count (K, M, G, T "
      "suffixes)" },
    { "latency", k_param, FAULTS_K_LATENCY, "a duration such as 100us" },
    { "bandwidth", k_param, FAULTS_K_BANDWIDTH, "bytes per second (K, M, "
      "G suffixes)" },
    { "bytes", k_param, FAULTS_K_BYTES, "a byte count" },
};

#define NKEYS (sizeof(rkeys) / sizeof(rkeys[0]))

static const char *const key_names[FAULTS_K_N] = {
    "status", "delay", "sectors", "to", "size", "latency", "bandwidth",
    "bytes",
};

static void action_list(const struct faults_action *a, char *buf,
                        size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (; a && a->name && n < len; a++) {
        int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", a->name);
        if (w < 0) {
            return;
        }
        n += (size_t)w;
    }
}

/* "do=torn: applies only to on=write" */
static int ops_fail(const struct faults_action *a, char *err, size_t errlen)
{
    char ops[128];
    size_t n = 0;

    ops[0] = '\0';
    for (unsigned i = 0; i < FAULTS_OP_OTHER; i++) {
        if ((a->ops & (1u << i)) && n < sizeof(ops)) {
            int w = snprintf(ops + n, sizeof(ops) - n, "%son=%s",
                             n ? " or " : "", op_names[i]);
            n += w > 0 ? (size_t)w : 0;
        }
    }
    return vusim_errf(err, errlen,
                      "do=%s: applies only to %s; give on=", a->name, ops);
}

/* do= against the device's table, then its parameters. */
static int check_action(struct rp *rp, char *err, size_t errlen)
{
    struct faults_rule *r = rp->r;
    const struct faults_action *a = rp->actions;
    char list[256];
    uint16_t i = 0;

    action_list(rp->actions, list, sizeof(list));
    if (!rp->action) {
        return vusim_errf(err, errlen,
                          "do=: missing; every rule needs an action "
                          "(this device: %s)",
                          list[0] ? list : "none");
    }
    if (strcmp(rp->action, "needs-reset") == 0) {
        /* The vhost-user spec lets a back-end send IOTLB, CONFIG_CHANGE,
         * HOST_NOTIFIER, VRING_CALL and VRING_ERR; none sets the status
         * the driver reads. GET_STATUS (F_STATUS) is the front-end's
         * question: UML does not negotiate it, QEMU 7.2 asks only to add
         * bits before SET_STATUS. An impossible action is refused by its
         * own reason, not as an unknown word. */
        return vusim_errf(err, errlen, "do=needs-reset: impossible over "
                          "vhost-user: no back-end message sets the device "
                          "status (DEVICE_NEEDS_RESET), and VRING_ERR is no "
                          "reset request (User-Mode Linux logs it, QEMU "
                          "rejects it)");
    }
    for (; a && a->name && strcmp(a->name, rp->action) != 0; a++, i++) {
    }
    if (!a || !a->name) {
        return vusim_errf(err, errlen,
                          "do=%s: not an action of this device; "
                          "expected %s",
                          rp->action, list[0] ? list : "none");
    }
    r->action = i;
    for (unsigned k = 0; k < FAULTS_K_N; k++) {
        if ((r->pset & FAULTS_KEY(k)) && !(a->keys & FAULTS_KEY(k))) {
            return vusim_errf(err, errlen, "%s=: do=%s takes no %s",
                              key_names[k], a->name, key_names[k]);
        }
        if ((a->required & FAULTS_KEY(k)) && !(r->pset & FAULTS_KEY(k))) {
            return vusim_errf(err, errlen, "%s=: do=%s needs %s=", key_names[k],
                              a->name, key_names[k]);
        }
    }
    if (a->ops && (r->ops & ~a->ops)) {
        return ops_fail(a, err, errlen);
    }
    if (a->need_one && !(r->pset & a->keys)) {
        return vusim_errf(err, errlen, "do=%s: needs at least one parameter",
                          a->name);
    }
    return 0;
}

static int check_triggers(const struct faults_rule *r, char *err,
                          size_t errlen)
{
    if (r->has_after && r->has_before && r->before <= r->after) {
        return vusim_errf(err, errlen, "before=: must be later than after=");
    }
    if (r->has_sector && !(r->ops & ~((1u << FAULTS_OP_FLUSH) |
                                      (1u << FAULTS_OP_GET_ID)))) {
        return vusim_errf(
            err, errlen, "sector=: on=%s requests have no sectors",
            r->ops == (1u << FAULTS_OP_FLUSH) ? "flush" : "get-id");
    }
    return 0;
}

static int parse_pair(struct rp *rp, char *kv, unsigned *seen, char *err,
                      size_t errlen)
{
    char *eq = strchr(kv, '=');
    size_t i;

    if (!eq) {
        return vusim_errf(err, errlen, "%s: expected key=value", kv);
    }
    *eq = '\0';
    for (i = 0; i < NKEYS && strcmp(rkeys[i].name, kv) != 0; i++) {
    }
    if (i == NKEYS) {
        return vusim_errf(
            err, errlen,
            "%s=%s: unknown key; expected on, queue, "
            "sector, nth, every, after, before, probability, state, "
            "do, times, then or an action's parameter",
            kv, eq + 1);
    }
    if (seen[i]++) {
        return vusim_errf(err, errlen, "%s=%s: %s given twice", kv, eq + 1, kv);
    }
    if (!eq[1]) {
        return vusim_errf(err, errlen, "%s=: empty value", kv);
    }
    if (rkeys[i].fn(rp, eq + 1, rkeys[i].arg)) {
        return vusim_errf(err, errlen, "%s=%s: expected %s", kv, eq + 1,
                          rkeys[i].expect);
    }
    return 0;
}

static int parse_pairs(struct rp *rp, char *buf, char *err, size_t errlen)
{
    unsigned seen[NKEYS] = { 0 };
    char *save = NULL, *kv;
    int rc = 0;

    if (buf[0] == ',' || (buf[0] && buf[strlen(buf) - 1] == ',') ||
        strstr(buf, ",,")) {
        return vusim_errf(err, errlen, "%s: empty key=value between commas",
                          buf);
    }
    for (kv = strtok_r(buf, ",", &save); kv && !rc;
         kv = strtok_r(NULL, ",", &save)) {
        rc = parse_pair(rp, kv, seen, err, errlen);
    }
    return rc;
}

int faults_rule_parse(const char *text, size_t len,
                      const struct faults_action *actions,
                      struct faults_rule *out, char *err, size_t errlen)
{
    struct faults_rule r = { .ops = (1u << FAULTS_OP_N) - 1,
                             .prob = FAULTS_PROB_ONE };
    struct rp rp = { .r = &r, .actions = actions };
    char buf[FAULTS_RULE_MAX];
    int rc;

    if (len == 0 || len >= sizeof(buf) || memchr(text, '\0', len)) {
        return vusim_errf(err, errlen,
                          len ? "rule: longer than %d bytes or has "
                                "a NUL byte"
                              : "rule: empty; expected key=value,...",
                          FAULTS_RULE_MAX - 1);
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (strpbrk(buf, " \t\r\n")) {
        return vusim_errf(err, errlen, "%s: white space inside a rule", buf);
    }
    rc = parse_pairs(&rp, buf, err, errlen);
    if (!rc) {
        rc = check_action(&rp, err, errlen);
    }
    if (!rc) {
        rc = check_triggers(&r, err, errlen);
    }
    if (rc) {
        return rc;
    }
    r.text = strndup(text, len);
    if (!r.text) {
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

void faults_rule_fini(struct faults_rule *r)
{
    free(r->text);
    r->text = NULL;
}

/* ---- sets ----------------------------------------------------------- */

void faults_set_init(struct faults_set *set,
                     const struct faults_action *actions, uint64_t seed)
{
    *set = (struct faults_set){ .actions = actions, .seed = seed,
                                .next_id = 1 };
    faults_set_rewind(set);
}

void faults_set_fini(struct faults_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        faults_rule_fini(&set->rules[i]);
    }
    free(set->rules);
    free(set->by_op);
    set->rules = NULL;
    set->by_op = NULL;
    set->n = set->cap = 0;
    memset(set->op_at, 0, sizeof(set->op_at));
}

/* by_op and op_at from rules[]: a counting sort by op, stable, so each
 * op's rules keep their order. by_op has room for n * FAULTS_OP_N. */
static void index_rebuild(struct faults_set *set)
{
    uint32_t at[FAULTS_OP_N + 1] = { 0 };

    for (size_t i = 0; i < set->n; i++) {
        for (unsigned op = 0; op < FAULTS_OP_N; op++) {
            at[op + 1] += (set->rules[i].ops >> op) & 1u;
        }
    }
    for (unsigned op = 0; op < FAULTS_OP_N; op++) {
        at[op + 1] += at[op];
    }
    memcpy(set->op_at, at, sizeof(at));
    for (size_t i = 0; i < set->n; i++) {
        for (unsigned op = 0; op < FAULTS_OP_N; op++) {
            if ((set->rules[i].ops >> op) & 1u) {
                set->by_op[at[op]++] = (uint32_t)i;
            }
        }
    }
}

/* Room for @cap rules in rules[] and by_op. */
static int set_grow(struct faults_set *set, size_t cap)
{
    struct faults_rule *p = realloc(set->rules, cap * sizeof(*p));
    uint32_t *ix;

    if (!p) {
        return -ENOMEM;
    }
    set->rules = p;
    ix = realloc(set->by_op, cap * FAULTS_OP_N * sizeof(*ix));
    if (!ix) {
        return -ENOMEM;
    }
    set->by_op = ix;
    set->cap = cap;
    return 0;
}

void faults_set_rewind(struct faults_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        set->rules[i].matched = set->rules[i].fired = 0;
    }
    vusim_rng_seed(&set->rng, set->seed ^ FAULTS_SEED_SALT);
    snprintf(set->state, sizeof(set->state), "%s", FAULTS_STATE_START);
    set->fired = 0;
}

int faults_set_add(struct faults_set *set, const char *text, size_t len,
                   uint32_t *id, char *err, size_t errlen)
{
    struct faults_rule r;
    int rc;

    if (set->n >= FAULTS_MAX_RULES) {
        return vusim_errf(err, errlen, "more than %d rules", FAULTS_MAX_RULES);
    }
    rc = faults_rule_parse(text, len, set->actions, &r, err, errlen);
    if (rc) {
        return rc;
    }
    if (set->n == set->cap && set_grow(set, set->cap ? 2 * set->cap : 8)) {
        faults_rule_fini(&r);
        return -ENOMEM;
    }
    r.id = set->next_id++;
    set->rules[set->n++] = r;
    index_rebuild(set);
    if (id) {
        *id = r.id;
    }
    return 0;
}

int faults_set_del(struct faults_set *set, uint32_t id)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->rules[i].id == id) {
            faults_rule_fini(&set->rules[i]);
            memmove(&set->rules[i], &set->rules[i + 1],
                    (set->n - i - 1) * sizeof(set->rules[0]));
            set->n--;
            index_rebuild(set);
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- scenarios ------------------------------------------------------ */

/* Each rule of @text, trimmed, to @fn; stops at the first error. */
static int scenario_walk(const char *text, size_t len,
                         int (*fn)(void *ctx, const char *rule, size_t n,
                                   char *err, size_t errlen),
                         void *ctx, char *err, size_t errlen)
{
    char why[512];
    size_t pos = 0;
    unsigned line = 0;

    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        size_t a = 0, b = n;
        int rc;

        pos += n + (nl != NULL);
        line++;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '#') {
                b = i;
                break;
            }
        }
        while (a < b && strchr(" \t\r", s[a]) && s[a]) {
            a++;
        }
        while (b > a && strchr(" \t\r", s[b - 1]) && s[b - 1]) {
            b--;
        }
        if (a == b) {
            continue;
        }
        rc = fn(ctx, s + a, b - a, why, sizeof(why));
        if (rc) {
            vusim_errf(err, errlen, "line %u: %s", line, why);
            return rc;
        }
    }
    return 0;
}

static int add_cb(void *ctx, const char *rule, size_t n, char *err,
                  size_t errlen)
{
    return faults_set_add(ctx, rule, n, NULL, err, errlen);
}

int faults_scenario_parse(struct faults_set *set, const char *text,
                          size_t len, char *err, size_t errlen)
{
    size_t n0 = set->n;
    int rc = scenario_walk(text, len, add_cb, set, err, errlen);

    while (rc && set->n > n0) {
        faults_rule_fini(&set->rules[--set->n]);
    }
    if (rc) {
        index_rebuild(set);
    }
    return rc;
}

struct lines {
    char **v;
    size_t n;
    const struct faults_action *actions;
};

static int line_cb(void *ctx, const char *rule, size_t n, char *err,
                   size_t errlen)
{
    struct lines *l = ctx;
    char **v;

    if (n >= FAULTS_RULE_MAX || memchr(rule, '\0', n)) {
        return vusim_errf(err, errlen, "longer than %d bytes or has a NUL byte",
                          FAULTS_RULE_MAX - 1);
    }
    if (l->n >= FAULTS_MAX_RULES) {
        return vusim_errf(err, errlen, "more than %d rules", FAULTS_MAX_RULES);
    }
    if (l->actions) {
        struct faults_rule r;
        int rc = faults_rule_parse(rule, n, l->actions, &r, err, errlen);

        if (rc) {
            return rc;
        }
        faults_rule_fini(&r);
    }
    v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    l->v = v;
    if (!(l->v[l->n] = strndup(rule, n))) {
        return -ENOMEM;
    }
    l->n++;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "re");
    size_t cap = 0, n = 0;
    char *buf = NULL;
    int rc = 0;

    if (!f) {
        return -errno;
    }
    for (;;) {
        if (n == cap) {
            char *p = cap < (1u << 24) ? realloc(buf, cap ? 2 * cap : 4096)
                                       : NULL;
            if (!p) {
                rc = cap ? -EFBIG : -ENOMEM;
                break;
            }
            buf = p;
            cap = cap ? 2 * cap : 4096;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            rc = ferror(f) ? -EIO : 0;
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

int faults_scenario_lines(const char *path,
                          const struct faults_action *actions, char ***lines,
                          size_t *n, char *err, size_t errlen)
{
    struct lines l = { .actions = actions };
    char *text = NULL, why[600];
    size_t len = 0;
    int rc = read_file(path, &text, &len);

    if (rc) {
        return vusim_errf(err, errlen, "--scenario=%s: %s", path,
                          rc == -EFBIG ? "larger than 16 MiB" : strerror(-rc));
    }
    rc = scenario_walk(text, len, line_cb, &l, why, sizeof(why));
    free(text);
    if (rc) {
        faults_lines_free(l.v, l.n);
        return vusim_errf(err, errlen, "--scenario=%s: %s", path, why);
    }
    *lines = l.v;
    *n = l.n;
    return 0;
}

void faults_lines_free(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
    free(lines);
}

/* ---- matching ------------------------------------------------------- */

/* on= is by_op's business: @r is among the rules of q->op. */
static bool cheap_triggers(const struct faults_set *set,
                           const struct faults_rule *r,
                           const struct faults_req *q)
{
    if ((r->has_queue && r->queue != q->queue) ||
        (r->times && r->fired >= r->times) ||
        (r->has_after && q->now < r->after) ||
        (r->has_before && q->now >= r->before)) {
        return false;
    }
    if (r->has_sector && (q->nsectors == 0 || q->sector > r->sec_hi ||
                          q->sector + (q->nsectors - 1) < r->sec_lo)) {
        return false;
    }
    return !r->has_state || strcmp(r->state, set->state) == 0;
}

static bool count_triggers(const struct faults_rule *r)
{
    uint64_t m = r->matched;

    if (r->nth && r->every) {
        return m >= r->nth && (m - r->nth) % r->every == 0;
    }
    if (r->nth) {
        return m == r->nth;
    }
    return !r->every || m % r->every == 0;
}

/* Every rule counts the requests its cheap triggers match, whether or not
 * an earlier rule fires, so nth= means the same with or without other
 * rules; only the first rule that fires draws, fires and moves the state
 * (after the walk: every rule saw the state the request arrived in). */
bool faults_match(struct faults_set *set, const struct faults_req *req,
                  struct faults_fire *f)
{
    struct faults_rule *hit = NULL;
    uint32_t end;

    if ((unsigned)req->op >= FAULTS_OP_N) {
        return false;
    }
    end = set->op_at[req->op + 1];
    for (uint32_t k = set->op_at[req->op]; k < end; k++) {
        struct faults_rule *r = &set->rules[set->by_op[k]];

        if (!cheap_triggers(set, r, req)) {
            continue;
        }
        r->matched++;
        if (hit || !count_triggers(r) ||
            (r->prob < FAULTS_PROB_ONE &&
             vusim_rng_below(&set->rng, FAULTS_PROB_ONE) >= r->prob)) {
            continue;
        }
        hit = r;
    }
    if (!hit) {
        return false;
    }
    hit->fired++;
    set->fired++;
    if (hit->has_then) {
        memcpy(set->state, hit->then, sizeof(set->state));
    }
    *f = (struct faults_fire){ .rule = hit, .firing = hit->fired,
                               .action = set->actions[hit->action].name,
                               .now = req->now, .state = set->state };
    return true;
}

int faults_stats_json(const struct faults_set *set, char *buf, size_t len)
{
    int n = 0;

    if (len) {
        buf[0] = '\0';
    }
    if (set->n) {
        /* state names are [A-Za-z0-9_.-]: nothing to escape */
        n = snprintf(buf, len, ", \"fault_rules\": %zu, \"fault_firings\": "
                     "%" PRIu64 ", \"fault_state\": \"%s\"", set->n,
                     set->fired, set->state);
    }
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

uint64_t faults_rand_below(struct faults_set *set, uint64_t bound)
{
    return vusim_rng_below(&set->rng, bound);
}
