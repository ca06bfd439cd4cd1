/* Reader for the named-array golden files written by write_golden() in tools/gen_metrics_goldens.py
 * (format described there; the scorer goldens use it too).
 * Test helper: aborts the test with a clear message when a file or array is missing. */
#ifndef RP_GOLDEN_H
#define RP_GOLDEN_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rp_golden {
    unsigned char *data;
    size_t size;
} rp_golden;

typedef struct rp_golden_array {
    char dtype;       /* 'f', 'd', 'B', 'i', 'Q' */
    uint32_t ndim;
    uint32_t dims[8];
    size_t count;     /* number of elements */
    const void *data; /* points into the loaded file (unaligned-safe copies are the caller's job) */
} rp_golden_array;

/* Load tests/data/<relpath> under RP_SOURCE_DIR. */
static inline rp_golden rp_golden_load(const char *relpath)
{
    const char *root = getenv("RP_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/%s", root ? root : ".", relpath);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "golden file %s is missing (regenerate it with the tools/ script)", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    rp_golden g = {malloc((size_t)size), (size_t)size};
    ck_assert(g.data != NULL);
    ck_assert_uint_eq(fread(g.data, 1, g.size, f), g.size);
    fclose(f);
    ck_assert_msg(g.size >= 12 && memcmp(g.data, "RPGOLDEN", 8) == 0, "%s is not a golden file", path);
    return g;
}

static inline void rp_golden_free(rp_golden *g)
{
    free(g->data);
    g->data = NULL;
}

static inline uint32_t rp_golden__u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline size_t rp_golden__dtype_size(char c)
{
    return c == 'B' ? 1 : (c == 'f' || c == 'i') ? 4 : 8;
}

/* Find an array by name; fails the test if absent. */
static inline rp_golden_array rp_golden_get(const rp_golden *g, const char *name)
{
    size_t off = 8;
    uint32_t n = rp_golden__u32(g->data + off);
    off += 4;
    for (uint32_t i = 0; i < n; i++) {
        rp_golden_array a;
        memset(&a, 0, sizeof a);
        uint32_t len = rp_golden__u32(g->data + off);
        off += 4;
        const char *nm = (const char *)g->data + off;
        off += len;
        a.dtype = (char)rp_golden__u32(g->data + off);
        a.ndim = rp_golden__u32(g->data + off + 4);
        off += 8;
        a.count = 1;
        for (uint32_t d = 0; d < a.ndim; d++) {
            a.dims[d] = rp_golden__u32(g->data + off);
            a.count *= a.dims[d];
            off += 4;
        }
        a.data = g->data + off;
        off += a.count * rp_golden__dtype_size(a.dtype);
        if (strlen(name) == len && memcmp(nm, name, len) == 0) return a;
    }
    ck_abort_msg("golden array '%s' not found", name);
    rp_golden_array none;
    memset(&none, 0, sizeof none);
    return none;
}

/* Copies (the file offsets are not aligned for the element types). */
static inline float *rp_golden_floats(const rp_golden *g, const char *name, size_t *count_out)
{
    rp_golden_array a = rp_golden_get(g, name);
    ck_assert_msg(a.dtype == 'f', "golden array '%s' is not float32", name);
    float *out = malloc(a.count * sizeof *out + 1);
    memcpy(out, a.data, a.count * sizeof *out);
    if (count_out) *count_out = a.count;
    return out;
}

static inline uint8_t *rp_golden_bytes(const rp_golden *g, const char *name, size_t *count_out)
{
    rp_golden_array a = rp_golden_get(g, name);
    ck_assert_msg(a.dtype == 'B', "golden array '%s' is not uint8", name);
    uint8_t *out = malloc(a.count + 1);
    memcpy(out, a.data, a.count);
    if (count_out) *count_out = a.count;
    return out;
}

static inline double rp_golden_double(const rp_golden *g, const char *name)
{
    rp_golden_array a = rp_golden_get(g, name);
    ck_assert_msg(a.dtype == 'd' && a.count == 1, "golden array '%s' is not one float64", name);
    double v;
    memcpy(&v, a.data, sizeof v);
    return v;
}

static inline uint64_t rp_golden_u64(const rp_golden *g, const char *name)
{
    rp_golden_array a = rp_golden_get(g, name);
    ck_assert_msg(a.dtype == 'Q' && a.count == 1, "golden array '%s' is not one uint64", name);
    uint64_t v;
    memcpy(&v, a.data, sizeof v);
    return v;
}

#endif
