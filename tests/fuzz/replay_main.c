/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/replay_main.c - run a fuzz target over files, without libFuzzer
 *
 * Usage: fuzz-TARGET-replay FILE|DIR...  Every regular file (directories
 * one level deep) is one input. Prints "replayed N inputs" and exits 0; a
 * bug aborts (or, in the sanitizer build, is reported) like in libFuzzer.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) < 0 ||
        !(buf = malloc((size_t)len + 1)) ||
        fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: cannot read\n", path);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

static int run_path(const char *path, unsigned *n)
{
    struct dirent **ents;
    struct stat st;
    char sub[4096];
    int k, rc = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*n)++;
        return run_file(path);
    }
    /* Sorted, so a run is the same sequence every time. */
    k = scandir(path, &ents, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", path, ents[i]->d_name);
        if (ents[i]->d_name[0] != '.' && stat(sub, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            (*n)++;
            rc |= run_file(sub);
        }
        free(ents[i]);
    }
    free(k >= 0 ? ents : NULL);
    return k < 0 ? -1 : rc;
}

int main(int argc, char **argv)
{
    unsigned n = 0;
    int rc = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        rc |= run_path(argv[i], &n);
    }
    printf("replayed %u inputs\n", n);
    return rc ? 1 : 0;
}
