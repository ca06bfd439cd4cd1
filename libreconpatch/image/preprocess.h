/* Image -> network input: resize, centre crop, normalise (torchvision's Resize + CenterCrop +
 * ToTensor + Normalize on a PIL image, or Keras "caffe" preprocessing). See docs/preprocessing.md. */
#ifndef RP_IMAGE_PREPROCESS_H
#define RP_IMAGE_PREPROCESS_H

#include <stdint.h>

#include "reconpatch/extractor.h"
#include "reconpatch/image.h"

/* RP_NORM_TORCHVISION: RGB, v / 255, minus mean, divided by std (ImageNet statistics). */
#define RP_NORM_TORCHVISION_MEAN_R 0.485f
#define RP_NORM_TORCHVISION_MEAN_G 0.456f
#define RP_NORM_TORCHVISION_MEAN_B 0.406f
#define RP_NORM_TORCHVISION_STD_R 0.229f
#define RP_NORM_TORCHVISION_STD_G 0.224f
#define RP_NORM_TORCHVISION_STD_B 0.225f
/* RP_NORM_CAFFE: BGR order, v in [0, 255] minus the mean, no scaling. */
#define RP_NORM_CAFFE_MEAN_B 103.939f
#define RP_NORM_CAFFE_MEAN_G 116.779f
#define RP_NORM_CAFFE_MEAN_R 123.68f

/* Largest resize side accepted (a guard against absurd sizes, far above any network input). */
#define RP_PREPROCESS_MAX_SIDE 16384u
/* Largest magnification of an image side by the resize that the extractor accepts (scoring and
 * training go through it): at the default resize 256 a side must be at least 32 pixels. The
 * functions below do not apply it (they also resample masks and test fixtures). */
#define RP_PREPROCESS_MAX_UPSCALE 8u

/* Offset of a centre crop of `crop` pixels in `resize` pixels: torchvision's
 * round((resize - crop) / 2.0) with Python's round half to even (33 -> 16, 31 -> 16). */
uint32_t rp__image_crop_offset(uint32_t resize, uint32_t crop);

/* keep_aspect and no_crop exclude each other (keep_aspect resizes the shorter side and then
 * crops; no_crop does not crop): RP_E_INVALID_ARG naming fn and the fields ("params." + name when
 * params is non-zero), else RP_OK. The one check the extractor, the scorer and the frame share. */
int rp__image_check_crop_mode(int no_crop, int keep_aspect, int params, const char *fn);

/* The resized frame a width x height image goes through, and where the crop x crop window sits
 * in it (the one place this geometry is computed: preprocessing, map back and masks use it):
 *   default:      both sides resized to resize (aspect not kept); off = round((resize - crop) / 2);
 *   no_crop:      the frame is crop x crop, offsets 0 (resize is ignored);
 *   keep_aspect:  torchvision Resize(int): the shorter side becomes resize, the longer one
 *                 floor(resize * long / short); per axis off = round((side - crop) / 2).
 * round() is Python's (half to even). Writes *frame_w, *frame_h, *off_x, *off_y only on success.
 * Fails with RP_E_INVALID_ARG (keep_aspect together with no_crop, zero sizes, crop > resize) or
 * RP_E_LIMIT (a frame side above RP_PREPROCESS_MAX_SIDE); the message names fn. */
int rp__image_resize_frame(uint32_t width, uint32_t height, uint32_t resize, uint32_t crop, int no_crop,
                           int keep_aspect, uint32_t *frame_w, uint32_t *frame_h, uint32_t *off_x, uint32_t *off_y,
                           const char *fn);

/* Write 3 x S x S floats (CHW) to out_chw, S = crop: the image resized to the frame of
 * rp__image_resize_frame (no_crop / keep_aspect as there), then the centre crop x crop window.
 * The resize is PIL's BILINEAR (antialiased when shrinking), in float. Gray images are replicated
 * to 3 channels. normalization is RP_NORM_TORCHVISION (RGB planes) or RP_NORM_CAFFE (BGR planes).
 * Zero sizes are not resolved to defaults here: the caller passes the values it resolved.
 * Returns RP_OK, RP_E_INVALID_ARG (NULL, zero or inconsistent sizes, unknown normalization),
 * RP_E_LIMIT (keep_aspect frame too long) or RP_E_NOMEM. Thread-safe: it reads img and writes
 * only out_chw. */
int rp__image_preprocess(const rp_image *img, uint32_t resize, uint32_t crop, int no_crop, int keep_aspect,
                         int32_t normalization, float *out_chw);

#endif
