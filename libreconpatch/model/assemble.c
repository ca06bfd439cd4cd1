/* Putting a model together, shared by rp_train and the model file loader: the extractor with its
 * backbone identity recorded, and the scorer over the finished parts. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "backbone/weights.h"
#include "extractor/extractor_internal.h"
#include "model/model_internal.h"

rp_model *rp__model_alloc(uint32_t n_categories)
{
    if (n_categories < 1 || n_categories > RP__MAX_CATEGORIES) return NULL;
    rp_model *m = rp__calloc(1, sizeof *m);
    if (!m) return NULL;
    if (!(m->categories = rp__calloc(n_categories, sizeof *m->categories))) {
        free(m);
        return NULL;
    }
    m->n_categories = n_categories;
    for (uint32_t c = 0; c < n_categories; c++) rp__thresholds_none(&m->categories[c].thresholds);
    return m;
}

void rp__thresholds_none(rp_model_thresholds *t)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->rule = RP_THRESHOLD_RULE_NONE;
    t->image_threshold = t->pixel_threshold = t->quantile = t->f1 = NAN;
}

int rp__model_create_extractor(const rp_extractor_params *params, rp_extractor **extractor_out,
                               rp__backbone_identity *identity)
{
    *extractor_out = NULL;
    memset(identity, 0, sizeof *identity);
    /* The weights are loaded here rather than inside rp_extractor_create so that their identity
     * (sha256, layout, arch) can be recorded for the model file. */
    rp__weights *w = NULL;
    int rc = rp__weights_load(params->weights_path, &w);
    if (rc) return rc; /* the loader names the file and the problem */
    rc = rp__extractor_create_from_weights(params, w, 0, extractor_out);
    if (!rc) {
        identity->arch = w->arch;
        identity->layout = w->layout;
        memcpy(identity->sha256, w->sha256, sizeof identity->sha256);
        char resolved[PATH_MAX];
        identity->weights_path = rp__strdup(realpath(params->weights_path, resolved) ? resolved : params->weights_path);
        if (!identity->weights_path) {
            rp_extractor_free(*extractor_out);
            *extractor_out = NULL;
            rc = rp__fail(RP_E_NOMEM, "rp_train: out of memory");
        }
    }
    rp__weights_free(w);
    return rc;
}

int rp__model_finish(rp_model *m, const rp_scorer_params *scorer_params, const char *fn)
{
    rp__extractor_get_params(m->extractor, &m->extractor_params);
    rp_scorer_params sp;
    rp_scorer_params_init(&sp, sizeof sp);
    if (scorer_params) {
        int rc = rp__params_copy(&sp, sizeof sp, scorer_params, fn);
        if (rc) return rc;
    }
    /* The scorer undoes exactly the extractor's preprocessing geometry (resolved values, so a
     * trained and a loaded model agree even if a default changes). */
    sp.resize = m->extractor_params.resize;
    sp.no_crop = m->extractor_params.no_crop;
    sp.keep_aspect = m->extractor_params.keep_aspect;
    for (uint32_t c = 0; c < m->n_categories; c++) {
        int rc = rp_scorer_create(m->extractor, rp__category_head(m, c), m->categories[c].bank, &sp,
                                  &m->categories[c].scorer);
        if (rc) return rc;
    }
    return RP_OK;
}

int rp__model_add_category_scorer(rp_model *m, uint32_t c)
{
    rp_scorer_info info;
    info.struct_size = sizeof info;
    int rc = rp_scorer_get_info(m->categories[0].scorer, &info, sizeof info);
    if (rc) return rc;
    rp_scorer_params sp;
    rp_scorer_params_init(&sp, sizeof sp);
    sp.reweight_neighbors = info.reweight_neighbors;
    sp.map_sigma = info.map_sigma;
    sp.num_threads = info.num_threads;
    sp.resize = m->extractor_params.resize;
    sp.no_crop = m->extractor_params.no_crop;
    sp.keep_aspect = m->extractor_params.keep_aspect;
    return rp_scorer_create(m->extractor, rp__category_head(m, c), m->categories[c].bank, &sp, &m->categories[c].scorer);
}

const rp_embedding *rp__category_head(const rp_model *m, uint32_t c)
{
    const rp__category *k = &m->categories[c];
    return k->head_kind == RP__HEAD_OWN ? k->own_head : k->head_kind == RP__HEAD_NONE ? NULL : m->embedding;
}
