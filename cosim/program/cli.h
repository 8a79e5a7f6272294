/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/cli.h - option helpers shared by the vusim program's commands
 * (vusim.c for DEVICE, demo.c for demo), so both read options and report
 * bad ones the same way.
 *
 * Options are "--name=value", "--name value" (for an option that takes a
 * value) or "--name" (a flag). A bad option gets one line on stderr,
 * "vusim: " then what was given, then what is allowed; the caller exits
 * with status 2.
 *
 * Part of the vusim program, not libvusim.
 * Threading:   single thread (writes to stderr).
 */
#ifndef VUSIM_COSIM_CLI_H
#define VUSIM_COSIM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "devices/dev.h"

#define VUSIM_CLI_BAD 2     /* exit status for a bad option */

/* Print "vusim: " and the message on stderr; returns VUSIM_CLI_BAD. */
int vusim_cli_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The value of option argv[*i] ("--name..."): after '=', else, if
 * @metavar says the option takes one, the next argument (*i then moves
 * past it). 0, or VUSIM_CLI_BAD after printing why (a valued option
 * without a value, a flag with one). Look the name up with
 * vusim_cli_name() first, to know @metavar.
 */
int vusim_cli_value(int argc, char **argv, int *i, const char *metavar,
                    const char **value);

/* The name part of "--name[=value]" into @buf; NULL if @arg does not
 * start with "--" or has an empty name. */
const char *vusim_cli_name(const char *arg, char *buf, size_t len);

/* Is "--help" or "-h" among argv[1..]? (Help wins over bad options.) */
bool vusim_cli_help_wanted(int argc, char **argv);

/* One help line: "  -v, --name=METAVAR   help", wrapped at 80 columns. */
void vusim_cli_help_opt(FILE *f, const char *shortopt,
                        const struct dev_optdesc *d);

#endif
