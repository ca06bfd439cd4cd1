/* Query rows to bf16 for the opt-in bf16 kNN ranking. The bf16 search only runs where oneDNN
 * reports AVX512-BF16 (bank/knn.c checks), so the vector loop needs no run-time dispatch there; the
 * plain loop serves other compilers / architectures and rounds the same way (ties to even), so both
 * give identical results. */
#include "bank/knn_bf16.h"

#include "common/bf16.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RP_KNN_BF16_AVX512 1
#endif

#ifdef RP_KNN_BF16_AVX512
/* vcvtneps2bf16: round to nearest even, as rp__bf16_bits */
__attribute__((target("avx512f,avx512bf16"))) static void to_bf16_avx512(const float *v, uint64_t n, uint16_t *out)
{
    const uint64_t n16 = n & ~(uint64_t)15;
    for (uint64_t i = 0; i < n16; i += 16) {
        const __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(v + i));
        _mm256_storeu_si256((__m256i *)(out + i), (__m256i)h);
    }
    for (uint64_t i = n16; i < n; i++) out[i] = rp__bf16_bits(v[i]);
}
#endif

void rp__knn_to_bf16(const float *v, uint64_t n, uint16_t *out)
{
#ifdef RP_KNN_BF16_AVX512
    to_bf16_avx512(v, n, out);
#else
    for (uint64_t i = 0; i < n; i++) out[i] = rp__bf16_bits(v[i]);
#endif
}
