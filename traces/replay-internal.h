/* SPDX-License-Identifier: MIT */
/*
 * traces/replay-internal.h - shared by replay.c (the walk) and
 * replay_setup.c (building the device). Never installed.
 */
#ifndef VUSIM_TRACES_REPLAY_INTERNAL_H
#define VUSIM_TRACES_REPLAY_INTERNAL_H

#include "devices/dev.h"
#include "traces/replay.h"

/* Build the HEADER's device on @cal with cfg's overrides and image. */
int trace_replay_device(const struct trace_reader *r,
                        const struct trace_replay_cfg *cfg,
                        struct sim_cal *cal, struct dev **out, char *err,
                        size_t errlen);

#endif
