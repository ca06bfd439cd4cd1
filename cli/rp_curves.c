/* ROC and PRO curve points (rp_curves.h). Both sweep the scores from the highest down, one step
 * per group of equal scores, as the metrics of the library do; the areas use every step. */
#include "rp_curves.h"

#include <stdlib.h>
#include <string.h>

typedef struct ranked {
    float score;
    int32_t region; /* ROC: the label (0/1); PRO: the region index, or -1 for a normal pixel */
} ranked;

static int by_score_descending(const void *a, const void *b)
{
    float x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
    return (x < y) - (x > y);
}

static int push(curve *c, size_t *cap, double x, double y)
{
    if (c->count == *cap) {
        size_t n = *cap ? 2 * *cap : 64;
        curve_point *p = realloc(c->points, n * sizeof *p);
        if (!p) return -2;
        c->points = p;
        *cap = n;
    }
    c->points[c->count++] = (curve_point){x, y};
    return 0;
}

int curve_roc(const float *scores, const uint8_t *labels, size_t count, curve *out)
{
    memset(out, 0, sizeof *out);
    ranked *r = malloc((count ? count : 1) * sizeof *r);
    if (!r) return -2;
    size_t positives = 0;
    for (size_t i = 0; i < count; i++) {
        r[i] = (ranked){scores[i], labels[i] ? 1 : 0};
        positives += labels[i] ? 1 : 0;
    }
    size_t negatives = count - positives;
    if (!positives || !negatives) {
        free(r);
        return -1;
    }
    qsort(r, count, sizeof *r, by_score_descending);
    size_t cap = 0, tp = 0, fp = 0;
    int rc = push(out, &cap, 0, 0);
    for (size_t i = 0; i < count && !rc;) {
        size_t j = i;
        for (; j < count && r[j].score == r[i].score; j++) r[j].region ? tp++ : fp++;
        double x0 = out->points[out->count - 1].x, y0 = out->points[out->count - 1].y;
        double x = (double)fp / negatives, y = (double)tp / positives;
        out->area += (x - x0) * (y + y0) / 2;
        rc = push(out, &cap, x, y);
        i = j;
    }
    free(r);
    if (rc) curve_free(out);
    return rc;
}

/* Label the 8-connected components of one mask into labels (side x side, -1 = normal), numbering
 * from *next; sizes[k] gets component k's pixel count. Returns 0 or -2. */
static int label_regions(const uint8_t *mask, uint32_t side, int32_t *labels, int32_t *next, size_t **sizes,
                         size_t *sizes_cap)
{
    size_t n = (size_t)side * side;
    for (size_t i = 0; i < n; i++) labels[i] = -1;
    size_t *stack = malloc(n * sizeof *stack);
    if (!stack) return -2;
    for (size_t start = 0; start < n; start++) {
        if (!mask[start] || labels[start] >= 0) continue;
        int32_t id = (*next)++;
        if ((size_t)id >= *sizes_cap) {
            size_t cap = *sizes_cap ? 2 * *sizes_cap : 64;
            size_t *s = realloc(*sizes, cap * sizeof *s);
            if (!s) {
                free(stack);
                return -2;
            }
            *sizes = s;
            *sizes_cap = cap;
        }
        (*sizes)[id] = 0;
        size_t top = 0;
        stack[top++] = start;
        labels[start] = id;
        while (top) {
            size_t p = stack[--top];
            (*sizes)[id]++;
            long y = (long)(p / side), x = (long)(p % side);
            for (long dy = -1; dy <= 1; dy++)
                for (long dx = -1; dx <= 1; dx++) {
                    long yy = y + dy, xx = x + dx;
                    if (yy < 0 || xx < 0 || yy >= (long)side || xx >= (long)side) continue;
                    size_t q = (size_t)yy * side + (size_t)xx;
                    if (mask[q] && labels[q] < 0) {
                        labels[q] = id;
                        stack[top++] = q;
                    }
                }
        }
    }
    free(stack);
    return 0;
}

int curve_pro(const float *const *maps, const uint8_t *const *masks, size_t count, uint32_t side, double fpr_limit,
              size_t max_points, curve *out)
{
    memset(out, 0, sizeof *out);
    size_t per = (size_t)side * side, total = per * count;
    ranked *r = malloc((total ? total : 1) * sizeof *r);
    int32_t *labels = malloc((per ? per : 1) * sizeof *labels);
    size_t *sizes = NULL, sizes_cap = 0;
    int32_t regions = 0;
    int rc = r && labels ? 0 : -2;
    for (size_t i = 0; i < count && !rc; i++) {
        if (masks[i]) rc = label_regions(masks[i], side, labels, &regions, &sizes, &sizes_cap);
        for (size_t p = 0; p < per && !rc; p++)
            r[i * per + p] = (ranked){maps[i][p], masks[i] ? labels[p] : -1};
    }
    free(labels);
    size_t normals = 0;
    for (size_t k = 0; k < total && !rc; k++) normals += r[k].region < 0;
    if (!rc && (!regions || !normals)) rc = -1;
    size_t cap = 0;
    if (!rc) {
        qsort(r, total, sizeof *r, by_score_descending);
        rc = push(out, &cap, 0, 0);
    }
    /* The sum over regions of (pixels at or above the threshold) / (region size), pixel by pixel.
     * The FPR reaches 1 at the last group, so the loop always ends at the limit. */
    double pro_sum = 0, last_x = 0, last_y = 0, kept_x = 0;
    size_t fp = 0;
    const double step = fpr_limit / (double)(max_points > 2 ? max_points - 2 : 1);
    for (size_t i = 0; i < total && !rc;) {
        size_t j = i;
        for (; j < total && r[j].score == r[i].score; j++) {
            if (r[j].region < 0) fp++;
            else pro_sum += 1.0 / (double)sizes[r[j].region];
        }
        double x = (double)fp / normals, y = pro_sum / regions;
        if (x >= fpr_limit) { /* interpolate at the limit and stop */
            double y_lim = x > last_x ? last_y + (y - last_y) * (fpr_limit - last_x) / (x - last_x) : y;
            out->area += (fpr_limit - last_x) * (y_lim + last_y) / 2;
            rc = push(out, &cap, fpr_limit, y_lim);
            break;
        }
        out->area += (x - last_x) * (y + last_y) / 2;
        last_x = x, last_y = y;
        if (x - kept_x >= step) rc = push(out, &cap, x, y), kept_x = x;
        i = j;
    }
    out->area /= fpr_limit;
    free(sizes);
    free(r);
    if (rc) curve_free(out);
    return rc;
}

void curve_free(curve *c)
{
    free(c->points);
    memset(c, 0, sizeof *c);
}
