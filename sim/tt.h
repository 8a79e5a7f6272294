/* SPDX-License-Identifier: MIT */
/*
 * sim/tt.h - the UML time-travel controller (time-travel=ext, Linux 6.1)
 *
 * Model. Each UML started with time-travel=ext:ID:PATH (and each QEMU built
 * by scripts/build-qemu.sh, started with -object time-travel,path=PATH,
 * client-id=ID: it speaks the same protocol) is a participant of
 * the simulation calendar. Its time requests become calendar events next to
 * the devices' events, and exactly one participant runs at a time: while a
 * UML runs, the calendar is held (ops.hold); when it says WAIT, the hold is
 * released and the calendar runs the next event, which is a device's work
 * or some UML's requested run time (then that UML is sent RUN). So guest and
 * devices advance on one clock, and a run is reproducible bit for bit.
 *
 * Wire: 16-byte messages {u32 op; u32 seq; u64 time_ns} in host order.
 * UML sends START, GET_TOD, GET, REQUEST, WAIT, UPDATE and blocks until the
 * ACK with the same seq; the controller sends FREE_UNTIL and RUN, which UML
 * acks. Every UML message is acked at once, never after waiting on UML.
 *
 * Rules this module keeps:
 *  - START is acked only once every expected participant has connected, and
 *    then in ID order (one start event per participant at time 0, priority
 *    by ID), whatever order they connected in.
 *  - Time never goes backwards for a participant: RUN(t) has t >= its time;
 *    a request for a time the calendar has passed runs at the calendar's
 *    time.
 *  - UPDATE(t) from the running UML (sent before each kick) moves the
 *    calendar to t, so a kick's work is scheduled relative to that time.
 *  - FREE_UNTIL(t), sent just before RUN, lets the UML run without asking up
 *    to the next foreign event. UML 6.1 reads the controller's messages only
 *    while it waits for something, so when the running UML's kick (or any
 *    vhost-user message whose ring look finds work) schedules an earlier
 *    event, the new bound is sent and the message's ack is held until the
 *    UML acks it (sim_tt_kick_sync): the guest can never pass it. A
 *    participant that says WAIT (or leaves) instead ends the hold too.
 *  - GET_TOD answers start_tod_ns + now, so the guest's clock is a pure
 *    function of --start-time and simulated time.
 *
 * Owns:        the listening socket and every participant connection.
 * Borrows:     the event_base and the calendar; the hold/release ops.
 * Threading:   the event loop's thread.
 * Errors:      a participant that breaks the protocol (unknown op, a wrong
 *              seq, time going backwards, a short read) gets one ERR line
 *              naming it and is dropped; the others go on.
 * Determinism: what participants are told depends only on their messages
 *              and the calendar, never on which socket became ready first:
 *              only one participant runs, and the others are blocked.
 */
#ifndef VUSIM_SIM_TT_H
#define VUSIM_SIM_TT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cal.h"

struct event_base;
struct sim_tt;

/* The UML 6.1 wire operations (include/uapi/linux/um_timetravel.h). */
enum sim_tt_op {
    SIM_TT_ACK = 0,
    SIM_TT_START = 1,
    SIM_TT_REQUEST = 2,
    SIM_TT_WAIT = 3,
    SIM_TT_GET = 4,
    SIM_TT_UPDATE = 5,
    SIM_TT_RUN = 6,
    SIM_TT_FREE_UNTIL = 7,
    SIM_TT_GET_TOD = 8,
    SIM_TT_NOPS
};

struct sim_tt_msg {
    uint32_t op;
    uint32_t seq;
    uint64_t time;
};

struct sim_tt_ops {
    /* Stop / resume running calendar events (cosim/backend/loop.h holds). */
    void (*hold)(void *opaque);
    void (*release)(void *opaque);
    void *opaque;
    /* Optional: bytes came from a participant of @tt (a polling loop
     * learns where its next message is likely to come from, and may call
     * sim_tt_serve_last). Called with NULL from sim_tt_free: forget @tt. */
    void (*active)(void *opaque, struct sim_tt *tt);
};

struct sim_tt_cfg {
    const char *path;           /* listen here */
    unsigned participants;      /* STARTs to wait for before any runs */
    uint64_t start_tod_ns;      /* GET_TOD at simulated time 0 */
    bool free_until;            /* send FREE_UNTIL (default on) */
};

struct sim_tt_stats {
    uint64_t rx[SIM_TT_NOPS];   /* messages received, by op */
    uint64_t runs, free_untils, kick_syncs;
    uint32_t connected, dropped;
};

int sim_tt_new(struct event_base *base, struct sim_cal *cal,
               const struct sim_tt_cfg *cfg, const struct sim_tt_ops *ops,
               struct sim_tt **out);
void sim_tt_free(struct sim_tt *tt);

/*
 * Called by a back-end after a message's work (an in-band kick's, a ring
 * look's) is on the calendar and before the message is acked. Returns true
 * if the ack may go now; false if the running participant must first learn
 * an earlier FREE_UNTIL: @done(@arg) is then called once it has acked it
 * (or is gone).
 */
bool sim_tt_kick_sync(struct sim_tt *tt, void (*done)(void *arg), void *arg);

/* Read the participant that spoke last without blocking, and handle its
 * message if one is whole: what its fd's event would do, for a loop that
 * polls that one socket (cosim/backend/loop.h, vu_loop_set_hot). */
void sim_tt_serve_last(struct sim_tt *tt);

void sim_tt_get_stats(const struct sim_tt *tt, struct sim_tt_stats *st);

const char *sim_tt_op_name(uint32_t op);

/*
 * An observer sees the protocol as each participant lives it, one call per
 * exchange: a participant's message (SIM_TT_FROM_GUEST) when the
 * controller acks it, with the ack's time in @reply (the answer to GET and
 * GET_TOD, else 0); the controller's RUN and FREE_UNTIL (SIM_TT_TO_GUEST)
 * when they are sent, @reply 0. START is seen when it is acked (in ID
 * order, not in connection order), the participants' ACKs are not seen.
 * @id is the participant's START id. So every call is a step of a guest
 * that runs alone, and the sequence is as reproducible as the guests are:
 * traces/ records it so that `vusim trace diff` finds where two runs of a
 * guest first differ. One per controller; @fn NULL removes it. It must not
 * touch the controller or the calendar.
 */
enum sim_tt_dir { SIM_TT_FROM_GUEST = 0, SIM_TT_TO_GUEST = 1 };

typedef void (*sim_tt_observer_fn)(void *opaque, uint64_t id,
                                   enum sim_tt_dir dir,
                                   const struct sim_tt_msg *m,
                                   uint64_t reply);

void sim_tt_set_observer(struct sim_tt *tt, sim_tt_observer_fn fn,
                         void *opaque);

#endif
