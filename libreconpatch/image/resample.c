/* PIL's BILINEAR resize (libImaging/Resample.c), computed in float without PIL's rounding to 8 bits
 * between the two passes. Per axis, output index i covers the input interval centred on
 * (i + 0.5) * scale (scale = in / out); the weight of input pixel j is the triangle
 * max(0, 1 - |j + 0.5 - centre| / filterscale), filterscale = max(scale, 1), normalised to sum to 1.
 * Coefficients are computed once per call; the vertical pass runs first because its inner loop
 * walks contiguous memory (the heavy part when shrinking), the horizontal pass then works on the
 * few rows that remain. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/common.h"
#include "image/resample.h"

/* The passes are element-wise multiply-adds over long rows. GCC's -O2 cost model ("very cheap")
 * does not vectorise loops whose length is not a multiple of the vector width; ask for its normal
 * cost model on these two functions only (other compilers vectorise them at their defaults). */
#if defined(__GNUC__) && !defined(__clang__)
#define VECTORIZE __attribute__((optimize("-ftree-vectorize", "-fvect-cost-model=dynamic")))
#else
#define VECTORIZE
#endif

/* Taps of one axis for the outputs first_out .. first_out + count - 1. */
typedef struct axis_taps {
    uint32_t count;   /* outputs described */
    uint32_t stride;  /* weights stored per output (PIL's ksize) */
    uint32_t *start;  /* first input index per output */
    uint32_t *len;    /* inputs used per output */
    float *weights;   /* count * stride, normalised */
} axis_taps;

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Taps for output indices [first_out, first_out + count) of an in_size -> out_size resize.
 * Storage comes from the caller's block (start/len/weights already sized). */
static void compute_taps(axis_taps *t, uint32_t in_size, uint32_t out_size, uint32_t first_out)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the triangle's support is 1 input pixel, widened */
    for (uint32_t i = 0; i < t->count; i++) {
        double centre = (first_out + i + 0.5) * scale;
        /* PIL rounds the window ends by adding 0.5 and truncating toward zero. */
        long lo = (long)(centre - support + 0.5), hi = (long)(centre + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > (long)in_size) hi = in_size;
        uint32_t n = (uint32_t)(hi - lo);
        if (n > t->stride) n = t->stride; /* cannot happen: stride = 2 ceil(support) + 1 */
        double sum = 0.0;
        for (uint32_t k = 0; k < n; k++) sum += triangle((k + lo - centre + 0.5) / filterscale);
        float *w = t->weights + (size_t)i * t->stride;
        for (uint32_t k = 0; k < t->stride; k++)
            w[k] = k < n && sum != 0.0 ? (float)(triangle((k + lo - centre + 0.5) / filterscale) / sum) : 0.0f;
        t->start[i] = (uint32_t)lo;
        t->len[i] = n;
    }
}

static uint32_t taps_stride(uint32_t in_size, uint32_t out_size)
{
    double scale = (double)in_size / out_size;
    return (uint32_t)ceil(scale < 1.0 ? 1.0 : scale) * 2 + 1;
}

/* Vertical pass: rows of the window, columns [col0, col0 + ncols) of the source, all channels. */
VECTORIZE static void vertical_pass(const uint8_t *restrict src, size_t src_row_bytes, const axis_taps *ty,
                                    uint32_t col0, uint32_t ncols, uint32_t channels, float *restrict tmp)
{
    size_t n = (size_t)ncols * channels;
    for (uint32_t y = 0; y < ty->count; y++) {
        float *restrict acc = tmp + (size_t)y * n;
        const float *w = ty->weights + (size_t)y * ty->stride;
        const uint8_t *restrict s = src + (size_t)ty->start[y] * src_row_bytes + (size_t)col0 * channels;
        for (size_t i = 0; i < n; i++) acc[i] = w[0] * s[i];
        for (uint32_t k = 1; k < ty->len[y]; k++) {
            const uint8_t *restrict sk = s + k * src_row_bytes;
            float wk = w[k];
            for (size_t i = 0; i < n; i++) acc[i] += wk * sk[i];
        }
    }
}

/* Horizontal pass over the vertically filtered rows (which start at source column col0). */
VECTORIZE static void horizontal_pass(const float *restrict tmp, uint32_t nrows, uint32_t ncols, const axis_taps *tx,
                                      uint32_t col0, uint32_t channels, float *restrict dst)
{
    for (uint32_t y = 0; y < nrows; y++) {
        const float *row = tmp + (size_t)y * ncols * channels;
        float *out = dst + (size_t)y * tx->count * channels;
        for (uint32_t x = 0; x < tx->count; x++) {
            const float *w = tx->weights + (size_t)x * tx->stride;
            const float *s = row + (size_t)(tx->start[x] - col0) * channels;
            uint32_t len = tx->len[x];
            if (channels == 1) {
                float a = 0.0f;
                for (uint32_t k = 0; k < len; k++) a += w[k] * s[k];
                out[x] = a;
            } else {
                float r = 0.0f, g = 0.0f, b = 0.0f;
                for (uint32_t k = 0; k < len; k++, s += 3) {
                    r += w[k] * s[0];
                    g += w[k] * s[1];
                    b += w[k] * s[2];
                }
                out[3 * x] = r;
                out[3 * x + 1] = g;
                out[3 * x + 2] = b;
            }
        }
    }
}

int rp__image_resample(const uint8_t *src, uint32_t src_w, uint32_t src_h, uint32_t channels, uint32_t out_w,
                       uint32_t out_h, uint32_t x0, uint32_t y0, uint32_t win_w, uint32_t win_h, float *dst,
                       const char *fn)
{
    if (!src_w || !src_h || !out_w || !out_h || !win_w || !win_h || (channels != 1 && channels != 3))
        return rp__fail(RP_E_INVALID_ARG, "%s: resize %ux%ux%u -> %ux%u (window %ux%u) has a zero size", fn,
                        src_w, src_h, channels, out_w, out_h, win_w, win_h);
    if (x0 > out_w - win_w || win_w > out_w || y0 > out_h - win_h || win_h > out_h)
        return rp__fail(RP_E_INVALID_ARG, "%s: window %ux%u at (%u, %u) lies outside the %ux%u resized image", fn,
                        win_w, win_h, x0, y0, out_w, out_h);

    /* One block for both axes' taps; the vertical pass output follows once its width is known. */
    axis_taps tx = {.count = win_w, .stride = taps_stride(src_w, out_w)};
    axis_taps ty = {.count = win_h, .stride = taps_stride(src_h, out_h)};
    size_t tap_bytes = ((size_t)win_w * (2 * sizeof(uint32_t) + tx.stride * sizeof(float))) +
                       ((size_t)win_h * (2 * sizeof(uint32_t) + ty.stride * sizeof(float)));
    size_t tmp_floats; /* win_h rows x (at most) src_w columns */
    if (rp__mul_size((size_t)src_w * channels, win_h, &tmp_floats) ||
        tmp_floats > (SIZE_MAX - tap_bytes) / sizeof(float))
        return rp__fail(RP_E_NOMEM, "%s: resize scratch for %ux%u -> %ux%u overflows", fn, src_w, src_h, win_w,
                        win_h);
    float *block = rp__malloc(tmp_floats * sizeof(float) + tap_bytes);
    if (!block)
        return rp__fail(RP_E_NOMEM, "%s: cannot allocate %zu bytes of resize scratch", fn,
                        tmp_floats * sizeof(float) + tap_bytes);
    /* floats first (alignment), then the integer arrays */
    float *tmp = block;
    tx.weights = tmp + tmp_floats;
    ty.weights = tx.weights + (size_t)win_w * tx.stride;
    uint32_t *ints = (uint32_t *)(ty.weights + (size_t)win_h * ty.stride);
    tx.start = ints;
    tx.len = tx.start + win_w;
    ty.start = tx.len + win_w;
    ty.len = ty.start + win_h;

    compute_taps(&tx, src_w, out_w, x0);
    compute_taps(&ty, src_h, out_h, y0);

    /* Only the source columns some window output reads take part in the vertical pass. */
    uint32_t col0 = tx.start[0], col1 = 0;
    for (uint32_t x = 0; x < win_w; x++) {
        if (tx.start[x] < col0) col0 = tx.start[x];
        if (tx.start[x] + tx.len[x] > col1) col1 = tx.start[x] + tx.len[x];
    }
    vertical_pass(src, (size_t)src_w * channels, &ty, col0, col1 - col0, channels, tmp);
    horizontal_pass(tmp, win_h, col1 - col0, &tx, col0, channels, dst);
    free(block);
    return RP_OK;
}
