/* SPDX-License-Identifier: MIT */
/*
 * Pacing is exact integer arithmetic on the ratio num/den: simulated
 * picoseconds = host nanoseconds * 1000 * num / den from the origin, floored,
 * and an event is due once that paced time reaches it. 128-bit intermediates
 * keep it exact; results past SIM_TIME_MAX saturate.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/clock.h"

struct sim_clock {
    struct sim_clock_cfg cfg;
    struct vusim_hostclock host;
    bool started;             /* PACED: origin set */
    uint64_t origin_host;     /* host ns at the first step */
    sim_time_t origin_sim;    /* calendar time at the first step */
    sim_time_t granted;       /* EXTERNAL */
};

/* ---- parsing ---- */

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t r = a % b;

        a = b;
        b = r;
    }
    return a;
}

/* A positive decimal "D+[.D+]" as an exact reduced fraction. */
static int parse_ratio(const char *s, uint64_t *num, uint64_t *den)
{
    unsigned __int128 n = 0, d = 1;
    const char *p = s;

    if (*p < '0' || *p > '9') {
        return -EINVAL;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (unsigned)(*p - '0');
        if (n > UINT64_MAX) {
            return -EINVAL;
        }
    }
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9') {
            return -EINVAL;
        }
        for (p++; *p >= '0' && *p <= '9'; p++) {
            n = n * 10 + (unsigned)(*p - '0');
            d *= 10;
            if (n > UINT64_MAX || d > UINT64_MAX) {
                return -EINVAL;
            }
        }
    }
    if (*p != '\0' || n == 0) {
        return -EINVAL;
    }
    uint64_t g = gcd_u64((uint64_t)n, (uint64_t)d);
    *num = (uint64_t)n / g;
    *den = (uint64_t)d / g;
    return 0;
}

static int parse_fail(char *err, size_t errlen, const char *s,
                      const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "bad clock '%s': %s", s, why);
    }
    return -EINVAL;
}

int sim_clock_parse(const char *s, struct sim_clock_cfg *cfg, char *err,
                    size_t errlen)
{
    static const char rt[] = "realtime";
    struct sim_clock_cfg c = { .num = 1, .den = 1 };

    if (strcmp(s, "afap") == 0) {
        c.mode = SIM_CLOCK_AFAP;
    } else if (strcmp(s, "external") == 0) {
        c.mode = SIM_CLOCK_EXTERNAL;
    } else if (strncmp(s, rt, sizeof(rt) - 1) == 0 &&
               (s[sizeof(rt) - 1] == '\0' || s[sizeof(rt) - 1] == ':')) {
        c.mode = SIM_CLOCK_PACED;
        if (s[sizeof(rt) - 1] == ':' &&
            parse_ratio(s + sizeof(rt), &c.num, &c.den) != 0) {
            return parse_fail(err, errlen, s,
                              "RATIO must be a positive decimal such as "
                              "0.25 or 10");
        }
    } else {
        return parse_fail(err, errlen, s,
                          "expected afap, realtime, realtime:RATIO or "
                          "external");
    }
    *cfg = c;
    return 0;
}

/* ---- the clock ---- */

struct sim_clock *sim_clock_new(const struct sim_clock_cfg *cfg,
                                const struct vusim_hostclock *host)
{
    struct sim_clock *clk;

    if (cfg->mode != SIM_CLOCK_AFAP && cfg->mode != SIM_CLOCK_PACED &&
        cfg->mode != SIM_CLOCK_EXTERNAL) {
        return NULL;
    }
    if (cfg->mode == SIM_CLOCK_PACED && (cfg->num == 0 || cfg->den == 0)) {
        return NULL;
    }
    clk = calloc(1, sizeof(*clk));
    if (!clk) {
        return NULL;
    }
    clk->cfg = *cfg;
    clk->host = host ? *host : vusim_hostclock_mono;
    return clk;
}

void sim_clock_free(struct sim_clock *clk)
{
    free(clk);
}

enum sim_clock_mode sim_clock_mode(const struct sim_clock *clk)
{
    return clk->cfg.mode;
}

void sim_clock_grant(struct sim_clock *clk, sim_time_t until)
{
    if (until > clk->granted) {
        clk->granted = until;
    }
}

sim_time_t sim_clock_granted(const struct sim_clock *clk)
{
    return clk->granted;
}

/*
 * Run events with time <= @limit, at most @budget (0 = no limit). *due is
 * set if an event <= @limit is still pending (the budget stopped us).
 */
static long run_due(struct sim_cal *cal, sim_time_t limit, long budget,
                    bool *due)
{
    sim_time_t t;
    long ran = 0;

    while (sim_cal_peek(cal, &t) == 0 && t <= limit) {
        if (budget > 0 && ran >= budget) {
            *due = true;
            return ran;
        }
        ran += sim_cal_run_one(cal);
    }
    *due = false;
    return ran;
}

/* Simulated time the pacing allows at host time @host_ns (floored). */
static sim_time_t paced_limit(const struct sim_clock *clk, uint64_t host_ns)
{
    unsigned __int128 e, q, r, t;

    if (host_ns <= clk->origin_host) {
        return clk->origin_sim;
    }
    e = (unsigned __int128)(host_ns - clk->origin_host) * 1000u;
    q = e / clk->cfg.den;
    r = e % clk->cfg.den;
    if (q != 0 && clk->cfg.num > SIM_TIME_MAX / q) {
        return SIM_TIME_MAX;
    }
    t = q * clk->cfg.num + r * clk->cfg.num / clk->cfg.den +
        clk->origin_sim;
    return t > SIM_TIME_MAX ? SIM_TIME_MAX : (sim_time_t)t;
}

/* Host ns from @host_ns until simulated time @t is due (ceiling). */
static uint64_t paced_wait(const struct sim_clock *clk, sim_time_t t,
                           uint64_t host_ns)
{
    unsigned __int128 div = (unsigned __int128)clk->cfg.num * 1000u;
    unsigned __int128 ns, at;

    if (t <= clk->origin_sim) {
        return 0;
    }
    ns = ((unsigned __int128)(t - clk->origin_sim) * clk->cfg.den + div - 1) /
         div;
    at = ns + clk->origin_host;
    if (at >= SIM_CLOCK_IDLE) {
        return SIM_CLOCK_IDLE - 1;
    }
    return at > host_ns ? (uint64_t)(at - host_ns) : 0;
}

/*
 * PACED also moves the calendar's now up to the paced time once nothing
 * due is left, so work that arrives from outside (a guest kick) is stamped
 * with the time the host clock says it is, not the last event's time.
 */
static long step_paced(struct sim_clock *clk, struct sim_cal *cal,
                       long budget, uint64_t *wait_ns)
{
    uint64_t host_ns = clk->host.now_ns(clk->host.opaque);
    sim_time_t limit, t;
    bool due;
    long ran;

    if (!clk->started) {
        clk->started = true;
        clk->origin_host = host_ns;
        clk->origin_sim = sim_cal_now(cal);
    }
    limit = paced_limit(clk, host_ns);
    ran = run_due(cal, limit, budget, &due);
    if (due) {
        *wait_ns = 0;
        return ran;
    }
    if (limit > sim_cal_now(cal)) {
        sim_cal_advance(cal, limit);
    }
    if (sim_cal_peek(cal, &t) != 0) {
        *wait_ns = SIM_CLOCK_IDLE;
    } else {
        *wait_ns = paced_wait(clk, t, host_ns);
    }
    return ran;
}

long sim_clock_step(struct sim_clock *clk, struct sim_cal *cal,
                    long budget, uint64_t *wait_ns)
{
    sim_time_t limit = SIM_TIME_MAX;
    bool due;
    long ran;

    if (clk->cfg.mode == SIM_CLOCK_PACED) {
        return step_paced(clk, cal, budget, wait_ns);
    }
    if (clk->cfg.mode == SIM_CLOCK_EXTERNAL) {
        limit = clk->granted;
    }
    ran = run_due(cal, limit, budget, &due);
    *wait_ns = due ? 0 : SIM_CLOCK_IDLE;
    return ran;
}
