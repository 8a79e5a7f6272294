/* SPDX-License-Identifier: MIT */
/* cosim/program/opts: the one option parser: forms, refusals and their one
 * line, hooks, help lines, a device's options as rows. */
#define _GNU_SOURCE
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cosim/program/opts.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

/* What the setters saw. */
struct got {
    const char *name[8], *value[8];
    int n;
    const char *pos[4];
    int npos;
    const char *other[4];
    int nother;
};

static int set_rec(void *ctx, const struct vusim_opt *o, const char *v)
{
    struct got *g = ctx;

    if (g->n < 8) {
        g->name[g->n] = vusim_opt_target(o);
        g->value[g->n++] = v;
    }
    return 0;
}

static int set_refuse(void *ctx, const struct vusim_opt *o, const char *v)
{
    (void)ctx;
    return vusim_opts_bad("--%s=%s: expected 1 to 3", o->name, v);
}

static int pos_rec(void *ctx, const char *arg)
{
    struct got *g = ctx;

    g->pos[g->npos++ & 3] = arg;
    return 0;
}

static int other_rec(void *ctx, const char *arg)
{
    struct got *g = ctx;

    g->other[g->nother++ & 3] = arg;
    return 0;
}

static const struct vusim_opt rows[] = {
    { "path", "PATH", "a path", set_rec, 0, VUSIM_OPT_ONCE, NULL },
    { "verbose", NULL, "more", set_rec, 'v', 0, NULL },
    { "level", "N", "a level", set_refuse, 0, 0, NULL },
    { "old-path", "PATH", "the same as --path", set_rec, 0, 0, "path" },
    { "help", NULL, "show this help and exit", NULL, 'h', 0, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL },
};

/* Run vusim_opts_parse() on the words of @line with stderr in @err. */
static int parse(const char *line, struct got *g, bool hooks, char *err,
                 size_t errlen)
{
    static char copy[256];      /* the values point into it until the
                                   next call */
    char *argv[16] = { "prog" }, *save = NULL;
    uint64_t seen = 0;
    const struct vusim_optset set = { rows, g, &seen };
    const struct vusim_cmdline cl = { .cmd = "test", .sets = &set,
                                      .nsets = 1,
                                      .positional = hooks ? pos_rec : NULL,
                                      .other = hooks ? other_rec : NULL,
                                      .ctx = g };
    int argc = 1, fd = memfd_create("stderr", 0), saved = dup(2), rc;
    ssize_t n;

    snprintf(copy, sizeof(copy), "%s", line);
    for (char *t = strtok_r(copy, " ", &save); t && argc < 15;
         t = strtok_r(NULL, " ", &save)) {
        argv[argc++] = t;
    }
    fflush(stderr);
    dup2(fd, 2);
    rc = vusim_opts_parse(&cl, argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, err, errlen - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    return rc;
}

/* One line on stderr, starting "vusim: " and containing @want. */
static void assert_one_line(const char *err, const char *want)
{
    CU_ASSERT_EQUAL(strncmp(err, "vusim: ", 7), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NOT_NULL(strchr(err, '\n'));
    CU_ASSERT_EQUAL(strchr(err, '\n')[1], '\0');
}

static void test_forms(void)
{
    struct got g = { .n = 0 };
    char err[512];

    CU_ASSERT_EQUAL(parse("--path=a -v --path2", &g, true, err,
                          sizeof(err)), 0);
    CU_ASSERT_EQUAL(g.n, 2);
    CU_ASSERT_STRING_EQUAL(g.name[0], "path");
    CU_ASSERT_STRING_EQUAL(g.value[0], "a");
    CU_ASSERT_STRING_EQUAL(g.name[1], "verbose");
    CU_ASSERT_PTR_NULL(g.value[1]);
    CU_ASSERT_EQUAL(g.nother, 1);           /* --path2 is not --path */
    CU_ASSERT_STRING_EQUAL(g.other[0], "--path2");
    CU_ASSERT_STRING_EQUAL(err, "");

    memset(&g, 0, sizeof(g));
    CU_ASSERT_EQUAL(parse("--path b --verbose TRACE", &g, true, err,
                          sizeof(err)), 0);
    CU_ASSERT_EQUAL(g.n, 2);
    CU_ASSERT_STRING_EQUAL(g.value[0], "b");       /* "--name value" */
    CU_ASSERT_EQUAL(g.npos, 1);
    CU_ASSERT_STRING_EQUAL(g.pos[0], "TRACE");

    memset(&g, 0, sizeof(g));                       /* an alias */
    CU_ASSERT_EQUAL(parse("--old-path=c", &g, false, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(g.n, 1);
    CU_ASSERT_STRING_EQUAL(g.name[0], "path");
    CU_ASSERT_STRING_EQUAL(g.value[0], "c");
}

static void test_refusals(void)
{
    static const struct {
        const char *line, *want;
    } cases[] = {
        { "--verbose=1", "--verbose=1: --verbose is a flag and takes no "
          "value" },
        { "--path", "--path: needs a value: --path=PATH" },
        { "--path=a --path=b", "--path=b: --path given more than once; "
          "allowed once" },
        { "--bogus=1", "--bogus=1: unknown option for test; allowed: "
          "--path, --verbose, --level, --old-path, --help" },
        { "TRACE", "TRACE: unexpected argument; options are --name=value "
          "(see vusim test --help)" },
        { "-x", "-x: unexpected argument" },
        { "--=1", "--=1: unexpected argument" },
        { "--level=7 --path=a", "--level=7: expected 1 to 3" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct got g = { .n = 0 };
        char err[512];

        CU_ASSERT_EQUAL(parse(cases[i].line, &g, false, err, sizeof(err)),
                        VUSIM_OPTS_BAD);
        assert_one_line(err, cases[i].want);
        if (strstr(cases[i].line, "--level=7")) {
            CU_ASSERT_EQUAL(g.n, 0);        /* stopped at the refusal */
        }
    }
}

static void test_repeat_allowed(void)
{
    struct got g = { .n = 0 };
    char err[512];

    /* --verbose is not VUSIM_OPT_ONCE: each one reaches the setter. */
    CU_ASSERT_EQUAL(parse("-v -v --verbose", &g, false, err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(g.n, 3);
}

static void test_help_wanted(void)
{
    char *a[] = { "prog", "--bogus", "-h" }, *b[] = { "prog", "--helpx" };

    CU_ASSERT_TRUE(vusim_opts_help_wanted(3, a));
    CU_ASSERT_FALSE(vusim_opts_help_wanted(2, b));
}

static void test_help_lines(void)
{
    static const struct vusim_opt long_rows[] = {
        { "verbose", NULL, "log every vhost-user message decoded", NULL, 'v',
          0, NULL },
        { "time-travel", "PATH", "be the time controller of UMLs started "
          "with time-travel=ext:ID:PATH and of vusim's QEMUs started with "
          "-object time-travel,path=PATH", NULL, 0, 0, NULL },
        { "hidden", NULL, "not printed", NULL, 0, VUSIM_OPT_PER_DEVICE,
          NULL },
        { NULL, NULL, NULL, NULL, 0, 0, NULL },
    };
    char *buf = NULL, *line, *save = NULL, want[128];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    vusim_opts_help(f, long_rows, VUSIM_OPT_PER_DEVICE);
    fclose(f);
    /* The help text starts at column 28. */
    snprintf(want, sizeof(want), "  %-25s log every vhost-user message "
             "decoded\n", "-v, --verbose");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
    snprintf(want, sizeof(want), "  %-25s be the", "--time-travel=PATH");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
    CU_ASSERT_PTR_NULL(strstr(buf, "hidden"));
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        CU_ASSERT(strlen(line) < 80);
    }
    free(buf);
}

static const struct dev_optdesc dev_rows[] = {
    { "backing", "FILE", "the disk" },
    { "read-only", NULL, "refuse writes" },
    { NULL, NULL, NULL },
};

static void test_from_dev(void)
{
    static const struct dev_optalias aliases[] = {
        { "blk-file", "backing", "the same as --backing" },
        { NULL, NULL, NULL },
    };
    static const struct dev_ops with = { .name = "d", .opts = dev_rows,
                                         .aliases = aliases };
    static const struct dev_ops without = { .name = "e",
                                            .aliases = aliases };
    struct vusim_opt *r = vusim_opts_from_dev(&with, set_rec);

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r[0].name, "backing");
    CU_ASSERT_STRING_EQUAL(r[0].metavar, "FILE");
    CU_ASSERT_PTR_NULL(r[1].metavar);
    CU_ASSERT_STRING_EQUAL(r[2].name, "blk-file");
    CU_ASSERT_STRING_EQUAL(vusim_opt_target(&r[2]), "backing");
    CU_ASSERT(r[0].set == set_rec && r[2].set == set_rec);
    CU_ASSERT_PTR_NULL(r[3].name);
    free(r);
    r = vusim_opts_from_dev(&without, set_rec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_PTR_NULL(r[0].name);      /* no backing: no alias either */
    free(r);
}

CU_TestInfo opts_tests[] = {
    { "forms", test_forms },
    { "refusals_one_line", test_refusals },
    { "repeat_allowed", test_repeat_allowed },
    { "help_wanted", test_help_wanted },
    { "help_lines", test_help_lines },
    { "from_dev", test_from_dev },
    CU_TEST_INFO_NULL,
};
