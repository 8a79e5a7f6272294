/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/msg.h - vhost-user message framing over a Unix stream socket
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cosim/wire/proto.h"

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

/* What a call or err fd is: vu_notify_write() writes each kind its way. */
enum vu_notify_kind {
    VU_NOTIFY_FD_OTHER = 0,       /* a pipe, FIFO or anything else */
    VU_NOTIFY_FD_EVENTFD = 1,
    VU_NOTIFY_FD_SOCKET = 2,
};

/*
 * Prepare a call or err fd from the front-end, which vusim writes 8-byte
 * counts to, and return its kind. An eventfd is left as it is (its file
 * description is shared with the front-end, which may read it blocking).
 * Anything else (UML passes a pipe, because its SIGIO does not work on
 * eventfds) is made non-blocking: a front-end that stops reading fills it,
 * and a blocking write would stop the loop and every connection; once
 * full, the reader has a wake-up waiting, so a write that finds it full
 * loses nothing. When /proc cannot tell, the fd is left as it is and
 * VU_NOTIFY_FD_OTHER returned.
 */
int vu_notify_fd_init(int fd);

/*
 * Write one wake-up (an 8-byte count of 1) to @fd of @kind. Never raises
 * SIGPIPE: a front-end that closed the read end of its pipe or socket gets
 * -EPIPE back here, not the death of every connection (a socket is written
 * with MSG_NOSIGNAL; a pipe with SIGPIPE blocked for the write, a SIGPIPE
 * it raised taken back, and the caller's mask restored). A full pipe
 * returns 0: its reader has a wake-up waiting. Otherwise -errno.
 */
int vu_notify_write(int fd, int kind);

/* Close and forget every fd still held by @m. */
void vu_msg_close_fds(struct vu_msg *m);

/* Take fd @i from @m: returns it and leaves -1 in its slot. */
int vu_msg_take_fd(struct vu_msg *m, int i);

/*
 * A buffered reader: one recvmsg usually brings a whole message (or
 * several), where vu_msg_recv() needs one call for the header and one for
 * the payload. For a connection whose every byte goes through it.
 */
struct vu_msg_fdbatch {
    uint64_t owner;               /* stream offset of the owning message */
    int n;
    int fds[VU_MAX_FDS];
};

struct vu_msg_reader {
    uint8_t buf[2 * (sizeof(struct vu_hdr) + sizeof(union vu_payload))];
    size_t head, tail;            /* buffered bytes: buf[head..tail) */
    uint64_t base;                /* stream offset of buf[0] */
    struct vu_msg_fdbatch fdb[VU_MAX_FDS];  /* fds ahead of their message */
    unsigned nfdb;
};

void vu_msg_reader_init(struct vu_msg_reader *rd);

/* Close any fds still waiting for their message; the reader is empty. */
void vu_msg_reader_fini(struct vu_msg_reader *rd);

/*
 * Next message: 0, -EAGAIN (nothing buffered and nothing to read on a
 * non-blocking socket), or the errors of vu_msg_recv(). Call again until
 * -EAGAIN after a readable event: buffered messages raise no event.
 */
int vu_msg_read(struct vu_msg_reader *rd, int sock, struct vu_msg *m);

/* vu_msg_read() that never blocks for a message not yet begun, even on a
 * blocking socket: -EAGAIN then. One begun is waited for, as above. */
int vu_msg_read_nowait(struct vu_msg_reader *rd, int sock,
                       struct vu_msg *m);

/* Is a whole (or malformed) message buffered? */
bool vu_msg_reader_pending(const struct vu_msg_reader *rd);

#endif
