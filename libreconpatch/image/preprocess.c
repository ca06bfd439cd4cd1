/* Network input from an image: PIL-compatible bilinear resize of just the centre-crop window,
 * then per-channel normalisation into CHW planes. */
#include <stdlib.h>

#include "image/image_internal.h"
#include "image/preprocess.h"
#include "image/resample.h"

static const char fn[] = "rp__image_preprocess";

uint32_t rp__image_crop_offset(uint32_t resize, uint32_t crop)
{
    uint32_t d = resize - crop, half = d / 2;
    if (d % 2 == 0) return half;
    return half % 2 == 0 ? half : half + 1; /* x.5 rounds to the even neighbour, as Python's round() */
}

/* HWC floats in [0, 255] (1 or 3 channels, RGB) -> 3 normalised planes. Gray is replicated. */
static void normalise(const float *hwc, uint32_t channels, size_t plane, int32_t normalization, float *out)
{
    /* Channel c of the source (R, G, B) goes to plane dst_plane[c]. */
    static const float tv_mean[3] = {RP_NORM_TORCHVISION_MEAN_R, RP_NORM_TORCHVISION_MEAN_G,
                                     RP_NORM_TORCHVISION_MEAN_B};
    static const float tv_std[3] = {RP_NORM_TORCHVISION_STD_R, RP_NORM_TORCHVISION_STD_G,
                                    RP_NORM_TORCHVISION_STD_B};
    static const float caffe_mean[3] = {RP_NORM_CAFFE_MEAN_R, RP_NORM_CAFFE_MEAN_G, RP_NORM_CAFFE_MEAN_B};
    int caffe = normalization == RP_NORM_CAFFE;
    for (int c = 0; c < 3; c++) {
        float *dst = out + (size_t)(caffe ? 2 - c : c) * plane; /* caffe: planes in BGR order */
        const float *src = hwc + (channels == 3 ? c : 0);
        if (caffe) {
            for (size_t i = 0; i < plane; i++) dst[i] = src[i * channels] - caffe_mean[c];
        } else {
            /* same operations, same order as ToTensor (v / 255) then Normalize ((x - mean) / std) */
            for (size_t i = 0; i < plane; i++) dst[i] = (src[i * channels] / 255.0f - tv_mean[c]) / tv_std[c];
        }
    }
}

int rp__image_preprocess(const rp_image *img, uint32_t resize, uint32_t crop, int no_crop, int32_t normalization,
                         float *out_chw)
{
    if (!img || !out_chw)
        return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !img ? "image" : "output buffer");
    if (normalization != RP_NORM_TORCHVISION && normalization != RP_NORM_CAFFE)
        return rp__fail(RP_E_INVALID_ARG, "%s: normalization %d is not RP_NORM_TORCHVISION (1) or RP_NORM_CAFFE (2)",
                        fn, normalization);
    if (no_crop) resize = crop;
    if (!crop || !resize || resize > RP_PREPROCESS_MAX_SIDE)
        return rp__fail(RP_E_INVALID_ARG, "%s: resize %u / crop %u must be 1..%u", fn, resize, crop,
                        RP_PREPROCESS_MAX_SIDE);
    if (crop > resize)
        return rp__fail(RP_E_INVALID_ARG, "%s: crop %u is larger than resize %u", fn, crop, resize);
    uint32_t offset = rp__image_crop_offset(resize, crop);

    size_t plane = (size_t)crop * crop;
    float *hwc = malloc(plane * img->channels * sizeof *hwc);
    if (!hwc) return rp__fail(RP_E_NOMEM, "%s: cannot allocate a %ux%u resize buffer", fn, crop, crop);
    int rc = rp__image_resample(img->pixels, img->width, img->height, img->channels, resize, resize, offset, offset,
                                crop, crop, hwc, fn);
    if (rc == RP_OK) normalise(hwc, img->channels, plane, normalization, out_chw);
    free(hwc);
    return rc;
}
