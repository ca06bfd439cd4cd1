/* PyTorch's bilinear source taps for F.interpolate(mode="bilinear", align_corners=False): output
 * index d of a side resized from `in` to `out` samples between source indices lo and hi with
 * weight frac on hi. Both users (the layer3 upsampling of the patch features and the anomaly map's
 * resize) must compute it identically to match their torch goldens bit for bit, so it lives here
 * once. */
#ifndef RP_COMMON_BILINEAR_H
#define RP_COMMON_BILINEAR_H

#include <stdint.h>

static inline void rp__bilinear_tap(uint32_t d, uint32_t in, uint32_t out, uint32_t *lo, uint32_t *hi, float *frac)
{
    const float scale = (float)in / (float)out;
    float src = scale * ((float)d + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f; /* negative source positions clamp to 0 */
    uint32_t i0 = (uint32_t)src;
    if (i0 > in - 1) i0 = in - 1;
    *lo = i0;
    *hi = i0 + 1 < in ? i0 + 1 : in - 1;
    *frac = src - (float)i0;
}

#endif
