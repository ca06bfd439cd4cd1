/* libreconpatch: the ReConPatch embedding trainer and the learned representation layer f.
 * See docs/reconpatch.md. */
#ifndef RECONPATCH_TRAINER_H
#define RECONPATCH_TRAINER_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the representation layer f: a linear map with bias, in_dim -> out_dim -------------- */
/* Immutable after creation: rp_embedding_apply may run from several threads at once. */
typedef struct rp_embedding rp_embedding;

/* weight is out_dim x in_dim, row-major (PyTorch's nn.Linear layout); bias has out_dim values
 * (NULL = zero). Both are copied. */
RP_API int rp_embedding_create(uint32_t in_dim, uint32_t out_dim, const float *weight,
                               const float *bias, rp_embedding **out);
RP_API uint32_t rp_embedding_in_dim(const rp_embedding *embedding);  /* 0 for NULL */
RP_API uint32_t rp_embedding_out_dim(const rp_embedding *embedding); /* 0 for NULL */
/* out (count x out_dim) = in (count x in_dim) * weight^T + bias. out_floats is out's capacity. */
RP_API int rp_embedding_apply(const rp_embedding *embedding, const float *in, uint64_t count,
                              float *out, size_t out_floats);
/* Copy the parameters out (either pointer may be NULL). */
RP_API int rp_embedding_get(const rp_embedding *embedding, float *weight_out, size_t weight_floats,
                            float *bias_out, size_t bias_floats);
RP_API void rp_embedding_free(rp_embedding *embedding);

#ifdef __cplusplus
}
#endif
#endif
