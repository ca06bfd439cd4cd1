/* The steps rp_train and rp_model_add_normals share: one pass of the extractor over images, the
 * split into training and calibration images, and calibrating held-out images per category. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/feature_store.h"
#include "pipeline/pipeline_internal.h"

#define DEFAULT_BATCH_IMAGES 4u
#define MAX_BATCH_IMAGES 256u

int rp__train_params_check_common(rp_train_params *p, double *q, const char *fn)
{
    if (!p->batch_size) p->batch_size = DEFAULT_BATCH_IMAGES;
    if (p->batch_size > MAX_BATCH_IMAGES)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.batch_size %u is above %u", fn, p->batch_size, MAX_BATCH_IMAGES);
    if (!(p->calibration_fraction >= 0.0 && p->calibration_fraction < 1.0))
        return rp__fail(RP_E_INVALID_ARG, "%s: params.calibration_fraction %g is not in [0, 1)", fn,
                        p->calibration_fraction);
    *q = p->calibration_quantile == 0.0 ? RP_CALIBRATION_DEFAULT_QUANTILE : p->calibration_quantile;
    if (!(*q > 0.0 && *q < 1.0))
        return rp__fail(RP_E_INVALID_ARG, "%s: params.calibration_quantile %g is not in (0, 1)", fn,
                        p->calibration_quantile);
    return RP_OK;
}

uint64_t rp__train_feature_limit(const rp_train_params *p)
{
    if (p->feature_memory_limit == UINT64_MAX) return 0;
    return p->feature_memory_limit ? p->feature_memory_limit : RP__FEATURE_STORE_DEFAULT_LIMIT;
}

uint64_t rp__feature_limit_part(const rp_train_params *p, int for_trainers, int has_head, uint32_t parts)
{
    const uint64_t limit = rp__train_feature_limit(p);
    if (!limit) return 0;
    const uint64_t share = !has_head ? limit : for_trainers ? limit - limit / 2 : limit / 2;
    return share / parts ? share / parts : 1;
}

static int report(const rp__progress_ctx *pc, int32_t stage, int64_t done, int64_t total)
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
    if (pc->fn(&p, pc->user_data)) return rp__fail(RP_E_CANCELLED, "%s: cancelled by the progress callback", pc->caller);
    return RP_OK;
}

int rp__extract_all(const rp_extractor *ex, const rp__image_source *src, uint32_t batch, rp__feature_sink sink,
                    void *sink_ctx, const rp__progress_ctx *pc)
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
        rc = rp__fail(RP_E_NOMEM, "%s: out of memory for a batch of %u images", pc->caller, batch);
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
                    rc = rp__fail(RP_E_INVALID_ARG, "%s: paths[%u] is NULL", pc->caller, at);
                    break;
                }
                rc = rp_image_load_file(src->paths[at], &lp, &owned[i]);
                if (rc) rc = rp__fail_relay(rc, "%s: image %u (%s)", pc->caller, at, src->paths[at]);
                view[i] = owned[i];
            } else {
                view[i] = src->images[at];
                if (!view[i]) rc = rp__fail(RP_E_INVALID_ARG, "%s: images[%u] is NULL", pc->caller, at);
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

/* Held out within each category, evenly spaced (the rule is in pipeline_internal.h). */
int rp__split_images(uint32_t count, const uint32_t *category, uint32_t n_categories, double fraction,
                     uint32_t *train_idx, uint32_t *n_train, uint32_t *calib_idx, uint32_t *n_calib, const char *fn)
{
    uint32_t *size = rp__calloc(n_categories, sizeof *size), *seen = rp__calloc(n_categories, sizeof *seen);
    uint32_t *held = rp__calloc(n_categories, sizeof *held);
    int rc = size && seen && held ? RP_OK : rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    for (uint32_t i = 0; !rc && i < count; i++) size[category ? category[i] : 0]++;
    for (uint32_t c = 0; !rc && c < n_categories; c++) {
        if (!size[c]) {
            rc = rp__fail(RP_E_INVALID_ARG, "%s: category %u has no images", fn, c);
        } else if (fraction > 0.0) {
            double r = floor((double)size[c] * fraction + 0.5);
            held[c] = r < 1.0 ? 1u : (uint32_t)r;
            if (held[c] >= size[c])
                rc = rp__fail(RP_E_INVALID_ARG, "%s: params.calibration_fraction %g holds out %u of %u images%s: "
                                                "at least one must remain for training", fn, fraction, held[c], size[c],
                              n_categories > 1 ? " of a category" : "");
        }
    }
    *n_train = *n_calib = 0;
    for (uint32_t i = 0; !rc && i < count; i++) {
        const uint32_t c = category ? category[i] : 0, k = seen[c]++, h = held[c], n = size[c];
        int out = h && ((uint64_t)(k + 1) * h) / n > ((uint64_t)k * h) / n;
        if (out) calib_idx[(*n_calib)++] = i;
        else train_idx[(*n_train)++] = i;
    }
    free(size);
    free(seen);
    free(held);
    return rc;
}

/* Held-out images of each category scored in it: their category is known, no routing. */
int rp__calibrate_held_out(rp_model *m, const rp__image_source *src, const uint32_t *calib_idx, uint32_t n_calib,
                           const uint32_t *category, uint32_t first_category, double q, rp_progress_fn progress,
                           void *user_data, const char *fn)
{
    const void **view = rp__malloc((size_t)n_calib * sizeof *view);
    double *scores = rp__malloc((size_t)n_calib * sizeof *scores), *map_max = rp__malloc((size_t)n_calib * sizeof *map_max);
    int rc = RP_OK;
    if (!view || !scores || !map_max) rc = rp__fail(RP_E_NOMEM, "%s: out of memory for %u scores", fn, n_calib);
    for (uint32_t c = first_category; !rc && c < m->n_categories; c++) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < n_calib; i++) {
            const uint32_t at = calib_idx[i];
            if (category && category[at] != c) continue;
            view[n++] = src->paths ? (const void *)src->paths[at] : (const void *)src->images[at];
        }
        rc = rp__model_calibration_scores(m, c, src->paths ? NULL : (const rp_image *const *)view,
                                          src->paths ? (const char *const *)view : NULL, n, src->max_pixels, progress,
                                          user_data, scores, map_max, NULL, fn);
        if (!rc) rc = rp__model_thresholds_from_normals(scores, map_max, n, q, &m->categories[c].thresholds);
    }
    free(view);
    free(scores);
    free(map_max);
    return rc;
}

