/* SPDX-License-Identifier: MIT */
/*
 * cosim/msg.c - vhost-user message framing (see msg.h)
 *
 * Every chunk of a message is read with recvmsg() and a control buffer, so
 * descriptors attached to any byte of the message are collected and never
 * leak: Linux stops a stream read after a chunk that carried fds, so a peer
 * that attaches fds to a later write of the same message just gives us one
 * more batch. More than VU_MAX_FDS in total, or a truncated control buffer,
 * is a malformed message and closes every fd received so far.
 *
 * A non-blocking socket is supported: at a message boundary EAGAIN is
 * returned as -EAGAIN; inside a message we poll() until the rest arrives
 * (at most VU_MSG_STALL_MS between chunks, then -EBADMSG),
 * since the contract is "whole message or error". ECONNRESET counts as the
 * peer going away (-ENOTCONN at a boundary, -EBADMSG inside a message), and
 * on send EPIPE and ECONNRESET become -ENOTCONN.
 *
 * vu_msg_init() adds VU_VERSION when the caller's flags carry no version
 * bits; explicit (even wrong) version bits are kept for hostile tests.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cosim/msg.h"

#define VU_HDR_SIZE ((size_t)sizeof(struct vu_hdr))

union vu_cmsg_buf {
    struct cmsghdr align;
    char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
};

void vu_msg_init(struct vu_msg *m, uint32_t request, uint32_t flags,
                 uint32_t size)
{
    memset(m, 0, sizeof(*m));
    /* Callers may leave the version out; an explicit one is kept as is so
     * tests can build wrong versions. */
    if ((flags & VU_FLAG_VERSION_MASK) == 0) {
        flags |= VU_VERSION;
    }
    m->hdr.request = request;
    m->hdr.flags = flags;
    m->hdr.size = size;
    for (int i = 0; i < VU_MAX_FDS; i++) {
        m->fds[i] = -1;
    }
    m->nfds = 0;
}

void vu_msg_close_fds(struct vu_msg *m)
{
    for (int i = 0; i < VU_MAX_FDS; i++) {
        if (m->fds[i] >= 0) {
            close(m->fds[i]);
        }
        m->fds[i] = -1;
    }
    m->nfds = 0;
}

int vu_msg_take_fd(struct vu_msg *m, int i)
{
    if (i < 0 || i >= VU_MAX_FDS) {
        return -EINVAL;
    }
    int fd = m->fds[i];
    m->fds[i] = -1;
    return fd;
}

/*
 * Wait until @sock is ready for @events; used only inside a message. A peer
 * that stops mid-message must not stall the loop that serves everything
 * else, so the wait is bounded: the message is then malformed.
 */
#define VU_MSG_STALL_MS 5000

static int wait_ready(int sock, short events)
{
    struct pollfd p = { .fd = sock, .events = events };

    for (;;) {
        int rc = poll(&p, 1, VU_MSG_STALL_MS);
        if (rc > 0) {
            return 0;
        }
        if (rc == 0) {
            return -EBADMSG;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

/*
 * Move the SCM_RIGHTS fds of @mh into @m. Returns -EBADMSG (having closed
 * the fds of this batch) if the kernel truncated them or they overflow.
 */
static int take_cmsg_fds(struct msghdr *mh, struct vu_msg *m)
{
    int rc = (mh->msg_flags & MSG_CTRUNC) ? -EBADMSG : 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof(int), sizeof(fd));
            if (rc == 0 && m->nfds < VU_MAX_FDS) {
                m->fds[m->nfds++] = fd;
            } else {
                rc = -EBADMSG;
                close(fd);
            }
        }
    }
    return rc;
}

/*
 * Read exactly @len bytes into @buf. @got_any tells whether earlier bytes of
 * this message were read (it decides between -ENOTCONN and -EBADMSG).
 */
static int recv_exact(int sock, void *buf, size_t len, bool got_any,
                      struct vu_msg *m)
{
    size_t off = 0;

    while (off < len) {
        union vu_cmsg_buf cbuf;
        struct iovec iov = { (char *)buf + off, len - off };
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
        };
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        int err = n < 0 ? errno : 0;
        bool mid = got_any || off > 0;

        if (n > 0 && take_cmsg_fds(&mh, m) < 0) {
            return -EBADMSG;
        }
        if (n > 0) {
            off += (size_t)n;
        } else if (n == 0 || err == ECONNRESET) {
            return mid ? -EBADMSG : -ENOTCONN;
        } else if (err == EINTR) {
            continue;
        } else if ((err == EAGAIN || err == EWOULDBLOCK) && !mid) {
            return -EAGAIN;
        } else if (err == EAGAIN || err == EWOULDBLOCK) {
            int rc = wait_ready(sock, POLLIN);
            if (rc < 0) {
                return rc;
            }
        } else {
            return -err;
        }
    }
    return 0;
}

int vu_msg_recv(int sock, struct vu_msg *m)
{
    int rc;

    vu_msg_init(m, VU_REQ_NONE, 0, 0);
    rc = recv_exact(sock, &m->hdr, VU_HDR_SIZE, false, m);
    if (rc < 0) {
        goto fail;
    }
    if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION ||
        m->hdr.size > VU_PAYLOAD_MAX) {
        rc = -EBADMSG;
        goto fail;
    }
    rc = recv_exact(sock, &m->p, m->hdr.size, true, m);
    if (rc < 0) {
        goto fail;
    }
    return 0;

fail:
    vu_msg_close_fds(m);
    return rc;
}

/* Skip @n sent bytes in the iovec array; returns the new first index. */
static int iov_advance(struct iovec *iov, int cnt, size_t n)
{
    int i = 0;

    while (i < cnt && n >= iov[i].iov_len) {
        n -= iov[i].iov_len;
        i++;
    }
    if (i < cnt) {
        iov[i].iov_base = (char *)iov[i].iov_base + n;
        iov[i].iov_len -= n;
    }
    return i;
}

static void set_fds(struct msghdr *mh, union vu_cmsg_buf *cbuf,
                    const struct vu_msg *m)
{
    size_t len = (size_t)m->nfds * sizeof(int);

    memset(cbuf, 0, sizeof(*cbuf));
    mh->msg_control = cbuf->buf;
    mh->msg_controllen = CMSG_SPACE(len);
    struct cmsghdr *c = CMSG_FIRSTHDR(mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), m->fds, len);
}

int vu_msg_send(int sock, const struct vu_msg *m)
{
    if (m->hdr.size > VU_PAYLOAD_MAX || m->nfds < 0 ||
        m->nfds > VU_MAX_FDS) {
        return -EINVAL;
    }
    struct iovec iov[2] = {
        { (void *)&m->hdr, VU_HDR_SIZE },
        { (void *)&m->p, m->hdr.size },
    };
    int first = 0;
    bool fds_sent = m->nfds == 0;
    union vu_cmsg_buf cbuf;

    while (first < 2) {
        struct msghdr mh = { .msg_iov = iov + first,
                             .msg_iovlen = (size_t)(2 - first) };
        if (!fds_sent) {
            set_fds(&mh, &cbuf, m);
        }
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_ready(sock, POLLOUT);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        if (n < 0) {
            return (errno == EPIPE || errno == ECONNRESET) ? -ENOTCONN
                                                           : -errno;
        }
        fds_sent = true;
        first += iov_advance(iov + first, 2 - first, (size_t)n);
    }
    return 0;
}
