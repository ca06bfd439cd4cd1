/* The trained model: scoring one image (scores, map, decision, mask), its parts, its thresholds,
 * freeing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "bank/bank_internal.h"
#include "extractor/extractor_internal.h"
#include "model/model_internal.h"
#include "scorer/scorer_internal.h"

void rp__model_decide(const rp_model *model, uint32_t category, rp_score_result *full)
{
    const rp_model_thresholds *thresholds = &model->categories[category].thresholds;
    const double t = thresholds->image_threshold;
    full->category = category;
    full->threshold = t;
    full->decision = isnan(t) ? RP_DECISION_NONE : full->score > t ? RP_DECISION_ANOMALOUS : RP_DECISION_NORMAL;
    full->pixel_threshold = thresholds->pixel_threshold;
}

/* rp_score_image and rp_score_image_in_category: category RP__ROUTE lets the router choose. */
static int score_image(const rp_model *model, uint32_t category, const rp_image *image, rp_score_result *result_out,
                       float *map_out, size_t map_floats, uint8_t *mask_out, size_t mask_size, const char *fn)
{
    rp__clear_error();
    if (!model) return rp__fail(RP_E_INVALID_ARG, "%s: model is NULL", fn);
    if (category != RP__ROUTE && category >= model->n_categories)
        return rp__fail(RP_E_INVALID_ARG, "%s: category %u: the model has %u", fn, category, model->n_categories);
    if (!image) return rp__fail(RP_E_INVALID_ARG, "%s: image is NULL", fn);
    if (result_out && result_out->struct_size < sizeof(uint32_t))
        return rp__fail(RP_E_INVALID_ARG, "%s: result_out->struct_size is %u (set it to sizeof(rp_score_result))", fn,
                        result_out->struct_size);
    const size_t pixels = (size_t)rp_image_width(image) * rp_image_height(image);
    if (map_out && map_floats < pixels)
        return rp__fail(RP_E_SHAPE, "%s: map_out holds %zu floats, the %u x %u image needs %zu", fn, map_floats,
                        rp_image_width(image), rp_image_height(image), pixels);
    if (mask_out && mask_size < pixels)
        return rp__fail(RP_E_SHAPE, "%s: mask_out holds %zu bytes, the %u x %u image needs %zu", fn, mask_size,
                        rp_image_width(image), rp_image_height(image), pixels);
    /* Before routing the mask's threshold is not known: every category must have one. */
    for (uint32_t c = 0; mask_out && c < model->n_categories; c++)
        if ((category == RP__ROUTE || c == category) && isnan(model->categories[c].thresholds.pixel_threshold))
            return rp__fail(RP_E_STATE, "%s: a mask was asked for but the model has no pixel threshold%s%s%s "
                                        "(calibrate it with rp_model_calibrate or set one with rp_model_set_thresholds)",
                            fn, model->n_categories > 1 ? " for category '" : "",
                            model->n_categories > 1 ? rp_model_category_name(model, c) : "",
                            model->n_categories > 1 ? "'" : "");
    /* The mask needs the map even when the caller does not want it. */
    float *map = map_out;
    if (mask_out && !map_out && !(map = rp__malloc((pixels ? pixels : 1) * sizeof *map)))
        return rp__fail(RP_E_NOMEM, "%s: out of memory for a %zu-pixel map", fn, pixels);

    rp_score_result full;
    memset(&full, 0, sizeof full);
    full.struct_size = sizeof full;
    uint32_t used = 0;
    int rc = rp__model_score(model, category, image, &full, map, map ? pixels : 0, &used);
    if (rc) {
        rc = rp__fail_relay(rc, "%s", fn);
    } else {
        rp__model_decide(model, used, &full);
        if (mask_out) {
            uint64_t on = 0;
            for (size_t i = 0; i < pixels; i++) {
                mask_out[i] = map[i] > full.pixel_threshold ? 1 : 0;
                on += mask_out[i];
            }
            full.mask_pixels = on;
        }
        if (result_out) rp__score_result_write(result_out, &full);
    }
    if (map != map_out) free(map);
    return rc;
}

int rp_score_image(const rp_model *model, const rp_image *image, rp_score_result *result_out, float *map_out,
                   size_t map_floats, uint8_t *mask_out, size_t mask_size)
{
    return score_image(model, RP__ROUTE, image, result_out, map_out, map_floats, mask_out, mask_size,
                       "rp_score_image");
}

int rp_score_image_in_category(const rp_model *model, uint32_t category, const rp_image *image,
                               rp_score_result *result_out, float *map_out, size_t map_floats, uint8_t *mask_out,
                               size_t mask_size)
{
    return score_image(model, category, image, result_out, map_out, map_floats, mask_out, mask_size,
                       "rp_score_image_in_category");
}

const rp_extractor *rp_model_extractor(const rp_model *m) { return m ? m->extractor : NULL; }
const rp_embedding *rp_model_embedding(const rp_model *m) { return m ? m->embedding : NULL; }
const rp_bank *rp_model_bank(const rp_model *m) { return m ? m->categories[0].bank : NULL; }
const rp_scorer *rp_model_scorer(const rp_model *m) { return m ? m->categories[0].scorer : NULL; }
int32_t rp_model_method(const rp_model *m) { return m ? m->method : 0; }

static uint64_t embedding_bytes(const rp_embedding *e)
{
    const uint64_t in = rp_embedding_in_dim(e), out = rp_embedding_out_dim(e);
    return (in * out + out) * sizeof(float); /* weight and bias; 0 for NULL */
}

int rp_model_get_memory(const rp_model *model, rp_model_memory *out, size_t size)
{
    static const char fn[] = "rp_model_get_memory";
    rp__clear_error();
    if (!model || !out) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !model ? "model" : "out");
    if (size < sizeof(uint32_t)) return rp__fail(RP_E_INVALID_ARG, "%s: size %zu is too small", fn, size);
    rp_model_memory m;
    memset(&m, 0, sizeof m);
    rp__extractor_memory(model->extractor, &m.backbone_weights, &m.backbone_activations);
    m.heads = embedding_bytes(model->embedding);
    for (uint32_t c = 0; c < model->n_categories; c++) {
        m.heads += embedding_bytes(model->categories[c].own_head);
        m.banks += rp__bank_bytes(model->categories[c].bank);
    }
    m.router = (uint64_t)model->router.capacity * (model->router.dim * sizeof(float) + sizeof(uint32_t));
    m.total = m.backbone_weights + m.backbone_activations + m.heads + m.banks + m.router;
    m.struct_size = (uint32_t)(size < sizeof m ? size : sizeof m);
    memset(out, 0, size);
    memcpy(out, &m, m.struct_size);
    return RP_OK;
}

/* One category's thresholds into the caller's struct of size bytes. */
static int get_thresholds(const rp_model *model, uint32_t category, rp_model_thresholds *out, size_t size,
                          const char *fn)
{
    rp__clear_error();
    if (!model || !out) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !model ? "model" : "out");
    if (category >= model->n_categories)
        return rp__fail(RP_E_INVALID_ARG, "%s: category %u: the model has %u", fn, category, model->n_categories);
    if (size < sizeof(uint32_t)) return rp__fail(RP_E_INVALID_ARG, "%s: size %zu is too small", fn, size);
    rp_model_thresholds t = model->categories[category].thresholds;
    t.struct_size = (uint32_t)(size < sizeof t ? size : sizeof t);
    memset(out, 0, size);
    memcpy(out, &t, t.struct_size);
    return RP_OK;
}

int rp_model_get_thresholds(const rp_model *model, rp_model_thresholds *out, size_t size)
{
    return get_thresholds(model, 0, out, size, "rp_model_get_thresholds");
}

int rp_model_get_category_thresholds(const rp_model *model, uint32_t category, rp_model_thresholds *out, size_t size)
{
    return get_thresholds(model, category, out, size, "rp_model_get_category_thresholds");
}

int rp_model_set_thresholds(rp_model *model, const rp_model_thresholds *t)
{
    static const char fn[] = "rp_model_set_thresholds";
    rp__clear_error();
    if (!model || !t) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !model ? "model" : "thresholds");
    const size_t need = offsetof(rp_model_thresholds, pixel_threshold) + sizeof t->pixel_threshold;
    if (t->struct_size < need)
        return rp__fail(RP_E_INVALID_ARG, "%s: thresholds->struct_size %u is below %zu (set it to "
                                          "sizeof(rp_model_thresholds))", fn, t->struct_size, need);
    if (isinf(t->image_threshold) || isinf(t->pixel_threshold))
        return rp__fail(RP_E_INVALID_ARG, "%s: image_threshold %g / pixel_threshold %g: each must be finite or NaN "
                                          "(none)", fn, t->image_threshold, t->pixel_threshold);
    rp_model_thresholds n;
    memset(&n, 0, sizeof n);
    n.struct_size = sizeof n;
    n.image_threshold = t->image_threshold;
    n.pixel_threshold = t->pixel_threshold;
    n.rule = isnan(n.image_threshold) && isnan(n.pixel_threshold) ? RP_THRESHOLD_RULE_NONE : RP_THRESHOLD_RULE_USER;
    n.quantile = n.f1 = NAN;
    for (uint32_t c = 0; c < model->n_categories; c++) model->categories[c].thresholds = n;
    return RP_OK;
}

void rp__backbone_identity_clear(rp__backbone_identity *id)
{
    free(id->weights_path);
    free(id->embedded);
    memset(id, 0, sizeof *id);
}

void rp_model_free(rp_model *m)
{
    if (!m) return;
    for (uint32_t c = 0; m->categories && c < m->n_categories; c++) {
        rp_scorer_free(m->categories[c].scorer); /* first: it borrows the others */
        rp_bank_free(m->categories[c].bank);
        rp_embedding_free(m->categories[c].own_head);
        free(m->categories[c].name);
    }
    free(m->categories);
    rp__router_clear(&m->router);
    rp_embedding_free(m->embedding);
    rp_extractor_free(m->extractor);
    rp__backbone_identity_clear(&m->backbone);
    free(m);
}
