/* Internal helpers of the metrics module: order-preserving float keys, a radix sort of
 * (key, payload) items, and 8-connected labelling of ground-truth masks. Not installed. */
#ifndef RP_METRICS_INTERNAL_H
#define RP_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* A sortable item: the score's order-preserving key in the high 32 bits, a payload (a label or a
 * region id) in the low 32 bits. Items with equal keys hold equal scores (a tie group). */
static inline uint64_t rp__metrics_item(uint32_t key, uint32_t payload)
{
    return ((uint64_t)key << 32) | payload;
}
static inline uint32_t rp__metrics_item_key(uint64_t item) { return (uint32_t)(item >> 32); }
static inline uint32_t rp__metrics_item_payload(uint64_t item) { return (uint32_t)item; }

/* Unsigned key whose order is the float order (finite values and infinities; -0 and +0 give the
 * same key so they tie, as they compare equal). The caller rejects NaN first. */
uint32_t rp__metrics_float_key(float value);

/* Sort n items ascending by key (the high 32 bits), stable, in O(n): an LSD radix sort in four
 * byte passes. scratch holds n items. The result is in items. */
void rp__metrics_radix_sort(uint64_t *items, uint64_t *scratch, size_t n);

/* Label the 8-connected components of the non-zero pixels of a width x height mask, in raster
 * order of each component's first pixel (as scipy.ndimage.label with a 3x3 structure).
 * labels_out (width * height) gets 0 for background and first_label + k for component k
 * (first_label >= 1, one past the labels of earlier images, so (*sizes)[label - 1] is its size);
 * queue is scratch of width * height entries. Returns the number of components; region sizes
 * are appended to *sizes (grown with realloc; *sizes_cap its capacity); returns -1 when that
 * allocation fails. */
int64_t rp__metrics_label_components(const uint8_t *mask, uint32_t width, uint32_t height,
                                     uint32_t first_label, uint32_t *labels_out, uint32_t *queue,
                                     uint64_t **sizes, uint64_t *sizes_cap);

/* Area under the piecewise-linear curve through (x[i], y[i]) from x = 0 to x = x_limit, as the
 * MVTec AD evaluation's trapezoid(): segments wholly left of x_limit count in full, the segment
 * crossing x_limit counts up to there with y interpolated linearly. Streaming form: feed the
 * points in order with rp__metrics_trapezoid_add. */
typedef struct rp__metrics_trapezoid {
    double x_limit;
    double last_x, last_y;
    double area;
    int done; /* reached x_limit */
} rp__metrics_trapezoid;

void rp__metrics_trapezoid_start(rp__metrics_trapezoid *t, double x_limit, double x0, double y0);
void rp__metrics_trapezoid_add(rp__metrics_trapezoid *t, double x, double y);

/* Every map non-NULL and free of NaN (count maps of per_image floats, rows of width); the message
 * names fn and the first offending map and pixel. */
int rp__metrics_check_maps(const float *const *maps, uint32_t count, size_t per_image, uint32_t width,
                           const char *fn);

#endif
