/* AUPRO exactly as the official MVTec AD evaluation (generic_util.compute_pro + trapezoid), but
 * from one sort of all pixels instead of a threshold grid: walking the scores from the highest
 * down, each normal pixel raises the FPR by 1 / n_normal and each defect pixel raises the PRO by
 * 1 / (|its region| * n_regions); a tie group of equal scores is one threshold, one curve point. */
#include <math.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/common.h"
#include "metrics/metrics_internal.h"

/* Integrate the PRO curve of the sorted items (payload = region label, 0 = normal pixel). */
static double aupro_of_sorted(const uint64_t *items, size_t n, const uint64_t *region_sizes, uint64_t regions,
                              uint64_t normals, double fpr_limit)
{
    rp__metrics_trapezoid t;
    rp__metrics_trapezoid_start(&t, fpr_limit, 0.0, 0.0);
    uint64_t fp = 0;
    double pro_sum = 0.0; /* sum over defect pixels so far of 1 / |region| */
    size_t i = n;
    while (i > 0 && !t.done) {
        const uint32_t key = rp__metrics_item_key(items[i - 1]);
        while (i > 0 && rp__metrics_item_key(items[i - 1]) == key) {
            const uint32_t region = rp__metrics_item_payload(items[i - 1]);
            if (region) pro_sum += 1.0 / (double)region_sizes[region - 1];
            else fp++;
            i--;
        }
        const double fpr = (double)fp / (double)normals;
        double pro = pro_sum / (double)regions;
        if (pro > 1.0) pro = 1.0; /* rounding of the running sum; the reference clips too */
        rp__metrics_trapezoid_add(&t, fpr, pro);
    }
    rp__metrics_trapezoid_add(&t, 1.0, 1.0);
    return t.area / fpr_limit;
}

int rp_metric_aupro(const float *const *maps, const uint8_t *const *masks, uint32_t count, uint32_t width,
                    uint32_t height, double fpr_limit, double *aupro_out)
{
    rp__clear_error();
    static const char fn[] = "rp_metric_aupro";
    if (!aupro_out) return rp__fail(RP_E_INVALID_ARG, "%s: aupro_out is NULL", fn);
    *aupro_out = 0.0;
    if (!maps || !masks) return rp__fail(RP_E_INVALID_ARG, "%s: maps or masks is NULL", fn);
    if (!count || !width || !height)
        return rp__fail(RP_E_INVALID_ARG, "%s: count %u, width %u, height %u: none may be 0", fn, count, width,
                        height);
    if (fpr_limit == 0.0) fpr_limit = RP_METRIC_DEFAULT_FPR_LIMIT;
    if (!(fpr_limit > 0.0 && fpr_limit <= 1.0))
        return rp__fail(RP_E_INVALID_ARG, "%s: fpr_limit %g is outside (0, 1]", fn, fpr_limit);
    size_t per_image = (size_t)width * height, n, bytes;
    if (per_image > UINT32_MAX || rp__mul_size(per_image, count, &n) || n > UINT32_MAX ||
        rp__mul_size(n, sizeof(uint64_t), &bytes))
        return rp__fail(RP_E_LIMIT, "%s: %u maps of %u x %u exceed 2^32 pixels", fn, count, width, height);
    int checked = rp__metrics_check_maps(maps, count, per_image, width, fn);
    if (checked) return checked;

    uint64_t *items = rp__malloc(bytes);
    uint64_t *scratch = rp__malloc(bytes);
    uint32_t *labels = rp__malloc(per_image * sizeof *labels);
    uint32_t *queue = rp__malloc(per_image * sizeof *queue);
    uint64_t *region_sizes = NULL, sizes_cap = 0;
    int rc = RP_OK;
    if (!items || !scratch || !labels || !queue) {
        rc = rp__fail(RP_E_NOMEM, "%s: out of memory for %zu pixels", fn, n);
        goto done;
    }

    uint64_t regions = 0, normals = 0;
    size_t k = 0;
    for (uint32_t m = 0; m < count; m++) {
        const float *map = maps[m];
        if (!masks[m]) { /* no defect in this image */
            for (size_t p = 0; p < per_image; p++) items[k++] = rp__metrics_item(rp__metrics_float_key(map[p]), 0);
            normals += per_image;
            continue;
        }
        int64_t found = rp__metrics_label_components(masks[m], width, height, (uint32_t)regions + 1, labels, queue,
                                                     &region_sizes, &sizes_cap);
        if (found < 0) {
            rc = rp__fail(RP_E_NOMEM, "%s: out of memory for region sizes", fn);
            goto done;
        }
        regions += (uint64_t)found;
        for (size_t p = 0; p < per_image; p++) {
            normals += labels[p] == 0;
            items[k++] = rp__metrics_item(rp__metrics_float_key(map[p]), labels[p]);
        }
    }
    if (regions == 0 || normals == 0) {
        rc = rp__fail(RP_E_INVALID_ARG, "%s: %llu defect regions and %llu normal pixels: AUPRO needs both", fn,
                      (unsigned long long)regions, (unsigned long long)normals);
        goto done;
    }
    rp__metrics_radix_sort(items, scratch, n);
    *aupro_out = aupro_of_sorted(items, n, region_sizes, regions, normals, fpr_limit);

done:
    free(items);
    free(scratch);
    free(labels);
    free(queue);
    free(region_sizes);
    return rc;
}
