/* rp_model_add_normals: a new product joins a model that records categories; what the model
 * holds stays as trained. Its images go through the extractor and then (params.heads) no head,
 * the model's frozen head, or a head fitted on them alone, into a bank of their own; the category
 * is put into the model once its bank is frozen (calibration scores in it), and taken out again
 * if calibrating or routing it then fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/bank_internal.h"
#include "common/alloc.h"
#include "pipeline/pipeline_internal.h"
#include "trainer/trainer_features.h"

/* The new category's patches: embedded (when the model has a head) into its bank; descriptors
 * collected apart from the model's router until the category is accepted. */
typedef struct new_category {
    const rp_embedding *head; /* the frozen head the patches go through now; NULL: none yet */
    rp_trainer *trainer;      /* RP_HEADS_PER_CATEGORY: holds the patches until its head is fitted */
    rp_embedding *own_head;   /* that head, owned until the category joins the model */
    uint32_t head_kind;       /* RP__HEAD_* the category will have */
    rp_bank *bank;
    float *block;             /* patches x bank dim, for the embedded patches */
    float *descriptor;        /* feature_dim */
    rp__router pending;
} new_category;

static int sink_new_category(void *ctx, const float *features, uint32_t patches, uint32_t dim)
{
    new_category *n = ctx;
    int rc;
    if (n->trainer) {
        rc = rp_trainer_add_image_features(n->trainer, features, patches, dim);
    } else if (n->head) {
        const uint32_t out = rp_embedding_out_dim(n->head);
        rc = rp_embedding_apply(n->head, features, patches, n->block, (size_t)patches * out);
        if (!rc) rc = rp_bank_add(n->bank, n->block, patches, out);
    } else {
        rc = rp_bank_add(n->bank, features, patches, dim);
    }
    if (!rc) {
        rp__route_descriptor(features, patches, dim, n->descriptor);
        rc = rp__router_add(&n->pending, n->descriptor, dim, 0);
    }
    return rc;
}

static int check_args(const rp_model *m, const char *name, const void *list, uint32_t count, const char *fn)
{
    if (!m) return rp__fail(RP_E_INVALID_ARG, "%s: model is NULL", fn);
    if (!name) return rp__fail(RP_E_INVALID_ARG, "%s: name is NULL", fn);
    if (!list) return rp__fail(RP_E_INVALID_ARG, "%s: the image list is NULL", fn);
    if (!count) return rp__fail(RP_E_INVALID_ARG, "%s: count is 0: at least one normal image is needed", fn);
    if (!m->router.count)
        return rp__fail(RP_E_STATE, "%s: the model records no categories (train it with params.category_count >= 1 "
                                    "to add products later)", fn);
    if (m->n_categories >= RP__MAX_CATEGORIES)
        return rp__fail(RP_E_LIMIT, "%s: the model holds %u categories, the most there can be", fn, m->n_categories);
    for (uint32_t c = 0; c < m->n_categories; c++)
        if (!strcmp(rp_model_category_name(m, c), name))
            return rp__fail(RP_E_INVALID_ARG, "%s: the model already has a category '%s'", fn, name);
    return RP_OK;
}

/* Put the new category (bank frozen, its head kind and own head) into the model as category
 * n_categories. On success the model owns bank and n->own_head. */
static int append_category(rp_model *m, const char *name, rp_bank *bank, new_category *n, const char *fn)
{
    rp__category *grown = rp__realloc(m->categories, (m->n_categories + 1u) * sizeof *grown);
    if (!grown) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    m->categories = grown;
    rp__category *c = &m->categories[m->n_categories];
    memset(c, 0, sizeof *c);
    if (!(c->name = rp__strdup(name))) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    rp__thresholds_none(&c->thresholds);
    c->bank = bank;
    c->head_kind = n->head_kind;
    c->own_head = n->own_head;
    m->n_categories++;
    int rc = rp__model_add_category_scorer(m, m->n_categories - 1);
    if (rc) {
        m->n_categories--;
        free(c->name);
        memset(c, 0, sizeof *c); /* bank and head still the caller's */
    } else {
        n->own_head = NULL;
    }
    return rc;
}

/* Undo append_category (the bank goes with it). */
static void remove_last_category(rp_model *m)
{
    rp__category *c = &m->categories[--m->n_categories];
    rp_scorer_free(c->scorer);
    rp_bank_free(c->bank);
    rp_embedding_free(c->own_head);
    free(c->name);
    memset(c, 0, sizeof *c);
}

/* RP_HEADS_AUTO for a model with a head: a head of its own for the new category, as rp_train
 * gives every category by default, unless the model's categories share one head (trained with
 * RP_HEADS_SHARED, or saved by a library from before per-category heads). */
static int32_t heads_as_trained(const rp_model *m)
{
    int shared = m->n_categories >= 2;
    for (uint32_t c = 1; c < m->n_categories; c++) shared &= m->categories[c].head_kind == RP__HEAD_MODEL;
    return shared ? RP_HEADS_SHARED : RP_HEADS_PER_CATEGORY;
}

static int add_common(rp_model *m, const char *name, const char *const *paths, const rp_image *const *images,
                      uint32_t count, const rp_train_params *user, rp_progress_fn progress, void *user_data,
                      const char *fn)
{
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    int rc = rp__params_copy(&p, sizeof p, user, fn);
    double q = 0;
    if (!rc) rc = rp__train_params_check_common(&p, &q, fn);
    if (!rc) rc = rp__heads_check(p.heads, 0, fn);
    if (rc) return rc;
    rp_extractor_info info;
    info.struct_size = sizeof info;
    if ((rc = rp_extractor_get_info(m->extractor, &info, sizeof info))) return rc;

    new_category n;
    memset(&n, 0, sizeof n);
    /* a model with a head takes params.heads, by default as it was trained; PatchCore's categories
     * all have the model's "head", which is none */
    const int32_t heads = !m->embedding ? RP_HEADS_SHARED : p.heads == RP_HEADS_AUTO ? heads_as_trained(m) : p.heads;
    n.head = heads == RP_HEADS_SHARED ? m->embedding : NULL;
    n.head_kind = heads == RP_HEADS_PER_CATEGORY ? RP__HEAD_OWN : heads == RP_HEADS_NONE ? RP__HEAD_NONE : RP__HEAD_MODEL;
    const uint32_t dim = n.head ? rp_embedding_out_dim(n.head) : info.feature_dim;
    const size_t patches = (size_t)info.grid_size * info.grid_size;
    uint32_t *train_idx = rp__malloc((size_t)count * sizeof *train_idx), *calib_idx = rp__malloc((size_t)count * sizeof *calib_idx);
    n.descriptor = rp__malloc(info.feature_dim * sizeof *n.descriptor);
    n.block = n.head ? rp__malloc(patches * dim * sizeof *n.block) : NULL;
    if (!train_idx || !calib_idx || !n.descriptor || (n.head && !n.block)) {
        rc = rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    uint32_t n_train = 0, n_calib = 0;
    if ((rc = rp__split_images(count, NULL, 1, p.calibration_fraction, train_idx, &n_train, calib_idx, &n_calib,
                               fn)))
        goto done;
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    if ((rc = rp__params_copy(&bp, sizeof bp, p.bank, "rp_model_add_normals (params.bank)"))) goto done;
    rp__image_source src = {paths, images, train_idx, n_train, m->extractor_params.max_pixels};
    rp__progress_ctx pc = {progress, user_data, fn};
    if (heads == RP_HEADS_PER_CATEGORY) {
        /* the trainer holds the patches until the head is fitted, the bank then takes their
         * embedded vectors: the limit split between them as rp_train splits it */
        if ((rc = rp_trainer_create(p.trainer, &n.trainer))) goto done;
        if ((rc = rp__trainer_set_memory_limit(n.trainer, rp__feature_limit_part(&p, 1, 1, 1), p.spill_dir, fn)))
            goto done;
        if ((rc = rp__extract_all(m->extractor, &src, p.batch_size, sink_new_category, &n, &pc))) goto done;
        if ((rc = rp__fit_head_into_bank(n.trainer, m->method, bp, rp__feature_limit_part(&p, 0, 1, 1), p.spill_dir,
                                         progress, user_data, fn, &n.own_head, &n.bank)))
            goto done;
        rp_trainer_free(n.trainer);
        n.trainer = NULL;
    } else {
        bp.dim = dim;
        if ((rc = rp_bank_create(&bp, &n.bank))) goto done;
        if ((rc = rp__bank_set_memory_limit(n.bank, rp__feature_limit_part(&p, 0, 0, 1), p.spill_dir, fn))) goto done;
        if ((rc = rp__extract_all(m->extractor, &src, p.batch_size, sink_new_category, &n, &pc))) goto done;
    }
    if ((rc = rp_bank_freeze(n.bank, progress, user_data))) goto done;

    if ((rc = append_category(m, name, n.bank, &n, fn))) goto done;
    n.bank = NULL; /* the model's now */
    const uint32_t c = m->n_categories - 1, routed_before = m->router.count;
    if (n_calib && (rc = rp__calibrate_held_out(m, &src, calib_idx, n_calib, NULL, c, q, progress, user_data, fn))) {
        remove_last_category(m);
        goto done;
    }
    for (uint32_t i = 0; i < n.pending.count && !rc; i++)
        rc = rp__router_add(&m->router, n.pending.descriptors + (size_t)i * n.pending.dim, n.pending.dim, c);
    if (rc) {
        m->router.count = routed_before;
        remove_last_category(m);
    }
done:
    rp_trainer_free(n.trainer);
    rp_embedding_free(n.own_head);
    rp_bank_free(n.bank);
    rp__router_clear(&n.pending);
    free(n.block);
    free(n.descriptor);
    free(train_idx);
    free(calib_idx);
    return rc;
}

int rp_model_add_normals(rp_model *model, const char *name, const char *const *paths, uint32_t count,
                         const rp_train_params *params, rp_progress_fn progress, void *user_data)
{
    static const char fn[] = "rp_model_add_normals";
    rp__clear_error();
    int rc = check_args(model, name, paths, count, fn);
    return rc ? rc : add_common(model, name, paths, NULL, count, params, progress, user_data, fn);
}

int rp_model_add_normal_images(rp_model *model, const char *name, const rp_image *const *images, uint32_t count,
                               const rp_train_params *params, rp_progress_fn progress, void *user_data)
{
    static const char fn[] = "rp_model_add_normal_images";
    rp__clear_error();
    int rc = check_args(model, name, images, count, fn);
    return rc ? rc : add_common(model, name, NULL, images, count, params, progress, user_data, fn);
}
