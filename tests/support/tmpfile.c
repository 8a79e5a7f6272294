/* SPDX-License-Identifier: MIT */
/* Files for the tests (tmpfile.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/tmpfile.h"

char *ut_tmp_path(const char *tag)
{
    size_t n = strlen(tag) + sizeof("/tmp/vusim--test-XXXXXX");
    char *p = malloc(n);
    int fd = -1;

    if (p) {
        snprintf(p, n, "/tmp/vusim-%s-test-XXXXXX", tag);
        fd = mkstemp(p);
    }
    if (fd < 0) {
        free(p);
        return NULL;
    }
    close(fd);
    return p;
}

uint8_t *ut_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n >= 0) {
        buf = malloc(n > 0 ? (size_t)n : 1);
    }
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

int ut_put(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int rc;

    if (!f) {
        return -1;
    }
    rc = fwrite(buf, 1, len, f) == len ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}
