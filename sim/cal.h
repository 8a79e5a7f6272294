/* SPDX-License-Identifier: MIT */
/*
 * sim/cal.h - the simulation calendar: a deterministic discrete-event kernel
 *
 * Model. The calendar holds pending events, each with an absolute simulated
 * time (sim_time_t, picoseconds), an integer priority and an insertion
 * sequence number. Events run in the order (time, priority, sequence): the
 * earliest first; among equal times the lower priority value first; among
 * equal time and priority the one scheduled first (FIFO). The sequence number
 * is a 64-bit counter of the calendar, never an address or a heap slot, so
 * the order is a pure function of the calls made.
 *
 * Time only moves forward. sim_cal_now() is the time of the event being run,
 * or the time the calendar was last advanced to. Scheduling before now is an
 * error the caller sees (-EINVAL); the calendar is unchanged when it happens.
 *
 * Events are intrusive: the owner embeds a struct sim_event in its own object
 * and gets back to it with container_of. The calendar never allocates for
 * them. For fire-and-forget work, sim_cal_post() takes a one-shot event from
 * a free list that grows only during warm-up.
 *
 * A callback may schedule, reschedule and cancel any event, itself included.
 *
 * Owns:        the pending-event index and the one-shot event pool.
 * Borrows:     every struct sim_event scheduled on it, until it fires or is
 *              cancelled; the owner must not free a pending event.
 * Threading:   single thread; not re-entrant except from event callbacks.
 * Errors:      -EINVAL time in the past or bad argument, -ERANGE time
 *              overflow, -EBUSY event already pending, -ENOENT not pending or
 *              calendar empty, -ENOMEM pool or index could not grow.
 * Determinism: the run order depends only on the sequence of calls.
 * Cost:        schedule, cancel, reschedule and run_one are O(log n). No
 *              allocation on those paths once the index and pool have grown
 *              to the working-set size. At most 64 bytes per pending event,
 *              event and index entry together (sim_cal_bytes_per_event()).
 */
#ifndef VUSIM_SIM_CAL_H
#define VUSIM_SIM_CAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/time.h"

struct sim_cal;
struct sim_event;

typedef void (*sim_event_fn)(struct sim_cal *cal, struct sim_event *ev);

struct sim_event {
    sim_event_fn fn;   /* set by the owner: called when the event fires */
    void *arg;         /* set by the owner: free for its use */
    /* private: */
    sim_time_t time;
    uint64_t seq;
    int32_t prio;
    uint32_t slot;     /* index position + 1; 0 when not pending */
};

#ifndef container_of
#define container_of(ptr, type, member)                                      \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Prepare an embedded event; it is not pending afterwards. */
void sim_event_init(struct sim_event *ev, sim_event_fn fn, void *arg);

static inline bool sim_event_pending(const struct sim_event *ev)
{
    return ev->slot != 0;
}

/* Time the event is (or was last) scheduled for. */
static inline sim_time_t sim_event_time(const struct sim_event *ev)
{
    return ev->time;
}

/* A new calendar at time 0. NULL on allocation failure. */
struct sim_cal *sim_cal_new(void);

/* Free the calendar. Pending events are dropped, never called. NULL is ok. */
void sim_cal_free(struct sim_cal *cal);

sim_time_t sim_cal_now(const struct sim_cal *cal);

/* Number of pending events. */
size_t sim_cal_pending(const struct sim_cal *cal);

/* Schedule @ev at absolute time @t (>= now) with priority @prio. */
int sim_cal_at(struct sim_cal *cal, struct sim_event *ev, sim_time_t t,
               int32_t prio);

/* Schedule @ev at now + @delay. -ERANGE if that overflows. */
int sim_cal_after(struct sim_cal *cal, struct sim_event *ev,
                  sim_time_t delay, int32_t prio);

/* Remove a pending event. -ENOENT if it was not pending. */
int sim_cal_cancel(struct sim_cal *cal, struct sim_event *ev);

/*
 * Move @ev to absolute time @t, keeping its priority; it gets a new sequence
 * number, as if cancelled and scheduled again. Schedules it if it was not
 * pending (with the priority it last had, or 0 for a fresh event).
 */
int sim_cal_reschedule(struct sim_cal *cal, struct sim_event *ev,
                       sim_time_t t);

/*
 * One-shot event from the calendar's pool, at now + @delay: @fn runs once
 * with an event whose arg is @arg; the event returns to the pool right after
 * @fn. It cannot be cancelled. -ENOMEM if the pool cannot grow.
 */
int sim_cal_post(struct sim_cal *cal, sim_time_t delay, int32_t prio,
                 sim_event_fn fn, void *arg);

/* Time of the earliest pending event in *t; -ENOENT if none. */
int sim_cal_peek(const struct sim_cal *cal, sim_time_t *t);

/* Run the earliest event. 1 if one ran, 0 if the calendar was empty. */
int sim_cal_run_one(struct sim_cal *cal);

/*
 * Run every event with time <= @t, including those the callbacks add within
 * that bound, then set now to @t. Returns the number run, or -EINVAL if @t is
 * before now.
 */
long sim_cal_run_until(struct sim_cal *cal, sim_time_t t);

/* Run until no event is pending. Returns the number run. */
long sim_cal_run_all(struct sim_cal *cal);

/* Advance now to @t without running anything; -EINVAL if @t < now or an
 * event earlier than @t is pending. */
int sim_cal_advance(struct sim_cal *cal, sim_time_t t);

struct sim_cal_stats {
    uint64_t scheduled;    /* successful at/after/reschedule/post calls */
    uint64_t fired;        /* callbacks run */
    uint64_t cancelled;
    size_t max_pending;
    size_t pool_size;      /* one-shot events allocated for sim_cal_post() */
    size_t index_capacity; /* entries the index holds before it must grow */
};

void sim_cal_get_stats(const struct sim_cal *cal, struct sim_cal_stats *st);

/* Bytes of memory per pending event: the event plus its index entry. */
size_t sim_cal_bytes_per_event(void);

/* Check the index invariant; true if it holds. For tests. */
bool sim_cal_check(const struct sim_cal *cal);

/*
 * An observer sees every schedule (at, after, post), cancel and fire, with
 * the event's time, priority and sequence number: FIRE after now has moved
 * to the event's time and before its callback runs, DONE (same values)
 * after the callback has returned. A reschedule of a pending event is
 * seen as a CANCEL and a SCHED. traces/ records each device's events
 * through one (traces/FORMAT.md, CAL); several devices on one calendar
 * (vusim multi) each have theirs. Up to SIM_CAL_OBSERVERS_MAX, called in
 * the order they were added. An observer must not touch the calendar.
 */
#define SIM_CAL_OBSERVERS_MAX 32
enum sim_cal_obs {
    SIM_CAL_OBS_SCHED = 0,
    SIM_CAL_OBS_FIRE,
    SIM_CAL_OBS_CANCEL,
    SIM_CAL_OBS_DONE,
};

typedef void (*sim_cal_observer_fn)(void *opaque, enum sim_cal_obs what,
                                    sim_time_t at, int32_t prio,
                                    uint64_t seq);

/* Add (@fn, @opaque): 0, or -ENOSPC when SIM_CAL_OBSERVERS_MAX are
 * there. Remove it again (nothing if it is not there). */
int sim_cal_add_observer(struct sim_cal *cal, sim_cal_observer_fn fn,
                         void *opaque);
void sim_cal_remove_observer(struct sim_cal *cal, sim_cal_observer_fn fn,
                             void *opaque);

#endif
