/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim/log.h"

int g_vusim_log_level = VUSIM_LOG_WARN;

static const char *const level_names[] = {
    "err", "warn", "info", "debug", "trace",
};

static void default_sink(int level, const char *subsys, const char *line,
                         void *opaque)
{
    (void)opaque;
    fprintf(stderr, "vusim: %s: %s: %s\n", level_names[level], subsys, line);
}

static vusim_log_sink cur_sink = default_sink;
static void *cur_opaque;

void vusim_log_set_sink(vusim_log_sink sink, void *opaque)
{
    cur_sink = sink ? sink : default_sink;
    cur_opaque = sink ? opaque : NULL;
}

int vusim_log_level_parse(const char *s)
{
    for (int i = 0; i <= VUSIM_LOG_TRACE; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            return i;
        }
    }
    return -EINVAL;
}

void vusim_log_emit(int level, const char *subsys, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (level < VUSIM_LOG_ERR) {
        level = VUSIM_LOG_ERR;
    } else if (level > VUSIM_LOG_TRACE) {
        level = VUSIM_LOG_TRACE;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cur_sink(level, subsys, line, cur_opaque);
}

int vusim_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}
