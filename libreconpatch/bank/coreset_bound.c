/* Sketches for the coreset's lower bound (coreset_bound.h): directions by subspace iteration on a
 * sample, then every point's coordinates and residual norm, all in double. */
#include "common/alloc.h"
#include "bank/coreset_bound.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bank/prng.h"
#include "common/common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RP_CORESET_HAVE_AVX512 1
#endif

#define DIRECTIONS (RP__CORESET_SKETCH - 1)
#define SAMPLE_ROWS 4096u
#define SAMPLE_DOUBLES (1u << 22) /* at most 32 MB of sample */
#define ITERATIONS 8

/* Modified Gram-Schmidt, twice, on the t columns of v (pd x t, column i at v[d * t + i]). The
 * second pass starts from unit columns: one that loses more than half its length there was
 * (numerically) dependent on the others, its normalised remainder would be rounding noise and not
 * orthogonal, so it is zeroed instead: fewer directions, the bound stays valid. */
static void orthonormalise(double *v, uint32_t pd, uint32_t t)
{
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < t; i++) {
            double before = 0.0;
            for (uint32_t d = 0; d < pd; d++) before += v[(size_t)d * t + i] * v[(size_t)d * t + i];
            for (uint32_t j = 0; j < i; j++) {
                double dot = 0.0;
                for (uint32_t d = 0; d < pd; d++) dot += v[(size_t)d * t + i] * v[(size_t)d * t + j];
                for (uint32_t d = 0; d < pd; d++) v[(size_t)d * t + i] -= dot * v[(size_t)d * t + j];
            }
            double sq = 0.0;
            for (uint32_t d = 0; d < pd; d++) sq += v[(size_t)d * t + i] * v[(size_t)d * t + i];
            const int dependent = !(sq > 1e-200) || (pass == 1 && !(sq > 0.25 * before));
            const double scale = dependent ? 0.0 : 1.0 / sqrt(sq);
            for (uint32_t d = 0; d < pd; d++) v[(size_t)d * t + i] *= scale;
        }
}

int rp__coreset_sketches(const rp__coreset_points *P, int threads, const char *fn, float *out)
{
    const uint64_t n = P->n;
    const uint32_t pd = P->pd, t = pd < DIRECTIONS ? pd : DIRECTIONS;
    uint64_t rows = n < SAMPLE_ROWS ? n : SAMPLE_ROWS;
    if (rows * pd > SAMPLE_DOUBLES) rows = SAMPLE_DOUBLES / pd > 0 ? SAMPLE_DOUBLES / pd : 1;
    double *x = rp__malloc((size_t)rows * pd * sizeof(double));
    double *v = rp__malloc((size_t)pd * t * sizeof(double)), *w = rp__malloc((size_t)rows * t * sizeof(double));
    double *mean = rp__calloc(pd, sizeof(double));
    if (!x || !v || !w || !mean) {
        free(x);
        free(v);
        free(w);
        free(mean);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for the coreset bound", fn);
    }
    /* evenly spaced sample, centred */
    for (uint64_t r = 0; r < rows; r++) {
        const float *y = P->y + (size_t)(r * n / rows) * pd;
        for (uint32_t d = 0; d < pd; d++) mean[d] += (x[(size_t)r * pd + d] = y[d]);
    }
    for (uint32_t d = 0; d < pd; d++) mean[d] /= (double)rows;
    for (uint64_t r = 0; r < rows; r++)
        for (uint32_t d = 0; d < pd; d++) x[(size_t)r * pd + d] -= mean[d];

    /* subspace iteration: v <- orth(X^T X v), from a fixed pseudo-random start */
    uint64_t state = 0x534B45544348ull; /* "SKETCH" */
    for (size_t i = 0; i < (size_t)pd * t; i++) v[i] = rp__prng_uniform(&state) - 0.5;
    orthonormalise(v, pd, t);
    for (int it = 0; it < ITERATIONS; it++) {
        for (uint64_t r = 0; r < rows; r++) {
            double acc[DIRECTIONS] = {0};
            for (uint32_t d = 0; d < pd; d++)
                for (uint32_t i = 0; i < t; i++) acc[i] += x[(size_t)r * pd + d] * v[(size_t)d * t + i];
            memcpy(w + (size_t)r * t, acc, t * sizeof(double));
        }
        memset(v, 0, (size_t)pd * t * sizeof(double));
        for (uint64_t r = 0; r < rows; r++)
            for (uint32_t d = 0; d < pd; d++)
                for (uint32_t i = 0; i < t; i++) v[(size_t)d * t + i] += x[(size_t)r * pd + d] * w[(size_t)r * t + i];
        orthonormalise(v, pd, t);
    }

    /* sketch = (coordinates on the t directions, 0 padding, norm of the rest) */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < (int64_t)n; p++) {
        const float *y = P->y + (size_t)p * pd;
        double z[DIRECTIONS] = {0}, sq = 0.0, zsq = 0.0;
        for (uint32_t d = 0; d < pd; d++) {
            const double yd = y[d];
            sq += yd * yd;
            for (uint32_t i = 0; i < t; i++) z[i] += yd * v[(size_t)d * t + i];
        }
        float *o = out + (size_t)p * RP__CORESET_SKETCH;
        for (uint32_t i = 0; i < DIRECTIONS; i++) {
            o[i] = (float)z[i];
            zsq += z[i] * z[i];
        }
        o[DIRECTIONS] = (float)sqrt(sq > zsq ? sq - zsq : 0.0);
    }
    free(x);
    free(v);
    free(w);
    free(mean);
    return RP_OK;
}

static uint32_t filter_portable(const float *sketches, const uint32_t *idx, const float *dist, uint32_t count,
                                const float *s_sketch, float alpha, float beta, uint32_t *pos_out)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; i++) {
        const float t = dist[i] * alpha + beta;
        const float x = rp__coreset_sketch_d2(sketches + (size_t)idx[i] * RP__CORESET_SKETCH, s_sketch);
        if (!(x > t * t * (1.0f + 1e-6f))) pos_out[kept++] = i;
    }
    return kept;
}

#ifdef RP_CORESET_HAVE_AVX512
/* One register per sketch; the thresholds of 16 members at once. */
__attribute__((target("avx512f"))) static uint32_t filter_avx512(const float *sketches, const uint32_t *idx,
                                                                  const float *dist, uint32_t count,
                                                                  const float *s_sketch, float alpha, float beta,
                                                                  uint32_t *pos_out)
{
    const __m512 s = _mm512_loadu_ps(s_sketch), va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __m512 up = _mm512_set1_ps(1.0f + 1e-6f);
    uint32_t kept = 0;
    for (uint32_t i0 = 0; i0 < count; i0 += 16) {
        const uint32_t g = count - i0 < 16 ? count - i0 : 16;
        float x[16] = {0};
        for (uint32_t i = 0; i < g; i++) {
            const __m512 diff = _mm512_sub_ps(_mm512_load_ps(sketches + (size_t)idx[i0 + i] * RP__CORESET_SKETCH), s);
            x[i] = _mm512_reduce_add_ps(_mm512_mul_ps(diff, diff));
        }
        const __mmask16 valid = (__mmask16)((1u << g) - 1u);
        const __m512 t = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(valid, dist + i0), va), vb);
        const __m512 limit = _mm512_mul_ps(_mm512_mul_ps(t, t), up);
        /* keep unless x > limit (NaN-safe: a NaN keeps the member) */
        __mmask16 keep = _mm512_cmp_ps_mask(_mm512_loadu_ps(x), limit, _CMP_NGT_UQ) & valid;
        while (keep) {
            const uint32_t l = (uint32_t)__builtin_ctz(keep);
            pos_out[kept++] = i0 + l;
            keep &= (__mmask16)(keep - 1);
        }
    }
    return kept;
}
#endif

static uint32_t scan_portable(const float *blocks, const float *skip, uint64_t k, const float *s_sketch,
                              uint32_t *out)
{
    uint32_t count = 0;
    for (uint64_t b = 0; b * 16 < k; b++) {
        const float *blk = blocks + b * 16 * RP__CORESET_SKETCH;
        float acc[16] = {0};
        for (uint32_t i = 0; i < RP__CORESET_SKETCH; i++)
            for (uint32_t l = 0; l < 16; l++) {
                const float diff = blk[i * 16 + l] - s_sketch[i];
                acc[l] += diff * diff;
            }
        for (uint32_t l = 0; l < 16 && b * 16 + l < k; l++)
            if (!(acc[l] > skip[b * 16 + l])) out[count++] = (uint32_t)(b * 16 + l);
    }
    return count;
}

#ifdef RP_CORESET_HAVE_AVX512
__attribute__((target("avx512f"))) static uint32_t scan_avx512(const float *blocks, const float *skip, uint64_t k,
                                                                const float *s_sketch, uint32_t *out)
{
    uint32_t count = 0;
    for (uint64_t b = 0; b * 16 < k; b++) {
        const float *blk = blocks + b * 16 * RP__CORESET_SKETCH;
        __m512 acc = _mm512_setzero_ps();
        for (uint32_t i = 0; i < RP__CORESET_SKETCH; i++) {
            const __m512 diff = _mm512_sub_ps(_mm512_load_ps(blk + i * 16), _mm512_set1_ps(s_sketch[i]));
            acc = _mm512_fmadd_ps(diff, diff, acc);
        }
        const uint64_t left = k - b * 16;
        const __mmask16 valid = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        __mmask16 keep = _mm512_cmp_ps_mask(acc, _mm512_maskz_loadu_ps(valid, skip + b * 16), _CMP_NGT_UQ) & valid;
        while (keep) {
            out[count++] = (uint32_t)(b * 16 + (uint32_t)__builtin_ctz(keep));
            keep &= (__mmask16)(keep - 1);
        }
    }
    return count;
}
#endif

#ifdef RP_CORESET_HAVE_AVX512
/* AVX2 twins of the two above. The sketch bound holds for any summation order of the sketch d^2
 * (rp__coreset_sketch_below), so these only decide which rows get computed, never a distance. */
__attribute__((target("avx2,fma"))) static uint32_t filter_avx2(const float *sketches, const uint32_t *idx,
                                                               const float *dist, uint32_t count,
                                                               const float *s_sketch, float alpha, float beta,
                                                               uint32_t *pos_out)
{
    const __m256 s0 = _mm256_loadu_ps(s_sketch), s1 = _mm256_loadu_ps(s_sketch + 8);
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta), up = _mm256_set1_ps(1.0f + 1e-6f);
    uint32_t kept = 0;
    for (uint32_t i0 = 0; i0 < count; i0 += 8) {
        const uint32_t g = count - i0 < 8 ? count - i0 : 8;
        __m256 sq[8];
        for (uint32_t i = 0; i < 8; i++) {
            const float *sk = sketches + (size_t)idx[i0 + (i < g ? i : 0)] * RP__CORESET_SKETCH;
            const __m256 d0 = _mm256_sub_ps(_mm256_load_ps(sk), s0), d1 = _mm256_sub_ps(_mm256_load_ps(sk + 8), s1);
            sq[i] = _mm256_fmadd_ps(d1, d1, _mm256_mul_ps(d0, d0));
        }
        /* horizontal sums of the 8 registers into one: lane i holds member i's sketch d^2 */
        const __m256 h01 = _mm256_hadd_ps(sq[0], sq[1]), h23 = _mm256_hadd_ps(sq[2], sq[3]);
        const __m256 h45 = _mm256_hadd_ps(sq[4], sq[5]), h67 = _mm256_hadd_ps(sq[6], sq[7]);
        const __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
        /* q0 = [0 1 2 3 | 0 1 2 3] halves, q1 = [4 5 6 7 | 4 5 6 7] halves: add the halves */
        const __m256 lo = _mm256_permute2f128_ps(q0, q1, 0x20), hi = _mm256_permute2f128_ps(q0, q1, 0x31);
        const __m256 x = _mm256_add_ps(lo, hi);
        float dv[8] = {0};
        memcpy(dv, dist + i0, g * sizeof(float));
        const __m256 t = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(dv), va), vb);
        const __m256 limit = _mm256_mul_ps(_mm256_mul_ps(t, t), up);
        /* keep unless x > limit (NaN-safe: a NaN keeps the member) */
        uint32_t keep = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(x, limit, _CMP_NGT_UQ)) & ((1u << g) - 1u);
        while (keep) {
            pos_out[kept++] = i0 + (uint32_t)__builtin_ctz(keep);
            keep &= keep - 1;
        }
    }
    return kept;
}

__attribute__((target("avx2,fma"))) static uint32_t scan_avx2(const float *blocks, const float *skip, uint64_t k,
                                                             const float *s_sketch, uint32_t *out)
{
    uint32_t count = 0;
    for (uint64_t b = 0; b * 16 < k; b++) {
        const float *blk = blocks + b * 16 * RP__CORESET_SKETCH;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        for (uint32_t i = 0; i < RP__CORESET_SKETCH; i++) {
            const __m256 sv = _mm256_set1_ps(s_sketch[i]);
            const __m256 d0 = _mm256_sub_ps(_mm256_load_ps(blk + i * 16), sv);
            const __m256 d1 = _mm256_sub_ps(_mm256_load_ps(blk + i * 16 + 8), sv);
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
            acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        }
        const uint64_t left = k - b * 16;
        const uint32_t valid = left >= 16 ? 0xFFFFu : (1u << left) - 1u;
        float sk[16];
        for (uint32_t l = 0; l < 16; l++) sk[l] = l < left ? skip[b * 16 + l] : 0.0f;
        uint32_t keep = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(acc0, _mm256_loadu_ps(sk), _CMP_NGT_UQ)) |
                        (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(acc1, _mm256_loadu_ps(sk + 8), _CMP_NGT_UQ)) << 8;
        keep &= valid;
        while (keep) {
            out[count++] = (uint32_t)(b * 16 + (uint32_t)__builtin_ctz(keep));
            keep &= keep - 1;
        }
    }
    return count;
}
#endif

rp__coreset_scan_fn rp__coreset_scan_kernel(void)
{
#ifdef RP_CORESET_HAVE_AVX512
    if (rp__cpu_use_avx512()) return scan_avx512;
    if (rp__cpu_use_avx2()) return scan_avx2;
#endif
    return scan_portable;
}

rp__coreset_filter_fn rp__coreset_filter_kernel(void)
{
#ifdef RP_CORESET_HAVE_AVX512
    if (rp__cpu_use_avx512()) return filter_avx512;
    if (rp__cpu_use_avx2()) return filter_avx2;
#endif
    return filter_portable;
}
