/* Symmetric per-vector s8 quantisation for the opt-in int8 kNN. The int8 search only runs where
 * oneDNN reports AVX-512 VNNI (bank/knn.c checks), so the AVX-512 loops below need no run-time
 * dispatch there; the plain loops serve other compilers / architectures and perform the same float
 * operations, so both give identical results. Nothing depends on the thread count. */
#include "bank/knn_int8.h"

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RP_KNN_INT8_AVX512 1
#endif

/* round half away from zero: trunc(t + copysign(0.5, t)), as the vector code does */
static inline int8_t round_s8(float t)
{
    const int r = (int)(t + (t >= 0.0f ? 0.5f : -0.5f));
    return (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
}

#ifdef RP_KNN_INT8_AVX512
__attribute__((target("avx512f,avx512bw"))) static float quantise_avx512(const float *v, uint32_t dim, int8_t *out)
{
    const uint32_t dim16 = dim & ~15u;
    __m512 vmax = _mm512_setzero_ps();
    for (uint32_t d = 0; d < dim16; d += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(v + d)));
    float max = _mm512_reduce_max_ps(vmax);
    for (uint32_t d = dim16; d < dim; d++) max = fabsf(v[d]) > max ? fabsf(v[d]) : max;
    if (max == 0.0f) {
        for (uint32_t d = 0; d < dim; d++) out[d] = 0;
        return 0.0f;
    }
    const float inv = 127.0f / max;
    const __m512 vinv = _mm512_set1_ps(inv), half = _mm512_set1_ps(0.5f), minus_half = _mm512_set1_ps(-0.5f);
    for (uint32_t d = 0; d < dim16; d += 16) {
        const __m512 t = _mm512_mul_ps(_mm512_loadu_ps(v + d), vinv);
        /* +-0.5 with t's sign (t >= 0 takes +0.5, as the scalar code; -0.0 rounds to 0 either way) */
        const __mmask16 neg = _mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_LT_OQ);
        const __m512 off = _mm512_mask_blend_ps(neg, half, minus_half);
        const __m512i r = _mm512_cvttps_epi32(_mm512_add_ps(t, off));
        _mm_storeu_si128((__m128i *)(out + d), _mm512_cvtsepi32_epi8(r)); /* |r| <= 127 already */
    }
    for (uint32_t d = dim16; d < dim; d++) out[d] = round_s8(v[d] * inv);
    return max / 127.0f;
}

__attribute__((target("avx512f"))) static void dequantise_avx512(const int32_t *dots, float qscale,
                                                                 const float *bscales, uint64_t width, float *out)
{
    const __m512 qs = _mm512_set1_ps(qscale);
    for (uint64_t j = 0; j < width; j += 16) {
        const __mmask16 in = width - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (width - j)) - 1u);
        const __m512 s = _mm512_mul_ps(qs, _mm512_maskz_loadu_ps(in, bscales + j));
        const __m512 d = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(in, dots + j));
        _mm512_mask_storeu_ps(out + j, in, _mm512_mul_ps(d, s));
    }
}
#endif

float rp__knn_quantise_row(const float *v, uint32_t dim, int8_t *out)
{
#ifdef RP_KNN_INT8_AVX512
    return quantise_avx512(v, dim, out);
#else
    float max = 0.0f;
    for (uint32_t d = 0; d < dim; d++) max = fabsf(v[d]) > max ? fabsf(v[d]) : max;
    if (max == 0.0f) {
        for (uint32_t d = 0; d < dim; d++) out[d] = 0;
        return 0.0f;
    }
    const float inv = 127.0f / max;
    for (uint32_t d = 0; d < dim; d++) out[d] = round_s8(v[d] * inv);
    return max / 127.0f;
#endif
}

void rp__knn_dequantise_row(const int32_t *dots, float qscale, const float *bscales, uint64_t width, float *out)
{
#ifdef RP_KNN_INT8_AVX512
    dequantise_avx512(dots, qscale, bscales, width, out);
#else
    for (uint64_t j = 0; j < width; j++) out[j] = (float)dots[j] * (qscale * bscales[j]);
#endif
}
