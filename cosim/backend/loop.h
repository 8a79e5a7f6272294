/* SPDX-License-Identifier: MIT */
/*
 * cosim/backend/loop.h - the one event loop: libevent for fds, the calendar for time
 *
 * Every socket, back-end channel and eventfd is a libevent event on one
 * event_base. Between fd callbacks the loop runs calendar events as the
 * clock (sim/clock.h) allows. Two rules keep the simulation deterministic:
 *
 *  - Holds. While any hold is active no calendar event runs. A back-end that
 *    has sent an in-band call holds the calendar until the front-end acks
 *    it, so device work never races ahead of the guest taking an interrupt.
 *    Fd callbacks still run during a hold, so a kick that crosses a call is
 *    served and cannot deadlock.
 *
 *  - Deferred work in key order. libevent reports ready fds in an order the
 *    kernel picks. An fd callback that would put work on the calendar
 *    instead queues a struct vu_defer; after each batch of fd callbacks the
 *    loop runs the queued items sorted by their key (connection id, queue
 *    index), so the calendar sees the same order whichever fd woke first.
 *
 * Owns:        the event_base, the calendar and the clock.
 * Threading:   one thread per loop; nothing is shared between loops.
 * Errors:      -ENOMEM; vu_loop_run returns -EIO if libevent fails.
 * Determinism: calendar order depends only on fd callbacks' effects, never
 *              on the order fds became ready within one batch.
 */
#ifndef VUSIM_COSIM_LOOP_H
#define VUSIM_COSIM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cal.h"
#include "sim/clock.h"

struct event_base;
struct vu_loop;

/* Event priority for fds that carry replies to our own requests (a call's
 * ack): when a front-end acks a call and then kicks, both may be ready in
 * one batch, and the ack must be handled first whichever the kernel lists
 * first, or the order of records in a trace would vary. Others get 1. */
#define VU_LOOP_PRIO_REPLY 0

struct vu_defer {
    uint64_t key;                       /* run order within a batch */
    void (*fn)(struct vu_defer *d);
    /* private: */
    struct vu_defer *next;
    bool queued;
};

/* @clk NULL means as fast as possible. */
struct vu_loop *vu_loop_new(const struct sim_clock_cfg *clk);
void vu_loop_free(struct vu_loop *loop);

struct event_base *vu_loop_base(struct vu_loop *loop);
struct sim_cal *vu_loop_cal(struct vu_loop *loop);

/* Stop running calendar events until the matching release. */
void vu_loop_hold(struct vu_loop *loop);
void vu_loop_release(struct vu_loop *loop);
bool vu_loop_held(const struct vu_loop *loop);

/*
 * A gate on the calendar (the control socket's stop, step and breakpoints):
 * before each event the loop would run, may_run() sees the event's time
 * and says whether it may; ran() follows each event that did. A closed
 * gate is a hold: fd callbacks still run. NULL removes it.
 */
struct vu_loop_gate {
    bool (*may_run)(void *opaque, sim_time_t next);
    void (*ran)(void *opaque);
    void *opaque;
};
void vu_loop_set_gate(struct vu_loop *loop, const struct vu_loop_gate *g);

/* Queue @d for the end of the current batch (no-op if already queued). */
void vu_loop_defer(struct vu_loop *loop, struct vu_defer *d);

/* Drop @d from the queue if it is there. */
void vu_loop_undefer(struct vu_loop *loop, struct vu_defer *d);

/* If @d is queued, take it off and run it now (a connection whose
 * front-end waits for a reply runs its own items before replying). */
void vu_loop_run_now(struct vu_loop *loop, struct vu_defer *d);

/*
 * From inside an fd callback, run the calendar's events due at the current
 * simulated time, one at a time while no hold is active and the gate lets
 * them (deferred work still waits for the end of the batch). A back-end
 * runs a kick's zero-time work this way before it acks the kick: the
 * front-end then finds the call waiting when its kick returns, instead of
 * going idle and being woken for it. Only events at the current time run,
 * so simulated times and the calendar's order are those the next turn
 * would give. Returns the number run.
 */
long vu_loop_run_current(struct vu_loop *loop);

/*
 * Run until vu_loop_stop(). Each turn: run the deferred items, run due
 * calendar events one at a time while no hold is active, then wait for fds
 * (or the clock's next due time).
 */
int vu_loop_run(struct vu_loop *loop);

/* One turn without blocking; returns the number of calendar events run. */
long vu_loop_poll(struct vu_loop *loop);

/* Make vu_loop_run() return after the current turn. Async-signal-safe
 * through vu_loop_stop_fd(): writing a byte to it stops the loop too. */
void vu_loop_stop(struct vu_loop *loop);
int vu_loop_stop_fd(struct vu_loop *loop);

/* An fd callback says it did something (polling uses it). */
void vu_loop_touch(struct vu_loop *loop);

/*
 * The peer that answers next. A synchronous peer (an in-band kick's
 * front-end, a call's ack) usually answers while the loop polls. Finding
 * the answer with epoll_wait and then reading it costs two system calls
 * on the critical path; the reader's own non-blocking read costs one, as
 * the raw ping-pong floor does. So while polling, the loop calls @serve,
 * which must read and serve without blocking the one fd its peer answers
 * on, exactly as that fd's event callback would, and call vu_loop_touch()
 * if it served anything. Every VU_LOOP_HOT_SPINS-th try the loop looks at
 * all fds instead, so other connections, timers and the stop pipe are
 * still seen while it spins. What is served and in which order is the
 * same as through the fd's event (the hot fd is the one with the reply
 * priority when a call is out); only the host time it is read at changes.
 * The last connection whose fd was served sets itself; set_hot replaces,
 * drop_hot(@opaque) clears only if @opaque is the hot one (a connection
 * that closes).
 */
#define VU_LOOP_HOT_SPINS 8u
void vu_loop_set_hot(struct vu_loop *loop, void (*serve)(void *opaque),
                     void *opaque);
void vu_loop_drop_hot(struct vu_loop *loop, void *opaque);

/* The sim_tt_ops (sim/tt.h) of a time-travel controller on this loop:
 * its holds are the loop's, and the participant that spoke last is the
 * loop's hot peer. */
struct sim_tt_ops;
void vu_loop_tt_ops(struct vu_loop *loop, struct sim_tt_ops *ops);

/* Poll fds for up to @max_ns before sleeping (0: never; see loop.c). The
 * vusim program uses VUSIM_POLL_NS. */
#define VUSIM_POLL_NS 50000u
void vu_loop_set_poll(struct vu_loop *loop, uint64_t max_ns);

/* What polling cost: spin_ns is host time spent spinning (a busy CPU),
 * polls the spins, caught those that found an fd ready. */
struct vu_loop_poll_stats {
    uint64_t max_ns, polls, caught, spin_ns;
};
void vu_loop_get_poll_stats(const struct vu_loop *loop,
                            struct vu_loop_poll_stats *st);

/* A callback run once per turn, e.g. for a live status line. */
void vu_loop_set_tick(struct vu_loop *loop, void (*fn)(void *opaque),
                      void *opaque);

#endif
