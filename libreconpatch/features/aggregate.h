/* PatchCore's locally aware patch features, computed from one image's layer2 and layer3 maps.
 * See docs/features.md for the maths and why it is computed pooled-first. */
#ifndef RP_FEATURES_AGGREGATE_H
#define RP_FEATURES_AGGREGATE_H

#include <stdint.h>

/* Length each layer's neighbourhood vector is pooled to before the layers are merged
 * (PatchCore's pretrain_embed_dimension). */
#define RP__FEATURES_PRETRAIN_DIM 1024u

/* layer2: c2 x h2 x h2 floats, layer3: c3 x h3 x h3 floats (NCHW, N = 1).
 * out: h2 * h2 rows of feature_dim floats, patch (y, x) at row y * h2 + x.
 * patch_size must be odd (PatchCore pads by (patch_size - 1) / 2 so the grid keeps its size).
 * Returns RP_OK, or RP_E_INVALID_ARG / RP_E_NOMEM with the thread's error message set. */
int rp__features_aggregate(const float *layer2, uint32_t c2, uint32_t h2, const float *layer3, uint32_t c3,
                           uint32_t h3, uint32_t patch_size, uint32_t feature_dim, float *out);

#endif
