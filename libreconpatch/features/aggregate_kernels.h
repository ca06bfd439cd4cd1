/* The three loops of the patch aggregation (features/aggregate.c): pool one bin of unfolded
 * neighbourhoods into a plane, upsample one plane bilinearly, merge stacked planes into
 * patch-major features. Each has AVX-512 and AVX2 + FMA versions picked at run time
 * (common/cpu.c) and a portable one; all perform every output value's operations in the same
 * order, so their results are identical. */
#ifndef RP_FEATURES_AGGREGATE_KERNELS_H
#define RP_FEATURES_AGGREGATE_KERNELS_H

#include <stdint.h>

#include "common/common.h"

/* Bin i of adaptive_avg_pool1d from in_len to out_len values covers [start, end): ATen's
 * start_index / end_index, i.e. floor(i * in / out) and ceil((i + 1) * in / out). */
static inline void rp__features_adaptive_bin(uint64_t i, uint64_t in_len, uint64_t out_len, uint64_t *start,
                                             uint64_t *end)
{
    *start = (i * in_len) / out_len;
    *end = ((i + 1) * in_len + out_len - 1) / out_len;
}

/* MeanMapper on the unfolded map (channels x h x h, patch p, zero padding (p - 1) / 2): out (h x h)
 * = mean of the unfolded values [start, end) at every position, i.e. 0 + the values in
 * ascending order, times 1 / (end - start). Unfolded value j is channel j / p^2 shifted by
 * ((j % p^2) / p - pad, (j % p^2) % p - pad), the (C, p, p) order of torch.nn.Unfold. */
void rp__features_pool_bin(const float *map, uint32_t h, uint32_t p, uint64_t start, uint64_t end, float *out);

/* One h_in x h_in plane to h_out x h_out, with the taps of rp__bilinear_tap (common/bilinear.h): wy0 * (wx0 * r0[lo] + wx1 * r0[hi]) + wy1 * (same on
 * r1), computed as rows = each source row interpolated along x (h_in x h_out scratch), then
 * rows combined along y: the same operations as the one-line formula. */
void rp__features_upsample_plane(const float *in, uint32_t h_in, uint32_t h_out, const uint32_t *lo,
                                 const uint32_t *hi, const float *frac, float *rows, float *out);

/* Features per merge block (the merge transposes 16 features x 16 patches at a time). */
#define RP__FEATURES_MERGE_BLOCK 16u

/* Aggregator for features [f0, f1), f1 - f0 <= RP__FEATURES_MERGE_BLOCK:
 * out[p * feature_dim + f] = (0 + the planes of bin f at patch p, ascending) * 1 / (bin size),
 * bins of `stacked` planes into feature_dim; planes holds the npix values of each stacked plane
 * from first_plane on. */
void rp__features_merge_block(const float *planes, uint64_t first_plane, uint64_t stacked, uint32_t f0,
                              uint32_t f1, uint32_t feature_dim, uint64_t npix, float *out);

/* Largest map side the vector pool_bin loops take (their accumulator plane lives on the stack);
 * rp__features_pool_bin sends larger maps to the portable loop. */
#define RP__FEATURES_POOL_MAX_SIDE 32u

/* One instruction set's versions of the three calls above (pool_bin: h <= RP__FEATURES_POOL_MAX_SIDE). */
typedef struct {
    void (*pool_bin)(const float *map, uint32_t h, uint32_t p, uint64_t start, uint64_t end, float *out);
    void (*upsample_plane)(const float *in, uint32_t h_in, uint32_t h_out, const uint32_t *lo, const uint32_t *hi,
                           const float *frac, float *rows, float *out);
    void (*merge_block)(const float *planes, uint64_t first_plane, uint64_t stacked, uint32_t f0, uint32_t f1,
                        uint32_t feature_dim, uint64_t npix, float *out);
} rp__features_kernel_set;

/* The set of one instruction set, or NULL when this CPU cannot run it or the build has none: the
 * tests feed every available set the same input and compare the outputs bit for bit. */
const rp__features_kernel_set *rp__features_kernels_for(rp__isa isa);

#endif
