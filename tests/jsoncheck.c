/* SPDX-License-Identifier: MIT */
/*
 * tests/jsoncheck - a JSON checker for the shell tests, so they need
 * neither python3 nor jq on a fresh machine (jansson is a build
 * dependency already).
 *
 *   jsoncheck FILE                  is FILE ("-": stdin) one JSON value?
 *   jsoncheck FILE PATH             ... and print the value at PATH
 *   jsoncheck FILE PATH EXPECTED    ... and is it EXPECTED?
 *
 * PATH is dot-separated: object keys, or array indexes ("backend.queues.0
 * .requests"). A string prints bare, anything else as compact JSON.
 * Exit status: 0 yes, 1 no (with one line on stderr saying why), 2 usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static json_t *walk(json_t *v, const char *path)
{
    char *copy = strdup(path), *save = NULL;

    for (char *k = strtok_r(copy, ".", &save); k && v;
         k = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(k, &end, 10);

            v = *end ? NULL : json_array_get(v, i);
        } else {
            v = json_object_get(v, k);  /* NULL if not an object */
        }
    }
    free(copy);
    return v;
}

static char *render(json_t *v)
{
    if (json_is_string(v)) {
        return strdup(json_string_value(v));
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

int main(int argc, char **argv)
{
    json_error_t err;
    json_t *root, *v;
    char *text;
    int rc = 0;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: jsoncheck FILE [PATH [EXPECTED]]\n");
        return 2;
    }
    root = strcmp(argv[1], "-") == 0
         ? json_loadf(stdin, JSON_DECODE_ANY, &err)
         : json_load_file(argv[1], JSON_DECODE_ANY, &err);
    if (!root) {
        fprintf(stderr, "jsoncheck: %s: line %d: %s\n", argv[1], err.line,
                err.text);
        return 1;
    }
    if (argc >= 3) {
        v = walk(root, argv[2]);
        text = v ? render(v) : NULL;
        if (!text) {
            fprintf(stderr, "jsoncheck: %s: no %s\n", argv[1], argv[2]);
            rc = 1;
        } else if (argc == 4 && strcmp(text, argv[3]) != 0) {
            fprintf(stderr, "jsoncheck: %s: %s is %s, expected %s\n",
                    argv[1], argv[2], text, argv[3]);
            rc = 1;
        } else {
            printf("%s\n", text);
        }
        free(text);
    }
    json_decref(root);
    return rc;
}
