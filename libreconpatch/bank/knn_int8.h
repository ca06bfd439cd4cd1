/* Symmetric per-vector s8 quantisation for the opt-in int8 kNN (bank/knn.c, docs/memory-bank.md). */
#ifndef RP_BANK_KNN_INT8_H
#define RP_BANK_KNN_INT8_H

#include <stdint.h>

/* out[d] = round(v[d] / s) in [-127, 127] with s = max_d |v[d]| / 127, returned (0 for an all-zero
 * row, whose out is all zero). -128 is never used, so the scale is symmetric. */
/* Only called in int8 mode, i.e. where oneDNN reports AVX-512 VNNI (x86-64 builds use AVX-512). */
float rp__knn_quantise_row(const float *v, uint32_t dim, int8_t *out);

/* out[j] = dots[j] * (qscale * bscales[j]): the int8 products back on the float scale of q.b. */
void rp__knn_dequantise_row(const int32_t *dots, float qscale, const float *bscales, uint64_t width, float *out);

#endif
