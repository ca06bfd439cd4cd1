/* Per-row loops of the exact kNN. Reductions use fixed lane layouts (16 float lanes x 2 for the
 * norms, 8 double lanes x 4 for the exact distance) that the portable code spells out with arrays,
 * so the AVX-512, AVX2 and portable versions add the same numbers in the same order (AVX2 holds
 * each 16-lane or 8-lane accumulator in two registers). Separate multiply and add (no fused
 * multiply-add) for the same reason. */
#include "bank/knn_kernels.h"

#include <math.h>

#include "common/common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RP_KNN_HAVE_AVX512 1
#endif

/* Inlined into the vector loops so that they run no SSE-encoded code (see below). */
static inline __attribute__((always_inline)) void insert(rp__knn_candidate *list, uint32_t *len, uint32_t cap,
                                                         float value, uint64_t index)
{
    uint32_t i = *len < cap ? (*len)++ : cap - 1; /* a full list drops its worst */
    while (i > 0 && (list[i - 1].value > value || (list[i - 1].value == value && list[i - 1].index > index))) {
        list[i] = list[i - 1];
        i--;
    }
    list[i].value = value;
    list[i].index = index;
}

void rp__knn_insert(rp__knn_candidate *list, uint32_t *len, uint32_t cap, float value, uint64_t index)
{
    insert(list, len, cap, value, index);
}

/* The scan's step for one distance d2 of bank index j: a candidate if below the current worst,
 * clamped at 0; *worst follows the list once it is full. Every version scans through this. */
static inline __attribute__((always_inline)) void offer(float d2, uint64_t j, float *worst, rp__knn_candidate *list,
                                                        uint32_t *len, uint32_t cap)
{
    if (d2 < *worst) {
        insert(list, len, cap, d2 > 0.0f ? d2 : 0.0f, j);
        if (*len == cap) *worst = list[cap - 1].value;
    }
}

/* Distances [from, to) one at a time. */
static inline __attribute__((always_inline)) void scan_scalar(const float *dots, const float *bnorms, uint64_t from,
                                                              uint64_t to, uint64_t first, float qnorm, float *worst,
                                                              rp__knn_candidate *list, uint32_t *len, uint32_t cap)
{
    for (uint64_t j = from; j < to; j++) offer((qnorm + bnorms[j]) - 2.0f * dots[j], first + j, worst, list, len, cap);
}

/* The vector scans' rare hits: lanes set in `hits` of the distances v (bank indices first + l),
 * in index order, each re-checked against the worst as it moves. */
static inline __attribute__((always_inline)) void offer_hits(const float *v, unsigned hits, uint64_t first,
                                                             float *worst, rp__knn_candidate *list, uint32_t *len,
                                                             uint32_t cap)
{
    for (; hits; hits &= hits - 1) {
        const int l = __builtin_ctz(hits);
        offer(v[l], first + (uint64_t)l, worst, list, len, cap);
    }
}

/* ---- fixed-order horizontal sums shared by both versions ---- */

static inline __attribute__((always_inline)) float sum16(const float *a, const float *b)
{
    float s[16];
    for (int l = 0; l < 16; l++) s[l] = a[l] + b[l];
    for (int half = 8; half >= 1; half /= 2)
        for (int l = 0; l < half; l++) s[l] += s[l + half];
    return s[0];
}

static inline __attribute__((always_inline)) double sum8x4(const double *a0, const double *a1, const double *a2,
                                                           const double *a3)
{
    double s[8];
    for (int l = 0; l < 8; l++) s[l] = (a0[l] + a1[l]) + (a2[l] + a3[l]);
    for (int half = 4; half >= 1; half /= 2)
        for (int l = 0; l < half; l++) s[l] += s[l + half];
    return s[0];
}

/* ---- portable versions ---- */

static inline __attribute__((always_inline)) float sq_norm_portable(const float *v, uint32_t dim)
{
    const uint32_t dim32 = dim & ~31u;
    float a0[16] = {0}, a1[16] = {0}, tail = 0.0f;
    for (uint32_t d = 0; d < dim32; d += 32)
        for (int l = 0; l < 16; l++) {
            a0[l] += v[d + l] * v[d + l];
            a1[l] += v[d + 16 + l] * v[d + 16 + l];
        }
    for (uint32_t d = dim32; d < dim; d++) tail += v[d] * v[d];
    return sum16(a0, a1) + tail;
}

static double exact_sq_portable(const float *a, const float *b, uint32_t dim)
{
    const uint32_t dim32 = dim & ~31u;
    double acc[4][8] = {{0}}, tail = 0.0;
    for (uint32_t d = 0; d < dim32; d += 32)
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 8; l++) {
                const double diff = (double)a[d + 8 * c + l] - (double)b[d + 8 * c + l];
                acc[c][l] += diff * diff;
            }
    for (uint32_t d = dim32; d < dim; d++) {
        const double diff = (double)a[d] - (double)b[d];
        tail += diff * diff;
    }
    return sum8x4(acc[0], acc[1], acc[2], acc[3]) + tail;
}

static void sq_norms_portable(const float *v, uint64_t rows, uint32_t dim, float *out)
{
    for (uint64_t i = 0; i < rows; i++) out[i] = sq_norm_portable(v + i * dim, dim);
}

static void scan_row_portable(const float *dots, const float *bnorms, uint64_t width, uint64_t first, float qnorm,
                              rp__knn_candidate *list, uint32_t *len, uint32_t cap)
{
    float worst = *len == cap ? list[cap - 1].value : INFINITY;
    scan_scalar(dots, bnorms, 0, width, first, qnorm, &worst, list, len, cap);
}

/* ---- AVX-512 versions ----
 * They call no function compiled for plain SSE (helpers are forced inline, so they get the VEX
 * encoding too): on this Intel host, SSE code running between 512-bit instructions made the scan
 * 20x slower. */

#ifdef RP_KNN_HAVE_AVX512
__attribute__((target("avx512f"))) static inline float sq_norm_avx512(const float *v, uint32_t dim)
{
    const uint32_t dim32 = dim & ~31u;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    for (uint32_t d = 0; d < dim32; d += 32) {
        const __m512 x0 = _mm512_loadu_ps(v + d), x1 = _mm512_loadu_ps(v + d + 16);
        a0 = _mm512_add_ps(a0, _mm512_mul_ps(x0, x0));
        a1 = _mm512_add_ps(a1, _mm512_mul_ps(x1, x1));
    }
    float tail = 0.0f, l0[16], l1[16];
    _mm512_storeu_ps(l0, a0);
    _mm512_storeu_ps(l1, a1);
    for (uint32_t d = dim32; d < dim; d++) tail += v[d] * v[d];
    return sum16(l0, l1) + tail;
}

__attribute__((target("avx512f"))) static void sq_norms_avx512(const float *v, uint64_t rows, uint32_t dim,
                                                               float *out)
{
    for (uint64_t i = 0; i < rows; i++) out[i] = sq_norm_avx512(v + i * dim, dim);
}

__attribute__((target("avx512f"))) static double exact_sq_avx512(const float *a, const float *b, uint32_t dim)
{
    const uint32_t dim32 = dim & ~31u;
    __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
    for (uint32_t d = 0; d < dim32; d += 32)
        for (int c = 0; c < 4; c++) {
            const __m512d diff = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a + d + 8 * c)),
                                               _mm512_cvtps_pd(_mm256_loadu_ps(b + d + 8 * c)));
            acc[c] = _mm512_add_pd(acc[c], _mm512_mul_pd(diff, diff));
        }
    double tail = 0.0, lanes[4][8];
    for (int c = 0; c < 4; c++) _mm512_storeu_pd(lanes[c], acc[c]);
    for (uint32_t d = dim32; d < dim; d++) {
        const double diff = (double)a[d] - (double)b[d];
        tail += diff * diff;
    }
    return sum8x4(lanes[0], lanes[1], lanes[2], lanes[3]) + tail;
}

/* 16 distances per step; the rare steps with a distance below the current worst candidate fall
 * back to the portable insertion, lane by lane in index order, exactly as the scalar loop. */
__attribute__((target("avx512f"))) static void scan_row_avx512(const float *dots, const float *bnorms,
                                                               uint64_t width, uint64_t first, float qnorm,
                                                               rp__knn_candidate *list, uint32_t *len, uint32_t cap)
{
    float worst = *len == cap ? list[cap - 1].value : INFINITY;
    const __m512 qn = _mm512_set1_ps(qnorm), two = _mm512_set1_ps(2.0f);
    for (uint64_t j0 = 0; j0 < width; j0 += 16) {
        const __mmask16 in = width - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (width - j0)) - 1u);
        const __m512 dot = _mm512_maskz_loadu_ps(in, dots + j0), bn = _mm512_maskz_loadu_ps(in, bnorms + j0);
        const __m512 d2 = _mm512_sub_ps(_mm512_add_ps(qn, bn), _mm512_mul_ps(two, dot));
        const __mmask16 hits = _mm512_mask_cmp_ps_mask(in, d2, _mm512_set1_ps(worst), _CMP_LT_OQ);
        if (!hits) continue;
        float v[16];
        _mm512_storeu_ps(v, d2);
        offer_hits(v, hits, first + j0, &worst, list, len, cap);
    }
}
#endif

/* ---- AVX2 + FMA versions (no FMA used: see the top) ----
 * Each 16-lane float or 8-lane double accumulator of the portable code is two registers here. */

#ifdef RP_KNN_HAVE_AVX512
__attribute__((target("avx2,fma"))) static inline float sq_norm_avx2(const float *v, uint32_t dim)
{
    const uint32_t dim32 = dim & ~31u;
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (uint32_t d = 0; d < dim32; d += 32)
        for (int r = 0; r < 4; r++) { /* r: lanes 8r..8r+7 of the pair (a0, a1) */
            const __m256 x = _mm256_loadu_ps(v + d + 8 * r);
            a[r] = _mm256_add_ps(a[r], _mm256_mul_ps(x, x));
        }
    float tail = 0.0f, l[32];
    for (int r = 0; r < 4; r++) _mm256_storeu_ps(l + 8 * r, a[r]);
    for (uint32_t d = dim32; d < dim; d++) tail += v[d] * v[d];
    return sum16(l, l + 16) + tail;
}

__attribute__((target("avx2,fma"))) static void sq_norms_avx2(const float *v, uint64_t rows, uint32_t dim,
                                                              float *out)
{
    for (uint64_t i = 0; i < rows; i++) out[i] = sq_norm_avx2(v + i * dim, dim);
}

__attribute__((target("avx2,fma"))) static double exact_sq_avx2(const float *a, const float *b, uint32_t dim)
{
    const uint32_t dim32 = dim & ~31u;
    __m256d acc[8]; /* acc[2c + h]: lanes 4h..4h+3 of the portable acc[c] */
    for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_pd();
    for (uint32_t d = 0; d < dim32; d += 32)
        for (int i = 0; i < 8; i++) {
            const __m256d diff = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + d + 4 * i)),
                                               _mm256_cvtps_pd(_mm_loadu_ps(b + d + 4 * i)));
            acc[i] = _mm256_add_pd(acc[i], _mm256_mul_pd(diff, diff));
        }
    double tail = 0.0, lanes[32];
    for (int i = 0; i < 8; i++) _mm256_storeu_pd(lanes + 4 * i, acc[i]);
    for (uint32_t d = dim32; d < dim; d++) {
        const double diff = (double)a[d] - (double)b[d];
        tail += diff * diff;
    }
    return sum8x4(lanes, lanes + 8, lanes + 16, lanes + 24) + tail;
}

/* 8 distances per step, then the scalar loop for the last width % 8; hits fall back to the
 * portable insertion lane by lane in index order, as in the AVX-512 scan. */
__attribute__((target("avx2,fma"))) static void scan_row_avx2(const float *dots, const float *bnorms, uint64_t width,
                                                              uint64_t first, float qnorm, rp__knn_candidate *list,
                                                              uint32_t *len, uint32_t cap)
{
    float worst = *len == cap ? list[cap - 1].value : INFINITY;
    const __m256 qn = _mm256_set1_ps(qnorm), two = _mm256_set1_ps(2.0f);
    const uint64_t width8 = width & ~(uint64_t)7;
    __m256 limit = _mm256_set1_ps(worst);
    for (uint64_t j0 = 0; j0 < width8; j0 += 8) {
        const __m256 d2 = _mm256_sub_ps(_mm256_add_ps(qn, _mm256_loadu_ps(bnorms + j0)),
                                        _mm256_mul_ps(two, _mm256_loadu_ps(dots + j0)));
        const unsigned hits = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(d2, limit, _CMP_LT_OQ));
        if (!hits) continue;
        float v[8];
        _mm256_storeu_ps(v, d2);
        offer_hits(v, hits, first + j0, &worst, list, len, cap);
        limit = _mm256_set1_ps(worst);
    }
    scan_scalar(dots, bnorms, width8, width, first, qnorm, &worst, list, len, cap);
}
#endif

static const rp__knn_kernel_set sets[RP__ISA_COUNT] = {
    [RP__ISA_PORTABLE] = {sq_norms_portable, scan_row_portable, exact_sq_portable},
#ifdef RP_KNN_HAVE_AVX512
    [RP__ISA_AVX2] = {sq_norms_avx2, scan_row_avx2, exact_sq_avx2},
    [RP__ISA_AVX512] = {sq_norms_avx512, scan_row_avx512, exact_sq_avx512},
#endif
};

const rp__knn_kernel_set *rp__knn_kernels_for(rp__isa isa)
{
    if ((unsigned)isa >= RP__ISA_COUNT || !sets[isa].scan_row || !rp__cpu_can_run(isa)) return NULL;
    return &sets[isa];
}

/* The set the switches choose (common/cpu.c); one that this build lacks falls back to portable. */
static const rp__knn_kernel_set *chosen(void)
{
    const rp__isa isa = rp__cpu_isa();
    return sets[isa].scan_row ? &sets[isa] : &sets[RP__ISA_PORTABLE];
}

void rp__knn_sq_norms(const float *v, uint64_t rows, uint32_t dim, float *out) { chosen()->sq_norms(v, rows, dim, out); }

void rp__knn_scan_row(const float *dots, const float *bnorms, uint64_t width, uint64_t first, float qnorm,
                      rp__knn_candidate *list, uint32_t *len, uint32_t cap)
{
    chosen()->scan_row(dots, bnorms, width, first, qnorm, list, len, cap);
}

double rp__knn_exact_sq(const float *a, const float *b, uint32_t dim) { return chosen()->exact_sq(a, b, dim); }
