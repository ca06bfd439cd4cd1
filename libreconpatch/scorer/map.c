/* The anomaly map in network-input geometry: PatchCore's RescaleSegmentor, i.e. the patch scores
 * upsampled with F.interpolate(bilinear, align_corners=False) to the input size, then
 * scipy.ndimage.gaussian_filter(sigma=4). Every output pixel is computed independently in a fixed
 * order, so the result does not depend on the number of threads.
 *
 * Speed: the resize interpolates each source row horizontally once (the output rows that share a
 * source row reuse it) and the Gaussian passes run 8 output pixels per AVX-512 or AVX2 step where
 * the CPU has them. Both keep every pixel's operations and their order exactly as in the plain
 * per-pixel formulas, so the results are bit-identical to them. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/bilinear.h"
#include "common/common.h"
#include "scorer/scorer_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RP_MAP_HAVE_AVX512 1
#endif

/* Per output pixel, the textbook formula; used when the row buffer cannot be allocated. */
static void resize_direct(const float *src, uint32_t src_w, uint32_t src_h, float *dst, uint32_t dst_w,
                          uint32_t dst_h, uint32_t num_threads)
{
#pragma omp parallel for num_threads(num_threads) if ((size_t)dst_w * dst_h > 65536) schedule(static)
    for (uint32_t y = 0; y < dst_h; y++) {
        uint32_t y0, y1;
        float fy;
        rp__bilinear_tap(y, src_h, dst_h, &y0, &y1, &fy);
        for (uint32_t x = 0; x < dst_w; x++) {
            uint32_t x0, x1;
            float fx;
            rp__bilinear_tap(x, src_w, dst_w, &x0, &x1, &fx);
            const float top = (1.0f - fx) * src[(size_t)y0 * src_w + x0] + fx * src[(size_t)y0 * src_w + x1];
            const float bottom = (1.0f - fx) * src[(size_t)y1 * src_w + x0] + fx * src[(size_t)y1 * src_w + x1];
            dst[(size_t)y * dst_w + x] = (1.0f - fy) * top + fy * bottom;
        }
    }
}

void rp__scorer_resize_bilinear(const float *src, uint32_t src_w, uint32_t src_h, float *dst, uint32_t dst_w,
                                uint32_t dst_h, uint32_t num_threads)
{
    /* rows[sy][x] = source row sy interpolated along x: the `top` / `bottom` of resize_direct */
    float *rows = rp__malloc((size_t)src_h * dst_w * sizeof(float));
    if (!rows) {
        resize_direct(src, src_w, src_h, dst, dst_w, dst_h, num_threads);
        return;
    }
    for (uint32_t x = 0; x < dst_w; x++) {
        uint32_t x0, x1;
        float fx;
        rp__bilinear_tap(x, src_w, dst_w, &x0, &x1, &fx);
        for (uint32_t sy = 0; sy < src_h; sy++) {
            const float *s = src + (size_t)sy * src_w;
            rows[(size_t)sy * dst_w + x] = (1.0f - fx) * s[x0] + fx * s[x1];
        }
    }
#pragma omp parallel for num_threads(num_threads) if ((size_t)dst_w * dst_h > 65536) schedule(static)
    for (uint32_t y = 0; y < dst_h; y++) {
        uint32_t y0, y1;
        float fy;
        rp__bilinear_tap(y, src_h, dst_h, &y0, &y1, &fy);
        const float *top = rows + (size_t)y0 * dst_w, *bottom = rows + (size_t)y1 * dst_w;
        float *out = dst + (size_t)y * dst_w;
        const float wy0 = 1.0f - fy;
#pragma omp simd
        for (uint32_t x = 0; x < dst_w; x++) out[x] = wy0 * top[x] + fy * bottom[x];
    }
    free(rows);
}

uint32_t rp__scorer_gaussian_radius(double sigma) { return (uint32_t)(4.0 * sigma + 0.5); }

/* scipy's "reflect" extension: the half-sample symmetric mirror, repeated for long kernels. */
static inline __attribute__((always_inline)) uint32_t reflect_index(int64_t i, uint32_t n)
{
    const int64_t period = 2 * (int64_t)n;
    int64_t m = i % period;
    if (m < 0) m += period;
    return (uint32_t)(m < n ? m : period - 1 - m);
}

static inline __attribute__((always_inline)) uint32_t tap_index(uint32_t k, uint32_t j, uint32_t radius,
                                                                uint32_t length)
{
    const int64_t at = (int64_t)k + (int64_t)j - (int64_t)radius;
    return (at >= 0 && at < (int64_t)length) ? (uint32_t)at : reflect_index(at, length);
}

/* Element k of one line: sum_j w[j] * line[reflect(k + j - r)], in double, j ascending. Every
 * pass below computes each output pixel with exactly these operations in this order. Forced
 * inline so that the vector passes run no SSE-encoded code: on Intel cores SSE instructions
 * between 512-bit ones are very slow. */
static inline __attribute__((always_inline)) float filtered_element(const float *line, size_t elem_stride,
                                                                   uint32_t length, uint32_t k, const double *weights,
                                                                   uint32_t radius)
{
    double sum = 0.0;
    for (uint32_t j = 0; j <= 2 * radius; j++)
        sum += weights[j] * (double)line[tap_index(k, j, radius, length) * elem_stride];
    return (float)sum;
}

/* One 1-D pass: out[line][k] = filtered_element, lines and elements addressed by strides, so the
 * same code runs along columns and along rows. */
static void gaussian_pass(const float *in, float *out, uint32_t lines, uint32_t length, size_t line_stride,
                          size_t elem_stride, const double *weights, uint32_t radius, uint32_t num_threads)
{
#pragma omp parallel for num_threads(num_threads) if ((size_t)lines * length > 65536) schedule(static)
    for (uint32_t l = 0; l < lines; l++)
        for (uint32_t k = 0; k < length; k++)
            out[l * line_stride + k * elem_stride] =
                filtered_element(in + l * line_stride, elem_stride, length, k, weights, radius);
}

#ifdef RP_MAP_HAVE_AVX512
/* Pieces shared by the vector passes, forced inline so that they get each pass's encoding. */

/* Source rows of the taps of output row k in the columns pass. */
static inline __attribute__((always_inline)) void column_tap_rows(const float *in, uint32_t width, uint32_t height,
                                                                  uint32_t radius, uint32_t k, const float **tap_row)
{
    for (uint32_t j = 0; j <= 2 * radius; j++) tap_row[j] = in + (size_t)tap_index(k, j, radius, height) * width;
}

/* Row y of the rows pass is first copied with its reflected borders: ext[i] = row[reflect(i -
 * radius)], so ext[k + j] is filtered_element's tap j of pixel k; ext holds width + 2 * radius
 * floats. */
static inline __attribute__((always_inline)) void extend_row(const float *src, uint32_t width, uint32_t radius,
                                                             float *ext)
{
    for (uint32_t i = 0; i < width + 2 * radius; i++) ext[i] = src[tap_index(i, 0, radius, width)];
}

/* Pixels [from, width) of an extended row, one at a time (filtered_element's operations). */
static inline __attribute__((always_inline)) void row_rest(const float *ext, float *dst, uint32_t from,
                                                           uint32_t width, const double *weights, uint32_t radius)
{
    for (uint32_t k = from; k < width; k++) {
        double sum = 0.0;
        for (uint32_t j = 0; j <= 2 * radius; j++) sum += weights[j] * (double)ext[k + j];
        dst[k] = (float)sum;
    }
}

/* Eight neighbouring output pixels of either pass: dst[i] = sum_j weights[j] * taps[j][offset + i]
 * in double, j ascending, i in [0, 8): filtered_element's operations, multiply and add separate
 * (no fused multiply-add). One per instruction set; the passes below are written once around it. */
typedef void (*step8_fn)(const float *const *taps, size_t offset, const double *weights, uint32_t ntaps, float *dst);

__attribute__((target("avx512f"))) static inline void step8_avx512(const float *const *taps, size_t offset,
                                                                   const double *weights, uint32_t ntaps, float *dst)
{
    __m512d acc = _mm512_setzero_pd();
    for (uint32_t j = 0; j < ntaps; j++)
        acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_set1_pd(weights[j]),
                                               _mm512_cvtps_pd(_mm256_loadu_ps(taps[j] + offset))));
    _mm256_storeu_ps(dst, _mm512_cvtpd_ps(acc));
}

/* AVX2: the eight pixels as two 4-double accumulators (low and high four). */
__attribute__((target("avx2,fma"))) static inline void step8_avx2(const float *const *taps, size_t offset,
                                                                 const double *weights, uint32_t ntaps, float *dst)
{
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (uint32_t j = 0; j < ntaps; j++) {
        const __m256d w = _mm256_set1_pd(weights[j]);
        lo = _mm256_add_pd(lo, _mm256_mul_pd(w, _mm256_cvtps_pd(_mm_loadu_ps(taps[j] + offset))));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(w, _mm256_cvtps_pd(_mm_loadu_ps(taps[j] + offset + 4))));
    }
    _mm_storeu_ps(dst, _mm256_cvtpd_ps(lo));
    _mm_storeu_ps(dst + 4, _mm256_cvtpd_ps(hi));
}

/* Down the columns (axis 0) of a width x height map, output row k: 8 adjacent columns per step
 * share the tap rows; leftover columns go through filtered_element. Inlined into each
 * instruction set's version with its step (a constant there). */
static inline __attribute__((always_inline)) void column_row_with(step8_fn step, const float *in, float *out,
                                                                  uint32_t width, uint32_t height,
                                                                  const double *weights, uint32_t radius, uint32_t k)
{
    const uint32_t width8 = width & ~7u;
    const float *tap_row[257]; /* radius <= 128: see rp__scorer_gaussian_filter */
    column_tap_rows(in, width, height, radius, k, tap_row);
    for (uint32_t x = 0; x < width8; x += 8) step(tap_row, x, weights, 2 * radius + 1, out + (size_t)k * width + x);
    for (uint32_t x = width8; x < width; x++)
        out[(size_t)k * width + x] = filtered_element(in + x, width, height, k, weights, radius);
}

/* Along the rows (axis 1), row y, extended into ext (extend_row), then 8 consecutive pixels per
 * step: tap j of pixel k is ext[k + j]. */
static inline __attribute__((always_inline)) void row_with(step8_fn step, const float *in, float *out,
                                                           uint32_t width, const double *weights, uint32_t radius,
                                                           float *ext, uint32_t y)
{
    const uint32_t width8 = width & ~7u;
    float *dst = out + (size_t)y * width;
    const float *taps[257]; /* radius <= 128 */
    extend_row(in + (size_t)y * width, width, radius, ext);
    for (uint32_t j = 0; j <= 2 * radius; j++) taps[j] = ext + j;
    for (uint32_t k = 0; k < width8; k += 8) step(taps, k, weights, 2 * radius + 1, dst + k);
    row_rest(ext, dst, width8, width, weights, radius);
}

__attribute__((target("avx512f"))) static void column_row_avx512(const float *in, float *out, uint32_t width,
                                                                 uint32_t height, const double *weights,
                                                                 uint32_t radius, uint32_t k)
{
    column_row_with(step8_avx512, in, out, width, height, weights, radius, k);
}

__attribute__((target("avx512f"))) static void row_avx512(const float *in, float *out, uint32_t width,
                                                          const double *weights, uint32_t radius, float *ext,
                                                          uint32_t y)
{
    row_with(step8_avx512, in, out, width, weights, radius, ext, y);
}

__attribute__((target("avx2,fma"))) static void column_row_avx2(const float *in, float *out, uint32_t width,
                                                               uint32_t height, const double *weights,
                                                               uint32_t radius, uint32_t k)
{
    column_row_with(step8_avx2, in, out, width, height, weights, radius, k);
}

__attribute__((target("avx2,fma"))) static void row_avx2(const float *in, float *out, uint32_t width,
                                                        const double *weights, uint32_t radius, float *ext, uint32_t y)
{
    row_with(step8_avx2, in, out, width, weights, radius, ext, y);
}

/* One instruction set's passes: output row k of the columns pass, output row y of the rows pass. */
typedef struct {
    void (*column_row)(const float *in, float *out, uint32_t width, uint32_t height, const double *weights,
                       uint32_t radius, uint32_t k);
    void (*row)(const float *in, float *out, uint32_t width, const double *weights, uint32_t radius, float *ext,
                uint32_t y);
} vector_passes;

static const vector_passes passes[RP__ISA_COUNT] = {
    [RP__ISA_AVX2] = {column_row_avx2, row_avx2},
    [RP__ISA_AVX512] = {column_row_avx512, row_avx512},
};

/* The OpenMP loops stay outside the target("...") functions: clang outlines a parallel region
 * into a function without its parent's target attribute, and then rejects the vector code.
 * ext_all holds one row buffer per thread. */
static void vector_filter(const vector_passes *v, float *map, float *scratch, uint32_t width, uint32_t height,
                          const double *weights, uint32_t radius, float *ext_all, uint32_t num_threads)
{
#pragma omp parallel for num_threads(num_threads) if ((size_t)width * height > 65536) schedule(static)
    for (uint32_t k = 0; k < height; k++) v->column_row(map, scratch, width, height, weights, radius, k);
#pragma omp parallel for num_threads(num_threads) if ((size_t)width * height > 65536) schedule(static)
    for (uint32_t y = 0; y < height; y++)
        v->row(scratch, map, width, weights, radius, ext_all + (size_t)omp_get_thread_num() * (width + 2 * radius),
               y);
}
#endif

void rp__scorer_gaussian_filter(float *map, uint32_t width, uint32_t height, double sigma, float *scratch,
                                uint32_t num_threads)
{
    rp__scorer_gaussian_filter_isa(map, width, height, sigma, scratch, num_threads, rp__cpu_isa());
}

void rp__scorer_gaussian_filter_isa(float *map, uint32_t width, uint32_t height, double sigma, float *scratch,
                                    uint32_t num_threads, rp__isa isa)
{
    const uint32_t radius = rp__scorer_gaussian_radius(sigma);
    double stack_weights[257];
    double *weights = 2 * radius + 1 <= 257 ? stack_weights : rp__malloc((2 * (size_t)radius + 1) * sizeof *weights);
    if (!weights) return; /* the caller bounds sigma so that the stack buffer always suffices */
    /* scipy's _gaussian_kernel1d: exp(-x^2 / (2 sigma^2)), normalised to sum 1. */
    double total = 0.0;
    for (uint32_t j = 0; j <= 2 * radius; j++) {
        const double x = (double)j - (double)radius;
        weights[j] = exp(-0.5 / (sigma * sigma) * x * x);
        total += weights[j];
    }
    for (uint32_t j = 0; j <= 2 * radius; j++) weights[j] /= total;
#ifdef RP_MAP_HAVE_AVX512
    const vector_passes *v = (unsigned)isa < RP__ISA_COUNT && passes[isa].row ? &passes[isa] : NULL;
    /* the row buffers, one per thread that the rows pass may use */
    const int threads = (size_t)width * height > 65536 ? (int)num_threads : 1;
    float *ext = v && radius <= 128
                     ? rp__malloc((size_t)(threads > 0 ? threads : 1) * (width + 2 * radius) * sizeof(float))
                     : NULL;
    if (ext) {
        vector_filter(v, map, scratch, width, height, weights, radius, ext, num_threads);
        free(ext);
        if (weights != stack_weights) free(weights);
        return;
    }
#endif
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
