/* SPDX-License-Identifier: MIT */
/*
 * tests/support/tmpfile.h - files for the tests: a fresh temporary path,
 * a whole file read into memory, a file replaced by bytes in memory.
 */
#ifndef VUSIM_TESTS_SUPPORT_TMPFILE_H
#define VUSIM_TESTS_SUPPORT_TMPFILE_H

#include <stddef.h>
#include <stdint.h>

/* A new empty file /tmp/vusim-@tag-test-XXXXXX; the caller unlinks and
 * frees the name. NULL if none could be made. */
char *ut_tmp_path(const char *tag);

/* The whole of @path, malloc'ed, its size in *@len; NULL if it cannot be
 * read. */
uint8_t *ut_slurp(const char *path, size_t *len);

/* Replace @path with the @len bytes at @buf: 0, or -1. */
int ut_put(const char *path, const void *buf, size_t len);

#endif
