/* What other modules (the model file) need to know about a bank beyond the public API. */
#ifndef RP_BANK_BANK_INTERNAL_H
#define RP_BANK_BANK_INTERNAL_H

#include <reconpatch/bank.h>

/* 1 when the bank's search ranks candidates with int8 products (rp_bank_params.knn_int8). */
int rp__bank_knn_int8(const rp_bank *bank);
/* 1 when it ranks them with bf16 products (rp_bank_params.knn_bf16). */
int rp__bank_knn_bf16(const rp_bank *bank);

/* A frozen bank's kept vectors (size x dim, row-major), borrowed for as long as the bank lives;
 * NULL before the freeze. Readers such as the scorer use them instead of a copy of their own. */
const float *rp__bank_frozen_vectors(const rp_bank *bank);

/* Bytes the bank holds: vectors added and not yet selected (in memory), the kept vectors, the
 * coreset selection and the search index. */
uint64_t rp__bank_bytes(const rp_bank *bank);

/* rp_bank_search in the caller's thread count: for the scorer, whose num_threads governs its
 * searches (rp_bank_search itself runs with the bank's). */
int rp__bank_search(const rp_bank *bank, const float *queries, size_t queries_floats, uint64_t count, uint32_t k,
                    float *distances_out, size_t distances_floats, uint64_t *indices_out, size_t indices_count);

/* Before the first rp_bank_add: hold at most `bytes` of added vectors in memory, moving them to an
 * unlinked temporary file in spill_dir (NULL: $TMPDIR, else /tmp) past that (0: never). The
 * selection and the kept vectors are the same either way (common/feature_store.h). RP_E_STATE
 * once vectors were added. */
int rp__bank_set_memory_limit(rp_bank *bank, uint64_t bytes, const char *spill_dir, const char *fn);

#endif
