/* SPDX-License-Identifier: MIT */
/*
 * traces/replay-internal.h - shared by replay.c (the walk), replay_setup.c
 * (building the device) and replay_digest.c (the digest worker). Never
 * installed.
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

/*
 * The digest worker. Hashing what the device wrote is the largest single
 * cost of a replay, and nothing the walk does depends on the digest once
 * the other fields of a completion matched: so the walk hands such
 * completions to one thread that checks their digests in order, and only
 * the first mismatch (if any) comes back, when the walk is over.
 *
 * Owns:      the jobs' buffers once pushed, until finish.
 * Threading: push and finish from one thread (the walk's); the worker
 *            reads nothing but its jobs.
 */
struct trace_digest_job {
    size_t index;                 /* its COMPLETE record */
    sim_time_t time;              /* when the replay completed it */
    uint64_t id;
    uint16_t queue, head;
    struct trace_done d;          /* replayed; the digest once checked */
    uint8_t expect[TRACE_DIGEST_SIZE];  /* the record's digest */
    /* The result's counts as they were before this completion counted:
     * what a walk that stopped here would report. */
    uint64_t inputs, chains, completions, cal_events;
    struct trace_wbuf wb;         /* what the device wrote */
};

struct trace_digest_worker;

/* Start the worker for digests of kind @alg: 0, -ENOMEM, or pthread's
 * error negated (the caller then checks digests itself). */
int trace_digest_worker_start(enum trace_digest alg,
                              struct trace_digest_worker **out);
/* Queue @job: true, and job->wb comes back as a buffer the worker is done
 * with (emptied), so nothing is copied or allocated per job. False if the
 * queue is full: @job is untouched, and the caller checks it itself rather
 * than wait. */
bool trace_digest_worker_push(struct trace_digest_worker *w,
                              struct trace_digest_job *job);
/* True once a digest is known to differ (as of the last push): nothing
 * walked after that job can change the result. */
bool trace_digest_worker_failed(const struct trace_digest_worker *w);
/* Check everything queued, stop the worker and free it. True if a digest
 * differed: *bad is then the first such job, d.digest the replayed one,
 * wb empty. */
bool trace_digest_worker_finish(struct trace_digest_worker *w,
                                struct trace_digest_job *bad);

#endif
