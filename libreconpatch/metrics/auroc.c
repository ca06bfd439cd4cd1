/* ROC AUC, image-level and pixel-level, equal to sklearn.metrics.roc_auc_score: one ROC point per
 * distinct score (so tied scores form one threshold) and the trapezoid rule between points. */
#include <math.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/common.h"
#include "metrics/metrics_internal.h"

/* Walk the sorted items from the highest score down, one tie group at a time, and sum the
 * trapezoids in units of (negatives x positives). The payload of each item is its 0/1 label. */
static double auroc_of_sorted(const uint64_t *items, size_t n, uint64_t positives, uint64_t negatives)
{
    double tp = 0, fp = 0, area2 = 0; /* area2: twice the area, in counts */
    size_t i = n;
    while (i > 0) {
        const uint32_t key = rp__metrics_item_key(items[i - 1]);
        double group_tp = 0, group_fp = 0;
        while (i > 0 && rp__metrics_item_key(items[i - 1]) == key) {
            if (rp__metrics_item_payload(items[i - 1])) group_tp += 1;
            else group_fp += 1;
            i--;
        }
        area2 += group_fp * (2.0 * tp + group_tp);
        tp += group_tp;
        fp += group_fp;
    }
    return area2 / (2.0 * (double)positives * (double)negatives);
}

/* Sort the items and compute the AUC, or fail with the class counts named. */
static int auroc_finish(const char *fn, uint64_t *items, size_t n, uint64_t positives, double *auroc_out)
{
    const uint64_t negatives = n - positives;
    if (positives == 0 || negatives == 0)
        return rp__fail(RP_E_INVALID_ARG, "%s: %llu positive and %llu negative labels: AUROC needs both classes",
                        fn, (unsigned long long)positives, (unsigned long long)negatives);
    uint64_t *scratch = rp__malloc(n * sizeof *scratch);
    if (!scratch) return rp__fail(RP_E_NOMEM, "%s: out of memory sorting %zu scores", fn, n);
    rp__metrics_radix_sort(items, scratch, n);
    free(scratch);
    *auroc_out = auroc_of_sorted(items, n, positives, negatives);
    return RP_OK;
}

int rp_metric_auroc(const float *scores, const uint8_t *labels, uint64_t count, double *auroc_out)
{
    rp__clear_error();
    static const char fn[] = "rp_metric_auroc";
    if (!auroc_out) return rp__fail(RP_E_INVALID_ARG, "%s: auroc_out is NULL", fn);
    *auroc_out = 0.0;
    if (!scores || !labels) return rp__fail(RP_E_INVALID_ARG, "%s: scores or labels is NULL", fn);
    if (count == 0) return rp__fail(RP_E_INVALID_ARG, "%s: count is 0", fn);
    size_t bytes;
    if (count > SIZE_MAX || rp__mul_size((size_t)count, sizeof(uint64_t), &bytes))
        return rp__fail(RP_E_LIMIT, "%s: count %llu is too large", fn, (unsigned long long)count);
    for (uint64_t i = 0; i < count; i++) {
        if (isnan(scores[i]))
            return rp__fail(RP_E_INVALID_ARG, "%s: score %llu is NaN", fn, (unsigned long long)i);
        if (labels[i] > 1)
            return rp__fail(RP_E_INVALID_ARG, "%s: label %llu is %u, not 0 or 1", fn, (unsigned long long)i,
                            (unsigned)labels[i]);
    }
    uint64_t *items = rp__malloc(bytes);
    if (!items) return rp__fail(RP_E_NOMEM, "%s: out of memory for %llu scores", fn, (unsigned long long)count);
    uint64_t positives = 0;
    for (uint64_t i = 0; i < count; i++) {
        positives += labels[i];
        items[i] = rp__metrics_item(rp__metrics_float_key(scores[i]), labels[i]);
    }
    int rc = auroc_finish(fn, items, (size_t)count, positives, auroc_out);
    free(items);
    return rc;
}

int rp_metric_pixel_auroc(const float *const *maps, const uint8_t *const *masks, uint32_t count, uint32_t width,
                          uint32_t height, double *auroc_out)
{
    rp__clear_error();
    static const char fn[] = "rp_metric_pixel_auroc";
    if (!auroc_out) return rp__fail(RP_E_INVALID_ARG, "%s: auroc_out is NULL", fn);
    *auroc_out = 0.0;
    if (!maps || !masks) return rp__fail(RP_E_INVALID_ARG, "%s: maps or masks is NULL", fn);
    if (!count || !width || !height)
        return rp__fail(RP_E_INVALID_ARG, "%s: count %u, width %u, height %u: none may be 0", fn, count, width,
                        height);
    size_t per_image = (size_t)width * height, n, bytes;
    if (rp__mul_size(per_image, count, &n) || rp__mul_size(n, sizeof(uint64_t), &bytes))
        return rp__fail(RP_E_LIMIT, "%s: %u maps of %u x %u are too many pixels", fn, count, width, height);
    int checked = rp__metrics_check_maps(maps, count, per_image, width, fn);
    if (checked) return checked;
    uint64_t *items = rp__malloc(bytes);
    if (!items) return rp__fail(RP_E_NOMEM, "%s: out of memory for %zu pixels", fn, n);
    uint64_t positives = 0;
    size_t k = 0;
    for (uint32_t m = 0; m < count; m++) {
        for (size_t p = 0; p < per_image; p++, k++) {
            const uint32_t defect = masks[m] && masks[m][p] ? 1u : 0u;
            positives += defect;
            items[k] = rp__metrics_item(rp__metrics_float_key(maps[m][p]), defect);
        }
    }
    int rc = auroc_finish(fn, items, n, positives, auroc_out);
    free(items);
    return rc;
}
