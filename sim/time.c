/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim/time.h"

int sim_time_add(sim_time_t a, sim_time_t b, sim_time_t *out)
{
    if (a > SIM_TIME_MAX - b) {
        return -ERANGE;
    }
    *out = a + b;
    return 0;
}

int sim_time_mul(sim_time_t a, uint64_t n, sim_time_t *out)
{
    if (n != 0 && a > SIM_TIME_MAX / n) {
        return -ERANGE;
    }
    *out = a * n;
    return 0;
}

int sim_time_for_bytes(uint64_t bytes, uint64_t bytes_per_s, sim_time_t *out)
{
    unsigned __int128 ps;

    if (bytes_per_s == 0) {
        *out = 0;
        return 0;
    }
    ps = (unsigned __int128)bytes * SIM_S;
    ps = (ps + bytes_per_s - 1) / bytes_per_s;
    if (ps > SIM_TIME_MAX) {
        return -ERANGE;
    }
    *out = (sim_time_t)ps;
    return 0;
}

static const struct {
    const char *name;
    sim_time_t scale;
} units[] = {
    { "ps", SIM_PS }, { "ns", SIM_NS }, { "us", SIM_US },
    { "ms", SIM_MS }, { "s", SIM_S },
};

static int parse_fail(char *err, size_t errlen, int rc, const char *s,
                      const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "bad duration '%s': %s", s, why);
    }
    return rc;
}

/* Accumulate v = v * 10 + d without overflow. */
static int acc_digit(unsigned __int128 *v, int d)
{
    *v = *v * 10 + (unsigned)d;
    return *v > SIM_TIME_MAX ? -ERANGE : 0;
}

int sim_time_parse(const char *s, sim_time_t *out, char *err, size_t errlen)
{
    unsigned __int128 whole = 0, frac = 0, fscale = 1, total;
    const char *p = s;
    int ndig = 0;

    for (; *p >= '0' && *p <= '9'; p++, ndig++) {
        if (acc_digit(&whole, *p - '0')) {
            return parse_fail(err, errlen, -ERANGE, s, "too large");
        }
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, ndig++) {
            if (fscale > SIM_TIME_MAX) {
                return parse_fail(err, errlen, -EINVAL, s,
                                  "too many fraction digits");
            }
            frac = frac * 10 + (unsigned)(*p - '0');
            fscale *= 10;
        }
    }
    if (ndig == 0) {
        return parse_fail(err, errlen, -EINVAL, s, "expected a number");
    }
    if (*p == '\0') {
        if (whole == 0 && frac == 0) {
            *out = 0;
            return 0;
        }
        return parse_fail(err, errlen, -EINVAL, s,
                          "missing unit (ps, ns, us, ms or s)");
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].name) != 0) {
            continue;
        }
        if ((frac * units[i].scale) % fscale != 0) {
            return parse_fail(err, errlen, -EINVAL, s, "finer than 1ps");
        }
        total = whole * units[i].scale + frac * units[i].scale / fscale;
        if (total > SIM_TIME_MAX) {
            return parse_fail(err, errlen, -ERANGE, s, "too large");
        }
        *out = (sim_time_t)total;
        return 0;
    }
    return parse_fail(err, errlen, -EINVAL, s,
                      "unknown unit (ps, ns, us, ms or s)");
}

char *sim_time_fmt(sim_time_t t, char *buf, size_t len)
{
    size_t i = sizeof(units) / sizeof(units[0]);

    if (t == 0) {
        snprintf(buf, len, "0s");
        return buf;
    }
    /* Pick the largest unit; show up to 12 fraction digits, trimmed. */
    while (i > 1 && t < units[i - 1].scale) {
        i--;
    }
    sim_time_t sc = units[i - 1].scale, w = t / sc, f = t % sc;
    if (f == 0) {
        snprintf(buf, len, "%" PRIu64 "%s", w, units[i - 1].name);
        return buf;
    }
    char fb[16];
    int digits = 0;
    for (sim_time_t s2 = sc; s2 > 1; s2 /= 10) {
        digits++;
    }
    /* Zero-padded by hand: f < sc <= 10^12, so at most 12 digits. */
    fb[digits] = '\0';
    for (int k = digits - 1; k >= 0; k--, f /= 10) {
        fb[k] = (char)('0' + f % 10);
    }
    for (int k = digits - 1; k > 0 && fb[k] == '0'; k--) {
        fb[k] = '\0';
    }
    snprintf(buf, len, "%" PRIu64 ".%s%s", w, fb, units[i - 1].name);
    return buf;
}
