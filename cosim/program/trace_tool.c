/* SPDX-License-Identifier: MIT */
/*
 * The trace commands (cosim/program/trace_tool.h): thin front ends to the reader,
 * replay and exports, which do the work and never print.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/export.h"
#include "traces/reader.h"
#include "traces/replay.h"
#include "cosim/program/opts.h"
#include "cosim/program/trace_tool.h"

#define PROG "vusim"
#define EXIT_DIFF 1
#define EXIT_USAGE 2

static int usage(void)
{
    fprintf(stderr,
            "usage: " PROG " trace info TRACE\n"
            "       " PROG " trace dump TRACE\n"
            "       " PROG " trace check TRACE\n"
            "       " PROG " trace diff [--device] A B\n"
            "       " PROG " trace export --format=vcd|perfetto "
            "[--output=FILE] TRACE\n"
            "       " PROG " replay TRACE [--quiet] [--OPTION[=VALUE]...]\n"
            "The format is described in traces/FORMAT.md.\n");
    return EXIT_USAGE;
}

/* @lazy: validated as it is read (replay walks it once). */
static struct trace_reader *open_trace_as(const char *path, bool lazy)
{
    struct trace_reader *r = NULL;
    char err[256] = "";

    if ((lazy ? trace_reader_open_lazy(path, &r, err, sizeof(err))
              : trace_reader_open(path, &r, err, sizeof(err))) < 0) {
        fprintf(stderr, PROG ": %s: %s\n", path, err);
        return NULL;
    }
    return r;
}

static struct trace_reader *open_trace(const char *path)
{
    return open_trace_as(path, false);
}

static const char *fmt_time(sim_time_t t, char *buf)
{
    return sim_time_fmt(t, buf, 32);
}

/* "FILE: torn: valid prefix N records, B of F bytes; record K at offset
 * O: why" */
static void print_status(FILE *f, const char *path,
                         const struct trace_reader *r)
{
    struct trace_status_info st;

    trace_reader_status(r, &st);
    fprintf(f, "%s%s%s: %zu records, %" PRIu64 " of %" PRIu64 " bytes",
            path, path[0] ? ": " : "", trace_status_name(st.status),
            st.records, st.valid_bytes, st.file_bytes);
    if (st.status == TRACE_ST_TORN || st.status == TRACE_ST_CORRUPT) {
        fprintf(f, " valid; the prefix ends at record %zu (offset %" PRIu64
                "): %s", st.bad_index, st.bad_offset, st.why);
    }
    fputc('\n', f);
}

/* ---- dump ---- */

static void print_rec(FILE *f, const struct trace_reader *r,
                      const struct trace_rec *rec, const char *prefix)
{
    char t[32], line[1024];

    fprintf(f, "%s%-7zu %-12s %-8s %s\n", prefix, rec->index,
            fmt_time(rec->time, t), trace_type_name(rec->type),
            trace_rec_describe(r, rec, line, sizeof(line)));
}

static int cmd_dump(const char *path)
{
    struct trace_reader *r = open_trace(path);
    struct trace_status_info st;
    struct trace_rec rec;

    if (!r) {
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < trace_reader_count(r); i++) {
        if (trace_reader_get(r, i, &rec) == 0) {
            print_rec(stdout, r, &rec, "");
        }
    }
    trace_reader_status(r, &st);
    if (st.status != TRACE_ST_COMPLETE) {
        printf("# ");
        print_status(stdout, path, r);
    }
    trace_reader_free(r);
    return 0;
}

/* ---- info ---- */

struct counts {
    uint64_t by_type[256], other;
    uint64_t chains, completions, cancels;
    uint64_t features, pfeatures;
    bool have_features, have_pfeatures;
    sim_time_t first, last;
    uint64_t wall_ns;
    bool have_wall;
    uint8_t kick[256], call[256];
    uint16_t nmode;
    char fault_state[64];         /* after the last FAULT */
};

static void count_rec(struct counts *c, const struct trace_rec *rec)
{
    if (rec->type < 256) {
        c->by_type[rec->type]++;
    } else {
        c->other++;
    }
    c->last = rec->time;
    switch (rec->type) {
    case TRACE_NEG:
        if (rec->u.neg.what == TRACE_NEG_FEATURES) {
            c->features = rec->u.neg.value;
            c->have_features = true;
        } else {
            c->pfeatures = rec->u.neg.value;
            c->have_pfeatures = true;
        }
        break;
    case TRACE_MODE:
        if (rec->u.mode.queue < 256) {
            c->kick[rec->u.mode.queue] = rec->u.mode.kick;
            c->call[rec->u.mode.queue] = rec->u.mode.call;
            if (rec->u.mode.queue >= c->nmode) {
                c->nmode = rec->u.mode.queue + 1;
            }
        }
        break;
    case TRACE_FAULT:
        snprintf(c->fault_state, sizeof(c->fault_state), "%.*s",
                 (int)rec->u.fault.state_len,
                 (const char *)rec->u.fault.state);
        break;
    case TRACE_TRAILER:
        c->wall_ns = rec->u.trailer.wall_ns;
        c->have_wall = true;
        break;
    default:
        break;
    }
}

static const char *mode_name(uint8_t m)
{
    return m == TRACE_NOTIFY_EVENTFD ? "eventfd" :
           m == TRACE_NOTIFY_INBAND ? "inband" : "none";
}

static void print_header(const struct trace_header *h)
{
    printf("device:        %s (virtio id %u), %u queue%s\n", h->device,
           h->virtio_id, h->num_queues, h->num_queues == 1 ? "" : "s");
    printf("options:      ");
    for (size_t i = 0; i < h->nopts; i++) {
        printf(" --%s%s%s", h->opts[i].name, h->opts[i].value ? "=" : "",
               h->opts[i].value ? h->opts[i].value : "");
    }
    printf("%s\n", h->nopts ? "" : " (none)");
    printf("timing:        clock %s, in-band %s, seed %" PRIu64
           ", connection %u\n", h->clock, h->inband, h->seed, h->conn_id);
    printf("digest:        %s of what each completion wrote\n",
           trace_digest_name(h->digest));
    if (h->image == TRACE_IMAGE_FILE) {
        printf("image:         file (--%s), %" PRIu64 " bytes, sha256 ",
               h->image_opt, h->image_size);
        for (unsigned i = 0; i < TRACE_SHA256_SIZE; i++) {
            printf("%02x", h->image_sha256[i]);
        }
        printf("\n");
    } else if (h->image == TRACE_IMAGE_RAM) {
        printf("image:         RAM, %" PRIu64 " bytes, zeros at start\n",
               h->image_size);
    }
}

static void print_counts(const struct trace_header *h,
                         const struct counts *c)
{
    char a[32], b[32];

    printf("features:      offered 0x%" PRIx64, h->features);
    if (c->have_features) {
        printf(", negotiated 0x%" PRIx64, c->features);
    }
    printf("\nprotocol:      offered 0x%" PRIx64, h->protocol_features);
    if (c->have_pfeatures) {
        printf(", negotiated 0x%" PRIx64, c->pfeatures);
    }
    printf("\n");
    for (uint16_t q = 0; q < c->nmode; q++) {
        printf("notification:  q%u kick %s, call %s\n", q,
               mode_name(c->kick[q]), mode_name(c->call[q]));
    }
    printf("requests:      %" PRIu64 " chains, %" PRIu64 " completions, %"
           PRIu64 " cancelled\n", c->by_type[TRACE_CHAIN],
           c->by_type[TRACE_COMPLETE], c->by_type[TRACE_CANCEL]);
    if (c->by_type[TRACE_FAULT]) {
        printf("faults:        %" PRIu64 " rule firings, state %s after the "
               "last\n", c->by_type[TRACE_FAULT], c->fault_state);
    }
    printf("simulated:     %s .. %s\n", fmt_time(c->first, a),
           fmt_time(c->last, b));
    printf("records:      ");
    for (unsigned t = 0; t < 256; t++) {
        if (c->by_type[t]) {
            printf(" %s %" PRIu64, trace_type_name((uint16_t)t),
                   c->by_type[t]);
        }
    }
    printf("\n");
    if (c->have_wall) {
        printf("wall clock:    %" PRIu64 " ns while recording (TRAILER; "
               "comparisons ignore it)\n", c->wall_ns);
    }
}

static int cmd_info(const char *path)
{
    struct trace_reader *r = open_trace(path);
    struct counts *c;
    struct trace_status_info st;
    struct trace_rec rec;

    if (!r) {
        return EXIT_USAGE;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        trace_reader_free(r);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < trace_reader_count(r); i++) {
        if (trace_reader_get(r, i, &rec) == 0) {
            count_rec(c, &rec);
        }
    }
    trace_reader_status(r, &st);
    printf("trace:         %s (format %u.%u)\n", path, st.major, st.minor);
    printf("status:        ");
    print_status(stdout, "", r);
    if (trace_reader_header(r)) {
        print_header(trace_reader_header(r));
        print_counts(trace_reader_header(r), c);
    }
    free(c);
    trace_reader_free(r);
    return 0;
}

/* ---- check ---- */

/* Requests: each completed or cancelled once, after its CHAIN. */
static int check_requests(const struct trace_reader *r, FILE *f)
{
    size_t n = trace_reader_count(r), nchain = 0;
    uint8_t *state = NULL;     /* by id: 1 popped, 2 ended */
    struct trace_rec rec;
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        trace_reader_get(r, i, &rec);
        nchain += rec.type == TRACE_CHAIN;
    }
    state = calloc(nchain + 1, 1);
    for (size_t i = 0; state && i < n && !bad; i++) {
        uint64_t id = 0;

        trace_reader_get(r, i, &rec);
        if (rec.type == TRACE_CHAIN) {
            id = rec.u.chain.id;
            bad = id >= nchain || state[id];
            if (!bad) {
                state[id] = 1;
            }
        } else if (rec.type == TRACE_COMPLETE || rec.type == TRACE_CANCEL) {
            id = rec.type == TRACE_COMPLETE ? rec.u.done.id
                                            : rec.u.cancel.id;
            bad = id >= nchain || state[id] != 1;
            if (!bad) {
                state[id] = 2;
            }
        }
        if (bad) {
            fprintf(f, "record %zu (%s): request %" PRIu64 " is unknown or "
                    "already ended\n", i, trace_type_name(rec.type), id);
        }
    }
    free(state);
    return bad;
}

static int cmd_check(const char *path)
{
    struct trace_reader *r = open_trace(path);
    struct trace_status_info st;
    int bad;

    if (!r) {
        return EXIT_USAGE;
    }
    trace_reader_status(r, &st);
    print_status(stdout, path, r);
    bad = check_requests(r, stdout);
    trace_reader_free(r);
    if (st.status == TRACE_ST_TORN || st.status == TRACE_ST_CORRUPT ||
        st.records == 0 || bad) {
        return EXIT_DIFF;
    }
    return 0;
}

/* ---- diff ---- */

static bool opt_equal(const struct trace_opt *a, const struct trace_opt *b)
{
    if (strcmp(a->name, b->name) != 0 || !a->value != !b->value) {
        return false;
    }
    return !a->value || strcmp(a->value, b->value) == 0;
}

/* Print the header fields that differ; true if any. */
static bool diff_headers(const struct trace_header *a,
                         const struct trace_header *b)
{
    bool d = false;
    size_t n = a->nopts > b->nopts ? a->nopts : b->nopts;

#define HDIFF(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            printf("header: " __VA_ARGS__);                                  \
            d = true;                                                        \
        }                                                                    \
    } while (0)
    HDIFF(strcmp(a->device, b->device), "device %s / %s\n", a->device,
          b->device);
    HDIFF(strcmp(a->clock, b->clock), "clock %s / %s\n", a->clock, b->clock);
    HDIFF(strcmp(a->inband, b->inband), "in-band %s / %s\n", a->inband,
          b->inband);
    HDIFF(a->seed != b->seed, "seed %" PRIu64 " / %" PRIu64 "\n", a->seed,
          b->seed);
    HDIFF(a->digest != b->digest, "digest %s / %s\n",
          trace_digest_name(a->digest), trace_digest_name(b->digest));
    HDIFF(a->features != b->features || a->protocol_features !=
          b->protocol_features, "offered features differ\n");
    HDIFF(a->image != b->image || a->image_size != b->image_size ||
          memcmp(a->image_sha256, b->image_sha256, TRACE_SHA256_SIZE),
          "the starting image differs\n");
    for (size_t i = 0; i < n; i++) {
        const struct trace_opt none = { "(none)", NULL };
        const struct trace_opt *x = i < a->nopts ? &a->opts[i] : &none;
        const struct trace_opt *y = i < b->nopts ? &b->opts[i] : &none;

        HDIFF(!opt_equal(x, y), "option %zu: --%s%s%s / --%s%s%s\n", i,
              x->name, x->value ? "=" : "", x->value ? x->value : "",
              y->name, y->value ? "=" : "", y->value ? y->value : "");
    }
#undef HDIFF
    return d;
}

/* The next record index at or after @i to compare: never a TRAILER; with
 * @device, only the device's records. */
static size_t next_cmp(const struct trace_reader *r, size_t i, bool device)
{
    struct trace_rec rec;

    while (i < trace_reader_count(r) && trace_reader_get(r, i, &rec) == 0 &&
           (rec.type == TRACE_TRAILER || (device && !trace_rec_is_device(&rec)))) {
        i++;
    }
    return i;
}

/* Two records that read alike may still differ in their bytes (a
 * chain's data): say where. */
static void print_first_byte(const uint8_t *fa, const uint8_t *fb,
                             size_t la, size_t lb)
{
    size_t n = la < lb ? la : lb, k = 0;

    if (!fa || !fb) {
        return;
    }
    while (k < n && fa[k] == fb[k]) {
        k++;
    }
    if (k < n) {
        printf("  first differing byte: %zu of the record (payload byte "
               "%zu): %02x / %02x\n", k,
               k >= TRACE_REC_HDR_SIZE ? k - TRACE_REC_HDR_SIZE : 0,
               fa[k], fb[k]);
    } else if (la != lb) {
        printf("  the records are %zu and %zu bytes long\n", la, lb);
    }
}

static int diff_records(const struct trace_reader *a,
                        const struct trace_reader *b, bool device)
{
    size_t i = 1, j = 1, na = trace_reader_count(a),
           nb = trace_reader_count(b), la, lb;
    struct trace_rec ra, rb;

    for (;;) {
        const uint8_t *fa, *fb;

        i = next_cmp(a, i, device);
        j = next_cmp(b, j, device);
        if (i >= na || j >= nb) {
            break;
        }
        fa = trace_reader_frame(a, i, &la);
        fb = trace_reader_frame(b, j, &lb);
        if (la != lb || memcmp(fa, fb, la) != 0) {
            break;
        }
        i++;
        j++;
    }
    if (i >= na && j >= nb) {
        return 0;
    }
    printf("first divergence at record %zu of A, %zu of B:\n", i, j);
    if (i < na && trace_reader_get(a, i, &ra) == 0) {
        print_rec(stdout, a, &ra, "  A ");
    } else {
        printf("  A ends here (%zu records)\n", na);
    }
    if (j < nb && trace_reader_get(b, j, &rb) == 0) {
        print_rec(stdout, b, &rb, "  B ");
    } else {
        printf("  B ends here (%zu records)\n", nb);
    }
    if (i < na && j < nb) {
        print_first_byte(trace_reader_frame(a, i, &la),
                         trace_reader_frame(b, j, &lb), la, lb);
    }
    return 1;
}

static int cmd_diff(const char *pa, const char *pb, bool device)
{
    struct trace_reader *a = open_trace(pa), *b = a ? open_trace(pb) : NULL;
    const struct trace_header *ha, *hb;
    bool hdiff = false;
    int rc = EXIT_USAGE;

    if (!a || !b) {
        goto out;
    }
    ha = trace_reader_header(a);
    hb = trace_reader_header(b);
    if (!ha || !hb) {
        fprintf(stderr, PROG ": %s has no header\n", ha ? pb : pa);
        goto out;
    }
    hdiff = diff_headers(ha, hb);
    rc = diff_records(a, b, device) || hdiff ? EXIT_DIFF : 0;
    if (rc == 0) {
        printf("no difference: %zu records%s (wall-clock trailers "
               "ignored)\n", trace_reader_count(a),
               device ? ", the device's compared" : "");
    }
out:
    trace_reader_free(a);
    trace_reader_free(b);
    return rc;
}

/* ---- export ---- */

struct export_args {
    const char *fmt, *out, *path;
};

static int set_export(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct export_args *e = ctx;

    if (strcmp(o->name, "output") == 0) {
        e->out = v;
    } else if (strcmp(v, "vcd") != 0 && strcmp(v, "perfetto") != 0) {
        return vusim_opts_bad("--format=%s: expected vcd or perfetto", v);
    } else {
        e->fmt = v;
    }
    return 0;
}

static const struct vusim_opt export_opts[] = {
    { "format", "vcd|perfetto", "the export's format", set_export, 0,
      VUSIM_OPT_ONCE, NULL },
    { "output", "FILE", "write it to FILE (default: standard output)",
      set_export, 'o', VUSIM_OPT_ONCE, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

/* The one TRACE of a command that takes one. */
static int set_trace_path(void *ctx, const char *arg)
{
    const char **path = ctx;

    if (*path || arg[0] == '-') {
        return vusim_opts_bad("%s: unexpected argument; give one TRACE "
                              "(see vusim trace --help)", arg);
    }
    *path = arg;
    return 0;
}

static int export_args(int argc, char **argv, struct export_args *e)
{
    uint64_t seen = 0;
    const struct vusim_optset set = { export_opts, e, &seen };
    const struct vusim_cmdline cl = { .cmd = "trace export", .sets = &set,
                                      .nsets = 1,
                                      .positional = set_trace_path,
                                      .ctx = &e->path };
    int rc = vusim_opts_parse(&cl, argc, argv);

    if (rc == 0 && (!e->path || !e->fmt)) {
        rc = vusim_opts_bad("trace export: give --format=vcd or "
                            "--format=perfetto and a TRACE");
    }
    return rc;
}

static int cmd_export(int argc, char **argv)
{
    struct export_args e = { NULL, NULL, NULL };
    struct trace_reader *r;
    FILE *f = stdout;
    int rc;

    if ((rc = export_args(argc, argv, &e)) != 0) {
        return rc;
    }
    r = open_trace(e.path);
    if (!r) {
        return EXIT_USAGE;
    }
    if (e.out && !(f = fopen(e.out, "w"))) {
        fprintf(stderr, PROG ": %s: %s\n", e.out, strerror(errno));
        trace_reader_free(r);
        return EXIT_USAGE;
    }
    rc = strcmp(e.fmt, "vcd") == 0 ? trace_export_vcd(r, f)
                                   : trace_export_perfetto(r, f);
    if ((e.out && fclose(f) != 0) || (!e.out && fflush(f) != 0)) {
        rc = rc ? rc : -EIO;
    }
    if (rc < 0) {
        fprintf(stderr, PROG " trace export: %s\n", strerror(-rc));
    }
    trace_reader_free(r);
    return rc < 0 ? EXIT_USAGE : 0;
}

/* The words after `trace SUB`: its TRACEs and, for diff, --device. */
struct trace_args {
    const char *path[2];
    size_t n, max;
    bool device;
};

static int set_trace_arg(void *ctx, const char *arg)
{
    struct trace_args *ta = ctx;

    if (ta->n == ta->max || arg[0] == '-') {
        return vusim_opts_bad("%s: unexpected argument (see vusim trace "
                              "--help)", arg);
    }
    ta->path[ta->n++] = arg;
    return 0;
}

static int set_diff_device(void *ctx, const struct vusim_opt *o,
                           const char *v)
{
    (void)o;
    (void)v;
    ((struct trace_args *)ctx)->device = true;
    return 0;
}

static const struct vusim_opt diff_opts[] = {
    { "device", NULL, "compare only the device's records", set_diff_device,
      0, 0, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const struct trace_sub {
    const char *name, *synopsis;
    size_t npaths;
} trace_subs[] = {
    { "info", "TRACE", 1 },
    { "dump", "TRACE", 1 },
    { "check", "TRACE", 1 },
    { "diff", "[--device] A B", 2 },
};

/* `trace SUB ARGS` (argv[0] is SUB) into @ta. */
static int trace_args(const struct trace_sub *sub, int argc, char **argv,
                      struct trace_args *ta)
{
    const struct vusim_optset set = { diff_opts, ta, NULL };
    char cmd[32];
    const struct vusim_cmdline cl = { .cmd = cmd, .sets = &set,
                                      .nsets = sub->npaths == 2,
                                      .positional = set_trace_arg,
                                      .ctx = ta };
    int rc;

    snprintf(cmd, sizeof(cmd), "trace %s", sub->name);
    ta->max = sub->npaths;
    if ((rc = vusim_opts_parse(&cl, argc, argv)) == 0 && ta->n != ta->max) {
        rc = vusim_opts_bad("trace %s: expected vusim trace %s %s", sub->name,
                            sub->name, sub->synopsis);
    }
    return rc;
}

int trace_cmd_main(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    struct trace_args ta = { { NULL, NULL }, 0, 0, false };
    size_t k;

    if (strcmp(sub, "export") == 0) {
        return cmd_export(argc - 1, argv + 1);
    }
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        usage();
        return 0;
    }
    for (k = 0; k < sizeof(trace_subs) / sizeof(trace_subs[0]); k++) {
        if (strcmp(sub, trace_subs[k].name) == 0) {
            break;
        }
    }
    if (k == sizeof(trace_subs) / sizeof(trace_subs[0])) {
        return usage();
    }
    if (trace_args(&trace_subs[k], argc - 1, argv + 1, &ta) != 0) {
        return EXIT_USAGE;
    }
    switch (k) {
    case 0:
        return cmd_info(ta.path[0]);
    case 1:
        return cmd_dump(ta.path[0]);
    case 2:
        return cmd_check(ta.path[0]);
    default:
        return cmd_diff(ta.path[0], ta.path[1], ta.device);
    }
}

/* ---- replay ---- */

static void print_divergence(const struct trace_replay_result *res)
{
    char t[32];

    printf("replay: divergence at record %zu (simulated time %s): %s%s\n",
           res->div.index, fmt_time(res->div.time, t), res->div.what,
           res->soft ? " (calendar only; every completion matched)" : "");
    printf("  expected: %s\n  came:     %s\n", res->div.expected,
           res->div.actual);
    printf("replay: %" PRIu64 " completions and %" PRIu64 " chains "
           "matched before it\n", res->completions, res->chains);
}

struct replay_args {
    struct trace_replay_cfg *cfg;
    struct trace_opt *ov;
    const char *path;
    bool quiet;
};

static int set_replay(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct replay_args *ra = ctx;

    (void)o;
    (void)v;
    ra->quiet = true;
    return 0;
}

/* The recorded device's own options come as overrides (set_override),
 * its image option among them: the starting image of a trace recorded
 * with one (traces/replay.h). */
static const struct vusim_opt replay_opts[] = {
    { "quiet", NULL, "print only a divergence", set_replay, 'q', 0, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

/* --NAME=VALUE or --FLAG beside the trace: a device option to override;
 * the recorded device judges it. */
static int set_override(void *ctx, const char *arg)
{
    struct replay_args *ra = ctx;
    struct trace_replay_cfg *cfg = ra->cfg;
    char *eq = strchr(arg, '=');

    ra->ov[cfg->noverrides].name = arg + 2;
    ra->ov[cfg->noverrides].value = eq ? eq + 1 : NULL;
    if (eq) {
        *eq = '\0';
    }
    cfg->noverrides++;
    return 0;
}

static int set_replay_path(void *ctx, const char *arg)
{
    return set_trace_path(&((struct replay_args *)ctx)->path, arg);
}

static int replay_args(int argc, char **argv, struct replay_args *ra)
{
    uint64_t seen = 0;
    const struct vusim_optset set = { replay_opts, ra, &seen };
    const struct vusim_cmdline cl = { .cmd = "replay", .sets = &set,
                                      .nsets = 1,
                                      .positional = set_replay_path,
                                      .other = set_override, .ctx = ra };
    int rc = vusim_opts_parse(&cl, argc, argv);

    if (rc == 0 && !ra->path) {
        rc = vusim_opts_bad("replay: give the TRACE to replay");
    }
    ra->cfg->overrides = ra->ov;
    return rc;
}

int trace_replay_main(int argc, char **argv)
{
    struct trace_replay_cfg cfg = { 0 };
    struct trace_replay_result res;
    struct trace_status_info st;
    struct trace_opt *ov = calloc((size_t)argc + 1, sizeof(*ov));
    struct replay_args ra = { &cfg, ov, NULL, false };
    struct trace_reader *r = NULL;
    char err[512] = "";
    int rc = EXIT_USAGE;

    if (!ov || replay_args(argc, argv, &ra) != 0 ||
        !(r = open_trace_as(ra.path, true))) {
        goto out;
    }
    if (trace_replay(r, &cfg, &res, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG " replay: %s\n", err);
        goto out;
    }
    trace_reader_status(r, &st);
    if (res.diverged) {
        print_divergence(&res);
        rc = EXIT_DIFF;
        goto out;
    }
    if (!ra.quiet) {
        printf("replay: no divergence: %zu records, %" PRIu64 " completions "
               "and %" PRIu64 " chains checked, %" PRIu64 " calendar "
               "events, %" PRIu64 " rule firings\n", res.records,
               res.completions, res.chains, res.cal_events, res.faults);
        if (st.status != TRACE_ST_COMPLETE) {
            printf("replay: replayed the valid prefix; ");
            print_status(stdout, ra.path, r);
        }
    }
    rc = 0;
out:
    trace_reader_free(r);
    free(ov);
    return rc;
}
