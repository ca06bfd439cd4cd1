/* libreconpatch: images. An rp_image holds 8-bit pixels, gray (1 channel) or RGB (3 channels),
 * decoded from a PNG or JPEG file or buffer, or copied from caller pixels (camera frames).
 * See docs/images.md for the decoding rules (16-bit, alpha, palette, CMYK).
 *
 * Threads: an rp_image is immutable once created (no function changes its pixels): every function
 * taking a const rp_image * may run from many threads at once on one image, and the loaders may
 * run on many threads at once (each decode keeps its own libpng / libjpeg state). Only
 * rp_image_free needs exclusive use: nothing else may use that image meanwhile. */
#ifndef RECONPATCH_IMAGE_H
#define RECONPATCH_IMAGE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_image rp_image;

/* Pixel layouts of caller memory. */
#define RP_PIXEL_GRAY8 1
#define RP_PIXEL_RGB8 2
#define RP_PIXEL_BGR8 3
#define RP_PIXEL_RGBA8 4
#define RP_PIXEL_BGRA8 5

#define RP_IMAGE_DEFAULT_MAX_PIXELS 100000000u /* 100 Mpixel */

typedef struct rp_image_load_params {
    uint32_t struct_size;
    uint32_t reserved0;
    uint64_t max_pixels; /* width * height above this fails with RP_E_LIMIT before decoding;
                            0 = RP_IMAGE_DEFAULT_MAX_PIXELS */
} rp_image_load_params;

/* Fill *params with defaults. size is sizeof *params as the caller knows it. */
RP_API int rp_image_load_params_init(rp_image_load_params *params, size_t size);

/* Decode a PNG or JPEG file (format told by its magic, not its name). params may be NULL. */
RP_API int rp_image_load_file(const char *path, const rp_image_load_params *params, rp_image **out);
/* Decode a PNG or JPEG held in memory; data is borrowed for the call only. params may be NULL. */
RP_API int rp_image_load_memory(const void *data, size_t size, const rp_image_load_params *params,
                                rp_image **out);
/* Copy caller pixels. stride_bytes is the distance between rows (0 = tightly packed). Gray input
 * stays gray; colour input becomes RGB (alpha is dropped). */
RP_API int rp_image_from_pixels(const void *pixels, uint32_t width, uint32_t height,
                                size_t stride_bytes, int32_t pixel_format, rp_image **out);

RP_API uint32_t rp_image_width(const rp_image *image);    /* 0 for NULL */
RP_API uint32_t rp_image_height(const rp_image *image);   /* 0 for NULL */
RP_API uint32_t rp_image_channels(const rp_image *image); /* 1 (gray) or 3 (RGB); 0 for NULL */
/* Tightly packed pixels, height rows of width * channels bytes; valid while the image lives. */
RP_API const uint8_t *rp_image_pixels(const rp_image *image);

RP_API void rp_image_free(rp_image *image);

/* ---- heat maps and saving ---------------------------------------------------------------- */
/* A new RGB image: map (width x height floats, row-major, e.g. rp_score_image's map) coloured
 * with matplotlib's "jet" colour map over [lo, hi] (values outside are clamped; lo < hi, both
 * finite) and alpha-blended over the image: out = (1 - alpha) * pixel + alpha * 255 * jet(t),
 * rounded; a gray image is shown as gray RGB. alpha in [0, 1]. map_floats must equal width *
 * height (RP_E_SHAPE); a NaN in the map fails with RP_E_INVALID_ARG. The caller frees *out. */
RP_API int rp_image_overlay_heatmap(const rp_image *image, const float *map, size_t map_floats, float lo,
                                    float hi, float alpha, rp_image **out);
/* Write the image to path as an 8-bit PNG (gray or RGB). Atomic: the file appears complete or not
 * at all (temporary file beside it, fsync, rename); an existing file is replaced only on success.
 * RP_E_IO names the path and the system error. */
RP_API int rp_image_save_png(const rp_image *image, const char *path);

#ifdef __cplusplus
}
#endif
#endif
