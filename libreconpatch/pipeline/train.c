/* rp_train: normal images -> patch features -> (ReConPatch: trained head f) -> coreset bank -> scorer.
 * Only wiring: every step is one of the public handles, so a host app can reproduce it by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "pipeline/pipeline_internal.h"
#include "trainer/trainer_features.h"

#define DEFAULT_BATCH_IMAGES 4u
#define MAX_BATCH_IMAGES 256u

int rp_train_params_init(rp_train_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_train_params_init");
}

/* Where the images come from: paths (decoded one batch at a time) or caller images. */
typedef struct image_source {
    const char *const *paths;
    const rp_image *const *images;
    const uint32_t *index; /* the images used, as positions in paths / images */
    uint32_t count;        /* entries in index */
    uint64_t max_pixels;
} image_source;

/* Progress of the feature stage, forwarded to the caller's callback. */
typedef struct progress_ctx {
    rp_progress_fn fn;
    void *user_data;
} progress_ctx;

static int report(const progress_ctx *pc, int32_t stage, int64_t done, int64_t total)
{
    if (!pc->fn) return RP_OK;
    rp_progress p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.stage = stage;
    p.done = done;
    p.total = total;
    p.epoch = -1;
    p.step = -1;
    p.loss = p.val_loss = __builtin_nan("");
    if (pc->fn(&p, pc->user_data)) return rp__fail(RP_E_CANCELLED, "rp_train: cancelled by the progress callback");
    return RP_OK;
}

/* Receives each image's patch features (grid^2 x dim). */
typedef int (*feature_sink)(void *ctx, const float *features, uint32_t patches, uint32_t dim);

/* Run the extractor over all images in batches and hand every image's features to sink. */
static int extract_all(const rp_extractor *ex, const image_source *src, uint32_t batch, feature_sink sink,
                       void *sink_ctx, const progress_ctx *pc)
{
    rp_extractor_info info;
    info.struct_size = sizeof info;
    int rc = rp_extractor_get_info(ex, &info, sizeof info);
    if (rc) return rc;
    uint32_t patches = info.grid_size * info.grid_size;
    size_t per_image = (size_t)patches * info.feature_dim;
    float *features = rp__malloc(per_image * batch * sizeof(float));
    rp_image **owned = rp__calloc(batch, sizeof *owned);
    const rp_image **view = rp__calloc(batch, sizeof *view);
    if (!features || !owned || !view) {
        rc = rp__fail(RP_E_NOMEM, "rp_train: out of memory for a batch of %u images", batch);
        goto done;
    }
    rp_image_load_params lp;
    rp_image_load_params_init(&lp, sizeof lp);
    lp.max_pixels = src->max_pixels;
    for (uint32_t first = 0; first < src->count && !rc; first += batch) {
        uint32_t n = src->count - first < batch ? src->count - first : batch;
        for (uint32_t i = 0; i < n && !rc; i++) {
            const uint32_t at = src->index[first + i];
            if (src->paths) {
                if (!src->paths[at]) {
                    rc = rp__fail(RP_E_INVALID_ARG, "rp_train: paths[%u] is NULL", at);
                    break;
                }
                rc = rp_image_load_file(src->paths[at], &lp, &owned[i]);
                if (rc) rc = rp__fail_relay(rc, "rp_train: image %u (%s)", at, src->paths[at]);
                view[i] = owned[i];
            } else {
                view[i] = src->images[at];
                if (!view[i]) rc = rp__fail(RP_E_INVALID_ARG, "rp_train: images[%u] is NULL", at);
            }
        }
        if (!rc) rc = rp_extractor_patch_features(ex, view, n, features, per_image * n);
        for (uint32_t i = 0; i < n && !rc; i++) rc = sink(sink_ctx, features + per_image * i, patches, info.feature_dim);
        for (uint32_t i = 0; i < n; i++) {
            rp_image_free(owned[i]);
            owned[i] = NULL;
        }
        if (!rc) rc = report(pc, RP_STAGE_FEATURES, first + n, src->count);
    }
done:
    free(features);
    free(owned);
    free(view);
    return rc;
}

static int sink_bank(void *ctx, const float *features, uint32_t patches, uint32_t dim)
{
    return rp_bank_add((rp_bank *)ctx, features, patches, dim);
}

static int sink_trainer(void *ctx, const float *features, uint32_t patches, uint32_t dim)
{
    return rp_trainer_add_image_features((rp_trainer *)ctx, features, patches, dim);
}

/* f applied to every stored training patch (the trainer keeps one block per image), straight into
 * the bank: all training images, the validation share included, describe normal appearance. */
static int embed_into_bank(const rp_trainer *trainer, const rp_embedding *f, rp_bank *bank)
{
    const uint32_t out_dim = rp_embedding_out_dim(f), n_images = rp_trainer_image_count(trainer);
    uint32_t most = 0, n;
    for (uint32_t i = 0; i < n_images; i++)
        if (rp__trainer_image_features(trainer, i, &n) && n > most) most = n;
    float *block = rp__malloc((size_t)most * out_dim * sizeof(float));
    if (!block) return rp__fail(RP_E_NOMEM, "rp_train: out of memory for the embedding buffer");
    int rc = RP_OK;
    for (uint32_t i = 0; i < n_images && !rc; i++) {
        const float *features = rp__trainer_image_features(trainer, i, &n);
        rc = rp_embedding_apply(f, features, n, block, (size_t)n * out_dim);
        if (!rc) rc = rp_bank_add(bank, block, n, out_dim);
    }
    free(block);
    return rc;
}

/* Which images train and which calibrate (train_params.calibration_fraction): h evenly spaced
 * images are held out. Fills train_idx / calib_idx (count entries each at most). */
static int split_images(uint32_t count, double fraction, uint32_t *train_idx, uint32_t *n_train, uint32_t *calib_idx,
                        uint32_t *n_calib)
{
    uint32_t h = 0;
    if (fraction > 0.0) {
        double r = floor((double)count * fraction + 0.5);
        h = r < 1.0 ? 1u : (uint32_t)r;
        if (h >= count)
            return rp__fail(RP_E_INVALID_ARG, "rp_train: params.calibration_fraction %g holds out %u of %u images: at "
                                              "least one must remain for training", fraction, h, count);
    }
    *n_train = *n_calib = 0;
    for (uint32_t i = 0; i < count; i++) {
        int held = h && ((uint64_t)(i + 1) * h) / count > ((uint64_t)i * h) / count;
        if (held) calib_idx[(*n_calib)++] = i;
        else train_idx[(*n_train)++] = i;
    }
    return RP_OK;
}

/* Score the held-out images and set the thresholds with rp_model_calibrate's rule. */
static int calibrate_held_out(rp_model *m, const image_source *src, const uint32_t *calib_idx, uint32_t n_calib,
                              double q, rp_progress_fn progress, void *user_data)
{
    const void **view = rp__malloc((size_t)n_calib * sizeof *view);
    double *scores = rp__malloc((size_t)n_calib * sizeof *scores), *map_max = rp__malloc((size_t)n_calib * sizeof *map_max);
    int rc = RP_OK;
    if (!view || !scores || !map_max) rc = rp__fail(RP_E_NOMEM, "rp_train: out of memory for %u scores", n_calib);
    for (uint32_t i = 0; !rc && i < n_calib; i++)
        view[i] = src->paths ? (const void *)src->paths[calib_idx[i]] : (const void *)src->images[calib_idx[i]];
    if (!rc)
        rc = rp__model_calibration_scores(m, src->paths ? NULL : (const rp_image *const *)view,
                                          src->paths ? (const char *const *)view : NULL, n_calib, src->max_pixels,
                                          progress, user_data, scores, map_max, "rp_train");
    if (!rc) rc = rp__model_thresholds_from_normals(scores, map_max, n_calib, q, &m->thresholds);
    free(view);
    free(scores);
    free(map_max);
    return rc;
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
    if (!p.batch_size) p.batch_size = DEFAULT_BATCH_IMAGES;
    if (p.batch_size > MAX_BATCH_IMAGES)
        return rp__fail(RP_E_INVALID_ARG, "rp_train: params.batch_size %u is above %u", p.batch_size,
                        MAX_BATCH_IMAGES);
    if (!(p.calibration_fraction >= 0.0 && p.calibration_fraction < 1.0))
        return rp__fail(RP_E_INVALID_ARG, "rp_train: params.calibration_fraction %g is not in [0, 1)",
                        p.calibration_fraction);
    double q = p.calibration_quantile == 0.0 ? RP_CALIBRATION_DEFAULT_QUANTILE : p.calibration_quantile;
    if (!(q > 0.0 && q < 1.0))
        return rp__fail(RP_E_INVALID_ARG, "rp_train: params.calibration_quantile %g is not in (0, 1)",
                        p.calibration_quantile);

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

    rp_model *m = rp__model_alloc();
    uint32_t *train_idx = rp__malloc((size_t)count * sizeof *train_idx);
    uint32_t *calib_idx = rp__malloc((size_t)count * sizeof *calib_idx);
    rp_trainer *trainer = NULL;
    if (!m || !train_idx || !calib_idx) {
        rc = rp__fail(RP_E_NOMEM, "rp_train: out of memory");
        goto fail;
    }
    uint32_t n_train = 0, n_calib = 0;
    if ((rc = split_images(count, p.calibration_fraction, train_idx, &n_train, calib_idx, &n_calib))) goto fail;
    m->method = p.method;
    progress_ctx pc = {progress, user_data};

    if ((rc = rp__model_create_extractor(&ep, &m->extractor, &m->backbone))) goto fail;
    rp_extractor_info info;
    info.struct_size = sizeof info;
    if ((rc = rp_extractor_get_info(m->extractor, &info, sizeof info))) goto fail;
    image_source s = {paths, images, train_idx, n_train, ep.max_pixels};

    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    if ((rc = rp__params_copy(&bp, sizeof bp, p.bank, "rp_train (params.bank)"))) goto fail;

    if (p.method == RP_METHOD_PATCHCORE) {
        bp.dim = info.feature_dim;
        if ((rc = rp_bank_create(&bp, &m->bank))) goto fail;
        if ((rc = extract_all(m->extractor, &s, p.batch_size, sink_bank, m->bank, &pc))) goto fail;
    } else {
        if ((rc = rp_trainer_create(p.trainer, &trainer))) goto fail;
        if ((rc = extract_all(m->extractor, &s, p.batch_size, sink_trainer, trainer, &pc))) goto fail;
        if (p.method == RP_METHOD_PCA) { /* the trainer only holds the features: fit, do not train */
            if ((rc = rp_trainer_fit_pca(trainer, 0, &m->embedding))) goto fail;
        } else {
            if ((rc = rp_trainer_train(trainer, progress, user_data))) goto fail;
            if ((rc = rp_trainer_get_embedding(trainer, &m->embedding))) goto fail;
        }
        bp.dim = rp_embedding_out_dim(m->embedding);
        if ((rc = rp_bank_create(&bp, &m->bank))) goto fail;
        if ((rc = embed_into_bank(trainer, m->embedding, m->bank))) goto fail;
        rp_trainer_free(trainer);
        trainer = NULL;
    }
    if ((rc = rp_bank_freeze(m->bank, progress, user_data))) goto fail;
    if ((rc = rp__model_finish(m, p.scorer, "rp_train (params.scorer)"))) goto fail;
    if (n_calib && (rc = calibrate_held_out(m, &s, calib_idx, n_calib, q, progress, user_data))) goto fail;
    free(train_idx);
    free(calib_idx);
    *out = m;
    return RP_OK;
fail:
    free(train_idx);
    free(calib_idx);
    rp_trainer_free(trainer);
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
