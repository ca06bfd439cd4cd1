/* The one-call pipeline's shared internals: the threshold rules and the calibration scores, used by
 * rp_train and rp_model_calibrate*. The model object itself is in model/model_internal.h. */
#ifndef RP_PIPELINE_INTERNAL_H
#define RP_PIPELINE_INTERNAL_H

#include "common/common.h"
#include "model/model_internal.h"

/* ---- threshold rules (thresholds.c), pure functions of scores ---- */

/* The conformal quantile rule: the k-th smallest of values[0..n-1] (1-based), k = min(n,
 * ceil((n + 1) q)) and at least 1. values is not modified. RP_E_NOMEM only. */
int rp__threshold_quantile(const double *values, uint32_t n, double q, double *threshold_out);

/* The F1-optimal threshold of "score > t" (labels 0/1, both present): see rp_model_calibrate_labelled.
 * *f1_out (may be NULL) gets the F1 reached. */
int rp__threshold_f1(const double *scores, const uint8_t *labels, uint32_t n, double *threshold_out,
                     double *f1_out);

/* Score images with the model for calibration: each image's image score and its map maximum in
 * its own geometry, in the given category (RP__ROUTE: routed; categories_out, may be NULL, gets
 * the category of each). images or paths (one of them non-NULL). progress: stage RP_STAGE_SCORE. */
int rp__model_calibration_scores(const rp_model *model, uint32_t category, const rp_image *const *images,
                                 const char *const *paths, uint32_t count, uint64_t max_pixels, rp_progress_fn progress,
                                 void *user_data, double *scores_out, double *map_max_out, uint32_t *categories_out,
                                 const char *fn);

/* The normal-image rule on ready scores: fills *out (rule QUANTILE). */
int rp__model_thresholds_from_normals(const double *scores, const double *map_max, uint32_t n, double q,
                                      rp_model_thresholds *out);

#endif
