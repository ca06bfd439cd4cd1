/* rp_score_images: several images scored in one call, the backbone running over them in batches
 * (oneDNN's convolutions can do more per weight load at batch 8 than at batch 1; docs/scoring.md
 * measures when the whole call gains).
 * Each image is then routed and scored as rp_score_image does it, from its own features. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "model/model_internal.h"
#include "scorer/scorer_internal.h"

/* Images whose features are held at once: bounds the call's memory (3.2 MB per image at the
 * default 28 x 28 x 1024) whatever the count. */
#define SCORE_BATCH 8u

static int check_args(const rp_model *model, const rp_image *const *images, uint32_t count,
                      const rp_score_result *results_out, float *const *maps_out, const size_t *map_floats,
                      const char *fn)
{
    if (!model) return rp__fail(RP_E_INVALID_ARG, "%s: model is NULL", fn);
    if (!images) return rp__fail(RP_E_INVALID_ARG, "%s: images is NULL", fn);
    if (maps_out && !map_floats) return rp__fail(RP_E_INVALID_ARG, "%s: maps_out given without map_floats", fn);
    for (uint32_t i = 0; i < count; i++) {
        if (!images[i]) return rp__fail(RP_E_INVALID_ARG, "%s: image %u is NULL", fn, i);
        if (results_out && results_out[i].struct_size < sizeof(uint32_t))
            return rp__fail(RP_E_INVALID_ARG, "%s: results_out[%u].struct_size is %u (set it to "
                                              "sizeof(rp_score_result))", fn, i, results_out[i].struct_size);
        const size_t pixels = (size_t)rp_image_width(images[i]) * rp_image_height(images[i]);
        if (maps_out && maps_out[i] && map_floats[i] < pixels)
            return rp__fail(RP_E_SHAPE, "%s: maps_out[%u] holds %zu floats, the %u x %u image needs %zu", fn, i,
                            map_floats[i], rp_image_width(images[i]), rp_image_height(images[i]), pixels);
    }
    return RP_OK;
}

int rp_score_images(const rp_model *model, const rp_image *const *images, uint32_t count,
                    rp_score_result *results_out, float *const *maps_out, const size_t *map_floats)
{
    static const char fn[] = "rp_score_images";
    rp__clear_error();
    int rc = check_args(model, images, count, results_out, maps_out, map_floats, fn);
    if (rc || !count) return rc;
    rp_extractor_info info;
    info.struct_size = sizeof info;
    if ((rc = rp_extractor_get_info(model->extractor, &info, sizeof info))) return rp__fail_relay(rc, "%s", fn);
    const uint32_t patches = info.grid_size * info.grid_size;
    const size_t per_image = (size_t)patches * info.feature_dim;
    const uint32_t batch = count < SCORE_BATCH ? count : SCORE_BATCH;
    float *features = rp__malloc(batch * per_image * sizeof *features);
    if (!features) return rp__fail(RP_E_NOMEM, "%s: out of memory for %u images' patch features", fn, batch);
    for (uint32_t start = 0; start < count && !rc; start += batch) {
        const uint32_t n = count - start < batch ? count - start : batch;
        rc = rp_extractor_patch_features(model->extractor, images + start, n, features, n * per_image);
        if (rc) {
            rc = rp__fail_relay(rc, "%s: images %u to %u", fn, start, start + n - 1);
            break;
        }
        for (uint32_t k = 0; k < n && !rc; k++) {
            const uint32_t i = start + k;
            const float *f = features + k * per_image;
            uint32_t category = 0;
            if (model->n_categories > 1 && (rc = rp__route_features(model, f, patches, info.feature_dim, &category)))
                break;
            rp_score_result full;
            memset(&full, 0, sizeof full);
            full.struct_size = sizeof full;
            rc = rp__scorer_score_features_image(model->categories[category].scorer, f, rp_image_width(images[i]),
                                                 rp_image_height(images[i]), &full, maps_out ? maps_out[i] : NULL,
                                                 fn);
            if (rc) {
                rc = rp__fail_relay(rc, "%s: image %u", fn, i);
                break;
            }
            rp__model_decide(model, category, &full);
            if (results_out) rp__score_result_write(&results_out[i], &full);
        }
    }
    free(features);
    return rc;
}
