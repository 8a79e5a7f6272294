/* SPDX-License-Identifier: MIT */
/*
 * cosim/control/control.h - the control socket (--control=PATH): pause,
 * step and break in simulated time, and change rules at run time
 *
 * Model: a Unix socket (mode 0600) that speaks QMP's conventions, one JSON
 * object per line each way. A client gets a greeting ({"QMP": ...}), must
 * send {"execute": "qmp_capabilities"} first, then
 * {"execute": NAME, "arguments": {...}, "id": ANY} and gets
 * {"return": ..., "id": ANY} or {"error": {"class": C, "desc": D}, "id"}.
 * Events go to every client past negotiation:
 * {"event": NAME, "data": {...}, "timestamp": {"seconds", "microseconds"}
 * (wall clock, as QMP), "sim-time": PICOSECONDS}. vusim(1), CONTROL, lists
 * the commands and events.
 *
 * Stopping closes a gate on the loop's calendar (cosim/backend/loop.h): no
 * calendar event runs, so simulated time moves for nobody (devices and
 * time-travel guests, whose steps are calendar events), while fd callbacks
 * still run: the front-end's kicks are acked and queue their work,
 * in-band acks are served, nothing deadlocks. Breakpoints on requests are
 * rule triggers (devices/faults/faults.h) matched when the device takes a
 * request; the run stops once that device hook returns.
 *
 * Several devices on one calendar (vusim multi) share one socket: stop,
 * step and time breakpoints are the calendar's, the rest names a device.
 *
 * Owns:        the listening socket and its path (removed when freed), its
 *              clients, the breakpoints.
 * Borrows:     the loop, the back-ends and their devices, for its whole
 *              life.
 * Threading:   the loop's thread.
 * Errors:      vu_control_open: -errno with one line in @err. A client's
 *              bad input gets a QMP error (or, past 64 KiB without a
 *              newline, a close); the simulation goes on.
 * Determinism: the control changes simulated behaviour only through its
 *              commands, applied at the simulated time they arrive; the
 *              same commands at the same simulated times give the same
 *              run. Wall time appears only in events' "timestamp".
 */
#ifndef VUSIM_COSIM_CONTROL_CONTROL_H
#define VUSIM_COSIM_CONTROL_CONTROL_H

#include <stddef.h>

#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"

struct vu_control;

#define VU_CONTROL_MAX_DEVS 16

/* One socket for the loop's calendar and the devices of @bes (1 to
 * VU_CONTROL_MAX_DEVS back-ends on that loop): commands about a device
 * take "device", its index in @bes, which a run of one device lets the
 * client leave out; events about a device carry it. */
int vu_control_open(struct vu_loop *loop, struct vu_backend *const *bes,
                    size_t n, const char *path, struct vu_control **out,
                    char *err, size_t errlen);
void vu_control_free(struct vu_control *c);

/* `vusim ctl PATH COMMAND [JSON-ARGS]`: the client (client.c). */
int vu_control_client_main(int argc, char **argv);

#endif
