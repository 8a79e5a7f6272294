/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_msg.c - the back-end's message reader, validator and
 * dispatch (cosim/wire/msg.c, cosim/backend/backend.c) over a sequence of messages
 *
 * One loop, one virtio-blk back-end (1 MiB RAM disk) for the whole run; each
 * input is one front-end connection over a real socketpair, attached as the
 * server attaches an accepted one. Input: frames, each { u8 ctl; 12-byte
 * header; payload of the header's size, zeros past the end of the
 * input }: a frame is always whole (a half-sent one would only test the
 * reader's 5 s stall timeout, which the bad-input table covers). ctl's low 2 bits are the number
 * of fds sent with the frame, the next 6 bits their kinds, 2 bits each: a
 * sparse 256 MiB memfd (memory regions), an eventfd (kick, call, err), one
 * end of a socketpair (the back-end channel, whose requests this harness
 * answers as a front-end would) or a pipe (unmappable, not a socket). After
 * each frame the loop turns until the back-end is idle, replies are read
 * and dropped, and calls on the back-end channel are acked. At the end the
 * socket is shut and the back-end must close the connection by itself.
 *
 * Invariants: the back-end never crashes or touches memory it does not
 * own (ASan), every fd it was given is closed when the connection is gone,
 * and it always notices the end of the connection.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cosim/backend/backend.h"
#include "cosim/wire/msg.h"
#include "devices/blk/blk.h"
#include "sim/cal.h"
#include "tests/fuzz/fuzz.h"

#define FZ_MEMFD_SIZE (256ull << 20)
#define FZ_TURNS 64
#define FZ_DRAIN_EVERY 16  /* frames between reads of the replies */
#define FZ_FD_SPAN 1024   /* fds checked for leaks */

static struct vu_loop *g_loop;
static struct vu_backend *g_be;
static int g_memfd = -1;
static int g_fddir = -1;     /* /proc/self/fd, read again for each check */
static bool g_closed;
static int g_chan[4] = { -1, -1, -1, -1 };   /* our ends of channels */

static void fz_on_close(struct vu_backend *be, void *opaque)
{
    (void)be;
    (void)opaque;
    g_closed = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct vu_backend_cfg cfg = { .inband = VU_INBAND_AUTO, .conn_id = 1 };
    struct dev_opt opt = { "size", "1M" };
    struct dev *dev;
    char err[256];

    (void)argc;
    (void)argv;
    fz_quiet_logs();
    g_loop = vu_loop_new(NULL);
    if (!g_loop || dev_blk_ops.create(vu_loop_cal(g_loop), &opt, 1, &dev,
                                      err, sizeof(err)) < 0) {
        abort();
    }
    g_be = vu_backend_new(g_loop, dev, &cfg);
    g_memfd = memfd_create("fuzz-msg", MFD_CLOEXEC);
    g_fddir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!g_be || g_memfd < 0 || g_fddir < 0) {
        abort();
    }
    vu_backend_set_on_close(g_be, fz_on_close, NULL);
    return 0;
}

/* One fd of @kind for the back-end to own. */
static int fz_make_fd(unsigned kind)
{
    int p[2];

    switch (kind) {
    case 0:
        return fcntl(g_memfd, F_DUPFD_CLOEXEC, 0);
    case 1:
        return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    case 2:
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
            return -1;
        }
        for (int i = 0; i < 4; i++) {
            if (g_chan[i] < 0) {
                g_chan[i] = p[0];
                fcntl(p[0], F_SETFL, O_NONBLOCK);
                return p[1];
            }
        }
        close(p[0]);
        return p[1];
    default:
        if (pipe2(p, O_CLOEXEC) < 0) {
            return -1;
        }
        close(p[1]);
        return p[0];
    }
}

static void fz_send(int sock, const uint8_t *buf, size_t len, uint8_t ctl)
{
    int fds[3], n = ctl & 3;
    char cbuf[CMSG_SPACE(sizeof(fds))] = { 0 };
    struct iovec iov = { (void *)buf, len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    int k = 0;

    for (int i = 0; i < n; i++) {
        int fd = fz_make_fd((ctl >> (2 + 2 * i)) & 3);

        if (fd >= 0) {
            fds[k++] = fd;
        }
    }
    if (k) {
        struct cmsghdr *c;

        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(k * sizeof(int));
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(k * sizeof(int));
        memcpy(CMSG_DATA(c), fds, k * sizeof(int));
    }
    (void)sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    for (int i = 0; i < k; i++) {
        close(fds[i]);
    }
}

/* Whether a whole message waits on @fd. One of "our" socket ends may
 * have been given as a call or err fd, not as the back-end channel; the
 * back-end then writes 8-byte eventfd counts to it, and vu_msg_recv would
 * wait 5 s for the rest of a "header" that never comes. The harness must
 * never wait: a stall is not the back-end's. */
static bool fz_msg_whole(int fd)
{
    struct vu_hdr h;
    int avail = 0;

    return ioctl(fd, FIONREAD, &avail) == 0 &&
           (size_t)avail >= sizeof(h) &&
           recv(fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) ==
               (ssize_t)sizeof(h) &&
           (size_t)avail >= sizeof(h) + h.size;
}

/* Answer the back-end channel's requests as a front-end: ack with 0.
 * Returns the number of messages read. */
static int fz_serve_channels(void)
{
    int n = 0;

    for (int i = 0; i < 4; i++) {
        struct vu_msg m;

        while (g_chan[i] >= 0 && fz_msg_whole(g_chan[i]) &&
               vu_msg_recv(g_chan[i], &m) == 0) {
            n++;
            vu_msg_close_fds(&m);
            if (m.hdr.flags & VU_FLAG_NEED_REPLY) {
                m.hdr.flags = VU_VERSION | VU_FLAG_REPLY;
                m.hdr.size = 8;
                m.p.u64 = 0;
                (void)vu_msg_send(g_chan[i], &m);
            }
        }
    }
    return n;
}

/* Read and drop the replies. A reply asks nothing of the back-end, so
 * they are read every FZ_DRAIN_EVERY frames and at the end, not after each
 * turn: the socket buffer holds far more than that many frames' replies,
 * so the back-end never finds it full. */
static void fz_drain(int sock)
{
    static uint8_t junk[65536];

    while (recv(sock, junk, sizeof(junk), MSG_DONTWAIT) ==
           (ssize_t)sizeof(junk)) {
    }
}

/* Turn the loop until a turn changes nothing: no calendar event run or
 * pending, no back-end request. The frame was sent whole before the first
 * turn, so that turn reads it; a turn that leaves nothing pending and asks
 * nothing of the front-end leaves the back-end idle. */
static void fz_pump(void)
{
    for (int i = 0; i < FZ_TURNS && !g_closed; i++) {
        long ev = vu_loop_poll(g_loop);
        int io = fz_serve_channels();

        if (ev == 0 && io == 0 &&
            sim_cal_pending(vu_loop_cal(g_loop)) == 0) {
            break;
        }
    }
}

/* Which fds below FZ_FD_SPAN are open, as a bitmap: one pass over
 * /proc/self/fd (a few system calls, not one per fd). */
static void fz_open_fds(uint8_t *map)
{
    char buf[8192];
    long n;

    memset(map, 0, FZ_FD_SPAN);
    if (lseek(g_fddir, 0, SEEK_SET) < 0) {
        abort();
    }
    while ((n = getdents64(g_fddir, buf, sizeof(buf))) > 0) {
        for (long at = 0; at < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + at);
            char *end;
            long fd = strtol(d->d_name, &end, 10);

            if (*end == '\0' && end != d->d_name && fd >= 0 &&
                fd < FZ_FD_SPAN) {
                map[fd] = 1;
            }
            at += d->d_reclen;
        }
    }
    if (n < 0) {
        abort();
    }
}

/* Nothing the connection opened is left open (libFuzzer's own fds are in
 * the "before" snapshot). */
static void fz_check_fds(const uint8_t *before)
{
    uint8_t after[FZ_FD_SPAN];

    fz_open_fds(after);
    for (int i = 0; i < FZ_FD_SPAN; i++) {
        fz_check(after[i] <= before[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = { data, size };
    static uint8_t frame[12 + VU_PAYLOAD_MAX];
    uint8_t before[FZ_FD_SPAN];
    int sv[2], frames = 0;

    fz_open_fds(before);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        ftruncate(g_memfd, 0) < 0 || ftruncate(g_memfd, FZ_MEMFD_SIZE) < 0) {
        abort();
    }
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    g_closed = false;
    fz_check(vu_backend_attach(g_be, sv[1]) == 0);
    while (fz_left(&f) > 0 && !g_closed) {
        uint8_t ctl = fz_u8(&f);
        struct vu_hdr h;
        size_t plen;

        fz_bytes(&f, &h, sizeof(h));
        plen = h.size <= VU_PAYLOAD_MAX ? h.size : 0;
        memcpy(frame, &h, sizeof(h));
        fz_bytes(&f, frame + sizeof(h), plen);
        fz_send(sv[0], frame, sizeof(h) + plen, ctl);
        fz_pump();
        if (++frames % FZ_DRAIN_EVERY == 0) {
            fz_drain(sv[0]);
        }
    }
    fz_drain(sv[0]);
    shutdown(sv[0], SHUT_WR);
    fz_pump();
    fz_check(g_closed);
    close(sv[0]);
    for (int i = 0; i < 4; i++) {
        if (g_chan[i] >= 0) {
            close(g_chan[i]);
            g_chan[i] = -1;
        }
    }
    fz_check_fds(before);
    return 0;
}
