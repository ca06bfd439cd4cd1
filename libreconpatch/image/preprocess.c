/* Network input from an image: the resize frame (both axes, or the shorter side keeping the
 * aspect ratio), a PIL-compatible bilinear resize of just the centre-crop window, then
 * per-channel normalisation into CHW planes. */
#include <math.h>
#include <stdlib.h>

#include "common/alloc.h"
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

int rp__image_check_crop_mode(int no_crop, int keep_aspect, int params, const char *fn)
{
    if (!(keep_aspect && no_crop)) return RP_OK;
    const char *p = params ? "params." : "";
    return rp__fail(RP_E_INVALID_ARG,
                    "%s: %skeep_aspect and %sno_crop are both set (keep_aspect resizes the shorter side and then "
                    "crops; no_crop does not crop)",
                    fn, p, p);
}

int rp__image_resize_frame(uint32_t width, uint32_t height, uint32_t resize, uint32_t crop, int no_crop,
                           int keep_aspect, uint32_t *frame_w, uint32_t *frame_h, uint32_t *off_x, uint32_t *off_y,
                           const char *fn)
{
    int rc = rp__image_check_crop_mode(no_crop, keep_aspect, 0, fn);
    if (rc) return rc;
    if (!width || !height) return rp__fail(RP_E_INVALID_ARG, "%s: image size %u x %u", fn, width, height);
    if (no_crop) resize = crop;
    if (!crop || !resize || resize > RP_PREPROCESS_MAX_SIDE)
        return rp__fail(RP_E_INVALID_ARG, "%s: resize %u / crop %u must be 1..%u", fn, resize, crop,
                        RP_PREPROCESS_MAX_SIDE);
    if (crop > resize) return rp__fail(RP_E_INVALID_ARG, "%s: crop %u is larger than resize %u", fn, crop, resize);
    uint32_t w = resize, h = resize;
    if (keep_aspect && width != height) {
        const uint32_t shorter = width < height ? width : height, longer = width < height ? height : width;
        /* torchvision: int(size * long / short), a double division truncated toward zero */
        const double scaled = floor((double)resize * longer / shorter);
        if (scaled > RP_PREPROCESS_MAX_SIDE)
            return rp__fail(RP_E_LIMIT, "%s: keep_aspect resizes the %u x %u image's longer side to %.0f, above %u",
                            fn, width, height, scaled, RP_PREPROCESS_MAX_SIDE);
        if (width < height) h = (uint32_t)scaled;
        else w = (uint32_t)scaled;
    }
    *frame_w = w;
    *frame_h = h;
    *off_x = rp__image_crop_offset(w, crop);
    *off_y = rp__image_crop_offset(h, crop);
    return RP_OK;
}

int rp__image_preprocess(const rp_image *img, uint32_t resize, uint32_t crop, int no_crop, int keep_aspect,
                         int32_t normalization, float *out_chw)
{
    if (!img || !out_chw)
        return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !img ? "image" : "output buffer");
    if (normalization != RP_NORM_TORCHVISION && normalization != RP_NORM_CAFFE)
        return rp__fail(RP_E_INVALID_ARG, "%s: normalization %d is not RP_NORM_TORCHVISION (1) or RP_NORM_CAFFE (2)",
                        fn, normalization);
    uint32_t frame_w, frame_h, off_x, off_y;
    int rc = rp__image_resize_frame(img->width, img->height, resize, crop, no_crop, keep_aspect, &frame_w, &frame_h,
                                    &off_x, &off_y, fn);
    if (rc) return rc;

    size_t plane = (size_t)crop * crop;
    float *hwc = rp__malloc(plane * img->channels * sizeof *hwc);
    if (!hwc) return rp__fail(RP_E_NOMEM, "%s: cannot allocate a %ux%u resize buffer", fn, crop, crop);
    /* Only the crop window of the resized frame is computed: the same pixels as resize-then-crop. */
    rc = rp__image_resample(img->pixels, img->width, img->height, img->channels, frame_w, frame_h, off_x, off_y, crop,
                            crop, hwc, fn);
    if (rc == RP_OK) normalise(hwc, img->channels, plane, normalization, out_chw);
    free(hwc);
    return rc;
}
