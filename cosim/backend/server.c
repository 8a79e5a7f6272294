/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "cosim/backend/server.h"
#include "sim/log.h"
#include "sim/sock.h"

#define SS "server"

struct vu_server {
    struct vu_loop *loop;
    struct vu_backend *be;
    int lfd;                  /* listening socket, -1 for a connected fd */
    struct event *lev;
    struct event *retry;      /* accept failed: look again later */
    bool failing;             /* the failure is logged */
    char *path;               /* unlinked on free; NULL for inherited fds */
    bool oneshot;
};

static void srv_on_close(struct vu_backend *be, void *opaque)
{
    struct vu_server *srv = opaque;

    (void)be;
    if (srv->oneshot || srv->lfd < 0) {
        vu_loop_stop(srv->loop);
        return;
    }
    event_add(srv->lev, NULL);     /* accept the next front-end */
}

/* A listener that cannot accept (out of fds or memory) stays readable:
 * watched, it would call us on every turn, spinning a CPU and flooding
 * the log. Look again every VU_SRV_RETRY_MS instead, and log the episode
 * once; the front-end waits in the backlog meanwhile. */
#define VU_SRV_RETRY_MS 100

static void srv_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vu_server *srv = arg;

    (void)fd;
    (void)what;
    event_add(srv->lev, NULL);
}

static void srv_accept_failed(struct vu_server *srv, int err)
{
    static const struct timeval later = { 0, VU_SRV_RETRY_MS * 1000 };

    if (!srv->failing) {
        VUSIM_WARN(SS, "accept failed: %s; trying again every %d ms",
                   strerror(err), VU_SRV_RETRY_MS);
        srv->failing = true;
    }
    event_del(srv->lev);
    evtimer_add(srv->retry, &later);
}

static void srv_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct vu_server *srv = arg;
    int c;

    (void)what;
    c = accept4((int)fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            srv_accept_failed(srv, errno);
        }
        return;
    }
    if (srv->failing) {
        VUSIM_INFO(SS, "accepting again");
        srv->failing = false;
    }
    if (vu_backend_attach(srv->be, c) < 0) {
        close(c);
        return;
    }
    event_del(srv->lev);           /* one front-end at a time */
}

static struct vu_server *srv_new(struct vu_loop *loop, struct vu_backend *be)
{
    struct vu_server *srv = calloc(1, sizeof(*srv));

    if (srv) {
        srv->loop = loop;
        srv->be = be;
        srv->lfd = -1;
        vu_backend_set_on_close(be, srv_on_close, srv);
    }
    return srv;
}

static int srv_watch(struct vu_server *srv)
{
    srv->lev = event_new(vu_loop_base(srv->loop), srv->lfd,
                         EV_READ | EV_PERSIST, srv_accept_cb, srv);
    srv->retry = evtimer_new(vu_loop_base(srv->loop), srv_retry_cb, srv);
    if (!srv->lev || !srv->retry || event_add(srv->lev, NULL) < 0) {
        return -ENOMEM;
    }
    return 0;
}

int vu_server_listen(struct vu_loop *loop, struct vu_backend *be,
                     const char *path, struct vu_server **out)
{
    struct vu_server *srv = srv_new(loop, be);
    int rc;

    if (!srv) {
        return -ENOMEM;
    }
    rc = vusim_unix_listen(path, 8);
    if (rc < 0) {
        free(srv);
        return rc;
    }
    srv->lfd = rc;
    srv->path = strdup(path);
    rc = srv->path ? srv_watch(srv) : -ENOMEM;
    if (rc < 0) {
        vu_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int vu_server_adopt(struct vu_loop *loop, struct vu_backend *be, int fd,
                    struct vu_server **out)
{
    struct vu_server *srv;
    int listening = 0, rc;
    socklen_t len = sizeof(listening);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
        return -errno == -ENOTSOCK ? -EINVAL : -errno;
    }
    srv = srv_new(loop, be);
    if (!srv) {
        return -ENOMEM;
    }
    if (listening) {
        srv->lfd = fd;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        rc = srv_watch(srv);
    } else {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        rc = vu_backend_attach(be, fd);
    }
    if (rc < 0) {
        vu_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

void vu_server_set_oneshot(struct vu_server *srv, bool oneshot)
{
    srv->oneshot = oneshot;
}

void vu_server_free(struct vu_server *srv)
{
    if (!srv) {
        return;
    }
    vu_backend_set_on_close(srv->be, NULL, NULL);
    if (srv->retry) {
        event_free(srv->retry);
    }
    if (srv->lev) {
        event_free(srv->lev);
    }
    if (srv->lfd >= 0) {
        close(srv->lfd);
    }
    if (srv->path) {
        unlink(srv->path);
        free(srv->path);
    }
    free(srv);
}
