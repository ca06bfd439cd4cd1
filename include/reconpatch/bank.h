/* libreconpatch: the memory bank. Patch features of normal training images are added, then a
 * greedy k-centre coreset keeps a representative subset (PatchCore's approximate greedy sampler),
 * and the frozen bank answers exact k-nearest-neighbour queries. See docs/memory-bank.md.
 *
 * Threads: a bank being filled (rp_bank_add, rp_bank_freeze) needs exclusive use. A frozen bank is
 * read-only: rp_bank_search, rp_bank_get_vectors, rp_bank_size, rp_bank_dim and rp_bank_is_frozen
 * may run from many threads at once (each search call allocates its own scratch). */
#ifndef RECONPATCH_BANK_H
#define RECONPATCH_BANK_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_bank rp_bank;

typedef struct rp_bank_params {
    uint32_t struct_size;
    uint32_t dim;            /* length of every vector; 0 = set by the first rp_bank_add */
    double coreset_ratio;    /* fraction of added vectors kept at freeze; 0 = 0.1; 1 keeps all */
    uint64_t coreset_count;  /* absolute number kept; overrides coreset_ratio when non-zero */
    uint32_t projection_dim; /* random projection for the approximate greedy coreset; 0 = 128 */
    uint32_t num_threads;    /* coreset, index and rp_bank_search threads; 0 = one per online CPU core */
    uint64_t seed;           /* coreset randomness; 0 = RP_BANK_DEFAULT_SEED */
    uint32_t knn_int8;       /* non-zero: the nearest-neighbour search ranks candidates with int8 products
                              * (AVX-512 VNNI) and re-ranks the best k + 8 exactly in double; distances
                              * returned are exact for the candidates found; see docs/memory-bank.md for
                              * its measured accuracy. RP_E_UNSUPPORTED (at freeze / create_frozen) on a
                              * CPU without VNNI. A shorter struct (older callers) reads as 0. */
    uint32_t knn_bf16;       /* non-zero: the same with bf16 products (AVX512-BF16, fp32 accumulation);
                              * RP_E_UNSUPPORTED on a CPU without AVX512-BF16, RP_E_INVALID_ARG together
                              * with knn_int8. It was reserved0 (must be 0), so an older library refuses
                              * a caller that sets it (RP_E_VERSION). */
} rp_bank_params;

/* The seed used when rp_bank_params.seed is 0. */
#define RP_BANK_DEFAULT_SEED 0x5EEDC0DE5EEDC0DEull

/* Fill *p with defaults (all zero) and struct_size = min(size, sizeof *p). */
RP_API int rp_bank_params_init(rp_bank_params *p, size_t size);

/* An empty, growable bank of p->dim-long vectors. p may be NULL (all defaults; the dim is then
 * set by the first rp_bank_add). */
RP_API int rp_bank_create(const rp_bank_params *p, rp_bank **out);

/* Append count vectors (count x dim floats, row-major; copied). dim must equal the bank's
 * (RP_E_SHAPE otherwise; a bank created with dim 0 takes the dim of its first non-empty add);
 * RP_E_STATE once the bank is frozen; non-finite values are rejected (RP_E_INVALID_ARG).
 * count 0 is a no-op. On failure the bank is unchanged. */
RP_API int rp_bank_add(rp_bank *bank, const float *vectors, uint64_t count, uint32_t dim);

/* Select the coreset (greedy k-centre on a seeded random projection), compact the bank in place
 * to the selected vectors (kept in the order they were added) and freeze it. The kept count is
 * coreset_count (capped at the size) or floor(size * coreset_ratio), at least 1; keeping all
 * skips the selection. progress (may be NULL) is called
 * with stage RP_STAGE_CORESET; a non-zero return cancels: RP_E_CANCELLED, the bank unchanged and
 * still open. Freezing an empty bank fails with RP_E_STATE. If building the search index fails
 * (RP_E_NOMEM / RP_E_BACKEND) after the selection, the bank holds the selected vectors and a
 * further rp_bank_freeze call only retries the index. With the environment variable
 * RP_CORESET_PARTITION=N set, banks of more than N vectors are selected in partitions of
 * consecutive vectors with proportional budgets, each exact on its own: an opt-in approximation
 * of the single greedy run for millions of vectors (docs/memory-bank.md "The coreset at scale"). */
RP_API int rp_bank_freeze(rp_bank *bank, rp_progress_fn progress, void *user_data);

/* A frozen bank holding exactly these vectors (copied), no selection: for loading saved models.
 * p may be NULL; p->dim, if non-zero, must equal dim. */
RP_API int rp_bank_create_frozen(const float *vectors, uint64_t count, uint32_t dim,
                                 const rp_bank_params *p, rp_bank **out);

/* Number of vectors (added so far, or kept after freezing); 0 for NULL. */
RP_API uint64_t rp_bank_size(const rp_bank *bank);
/* Vector length; 0 for NULL. */
RP_API uint32_t rp_bank_dim(const rp_bank *bank);
/* 1 once frozen, 0 otherwise (and for NULL). */
RP_API int rp_bank_is_frozen(const rp_bank *bank);

/* Copy all size x dim floats into out (out_floats must be >= size * dim, else RP_E_SHAPE). */
RP_API int rp_bank_get_vectors(const rp_bank *bank, float *out, size_t out_floats);

/* After rp_bank_freeze: which added vectors were kept, as indices into the vectors in the order
 * they were added, listed in the order the greedy coreset picked them (partition by partition
 * when the selection was partitioned; bank row i holds the i-th smallest of these). For rp_bank_create_frozen banks: 0, 1, ..., size - 1. out_count must
 * be >= size (RP_E_SHAPE); RP_E_STATE before freezing. */
RP_API int rp_bank_get_selection(const rp_bank *bank, uint64_t *indices_out, size_t out_count);

/* The k nearest bank vectors of each of count queries (queries: count x dim floats, queries_floats
 * exactly that): distances_out and indices_out (each count x k, either may be NULL; capacities
 * distances_floats / indices_count in elements, at least count x k) in ascending Euclidean (not
 * squared) distance. Distances of the returned neighbours are recomputed directly, so they stay
 * accurate for near-duplicates. Needs a frozen bank (RP_E_STATE) and 1 <= k <= size
 * (RP_E_INVALID_ARG); a wrong size fails with RP_E_SHAPE. On failure the outputs are untouched.
 * Thread-safe on a frozen bank. */
RP_API int rp_bank_search(const rp_bank *bank, const float *queries, size_t queries_floats, uint64_t count,
                          uint32_t k, float *distances_out, size_t distances_floats, uint64_t *indices_out,
                          size_t indices_count);

RP_API void rp_bank_free(rp_bank *bank);

#ifdef __cplusplus
}
#endif
#endif
