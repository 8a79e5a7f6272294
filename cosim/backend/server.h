/* SPDX-License-Identifier: MIT */
/*
 * cosim/backend/server.h - the listening side: one front-end at a time per device
 *
 * A server owns a listening Unix socket (created with mode 0600 and removed
 * when the server is freed) or an inherited fd, and hands each accepted
 * connection to its back-end. While a front-end is connected, further
 * clients wait in the listen backlog; when it goes, the next is accepted.
 * An inherited fd that is already connected (not listening) is served once.
 * Connections are made non-blocking: a message arrives whole or, if the
 * peer stalls inside it, is malformed (cosim/wire/msg.h), so one front-end can
 * never stall the loop.
 *
 * Owns:        the listening socket and its path.
 * Borrows:     the loop and the back-end.
 * Threading:   the loop's thread.
 * Errors:      -errno from socket/bind/listen; -EINVAL bad fd or path.
 */
#ifndef VUSIM_COSIM_SERVER_H
#define VUSIM_COSIM_SERVER_H

#include <stdbool.h>

#include "cosim/backend/backend.h"
#include "cosim/backend/loop.h"

struct vu_server;

/* Listen on @path (an existing socket file there is replaced). */
int vu_server_listen(struct vu_loop *loop, struct vu_backend *be,
                     const char *path, struct vu_server **out);

/* Serve an inherited fd: listening (accept from it) or connected. */
int vu_server_adopt(struct vu_loop *loop, struct vu_backend *be, int fd,
                    struct vu_server **out);

/* Stop the loop when the current front-end leaves (a test or a one-shot
 * run); otherwise the server keeps accepting. */
void vu_server_set_oneshot(struct vu_server *srv, bool oneshot);

void vu_server_free(struct vu_server *srv);

#endif
