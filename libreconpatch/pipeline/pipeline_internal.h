/* The model object shared by the pipeline's files and the model file format (libreconpatch/model). */
#ifndef RP_PIPELINE_INTERNAL_H
#define RP_PIPELINE_INTERNAL_H

#include "common/common.h"

/* What the backbone was: enough to find (referenced) or check (embedded) its weights again. */
typedef struct rp__backbone_identity {
    int32_t arch;          /* RP_ARCH_* (0 for reduced-width test networks) */
    int32_t layout;        /* RP_LAYOUT_* */
    char sha256[65];       /* of the original weights file(s), as rp__weights_load reports it */
    char *weights_path;    /* the file the model was built from (absolute when known); for a
                              model loaded with embedded weights the path recorded as a hint, or
                              NULL */
    uint8_t *embedded;     /* the embedded safetensors blob when loaded from such a file, so the
                              model can be saved again with its weights; else NULL */
    size_t embedded_size;
} rp__backbone_identity;

struct rp_model {
    int32_t method;                     /* RP_METHOD_* */
    rp_extractor *extractor;
    rp_embedding *embedding;            /* NULL for PatchCore */
    rp_bank *bank;
    rp_scorer *scorer;
    rp_extractor_params extractor_params; /* resolved (no zero defaults), weights_path NULL */
    rp__backbone_identity backbone;
    rp_model_thresholds thresholds;     /* rule NONE and NaN thresholds until calibrated */
};

/* A zeroed model with no thresholds (NaN), or NULL when out of memory. */
rp_model *rp__model_alloc(void);

/* After extractor, embedding and bank are in place: record the extractor's resolved params and
 * create the scorer (its geometry taken from those params). scorer_params may be NULL; fn names
 * the public function for messages. */
int rp__model_finish(rp_model *model, const rp_scorer_params *scorer_params, const char *fn);

/* An rp_extractor_params with its defaults resolved, with the backbone loaded from
 * params->weights_path, recording the backbone's identity into *identity (weights_path made
 * absolute). On failure nothing is allocated. */
int rp__model_create_extractor(const rp_extractor_params *params, rp_extractor **extractor_out,
                               rp__backbone_identity *identity);

void rp__backbone_identity_clear(rp__backbone_identity *identity);

/* ---- threshold rules (thresholds.c), pure functions of scores ---- */

/* The conformal quantile rule: the k-th smallest of values[0..n-1] (1-based), k = min(n,
 * ceil((n + 1) q)) and at least 1. values is not modified. RP_E_NOMEM only. */
int rp__threshold_quantile(const double *values, uint32_t n, double q, double *threshold_out);

/* The F1-optimal threshold of "score > t" (labels 0/1, both present): see rp_model_calibrate_labelled.
 * *f1_out (may be NULL) gets the F1 reached. */
int rp__threshold_f1(const double *scores, const uint8_t *labels, uint32_t n, double *threshold_out,
                     double *f1_out);

/* Score images with the model for calibration: each image's image score and its map maximum in
 * its own geometry. images or paths (one of them non-NULL). progress: stage RP_STAGE_SCORE. */
int rp__model_calibration_scores(const rp_model *model, const rp_image *const *images, const char *const *paths,
                                 uint32_t count, uint64_t max_pixels, rp_progress_fn progress, void *user_data,
                                 double *scores_out, double *map_max_out, const char *fn);

/* The normal-image rule on ready scores: fills *out (rule QUANTILE). */
int rp__model_thresholds_from_normals(const double *scores, const double *map_max, uint32_t n, double q,
                                      rp_model_thresholds *out);

#endif
