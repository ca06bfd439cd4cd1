/* Connected ground-truth regions: the PRO metric averages the overlap per region, and the MVTec AD
 * evaluation defines a region as an 8-connected component (scipy.ndimage.label, 3x3 ones). */
#include <stdlib.h>

#include "common/alloc.h"
#include "metrics/metrics_internal.h"

int64_t rp__metrics_label_components(const uint8_t *mask, uint32_t width, uint32_t height,
                                     uint32_t first_label, uint32_t *labels_out, uint32_t *queue,
                                     uint64_t **sizes, uint64_t *sizes_cap)
{
    const size_t n = (size_t)width * height;
    for (size_t i = 0; i < n; i++) labels_out[i] = 0;
    int64_t components = 0;
    uint64_t used = first_label - 1; /* entries of *sizes filled before this image */

    for (size_t seed = 0; seed < n; seed++) {
        if (!mask[seed] || labels_out[seed]) continue;
        const uint32_t label = first_label + (uint32_t)components;
        if (used + 1 > *sizes_cap) {
            uint64_t cap = *sizes_cap ? *sizes_cap * 2 : 64;
            uint64_t *grown = rp__realloc(*sizes, cap * sizeof **sizes);
            if (!grown) return -1;
            *sizes = grown;
            *sizes_cap = cap;
        }
        /* Breadth-first flood fill; queue entries are pixel indices. */
        size_t head = 0, tail = 0;
        queue[tail++] = (uint32_t)seed;
        labels_out[seed] = label;
        while (head < tail) {
            const uint32_t p = queue[head++];
            const uint32_t py = p / width, px = p % width;
            for (int dy = -1; dy <= 1; dy++) {
                const int64_t y = (int64_t)py + dy;
                if (y < 0 || y >= (int64_t)height) continue;
                for (int dx = -1; dx <= 1; dx++) {
                    const int64_t x = (int64_t)px + dx;
                    if (x < 0 || x >= (int64_t)width) continue;
                    const size_t q = (size_t)y * width + (size_t)x;
                    if (mask[q] && !labels_out[q]) {
                        labels_out[q] = label;
                        queue[tail++] = (uint32_t)q;
                    }
                }
            }
        }
        (*sizes)[used++] = tail;
        components++;
    }
    return components;
}
