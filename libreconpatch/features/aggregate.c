/* PatchCore's patch features (patchcore.py _embed + common.py Preprocessing / MeanMapper /
 * Aggregator), computed without materialising the unfolded neighbourhoods.
 *
 * PatchCore unfolds each layer into patch_size^2 neighbourhoods (C * p * p values per patch),
 * bilinearly upsamples layer3's unfolded grid to layer2's, adaptive-average-pools each layer's
 * vector to 1024 values and the stacked pair to feature_dim. Every step is linear, and adaptive
 * pooling acts on the channel axis only while upsampling acts on the spatial axes only, so they
 * commute: we pool first (each pooled value is a mean of a few shifted channel planes), upsample
 * the 1024 pooled planes instead of C3 * 9 unfolded ones, then merge. docs/features.md. */
#include "features/aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

/* Bin i of adaptive_avg_pool1d from in_len to out_len values covers [start, end): ATen's
 * start_index / end_index, i.e. floor(i * in / out) and ceil((i + 1) * in / out). */
static void adaptive_bin(uint64_t i, uint64_t in_len, uint64_t out_len, uint64_t *start, uint64_t *end)
{
    *start = (i * in_len) / out_len;
    *end = ((i + 1) * in_len + out_len - 1) / out_len;
}

/* dst[y][x] += src[y + dy][x + dx] wherever the source is inside the map (zero padding). */
static void add_shifted_plane(float *restrict dst, const float *restrict src, int64_t h, int64_t dy, int64_t dx)
{
    int64_t y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? h - dy : h;
    int64_t x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? h - dx : h;
    for (int64_t y = y0; y < y1; y++) {
        float *restrict d = dst + y * h;
        const float *restrict s = src + (y + dy) * h + dx;
        for (int64_t x = x0; x < x1; x++) d[x] += s[x];
    }
}

/* MeanMapper applied to the unfolded map: pooled plane i (h x h) holds, for every patch, the mean
 * of the unfolded values [start, end) of bin i. Unfolded value j is channel j / p^2 shifted by
 * ((j % p^2) / p - pad, (j % p^2) % p - pad), the (C, p, p) order of torch.nn.Unfold. */
static void pool_neighbourhoods(const float *map, uint32_t channels, uint32_t h, uint32_t p, uint32_t bins,
                                float *pooled)
{
    const uint64_t window = (uint64_t)p * p, unfolded = (uint64_t)channels * window, plane = (uint64_t)h * h;
    const int64_t pad = (int64_t)(p - 1) / 2;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)bins; i++) {
        uint64_t start, end;
        adaptive_bin((uint64_t)i, unfolded, bins, &start, &end);
        float *out = pooled + (uint64_t)i * plane;
        memset(out, 0, plane * sizeof(float));
        for (uint64_t j = start; j < end; j++) {
            uint64_t c = j / window, k = j % window;
            add_shifted_plane(out, map + c * plane, h, (int64_t)(k / p) - pad, (int64_t)(k % p) - pad);
        }
        const float scale = 1.0f / (float)(end - start);
        for (uint64_t q = 0; q < plane; q++) out[q] *= scale;
    }
}

/* torch's bilinear source index for align_corners=False: clamp((dst + 0.5) * in / out - 0.5, 0). */
static void bilinear_taps(uint32_t in, uint32_t out, uint32_t *lo, uint32_t *hi, float *frac)
{
    const float scale = (float)in / (float)out;
    for (uint32_t d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        uint32_t i0 = (uint32_t)src;
        if (i0 > in - 1) i0 = in - 1;
        lo[d] = i0;
        hi[d] = i0 + 1 < in ? i0 + 1 : in - 1;
        frac[d] = src - (float)i0;
    }
}

static void upsample_planes(const float *in, uint32_t planes, uint32_t h_in, uint32_t h_out, const uint32_t *lo,
                            const uint32_t *hi, const float *frac, float *out)
{
    const uint64_t in_plane = (uint64_t)h_in * h_in, out_plane = (uint64_t)h_out * h_out;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < (int64_t)planes; c++) {
        const float *src = in + (uint64_t)c * in_plane;
        float *dst = out + (uint64_t)c * out_plane;
        for (uint32_t y = 0; y < h_out; y++) {
            const float *r0 = src + (uint64_t)lo[y] * h_in, *r1 = src + (uint64_t)hi[y] * h_in;
            const float wy1 = frac[y], wy0 = 1.0f - wy1;
            for (uint32_t x = 0; x < h_out; x++) {
                const float wx1 = frac[x], wx0 = 1.0f - wx1;
                dst[(uint64_t)y * h_out + x] =
                    wy0 * (wx0 * r0[lo[x]] + wx1 * r0[hi[x]]) + wy1 * (wx0 * r1[lo[x]] + wx1 * r1[hi[x]]);
            }
        }
    }
}

/* Aggregator: the stacked [layer2 pooled, layer3 pooled] vector (2 * bins planes, layer-major)
 * adaptive-pooled to feature_dim, written patch-major. Threads own blocks of patches (rows of
 * out) so no two threads write the same cache line. */
static void merge_layers(const float *planes, uint64_t stacked, uint64_t npix, uint32_t feature_dim, float *out)
{
    enum { PATCH_BLOCK = 32 };
    const int64_t nblocks = (int64_t)((npix + PATCH_BLOCK - 1) / PATCH_BLOCK);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nblocks; b++) {
        const uint64_t p0 = (uint64_t)b * PATCH_BLOCK;
        const uint64_t p1 = p0 + PATCH_BLOCK < npix ? p0 + PATCH_BLOCK : npix;
        for (uint32_t f = 0; f < feature_dim; f++) {
            uint64_t start, end;
            adaptive_bin(f, stacked, feature_dim, &start, &end);
            float acc[PATCH_BLOCK] = {0};
            for (uint64_t j = start; j < end; j++) {
                const float *src = planes + j * npix;
                for (uint64_t p = p0; p < p1; p++) acc[p - p0] += src[p];
            }
            const float scale = 1.0f / (float)(end - start);
            for (uint64_t p = p0; p < p1; p++) out[p * feature_dim + f] = acc[p - p0] * scale;
        }
    }
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

    const uint32_t bins = RP__FEATURES_PRETRAIN_DIM;
    const uint64_t npix2 = (uint64_t)h2 * h2, npix3 = (uint64_t)h3 * h3;
    /* layer2 pooled (bins planes of h2^2), then layer3 upsampled (bins planes of h2^2), stacked
     * exactly as Preprocessing's torch.stack(dim=1); layer3 pooled at its own size on the side. */
    float *planes = malloc(2 * (size_t)bins * npix2 * sizeof(float));
    float *pooled3 = malloc((size_t)bins * npix3 * sizeof(float));
    uint32_t *lo = malloc(2 * (size_t)h2 * sizeof(uint32_t));
    float *frac = malloc((size_t)h2 * sizeof(float));
    if (!planes || !pooled3 || !lo || !frac) {
        free(planes);
        free(pooled3);
        free(lo);
        free(frac);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %u x %u pooled planes", fn, 2 * bins, h2);
    }
    uint32_t *hi = lo + h2;

    pool_neighbourhoods(layer2, c2, h2, patch_size, bins, planes);
    pool_neighbourhoods(layer3, c3, h3, patch_size, bins, pooled3);
    bilinear_taps(h3, h2, lo, hi, frac);
    upsample_planes(pooled3, bins, h3, h2, lo, hi, frac, planes + (size_t)bins * npix2);
    merge_layers(planes, 2 * (uint64_t)bins, npix2, feature_dim, out);

    free(planes);
    free(pooled3);
    free(lo);
    free(frac);
    return RP_OK;
}
