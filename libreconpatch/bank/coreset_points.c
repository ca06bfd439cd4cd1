/* Projected points for the greedy coreset: projection, norms, PatchCore's starting distances and
 * the distance kernel. The arithmetic (order of the sums, fused or not) is fixed here once: the
 * goldens in tests/data/bank were checked against exactly this, and the fast selection and the
 * reference loop both call these functions. */
#include "common/alloc.h"
#include "bank/coreset_points.h"

#include <dnnl.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bank/coreset.h"
#include "common/common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RP_CORESET_HAVE_AVX512 1
#endif

int rp__coreset_points_build(const float *vectors, uint64_t n, uint32_t dim, uint32_t pd, uint64_t seed,
                             const char *fn, rp__coreset_points *out)
{
    return rp__coreset_points_build_released(vectors, n, dim, pd, seed, NULL, fn, out);
}

int rp__coreset_points_build_released(const float *vectors, uint64_t n, uint32_t dim, uint32_t pd, uint64_t seed,
                                      const rp__coreset_release *release, const char *fn, rp__coreset_points *out)
{
    enum { CHUNK = 4096 };
    memset(out, 0, sizeof *out);
    out->n = n;
    out->pd = pd;
    out->norm = rp__malloc((size_t)n * sizeof(float));
    float *weight = NULL;
    const int copy_input = dim == pd && release; /* the input goes away: keep rows of our own */
    if (dim != pd || copy_input) {
        size_t floats;
        if (rp__mul_size((size_t)n, pd, &floats) == 0) out->owned = rp__malloc(floats * sizeof(float));
        if (!copy_input) weight = rp__malloc((size_t)pd * dim * sizeof(float));
    }
    if (!out->norm || ((dim != pd || copy_input) && !out->owned) || (dim != pd && !weight)) {
        free(weight);
        rp__coreset_points_free(out);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %llu projected points of %u dims", fn,
                        (unsigned long long)n, pd);
    }
    if (copy_input) {
        for (uint64_t r0 = 0; r0 < n; r0 += CHUNK) {
            const uint64_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
            memcpy(out->owned + r0 * pd, vectors + r0 * dim, (size_t)rows * dim * sizeof(float));
            release->fn(release->ctx, r0, rows);
        }
        out->y = out->owned;
    } else if (dim == pd) {
        out->y = vectors; /* PatchCore skips the projection: work on the caller's rows directly */
    } else {
        rp__coreset_projection(pd, dim, seed, weight);
        /* y = X W^T as torch.nn.Linear(bias=False), in 4096-row calls (kept: the goldens were
         * checked with this blocking) */
        for (uint64_t r0 = 0; r0 < n; r0 += CHUNK) {
            const uint64_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
            dnnl_status_t st = dnnl_sgemm('N', 'T', (dnnl_dim_t)rows, pd, dim, 1.0f, vectors + r0 * dim, dim, weight,
                                          dim, 0.0f, out->owned + r0 * pd, pd);
            if (release) release->fn(release->ctx, r0, rows);
            if (st != dnnl_success) {
                free(weight);
                rp__coreset_points_free(out);
                return rp__fail(RP_E_BACKEND, "%s: oneDNN sgemm failed (status %d) projecting rows %llu..", fn,
                                (int)st, (unsigned long long)r0);
            }
        }
        out->y = out->owned;
        free(weight);
    }
    const float *y = out->y;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < (int64_t)n; p++) {
        const float *row = y + (size_t)p * pd;
        float sq = 0.0f;
        for (uint32_t d = 0; d < pd; d++) sq += row[d] * row[d];
        out->norm[p] = sq;
    }
    return RP_OK;
}

void rp__coreset_points_free(rp__coreset_points *points)
{
    free(points->owned);
    free(points->norm);
    memset(points, 0, sizeof *points);
}

/* PatchCore's formula in plain float: -2 a.c first, then |a|^2, then |c|^2. */
static inline float formula_portable(float dot, float norm_a, float cn)
{
    float d2 = (-2.0f * dot + norm_a) + cn;
    return sqrtf(d2 > 0.0f ? d2 : 0.0f);
}

void rp__coreset_start_distances(const rp__coreset_points *P, const uint64_t *starts, uint32_t nstart, float *out)
{
    const uint32_t pd = P->pd;
    /* start rows transposed (pd x nstart) so the inner loop runs over the start points */
    float *ct = rp__malloc((size_t)pd * RP__CORESET_START_POINTS * sizeof(float));
    float cn[RP__CORESET_START_POINTS];
    float *local = ct;
    if (!ct) local = NULL; /* fall through to the row-at-a-time loop below */
    for (uint32_t s = 0; s < nstart; s++) {
        cn[s] = P->norm[starts[s]];
        if (local)
            for (uint32_t d = 0; d < pd; d++) local[(size_t)d * nstart + s] = P->y[starts[s] * pd + d];
    }
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < (int64_t)P->n; p++) {
        const float *row = P->y + (size_t)p * pd;
        float acc[RP__CORESET_START_POINTS] = {0};
        /* each acc[s] is a plain sequential sum over the dimensions */
        if (local) {
            for (uint32_t d = 0; d < pd; d++)
                for (uint32_t s = 0; s < nstart; s++) acc[s] += row[d] * local[(size_t)d * nstart + s];
        } else {
            for (uint32_t s = 0; s < nstart; s++)
                for (uint32_t d = 0; d < pd; d++) acc[s] += row[d] * P->y[starts[s] * pd + d];
        }
        float sum = 0.0f;
        for (uint32_t s = 0; s < nstart; s++) sum += formula_portable(acc[s], P->norm[p], cn[s]);
        out[p] = sum / (float)nstart;
    }
    free(ct);
}

/* Portable twin of the AVX-512 kernel below: the same four fused chains and the same formula. */
static void distances_portable(const float *rows, const float *norms, uint32_t pd, const uint32_t *idx,
                               uint32_t count, const float *c, float cn, float *out)
{
    const uint32_t pd4 = pd & ~3u;
    for (uint32_t i = 0; i < count; i++) {
        const float *row = rows + (size_t)idx[i] * pd;
        float chain[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (uint32_t d = 0; d < pd4; d += 4)
            for (uint32_t j = 0; j < 4; j++) chain[j] = fmaf(row[d + j], c[d + j], chain[j]);
        for (uint32_t d = pd4; d < pd; d++) chain[0] = fmaf(row[d], c[d], chain[0]);
        const float dot = (chain[0] + chain[1]) + (chain[2] + chain[3]);
        const float d2 = fmaf(-2.0f, dot, norms[idx[i]]) + cn;
        out[i] = sqrtf(d2 > 0.0f ? d2 : 0.0f);
    }
}

#ifdef RP_CORESET_HAVE_AVX512
/* The SIMD kernels' last step for a group of g rows: chain j of row i in a[4 i + j], the
 * leftover dimensions into chain 0, then (c0 + c1) + (c2 + c3) and fma(-2, dot, |a|^2) + |c|^2,
 * as the portable kernel does (fmaf is exact, so inlined or not the result is the same). */
static inline void finish_rows(float *a, const float *const *r, uint32_t g, uint32_t pd4, uint32_t pd, const float *c,
                               float cn, const float *norms, const uint32_t *idx, float *out)
{
    for (uint32_t i = 0; i < g; i++) {
        float *chain = a + 4 * i;
        for (uint32_t d = pd4; d < pd; d++) chain[0] = fmaf(r[i][d], c[d], chain[0]);
        const float dot = (chain[0] + chain[1]) + (chain[2] + chain[3]);
        const float d2 = fmaf(-2.0f, dot, norms[idx[i]]) + cn;
        out[i] = sqrtf(d2 > 0.0f ? d2 : 0.0f);
    }
}

/* The SIMD kernels take rows in groups of 16 from scattered places: fetch the rows of the group
 * two ahead of group i0 (at the first group, the first two groups). */
static inline void prefetch_rows_ahead(const float *rows, uint32_t pd, const uint32_t *idx, uint32_t i0,
                                       uint32_t count)
{
    for (uint32_t ahead = i0 == 0 ? 0 : 32; ahead <= 32; ahead += 16) {
        if (i0 + ahead >= count) break;
        const uint32_t gn = count - i0 - ahead < 16 ? count - i0 - ahead : 16;
        for (uint32_t i = 0; i < gn; i++) {
            const char *nr = (const char *)(rows + (size_t)idx[i0 + ahead + i] * pd);
            for (uint32_t b = 0; b < pd * sizeof(float); b += 64) _mm_prefetch(nr + b, _MM_HINT_T0);
        }
    }
}
#endif

#ifdef RP_CORESET_HAVE_AVX512
/* AVX-512 kernel. Per row, the dot product is four fused chains (dimension d feeds chain d % 4,
 * leftover dimensions chain 0), summed as (c0 + c1) + (c2 + c3); then fma(-2, dot, |a|^2) + |c|^2.
 * One register holds 4 dims of 4 rows, so 16 rows are 4 independent accumulators and each row
 * is read as 4-float pieces straight from its (randomly placed) row: no transposition. */
__attribute__((target("avx512f,fma"))) static void distances_avx512(const float *rows, const float *norms,
                                                                   uint32_t pd, const uint32_t *idx, uint32_t count,
                                                                   const float *c, float cn, float *out)
{
    const uint32_t pd4 = pd & ~3u;
    for (uint32_t i0 = 0; i0 < count; i0 += 16) {
        const uint32_t g = count - i0 < 16 ? count - i0 : 16;
        const float *r[16];
        for (uint32_t i = 0; i < 16; i++) r[i] = rows + (size_t)idx[i0 + (i < g ? i : 0)] * pd;
        prefetch_rows_ahead(rows, pd, idx, i0, count);
        __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (uint32_t d = 0; d < pd4; d += 4) {
            const __m512 cv = _mm512_broadcast_f32x4(_mm_loadu_ps(c + d));
#define RP_FOUR_ROWS(q)                                                                                       \
    _mm512_insertf32x4(                                                                                       \
        _mm512_insertf32x4(_mm512_insertf32x4(_mm512_castps128_ps512(_mm_loadu_ps(r[4 * (q)] + d)),          \
                                              _mm_loadu_ps(r[4 * (q) + 1] + d), 1),                           \
                           _mm_loadu_ps(r[4 * (q) + 2] + d), 2),                                              \
        _mm_loadu_ps(r[4 * (q) + 3] + d), 3)
            acc0 = _mm512_fmadd_ps(RP_FOUR_ROWS(0), cv, acc0);
            acc1 = _mm512_fmadd_ps(RP_FOUR_ROWS(1), cv, acc1);
            acc2 = _mm512_fmadd_ps(RP_FOUR_ROWS(2), cv, acc2);
            acc3 = _mm512_fmadd_ps(RP_FOUR_ROWS(3), cv, acc3);
#undef RP_FOUR_ROWS
        }
        float a[64];
        _mm512_storeu_ps(a, acc0);
        _mm512_storeu_ps(a + 16, acc1);
        _mm512_storeu_ps(a + 32, acc2);
        _mm512_storeu_ps(a + 48, acc3);
        finish_rows(a, r, g, pd4, pd, c, cn, norms, idx + i0, out + i0);
    }
}
#endif

#ifdef RP_CORESET_HAVE_AVX512
/* AVX2 + FMA kernel: the same arithmetic as the two above (chain d % 4, (c0 + c1) + (c2 + c3),
 * fma(-2, dot, |a|^2) + |c|^2). One 256-bit register holds 4 dims of 2 rows (its low half row
 * 2q, its high half row 2q + 1), so lane j of each half is chain j of its row: 16 rows are 8
 * independent accumulators. Rows are read straight from their (scattered) places. */
__attribute__((target("avx2,fma"))) static void distances_avx2(const float *rows, const float *norms, uint32_t pd,
                                                              const uint32_t *idx, uint32_t count, const float *c,
                                                              float cn, float *out)
{
    const uint32_t pd4 = pd & ~3u;
    for (uint32_t i0 = 0; i0 < count; i0 += 16) {
        const uint32_t g = count - i0 < 16 ? count - i0 : 16;
        const float *r[16];
        for (uint32_t i = 0; i < 16; i++) r[i] = rows + (size_t)idx[i0 + (i < g ? i : 0)] * pd;
        prefetch_rows_ahead(rows, pd, idx, i0, count);
        __m256 acc[8];
        for (int q = 0; q < 8; q++) acc[q] = _mm256_setzero_ps();
        for (uint32_t d = 0; d < pd4; d += 4) {
            const __m256 cv = _mm256_broadcast_ps((const __m128 *)(c + d));
            for (int q = 0; q < 8; q++) {
                const __m256 two = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r[2 * q] + d)),
                                                        _mm_loadu_ps(r[2 * q + 1] + d), 1);
                acc[q] = _mm256_fmadd_ps(two, cv, acc[q]);
            }
        }
        float a[64];
        for (int q = 0; q < 8; q++) _mm256_storeu_ps(a + 8 * q, acc[q]);
        finish_rows(a, r, g, pd4, pd, c, cn, norms, idx + i0, out + i0);
    }
}
#endif

rp__coreset_distance_fn rp__coreset_distance_kernel(void)
{
#ifdef RP_CORESET_HAVE_AVX512
    if (rp__cpu_use_avx512()) return distances_avx512;
    if (rp__cpu_use_avx2()) return distances_avx2;
#endif
    return distances_portable;
}

uint32_t rp__coreset_distance_kernels(rp__coreset_distance_fn *out, const char **names)
{
    uint32_t k = 0;
    out[k] = distances_portable;
    names[k++] = "portable";
#ifdef RP_CORESET_HAVE_AVX512
    if (rp__cpu_can_run(RP__ISA_AVX2)) {
        out[k] = distances_avx2;
        names[k++] = "avx2";
    }
    if (rp__cpu_can_run(RP__ISA_AVX512)) {
        out[k] = distances_avx512;
        names[k++] = "avx512";
    }
#endif
    return k;
}

const char *rp__coreset_kernel_isa(void)
{
#ifdef RP_CORESET_HAVE_AVX512
    return rp__isa_name(rp__cpu_isa());
#else
    return rp__isa_name(RP__ISA_PORTABLE);
#endif
}

double rp__coreset_distance_error_bound(const rp__coreset_points *P)
{
    /* |fl(a.c) - a.c| <= gamma(pd + 2) |a||c| for either kernel's summation order, each norm is
     * off by at most gamma(pd) |a|^2, and the formula rounds twice on values below 4 N^2, where N^2
     * is the largest squared norm. Summed, with room to spare: (4.5 pd + 32) u N^2. */
    const double u = FLT_EPSILON / 2.0;
    float largest = 0.0f;
    for (uint64_t p = 0; p < P->n; p++) {
        if (!(P->norm[p] <= FLT_MAX)) return INFINITY; /* overflowed projection: never prune */
        if (P->norm[p] > largest) largest = P->norm[p];
    }
    const double n2 = (double)largest * (1.0 + 2.0 * P->pd * u);
    return (4.5 * P->pd + 32.0) * u * n2;
}
