/* A model of several products (docs/unified.md): each category keeps its own bank, scorer and
 * thresholds; a router sends an image to the category of its nearest training image, compared by
 * one global descriptor per image, so scoring searches one category's bank, not all of them. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/timing.h"
#include "model/model_internal.h"
#include "scorer/scorer_internal.h"

void rp__route_descriptor(const float *features, uint32_t patches, uint32_t dim, float *out)
{
    /* double sums (784 patches of values up to ~1e2 lose digits in float), a block of dimensions
     * at a time so every patch row is read front to back */
    enum { BLOCK = 256 };
    double sum[BLOCK];
    for (uint32_t d0 = 0; d0 < dim; d0 += BLOCK) {
        const uint32_t n = dim - d0 < BLOCK ? dim - d0 : BLOCK;
        memset(sum, 0, n * sizeof *sum);
        for (uint32_t p = 0; p < patches; p++) {
            const float *row = features + (size_t)p * dim + d0;
            for (uint32_t d = 0; d < n; d++) sum[d] += row[d];
        }
        for (uint32_t d = 0; d < n; d++) out[d0 + d] = (float)(sum[d] / (patches ? patches : 1u));
    }
}

/* Squared distance of two descriptors: 16 float partial sums, which the compiler vectorises;
 * the ranking needs no more precision than that (descriptors are means of O(1) features). */
static double distance2(const float *a, const float *b, uint32_t dim)
{
    float acc[16] = {0};
    uint32_t k = 0;
    for (; k + 16 <= dim; k += 16)
        for (uint32_t j = 0; j < 16; j++) {
            const float d = a[k + j] - b[k + j];
            acc[j] += d * d;
        }
    double sum = 0.0;
    for (; k < dim; k++) sum += (double)(a[k] - b[k]) * (a[k] - b[k]);
    for (uint32_t j = 0; j < 16; j++) sum += acc[j];
    return sum;
}

uint32_t rp__route(const rp_model *m, const float *descriptor)
{
    const rp__router *r = &m->router;
    if (m->n_categories < 2 || !r->count) return 0;
    double best = DBL_MAX;
    uint32_t best_category = 0;
    for (uint32_t i = 0; i < r->count; i++) {
        const double d2 = distance2(r->descriptors + (size_t)i * r->dim, descriptor, r->dim);
        if (d2 < best) { /* first of equals: the result does not depend on thread timing */
            best = d2;
            best_category = r->category[i];
        }
    }
    return best_category;
}

int rp__router_add(rp__router *r, const float *descriptor, uint32_t dim, uint32_t category)
{
    if (r->count && r->dim != dim) return rp__fail(RP_E_SHAPE, "router: descriptor of %u floats, not %u", dim, r->dim);
    if (r->count == r->capacity) { /* doubling: one call per training image */
        const uint32_t cap = r->capacity ? 2 * r->capacity : 64;
        float *d = rp__realloc(r->descriptors, (size_t)cap * dim * sizeof *d);
        if (d) r->descriptors = d;
        uint32_t *c = d ? rp__realloc(r->category, (size_t)cap * sizeof *c) : NULL;
        if (c) r->category = c;
        if (!d || !c) return rp__fail(RP_E_NOMEM, "router: out of memory for %u image descriptors", cap);
        r->capacity = cap;
    }
    memcpy(r->descriptors + (size_t)r->count * dim, descriptor, dim * sizeof *descriptor);
    r->category[r->count] = category;
    r->dim = dim;
    r->count++;
    return RP_OK;
}

void rp__router_clear(rp__router *r)
{
    free(r->descriptors);
    free(r->category);
    memset(r, 0, sizeof *r);
}

int rp__route_features(const rp_model *m, const float *features, uint32_t patches, uint32_t dim,
                       uint32_t *category_out)
{
    float *descriptor = rp__malloc(dim * sizeof *descriptor);
    if (!descriptor) return rp__fail(RP_E_NOMEM, "out of memory for an image descriptor");
    const double started = rp__timing_start();
    rp__route_descriptor(features, patches, dim, descriptor);
    *category_out = rp__route(m, descriptor);
    rp__timing_stop(RP_TIMING_ROUTE, started);
    free(descriptor);
    return RP_OK;
}

int rp__model_score(const rp_model *m, uint32_t category, const rp_image *image, rp_score_result *result,
                    float *map_image_out, size_t map_image_floats, uint32_t *category_out)
{
    if (m->n_categories == 1 || category != RP__ROUTE) {
        /* nothing to route: the scorer runs the extractor itself */
        const uint32_t c = category == RP__ROUTE ? 0 : category;
        int rc = rp_scorer_score(m->categories[c].scorer, image, result, NULL, 0, map_image_out, map_image_floats);
        if (!rc && category_out) *category_out = c;
        return rc;
    }
    /* the features once: the router's descriptor and the chosen category's scores come from them */
    rp_extractor_info info;
    info.struct_size = sizeof info;
    int rc = rp_extractor_get_info(m->extractor, &info, sizeof info);
    if (rc) return rc;
    const uint32_t patches = info.grid_size * info.grid_size;
    const size_t floats = (size_t)patches * info.feature_dim;
    float *features = rp__malloc(floats * sizeof *features);
    if (!features) return rp__fail(RP_E_NOMEM, "out of memory for %zu patch features", floats);
    uint32_t c = 0;
    rc = rp_extractor_patch_features(m->extractor, &image, 1, features, floats);
    if (rc) rc = rp__fail_relay(rc, "rp_extractor_patch_features");
    if (!rc) rc = rp__route_features(m, features, patches, info.feature_dim, &c);
    if (!rc)
        rc = rp__scorer_score_features_image(m->categories[c].scorer, features, rp_image_width(image),
                                             rp_image_height(image), result, map_image_out, "rp_scorer_score");
    if (!rc && category_out) *category_out = c;
    free(features);
    return rc;
}

/* ---- public getters ---- */

uint32_t rp_model_category_count(const rp_model *m) { return m ? m->n_categories : 0; }

const char *rp_model_category_name(const rp_model *m, uint32_t category)
{
    if (!m || category >= m->n_categories) return NULL;
    return m->categories[category].name ? m->categories[category].name : "";
}

const rp_scorer *rp_model_category_scorer(const rp_model *m, uint32_t category)
{
    return m && category < m->n_categories ? m->categories[category].scorer : NULL;
}

int rp_model_route_features(const rp_model *m, const float *features, size_t features_floats, uint32_t *category_out)
{
    static const char fn[] = "rp_model_route_features";
    rp__clear_error();
    if (!m || !features || !category_out)
        return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !m ? "model" : !features ? "features" : "category_out");
    rp_extractor_info info;
    info.struct_size = sizeof info;
    int rc = rp_extractor_get_info(m->extractor, &info, sizeof info);
    if (rc) return rc;
    const uint32_t patches = info.grid_size * info.grid_size;
    if (features_floats != (size_t)patches * info.feature_dim)
        return rp__fail(RP_E_SHAPE, "%s: features_floats %zu != %u patches x %u features", fn, features_floats, patches,
                        info.feature_dim);
    rc = rp__route_features(m, features, patches, info.feature_dim, category_out);
    return rc ? rp__fail_relay(rc, "%s", fn) : RP_OK;
}
