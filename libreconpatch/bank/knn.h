/* Exact k-nearest-neighbour search over a fixed set of vectors, as blocked matrix products
 * (oneDNN matmul, bank pre-packed) plus a per-query top-k, with exact re-ranking of the final
 * candidates. docs/memory-bank.md. */
#ifndef RP_BANK_KNN_H
#define RP_BANK_KNN_H

#include <stdint.h>

/* Bank columns per matrix-product block (bounds the per-call scratch). */
#define RP__KNN_BANK_BLOCK 8192u
/* The same for plain products (dnnl_sgemm, CPUs where oneDNN has no brgemm matmul: bank/knn.c)
 * when each thread takes whole query blocks: the 196 x 256 tile (200 KB) stays in L2 for the
 * scan. */
#define RP__KNN_GEMM_BANK_BLOCK 256u
/* Query rows per matrix-product call, fixed so oneDNN can use its packed-weights kernel; the last
 * block of a call is zero-padded. 196 = 784 / 4: one 224 x 224 image's patches fill 4 blocks,
 * which is also the unit of work of a thread (bank/knn.c). */
#define RP__KNN_QUERY_BLOCK 196u
/* Most bytes of product tiles one search may hold when threads take whole query blocks (one
 * tile of RP__KNN_QUERY_BLOCK x bank block floats per thread); beyond it, one tile is shared. */
#define RP__KNN_TILE_BUDGET (64ull << 20)
/* Extra approximate candidates kept per query and re-ranked exactly, so near-ties that the
 * |q|^2 + |b|^2 - 2 q.b formula orders wrongly still come out in the right order (candidates
 * provably beyond the k-th by the formula's error bound are skipped: same result, less work). */
#define RP__KNN_EXTRA_CANDIDATES 8u
/* Largest k accepted (the per-query candidate list is a sorted array). */
#define RP__KNN_MAX_K 1024u

typedef struct rp__knn rp__knn;

/* The products that rank candidates: fp32 (default), s8 (needs rp__knn_int8_supported()) or bf16
 * (needs rp__knn_bf16_supported()); the final candidates are re-ranked exactly in every mode. */
typedef enum { RP__KNN_RANK_FP32 = 0, RP__KNN_RANK_INT8 = 1, RP__KNN_RANK_BF16 = 2 } rp__knn_ranking;

/* Pack vectors (n x dim, row-major; the caller keeps them alive and unchanged for the index's
 * lifetime: the exact re-ranking reads them). A ranking this CPU cannot run natively fails with
 * RP_E_UNSUPPORTED. fn prefixes error messages. */
int rp__knn_create(const float *vectors, uint64_t n, uint32_t dim, rp__knn_ranking ranking, const char *fn,
                   rp__knn **out);

/* 1 when oneDNN reports AVX-512 VNNI (the int8 ranking's requirement), else 0. */
int rp__knn_int8_supported(void);

/* 1 when oneDNN reports AVX512-BF16 or better (the bf16 ranking's requirement: vdpbf16ps), else 0. */
int rp__knn_bf16_supported(void);

/* Thread-safe on a shared index: all scratch is per call. */
int rp__knn_search(const rp__knn *index, const float *queries, uint64_t count, uint32_t k, float *distances_out,
                   uint64_t *indices_out, const char *fn);

/* Bytes held by the index beyond the caller's vectors (packed copy, norms). */
uint64_t rp__knn_bytes(const rp__knn *index);

void rp__knn_free(rp__knn *index);

#endif
