/* SPDX-License-Identifier: MIT */
/* Unit tests for cosim/wire/msg.c framing and cosim/wire/proto.c names, over real
 * AF_UNIX stream socketpairs. */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cosim/wire/msg.h"
#include "tests/cu_run.h"
#include "tests/unit/suites.h"

/* --- fixture helpers -------------------------------------------------- */

static void pair(int sv[2])
{
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                               sv) == 0);
}

static void close_pair(int sv[2])
{
    close(sv[0]);
    close(sv[1]);
}

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d) {
        return -1;
    }
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

/* Send raw bytes with @nfds copies of fd @fd attached to the first byte. */
static ssize_t send_raw(int sock, const void *buf, size_t len, int fd,
                        int nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(16 * sizeof(int))];
    } cb;
    struct iovec iov = { (void *)buf, len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    int fds[16];

    if (nfds > 0) {
        for (int i = 0; i < nfds; i++) {
            fds[i] = fd;
        }
        memset(&cb, 0, sizeof(cb));
        mh.msg_control = cb.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static void put_hdr(uint8_t *b, uint32_t req, uint32_t flags, uint32_t size)
{
    struct vu_hdr h = { req, flags, size };
    memcpy(b, &h, sizeof(h));
}

/* --- round trips ------------------------------------------------------ */

static void test_roundtrip_no_fds(void)
{
    int sv[2];
    struct vu_msg out, in;

    pair(sv);
    vu_msg_init(&out, VU_REQ_SET_FEATURES, VU_FLAG_NEED_REPLY, 8);
    out.p.u64 = 0x140000204ull;
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.hdr.request, VU_REQ_SET_FEATURES);
    CU_ASSERT_EQUAL(in.hdr.flags, VU_VERSION | VU_FLAG_NEED_REPLY);
    CU_ASSERT_EQUAL(in.hdr.size, 8);
    CU_ASSERT_EQUAL(in.p.u64, 0x140000204ull);
    CU_ASSERT_EQUAL(in.nfds, 0);
    for (int i = 0; i < VU_MAX_FDS; i++) {
        CU_ASSERT_EQUAL(in.fds[i], -1);
    }
    close_pair(sv);
}

static void test_roundtrip_empty_payload(void)
{
    int sv[2];
    struct vu_msg out, in;

    pair(sv);
    vu_msg_init(&out, VU_REQ_SET_OWNER, VU_VERSION, 0);
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
    vu_msg_init(&out, VU_REQ_GET_FEATURES, 0, 0);
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.hdr.request, VU_REQ_SET_OWNER);
    CU_ASSERT_EQUAL(in.hdr.size, 0);
    /* Two back-to-back messages must not bleed into each other. */
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.hdr.request, VU_REQ_GET_FEATURES);
    CU_ASSERT_EQUAL(in.hdr.flags, VU_VERSION);
    close_pair(sv);
}

/* Every fd count from 1 to VU_MAX_FDS arrives as working descriptors. */
static void test_roundtrip_fds(void)
{
    for (int nfds = 1; nfds <= VU_MAX_FDS; nfds++) {
        int sv[2], pipes[VU_MAX_FDS][2];
        struct vu_msg out, in;

        pair(sv);
        vu_msg_init(&out, VU_REQ_SET_MEM_TABLE, 0, 16);
        memset(out.p.raw, 0xa5, 16);
        for (int i = 0; i < nfds; i++) {
            CU_ASSERT_FATAL(pipe2(pipes[i], O_CLOEXEC) == 0);
            out.fds[i] = pipes[i][1];
        }
        out.nfds = nfds;
        CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
        CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
        CU_ASSERT_EQUAL(in.nfds, nfds);
        CU_ASSERT_EQUAL(in.p.raw[15], 0xa5);
        for (int i = 0; i < nfds; i++) {
            char c = (char)('a' + i), r = 0;
            /* Order is kept: fd i writes into pipe i. */
            CU_ASSERT_EQUAL(write(in.fds[i], &c, 1), 1);
            CU_ASSERT_EQUAL(read(pipes[i][0], &r, 1), 1);
            CU_ASSERT_EQUAL(r, c);
            CU_ASSERT(fcntl(in.fds[i], F_GETFD) & FD_CLOEXEC);
            close(pipes[i][0]);
            close(pipes[i][1]);
        }
        vu_msg_close_fds(&in);
        close_pair(sv);
    }
}

static void test_max_payload_accepted(void)
{
    int sv[2];
    struct vu_msg out, in;

    pair(sv);
    vu_msg_init(&out, VU_REQ_SET_CONFIG, 0, VU_PAYLOAD_MAX);
    for (uint32_t i = 0; i < VU_PAYLOAD_MAX; i++) {
        out.p.raw[i] = (uint8_t)(i * 7);
    }
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.hdr.size, VU_PAYLOAD_MAX);
    CU_ASSERT_EQUAL(memcmp(in.p.raw, out.p.raw, VU_PAYLOAD_MAX), 0);
    close_pair(sv);
}

/* Replies carry VU_FLAG_REPLY; only the low two bits are the version. */
static void test_reply_flag_accepted(void)
{
    int sv[2];
    struct vu_msg out, in;

    pair(sv);
    vu_msg_init(&out, VU_REQ_GET_FEATURES, VU_VERSION | VU_FLAG_REPLY, 8);
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.hdr.flags, 0x5);
    close_pair(sv);
}

/* --- partial reads ---------------------------------------------------- */

/* A child writes the message in tiny pieces with pauses, so the reader
 * really sees partial header and payload reads. Timing only changes how the
 * bytes are chunked, never the result. */
static void test_partial_reads_from_child(void)
{
    int sv[2];
    uint8_t buf[12 + 40];
    struct vu_msg in;

    pair(sv);
    put_hdr(buf, VU_REQ_SET_VRING_ADDR, VU_VERSION, 40);
    for (int i = 0; i < 40; i++) {
        buf[12 + i] = (uint8_t)(100 + i);
    }
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        struct timespec ts = { 0, 200000 };
        size_t cuts[] = { 1, 4, 11, 12, 13, 30, sizeof(buf) };
        size_t off = 0;
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            if (write(sv[0], buf + off, cuts[i] - off) < 0) {
                _exit(1);
            }
            off = cuts[i];
            nanosleep(&ts, NULL);
        }
        _exit(0);
    }
    close(sv[0]);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.hdr.request, VU_REQ_SET_VRING_ADDR);
    CU_ASSERT_EQUAL(in.hdr.size, 40);
    CU_ASSERT_EQUAL(memcmp(in.p.raw, buf + 12, 40), 0);
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(sv[1]);
}

/*
 * Deterministic partial reads: Linux ends a stream read after a chunk that
 * carried fds, so attaching fds to single bytes forces several reads, and
 * fds on a later chunk of the same message must be collected too.
 */
static void test_partial_reads_fds_in_chunks(void)
{
    int sv[2], p[2];
    uint8_t buf[12 + 8];
    struct vu_msg in;
    int before = count_open_fds();

    pair(sv);
    CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
    put_hdr(buf, VU_REQ_SET_VRING_KICK, VU_VERSION, 8);
    memset(buf + 12, 0, 8);
    CU_ASSERT_EQUAL(send_raw(sv[0], buf, 1, p[1], 2), 1);
    CU_ASSERT_EQUAL(send_raw(sv[0], buf + 1, 12, p[1], 1), 12);
    CU_ASSERT_EQUAL(send_raw(sv[0], buf + 13, 7, -1, 0), 7);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.nfds, 3);
    CU_ASSERT_EQUAL(in.hdr.size, 8);
    vu_msg_close_fds(&in);
    close(p[0]);
    close(p[1]);
    close_pair(sv);
    CU_ASSERT_EQUAL(count_open_fds(), before);
}

/* --- malformed input, one table --------------------------------------- */

struct bad_case {
    const char *name;
    uint32_t req, flags, size;  /* header written, unless hdr_len < 12 */
    size_t hdr_len;             /* header bytes written before EOF */
    size_t payload_len;         /* payload bytes written before EOF */
    int nfds;                   /* fds attached to the first byte */
    int expect;
};

static const struct bad_case bad_cases[] = {
    { "eof at boundary", 0, 0, 0, 0, 0, 0, -ENOTCONN },
    { "1 header byte", 1, 1, 0, 1, 0, 0, -EBADMSG },
    { "11 header bytes", 1, 1, 0, 11, 0, 0, -EBADMSG },
    { "truncated header + fds", 1, 1, 0, 5, 0, 3, -EBADMSG },
    { "version 0", 1, 0x0, 0, 12, 0, 0, -EBADMSG },
    { "version 2", 1, 0x2, 0, 12, 0, 0, -EBADMSG },
    { "version 3", 1, 0x3, 0, 12, 0, 0, -EBADMSG },
    { "version 0 with reply bit", 1, 0x4, 0, 12, 0, 0, -EBADMSG },
    { "version 2 with fds", 5, 0x2, 0, 12, 0, 2, -EBADMSG },
    { "size max+1", 1, 1, VU_PAYLOAD_MAX + 1, 12, 0, 0, -EBADMSG },
    { "size 0xffffffff", 1, 1, 0xffffffffu, 12, 0, 0, -EBADMSG },
    { "size max+1 with fds", 5, 1, VU_PAYLOAD_MAX + 1, 12, 0, 4, -EBADMSG },
    { "payload missing", 2, 1, 8, 12, 0, 0, -EBADMSG },
    { "payload short by 1", 2, 1, 8, 12, 7, 0, -EBADMSG },
    { "payload short + fds", 5, 1, 40, 12, 20, 8, -EBADMSG },
    { "9 fds", 5, 1, 0, 12, 0, 9, -EBADMSG },
    { "16 fds", 5, 1, 8, 12, 8, 16, -EBADMSG },
};

static void run_bad_case(const struct bad_case *c)
{
    int sv[2], p[2];
    uint8_t buf[12 + VU_PAYLOAD_MAX];
    struct vu_msg in;

    CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
    int before = count_open_fds();
    pair(sv);
    put_hdr(buf, c->req, c->flags, c->size);
    memset(buf + 12, 0x5a, VU_PAYLOAD_MAX);
    size_t len = c->hdr_len + c->payload_len;
    if (len > 0) {
        VU_ASSERT_MSG(send_raw(sv[0], buf, len, p[1], c->nfds) ==
                      (ssize_t)len, c->name);
    }
    shutdown(sv[0], SHUT_WR);
    int rc = vu_msg_recv(sv[1], &in);
    VU_ASSERT_MSG(rc == c->expect, c->name);
    VU_ASSERT_MSG(in.nfds == 0, c->name);
    close_pair(sv);
    /* Every received fd was closed: nothing leaked. */
    VU_ASSERT_MSG(count_open_fds() == before, c->name);
    close(p[0]);
    close(p[1]);
}

static void test_malformed_table(void)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        run_bad_case(&bad_cases[i]);
    }
}

/* Too many fds: the kernel truncates to what fits, we close what came. */
static void test_too_many_fds_closed(void)
{
    int sv[2], p[2];
    uint8_t buf[12];
    struct vu_msg in;

    CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
    int before = count_open_fds();
    pair(sv);
    put_hdr(buf, VU_REQ_SET_MEM_TABLE, VU_VERSION, 0);
    CU_ASSERT_EQUAL(send_raw(sv[0], buf, 12, p[1], VU_MAX_FDS + 1), 12);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), -EBADMSG);
    CU_ASSERT_EQUAL(count_open_fds(), before + 2);
    close_pair(sv);
    /* With the socket gone no copy of the pipe's write end may survive:
     * the reader sees EOF only if every duplicate was closed. */
    close(p[1]);
    char c;
    CU_ASSERT_FATAL(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
    CU_ASSERT_EQUAL(read(p[0], &c, 1), 0);
    close(p[0]);
}

/* --- other errors ----------------------------------------------------- */

static void test_nonblocking_boundary_eagain(void)
{
    int sv[2];
    struct vu_msg in, out;

    pair(sv);
    CU_ASSERT_FATAL(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), -EAGAIN);
    vu_msg_init(&out, VU_REQ_GET_STATUS, 0, 0);
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(in.hdr.request, VU_REQ_GET_STATUS);
    close_pair(sv);
}

static void test_send_bad_args(void)
{
    int sv[2];
    struct vu_msg out;

    pair(sv);
    vu_msg_init(&out, VU_REQ_SET_CONFIG, 0, VU_PAYLOAD_MAX + 1);
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), -EINVAL);
    vu_msg_init(&out, VU_REQ_SET_CONFIG, 0, 0);
    out.nfds = VU_MAX_FDS + 1;
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), -EINVAL);
    out.nfds = -1;
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), -EINVAL);
    close_pair(sv);
}

static void test_send_peer_gone(void)
{
    int sv[2];
    struct vu_msg out;

    pair(sv);
    close(sv[1]);
    vu_msg_init(&out, VU_REQ_SET_OWNER, 0, 0);
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), -ENOTCONN);
    close(sv[0]);
}

static void test_init_version(void)
{
    struct vu_msg m;

    vu_msg_init(&m, VU_REQ_GET_FEATURES, VU_FLAG_NEED_REPLY, 0);
    CU_ASSERT_EQUAL(m.hdr.flags, VU_VERSION | VU_FLAG_NEED_REPLY);
    /* An explicit (wrong) version is kept, for malformed-input tests. */
    vu_msg_init(&m, VU_REQ_GET_FEATURES, 0x2, 0);
    CU_ASSERT_EQUAL(m.hdr.flags, 0x2);
    CU_ASSERT_EQUAL(m.nfds, 0);
    CU_ASSERT_EQUAL(m.fds[VU_MAX_FDS - 1], -1);
}

static void test_take_and_close_fds(void)
{
    int sv[2], p[2];
    struct vu_msg out, in;

    pair(sv);
    CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
    int before = count_open_fds();
    vu_msg_init(&out, VU_REQ_SET_VRING_CALL, 0, 8);
    out.fds[0] = p[1];
    out.fds[1] = p[1];
    out.fds[2] = p[0];
    out.nfds = 3;
    CU_ASSERT_EQUAL(vu_msg_send(sv[0], &out), 0);
    CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &in), 0);
    CU_ASSERT_EQUAL(count_open_fds(), before + 3);
    int fd = vu_msg_take_fd(&in, 1);
    CU_ASSERT(fd >= 0);
    CU_ASSERT_EQUAL(in.fds[1], -1);
    CU_ASSERT_EQUAL(vu_msg_take_fd(&in, 1), -1);
    CU_ASSERT_EQUAL(vu_msg_take_fd(&in, VU_MAX_FDS), -EINVAL);
    CU_ASSERT_EQUAL(vu_msg_take_fd(&in, -1), -EINVAL);
    vu_msg_close_fds(&in);
    CU_ASSERT_EQUAL(in.nfds, 0);
    /* The taken fd survives close_fds; the other two are gone. */
    CU_ASSERT_EQUAL(count_open_fds(), before + 1);
    CU_ASSERT(fcntl(fd, F_GETFD) >= 0);
    close(fd);
    vu_msg_close_fds(&in);  /* idempotent */
    CU_ASSERT_EQUAL(count_open_fds(), before);
    close(p[0]);
    close(p[1]);
    close_pair(sv);
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(vu_req_name(VU_REQ_VRING_KICK), "VRING_KICK");
    CU_ASSERT_STRING_EQUAL(vu_req_name(VU_REQ_GET_STATUS), "GET_STATUS");
    CU_ASSERT_STRING_EQUAL(vu_req_name(VU_REQ_MAX), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(vu_req_name(0xffffffffu), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(vu_breq_name(VU_BREQ_VRING_CALL),
                           "BACKEND_VRING_CALL");
    CU_ASSERT_STRING_EQUAL(vu_breq_name(VU_BREQ_MAX), "UNKNOWN");
    for (uint32_t r = 0; r < VU_REQ_MAX; r++) {
        CU_ASSERT_STRING_NOT_EQUAL(vu_req_name(r), "UNKNOWN");
    }
}


/* --- the buffered reader ------------------------------------------------ */

/* Three messages queued before the reader looks: one read takes them all,
 * each fd batch goes with the message it was sent with, and the third
 * message (with fds) is not merged into the read of the first two. */
static void test_reader_coalesced_with_fds(void)
{
    struct vu_msg_reader rd;
    struct vu_msg m;
    uint8_t b[32];
    uint64_t v;
    int sv[2], efd = eventfd(0, EFD_CLOEXEC), before;

    pair(sv);
    before = count_open_fds();
    for (uint32_t i = 0; i < 4; i++) {
        v = 100 + i;
        put_hdr(b, VU_REQ_SET_VRING_CALL, VU_VERSION, 8);
        memcpy(b + 12, &v, 8);
        /* fds with messages 1 and 3 (two of them with 3) */
        CU_ASSERT_EQUAL(send_raw(sv[0], b, 20, efd, i == 1 ? 1 :
                                 i == 3 ? 2 : 0), 20);
    }
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    vu_msg_reader_init(&rd);
    for (uint32_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL_FATAL(vu_msg_read(&rd, sv[1], &m), 0);
        CU_ASSERT_EQUAL(m.p.u64, 100 + i);
        CU_ASSERT_EQUAL(m.nfds, i == 1 ? 1 : i == 3 ? 2 : 0);
        vu_msg_close_fds(&m);
    }
    CU_ASSERT_EQUAL(vu_msg_read(&rd, sv[1], &m), -EAGAIN);
    CU_ASSERT_FALSE(vu_msg_reader_pending(&rd));
    CU_ASSERT_EQUAL(count_open_fds(), before);
    vu_msg_reader_fini(&rd);
    close(efd);
    close_pair(sv);
}

/* A message split over several writes, fds on a later piece: the reader
 * waits for the rest and attaches the fds to that message. */
static void test_reader_split_message(void)
{
    struct vu_msg_reader rd;
    struct vu_msg m;
    uint8_t b[20];
    uint64_t v = 0x1122334455667788ull;
    int sv[2], efd = eventfd(0, EFD_CLOEXEC);

    pair(sv);
    put_hdr(b, VU_REQ_SET_FEATURES, VU_VERSION, 8);
    memcpy(b + 12, &v, 8);
    CU_ASSERT_EQUAL(send_raw(sv[0], b, 5, -1, 0), 5);
    CU_ASSERT_EQUAL(send_raw(sv[0], b + 5, 10, efd, 1), 10);
    CU_ASSERT_EQUAL(send_raw(sv[0], b + 15, 5, -1, 0), 5);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    vu_msg_reader_init(&rd);
    CU_ASSERT_EQUAL_FATAL(vu_msg_read(&rd, sv[1], &m), 0);
    CU_ASSERT_EQUAL(m.hdr.request, VU_REQ_SET_FEATURES);
    CU_ASSERT_EQUAL(m.p.u64, v);
    CU_ASSERT_EQUAL(m.nfds, 1);
    vu_msg_close_fds(&m);
    vu_msg_reader_fini(&rd);
    close(efd);
    close_pair(sv);
}

/* A bad header is reported as soon as it is buffered; EOF inside a message
 * is malformed; EOF at a boundary is the peer leaving. */
static void test_reader_errors(void)
{
    struct vu_msg_reader rd;
    struct vu_msg m;
    uint8_t b[20];
    int sv[2];

    pair(sv);
    put_hdr(b, VU_REQ_GET_FEATURES, 0x2, 0);
    CU_ASSERT_EQUAL(send_raw(sv[0], b, 12, -1, 0), 12);
    vu_msg_reader_init(&rd);
    CU_ASSERT_EQUAL(vu_msg_read(&rd, sv[1], &m), -EBADMSG);
    vu_msg_reader_fini(&rd);
    close_pair(sv);

    pair(sv);
    put_hdr(b, VU_REQ_SET_FEATURES, VU_VERSION, 8);
    CU_ASSERT_EQUAL(send_raw(sv[0], b, 15, -1, 0), 15);
    shutdown(sv[0], SHUT_WR);
    vu_msg_reader_init(&rd);
    CU_ASSERT_EQUAL(vu_msg_read(&rd, sv[1], &m), -EBADMSG);
    vu_msg_reader_fini(&rd);
    close_pair(sv);

    pair(sv);
    shutdown(sv[0], SHUT_WR);
    vu_msg_reader_init(&rd);
    CU_ASSERT_EQUAL(vu_msg_read(&rd, sv[1], &m), -ENOTCONN);
    vu_msg_reader_fini(&rd);
    close_pair(sv);
}

/* On a blocking socket, nowait returns -EAGAIN at a message boundary
 * instead of blocking, yet reads both of two messages that came in one
 * write, the second from the buffer, and waits for a begun one. */
static void test_reader_nowait_blocking_socket(void)
{
    struct vu_msg_reader rd;
    struct vu_msg m;
    uint8_t b[40];
    int sv[2];

    pair(sv);
    vu_msg_reader_init(&rd);
    CU_ASSERT_EQUAL(vu_msg_read_nowait(&rd, sv[1], &m), -EAGAIN);
    for (uint32_t i = 0; i < 2; i++) {
        uint64_t v = 200 + i;

        put_hdr(b + 20 * i, VU_BREQ_VRING_CALL, VU_VERSION, 8);
        memcpy(b + 20 * i + 12, &v, 8);
    }
    CU_ASSERT_EQUAL(send_raw(sv[0], b, 40, -1, 0), 40);
    CU_ASSERT_EQUAL_FATAL(vu_msg_read_nowait(&rd, sv[1], &m), 0);
    CU_ASSERT_EQUAL(m.p.u64, 200);
    CU_ASSERT_TRUE(vu_msg_reader_pending(&rd));
    CU_ASSERT_EQUAL_FATAL(vu_msg_read_nowait(&rd, sv[1], &m), 0);
    CU_ASSERT_EQUAL(m.p.u64, 201);
    CU_ASSERT_FALSE(vu_msg_reader_pending(&rd));
    CU_ASSERT_EQUAL(vu_msg_read_nowait(&rd, sv[1], &m), -EAGAIN);
    /* A header alone: the rest is waited for, then the message is whole. */
    CU_ASSERT_EQUAL(send_raw(sv[0], b, 12, -1, 0), 12);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        _exit(send_raw(sv[0], b + 12, 8, -1, 0) == 8 ? 0 : 1);
    }
    CU_ASSERT_EQUAL_FATAL(vu_msg_read_nowait(&rd, sv[1], &m), 0);
    CU_ASSERT_EQUAL(m.p.u64, 200);
    waitpid(pid, NULL, 0);
    vu_msg_reader_fini(&rd);
    close_pair(sv);
}

/* A call fd that is a pipe (as UML sends) is made non-blocking, so writes
 * to one nobody reads end in EAGAIN instead of blocking vusim; an eventfd
 * is left as it is (the front-end shares its file description). */
static void test_notify_fd_init(void)
{
    int p[2], efd = eventfd(0, EFD_CLOEXEC), fl, n = 0;

    CU_ASSERT_FATAL(efd >= 0 && pipe2(p, O_CLOEXEC) == 0);
    fl = fcntl(efd, F_GETFL);
    CU_ASSERT_EQUAL(vu_notify_fd_init(efd), 1);
    CU_ASSERT_EQUAL(fcntl(efd, F_GETFL), fl);
    CU_ASSERT_FALSE(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    CU_ASSERT_EQUAL(vu_notify_fd_init(p[1]), 0);
    CU_ASSERT_TRUE(fcntl(p[1], F_GETFL) & O_NONBLOCK);
    while (eventfd_write(p[1], 1) == 0 && n < 1000000) {
        n++;                    /* 64 KiB of counts, then full */
    }
    CU_ASSERT_EQUAL(errno, EAGAIN);
    CU_ASSERT(n >= 8192 && n < 1000000);
    CU_ASSERT_EQUAL(vu_notify_write(p[1], VU_NOTIFY_FD_OTHER), 0); /* full */
    CU_ASSERT_EQUAL(vu_notify_fd_init(-1), 0);
    close(efd);
    close(p[0]);
    close(p[1]);
}

static bool sigpipe_pending(void)
{
    sigset_t s;

    return sigpending(&s) == 0 && sigismember(&s, SIGPIPE);
}

/* A front-end that closes the read end of the pipe or socket it passed as
 * a call fd: the write fails, and SIGPIPE (here at its default action,
 * which ends the process) is neither delivered nor left pending. */
static void test_notify_write_no_sigpipe(void)
{
    struct sigaction dfl = { .sa_handler = SIG_DFL }, saved;
    sigset_t none, mask, orig, pipe_set;
    int p[2], sv[2], efd = eventfd(0, EFD_CLOEXEC);
    eventfd_t v = 0;

    CU_ASSERT_FATAL(efd >= 0 && pipe2(p, O_CLOEXEC) == 0);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGPIPE, &dfl, &saved);
    sigemptyset(&none);
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &none, &orig);

    CU_ASSERT_EQUAL(vu_notify_fd_init(sv[0]), VU_NOTIFY_FD_SOCKET);
    CU_ASSERT_EQUAL(vu_notify_fd_init(p[1]), VU_NOTIFY_FD_OTHER);
    CU_ASSERT_EQUAL(vu_notify_fd_init(efd), VU_NOTIFY_FD_EVENTFD);
    CU_ASSERT_EQUAL(vu_notify_write(efd, VU_NOTIFY_FD_EVENTFD), 0);
    CU_ASSERT(eventfd_read(efd, &v) == 0 && v == 1);
    CU_ASSERT_EQUAL(vu_notify_write(p[1], VU_NOTIFY_FD_OTHER), 0);
    close(p[0]);
    close(sv[1]);
    CU_ASSERT_EQUAL(vu_notify_write(p[1], VU_NOTIFY_FD_OTHER), -EPIPE);
    CU_ASSERT_EQUAL(vu_notify_write(sv[0], VU_NOTIFY_FD_SOCKET), -EPIPE);
    CU_ASSERT_FALSE(sigpipe_pending());
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    CU_ASSERT_FALSE(sigismember(&mask, SIGPIPE));   /* the mask restored */

    /* A SIGPIPE the caller holds blocked and pending stays the caller's. */
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    raise(SIGPIPE);
    CU_ASSERT_EQUAL(vu_notify_write(p[1], VU_NOTIFY_FD_OTHER), -EPIPE);
    CU_ASSERT_TRUE(sigpipe_pending());
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    CU_ASSERT_TRUE(sigismember(&mask, SIGPIPE));
    {
        static const struct timespec now = { 0, 0 };

        CU_ASSERT_EQUAL(sigtimedwait(&pipe_set, NULL, &now), SIGPIPE);
    }
    pthread_sigmask(SIG_SETMASK, &orig, NULL);
    sigaction(SIGPIPE, &saved, NULL);
    close(p[1]);
    close(sv[0]);
    close(efd);
}

CU_TestInfo msg_tests[] = {
    { "notify_fd_init", test_notify_fd_init },
    { "notify_write_no_sigpipe", test_notify_write_no_sigpipe },
    { "roundtrip_no_fds", test_roundtrip_no_fds },
    { "roundtrip_empty_payload", test_roundtrip_empty_payload },
    { "roundtrip_fds", test_roundtrip_fds },
    { "max_payload_accepted", test_max_payload_accepted },
    { "reply_flag_accepted", test_reply_flag_accepted },
    { "partial_reads_from_child", test_partial_reads_from_child },
    { "partial_reads_fds_in_chunks", test_partial_reads_fds_in_chunks },
    { "malformed_table", test_malformed_table },
    { "too_many_fds_closed", test_too_many_fds_closed },
    { "nonblocking_boundary_eagain", test_nonblocking_boundary_eagain },
    { "send_bad_args", test_send_bad_args },
    { "send_peer_gone", test_send_peer_gone },
    { "init_version", test_init_version },
    { "take_and_close_fds", test_take_and_close_fds },
    { "names", test_names },
    { "reader_coalesced_with_fds", test_reader_coalesced_with_fds },
    { "reader_split_message", test_reader_split_message },
    { "reader_errors", test_reader_errors },
    { "reader_nowait_blocking_socket", test_reader_nowait_blocking_socket },
    CU_TEST_INFO_NULL,
};
