/* Ground-truth masks into the network-input geometry, so evaluation compares maps and masks the
 * way the field does (MVTec protocol: the mask is resized and centre-cropped like the image, with
 * keep_aspect its shorter side resized as the image's was). */
#include <stdlib.h>

#include "common/alloc.h"
#include "common/common.h"
#include "image/preprocess.h"
#include "image/resample.h"
#include "scorer/scorer_internal.h"

int rp_scorer_mask_to_input(const rp_scorer *scorer, const rp_image *mask, uint32_t threshold, uint8_t *mask_out,
                            size_t mask_out_size)
{
    rp__clear_error();
    const char *fn = "rp_scorer_mask_to_input";
    if (!scorer || !mask || !mask_out) return rp__fail(RP_E_INVALID_ARG, "%s: NULL argument", fn);
    if (threshold > 254) return rp__fail(RP_E_INVALID_ARG, "%s: threshold %u is above 254", fn, threshold);
    const rp__scorer_geometry *g = &scorer->geometry;
    size_t side = g->input_size, npix = side * side;
    if (mask_out_size < npix)
        return rp__fail(RP_E_SHAPE, "%s: mask_out holds %zu bytes, %zu needed", fn, mask_out_size, npix);
    uint32_t channels = rp_image_channels(mask);
    /* The mask's own frame: with keep_aspect it depends on the mask's (= the image's) size. */
    uint32_t fw, fh, ox, oy;
    int rc = rp__image_resize_frame(rp_image_width(mask), rp_image_height(mask), g->resize, g->input_size, 0,
                                    (int)g->keep_aspect, &fw, &fh, &ox, &oy, fn);
    if (rc) return rc;
    float *resized = rp__malloc(npix * channels * sizeof(float));
    if (!resized) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    /* The same PIL-bilinear resampling as the image, then the same crop window. */
    rc = rp__image_resample(rp_image_pixels(mask), rp_image_width(mask), rp_image_height(mask), channels, fw, fh, ox,
                            oy, g->input_size, g->input_size, resized, fn);
    if (!rc)
        for (size_t i = 0; i < npix; i++) /* any channel over the threshold marks a defect pixel */
        {
            float v = resized[i * channels];
            for (uint32_t c = 1; c < channels; c++)
                if (resized[i * channels + c] > v) v = resized[i * channels + c];
            mask_out[i] = v > (float)threshold ? 1 : 0;
        }
    free(resized);
    return rc;
}
