/* PIL-compatible bilinear resizing in float (what torchvision's Resize does to PIL images). */
#ifndef RP_IMAGE_RESAMPLE_H
#define RP_IMAGE_RESAMPLE_H

#include <stdint.h>

/* Resize an 8-bit image (src_w x src_h, channels interleaved, tightly packed) to out_w x out_h
 * with PIL's BILINEAR filter (a triangle whose support widens by the factor when shrinking, so
 * downscaling is antialiased), and write only the window of the resized image that starts at
 * (x0, y0) and is win_w x win_h pixels, as interleaved floats in [0, 255] (not rounded).
 * Computing only the window gives exactly the pixels "resize, then crop" would give.
 * Returns RP_OK, RP_E_INVALID_ARG (window outside the output) or RP_E_NOMEM; the message names fn. */
int rp__image_resample(const uint8_t *src, uint32_t src_w, uint32_t src_h, uint32_t channels, uint32_t out_w,
                       uint32_t out_h, uint32_t x0, uint32_t y0, uint32_t win_w, uint32_t win_h, float *dst,
                       const char *fn);

#endif
