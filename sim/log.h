/* SPDX-License-Identifier: MIT */
/*
 * sim/log.h - the one logging module of vusim
 *
 * Owns:        the log level and the sink: the only mutable globals in
 *              libvusim (g_vusim_log_level, set by programs at start-up and by
 *              tests; the sink, swapped through vusim_log_set_sink()).
 * Threading:   single-threaded use; the sink is called synchronously.
 * Errors:      none; logging never fails the caller.
 * Determinism: logs never feed behaviour. Library code never writes to
 *              stdout or stderr except through this sink. Wall-clock time
 *              appears only in the default sink's prefix, never in a line's
 *              text.
 */
#ifndef VUSIM_SIM_LOG_H
#define VUSIM_SIM_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum vusim_log_level {
    VUSIM_LOG_ERR = 0,
    VUSIM_LOG_WARN,
    VUSIM_LOG_INFO,
    VUSIM_LOG_DEBUG,
    VUSIM_LOG_TRACE,
};

/* Lines above this level are dropped before their arguments are evaluated. */
extern int g_vusim_log_level;

/* A sink receives one formatted line without its trailing newline. */
typedef void (*vusim_log_sink)(int level, const char *subsys,
                               const char *line, void *opaque);

/* Replace the sink; NULL restores the default (stderr). */
void vusim_log_set_sink(vusim_log_sink sink, void *opaque);

/* Parse "err", "warn", "info", "debug" or "trace"; -EINVAL otherwise. */
int vusim_log_level_parse(const char *s);

void vusim_log_emit(int level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write one line to @err (when @err and @errlen), as every "bad value"
 * path does (device options, fault rules), and return -EINVAL. */
int vusim_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define vusim_log(level, subsys, ...)                                        \
    do {                                                                     \
        if ((level) <= g_vusim_log_level) {                                  \
            vusim_log_emit((level), (subsys), __VA_ARGS__);                  \
        }                                                                    \
    } while (0)

#define VUSIM_ERR(ss, ...)   vusim_log(VUSIM_LOG_ERR, ss, __VA_ARGS__)
#define VUSIM_WARN(ss, ...)  vusim_log(VUSIM_LOG_WARN, ss, __VA_ARGS__)
#define VUSIM_INFO(ss, ...)  vusim_log(VUSIM_LOG_INFO, ss, __VA_ARGS__)
#define VUSIM_DEBUG(ss, ...) vusim_log(VUSIM_LOG_DEBUG, ss, __VA_ARGS__)
#define VUSIM_TRACE(ss, ...) vusim_log(VUSIM_LOG_TRACE, ss, __VA_ARGS__)

#endif
