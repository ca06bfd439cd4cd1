/* rp-eval --report DIR: a self-contained HTML evaluation report, DIR/index.html with its images in
 * DIR/img/ (no network, no script). Per category: the ROC and PRO curves as inline SVG, histograms
 * of the good and defective image scores with the calibrated threshold, the confusion counts at it,
 * and a gallery of the worst false rejects and of the missed defects (image, heat-map overlay with
 * the ground-truth contour). A summary table on top. docs/cli.md describes the page. */
#ifndef RP_CLI_REPORT_H
#define RP_CLI_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <reconpatch/reconpatch.h>

#include "rp_decisions.h"

typedef struct rp_report rp_report;

/* One category's evaluation, borrowed for report_add_category. */
typedef struct report_category {
    const char *name;
    size_t count;                     /* test images */
    const char *const *paths;         /* their files */
    const char *const *mask_paths;    /* ground-truth mask file or "" */
    const uint8_t *labels;            /* 1 = defective */
    const float *scores;              /* image scores */
    const float *const *maps;         /* side x side maps in the network-input geometry */
    const uint8_t *const *masks;      /* side x side ground truth there, NULL = no defect */
    uint32_t side;
    int has_masks;
    unsigned mask_threshold;          /* mask files: defect where the value is above this */
    double image_auroc, pixel_auroc, aupro;   /* -1 when not measured */
    const rp_model_thresholds *thresholds;    /* calibrated (rule QUANTILE) */
    double nominal_false_reject_rate;
    const decision_counts *decisions;         /* at those thresholds */
} report_category;

/* Create DIR and DIR/img (exits with a message naming the folder when it cannot). */
rp_report *report_open(const char *dir);
/* Add a section; scorer re-scores the gallery images for their overlays. Exits on failure. */
void report_add_category(rp_report *report, const report_category *category, const rp_scorer *scorer);
/* Write DIR/index.html and free the report. */
void report_close(rp_report *report);

#endif
