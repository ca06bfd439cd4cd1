/* Helpers for the weights suites: fixture paths and lookups in tests/data/weights/expected.txt
 * (written by tools/gen_weight_fixtures.py with numpy, independently of the C loaders). */
#ifndef WEIGHTS_TEST_UTIL_H
#define WEIGHTS_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "backbone/weights.h"
#include "rp_test.h"

static inline const char *fixture(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/tests/data/weights/%s", rp_test_source_dir(), name);
    return buf;
}

/* Finds the line "<key1> <key2> <rest>" and copies <rest> (first token) into out. */
static inline int expected_lookup(const char *key1, const char *key2, char *out, size_t n)
{
    char path[1024], line[512];
    FILE *f = fopen(fixture(path, sizeof path, "expected.txt"), "r");
    if (!f) return -1;
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        char a[256], b[256], c[256];
        if (sscanf(line, "%255s %255s %255s", a, b, c) == 3 && strcmp(a, key1) == 0 && strcmp(b, key2) == 0) {
            size_t len = strlen(c) < n - 1 ? strlen(c) : n - 1;
            memcpy(out, c, len);
            out[len] = '\0';
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* Visits every "<file> <tensor> <index> <value>" line for file. */
typedef void (*expected_value_fn)(const char *tensor, long index, double value, void *user);
static inline int expected_values(const char *file, expected_value_fn fn, void *user)
{
    char path[1024], line[512];
    FILE *f = fopen(fixture(path, sizeof path, "expected.txt"), "r");
    if (!f) return -1;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char a[256], b[256];
        long idx;
        double v;
        if (sscanf(line, "%255s %255s %ld %lf", a, b, &idx, &v) == 4 && strcmp(a, file) == 0) {
            fn(b, idx, v, user);
            n++;
        }
    }
    fclose(f);
    return n;
}

static inline int shapes_equal(const rp__tensor *a, const rp__tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

#endif
