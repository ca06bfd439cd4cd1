/* Query rows to bf16 for the opt-in bf16 kNN ranking (bank/knn.c, docs/memory-bank.md). */
#ifndef RP_BANK_KNN_BF16_H
#define RP_BANK_KNN_BF16_H

#include <stdint.h>

/* out[i] = v[i] rounded to the nearest bf16, ties to even: the conversion oneDNN's reorder applies
 * to the bank, so a query equal to a bank vector stays equal to it. v must be finite (the bank
 * rejects non-finite vectors and queries). */
void rp__knn_to_bf16(const float *v, uint64_t n, uint16_t *out);

#endif
