/* SPDX-License-Identifier: MIT */
/*
 * devices/faults/faults.h - fault and timing rules: grammar, triggers,
 * states, seeded probability and firing records
 *
 * Model: a rule is a comma-separated key=value list (vusim(1), "FAULT
 * RULES"). Its triggers say which requests it applies to; its action says
 * what the device does to them. This module is generic: it parses rules,
 * keeps their counters and the named state, and decides which rule fires
 * for a request. What an action does is the device's business; a device
 * declares the actions it implements with a NULL-name terminated table of
 * struct faults_action (devices/dev.h, dev_ops.fault_actions), and a rule
 * naming any other action is refused when it is parsed.
 *
 * Matching (faults_match), for one request, rules in the order given:
 *   1. the cheap triggers must all hold: on=, queue=, sector=, after=,
 *      before= and state= (the state the request arrived in); a rule
 *      whose times= are used up is skipped;
 *   2. the rule counts the request (its "matches"): every rule counts,
 *      even after an earlier rule fired, so nth= does not depend on the
 *      other rules;
 *   3. nth=N holds on match N only; every=M on matches M, 2M, ...; both
 *      together on N, N+M, N+2M, ...;
 *   4. probability=P draws from the set's generator (only when 1-3 hold
 *      and no earlier rule fires, so draws depend on the request sequence
 *      alone);
 *   5. the first rule whose triggers all hold fires: its firing count goes
 *      up and then= sets the state. At most one rule fires per request.
 *
 * Owns:        a set owns its rules and their texts (copies).
 * Borrows:     the device's action table, for the set's life.
 * Threading:   none; a set is used from one thread.
 * Errors:      parsers return 0 or -EINVAL with one line in @err naming
 *              the key and the value; -ENOMEM.
 * Determinism: firings are a pure function of the rules, the seed and the
 *              sequence of (request, simulated time) given to faults_match.
 *              The generator is sim/rng.h's, seeded with seed ^
 *              FAULTS_SEED_SALT, so it is independent of a device's own
 *              stream seeded with the same --seed.
 */
#ifndef VUSIM_DEVICES_FAULTS_FAULTS_H
#define VUSIM_DEVICES_FAULTS_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/rng.h"
#include "sim/time.h"

#define FAULTS_NAME_MAX     32      /* state names, NUL included */
#define FAULTS_RULE_MAX     1024    /* bytes of one rule's text */
#define FAULTS_MAX_RULES    4096
#define FAULTS_PROB_ONE     1000000000u     /* probability=1 */
#define FAULTS_SEED_SALT    0x6661756c74730a01ull
#define FAULTS_STATE_START  "start"         /* the state at creation */

/* What a request does, as the trigger on= names it. */
enum faults_op {
    FAULTS_OP_READ,
    FAULTS_OP_WRITE,
    FAULTS_OP_FLUSH,
    FAULTS_OP_DISCARD,
    FAULTS_OP_WRITE_ZEROES,
    FAULTS_OP_GET_ID,
    FAULTS_OP_OTHER,            /* matched by on=any only */
    FAULTS_OP_N,
};

/* Action parameters; a device's action table says which each takes. */
enum faults_key {
    FAULTS_K_STATUS,            /* ioerr | unsupp */
    FAULTS_K_DELAY,             /* duration */
    FAULTS_K_SECTORS,           /* count */
    FAULTS_K_TO,                /* sector */
    FAULTS_K_SIZE,              /* bytes (K, M, G suffixes) */
    FAULTS_K_LATENCY,           /* duration */
    FAULTS_K_BANDWIDTH,         /* bytes per second */
    FAULTS_K_BYTES,             /* count */
    FAULTS_K_N,
};

#define FAULTS_STATUS_IOERR     1
#define FAULTS_STATUS_UNSUPP    2

#define FAULTS_KEY(k)   (1u << (k))
#define FAULTS_OPS(op)  (1u << (op))

/* One action a device implements. */
struct faults_action {
    const char *name;           /* "error", the value of do= */
    uint32_t keys;              /* FAULTS_KEY() of every parameter taken */
    uint32_t required;          /* the ones it must have (subset of keys) */
    bool need_one;              /* at least one of keys must be given */
    uint32_t ops;               /* FAULTS_OPS() it applies to; 0 = any */
};

/* What faults_match reads for every request comes first (the triggers,
 * times= and the counters), so a rule that does not match costs one or
 * two cache lines; the action and the names follow. */
struct faults_rule {
    /* triggers */
    uint32_t ops;               /* bit per enum faults_op */
    bool has_queue, has_sector, has_after, has_before, has_state;
    uint16_t queue;
    uint64_t sec_lo, sec_hi;    /* inclusive */
    sim_time_t after, before;   /* fires when after <= now < before */
    uint64_t times;             /* 0 = unlimited; once = 1 */
    uint64_t matched, fired;    /* counters */
    uint64_t nth, every;        /* 0 = not given */
    uint32_t prob;              /* in 1e-9; FAULTS_PROB_ONE = no draw */
    char state[FAULTS_NAME_MAX];
    /* action */
    uint16_t action;            /* index in the device's table */
    uint32_t pset;              /* FAULTS_KEY() of the parameters given */
    uint64_t p[FAULTS_K_N];     /* durations in picoseconds */
    bool has_then;
    char then[FAULTS_NAME_MAX];
    char *text;                 /* as given, for records and queries */
    uint32_t id;                /* set-unique, from 1, never reused */
};

/* A request as the triggers see it. Sectors are 512-byte units; a request
 * without sectors (flush, get-id) has nsectors 0 and never matches
 * sector=. */
struct faults_req {
    enum faults_op op;
    uint16_t queue;
    uint64_t sector, nsectors;
    sim_time_t now;
};

/* One firing: what faults_match returns and what hosts record. */
struct faults_fire {
    const struct faults_rule *rule;
    const char *action;         /* the action's name */
    uint64_t firing;            /* this rule's firing count, from 1 */
    sim_time_t now;
    const char *state;          /* the state after the firing */
};

struct faults_set {
    const struct faults_action *actions;
    struct faults_rule *rules;
    size_t n, cap;
    /* The rules each op can match, in order: indices into rules[], those
     * of op k at by_op[op_at[k] .. op_at[k + 1]). Rebuilt when a rule is
     * added or deleted (cap * FAULTS_OP_N entries, grown with rules[]), so
     * a request walks only the rules whose on= names its type. */
    uint32_t *by_op;
    uint32_t op_at[FAULTS_OP_N + 1];
    uint32_t next_id;
    uint64_t seed;
    struct vusim_rng rng;
    char state[FAULTS_NAME_MAX];
    uint64_t fired;             /* firings of all rules */
};

/*
 * The fuzzing entry points. faults_rule_parse() parses one rule against
 * @actions; on success *out owns a copy of @text (faults_rule_fini frees
 * it). faults_scenario_parse() parses a scenario's text (one rule per
 * line, blank lines and '#' comments skipped) into @set, all or nothing;
 * @err names the line. Neither needs a NUL beyond @len.
 */
int faults_rule_parse(const char *text, size_t len,
                      const struct faults_action *actions,
                      struct faults_rule *out, char *err, size_t errlen);
void faults_rule_fini(struct faults_rule *r);
int faults_scenario_parse(struct faults_set *set, const char *text,
                          size_t len, char *err, size_t errlen);

/* A scenario file's rules as strings, for a program that passes them on
 * as --fault options: *lines (and each line) malloc'd, caller frees with
 * faults_lines_free. With @actions, each rule is also parsed against them,
 * so a bad one is named with its line number. */
int faults_scenario_lines(const char *path,
                          const struct faults_action *actions, char ***lines,
                          size_t *n, char *err, size_t errlen);
void faults_lines_free(char **lines, size_t n);

void faults_set_init(struct faults_set *set,
                     const struct faults_action *actions, uint64_t seed);
void faults_set_fini(struct faults_set *set);
/* Parse and append one rule; *id (may be NULL) gets its id. */
int faults_set_add(struct faults_set *set, const char *text, size_t len,
                   uint32_t *id, char *err, size_t errlen);
/* Remove rule @id: 0 or -ENOENT. */
int faults_set_del(struct faults_set *set, uint32_t id);
/* Counters, state and generator back to their values at init. */
void faults_set_rewind(struct faults_set *set);

/* The rule that fires for @req, or false; fills @f when it fires. */
bool faults_match(struct faults_set *set, const struct faults_req *req,
                  struct faults_fire *f);

/* The set as --stats members: ', "fault_rules": N, "fault_firings": N,
 * "fault_state": "NAME"' into @buf (nothing when the set has no rule):
 * the length written, or -ENOSPC. */
int faults_stats_json(const struct faults_set *set, char *buf, size_t len);

/* Uniform in [0, bound) from the set's generator (rot's bit, for one). */
uint64_t faults_rand_below(struct faults_set *set, uint64_t bound);

/* The name on= takes for @op ("write-zeroes"). */
const char *faults_op_name(enum faults_op op);

#endif
