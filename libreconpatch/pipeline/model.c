/* The trained model: its parts, scoring one image, freeing. */
#include <stdlib.h>

#include "pipeline/pipeline_internal.h"

int rp_score_image(const rp_model *model, const rp_image *image, rp_score_result *result_out, float *map_out,
                   size_t map_floats)
{
    rp__clear_error();
    if (!model) return rp__fail(RP_E_INVALID_ARG, "rp_score_image: model is NULL");
    if (!image) return rp__fail(RP_E_INVALID_ARG, "rp_score_image: image is NULL");
    return rp_scorer_score(model->scorer, image, result_out, NULL, 0, map_out, map_floats);
}

const rp_extractor *rp_model_extractor(const rp_model *m) { return m ? m->extractor : NULL; }
const rp_embedding *rp_model_embedding(const rp_model *m) { return m ? m->embedding : NULL; }
const rp_bank *rp_model_bank(const rp_model *m) { return m ? m->bank : NULL; }
const rp_scorer *rp_model_scorer(const rp_model *m) { return m ? m->scorer : NULL; }
int32_t rp_model_method(const rp_model *m) { return m ? m->method : 0; }

void rp_model_free(rp_model *m)
{
    if (!m) return;
    rp_scorer_free(m->scorer); /* first: it borrows the others */
    rp_bank_free(m->bank);
    rp_embedding_free(m->embedding);
    rp_extractor_free(m->extractor);
    free(m);
}
