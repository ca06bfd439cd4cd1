/* The two threshold rules as pure functions of scores (docs/pipeline.md, "Thresholds"):
 *  - normal images only: the conformal quantile of their scores;
 *  - labelled images: the threshold of "score > t" with the best F1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "pipeline/pipeline_internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rp__threshold_quantile(const double *values, uint32_t n, double q, double *threshold_out)
{
    double *sorted = rp__malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) return rp__fail(RP_E_NOMEM, "rp_model_calibrate: out of memory for %u scores", n);
    memcpy(sorted, values, (size_t)n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    /* k = ceil((n + 1) q); the small slack keeps e.g. (99 + 1) x 0.99 at 99 despite rounding. */
    double k_real = ceil((double)(n + 1) * q - 1e-9);
    uint32_t k = k_real < 1.0 ? 1u : k_real > (double)n ? n : (uint32_t)k_real;
    *threshold_out = sorted[k - 1];
    free(sorted);
    return RP_OK;
}

typedef struct scored {
    double score;
    uint8_t label;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    return cmp_double(&((const scored *)a)->score, &((const scored *)b)->score);
}

/* F1 = 2 TP / (2 TP + FP + FN) with integer counts. */
static double f1_of(uint32_t tp, uint32_t fp, uint32_t fn)
{
    return tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
}

int rp__threshold_f1(const double *scores, const uint8_t *labels, uint32_t n, double *threshold_out, double *f1_out)
{
    scored *s = rp__malloc((n ? n : 1) * sizeof *s);
    if (!s) return rp__fail(RP_E_NOMEM, "rp_model_calibrate_labelled: out of memory for %u scores", n);
    uint32_t positives = 0;
    for (uint32_t i = 0; i < n; i++) {
        s[i].score = scores[i];
        s[i].label = labels[i] ? 1 : 0;
        positives += s[i].label;
    }
    qsort(s, n, sizeof *s, cmp_scored);
    /* Walk the cuts from "everything anomalous" upwards: after each group of equal scores, that
     * group turns normal. >= keeps the later (higher) cut on ties of F1. */
    uint32_t tp = positives, fp = n - positives, fn = 0;
    double best = f1_of(tp, fp, fn);
    uint32_t best_end = 0; /* number of (sorted) images called normal at the best cut */
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j < n && s[j].score == s[i].score) {
            if (s[j].label) tp--, fn++;
            else fp--;
            j++;
        }
        double f1 = f1_of(tp, fp, fn);
        if (f1 >= best && j < n) { /* the all-normal cut (j == n) has F1 0: never the best */
            best = f1;
            best_end = j;
        }
        i = j;
    }
    double t;
    if (best_end == 0) {
        t = nextafter(s[0].score, -INFINITY); /* below every score: all anomalous */
    } else {
        double lo = s[best_end - 1].score, hi = s[best_end].score;
        t = lo + (hi - lo) / 2;
        if (!(t < hi)) t = lo; /* adjacent doubles: the midpoint may round up to hi */
    }
    free(s);
    *threshold_out = t;
    if (f1_out) *f1_out = best;
    return RP_OK;
}

int rp__model_thresholds_from_normals(const double *scores, const double *map_max, uint32_t n, double q,
                                      rp_model_thresholds *out)
{
    rp_model_thresholds t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.rule = RP_THRESHOLD_RULE_QUANTILE;
    t.quantile = q;
    t.f1 = NAN;
    t.calibration_images = n;
    int rc = rp__threshold_quantile(scores, n, q, &t.image_threshold);
    if (!rc) rc = rp__threshold_quantile(map_max, n, q, &t.pixel_threshold);
    if (!rc) *out = t;
    return rc;
}
