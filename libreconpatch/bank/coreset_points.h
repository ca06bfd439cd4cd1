/* The projected points the greedy coreset works on, and the one distance formula every part of
 * it uses (the fast selection in coreset.c and the tests' plain reference loop,
 * tests/unit/bank/coreset_reference.c, share these functions, so both see bit-identical
 * distances). docs/memory-bank.md. */
#ifndef RP_BANK_CORESET_POINTS_H
#define RP_BANK_CORESET_POINTS_H

#include <stdint.h>

typedef struct {
    uint64_t n;
    uint32_t pd;       /* projected dimension */
    const float *y;    /* n x pd, row-major: the projection, or the input itself when dim == pd */
    float *norm;       /* n: |y_p|^2 in float, summed in dimension order */
    float *owned;      /* what to free: y when we projected, NULL when y is the caller's input */
} rp__coreset_points;

/* Project n x dim vectors to pd dims (skipped when dim == pd) and compute the norms.
 * Returns RP_OK, RP_E_NOMEM or RP_E_BACKEND (message prefixed with fn). */
int rp__coreset_points_build(const float *vectors, uint64_t n, uint32_t dim, uint32_t pd, uint64_t seed,
                             const char *fn, rp__coreset_points *out);

/* Called after rows [first, first + count) of the input were read, so that input held in a
 * file mapping (a spilled feature store) can give its pages back. */
typedef struct rp__coreset_release {
    void (*fn)(void *ctx, uint64_t first, uint64_t count);
    void *ctx;
} rp__coreset_release;

/* The same, for input that must be read once in order and let go: the rows are always copied
 * (or projected) into memory of the points' own, and release (may be NULL: plain build) is told
 * after each block. */
int rp__coreset_points_build_released(const float *vectors, uint64_t n, uint32_t dim, uint32_t pd, uint64_t seed,
                                      const rp__coreset_release *release, const char *fn, rp__coreset_points *out);
void rp__coreset_points_free(rp__coreset_points *points);

/* PatchCore's starting distances: out[p] = mean over the start points of |p - start|
 * (the start points themselves are not selected). */
void rp__coreset_start_distances(const rp__coreset_points *points, const uint64_t *starts, uint32_t nstart,
                                 float *out);

/* out[i] = PatchCore's distance sqrt(max(-2 a.c + |a|^2 + |c|^2, 0)) between row idx[i] of rows
 * (pd floats each, norms[idx[i]] its squared norm) and centre c (squared norm cn). The result for
 * a pair depends only on the two rows, never on idx order, count or thread. */
typedef void (*rp__coreset_distance_fn)(const float *rows, const float *norms, uint32_t pd, const uint32_t *idx,
                                        uint32_t count, const float *c, float cn, float *out);

/* The kernel for this CPU (AVX-512 when available, portable C otherwise), chosen once per
 * selection so the fast path and the reference agree. */
rp__coreset_distance_fn rp__coreset_distance_kernel(void);

/* Every distance kernel this CPU can run, whatever the RP_DISABLE_* switches say (at most 3:
 * "portable", "avx2", "avx512"), for the test that checks they agree bit for bit. */
uint32_t rp__coreset_distance_kernels(rp__coreset_distance_fn *out, const char **names);

/* The instruction set the coreset's kernels (distance, sketch filter, centre scan) use in this
 * process: "avx512", "avx2+fma" or "portable". */
const char *rp__coreset_kernel_isa(void);

/* A bound on |computed d^2 - exact d^2| for any pair of these points (see coreset.c): the
 * rounding of the dot product, of the norms and of the formula, for the largest norm present. */
double rp__coreset_distance_error_bound(const rp__coreset_points *points);

#endif
