/* SPDX-License-Identifier: MIT */
/*
 * tests/sockfd - run a command with a listening Unix socket on fd 3, as a
 * management layer starts a vhost-user back-end with --fd=FDNUM.
 *
 *   sockfd PATH CMD [ARGS...]
 *
 * Binds PATH (removing an old socket there), listens, puts the socket on
 * fd 3 and execs CMD. Exit status 1 (and a line on stderr) if any of that
 * fails.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (argc < 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: sockfd PATH CMD [ARGS...]\n");
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    unlink(argv[1]);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 4) < 0) {
        fprintf(stderr, "sockfd: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) < 0)) {
        fprintf(stderr, "sockfd: dup2: %s\n", strerror(errno));
        return 1;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "sockfd: %s: %s\n", argv[2], strerror(errno));
    return 1;
}
