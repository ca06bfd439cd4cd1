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

/* ---- steps shared by rp_train and rp_model_add_normals (train_steps.c) ---- */

/* batch_size (0 becomes the default), calibration_fraction and the quantile (resolved into *q):
 * checked as rp_train documents them. */
int rp__train_params_check_common(rp_train_params *params, double *q, const char *fn);

/* params.feature_memory_limit resolved: the default for 0, 0 (never spill) for UINT64_MAX. */
uint64_t rp__train_feature_limit(const rp_train_params *p);

/* The part of params.feature_memory_limit for one of `parts` stores of a kind (0: no limit; else
 * at least one byte). With a head (ReConPatch, PCA) the trainers, which hold every training patch,
 * share half, and the banks of the embedded vectors, which fill while the trainers still hold
 * theirs, the other half; without a head (PatchCore) the banks share all of it. So the stores
 * together hold at most about the limit. */
uint64_t rp__feature_limit_part(const rp_train_params *p, int for_trainers, int has_head, uint32_t parts);

/* Where the images come from: paths (decoded one batch at a time) or caller images. */
typedef struct rp__image_source {
    const char *const *paths;
    const rp_image *const *images;
    const uint32_t *index; /* the images used, as positions in paths / images */
    uint32_t count;        /* entries in index */
    uint64_t max_pixels;
} rp__image_source;

/* The caller's progress callback, for the feature stage, and the public function's name for
 * messages. */
typedef struct rp__progress_ctx {
    rp_progress_fn fn;
    void *user_data;
    const char *caller;
} rp__progress_ctx;

/* Receives each image's patch features (grid^2 x dim). */
typedef int (*rp__feature_sink)(void *ctx, const float *features, uint32_t patches, uint32_t dim);

/* Run the extractor over the source's images in batches and hand every image's features to sink
 * (progress: RP_STAGE_FEATURES). */
int rp__extract_all(const rp_extractor *ex, const rp__image_source *src, uint32_t batch, rp__feature_sink sink,
                    void *sink_ctx, const rp__progress_ctx *pc);

/* Which images train and which calibrate (calibration_fraction): within each category (category
 * NULL: one), h evenly spaced images of its n are held out (image k of the category when
 * floor((k + 1) h / n) > floor(k h / n)). Fills train_idx / calib_idx (count entries each at most)
 * in the order of the list. */
int rp__split_images(uint32_t count, const uint32_t *category, uint32_t n_categories, double fraction,
                     uint32_t *train_idx, uint32_t *n_train, uint32_t *calib_idx, uint32_t *n_calib, const char *fn);

/* ---- heads (fit_head.c) ---- */

/* The head of method (RP_METHOD_RECONPATCH: trained, progress RP_STAGE_TRAIN; RP_METHOD_PCA:
 * fitted) on the features trainer holds. */
int rp__fit_head(rp_trainer *trainer, int32_t method, rp_progress_fn progress, void *user_data, rp_embedding **out);

/* f applied to every training image the trainer holds, into the bank of its category
 * (m->categories[category[i]].bank) or, with category NULL, into bank; each image's features are
 * released as it goes. fn names the caller for messages. */
int rp__embed_into_banks(const rp_trainer *trainer, const rp_embedding *f, rp_model *m, const uint32_t *category,
                         rp_bank *bank, const char *fn);

/* One category's head and bank from the trainer holding its images: the head fitted
 * (rp__fit_head), a new bank of bp with the head's out dim (at most bank_limit bytes of vectors in
 * memory, past them a file in spill_dir; 0: no limit), every image embedded into it and released.
 * On success both are the caller's; on failure both are NULL. */
int rp__fit_head_into_bank(rp_trainer *trainer, int32_t method, rp_bank_params bp, uint64_t bank_limit,
                           const char *spill_dir, rp_progress_fn progress, void *user_data, const char *fn,
                           rp_embedding **head_out, rp_bank **bank_out);

/* rp_train_params.heads checked for fn (rp_train refuses RP_HEADS_NONE). */
int rp__heads_check(int32_t heads, int for_training, const char *fn);

/* Score the held-out images of each category (category of image i: category[i]; NULL: all of
 * first_category) in that category, no routing, and set its thresholds with rp_model_calibrate's
 * rule. Categories first_category.. of the model are calibrated; fn names the caller. */
int rp__calibrate_held_out(rp_model *m, const rp__image_source *src, const uint32_t *calib_idx, uint32_t n_calib,
                           const uint32_t *category, uint32_t first_category, double q, rp_progress_fn progress,
                           void *user_data, const char *fn);

#endif
