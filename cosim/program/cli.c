/* SPDX-License-Identifier: MIT */
/* Option helpers of the vusim program (cosim/program/cli.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cosim/program/cli.h"

int vusim_cli_bad(const char *fmt, ...)
{
    va_list ap;

    fputs("vusim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return VUSIM_CLI_BAD;
}

const char *vusim_cli_name(const char *arg, char *buf, size_t len)
{
    size_t n;

    if (strncmp(arg, "--", 2) != 0) {
        return NULL;
    }
    n = strcspn(arg + 2, "=");
    if (n == 0) {
        return NULL;
    }
    snprintf(buf, len, "%.*s", (int)n, arg + 2);
    return buf;
}

int vusim_cli_value(int argc, char **argv, int *i, const char *metavar,
                    const char **value)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    int n = (int)strcspn(arg + 2, "=");

    *value = eq ? eq + 1 : NULL;
    if (metavar && !eq && *i + 1 < argc) {
        *value = argv[++*i];
    }
    if (metavar && !*value) {
        return vusim_cli_bad("--%.*s: needs a value: --%.*s=%s", n, arg + 2,
                             n, arg + 2, metavar);
    }
    if (!metavar && *value) {
        return vusim_cli_bad("%s: --%.*s is a flag and takes no value", arg,
                             n, arg + 2);
    }
    return 0;
}

bool vusim_cli_help_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return true;
        }
    }
    return false;
}

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

void vusim_cli_help_opt(FILE *f, const char *shortopt,
                        const struct dev_optdesc *d)
{
    char lhs[80];

    snprintf(lhs, sizeof(lhs), "%s--%s%s%s", shortopt, d->name,
             d->metavar ? "=" : "", d->metavar ? d->metavar : "");
    if (strlen(lhs) > 25) {
        fprintf(f, "  %s\n%28s", lhs, "");
    } else {
        fprintf(f, "  %-25s ", lhs);
    }
    help_wrap(f, d->help, 28);
}
