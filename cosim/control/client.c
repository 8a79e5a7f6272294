/* SPDX-License-Identifier: MIT */
/*
 * `vusim ctl PATH COMMAND [JSON-ARGS]`: negotiate, send one command, print
 * every line received (events, then the reply) as JSON lines; exit 0 on a
 * return, 1 on an error reply or a lost connection, 2 on bad usage.
 * `vusim ctl PATH --raw` sends standard input's lines as they are (no
 * negotiation) and prints everything until the server closes: for tests
 * of bad input.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cosim/control/control.h"

#define PROG "vusim ctl"
#define CTL_TIMEOUT_MS 30000        /* a loaded machine, ASan */

struct conn {
    int fd;
    char buf[1 << 16];
    size_t len;
};

static int usage(FILE *f, int rc)
{
    fprintf(f, "Usage: vusim ctl PATH COMMAND [JSON-ARGS]\n"
            "       vusim ctl PATH --raw\n\n"
            "Send one command to vusim's control socket (--control=PATH) and "
            "print the\nevents and the reply as JSON lines. Exit status: 0 a "
            "return, 1 an error\nor a lost connection, 2 bad usage. See "
            "vusim(1), CONTROL.\n");
    return rc;
}

static int conn_open(struct conn *c, const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, PROG ": %s: path too long\n", path);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    c->len = 0;
    return 0;
}

/* The next line (NUL-terminated in place, valid until the next call), or
 * NULL at EOF, error or timeout. */
static char *conn_line(struct conn *c, size_t *consumed)
{
    for (;;) {
        char *nl = memchr(c->buf + *consumed, '\n', c->len - *consumed);
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        ssize_t n;

        if (nl) {
            char *line = c->buf + *consumed;

            *nl = '\0';
            *consumed = (size_t)(nl - c->buf) + 1;
            return line;
        }
        memmove(c->buf, c->buf + *consumed, c->len - *consumed);
        c->len -= *consumed;
        *consumed = 0;
        if (c->len == sizeof(c->buf) ||
            poll(&p, 1, CTL_TIMEOUT_MS) <= 0) {
            return NULL;
        }
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (n <= 0) {
            return NULL;
        }
        c->len += (size_t)n;
    }
}

static int send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_cmd(struct conn *c, const char *name, json_t *args, int id)
{
    json_t *o = json_pack("{s:s,s:i}", "execute", name, "id", id);
    char *s;
    int rc;

    if (args) {
        json_object_set(o, "arguments", args);
    }
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    rc = s ? send_all(c->fd, s, strlen(s)) : -1;
    if (rc == 0) {
        rc = send_all(c->fd, "\n", 1);
    }
    free(s);
    return rc;
}

/* Print lines until the reply with @id; 0 a return, 1 an error. */
static int await_reply(struct conn *c, size_t *consumed, int id, bool print)
{
    char *line;

    while ((line = conn_line(c, consumed)) != NULL) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *rid = o ? json_object_get(o, "id") : NULL;
        bool mine = rid && json_integer_value(rid) == id;
        int rc = o && json_object_get(o, "return") ? 0 : 1;

        if (print || (mine && rc)) {
            printf("%s\n", line);
            fflush(stdout);
        }
        json_decref(o);
        if (mine) {
            return rc;
        }
    }
    fprintf(stderr, PROG ": the connection closed or timed out\n");
    return 1;
}

static int raw_main(struct conn *c)
{
    char line[1 << 16];
    size_t consumed = 0;
    char *in;

    while (fgets(line, sizeof(line), stdin)) {
        if (send_all(c->fd, line, strlen(line)) < 0) {
            break;
        }
    }
    shutdown(c->fd, SHUT_WR);
    while ((in = conn_line(c, &consumed)) != NULL) {
        printf("%s\n", in);
    }
    return 0;
}

int vu_control_client_main(int argc, char **argv)
{
    struct conn c;
    json_t *args = NULL;
    size_t consumed = 0;
    int rc;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        return usage(stdout, 0);
    }
    if (argc < 3 || argc > 4) {
        return usage(stderr, 2);
    }
    if (argc == 4 && !(args = json_loads(argv[3], 0, NULL))) {
        fprintf(stderr, PROG ": %s: not JSON\n", argv[3]);
        return 2;
    }
    if (conn_open(&c, argv[1]) < 0) {
        json_decref(args);
        return 1;
    }
    if (!strcmp(argv[2], "--raw")) {
        rc = raw_main(&c);
    } else if (!conn_line(&c, &consumed) ||
               send_cmd(&c, "qmp_capabilities", NULL, 0) < 0 ||
               await_reply(&c, &consumed, 0, false) != 0 ||
               send_cmd(&c, argv[2], args, 1) < 0) {
        fprintf(stderr, PROG ": %s: no QMP session\n", argv[1]);
        rc = 1;
    } else {
        rc = await_reply(&c, &consumed, 1, true);
    }
    json_decref(args);
    close(c.fd);
    return rc;
}
