/* The public trainer handle: parameters (defaults and validation), the stored patch features, and
 * the results of the last training (f, loss curves). The loop itself is in train_loop.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trainer/trainer_features.h"
#include "trainer/trainer_internal.h"

#define MAX_DIM (1u << 20)
#define MAX_HEAD_DIM 65536u
#define MAX_BATCH 8192u /* the pseudo-label matrices are batch^2 doubles */

int rp_trainer_params_init(rp_trainer_params *p, size_t size)
{
    rp__clear_error();
    return rp__params_init(p, size, sizeof *p, "rp_trainer_params_init");
}

#define BAD(field, fmt, ...) rp__fail(RP_E_INVALID_ARG, "rp_trainer_create: params." field " " fmt, __VA_ARGS__)

/* Replace zeros by the defaults (negative "means zero" fields by zero) and check every field. */
static int resolve_params(rp_trainer_params *p)
{
    if (!p->repr_dim) p->repr_dim = 64;
    if (!p->proj_dim) p->proj_dim = 128;
    if (!p->batch_size) p->batch_size = 512;
    if (!p->epochs) p->epochs = 8;
    if (!p->patience) p->patience = 10;
    if (!p->k) p->k = 5;
    if (!p->val_batches) p->val_batches = 4;
    if (!p->num_threads) p->num_threads = rp__cpu_count();
    if (!p->seed) p->seed = RP_TRAINER_DEFAULT_SEED;
    if (p->lr == 0.0) p->lr = 3e-4;
    if (p->weight_decay == 0.0) p->weight_decay = 1e-2;
    else if (p->weight_decay < 0.0) p->weight_decay = 0.0;
    if (p->sigma == 0.0) p->sigma = 1.0;
    if (p->alpha == 0.0) p->alpha = 0.9;
    else if (p->alpha < 0.0) p->alpha = 0.0;
    if (p->margin == 0.0) p->margin = 1.0;
    if (p->ema_momentum == 0.0) p->ema_momentum = 0.995;
    if (p->val_fraction == 0.0) p->val_fraction = 0.1;
    else if (p->val_fraction < 0.0) p->val_fraction = 0.0;
    if (!p->sampler) p->sampler = RP_SAMPLER_UNIFORM;
    if (!p->sampler_window) p->sampler_window = 4;
    if (!p->target_centering) p->target_centering = RP_TARGETS_CENTERED;

    if (p->in_dim > MAX_DIM) return BAD("in_dim", "%u is above %u", p->in_dim, MAX_DIM);
    if (p->repr_dim > MAX_HEAD_DIM) return BAD("repr_dim", "%u is above %u", p->repr_dim, MAX_HEAD_DIM);
    if (p->proj_dim > MAX_HEAD_DIM) return BAD("proj_dim", "%u is above %u", p->proj_dim, MAX_HEAD_DIM);
    if (p->proj_hidden > MAX_HEAD_DIM) return BAD("proj_hidden", "%u is above %u", p->proj_hidden, MAX_HEAD_DIM);
    if (p->batch_size < 2 || p->batch_size > MAX_BATCH)
        return BAD("batch_size", "%u is outside 2..%u", p->batch_size, MAX_BATCH);
    if (p->k < 2 || p->k > p->batch_size)
        return BAD("k", "%u is outside 2..batch_size (%u)", p->k, p->batch_size);
    if (p->num_threads > 1024) return BAD("num_threads", "%u is above 1024", p->num_threads);
    if (!isfinite(p->lr) || p->lr < 0.0) return BAD("lr", "%g is not a positive finite number", p->lr);
    if (!isfinite(p->lr_min) || p->lr_min < 0.0 || p->lr_min > p->lr)
        return BAD("lr_min", "%g is outside 0..lr (%g)", p->lr_min, p->lr);
    if (!isfinite(p->weight_decay) || p->weight_decay * p->lr >= 1.0)
        return BAD("weight_decay", "%g is not finite or lr * weight_decay >= 1", p->weight_decay);
    if (!isfinite(p->sigma) || p->sigma < 0.0)
        return BAD("sigma", "%g is not a positive finite number", p->sigma);
    if (!isfinite(p->alpha) || p->alpha > 1.0) return BAD("alpha", "%g is outside 0..1", p->alpha);
    if (!isfinite(p->margin) || p->margin < 0.0)
        return BAD("margin", "%g is not a positive finite number", p->margin);
    if (!isfinite(p->ema_momentum) || p->ema_momentum < 0.0 || p->ema_momentum > 1.0)
        return BAD("ema_momentum", "%g is outside (0, 1]", p->ema_momentum);
    if (p->sampler != RP_SAMPLER_UNIFORM && p->sampler != RP_SAMPLER_ALIGNED)
        return BAD("sampler", "%u is not RP_SAMPLER_UNIFORM (1) or RP_SAMPLER_ALIGNED (2)", p->sampler);
    if (p->target_centering != RP_TARGETS_CENTERED && p->target_centering != RP_TARGETS_UNCENTERED)
        return BAD("target_centering", "%u is not RP_TARGETS_CENTERED (1) or RP_TARGETS_UNCENTERED (2)",
                   p->target_centering);
    int rc = rp__params_check_reserved(p->reserved0, "reserved0", "rp_trainer_create");
    if (rc != RP_OK) return rc;
    if (p->sampler_window > 1024) return BAD("sampler_window", "%u is above 1024", p->sampler_window);
    if (!isfinite(p->val_fraction) || p->val_fraction >= 1.0)
        return BAD("val_fraction", "%g is not below 1", p->val_fraction);
    return RP_OK;
}

int rp_trainer_create(const rp_trainer_params *params, rp_trainer **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_trainer_create: out is NULL");
    *out = NULL;
    rp_trainer_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    int rc = rp__params_copy(&p, sizeof p, params, "rp_trainer_create");
    if (rc != RP_OK) return rc;
    if ((rc = resolve_params(&p)) != RP_OK) return rc;
    rp_trainer *t = rp__calloc(1, sizeof *t);
    if (!t) return rp__fail(RP_E_NOMEM, "rp_trainer_create: out of memory");
    /* no limit: a trainer made through the public API holds its features in memory; rp_train
     * sets one (rp__trainer_set_memory_limit) */
    if ((rc = rp__feature_store_init(&t->features, p.in_dim, 0, NULL, "rp_trainer_create"))) {
        free(t);
        return rc;
    }
    t->p = p;
    t->in_dim = p.in_dim;
    t->best_epoch = -1;
    *out = t;
    return RP_OK;
}

int rp_trainer_add_image_features(rp_trainer *t, const float *features, uint32_t patches, uint32_t dim)
{
    rp__clear_error();
    if (!t || !features)
        return rp__fail(RP_E_INVALID_ARG, "rp_trainer_add_image_features: %s is NULL", t ? "features" : "trainer");
    if (t->busy) return rp__fail(RP_E_STATE, "rp_trainer_add_image_features: called during rp_trainer_train");
    if (!patches || !dim || dim > MAX_DIM)
        return rp__fail(RP_E_INVALID_ARG, "rp_trainer_add_image_features: patches %u, dim %u (need >= 1, dim <= %u)",
                        patches, dim, MAX_DIM);
    if (t->in_dim && dim != t->in_dim)
        return rp__fail(RP_E_SHAPE, "rp_trainer_add_image_features: dim %u != trainer in_dim %u", dim, t->in_dim);
    if (t->n_patches + patches > UINT32_MAX)
        return rp__fail(RP_E_LIMIT, "rp_trainer_add_image_features: more than 2^32 - 1 patches in total");
    size_t floats;
    if (rp__mul_size(patches, dim, &floats) || floats > SIZE_MAX / sizeof(float))
        return rp__fail(RP_E_LIMIT, "rp_trainer_add_image_features: %u x %u floats overflow", patches, dim);
    if (t->n_images == t->cap_images) {
        uint32_t cap = t->cap_images ? t->cap_images * 2 : 64;
        uint64_t *starts = rp__realloc(t->image_start, cap * sizeof *starts);
        if (starts) t->image_start = starts;
        uint32_t *counts = starts ? rp__realloc(t->image_patches, cap * sizeof *counts) : NULL;
        if (counts) t->image_patches = counts;
        if (!starts || !counts)
            return rp__fail(RP_E_NOMEM, "rp_trainer_add_image_features: out of memory for %u images", cap);
        t->cap_images = cap;
    }
    const uint32_t store_dim = t->features.dim;
    t->features.dim = dim;
    int rc = rp__feature_store_append(&t->features, features, patches, "rp_trainer_add_image_features");
    /* a spilled store is mapped again after each add, so that readers of a const trainer find
     * the rows (mapping reads nothing: the pages come in when touched) */
    if (!rc && rp__feature_store_spilled(&t->features) &&
        !rp__feature_store_rows(&t->features, "rp_trainer_add_image_features")) {
        rc = rp_last_error_code();
        rp__feature_store_truncate(&t->features, t->n_patches);
    }
    if (rc) {
        if (!t->n_images) t->features.dim = store_dim;
        return rc; /* the store holds what it held before */
    }
    t->image_start[t->n_images] = t->n_patches;
    t->image_patches[t->n_images] = patches;
    t->n_images++;
    t->n_patches += patches;
    t->in_dim = dim;
    return RP_OK;
}

uint32_t rp_trainer_image_count(const rp_trainer *t) { return t ? t->n_images : 0; }
uint64_t rp_trainer_patch_count(const rp_trainer *t) { return t ? t->n_patches : 0; }

const float *rp__trainer_image_features(const rp_trainer *t, uint32_t i, uint32_t *patches_out)
{
    if (!t || i >= t->n_images) {
        *patches_out = 0;
        return NULL;
    }
    *patches_out = t->image_patches[i];
    return rp__trainer_image_rows(t, i);
}

void rp__trainer_release_features(const rp_trainer *t, uint32_t i)
{
    if (t && i < t->n_images) rp__feature_store_release(&t->features, t->image_start[i], t->image_patches[i]);
}

int rp__trainer_set_memory_limit(rp_trainer *t, uint64_t bytes, const char *spill_dir, const char *fn)
{
    if (t->n_images) return rp__fail(RP_E_STATE, "%s: the trainer's memory limit is set before the first image", fn);
    rp__feature_store_free(&t->features);
    return rp__feature_store_init(&t->features, t->in_dim, bytes, spill_dir, fn);
}

int rp_trainer_train(rp_trainer *t, rp_progress_fn progress, void *user_data)
{
    rp__clear_error();
    if (!t) return rp__fail(RP_E_INVALID_ARG, "rp_trainer_train: trainer is NULL");
    if (t->busy) return rp__fail(RP_E_STATE, "rp_trainer_train: already training (called from a callback?)");
    t->busy = 1;
    int rc = rp__trainer_run(t, progress, user_data);
    t->busy = 0;
    return rc;
}

int rp_trainer_get_embedding(const rp_trainer *t, rp_embedding **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_trainer_get_embedding: out is NULL");
    *out = NULL;
    if (!t) return rp__fail(RP_E_INVALID_ARG, "rp_trainer_get_embedding: trainer is NULL");
    if (!t->trained || t->busy)
        return rp__fail(RP_E_STATE, "rp_trainer_get_embedding: no completed training (call rp_trainer_train)");
    uint32_t r = t->p.repr_dim;
    return rp_embedding_create(t->in_dim, r, t->f_params, t->f_params + (size_t)r * t->in_dim, out);
}

int rp_trainer_get_history(const rp_trainer *t, double *train_loss_out, double *val_loss_out, uint32_t capacity,
                           uint32_t *epochs_out, int32_t *best_epoch_out)
{
    rp__clear_error();
    if (epochs_out) *epochs_out = 0;
    if (best_epoch_out) *best_epoch_out = -1;
    if (!t) return rp__fail(RP_E_INVALID_ARG, "rp_trainer_get_history: trainer is NULL");
    uint32_t n = t->hist_epochs < capacity ? t->hist_epochs : capacity;
    if (train_loss_out && n) memcpy(train_loss_out, t->hist_train, n * sizeof(double));
    if (val_loss_out && n) memcpy(val_loss_out, t->hist_val, n * sizeof(double));
    if (epochs_out) *epochs_out = t->hist_epochs;
    if (best_epoch_out) *best_epoch_out = t->best_epoch;
    return RP_OK;
}

void rp_trainer_free(rp_trainer *t)
{
    if (!t) return;
    rp__feature_store_free(&t->features);
    free(t->image_start);
    free(t->image_patches);
    free(t->f_params);
    free(t->hist_train);
    free(t->hist_val);
    free(t);
}

void rp__trainer_set_observer(rp_trainer *t, rp__trainer_observer fn, void *user_data)
{
    t->observer = fn;
    t->observer_data = user_data;
}
