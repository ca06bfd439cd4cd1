/* rp-eval: what the calibrated thresholds decide on a test split, counted the way an inspection
 * line counts them: good parts rejected (false rejects) and defective parts passed (escapes), for
 * the image decision (score > image threshold) and for the defect mask (map > pixel threshold). */
#ifndef RP_CLI_DECISIONS_H
#define RP_CLI_DECISIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct decision_counts {
    /* Image decision: true/false positives and negatives, anomalous = positive. */
    uint64_t tp, fp, tn, fn;
    /* Defect mask in each image's own geometry. */
    uint64_t good_masks_nonempty;  /* good images with at least one defect pixel */
    uint64_t defect_masks_empty;   /* defective images with no defect pixel */
    uint64_t good_pixels, good_pixels_flagged; /* every pixel of the good images */
} decision_counts;

/* Count one image: its score against the image threshold, its own-geometry map (pixels floats)
 * against the pixel threshold. */
void decisions_add(decision_counts *c, int anomalous, double score, double image_threshold, const float *map,
                   size_t pixels, double pixel_threshold);

/* The rates the counts give; -1 when undefined (no good, or no defective image). */
double decisions_false_reject_rate(const decision_counts *c); /* fp / (fp + tn) */
double decisions_escape_rate(const decision_counts *c);       /* fn / (fn + tp) */
double decisions_mask_false_reject_rate(const decision_counts *c);
double decisions_mask_escape_rate(const decision_counts *c);
double decisions_pixel_false_positive_rate(const decision_counts *c);

/* The rate of good images the normal-image rule flags by design (docs/pipeline.md): with n
 * calibration images and quantile q, the threshold is the k-th smallest calibration score,
 * k = min(n, ceil((n + 1) q)), and a new normal image exceeds it with probability 1 - k / (n + 1). */
double decisions_nominal_false_reject_rate(uint32_t n, double q);

#endif
