/* The public scoring calls: checks, scratch, and the order of the steps (patch scores -> image
 * scores -> map in input geometry -> map in image geometry). Every output is written only after
 * every step that can fail has succeeded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/common.h"
#include "common/threads.h"
#include "common/timing.h"
#include "scorer/scorer_internal.h"

/* The caller's result struct: its struct_size says how many bytes it has. */
static int check_result(const rp_score_result *r, const char *fn)
{
    if (r && r->struct_size < sizeof(uint32_t))
        return rp__fail(RP_E_INVALID_ARG, "%s: result_out->struct_size is %u (set it to sizeof(rp_score_result))", fn,
                        r->struct_size);
    return RP_OK;
}

void rp__score_result_write(rp_score_result *out, const rp_score_result *full)
{
    const size_t size = out->struct_size < sizeof *full ? out->struct_size : sizeof *full;
    memset(out, 0, out->struct_size);
    memcpy(out, full, size);
    out->struct_size = (uint32_t)size;
}

static int check_capacity(size_t have, size_t need, const char *name, const char *fn)
{
    if (have < need) return rp__fail(RP_E_SHAPE, "%s: %s holds %zu floats, %zu needed", fn, name, have, need);
    return RP_OK;
}

/* Features (validated shape) -> all requested outputs. */
static int score_steps(const rp_scorer *s, const float *features, rp_score_result *result_out,
                       float *patch_scores_out, float *map_input_out, float *map_image_out, uint32_t width,
                       uint32_t height, const char *fn)
{
    const uint32_t grid = s->geometry.grid_size, side = s->geometry.input_size;
    const size_t n = (size_t)grid * grid, features_floats = n * s->feature_dim;
    for (size_t i = 0; i < features_floats; i++)
        if (!isfinite(features[i]))
            return rp__fail(RP_E_INVALID_ARG, "%s: feature %zu of patch %zu is %g", fn, i % s->feature_dim,
                            i / s->feature_dim, (double)features[i]);

    const int want_map = map_input_out || map_image_out;
    const size_t map_floats = want_map ? (size_t)side * side : 0;
    float *patch_scores = rp__malloc(n * sizeof *patch_scores);
    float *map = want_map ? rp__malloc(map_floats * sizeof *map) : NULL;
    float *scratch = want_map ? rp__malloc(map_floats * sizeof *scratch) : NULL;
    rp_score_result result;
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    int rc = RP_OK;
    if (!patch_scores || (want_map && (!map || !scratch))) {
        rc = rp__fail(RP_E_NOMEM, "%s: out of memory for a %u x %u map", fn, side, side);
        goto done;
    }
    rc = rp__scorer_patch_scores(s, features, patch_scores, &result, fn);
    if (rc) goto done;

    double started = rp__timing_start();
    if (want_map) rp__scorer_patch_map(patch_scores, &s->geometry, s->map_sigma, map, scratch, s->num_threads);
    rp__timing_stop(RP_TIMING_MAP, started);
    /* The map back can fail (keep_aspect frame too long) but then writes nothing: it goes first. */
    started = rp__timing_start();
    if (map_image_out)
        rc = rp__scorer_map_to_image(map, &s->geometry, width, height, map_image_out, s->num_threads, fn);
    rp__timing_stop(RP_TIMING_MAP_TO_IMAGE, started);
    if (rc) goto done;
    /* Nothing below can fail: write the other outputs. */
    if (map_input_out) memcpy(map_input_out, map, map_floats * sizeof *map);
    if (patch_scores_out) memcpy(patch_scores_out, patch_scores, n * sizeof *patch_scores);
    if (result_out) rp__score_result_write(result_out, &result);

done:
    free(patch_scores);
    free(map);
    free(scratch);
    return rc;
}

/* score_steps with the scorer's thread count over every step (embedding, kNN, map). */
static int score_core(const rp_scorer *s, const float *features, rp_score_result *result_out,
                      float *patch_scores_out, float *map_input_out, float *map_image_out, uint32_t width,
                      uint32_t height, const char *fn)
{
    const int saved = rp__threads_enter(s->num_threads);
    const int rc =
        score_steps(s, features, result_out, patch_scores_out, map_input_out, map_image_out, width, height, fn);
    rp__threads_leave(saved);
    return rc;
}

int rp_scorer_score_features(const rp_scorer *s, const float *features, size_t features_floats,
                             rp_score_result *result_out, float *patch_scores_out, size_t patch_scores_floats,
                             float *map_input_out, size_t map_input_floats)
{
    static const char fn[] = "rp_scorer_score_features";
    rp__clear_error();
    if (!s || !features) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !s ? "scorer" : "features");
    const size_t n = (size_t)s->geometry.grid_size * s->geometry.grid_size;
    const size_t side2 = (size_t)s->geometry.input_size * s->geometry.input_size;
    if (features_floats != n * s->feature_dim)
        return rp__fail(RP_E_SHAPE, "%s: features_floats %zu != %u x %u patches x %u features = %zu", fn,
                        features_floats, s->geometry.grid_size, s->geometry.grid_size, s->feature_dim,
                        n * s->feature_dim);
    int rc = check_result(result_out, fn);
    if (!rc && patch_scores_out) rc = check_capacity(patch_scores_floats, n, "patch_scores_out", fn);
    if (!rc && map_input_out) rc = check_capacity(map_input_floats, side2, "map_input_out", fn);
    if (rc) return rc;
    return score_core(s, features, result_out, patch_scores_out, map_input_out, NULL, 0, 0, fn);
}

int rp_scorer_score(const rp_scorer *s, const rp_image *image, rp_score_result *result_out, float *map_input_out,
                    size_t map_input_floats, float *map_image_out, size_t map_image_floats)
{
    static const char fn[] = "rp_scorer_score";
    rp__clear_error();
    if (!s || !image) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !s ? "scorer" : "image");
    if (!s->extractor)
        return rp__fail(RP_E_STATE, "%s: this scorer was created without an extractor (use "
                                    "rp_scorer_score_features)", fn);
    const uint32_t width = rp_image_width(image), height = rp_image_height(image);
    const size_t side2 = (size_t)s->geometry.input_size * s->geometry.input_size;
    int rc = check_result(result_out, fn);
    if (!rc && map_input_out) rc = check_capacity(map_input_floats, side2, "map_input_out", fn);
    if (!rc && map_image_out) rc = check_capacity(map_image_floats, (size_t)width * height, "map_image_out", fn);
    if (rc) return rc;

    const size_t floats = (size_t)s->geometry.grid_size * s->geometry.grid_size * s->feature_dim;
    float *features = rp__malloc(floats * sizeof *features);
    if (!features) return rp__fail(RP_E_NOMEM, "%s: out of memory for %zu patch features", fn, floats);
    rc = rp_extractor_patch_features(s->extractor, &image, 1, features, floats);
    if (rc) {
        rc = rp__fail_relay(rc, "%s: rp_extractor_patch_features failed", fn);
    } else {
        rc = score_core(s, features, result_out, NULL, map_input_out, map_image_out, width, height, fn);
    }
    free(features);
    return rc;
}

int rp__scorer_score_features_image(const rp_scorer *s, const float *features, uint32_t width, uint32_t height,
                                    rp_score_result *result_out, float *map_image_out, const char *fn)
{
    return score_core(s, features, result_out, NULL, NULL, map_image_out, width, height, fn);
}

int rp_scorer_map_to_image(const rp_scorer *s, const float *map_input, size_t map_input_floats, uint32_t width,
                           uint32_t height, float *map_image_out, size_t map_image_floats)
{
    static const char fn[] = "rp_scorer_map_to_image";
    rp__clear_error();
    if (!s || !map_input || !map_image_out) return rp__fail(RP_E_INVALID_ARG, "%s: NULL argument", fn);
    if (!width || !height) return rp__fail(RP_E_INVALID_ARG, "%s: image size %u x %u", fn, width, height);
    const size_t side2 = (size_t)s->geometry.input_size * s->geometry.input_size;
    if (map_input_floats != side2)
        return rp__fail(RP_E_SHAPE, "%s: map_input_floats %zu != %u x %u", fn, map_input_floats,
                        s->geometry.input_size, s->geometry.input_size);
    size_t need;
    if (rp__mul_size(width, height, &need))
        return rp__fail(RP_E_LIMIT, "%s: image size %u x %u overflows", fn, width, height);
    int rc = check_capacity(map_image_floats, need, "map_image_out", fn);
    if (rc) return rc;
    const double started = rp__timing_start();
    rc = rp__scorer_map_to_image(map_input, &s->geometry, width, height, map_image_out, s->num_threads, fn);
    rp__timing_stop(RP_TIMING_MAP_TO_IMAGE, started);
    return rc;
}
