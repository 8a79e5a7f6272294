/* SPDX-License-Identifier: MIT */
/*
 * cosim/msg.h - vhost-user message framing over a Unix stream socket
 *
 * A message is the 12-byte header, a payload of hdr.size bytes and up to
 * VU_MAX_FDS descriptors passed with SCM_RIGHTS alongside its first byte.
 * This layer checks only what holds for every request: the version bits and
 * the payload size against VU_PAYLOAD_MAX. Per-request rules (size, fd count,
 * features) belong to the dispatcher that knows the request.
 *
 * Owns:        the fds in a received message until the caller takes them
 *              (set the slot to -1) or calls vu_msg_close_fds().
 * Threading:   any; no shared state.
 * Errors:      -ENOTCONN the peer closed at a message boundary, -EBADMSG a
 *              truncated message, wrong version, oversized payload or too
 *              many fds (all received fds are closed), other -errno from the
 *              socket. EINTR and partial reads and writes are retried.
 * Determinism: no state; bytes in, struct out.
 */
#ifndef VUSIM_COSIM_MSG_H
#define VUSIM_COSIM_MSG_H

#include <stddef.h>

#include "cosim/proto.h"

struct vu_msg {
    struct vu_hdr hdr;
    union vu_payload p;
    int fds[VU_MAX_FDS];
    int nfds;
};

/* Zero the message, with every fd slot -1. */
void vu_msg_init(struct vu_msg *m, uint32_t request, uint32_t flags,
                 uint32_t size);

/* Read one message from @sock (blocking until it is whole). */
int vu_msg_recv(int sock, struct vu_msg *m);

/* Write one message and its fds (m->nfds of m->fds). */
int vu_msg_send(int sock, const struct vu_msg *m);

/* Close and forget every fd still held by @m. */
void vu_msg_close_fds(struct vu_msg *m);

/* Take fd @i from @m: returns it and leaves -1 in its slot. */
int vu_msg_take_fd(struct vu_msg *m, int i);

#endif
