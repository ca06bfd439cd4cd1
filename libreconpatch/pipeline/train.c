/* rp_train: normal images -> patch features -> (ReConPatch: trained head f) -> coreset bank -> scorer.
 * Only wiring: every step is one of the public handles, so a host app can reproduce it by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/bank_internal.h"
#include "common/alloc.h"
#include "pipeline/pipeline_internal.h"
#include "trainer/trainer_features.h"


int rp_train_params_init(rp_train_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_train_params_init");
}

/* Where each training image's features go: the trainer (a head is fitted on all of them) or the
 * bank of its category; with several categories its descriptor goes to the router too. */
typedef struct feature_route {
    rp_model *model;
    rp_trainer *trainer;      /* one head for all images; NULL for PatchCore and per-category heads */
    rp_trainer **trainers;    /* per-category heads: the trainer of each category; else NULL */
    const uint32_t *category; /* per image in extraction order; NULL for one category */
    uint32_t next;            /* images received so far */
    float *descriptor;        /* feature_dim floats, with several categories */
} feature_route;

static int sink_features(void *ctx, const float *features, uint32_t patches, uint32_t dim)
{
    feature_route *r = ctx;
    const uint32_t c = r->category ? r->category[r->next] : 0;
    r->next++;
    int rc = r->trainers  ? rp_trainer_add_image_features(r->trainers[c], features, patches, dim)
             : r->trainer ? rp_trainer_add_image_features(r->trainer, features, patches, dim)
                          : rp_bank_add(r->model->categories[c].bank, features, patches, dim);
    if (!rc && r->category) {
        rp__route_descriptor(features, patches, dim, r->descriptor);
        rc = rp__router_add(&r->model->router, r->descriptor, dim, c);
    }
    return rc;
}

/* The categories of params, checked. category_count 0: a plain model (no router); 1 or more: a
 * model that records its categories and can take more (rp_model_add_normals). */
static int check_categories(const rp_train_params *p, uint32_t count, uint32_t *n_categories)
{
    *n_categories = p->category_count > 1 ? p->category_count : 1;
    if (!p->category_count) return RP_OK;
    if (*n_categories > RP__MAX_CATEGORIES)
        return rp__fail(RP_E_INVALID_ARG, "rp_train: params.category_count %u is above %u", p->category_count,
                        RP__MAX_CATEGORIES);
    if (!p->image_categories && *n_categories > 1)
        return rp__fail(RP_E_INVALID_ARG, "rp_train: params.category_count is %u but params.image_categories is NULL",
                        p->category_count);
    for (uint32_t i = 0; p->image_categories && i < count; i++)
        if (p->image_categories[i] >= *n_categories)
            return rp__fail(RP_E_INVALID_ARG, "rp_train: params.image_categories[%u] is %u, not below the %u categories",
                            i, p->image_categories[i], *n_categories);
    for (uint32_t c = 0; p->category_names && c < *n_categories; c++)
        if (!p->category_names[c]) return rp__fail(RP_E_INVALID_ARG, "rp_train: params.category_names[%u] is NULL", c);
    return RP_OK;
}

/* One empty bank of bp per category of m, each with its part of the banks' share. */
static int create_banks(rp_model *m, const rp_bank_params *bp, const rp_train_params *p)
{
    const uint64_t each = rp__feature_limit_part(p, 0, p->method != RP_METHOD_PATCHCORE, m->n_categories);
    int rc = RP_OK;
    for (uint32_t c = 0; !rc && c < m->n_categories; c++) {
        rc = rp_bank_create(bp, &m->categories[c].bank);
        if (!rc) rc = rp__bank_set_memory_limit(m->categories[c].bank, each, p->spill_dir, "rp_train");
    }
    return rc;
}

/* One head for all categories: fitted on every training image, then each image embedded into the
 * bank of its category. */
static int shared_head(rp_model *m, feature_route *route, const rp__image_source *s, rp_bank_params *bp,
                       const rp_train_params *p, const rp__progress_ctx *pc)
{
    rp_trainer *trainer = NULL;
    int rc = rp_trainer_create(p->trainer, &trainer);
    if (!rc) rc = rp__trainer_set_memory_limit(trainer, rp__feature_limit_part(p, 1, 1, 1), p->spill_dir, "rp_train");
    route->trainer = trainer;
    if (!rc) rc = rp__extract_all(m->extractor, s, p->batch_size, sink_features, route, pc);
    if (!rc) rc = rp__fit_head(trainer, p->method, pc->fn, pc->user_data, &m->embedding);
    if (!rc) {
        bp->dim = rp_embedding_out_dim(m->embedding);
        rc = create_banks(m, bp, p);
    }
    if (!rc) rc = rp__embed_into_banks(trainer, m->embedding, m, route->category, m->categories[0].bank, "rp_train");
    rp_trainer_free(trainer);
    route->trainer = NULL;
    return rc;
}

/* A head per category, each fitted on its category's images alone (as if the category were
 * trained by itself, with the same trainer params and seed): category 0's is the model's
 * embedding, the others' their own. Each trainer is freed once its category's bank is filled. */
static int per_category_heads(rp_model *m, feature_route *route, const rp__image_source *s, const rp_bank_params *bp,
                              const rp_train_params *p, const rp__progress_ctx *pc)
{
    const uint32_t n = m->n_categories;
    rp_trainer **trainers = rp__calloc(n, sizeof *trainers);
    if (!trainers) return rp__fail(RP_E_NOMEM, "rp_train: out of memory");
    const uint64_t trainer_limit = rp__feature_limit_part(p, 1, 1, n), bank_limit = rp__feature_limit_part(p, 0, 1, n);
    int rc = RP_OK;
    for (uint32_t c = 0; c < n && !rc; c++) {
        rc = rp_trainer_create(p->trainer, &trainers[c]);
        if (!rc) rc = rp__trainer_set_memory_limit(trainers[c], trainer_limit, p->spill_dir, "rp_train");
    }
    route->trainers = trainers;
    if (!rc) rc = rp__extract_all(m->extractor, s, p->batch_size, sink_features, route, pc);
    for (uint32_t c = 0; c < n && !rc; c++) {
        rp__category *k = &m->categories[c];
        rp_embedding *head = NULL;
        rc = rp__fit_head_into_bank(trainers[c], p->method, *bp, bank_limit, p->spill_dir, pc->fn, pc->user_data,
                                    "rp_train", &head, &k->bank);
        if (rc) {
            rc = rp__fail_relay(rc, "rp_train: category %u%s%s%s", c, k->name ? " ('" : "", k->name ? k->name : "",
                                k->name ? "')" : "");
            break;
        }
        if (c == 0) {
            m->embedding = head;
        } else {
            k->own_head = head;
            k->head_kind = RP__HEAD_OWN;
        }
        rp_trainer_free(trainers[c]);
        trainers[c] = NULL;
    }
    for (uint32_t c = 0; c < n; c++) rp_trainer_free(trainers[c]);
    free(trainers);
    route->trainers = NULL;
    return rc;
}

static int name_categories(rp_model *m, const char *const *names)
{
    for (uint32_t c = 0; names && c < m->n_categories; c++)
        if (!(m->categories[c].name = rp__strdup(names[c]))) return rp__fail(RP_E_NOMEM, "rp_train: out of memory");
    return RP_OK;
}

static int train_common(const char *const *paths, const rp_image *const *images, uint32_t count,
                        const rp_train_params *user, rp_progress_fn progress, void *user_data, rp_model **out)
{
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    int rc = rp__params_copy(&p, sizeof p, user, "rp_train");
    if (rc) return rc;
    if (!p.method) p.method = RP_METHOD_RECONPATCH;
    if (p.method != RP_METHOD_RECONPATCH && p.method != RP_METHOD_PATCHCORE && p.method != RP_METHOD_PCA)
        return rp__fail(RP_E_INVALID_ARG, "rp_train: params.method %d is not RP_METHOD_RECONPATCH (1), "
                                          "RP_METHOD_PATCHCORE (2) or RP_METHOD_PCA (3)", p.method);
    double q;
    if ((rc = rp__train_params_check_common(&p, &q, "rp_train"))) return rc;
    if ((rc = rp__heads_check(p.heads, 1, "rp_train"))) return rc;

    /* Extractor: the caller's params, with the cached Keras weights when no file is named. */
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    if ((rc = rp__params_copy(&ep, sizeof ep, p.extractor, "rp_train (params.extractor)"))) return rc;
    char default_weights[4096];
    if (!ep.weights_path) {
        if ((rc = rp_default_weights_path(default_weights, sizeof default_weights))) return rc;
        ep.weights_path = default_weights;
    }
    ep.output = RP_OUTPUT_LAYER3;

    uint32_t n_categories;
    if ((rc = check_categories(&p, count, &n_categories))) return rc;
    const int categorised = p.category_count >= 1;
    const uint32_t *image_category = n_categories > 1 ? p.image_categories : NULL;

    rp_model *m = rp__model_alloc(n_categories);
    uint32_t *train_idx = rp__malloc((size_t)count * sizeof *train_idx);
    uint32_t *calib_idx = rp__malloc((size_t)count * sizeof *calib_idx);
    uint32_t *train_category = categorised ? rp__calloc(count, sizeof *train_category) : NULL;
    float *descriptor = NULL;
    if (!m || !train_idx || !calib_idx || (categorised && !train_category)) {
        rc = rp__fail(RP_E_NOMEM, "rp_train: out of memory");
        goto fail;
    }
    if ((rc = name_categories(m, categorised ? p.category_names : NULL))) goto fail;
    uint32_t n_train = 0, n_calib = 0;
    if ((rc = rp__split_images(count, image_category, n_categories, p.calibration_fraction, train_idx, &n_train,
                               calib_idx, &n_calib, "rp_train")))
        goto fail;
    for (uint32_t i = 0; image_category && i < n_train; i++) train_category[i] = image_category[train_idx[i]];
    m->method = p.method;
    rp__progress_ctx pc = {progress, user_data, "rp_train"};

    if ((rc = rp__model_create_extractor(&ep, &m->extractor, &m->backbone))) goto fail;
    rp_extractor_info info;
    info.struct_size = sizeof info;
    if ((rc = rp_extractor_get_info(m->extractor, &info, sizeof info))) goto fail;
    rp__image_source s = {paths, images, train_idx, n_train, ep.max_pixels};
    if (categorised && !(descriptor = rp__malloc(info.feature_dim * sizeof *descriptor))) {
        rc = rp__fail(RP_E_NOMEM, "rp_train: out of memory");
        goto fail;
    }

    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    if ((rc = rp__params_copy(&bp, sizeof bp, p.bank, "rp_train (params.bank)"))) goto fail;

    feature_route route = {m, NULL, NULL, train_category, 0, descriptor};
    if (p.method == RP_METHOD_PATCHCORE) {
        bp.dim = info.feature_dim;
        if ((rc = create_banks(m, &bp, &p))) goto fail;
        if ((rc = rp__extract_all(m->extractor, &s, p.batch_size, sink_features, &route, &pc))) goto fail;
    } else if (n_categories > 1 && p.heads != RP_HEADS_SHARED) {
        /* one head per product by default: one head fitted on very different products together
         * fits each of them less well (docs/unified.md, "Measured") */
        if ((rc = per_category_heads(m, &route, &s, &bp, &p, &pc))) goto fail;
    } else {
        if ((rc = shared_head(m, &route, &s, &bp, &p, &pc))) goto fail;
    }
    /* each category's coreset from its own patches: one shared selection would spend its budget
     * on the most varied product */
    for (uint32_t c = 0; c < n_categories; c++)
        if ((rc = rp_bank_freeze(m->categories[c].bank, progress, user_data))) goto fail;
    if ((rc = rp__model_finish(m, p.scorer, "rp_train (params.scorer)"))) goto fail;
    if (n_calib && (rc = rp__calibrate_held_out(m, &s, calib_idx, n_calib, image_category, 0, q, progress, user_data,
                                                "rp_train")))
        goto fail;
    free(train_idx);
    free(calib_idx);
    free(train_category);
    free(descriptor);
    *out = m;
    return RP_OK;
fail:
    free(train_idx);
    free(calib_idx);
    free(train_category);
    free(descriptor);
    rp_model_free(m);
    return rc;
}

int rp_train(const char *const *paths, uint32_t count, const rp_train_params *params, rp_progress_fn progress,
             void *user_data, rp_model **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_train: out is NULL");
    *out = NULL;
    if (!paths) return rp__fail(RP_E_INVALID_ARG, "rp_train: paths is NULL");
    if (!count) return rp__fail(RP_E_INVALID_ARG, "rp_train: count is 0: at least one normal image is needed");
    return train_common(paths, NULL, count, params, progress, user_data, out);
}

int rp_train_images(const rp_image *const *images, uint32_t count, const rp_train_params *params,
                    rp_progress_fn progress, void *user_data, rp_model **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_train_images: out is NULL");
    *out = NULL;
    if (!images) return rp__fail(RP_E_INVALID_ARG, "rp_train_images: images is NULL");
    if (!count) return rp__fail(RP_E_INVALID_ARG, "rp_train_images: count is 0: at least one normal image is needed");
    return train_common(NULL, images, count, params, progress, user_data, out);
}
