/* SPDX-License-Identifier: MIT */
/*
 * Replay's digest worker (traces/replay-internal.h): a bounded ring of jobs
 * from the walk (the producer) to one thread (the consumer).
 *
 * Ring positions are free-running counters, masked only to index a slot.
 * The walk writes jobs into free slots on its own and publishes them every
 * DW_PUBLISH jobs; the worker takes the published ones a batch at a time.
 * Both meet under the lock only then: a contended lock or a wakeup is a
 * system call, costing more than hashing a typical completion (much more
 * in a virtual machine), so they are made per batch, never per job. For
 * the same reason an idle worker sleeps until DW_WAKE jobs wait, not until
 * the next one comes.
 *
 * When the ring is full the walk does not wait: push refuses the job and
 * the walk hashes it itself, while the data is hot in its cache. The two
 * threads then share the hashing, which is what a machine whose other
 * cores are busy (replay's reader validates on one) needs.
 *
 * A hashed job's buffer goes to a stack of spares, and push hands the top
 * one back in exchange for the job's: buffers circulate between requests
 * and the worker, so a steady replay allocates nothing. A stack, not the
 * slots, keeps them because the walk's next writes then go to the buffer
 * hashed last, still warm in cache, and only as many buffers circulate as
 * jobs were ever pending at once.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "traces/replay-internal.h"

/* Sizes measured on the demo replay (2 cores, the reader's validator on
 * one): a small ring beats a large one, whose buffers fall out of the
 * caches and cost page faults, and the worker shares the second core, so
 * a walk that hashes the overflow itself keeps both cores busy. */
#define DW_SLOTS   32u                /* a power of two */
#define DW_WAKE    16u
#define DW_PUBLISH 4u
#define DW_BATCH   8u

struct trace_digest_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t more;              /* the worker waits for jobs */
    enum trace_digest alg;
    struct trace_digest_job ring[DW_SLOTS];

    /* The walk's alone. Slots [seen_done, staged) are not its to write. */
    uint64_t staged, seen_done;
    bool seen_bad;
    size_t nmine;
    struct trace_wbuf mine[DW_SLOTS];

    /* Under the lock (but the walk, pushed's only writer, reads it
     * without). Slots [done, pushed) are the worker's. */
    uint64_t pushed, done;
    bool idle, stop;
    bool bad;                         /* first_bad holds a mismatch */
    struct trace_digest_job first_bad;
    size_t nspare;
    struct trace_wbuf spare[DW_SLOTS];
    /* A buffer is added (push finds no spare on either side) only while
     * fewer than DW_SLOTS jobs are pending: the stacks never overflow. */
};

static struct trace_digest_job *slot(struct trace_digest_worker *w,
                                     uint64_t n)
{
    return &w->ring[n & (DW_SLOTS - 1)];
}

/* ---- the worker ---- */

/* Called and returns with the lock held: false once stopped and drained. */
static bool dw_wait_job(struct trace_digest_worker *w)
{
    if (w->pushed != w->done) {
        return true;
    }
    w->idle = true;
    while (w->pushed - w->done < DW_WAKE && !w->stop) {
        pthread_cond_wait(&w->more, &w->lock);
    }
    w->idle = false;
    return w->pushed != w->done;
}

/* Hash jobs [from, to): the first whose digest differs, or @to. */
static uint64_t dw_hash(struct trace_digest_worker *w, uint64_t from,
                        uint64_t to)
{
    for (uint64_t n = from; n < to; n++) {
        struct trace_digest_job *j = slot(w, n);

        trace_done_digest(w->alg, &j->wb, &j->d);
        if (memcmp(j->d.digest, j->expect, TRACE_DIGEST_SIZE) != 0) {
            return n;
        }
    }
    return to;
}

/* With the lock held: jobs [from, to) are checked, @bad the first that
 * differed (or @to); their slots and buffers go back to the walk. */
static void dw_retire(struct trace_digest_worker *w, uint64_t from,
                      uint64_t to, uint64_t bad)
{
    if (bad < to) {
        w->bad = true;
        w->first_bad = *slot(w, bad);
        w->first_bad.wb = (struct trace_wbuf){ 0 };
    }
    for (uint64_t n = from; n < to; n++) {
        w->spare[w->nspare++] = slot(w, n)->wb;
    }
    w->done = to;
}

static void *dw_main(void *arg)
{
    struct trace_digest_worker *w = arg;

    pthread_mutex_lock(&w->lock);
    while (dw_wait_job(w)) {
        uint64_t from = w->done, to = w->pushed, bad;
        /* Past the first mismatch nothing can change the result. */
        bool skip = w->bad;

        to = to - from > DW_BATCH ? from + DW_BATCH : to;
        pthread_mutex_unlock(&w->lock);
        bad = skip ? to : dw_hash(w, from, to);
        pthread_mutex_lock(&w->lock);
        dw_retire(w, from, to, bad);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ---- the walk's side ---- */

static void dw_free(struct trace_digest_worker *w)
{
    /* Joined (or never started): every buffer is a spare on one side. */
    for (size_t i = 0; i < w->nspare; i++) {
        trace_wbuf_fini(&w->spare[i]);
    }
    for (size_t i = 0; i < w->nmine; i++) {
        trace_wbuf_fini(&w->mine[i]);
    }
    pthread_cond_destroy(&w->more);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int trace_digest_worker_start(enum trace_digest alg,
                              struct trace_digest_worker **out)
{
    struct trace_digest_worker *w = calloc(1, sizeof(*w));
    sigset_t all, old;
    int rc;

    *out = NULL;
    if (!w) {
        return -ENOMEM;
    }
    w->alg = alg;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->more, NULL);
    /* Signals stay with the caller's thread: the worker blocks them all. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->thread, NULL, dw_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        dw_free(w);
        return -rc;
    }
    *out = w;
    return 0;
}

/* Publish the staged jobs, see which the worker is done with and take
 * back their buffers (the most recently hashed stay on top). */
static void dw_sync(struct trace_digest_worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->pushed = w->staged;
    if (w->idle && w->pushed - w->done >= DW_WAKE) {
        pthread_cond_signal(&w->more);
    }
    memcpy(&w->mine[w->nmine], w->spare, w->nspare * sizeof(w->spare[0]));
    w->nmine += w->nspare;
    w->nspare = 0;
    w->seen_done = w->done;
    w->seen_bad = w->bad;
    pthread_mutex_unlock(&w->lock);
}

bool trace_digest_worker_push(struct trace_digest_worker *w,
                              struct trace_digest_job *job)
{
    struct trace_wbuf wb = { 0 };     /* grows with the walk's writes */

    if (w->staged - w->seen_done == DW_SLOTS || w->nmine == 0 ||
        w->staged - w->pushed >= DW_PUBLISH) {
        dw_sync(w);
    }
    if (w->staged - w->seen_done == DW_SLOTS) {
        return false;
    }
    if (w->nmine > 0) {
        wb = w->mine[--w->nmine];
    }
    *slot(w, w->staged++) = *job;
    job->wb = wb;
    trace_wbuf_clear(&job->wb);
    return true;
}

bool trace_digest_worker_failed(const struct trace_digest_worker *w)
{
    return w->seen_bad;
}

bool trace_digest_worker_finish(struct trace_digest_worker *w,
                                struct trace_digest_job *bad)
{
    bool found;

    pthread_mutex_lock(&w->lock);
    w->pushed = w->staged;
    w->stop = true;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    found = w->bad;
    if (found) {
        *bad = w->first_bad;
    }
    dw_free(w);
    return found;
}
