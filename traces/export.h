/* SPDX-License-Identifier: MIT */
/*
 * traces/export.h - a trace for waveform and timeline viewers
 *
 * VCD (IEEE 1364 value change dump, for GTKWave): timescale 1 ps, the
 * trace's own unit, so times are exact. One scope per queue, qN, with:
 *   kick      wire, a 1 ps pulse per KICK record
 *   call      wire, a 1 ps pulse per CALL the guest was sent (not the
 *             suppressed ones)
 *   inflight  integer, chains popped and not yet completed or cancelled
 *   busy      integer, channels serving this queue's requests
 * busy is derived from the recorded pop and completion times with the
 * devices' channel rule (dev_channel_pick(): lowest-index free channel,
 * else the one that frees first), as many channels as the recorded
 * device's ops->channels gives for the HEADER's options (1 without it):
 * exact for the devices that schedule that way; a cancelled request frees
 * its channel at the cancel.
 *
 * Perfetto / Chrome trace-event JSON: process "vusim DEVICE", one thread
 * track "queue N" per queue with kick and call instant events, and each
 * request an async slice ("b"/"e", cat "request", name "queue N", id = the
 * request id) from its pop to its completion, cancel or the end of the
 * trace; args carry the chain's sizes, the request as the device's
 * decode() words it (under the device's name) and the outcome.
 * Timestamps are microseconds with six decimals: exact picoseconds.
 *
 * Both walk the valid prefix only and print no wall-clock facts, so the
 * same trace exports to the same bytes.
 *
 * Errors: -ENOMEM, -EIO writing @out.
 */
#ifndef VUSIM_TRACES_EXPORT_H
#define VUSIM_TRACES_EXPORT_H

#include <stdio.h>

#include "traces/reader.h"

int trace_export_vcd(const struct trace_reader *r, FILE *out);
int trace_export_perfetto(const struct trace_reader *r, FILE *out);

#endif
