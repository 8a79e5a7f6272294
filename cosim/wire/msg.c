/* SPDX-License-Identifier: MIT */
/*
 * cosim/wire/msg.c - vhost-user message framing (see msg.h)
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
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cosim/wire/msg.h"

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

int vu_notify_fd_init(int fd)
{
    char path[40], link[32];
    struct stat sb;
    ssize_t n;
    int fl;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = fd < 0 ? -1 : readlink(path, link, sizeof(link) - 1);
    if (n < 0) {
        return VU_NOTIFY_FD_OTHER;
    }
    link[n] = '\0';
    if (strcmp(link, "anon_inode:[eventfd]") == 0) {
        return VU_NOTIFY_FD_EVENTFD;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) {
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
    return fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode) ? VU_NOTIFY_FD_SOCKET
                                                        : VU_NOTIFY_FD_OTHER;
}

/* write(2) to a pipe without SIGPIPE, whatever the process does with it.
 * A SIGPIPE already pending (the caller had it blocked) is the caller's and
 * is left alone; only the one this write raised is taken back. */
static ssize_t notify_write_nosigpipe(int fd, const void *p, size_t len)
{
    static const struct timespec now = { 0, 0 };
    sigset_t pipe_set, old, pending;
    bool was_blocked, was_pending = false;
    ssize_t n;
    int err;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    was_blocked = sigismember(&old, SIGPIPE);
    if (was_blocked && sigpending(&pending) == 0) {
        was_pending = sigismember(&pending, SIGPIPE);
    }
    n = write(fd, p, len);
    err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    if (!was_blocked) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    errno = err;
    return n;
}

int vu_notify_write(int fd, int kind)
{
    const uint64_t one = 1;
    ssize_t n;

    do {
        if (kind == VU_NOTIFY_FD_EVENTFD) {
            n = write(fd, &one, sizeof(one));
        } else if (kind == VU_NOTIFY_FD_SOCKET) {
            n = send(fd, &one, sizeof(one), MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            n = notify_write_nosigpipe(fd, &one, sizeof(one));
        }
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    }
    return 0;
}

/* ---- the buffered reader ---------------------------------------------- */

void vu_msg_reader_init(struct vu_msg_reader *rd)
{
    memset(rd, 0, sizeof(*rd));
}

void vu_msg_reader_fini(struct vu_msg_reader *rd)
{
    for (unsigned i = 0; i < rd->nfdb; i++) {
        for (int k = 0; k < rd->fdb[i].n; k++) {
            close(rd->fdb[i].fds[k]);
        }
    }
    vu_msg_reader_init(rd);
}

static const struct vu_hdr *rd_hdr(const struct vu_msg_reader *rd, size_t at)
{
    return (const struct vu_hdr *)(const void *)(rd->buf + at);
}

/* 1: a whole message at head; 0: not yet; -EBADMSG: its header is bad. */
static int rd_complete(const struct vu_msg_reader *rd)
{
    size_t avail = rd->tail - rd->head;
    struct vu_hdr h;

    if (avail < VU_HDR_SIZE) {
        return 0;
    }
    memcpy(&h, rd_hdr(rd, rd->head), sizeof(h));
    if ((h.flags & VU_FLAG_VERSION_MASK) != VU_VERSION ||
        h.size > VU_PAYLOAD_MAX) {
        return -EBADMSG;
    }
    return avail >= VU_HDR_SIZE + h.size;
}

/* Take the message at head, with the fds whose owner lies inside it. */
static int rd_take(struct vu_msg_reader *rd, struct vu_msg *m)
{
    uint64_t start = rd->base + rd->head, end;
    unsigned keep = 0;
    int rc = 0;

    vu_msg_init(m, VU_REQ_NONE, 0, 0);
    memcpy(&m->hdr, rd->buf + rd->head, VU_HDR_SIZE);
    memcpy(&m->p, rd->buf + rd->head + VU_HDR_SIZE, m->hdr.size);
    end = start + VU_HDR_SIZE + m->hdr.size;
    for (unsigned i = 0; i < rd->nfdb; i++) {
        struct vu_msg_fdbatch *b = &rd->fdb[i];

        if (b->owner >= end) {
            rd->fdb[keep++] = *b;
            continue;
        }
        for (int k = 0; k < b->n; k++) {
            if (m->nfds < VU_MAX_FDS) {
                m->fds[m->nfds++] = b->fds[k];
            } else {
                close(b->fds[k]);
                rc = -EBADMSG;
            }
        }
    }
    rd->nfdb = keep;
    rd->head += VU_HDR_SIZE + m->hdr.size;
    if (rc < 0) {
        vu_msg_close_fds(m);
    }
    return rc;
}

/*
 * Which message do fds that came with bytes [from, to) belong to? Linux
 * ends a stream read right after the first chunk that carries fds, and
 * fds travel with a message's first write, so they belong to the last
 * message that starts inside the chunk; failing that (a peer that sends
 * fds with a later write), to the message the chunk continues.
 */
static uint64_t rd_fd_owner(const struct vu_msg_reader *rd, size_t from,
                            size_t to)
{
    size_t pos = rd->head, owner = rd->head;

    (void)from;   /* the last start before @to is in [from, to) if any is */
    while (pos < to) {
        struct vu_hdr h;

        owner = pos;
        if (to - pos < VU_HDR_SIZE) {
            break;
        }
        memcpy(&h, rd_hdr(rd, pos), sizeof(h));
        if (h.size > VU_PAYLOAD_MAX) {
            break;
        }
        pos += VU_HDR_SIZE + h.size;
    }
    return rd->base + owner;
}

static int rd_keep_fds(struct vu_msg_reader *rd, struct msghdr *mh,
                       size_t from, size_t to)
{
    struct vu_msg tmp;
    int rc;

    vu_msg_init(&tmp, VU_REQ_NONE, 0, 0);
    rc = take_cmsg_fds(mh, &tmp);
    if (rc < 0 || tmp.nfds == 0) {
        vu_msg_close_fds(&tmp);
        return rc;
    }
    if (rd->nfdb == VU_MAX_FDS) {
        vu_msg_close_fds(&tmp);
        return -EBADMSG;
    }
    struct vu_msg_fdbatch *b = &rd->fdb[rd->nfdb++];
    b->owner = rd_fd_owner(rd, from, to);
    b->n = tmp.nfds;
    memcpy(b->fds, tmp.fds, sizeof(int) * (size_t)tmp.nfds);
    return 0;
}

/* One recvmsg into the free space; -EAGAIN when nothing is there. */
static int rd_fill(struct vu_msg_reader *rd, int sock, int flags)
{
    union vu_cmsg_buf cbuf;
    struct iovec iov;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
    };
    ssize_t n;

    if (rd->head > 0) {
        memmove(rd->buf, rd->buf + rd->head, rd->tail - rd->head);
        rd->base += rd->head;
        rd->tail -= rd->head;
        rd->head = 0;
    }
    iov.iov_base = rd->buf + rd->tail;
    iov.iov_len = sizeof(rd->buf) - rd->tail;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return -EAGAIN;
    }
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
        return rd->tail > rd->head ? -EBADMSG : -ENOTCONN;
    }
    if (n < 0) {
        return -errno;
    }
    rd->tail += (size_t)n;
    return rd_keep_fds(rd, &mh, rd->tail - (size_t)n, rd->tail);
}

static int rd_read(struct vu_msg_reader *rd, int sock, struct vu_msg *m,
                   int flags)
{
    int rc;

    for (;;) {
        rc = rd_complete(rd);
        if (rc > 0) {
            return rd_take(rd, m);
        }
        if (rc < 0) {
            return rc;
        }
        rc = rd_fill(rd, sock, flags);
        if (rc == -EAGAIN && rd->tail > rd->head) {
            rc = wait_ready(sock, POLLIN);    /* inside a message */
        }
        if (rc < 0) {
            return rc;
        }
    }
}

int vu_msg_read(struct vu_msg_reader *rd, int sock, struct vu_msg *m)
{
    return rd_read(rd, sock, m, 0);
}

int vu_msg_read_nowait(struct vu_msg_reader *rd, int sock, struct vu_msg *m)
{
    return rd_read(rd, sock, m, MSG_DONTWAIT);
}

bool vu_msg_reader_pending(const struct vu_msg_reader *rd)
{
    return rd_complete(rd) != 0;
}
