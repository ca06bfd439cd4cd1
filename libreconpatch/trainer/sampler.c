/* The aligned batch sampler of the trainer (RP_SAMPLER_ALIGNED): the same window of patch
 * positions in many images, so a batch holds the same part of the product seen in many images. */
#include "trainer/trainer_internal.h"

void rp__trainer_sample_aligned(rp__trainer_sampler *s, rp__trainer_rng *rng, uint32_t window, uint32_t n,
                                uint32_t *idx)
{
    const uint32_t w = window < s->grid ? window : s->grid;
    uint32_t filled = 0, taken = s->n_images, y0 = 0, x0 = 0;
    while (filled < n) {
        if (taken == s->n_images) { /* a new round: a new window, every image available again */
            y0 = rp__trainer_rng_below(rng, s->grid - w + 1);
            x0 = rp__trainer_rng_below(rng, s->grid - w + 1);
            taken = 0;
        }
        /* Partial Fisher-Yates: a uniformly chosen image not yet used in this round. */
        uint32_t j = taken + rp__trainer_rng_below(rng, s->n_images - taken);
        uint32_t img = s->img_order[j];
        s->img_order[j] = s->img_order[taken];
        s->img_order[taken++] = img;
        for (uint32_t dy = 0; dy < w && filled < n; dy++)
            for (uint32_t dx = 0; dx < w && filled < n; dx++)
                idx[filled++] = s->img_start[img] + (y0 + dy) * s->grid + x0 + dx;
    }
}
