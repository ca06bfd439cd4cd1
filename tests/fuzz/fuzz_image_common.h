/* Shared by the image fuzz targets: a decoded image goes on through preprocessing for the network
 * input, with a geometry and normalization picked from the input size so every mode is reached.
 * The sizes are small (the resize code is the same at any size) so each input stays cheap. */
#ifndef RP_FUZZ_IMAGE_COMMON_H
#define RP_FUZZ_IMAGE_COMMON_H

#include <reconpatch/reconpatch.h>
#include <stdint.h>
#include <stdlib.h>

#include "image/preprocess.h"

/* The loaders' pixel limit in the fuzz targets: 64 Kpixel, large enough for every header trick
 * (sides up to 65536, the limit check itself), small enough that a 300-byte input declaring a big
 * image does not spend milliseconds decoding garbage: at 1 Mpixel the JPEG target ran at a few
 * hundred executions per second. */
#define FUZZ_MAX_PIXELS ((uint64_t)1 << 16)

static inline void fuzz_preprocess(const rp_image *img, size_t salt)
{
    static const struct { uint32_t resize, crop; int no_crop, keep_aspect; } modes[] = {
        {40, 32, 0, 0}, {36, 32, 0, 1}, {24, 24, 1, 0}, {20, 16, 1, 0}, {24, 24, 0, 0}};
    const size_t n_modes = sizeof modes / sizeof modes[0];
    size_t m = salt % n_modes;
    int32_t norm = (salt / n_modes) % 2 ? RP_NORM_CAFFE : RP_NORM_TORCHVISION;
    uint32_t crop = modes[m].crop;
    float *out = malloc((size_t)3 * crop * crop * sizeof *out);
    if (!out) return;
    int rc = rp__image_preprocess(img, modes[m].resize, crop, modes[m].no_crop, modes[m].keep_aspect, norm, out);
    /* A decoded image is at least 1x1: only a keep_aspect frame longer than the limit may fail. */
    if (rc != RP_OK && !(rc == RP_E_LIMIT && modes[m].keep_aspect)) abort();
    free(out);
}

/* Bytes through the public memory loader, then preprocessing when the image loads. */
static inline int fuzz_image_bytes(const uint8_t *data, size_t size)
{
    rp_image_load_params p;
    rp_image_load_params_init(&p, sizeof p);
    p.max_pixels = FUZZ_MAX_PIXELS;
    rp_image *img = NULL;
    int rc = rp_image_load_memory(size ? data : (const uint8_t *)"", size, &p, &img);
    if (rc == RP_OK) {
        uint32_t c = rp_image_channels(img);
        if (!img || !rp_image_width(img) || !rp_image_height(img) || (c != 1 && c != 3) ||
            (uint64_t)rp_image_width(img) * rp_image_height(img) > FUZZ_MAX_PIXELS)
            abort();
        fuzz_preprocess(img, size);
        rp_image_free(img);
    } else if (img) {
        abort(); /* a failed load must leave *out NULL */
    }
    return 0;
}

#endif
