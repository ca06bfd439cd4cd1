/* Helpers for the backbone suites: the golden file reader (format in tools/gen_backbone_goldens.py)
 * and the splitmix64 inputs the generator also uses, so no input needs a file. */
#ifndef RP_BACKBONE_GOLDEN_H
#define RP_BACKBONE_GOLDEN_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BB_INPUT_SEED 1234u

typedef struct bb_golden {
    unsigned char *data;
    size_t size;
} bb_golden;

typedef struct bb_array {
    char dtype; /* 'f', 'd', 'i' */
    uint32_t ndim, dims[8];
    size_t count;
    const unsigned char *data;
} bb_array;

static inline uint32_t bb_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* tests/data/backbone/<name> under RP_SOURCE_DIR; fails the test when missing. */
static inline bb_golden bb_golden_load(const char *name)
{
    const char *root = getenv("RP_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/backbone/%s", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "golden %s missing: run /usr/bin/python3 tools/gen_backbone_goldens.py", path);
    fseek(f, 0, SEEK_END);
    bb_golden g = {NULL, (size_t)ftell(f)};
    fseek(f, 0, SEEK_SET);
    g.data = malloc(g.size);
    ck_assert(g.data != NULL);
    ck_assert_uint_eq(fread(g.data, 1, g.size, f), g.size);
    fclose(f);
    ck_assert_msg(g.size > 12 && memcmp(g.data, "RPGOLDEN", 8) == 0, "%s is not a golden file", path);
    return g;
}

static inline bb_array bb_get(const bb_golden *g, const char *name)
{
    size_t off = 12;
    for (uint32_t i = 0, n = bb_u32(g->data + 8); i < n; i++) {
        bb_array a;
        memset(&a, 0, sizeof a);
        uint32_t len = bb_u32(g->data + off);
        const char *nm = (const char *)g->data + off + 4;
        off += 4 + len;
        a.dtype = (char)bb_u32(g->data + off);
        a.ndim = bb_u32(g->data + off + 4);
        off += 8;
        a.count = 1;
        for (uint32_t d = 0; d < a.ndim; d++, off += 4) a.count *= (a.dims[d] = bb_u32(g->data + off));
        a.data = g->data + off;
        off += a.count * (a.dtype == 'd' ? 8 : 4);
        if (len == strlen(name) && memcmp(nm, name, len) == 0) return a;
    }
    ck_abort_msg("golden array '%s' missing", name);
    bb_array none = {0};
    return none;
}

/* Element i as double, whatever the stored type. */
static inline double bb_at(const bb_array *a, size_t i)
{
    if (a->dtype == 'f') {
        float v;
        memcpy(&v, a->data + 4 * i, 4);
        return v;
    }
    if (a->dtype == 'i') {
        int32_t v;
        memcpy(&v, a->data + 4 * i, 4);
        return v;
    }
    double v;
    memcpy(&v, a->data + 8 * i, 8);
    return v;
}

/* splitmix64 uniform floats in [lo, hi), float32 maths: the generator's random_input(). */
static inline void bb_random_input(uint64_t seed, size_t n, float lo, float hi, float *out)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * (1.0f / 16777216.0f);
        out[i] = lo + (hi - lo) * u;
    }
}

#endif
