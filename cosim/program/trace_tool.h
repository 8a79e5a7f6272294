/* SPDX-License-Identifier: MIT */
/*
 * cosim/program/trace_tool.h - the trace commands of the vusim program
 *
 *   vusim trace info TRACE          header, negotiation, counts, status
 *   vusim trace dump TRACE          one decoded line per record
 *   vusim trace check TRACE         integrity and the valid prefix
 *   vusim trace diff [--device] A B the first divergence of two recordings
 *                                   (--device: of what the device saw and
 *                                   did, as replay compares it)
 *   vusim trace export --format=vcd|perfetto [--output=FILE] TRACE
 *   vusim replay TRACE [--quiet] [--OPTION[=VALUE]...]
 *                                   (the device's image option, e.g. blk's
 *                                   image file, gives the starting image)
 *
 * Part of the program, not libvusim: these print to stdout and stderr.
 * Exit status: 0 success (no divergence, no difference, a valid trace),
 * 1 a divergence, a difference or a damaged trace, 2 bad usage or a trace
 * or image that cannot be used.
 */
#ifndef VUSIM_TRACES_TOOL_H
#define VUSIM_TRACES_TOOL_H

/* `vusim trace SUBCOMMAND ...`: argv[0] is "trace". */
int trace_cmd_main(int argc, char **argv);

/* `vusim replay TRACE ...`: argv[0] is "replay". */
int trace_replay_main(int argc, char **argv);

#endif
