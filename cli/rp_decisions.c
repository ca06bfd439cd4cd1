/* Counting the thresholds' decisions on a labelled test split (rp_decisions.h). */
#include "rp_decisions.h"

#include <math.h>

void decisions_add(decision_counts *c, int anomalous, double score, double image_threshold, const float *map,
                   size_t pixels, double pixel_threshold)
{
    /* The same comparisons as rp_score_image: strictly above the threshold is anomalous. */
    int flagged = score > image_threshold;
    if (anomalous) flagged ? c->tp++ : c->fn++;
    else flagged ? c->fp++ : c->tn++;
    uint64_t on = 0;
    for (size_t i = 0; i < pixels; i++) on += map[i] > pixel_threshold;
    if (anomalous) {
        c->defect_masks_empty += on == 0;
    } else {
        c->good_masks_nonempty += on > 0;
        c->good_pixels += pixels;
        c->good_pixels_flagged += on;
    }
}

static double ratio(uint64_t part, uint64_t whole) { return whole ? (double)part / (double)whole : -1.0; }

double decisions_false_reject_rate(const decision_counts *c) { return ratio(c->fp, c->fp + c->tn); }
double decisions_escape_rate(const decision_counts *c) { return ratio(c->fn, c->fn + c->tp); }
double decisions_mask_false_reject_rate(const decision_counts *c)
{
    return ratio(c->good_masks_nonempty, c->fp + c->tn);
}
double decisions_mask_escape_rate(const decision_counts *c) { return ratio(c->defect_masks_empty, c->fn + c->tp); }
double decisions_pixel_false_positive_rate(const decision_counts *c)
{
    return ratio(c->good_pixels_flagged, c->good_pixels);
}

double decisions_nominal_false_reject_rate(uint32_t n, double q)
{
    if (!n) return -1.0;
    /* The library's slack: (99 + 1) x 0.99 stays 99 despite rounding. */
    double k_real = ceil((double)(n + 1) * q - 1e-9);
    double k = k_real < 1.0 ? 1.0 : k_real > (double)n ? (double)n : k_real;
    return 1.0 - k / (double)(n + 1);
}
