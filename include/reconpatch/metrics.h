/* libreconpatch: evaluation metrics, as the MVTec AD protocol reports them. See docs/metrics.md.
 *
 *  - rp_metric_auroc: area under the ROC curve of scores against 0/1 labels, exactly as
 *    sklearn.metrics.roc_auc_score (ties form one threshold; trapezoid rule). Image AUROC.
 *  - rp_metric_pixel_auroc: the same over every pixel of a set of anomaly maps and masks.
 *  - rp_metric_aupro: the normalised area under the per-region-overlap (PRO) curve up to a false
 *    positive rate limit, as the official MVTec AD evaluation (mvtec_ad_evaluation) computes it.
 *
 * Each call sorts its scores once (a radix sort): millions of pixels take well under a second.
 * Inputs are borrowed for the call only; results are doubles in [0, 1]. The functions keep no
 * state and may run from several threads at once. On failure *out is 0. */
#ifndef RECONPATCH_METRICS_H
#define RECONPATCH_METRICS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The PRO integration limit used when fpr_limit is 0. */
#define RP_METRIC_DEFAULT_FPR_LIMIT 0.3

/* ROC AUC of count scores against labels (each 0 = normal or 1 = anomalous). Higher scores mean
 * "more anomalous". Fails with RP_E_INVALID_ARG for NULL pointers, count 0, a label other than
 * 0/1, a NaN score, or labels of one class only (the AUC is undefined). */
RP_API int rp_metric_auroc(const float *scores, const uint8_t *labels, uint64_t count, double *auroc_out);

/* Pixel-level ROC AUC over count anomaly maps (each width x height floats, row-major) and their
 * ground-truth masks (width x height bytes, non-zero = defect, e.g. 0/255 PNG masks). A NULL entry
 * in masks means an image without defects (all pixels normal). Same errors as rp_metric_auroc. */
RP_API int rp_metric_pixel_auroc(const float *const *maps, const uint8_t *const *masks, uint32_t count,
                                 uint32_t width, uint32_t height, double *auroc_out);

/* AUPRO: ground-truth regions are the 8-connected components of each mask; at each threshold the
 * PRO is the overlap (fraction of a region's pixels at or above the threshold) averaged over all
 * regions of all images, and the FPR is the fraction of all normal pixels at or above it. The
 * curve through (0,0), one point per distinct score (thresholds descending) and (1,1) is
 * integrated with the trapezoid rule up to fpr_limit (y interpolated there) and divided by
 * fpr_limit. fpr_limit 0 means RP_METRIC_DEFAULT_FPR_LIMIT; otherwise it must be in (0, 1].
 * masks as for rp_metric_pixel_auroc (NULL = no defect). Fails with RP_E_INVALID_ARG for NULL
 * maps, count/width/height 0, a NaN score, no defect pixel or no normal pixel at all. */
RP_API int rp_metric_aupro(const float *const *maps, const uint8_t *const *masks, uint32_t count,
                           uint32_t width, uint32_t height, double fpr_limit, double *aupro_out);

#ifdef __cplusplus
}
#endif
#endif
