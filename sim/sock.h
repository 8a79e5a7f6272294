/* SPDX-License-Identifier: MIT */
/*
 * sim/sock.h - the listening Unix socket every server of vusim uses
 *
 * The vhost-user server (cosim/backend/server.c) and the time-travel controller
 * (sim/tt.c) both listen on a path that only the user may connect to.
 *
 * Owns:        nothing; returns the fd to the caller.
 * Errors:      -ENAMETOOLONG, or -errno from socket, bind or listen.
 */
#ifndef VUSIM_SIM_SOCK_H
#define VUSIM_SIM_SOCK_H

/*
 * A non-blocking, close-on-exec stream socket listening on @path with mode
 * 0600 from the start (no window in which others could connect). A socket
 * file already at @path is replaced. Returns the fd or -errno.
 */
int vusim_unix_listen(const char *path, int backlog);

#endif
