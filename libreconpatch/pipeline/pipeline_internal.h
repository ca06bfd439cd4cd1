/* The model object shared by the pipeline's files. */
#ifndef RP_PIPELINE_INTERNAL_H
#define RP_PIPELINE_INTERNAL_H

#include "common/common.h"

struct rp_model {
    int32_t method;            /* RP_METHOD_* */
    rp_extractor *extractor;
    rp_embedding *embedding;   /* NULL for PatchCore */
    rp_bank *bank;
    rp_scorer *scorer;
};

#endif
