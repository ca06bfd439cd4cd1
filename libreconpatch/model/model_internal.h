/* The model object (struct rp_model) and putting one together: shared by its own files here
 * (model.c, assemble.c, the file format in model_save.c / model_load.c) and by the pipeline
 * (pipeline/train.c, pipeline/calibrate.c). Not installed. */
#ifndef RP_MODEL_INTERNAL_H
#define RP_MODEL_INTERNAL_H

#include "common/common.h"

/* What the backbone was: enough to find (referenced) or check (embedded) its weights again. */
typedef struct rp__backbone_identity {
    int32_t arch;          /* RP_ARCH_* (0 for reduced-width test networks) */
    int32_t layout;        /* RP_LAYOUT_* */
    char sha256[65];       /* of the original weights file(s), as rp__weights_load reports it */
    char *weights_path;    /* the file the model was built from (absolute when known); for a
                              model loaded with embedded weights the path recorded as a hint, or
                              NULL */
    uint8_t *embedded;     /* the embedded safetensors blob when loaded from such a file, so the
                              model can be saved again with its weights; else NULL */
    size_t embedded_size;
} rp__backbone_identity;

struct rp_model {
    int32_t method;                     /* RP_METHOD_* */
    rp_extractor *extractor;
    rp_embedding *embedding;            /* NULL for PatchCore */
    rp_bank *bank;
    rp_scorer *scorer;
    rp_extractor_params extractor_params; /* resolved (no zero defaults), weights_path NULL */
    rp__backbone_identity backbone;
    rp_model_thresholds thresholds;     /* rule NONE and NaN thresholds until calibrated */
};

/* A zeroed model with no thresholds (NaN), or NULL when out of memory. */
rp_model *rp__model_alloc(void);

/* After extractor, embedding and bank are in place: record the extractor's resolved params and
 * create the scorer (its geometry taken from those params). scorer_params may be NULL; fn names
 * the public function for messages. */
int rp__model_finish(rp_model *model, const rp_scorer_params *scorer_params, const char *fn);

/* An rp_extractor_params with its defaults resolved, with the backbone loaded from
 * params->weights_path, recording the backbone's identity into *identity (weights_path made
 * absolute). On failure nothing is allocated. */
int rp__model_create_extractor(const rp_extractor_params *params, rp_extractor **extractor_out,
                               rp__backbone_identity *identity);

void rp__backbone_identity_clear(rp__backbone_identity *identity);

#endif
