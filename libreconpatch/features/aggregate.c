/* PatchCore's patch features (patchcore.py _embed + common.py Preprocessing / MeanMapper /
 * Aggregator), computed without materialising the unfolded neighbourhoods.
 *
 * PatchCore unfolds each layer into patch_size^2 neighbourhoods (C * p * p values per patch),
 * bilinearly upsamples layer3's unfolded grid to layer2's, adaptive-average-pools each layer's
 * vector to 1024 values and the stacked pair to feature_dim. Every step is linear, and adaptive
 * pooling acts on the channel axis only while upsampling acts on the spatial axes only, so they
 * commute: we pool first (each pooled value is a mean of a few shifted channel planes), upsample
 * the 1024 pooled planes instead of C3 * 9 unfolded ones, then merge. docs/features.md.
 *
 * Work is split by blocks of RP__FEATURES_MERGE_BLOCK output features: a thread computes just
 * the stacked planes that the block's bins read (layer2 pooled, or layer3 pooled and upsampled),
 * then merges them, so the planes stay in its cache and no 2 x 1024-plane array is built. A
 * plane shared by two blocks (bins overlap when the sizes do not divide) is computed twice, the
 * same way both times. The loops themselves are in features/aggregate_kernels.c. */
#include "common/alloc.h"
#include "features/aggregate.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/bilinear.h"
#include "common/common.h"
#include "common/threads.h"
#include "features/aggregate_kernels.h"

/* Stacked planes [first, last) read by features [f0, f1). */
static void block_planes(uint32_t f0, uint32_t f1, uint64_t stacked, uint32_t feature_dim, uint64_t *first,
                         uint64_t *last)
{
    uint64_t unused;
    rp__features_adaptive_bin(f0, stacked, feature_dim, first, &unused);
    rp__features_adaptive_bin(f1 - 1, stacked, feature_dim, &unused, last);
}

int rp__features_aggregate(const float *layer2, uint32_t c2, uint32_t h2, const float *layer3, uint32_t c3,
                           uint32_t h3, uint32_t patch_size, uint32_t feature_dim, float *out)
{
    static const char fn[] = "rp__features_aggregate";
    if (!layer2 || !layer3 || !out) return rp__fail(RP_E_INVALID_ARG, "%s: NULL map or output", fn);
    if (!c2 || !c3 || !h2 || !h3 || !feature_dim)
        return rp__fail(RP_E_INVALID_ARG, "%s: zero size (c2 %u, h2 %u, c3 %u, h3 %u, feature_dim %u)", fn, c2, h2,
                        c3, h3, feature_dim);
    if (patch_size == 0 || patch_size % 2 == 0 || patch_size > 15)
        return rp__fail(RP_E_INVALID_ARG, "%s: patch_size %u must be odd and at most 15", fn, patch_size);
    if (c2 > (1u << 20) || c3 > (1u << 20) || h2 > 4096 || h3 > 4096 || feature_dim > (1u << 20))
        return rp__fail(RP_E_INVALID_ARG, "%s: sizes out of range (c2 %u, h2 %u, c3 %u, h3 %u, feature_dim %u)", fn,
                        c2, h2, c3, h3, feature_dim);

    const uint32_t bins = RP__FEATURES_PRETRAIN_DIM, block = RP__FEATURES_MERGE_BLOCK;
    const uint64_t npix2 = (uint64_t)h2 * h2, npix3 = (uint64_t)h3 * h3, stacked = 2 * (uint64_t)bins;
    const int64_t nblocks = (int64_t)((feature_dim + block - 1) / block);
    uint64_t max_planes = 0;
    for (int64_t b = 0; b < nblocks; b++) {
        const uint32_t f0 = (uint32_t)b * block, f1 = f0 + block < feature_dim ? f0 + block : feature_dim;
        uint64_t first, last;
        block_planes(f0, f1, stacked, feature_dim, &first, &last);
        if (last - first > max_planes) max_planes = last - first;
    }
    /* per thread: the block's planes (h2^2 each), one layer3 pooled plane and its x-interpolated
     * rows; shared: the bilinear taps */
    const int threads = rp__threads_team();
    const size_t per_thread = (size_t)(max_planes * npix2 + npix3 + (uint64_t)h3 * h2);
    float *scratch = rp__malloc((size_t)threads * per_thread * sizeof(float));
    uint32_t *lo = rp__malloc(2 * (size_t)h2 * sizeof(uint32_t));
    float *frac = rp__malloc((size_t)h2 * sizeof(float));
    if (!scratch || !lo || !frac) {
        free(scratch);
        free(lo);
        free(frac);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %d x %llu planes of %u x %u", fn, threads,
                        (unsigned long long)max_planes, h2, h2);
    }
    uint32_t *hi = lo + h2;
    for (uint32_t d = 0; d < h2; d++) rp__bilinear_tap(d, h3, h2, &lo[d], &hi[d], &frac[d]);

#pragma omp parallel num_threads(threads)
    {
        float *planes = scratch + (size_t)omp_get_thread_num() * per_thread;
        float *pooled3 = planes + max_planes * npix2, *rows = pooled3 + npix3;
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < nblocks; b++) {
            const uint32_t f0 = (uint32_t)b * block, f1 = f0 + block < feature_dim ? f0 + block : feature_dim;
            uint64_t first, last;
            block_planes(f0, f1, stacked, feature_dim, &first, &last);
            for (uint64_t j = first; j < last; j++) {
                float *plane = planes + (j - first) * npix2;
                uint64_t start, end;
                /* stacked exactly as Preprocessing's torch.stack(dim=1): layer2 bins, then layer3 */
                if (j < bins) {
                    rp__features_adaptive_bin(j, (uint64_t)c2 * patch_size * patch_size, bins, &start, &end);
                    rp__features_pool_bin(layer2, h2, patch_size, start, end, plane);
                } else {
                    rp__features_adaptive_bin(j - bins, (uint64_t)c3 * patch_size * patch_size, bins, &start, &end);
                    rp__features_pool_bin(layer3, h3, patch_size, start, end, pooled3);
                    rp__features_upsample_plane(pooled3, h3, h2, lo, hi, frac, rows, plane);
                }
            }
            rp__features_merge_block(planes, first, stacked, f0, f1, feature_dim, npix2, out);
        }
    }

    free(scratch);
    free(lo);
    free(frac);
    return RP_OK;
}
