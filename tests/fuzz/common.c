/* SPDX-License-Identifier: MIT */
/* tests/fuzz/common.c - shared by every fuzz target (see fuzz.h) */
#include "config.h"

#include "sim/log.h"
#include "tests/fuzz/fuzz.h"

static void quiet_sink(int level, const char *subsys, const char *line,
                       void *opaque)
{
    (void)level;
    (void)subsys;
    (void)line;
    (void)opaque;
}

void fz_quiet_logs(void)
{
    if (!getenv("FUZZ_VERBOSE")) {
        vusim_log_set_sink(quiet_sink, NULL);
    }
}
