/* The anomaly map in network-input geometry: PatchCore's RescaleSegmentor, i.e. the patch scores
 * upsampled with F.interpolate(bilinear, align_corners=False) to the input size, then
 * scipy.ndimage.gaussian_filter(sigma=4). Every output pixel is computed independently in a fixed
 * order, so the result does not depend on the number of threads. */
#include <math.h>
#include <stdlib.h>

#include "scorer/scorer_internal.h"

/* PyTorch's source index for align_corners=False: negative values clamp to 0. */
static void source_index(uint32_t d, uint32_t src, uint32_t dst, uint32_t *i0, uint32_t *i1, float *frac)
{
    const float scale = (float)src / (float)dst;
    float s = ((float)d + 0.5f) * scale - 0.5f;
    if (s < 0.0f) s = 0.0f;
    uint32_t lo = (uint32_t)s;
    if (lo > src - 1) lo = src - 1;
    *i0 = lo;
    *i1 = lo + 1 < src ? lo + 1 : src - 1;
    *frac = s - (float)lo;
}

void rp__scorer_resize_bilinear(const float *src, uint32_t src_w, uint32_t src_h, float *dst, uint32_t dst_w,
                                uint32_t dst_h, uint32_t num_threads)
{
#pragma omp parallel for num_threads(num_threads) if ((size_t)dst_w * dst_h > 65536) schedule(static)
    for (uint32_t y = 0; y < dst_h; y++) {
        uint32_t y0, y1;
        float fy;
        source_index(y, src_h, dst_h, &y0, &y1, &fy);
        for (uint32_t x = 0; x < dst_w; x++) {
            uint32_t x0, x1;
            float fx;
            source_index(x, src_w, dst_w, &x0, &x1, &fx);
            const float top = (1.0f - fx) * src[(size_t)y0 * src_w + x0] + fx * src[(size_t)y0 * src_w + x1];
            const float bottom = (1.0f - fx) * src[(size_t)y1 * src_w + x0] + fx * src[(size_t)y1 * src_w + x1];
            dst[(size_t)y * dst_w + x] = (1.0f - fy) * top + fy * bottom;
        }
    }
}

uint32_t rp__scorer_gaussian_radius(double sigma) { return (uint32_t)(4.0 * sigma + 0.5); }

/* scipy's "reflect" extension: the half-sample symmetric mirror, repeated for long kernels. */
static uint32_t reflect_index(int64_t i, uint32_t n)
{
    const int64_t period = 2 * (int64_t)n;
    int64_t m = i % period;
    if (m < 0) m += period;
    return (uint32_t)(m < n ? m : period - 1 - m);
}

/* One 1-D pass: out[line][k] = sum_j w[j] * in[line][reflect(k + j - r)], lines and elements
 * addressed by strides, so the same code runs along columns and along rows. */
static void gaussian_pass(const float *in, float *out, uint32_t lines, uint32_t length, size_t line_stride,
                          size_t elem_stride, const double *weights, uint32_t radius, uint32_t num_threads)
{
#pragma omp parallel for num_threads(num_threads) if ((size_t)lines * length > 65536) schedule(static)
    for (uint32_t l = 0; l < lines; l++) {
        const float *src = in + l * line_stride;
        float *dst = out + l * line_stride;
        for (uint32_t k = 0; k < length; k++) {
            double sum = 0.0;
            for (uint32_t j = 0; j <= 2 * radius; j++) {
                const int64_t at = (int64_t)k + (int64_t)j - (int64_t)radius;
                const uint32_t idx = (at >= 0 && at < (int64_t)length) ? (uint32_t)at : reflect_index(at, length);
                sum += weights[j] * (double)src[idx * elem_stride];
            }
            dst[k * elem_stride] = (float)sum;
        }
    }
}

void rp__scorer_gaussian_filter(float *map, uint32_t width, uint32_t height, double sigma, float *scratch,
                                uint32_t num_threads)
{
    const uint32_t radius = rp__scorer_gaussian_radius(sigma);
    double stack_weights[257];
    double *weights = 2 * radius + 1 <= 257 ? stack_weights : malloc((2 * (size_t)radius + 1) * sizeof *weights);
    if (!weights) return; /* the caller bounds sigma so that the stack buffer always suffices */
    /* scipy's _gaussian_kernel1d: exp(-x^2 / (2 sigma^2)), normalised to sum 1. */
    double total = 0.0;
    for (uint32_t j = 0; j <= 2 * radius; j++) {
        const double x = (double)j - (double)radius;
        weights[j] = exp(-0.5 / (sigma * sigma) * x * x);
        total += weights[j];
    }
    for (uint32_t j = 0; j <= 2 * radius; j++) weights[j] /= total;
    /* axis 0 (down the columns): width lines of height elements */
    gaussian_pass(map, scratch, width, height, 1, width, weights, radius, num_threads);
    /* axis 1 (along the rows): height lines of width elements */
    gaussian_pass(scratch, map, height, width, width, 1, weights, radius, num_threads);
    if (weights != stack_weights) free(weights);
}

void rp__scorer_patch_map(const float *patch_scores, const rp__scorer_geometry *g, double sigma, float *map_out,
                          float *scratch, uint32_t num_threads)
{
    rp__scorer_resize_bilinear(patch_scores, g->grid_size, g->grid_size, map_out, g->input_size, g->input_size,
                               num_threads);
    rp__scorer_gaussian_filter(map_out, g->input_size, g->input_size, sigma, scratch, num_threads);
}
