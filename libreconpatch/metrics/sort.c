/* Sorting scores once: order-preserving integer keys and an LSD radix sort, so metrics over
 * millions of pixels cost O(n) for the sort instead of O(n log n) comparisons. */
#include <string.h>

#include "metrics/metrics_internal.h"

uint32_t rp__metrics_float_key(float value)
{
    if (value == 0.0f) value = 0.0f; /* -0 ties with +0 */
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    /* Negative floats sort reversed by their bits: flip them all; positives: set the sign bit so
     * they come after every negative. */
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

void rp__metrics_radix_sort(uint64_t *items, uint64_t *scratch, size_t n)
{
    uint64_t *src = items, *dst = scratch;
    for (int pass = 0; pass < 4; pass++) {
        const int shift = 32 + 8 * pass;
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++) count[(src[i] >> shift) & 0xffu]++;
        /* A byte shared by every item does not reorder anything: skip the pass. */
        int single = 0;
        for (int b = 0; b < 256; b++)
            if (count[b] == n) single = 1;
        if (single) continue;
        size_t offset = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = offset;
            offset += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[(src[i] >> shift) & 0xffu]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != items) memcpy(items, src, n * sizeof *items);
}
