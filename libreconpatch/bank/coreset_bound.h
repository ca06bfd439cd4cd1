/* A cheap lower bound on the distance between two projected points, for pruning in the greedy
 * coreset: each point gets a 16-float "sketch" (its coordinates on up to 15 orthonormal
 * directions, then the norm of what those directions leave out), and
 *     |sketch_a - sketch_b| <= |a - b|   exactly (Pythagoras plus the reverse triangle inequality).
 * Reading 64 bytes instead of a whole row decides most "can this point get closer?" questions.
 * The directions are the leading principal directions of a sample of the points, so the bound is
 * tight on real, strongly correlated features; any orthonormal directions would keep it valid. */
#ifndef RP_BANK_CORESET_BOUND_H
#define RP_BANK_CORESET_BOUND_H

#include <math.h>
#include <stdint.h>

#include "bank/coreset_points.h"

#define RP__CORESET_SKETCH 16u

/* sketches_out: n x RP__CORESET_SKETCH floats, row p for point p. Returns RP_OK or RP_E_NOMEM
 * (message prefixed with fn). */
int rp__coreset_sketches(const rp__coreset_points *points, int threads, const char *fn, float *sketches_out);

/* Squared sketch distance in float. */
static inline float rp__coreset_sketch_d2(const float *a, const float *b)
{
    float acc = 0.0f;
    for (uint32_t i = 0; i < RP__CORESET_SKETCH; i++) {
        const float d = a[i] - b[i];
        acc += d * d;
    }
    return acc;
}

/* A safe lower bound on the exact distance from a float sketch d^2 (any summation order): covers
 * the rounding of the sketches (stored as floats) and of the sum. scale: sqrt of the largest
 * squared norm among the points. */
static inline double rp__coreset_sketch_below(float sketch_d2, double scale)
{
    return sqrt((double)sketch_d2) * (1.0 - 1e-5) - 1e-6 * scale;
}

/* The member filter. A point p with current distance d cannot get closer to the new pick s when
 * the exact |p - s| >= sqrt(d^2 (1 + 1e-6) + e) (coreset.c: exact_above). That holds when
 * rp__coreset_sketch_below(...) > d (1 + 1e-6) + sqrt(e), i.e. when the sketch d^2 is above
 * (alpha d + beta)^2 with alpha = (1 + 1e-6) / (1 - 1e-5) and beta = (sqrt(e) + 1e-6 scale) /
 * (1 - 1e-5); the float evaluation is rounded up by (1 + 1e-6).
 * Writes the positions i < count of idx / dist that the sketches cannot rule out to pos_out and
 * returns how many. sketches: 64-byte aligned rows of RP__CORESET_SKETCH floats. */
typedef uint32_t (*rp__coreset_filter_fn)(const float *sketches, const uint32_t *idx, const float *dist,
                                          uint32_t count, const float *s_sketch, float alpha, float beta,
                                          uint32_t *pos_out);
rp__coreset_filter_fn rp__coreset_filter_kernel(void);

/* The centre scan: sketches of k centres in blocks of 16 ([block][sketch dim][lane]); writes the
 * centres j whose sketch d^2 to s_sketch is NOT above skip[j] to out, returns how many. */
typedef uint32_t (*rp__coreset_scan_fn)(const float *blocks, const float *skip, uint64_t k, const float *s_sketch,
                                        uint32_t *out);
rp__coreset_scan_fn rp__coreset_scan_kernel(void);

#endif
