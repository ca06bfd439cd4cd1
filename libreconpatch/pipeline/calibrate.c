/* Calibrating the decision thresholds from held-out images (the rules are in thresholds.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "pipeline/pipeline_internal.h"

int rp_calibration_params_init(rp_calibration_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_calibration_params_init");
}

static int report(rp_progress_fn progress, void *user_data, int64_t done, int64_t total, const char *fn)
{
    if (!progress) return RP_OK;
    rp_progress p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.stage = RP_STAGE_SCORE;
    p.done = done;
    p.total = total;
    p.epoch = p.step = -1;
    p.loss = p.val_loss = NAN;
    if (progress(&p, user_data)) return rp__fail(RP_E_CANCELLED, "%s: cancelled by the progress callback", fn);
    return RP_OK;
}

int rp__model_calibration_scores(const rp_model *model, uint32_t category, const rp_image *const *images,
                                 const char *const *paths, uint32_t count, uint64_t max_pixels, rp_progress_fn progress,
                                 void *user_data, double *scores_out, double *map_max_out, uint32_t *categories_out,
                                 const char *fn)
{
    rp_image_load_params lp;
    rp_image_load_params_init(&lp, sizeof lp);
    lp.max_pixels = max_pixels;
    int rc = RP_OK;
    for (uint32_t i = 0; i < count && !rc; i++) {
        rp_image *owned = NULL;
        const rp_image *img = images ? images[i] : NULL;
        if (!images) {
            if (!paths[i]) return rp__fail(RP_E_INVALID_ARG, "%s: paths[%u] is NULL", fn, i);
            if ((rc = rp_image_load_file(paths[i], &lp, &owned)))
                return rp__fail_relay(rc, "%s: calibration image %u (%s)", fn, i, paths[i]);
            img = owned;
        }
        if (!img) return rp__fail(RP_E_INVALID_ARG, "%s: images[%u] is NULL", fn, i);
        /* The map in the image's own geometry: the mask is drawn there, so its maximum is what the
         * pixel threshold has to clear. */
        size_t pixels = (size_t)rp_image_width(img) * rp_image_height(img);
        float *map = rp__malloc((pixels ? pixels : 1) * sizeof *map);
        rp_score_result r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        if (!map) rc = rp__fail(RP_E_NOMEM, "%s: out of memory for the map of image %u", fn, i);
        else rc = rp__model_score(model, category, img, &r, map, pixels, categories_out ? &categories_out[i] : NULL);
        if (!rc) {
            float top = map[0];
            for (size_t k = 1; k < pixels; k++)
                if (map[k] > top) top = map[k];
            scores_out[i] = r.score;
            map_max_out[i] = top;
        } else if (map) {
            rc = rp__fail_relay(rc, "%s: scoring calibration image %u", fn, i);
        }
        free(map);
        rp_image_free(owned);
        if (!rc) rc = report(progress, user_data, i + 1, count, fn);
    }
    return rc;
}

static int resolve_quantile(const rp_calibration_params *user, double *q, const char *fn)
{
    rp_calibration_params p;
    rp_calibration_params_init(&p, sizeof p);
    int rc = rp__params_copy(&p, sizeof p, user, fn);
    if (rc) return rc;
    *q = p.quantile == 0.0 ? RP_CALIBRATION_DEFAULT_QUANTILE : p.quantile;
    if (!(*q > 0.0 && *q < 1.0))
        return rp__fail(RP_E_INVALID_ARG, "%s: params.quantile %g is not in (0, 1)", fn, p.quantile);
    return RP_OK;
}

static int check_common(const rp_model *model, const rp_image *const *images, uint32_t count, const char *fn)
{
    if (!model) return rp__fail(RP_E_INVALID_ARG, "%s: model is NULL", fn);
    if (!images) return rp__fail(RP_E_INVALID_ARG, "%s: images is NULL", fn);
    if (!count) return rp__fail(RP_E_INVALID_ARG, "%s: count is 0", fn);
    for (uint32_t i = 0; i < count; i++)
        if (!images[i]) return rp__fail(RP_E_INVALID_ARG, "%s: images[%u] is NULL", fn, i);
    return RP_OK;
}

/* The images of category c among count (all of them for a model of one category). */
static uint32_t select_category(const uint32_t *categories, uint32_t count, uint32_t c, uint32_t *index_out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++)
        if (categories[i] == c) index_out[n++] = i;
    return n;
}

/* Scores of the selected images, gathered. */
static void gather(const double *all, const uint32_t *index, uint32_t n, double *out)
{
    for (uint32_t i = 0; i < n; i++) out[i] = all[index[i]];
}

/* Scratch of one calibration: per image its scores and category, and one category's share. */
typedef struct calibration_scratch {
    double *scores, *map_max, *sub_scores, *sub_map_max, *normal_max;
    uint32_t *categories, *index;
    uint8_t *sub_labels;
} calibration_scratch;

static int scratch_alloc(calibration_scratch *w, uint32_t count, const char *fn)
{
    const size_t n = count ? count : 1;
    w->scores = rp__malloc(n * sizeof *w->scores);
    w->map_max = rp__malloc(n * sizeof *w->map_max);
    w->sub_scores = rp__malloc(n * sizeof *w->sub_scores);
    w->sub_map_max = rp__malloc(n * sizeof *w->sub_map_max);
    w->normal_max = rp__malloc(n * sizeof *w->normal_max);
    w->categories = rp__malloc(n * sizeof *w->categories);
    w->index = rp__malloc(n * sizeof *w->index);
    w->sub_labels = rp__malloc(n);
    if (!w->scores || !w->map_max || !w->sub_scores || !w->sub_map_max || !w->normal_max || !w->categories || !w->index ||
        !w->sub_labels)
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %u scores", fn, count);
    return RP_OK;
}

static void scratch_free(calibration_scratch *w)
{
    free(w->scores);
    free(w->map_max);
    free(w->sub_scores);
    free(w->sub_map_max);
    free(w->normal_max);
    free(w->categories);
    free(w->index);
    free(w->sub_labels);
}

/* The labelled rule on n images: F1-optimal image threshold, quantile pixel threshold on the normals. */
static int thresholds_labelled(const double *scores, const double *map_max, const uint8_t *labels, uint32_t n,
                               double q, double *normal_max, rp_model_thresholds *t)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->rule = RP_THRESHOLD_RULE_F1;
    t->quantile = q;
    t->calibration_images = n;
    int rc = rp__threshold_f1(scores, labels, n, &t->image_threshold, &t->f1);
    uint32_t normals = 0;
    for (uint32_t i = 0; !rc && i < n; i++)
        if (!labels[i]) normal_max[normals++] = map_max[i];
    if (!rc) rc = rp__threshold_quantile(normal_max, normals, q, &t->pixel_threshold);
    return rc;
}

/* Both rules: score (routed), then per category the rule on that category's images; the model
 * is changed only once every category's thresholds are computed. labels NULL: normal-image rule. */
static int calibrate(rp_model *model, const rp_image *const *images, const uint8_t *labels, uint32_t count,
                     double q, rp_progress_fn progress, void *user_data, const char *fn)
{
    calibration_scratch w;
    memset(&w, 0, sizeof w);
    rp_model_thresholds *fresh = rp__calloc(model->n_categories, sizeof *fresh);
    uint8_t *touched = rp__calloc(model->n_categories, 1);
    int rc = fresh && touched ? scratch_alloc(&w, count, fn) : rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    if (!rc)
        rc = rp__model_calibration_scores(model, RP__ROUTE, images, NULL, count, 0, progress, user_data, w.scores,
                                          w.map_max, w.categories, fn);
    for (uint32_t c = 0; !rc && c < model->n_categories; c++) {
        const uint32_t n = select_category(w.categories, count, c, w.index);
        if (!n) continue;
        gather(w.scores, w.index, n, w.sub_scores);
        gather(w.map_max, w.index, n, w.sub_map_max);
        if (!labels) {
            rc = rp__model_thresholds_from_normals(w.sub_scores, w.sub_map_max, n, q, &fresh[c]);
        } else {
            uint32_t anomalous = 0;
            for (uint32_t i = 0; i < n; i++) anomalous += w.sub_labels[i] = labels[w.index[i]];
            if (anomalous == 0 || anomalous == n)
                rc = rp__fail(RP_E_INVALID_ARG, "%s: %u of the %u images %s%s%sare labelled anomalous: F1 needs at "
                                                "least one normal and one anomalous image", fn, anomalous, n,
                              model->n_categories > 1 ? "routed to category '" : "",
                              model->n_categories > 1 ? rp_model_category_name(model, c) : "",
                              model->n_categories > 1 ? "' " : "");
            else
                rc = thresholds_labelled(w.sub_scores, w.sub_map_max, w.sub_labels, n, q, w.normal_max, &fresh[c]);
        }
        touched[c] = 1;
    }
    for (uint32_t c = 0; !rc && c < model->n_categories; c++)
        if (touched[c]) model->categories[c].thresholds = fresh[c];
    scratch_free(&w);
    free(fresh);
    free(touched);
    return rc;
}

int rp_model_calibrate(rp_model *model, const rp_image *const *images, uint32_t count,
                       const rp_calibration_params *params, rp_progress_fn progress, void *user_data)
{
    static const char fn[] = "rp_model_calibrate";
    rp__clear_error();
    double q;
    int rc = check_common(model, images, count, fn);
    if (!rc) rc = resolve_quantile(params, &q, fn);
    if (rc) return rc;
    return calibrate(model, images, NULL, count, q, progress, user_data, fn);
}

int rp_model_calibrate_labelled(rp_model *model, const rp_image *const *images, const uint8_t *labels,
                                uint32_t count, const rp_calibration_params *params, rp_progress_fn progress,
                                void *user_data)
{
    static const char fn[] = "rp_model_calibrate_labelled";
    rp__clear_error();
    double q;
    int rc = check_common(model, images, count, fn);
    if (!rc && !labels) rc = rp__fail(RP_E_INVALID_ARG, "%s: labels is NULL", fn);
    if (!rc) rc = resolve_quantile(params, &q, fn);
    if (rc) return rc;
    uint32_t anomalous = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (labels[i] > 1) return rp__fail(RP_E_INVALID_ARG, "%s: labels[%u] is %u, not 0 or 1", fn, i, labels[i]);
        anomalous += labels[i];
    }
    if (anomalous == 0 || anomalous == count)
        return rp__fail(RP_E_INVALID_ARG, "%s: %u of %u images are labelled anomalous: F1 needs at least one "
                                          "normal and one anomalous image", fn, anomalous, count);
    return calibrate(model, images, labels, count, q, progress, user_data, fn);
}
