/* SPDX-License-Identifier: MIT */
/*
 * The demo's report and --stats file (cosim/program/demo-internal.h). Simulated
 * figures come from the back-end and the probe after the back-end thread
 * has stopped; with --connect only the front-end's own figures exist.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cosim/program/demo-internal.h"
#include "cosim/program/stats.h"
#include "devices/work.h"
#include "sim/cal.h"

#define PROG "vusim"

static const unsigned pm[4] = { 500, 900, 990, 1000 };

static void lat_row(const char *name, uint64_t count, uint64_t bytes,
                    const sim_time_t lat[4], bool have)
{
    char t[4][32];

    for (int i = 0; i < 4; i++) {
        if (have) {
            vusim_dur_fmt(lat[i], t[i], sizeof(t[i]));
        } else {
            snprintf(t[i], sizeof(t[i]), "-");
        }
    }
    printf("  %-6s %7" PRIu64 " %9.1f MiB %11s %11s %11s %11s\n", name,
           count, (double)bytes / 1048576.0, t[0], t[1], t[2], t[3]);
}

/* The probe's percentiles for @cls, if there is a probe and a sample. */
static bool class_lat(const struct demo_be *b, unsigned cls,
                      sim_time_t lat[4])
{
    for (int i = 0; b && i < 4; i++) {
        if (vusim_probe_latency(b->probe, cls, pm[i], &lat[i]) != 0) {
            return false;
        }
    }
    return b != NULL;
}

/* Data bytes moved by every request. */
static uint64_t run_bytes(const struct demo_run *r)
{
    uint64_t n = 0;

    for (unsigned c = 0; c < DEMO_MAX_CLASSES; c++) {
        n += r->bytes[c];
    }
    return n;
}

static void report_latency(const struct demo_be *b, const struct demo_cfg *c,
                           const struct demo_run *r)
{
    const char *const *classes = c->ops->work->classes;
    sim_time_t lat[4];
    bool have;

    printf("%s\n  %-6s %7s %13s %11s %11s %11s %11s\n",
           b ? "requests (latency in simulated time, device pop to "
               "completion):"
             : "requests (latencies: see the back-end's --stats file):",
           "type", "count", "bytes", "p50", "p90", "p99", "max");
    for (unsigned k = 0; k < DEMO_MAX_CLASSES && classes[k]; k++) {
        if (r->count[k] == 0) {
            continue;
        }
        lat_row(classes[k], r->count[k], r->bytes[k], lat,
                class_lat(b, k, lat));
    }
    have = b != NULL;
    for (int i = 0; have && i < 4; i++) {
        have = vu_backend_latency(b->be, pm[i], &lat[i]) == 0;
    }
    lat_row("all", r->done, run_bytes(r), lat, have);
}

static void report_notify(const struct demo_be *b, const struct demo_run *r)
{
    struct vu_backend_stats st;
    uint64_t ki = 0, ke = 0, ci = 0, ce = 0;

    if (!b) {
        printf("  front-end: %" PRIu64 " kicks (%" PRIu64 " more "
               "suppressed), %" PRIu64 " calls\n", r->kicks,
               r->kicks_suppressed, r->calls);
        return;
    }
    vu_backend_get_stats(b->be, &st);
    for (uint16_t i = 0; i < st.num_queues && i < VU_MAX_QUEUES; i++) {
        ki += st.q[i].kicks_inband;
        ke += st.q[i].kicks_eventfd;
        ci += st.q[i].calls_inband;
        ce += st.q[i].calls_eventfd;
    }
    printf("  notification mode: %s (kicks: %" PRIu64 " in-band, %" PRIu64
           " eventfd; calls: %" PRIu64 " in-band, %" PRIu64 " eventfd)\n",
           vu_backend_mode_summary(&st), ki, ke, ci, ce);
}

static void report_features(const struct demo_be *b,
                            const struct demo_cfg *c,
                            const struct demo_run *r)
{
    char buf[1024];

    printf("negotiated:\n  features: %s\n",
           vusim_features_str(c->ops, r->features, buf, sizeof(buf)));
    printf("  protocol features: %s\n",
           vusim_pfeatures_str(r->protocol_features, buf, sizeof(buf)));
    report_notify(b, r);
}

static void report_time(const struct demo_be *b, const struct demo_run *r)
{
    uint64_t moved = run_bytes(r);

    if (b) {
        struct sim_cal *cal = vu_loop_cal(b->loop);
        sim_time_t now = sim_cal_now(cal);
        struct sim_cal_stats cs;
        char t[32];

        sim_cal_get_stats(cal, &cs);
        printf("simulated time: %s (%" PRIu64 " calendar events fired, %"
               PRIu64 " scheduled); %.1f MiB/s in simulated time\n",
               vusim_dur_fmt(now, t, sizeof(t)), cs.fired, cs.scheduled,
               now ? (double)moved / 1048576.0 / ((double)now / 1e12) : 0.0);
    }
    printf("wall time: %.3f s (%.0f requests/s; requests alone, checks "
           "aside: %.6f s)\n", (double)r->wall_ns / 1e9,
           r->wall_ns ? (double)r->done * 1e9 / (double)r->wall_ns : 0.0,
           (double)r->work_ns / 1e9);
}

static const char *notify_name(enum vufe_notify n)
{
    return n == VUFE_NOTIFY_INBAND ? "inband"
         : n == VUFE_NOTIFY_QEMU ? "qemu" : "eventfd";
}

static void report_head(const struct demo_cfg *c, const struct demo_run *r)
{
    if (c->connect) {
        printf("vusim demo: %s back-end at %s, %s\n", c->ops->name,
               c->connect, r->device);
    } else {
        printf("vusim demo: %s, %s;", c->ops->name, r->device);
        for (size_t k = 0; k < c->ndopt; k++) {
            printf(" %s=%s", c->dopt[k].name, c->dopt[k].value);
        }
        printf("\n");
    }
    printf("  workload: %" PRIu64 " requests, up to %" PRIu64 " per kick, "
           "seed %" PRIu64 ", front-end notifications: %s\n", r->done,
           c->inflight, c->seed, notify_name(c->notify));
}

void vusim_demo_report(const struct demo_be *b, const struct demo_cfg *c,
                       const struct demo_run *r)
{
    report_head(c, r);
    report_features(b, c, r);
    report_latency(b, c, r);
    report_time(b, r);
    if (r->errors) {
        printf("errors: %" PRIu64 " request(s) failed\n", r->errors);
    }
    if (r->mismatches) {
        printf("verify: %" PRIu64 " bytes read back, %" PRIu64
               " DO NOT MATCH\n", r->verified, r->mismatches);
    } else {
        printf("verify: %" PRIu64 " bytes read back, all match\n",
               r->verified);
    }
    fflush(stdout);
}

int vusim_demo_write_stats(const struct demo_be *b,
                           const struct demo_cfg *c,
                           const struct demo_run *r)
{
    char extra[320];
    FILE *f = fopen(c->stats, "w");
    int rc;

    if (!f) {
        fprintf(stderr, PROG ": --stats=%s: cannot open: %s\n", c->stats,
                strerror(errno));
        return 1;
    }
    snprintf(extra, sizeof(extra), "\"demo\": {\"requests\": %" PRIu64
             ", \"seed\": %" PRIu64 ", \"verified_bytes\": %" PRIu64
             ", \"mismatched_bytes\": %" PRIu64 ", \"errors\": %" PRIu64
             ", \"frontend_kicks\": %" PRIu64 ", \"frontend_calls\": %"
             PRIu64 "}", r->done, c->seed, r->verified, r->mismatches,
             r->errors, r->kicks, r->calls);
    rc = vusim_stats_write(f, &(struct vusim_run_info){
        .device = c->ops->name, .loop = b->loop, .be = b->be,
        .dev = vusim_probe_dev(b->probe), .wall_ns = r->wall_ns,
        .extra = extra });
    if (fclose(f) != 0 || rc < 0) {
        fprintf(stderr, PROG ": --stats=%s: cannot write it\n", c->stats);
        return 1;
    }
    return 0;
}
