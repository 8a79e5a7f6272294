/* SPDX-License-Identifier: MIT */
/* devices/faults: the rule grammar (good and bad rules, the line each bad
 * one gets), scenarios, and the matching engine's triggers, counters,
 * states and seeded probability. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "devices/faults/faults.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

#define K(k) FAULTS_KEY(FAULTS_K_##k)
/* A device's table as blk declares it, enough to exercise every check. */
static const struct faults_action acts[] = {
    { "error", K(STATUS), K(STATUS), false, 0 },
    { "delay", K(DELAY), K(DELAY), false, 0 },
    { "hang", 0, 0, false, 0 },
    { "torn", K(SECTORS), K(SECTORS), false,
      FAULTS_OPS(FAULTS_OP_WRITE) },
    { "resize", K(SIZE), K(SIZE), false, 0 },
    { "timing", K(LATENCY) | K(BANDWIDTH), 0, true, 0 },
    { NULL, 0, 0, false, 0 },
};
#undef K

static int parse(const char *text, struct faults_rule *r, char *err,
                 size_t errlen)
{
    return faults_rule_parse(text, strlen(text), acts, r, err, errlen);
}

/* Every key, and the values each takes. */
static void test_parse_good(void)
{
    struct faults_rule r;
    char err[256] = "";

    CU_ASSERT_EQUAL_FATAL(parse("on=write,queue=1,sector=100-199,nth=3,"
                                "every=2,after=1ms,before=2s,"
                                "probability=0.25,state=a,do=error,"
                                "status=ioerr,times=once,then=b", &r, err,
                                sizeof(err)), 0);
    CU_ASSERT_EQUAL(r.ops, 1u << FAULTS_OP_WRITE);
    CU_ASSERT(r.has_queue && r.queue == 1);
    CU_ASSERT(r.has_sector && r.sec_lo == 100 && r.sec_hi == 199);
    CU_ASSERT_EQUAL(r.nth, 3);
    CU_ASSERT_EQUAL(r.every, 2);
    CU_ASSERT_EQUAL(r.after, 1000000000ull);
    CU_ASSERT_EQUAL(r.before, 2000000000000ull);
    CU_ASSERT_EQUAL(r.prob, 250000000u);
    CU_ASSERT_STRING_EQUAL(r.state, "a");
    CU_ASSERT_STRING_EQUAL(r.then, "b");
    CU_ASSERT_EQUAL(r.times, 1);
    CU_ASSERT_EQUAL(r.action, 0);
    CU_ASSERT_EQUAL(r.p[FAULTS_K_STATUS], FAULTS_STATUS_IOERR);
    CU_ASSERT_STRING_EQUAL(r.text, "on=write,queue=1,sector=100-199,nth=3,"
                           "every=2,after=1ms,before=2s,probability=0.25,"
                           "state=a,do=error,status=ioerr,times=once,"
                           "then=b");
    faults_rule_fini(&r);

    CU_ASSERT_EQUAL_FATAL(parse("do=resize,size=2M", &r, err, sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(r.p[FAULTS_K_SIZE], 2u << 20);
    CU_ASSERT_EQUAL(r.ops, (1u << FAULTS_OP_N) - 1);    /* on=any */
    CU_ASSERT_EQUAL(r.prob, FAULTS_PROB_ONE);
    faults_rule_fini(&r);

    CU_ASSERT_EQUAL_FATAL(parse("on=any,sector=0x10,do=timing,"
                                "bandwidth=1M,times=7", &r, err,
                                sizeof(err)), 0);
    CU_ASSERT(r.sec_lo == 16 && r.sec_hi == 16);
    CU_ASSERT_EQUAL(r.p[FAULTS_K_BANDWIDTH], 1u << 20);
    CU_ASSERT_EQUAL(r.pset, FAULTS_KEY(FAULTS_K_BANDWIDTH));
    CU_ASSERT_EQUAL(r.times, 7);
    faults_rule_fini(&r);

    CU_ASSERT_EQUAL(parse("on=write,do=torn,sectors=2,probability=1", &r,
                          err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(r.prob, FAULTS_PROB_ONE);
    faults_rule_fini(&r);
    CU_ASSERT_EQUAL(parse("do=hang,probability=0.000000001", &r, err,
                          sizeof(err)), 0);
    CU_ASSERT_EQUAL(r.prob, 1);
    faults_rule_fini(&r);
}

/* Each bad rule is refused with a line naming the key and the value. */
static void test_parse_bad(void)
{
    static const struct {
        const char *rule, *want;
    } bad[] = {
        { "", "rule: empty" },
        { "do=error", "status=: do=error needs status=" },
        { "on=write", "do=: missing" },
        { "colour=red,do=hang", "colour=red: unknown key" },
        { "on=writ,do=hang", "on=writ: expected read, write" },
        { "on=write,on=read,do=hang", "on=read: on given twice" },
        { "do=explode", "do=explode: not an action of this device; "
          "expected error, delay, hang, torn, resize, timing" },
        { "do=needs-reset", "do=needs-reset: impossible over vhost-user: "
          "no back-end message sets the device status" },
        { "do=hang,status=ioerr", "status=: do=hang takes no status" },
        { "do=error,status=bad", "status=bad: expected ioerr or unsupp" },
        { "do=delay,delay=5 ms", "white space inside a rule" },
        { "do=delay,delay=5parsecs", "delay=5parsecs: expected a duration" },
        { "nth=0,do=hang", "nth=0: expected a count from 1" },
        { "every=-1,do=hang", "every=-1: expected a count from 1" },
        { "times=twice,do=hang", "times=twice: expected a count from 1, or "
          "once" },
        { "sector=9-3,do=hang", "sector=9-3: expected a sector A or a "
          "range A-B with A <= B" },
        { "sector=-3,do=hang", "sector=-3: expected" },
        { "queue=65536,do=hang", "queue=65536: expected a queue index" },
        { "probability=1.5,do=hang", "probability=1.5: expected 0, 1" },
        { "probability=0.1234567891,do=hang", "probability=0.1234567891" },
        { "state=,do=hang", "state=: empty value" },
        { "state=a/b,do=hang", "state=a/b: expected a name" },
        { "do=hang,,nth=1", "empty key=value between commas" },
        { "do=hang,", "empty key=value between commas" },
        { "nth,do=hang", "nth: expected key=value" },
        { "on=read,do=torn,sectors=1", "do=torn: applies only to "
          "on=write" },
        { "do=torn,sectors=1", "do=torn: applies only to on=write" },
        { "do=timing", "do=timing: needs at least one parameter" },
        { "do=resize,size=1Q", "size=1Q: expected a byte count" },
        { "do=resize,size=99999999999999999999", "size=9999" },
        { "after=2ms,before=1ms,do=hang", "before=: must be later than "
          "after=" },
        { "on=flush,sector=1,do=hang", "sector=: on=flush requests have no "
          "sectors" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct faults_rule r;
        char err[512] = "", msg[700];

        snprintf(msg, sizeof(msg), "rule '%s'", bad[i].rule);
        VU_ASSERT_MSG(parse(bad[i].rule, &r, err, sizeof(err)) == -EINVAL,
                      msg);
        snprintf(msg, sizeof(msg), "rule '%s': got '%s', want '%s'",
                 bad[i].rule, err, bad[i].want);
        VU_ASSERT_MSG(strstr(err, bad[i].want) != NULL, msg);
        VU_ASSERT_MSG(strchr(err, '\n') == NULL, msg);
    }
}

/* Texts the parser must survive: no NUL inside, bounded length. */
static void test_parse_limits(void)
{
    struct faults_rule r;
    char err[256], big[FAULTS_RULE_MAX + 8];

    CU_ASSERT_EQUAL(faults_rule_parse("do=hang\0x", 9, acts, &r, err,
                                      sizeof(err)), -EINVAL);
    memset(big, 'a', sizeof(big));
    CU_ASSERT_EQUAL(faults_rule_parse(big, sizeof(big), acts, &r, err,
                                      sizeof(err)), -EINVAL);
    /* Not NUL-terminated: the parser reads @len bytes only. */
    memcpy(big, "do=hangXXXX", 11);
    CU_ASSERT_EQUAL(faults_rule_parse(big, 7, acts, &r, err, sizeof(err)),
                    0);
    CU_ASSERT_STRING_EQUAL(r.text, "do=hang");
    faults_rule_fini(&r);
    /* A NULL action table refuses every action. */
    CU_ASSERT_EQUAL(faults_rule_parse("do=hang", 7, NULL, &r, err,
                                      sizeof(err)), -EINVAL);
    CU_ASSERT(strstr(err, "expected none") != NULL);
}

static struct faults_req rq(enum faults_op op, uint64_t sector, uint64_t n,
                            sim_time_t now)
{
    return (struct faults_req){ .op = op, .sector = sector, .nsectors = n,
                                .now = now };
}

static void add(struct faults_set *s, const char *rule)
{
    char err[256] = "";

    CU_ASSERT_EQUAL_FATAL(faults_set_add(s, rule, strlen(rule), NULL, err,
                                         sizeof(err)), 0);
}

/* nth, every, both, and times: exactly the requests they name. */
static void test_match_counts(void)
{
    static const struct {
        const char *rule;
        const char *want;   /* '1' where request i fires */
    } t[] = {
        { "on=write,nth=3,do=hang", "0010000000" },
        { "on=write,every=3,do=hang", "0010010010" },
        { "on=write,nth=2,every=3,do=hang", "0100100100" },
        { "on=write,every=2,times=2,do=hang", "0101000000" },
        { "on=write,times=once,do=hang", "1000000000" },
        { "on=write,do=hang", "1111111111" },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct faults_set s;
        struct faults_fire f;
        char got[11] = "";

        faults_set_init(&s, acts, 0);
        add(&s, t[i].rule);
        for (int k = 0; k < 10; k++) {
            struct faults_req q = rq(FAULTS_OP_READ, 0, 1, 0);

            /* reads in between never count */
            CU_ASSERT_FALSE(faults_match(&s, &q, &f));
            q.op = FAULTS_OP_WRITE;
            got[k] = faults_match(&s, &q, &f) ? '1' : '0';
        }
        VU_ASSERT_MSG(strcmp(got, t[i].want) == 0, t[i].rule);
        faults_set_fini(&s);
    }
}

/* sector= matches requests that overlap it; queue=, after=, before=. */
static void test_match_ranges(void)
{
    struct faults_set s;
    struct faults_fire f;
    struct faults_req q;

    faults_set_init(&s, acts, 0);
    add(&s, "sector=100-199,queue=2,after=1ms,before=2ms,do=hang");
    q = rq(FAULTS_OP_READ, 96, 4, sim_ms(1));
    q.queue = 2;
    CU_ASSERT_FALSE(faults_match(&s, &q, &f));      /* 96-99 */
    q.nsectors = 5;
    CU_ASSERT_TRUE(faults_match(&s, &q, &f));       /* 96-100 */
    q = rq(FAULTS_OP_WRITE, 199, 8, sim_ms(1));
    q.queue = 2;
    CU_ASSERT_TRUE(faults_match(&s, &q, &f));
    q.sector = 200;
    CU_ASSERT_FALSE(faults_match(&s, &q, &f));
    q.sector = 150;
    q.queue = 1;
    CU_ASSERT_FALSE(faults_match(&s, &q, &f));
    q.queue = 2;
    q.now = sim_ms(1) - 1;
    CU_ASSERT_FALSE(faults_match(&s, &q, &f));
    q.now = sim_ms(2) - 1;
    CU_ASSERT_TRUE(faults_match(&s, &q, &f));
    q.now = sim_ms(2);
    CU_ASSERT_FALSE(faults_match(&s, &q, &f));
    q = rq(FAULTS_OP_FLUSH, 0, 0, sim_ms(1));       /* no sectors */
    q.queue = 2;
    CU_ASSERT_FALSE(faults_match(&s, &q, &f));
    faults_set_fini(&s);
}

/* States: state= gates a rule, then= moves; first rule that fires wins. */
static void test_match_states(void)
{
    struct faults_set s;
    struct faults_fire f;
    struct faults_req q = rq(FAULTS_OP_WRITE, 0, 1, 5);

    faults_set_init(&s, acts, 0);
    add(&s, "state=start,on=write,nth=2,do=hang,then=broken");
    add(&s, "state=broken,on=any,do=error,status=ioerr");
    add(&s, "on=flush,do=timing,latency=1ms,then=start");
    CU_ASSERT_STRING_EQUAL(s.state, FAULTS_STATE_START);
    CU_ASSERT_FALSE(faults_match(&s, &q, &f));
    CU_ASSERT_TRUE_FATAL(faults_match(&s, &q, &f));
    CU_ASSERT_STRING_EQUAL(f.action, "hang");
    CU_ASSERT_STRING_EQUAL(f.state, "broken");
    CU_ASSERT_EQUAL(f.now, 5);
    CU_ASSERT_EQUAL(f.firing, 1);
    CU_ASSERT_TRUE_FATAL(faults_match(&s, &q, &f));
    CU_ASSERT_STRING_EQUAL(f.action, "error");
    CU_ASSERT_EQUAL(f.rule->id, 2);
    /* rule 2 takes the flush first: on=any is earlier in order */
    q.op = FAULTS_OP_FLUSH;
    CU_ASSERT_TRUE_FATAL(faults_match(&s, &q, &f));
    CU_ASSERT_STRING_EQUAL(f.action, "error");
    CU_ASSERT_EQUAL(faults_set_del(&s, 2), 0);
    CU_ASSERT_EQUAL(faults_set_del(&s, 2), -ENOENT);
    CU_ASSERT_TRUE_FATAL(faults_match(&s, &q, &f));
    CU_ASSERT_STRING_EQUAL(f.action, "timing");
    CU_ASSERT_STRING_EQUAL(s.state, "start");
    CU_ASSERT_EQUAL(s.fired, 4);
    /* rewind: counters, state and generator as at init */
    faults_set_rewind(&s);
    CU_ASSERT_EQUAL(s.fired, 0);
    CU_ASSERT_EQUAL(s.rules[0].matched, 0);
    faults_set_fini(&s);
}

static void prob_run(uint64_t seed, char *out, size_t n)
{
    struct faults_set s;
    struct faults_fire f;

    faults_set_init(&s, acts, seed);
    add(&s, "on=read,probability=0.3,do=hang");
    for (size_t i = 0; i < n; i++) {
        struct faults_req q = rq(FAULTS_OP_READ, 0, 1, 0);

        out[i] = faults_match(&s, &q, &f) ? '1' : '0';
    }
    out[n] = '\0';
    faults_set_fini(&s);
}

/* probability=: a function of the seed; about P of the requests. */
static void test_match_probability(void)
{
    char a[2001], b[2001], c[2001];
    size_t ones = 0;

    prob_run(7, a, 2000);
    prob_run(7, b, 2000);
    prob_run(8, c, 2000);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT(strcmp(a, c) != 0);
    for (size_t i = 0; i < 2000; i++) {
        ones += a[i] == '1';
    }
    /* 600 expected; 5 sigma is about 100 */
    CU_ASSERT(ones > 500 && ones < 700);
}

/* A scenario: comments and blanks skipped; a bad line named, nothing
 * added; lines from a file for the program. */
static void test_scenario(void)
{
    static const char good[] = "# a scenario\n\n  on=write,nth=3,do=error,"
                               "status=ioerr   # the third write\r\n"
                               "\ton=flush,do=hang\n";
    static const char badtxt[] = "on=write,do=hang\n# ok\non=read,do=nope\n";
    struct faults_set s;
    char err[512] = "", path[] = "/tmp/vusim-scen-XXXXXX", **lines = NULL;
    size_t n = 0;
    int fd;

    faults_set_init(&s, acts, 0);
    CU_ASSERT_EQUAL(faults_scenario_parse(&s, good, strlen(good), err,
                                          sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.rules[0].text, "on=write,nth=3,do=error,"
                           "status=ioerr");
    CU_ASSERT_STRING_EQUAL(s.rules[1].text, "on=flush,do=hang");
    CU_ASSERT_EQUAL(faults_scenario_parse(&s, badtxt, strlen(badtxt), err,
                                          sizeof(err)), -EINVAL);
    CU_ASSERT(strstr(err, "line 3: do=nope") != NULL);
    CU_ASSERT_EQUAL(s.n, 2);
    faults_set_fini(&s);

    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, good, strlen(good)) == (ssize_t)strlen(good));
    close(fd);
    CU_ASSERT_EQUAL(faults_scenario_lines(path, acts, &lines, &n, err,
                                          sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(lines[1], "on=flush,do=hang");
    faults_lines_free(lines, n);
    unlink(path);
    CU_ASSERT_EQUAL(faults_scenario_lines(path, acts, &lines, &n, err,
                                          sizeof(err)), -EINVAL);
    CU_ASSERT(strstr(err, "No such file") != NULL);
}

/* The walk by type (by_op) against a plain walk over every rule, on
 * random rules and requests, across deletes and a scenario rolled back:
 * the same rule fires for every request. */
struct ref_rule {
    uint32_t id, ops;
    uint64_t nth, every, times, matched, fired;
};

static uint32_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*x >> 33);
}

static int ref_match(struct ref_rule *r, size_t n, enum faults_op op)
{
    int hit = -1;

    for (size_t i = 0; i < n; i++) {
        uint64_t m;
        bool hold;

        if (!(r[i].ops & (1u << op)) ||
            (r[i].times && r[i].fired >= r[i].times)) {
            continue;
        }
        m = ++r[i].matched;
        hold = r[i].nth && r[i].every
                   ? m >= r[i].nth && (m - r[i].nth) % r[i].every == 0
               : r[i].nth ? m == r[i].nth
                          : !r[i].every || m % r[i].every == 0;
        if (hit < 0 && hold) {
            hit = (int)i;
        }
    }
    if (hit >= 0) {
        r[hit].fired++;
    }
    return hit < 0 ? 0 : (int)r[hit].id;
}

static void ref_requests(struct faults_set *s, struct ref_rule *r, size_t n,
                         uint64_t *x, int count)
{
    static const enum faults_op ops[] = {
        FAULTS_OP_READ, FAULTS_OP_WRITE, FAULTS_OP_FLUSH, FAULTS_OP_DISCARD,
        FAULTS_OP_GET_ID, FAULTS_OP_OTHER,
    };
    int bad = 0;

    for (int k = 0; k < count; k++) {
        struct faults_req q = rq(ops[lcg(x) % 6], 0, 1, 0);
        struct faults_fire f;
        int want = ref_match(r, n, q.op);
        int got = faults_match(s, &q, &f) ? (int)f.rule->id : 0;

        bad += got != want;
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_match_by_type(void)
{
    static const char *const on[] = { "read", "write", "flush", "any" };
    static const char rollback[] = "on=read,do=hang\non=read,do=nope\n";
    struct ref_rule r[40];
    struct faults_set s;
    char err[256];
    uint64_t x = 42;
    size_t n = 0;

    faults_set_init(&s, acts, 0);
    for (; n < 40; n++) {
        unsigned o = lcg(&x) % 4;
        struct ref_rule *p = &r[n];
        char text[128];
        int w;

        *p = (struct ref_rule){ .id = (uint32_t)n + 1,
                                .ops = o == 3 ? (1u << FAULTS_OP_N) - 1
                                              : 1u << o,
                                .nth = lcg(&x) % 4, .every = lcg(&x) % 4,
                                .times = lcg(&x) % 3 };
        /* 0 is "not given": such keys are left out */
        w = snprintf(text, sizeof(text), "on=%s", on[o]);
        w += p->nth ? snprintf(text + w, sizeof(text) - (size_t)w,
                               ",nth=%u", (unsigned)p->nth) : 0;
        w += p->every ? snprintf(text + w, sizeof(text) - (size_t)w,
                                 ",every=%u", (unsigned)p->every) : 0;
        w += p->times ? snprintf(text + w, sizeof(text) - (size_t)w,
                                 ",times=%u", (unsigned)p->times) : 0;
        snprintf(text + w, sizeof(text) - (size_t)w, ",do=hang");
        add(&s, text);
    }
    ref_requests(&s, r, n, &x, 300);
    /* delete every third rule, the first included */
    for (size_t i = 0, k = 0; i < n; i++) {
        if (i % 3 == 0) {
            CU_ASSERT_EQUAL(faults_set_del(&s, r[i].id), 0);
        } else {
            r[k++] = r[i];
        }
    }
    n -= (n + 2) / 3;
    CU_ASSERT_EQUAL_FATAL(s.n, n);
    ref_requests(&s, r, n, &x, 300);
    /* a scenario refused at its second line adds nothing */
    CU_ASSERT_EQUAL(faults_scenario_parse(&s, rollback, strlen(rollback),
                                          err, sizeof(err)), -EINVAL);
    CU_ASSERT_EQUAL_FATAL(s.n, n);
    ref_requests(&s, r, n, &x, 300);
    faults_set_fini(&s);
}

CU_TestInfo faults_tests[] = {
    { "parse: every key", test_parse_good },
    { "parse: bad rules named", test_parse_bad },
    { "match: by type, as a walk over every rule", test_match_by_type },
    { "parse: NUL, length, no table", test_parse_limits },
    { "match: nth, every, times", test_match_counts },
    { "match: sector, queue, after, before", test_match_ranges },
    { "match: states, order, del, rewind", test_match_states },
    { "match: seeded probability", test_match_probability },
    { "scenario: text and file", test_scenario },
    CU_TEST_INFO_NULL,
};
