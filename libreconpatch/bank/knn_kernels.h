/* The per-row loops of the exact kNN (bank/knn.c): squared norms, the scan of one row of dot
 * products into a candidate list, and the exact re-ranking distance. Each has AVX-512 and AVX2 +
 * FMA versions picked at run time (common/cpu.c) and a portable one; all perform the same
 * float/double operations in the same order, so they give bit-identical results. */
#ifndef RP_BANK_KNN_KERNELS_H
#define RP_BANK_KNN_KERNELS_H

#include <stdint.h>

#include "common/common.h"

/* One candidate of a query, lists kept ascending by (value, index). */
typedef struct {
    float value;
    uint32_t pad;
    uint64_t index;
} rp__knn_candidate;

/* Insert into a sorted list of *len (<= cap) entries; a full list drops its worst. */
void rp__knn_insert(rp__knn_candidate *list, uint32_t *len, uint32_t cap, float value, uint64_t index);

/* out[i] = sum_d v[i * dim + d]^2 in float, for i in [0, rows). */
void rp__knn_sq_norms(const float *v, uint64_t rows, uint32_t dim, float *out);

/* Fold one query's approximate squared distances d2_j = (qnorm + bnorms[j]) - 2 dots[j],
 * j in [0, width), clamped at 0, into its candidate list; bank index of j is first + j. */
void rp__knn_scan_row(const float *dots, const float *bnorms, uint64_t width, uint64_t first, float qnorm,
                      rp__knn_candidate *list, uint32_t *len, uint32_t cap);

/* sum_d (a[d] - b[d])^2 with the differences and the sum in double. */
double rp__knn_exact_sq(const float *a, const float *b, uint32_t dim);

/* One instruction set's versions of the three calls above. */
typedef struct {
    void (*sq_norms)(const float *v, uint64_t rows, uint32_t dim, float *out);
    void (*scan_row)(const float *dots, const float *bnorms, uint64_t width, uint64_t first, float qnorm,
                     rp__knn_candidate *list, uint32_t *len, uint32_t cap);
    double (*exact_sq)(const float *a, const float *b, uint32_t dim);
} rp__knn_kernel_set;

/* The set of one instruction set, or NULL when this CPU cannot run it or the build has none: the
 * tests feed every available set the same input and compare the outputs bit for bit. */
const rp__knn_kernel_set *rp__knn_kernels_for(rp__isa isa);

#endif
