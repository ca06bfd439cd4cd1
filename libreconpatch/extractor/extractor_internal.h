/* Internal entry points of the extractor, for unit tests and benchmarks (not exported). */
#ifndef RP_EXTRACTOR_INTERNAL_H
#define RP_EXTRACTOR_INTERNAL_H

#include "backbone/weights.h"
#include "reconpatch/extractor.h"

/* rp_extractor_create on weights already in memory (params->weights_path is ignored and may be
 * NULL). allow_bf16_emulation lets tests check bf16 numerics on CPUs without native bf16, where
 * the public create refuses bf16 because oneDNN would emulate it slower than fp32. */
int rp__extractor_create_from_weights(const rp_extractor_params *params, const rp__weights *weights,
                                      int allow_bf16_emulation, rp_extractor **out);

/* rp__extractor_create_from_weights for precision studies: fp32 kernels, with the values that bf16
 * would store rounded to bf16 in the units whose bit is set (bit 0 the stem, bit 1 + i bottleneck
 * block i from layer1's first; rp__resnet_options.bf16_rounding_units). It gives bf16's numerics on
 * any CPU at fp32's speed, and lets a study keep chosen units in fp32. params must ask for fp32. */
int rp__extractor_create_bf16_rounded(const rp_extractor_params *params, const rp__weights *weights,
                                      uint32_t bf16_rounding_units, rp_extractor **out);

/* oneDNN implementation names picked for the stem (which = 0) and the first 3x3 conv (which = 1). */
const char *rp__extractor_impl_name(const rp_extractor *extractor, int which);

/* The resolved params (no zero defaults left; weights_path NULL): what a saved model records. */
void rp__extractor_get_params(const rp_extractor *extractor, rp_extractor_params *out);

/* Bytes held by the extractor's network: weights and idle activation arenas (rp__resnet_memory). */
void rp__extractor_memory(const rp_extractor *extractor, uint64_t *weights_out, uint64_t *activations_out);

/* Build the extractor's plan for `batch` now (it is otherwise built on first use) and report the
 * number of convolutions that oneDNN could only run with its reference kernels. */
int rp__extractor_prepare_batch(const rp_extractor *extractor, uint32_t batch, uint32_t *reference_kernels);

#endif
