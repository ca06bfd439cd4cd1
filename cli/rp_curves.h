/* rp-eval --report: the points of the ROC curve (image scores) and of the PRO curve (anomaly maps
 * against ground-truth regions), for drawing. Each curve's exact area is returned beside its
 * points, computed on every point before thinning, so it can be checked against rp_metric_auroc
 * and rp_metric_aupro. */
#ifndef RP_CLI_CURVES_H
#define RP_CLI_CURVES_H

#include <stddef.h>
#include <stdint.h>

typedef struct curve_point {
    double x, y; /* ROC: false-positive rate, true-positive rate; PRO: false-positive rate, PRO */
} curve_point;

typedef struct curve {
    curve_point *points; /* malloc'd, from (0, 0) upwards; free with curve_free */
    size_t count;
    double area;         /* ROC: AUROC; PRO: area up to the FPR limit divided by the limit */
} curve;

/* ROC of count scores against 0/1 labels (anomalous = positive, higher = more anomalous): one point
 * per distinct score, thresholds descending, ties one step. Returns 0, or -1 if one class is absent. */
int curve_roc(const float *scores, const uint8_t *labels, size_t count, curve *out);

/* PRO curve up to fpr_limit (as rp_metric_aupro: regions are the 8-connected components of each
 * mask, PRO = mean over all regions of the share of its pixels at or above the threshold, FPR =
 * share of all normal pixels at or above it; the last point is interpolated at fpr_limit).
 * maps: count side x side floats; masks: count side x side bytes, non-zero = defect, NULL = none.
 * At most max_points points are kept (the area uses all). Returns 0, -1 without defect or normal
 * pixels, -2 out of memory. */
int curve_pro(const float *const *maps, const uint8_t *const *masks, size_t count, uint32_t side, double fpr_limit,
              size_t max_points, curve *out);

void curve_free(curve *c);

#endif
