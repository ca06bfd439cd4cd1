/* Rounding a float to bfloat16, nearest with ties to even: what oneDNN's conversions do. Shared by
 * the backbone's bf16 rounding study (backbone/resnet_net.c) and the bf16 kNN ranking's queries
 * (bank/knn_bf16.c). */
#ifndef RP_COMMON_BF16_H
#define RP_COMMON_BF16_H

#include <stdint.h>
#include <string.h>

/* The upper 16 bits of f rounded to nearest, ties to even; a NaN stays a NaN, made quiet, as
 * AVX512-BF16's vcvtneps2bf16 does (plain rounding would carry a payload held in the low bits into
 * the exponent and give infinity). */
static inline uint16_t rp__bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 0x0040u);
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1u)) >> 16);
}

#endif
