/* The rp_image object as the library sees it, and the decoders' shared plumbing. Not installed. */
#ifndef RP_IMAGE_INTERNAL_H
#define RP_IMAGE_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

struct rp_image {
    uint32_t width;
    uint32_t height;
    uint32_t channels; /* 1 (gray) or 3 (RGB) */
    uint8_t *pixels;   /* height rows of width * channels bytes, no padding; same allocation */
};

/* Allocate an image whose pixels live in the same block as the header (one free releases both).
 * Fails with RP_E_NOMEM (message names fn) on overflow or allocation failure. */
int rp__image_alloc(uint32_t width, uint32_t height, uint32_t channels, const char *fn, rp_image **out);

/* Where encoded bytes come from: a memory buffer or an open file, read front to back once. */
typedef struct rp__image_source {
    const uint8_t *data; /* memory source (NULL when reading a file) */
    size_t size;
    size_t pos;
    FILE *file;       /* file source, positioned at the first byte */
    const char *fn;   /* public function for messages: "rp_image_load_file" */
    const char *name; /* the path, or "memory buffer" */
} rp__image_source;

/* Decoders: check the header's width * height against max_pixels before allocating the pixels,
 * return RP_OK with *out set, or an RP_E_* code with the thread's error message set. */
int rp__image_decode_png(rp__image_source *src, uint64_t max_pixels, rp_image **out);
int rp__image_decode_jpeg(rp__image_source *src, uint64_t max_pixels, rp_image **out);

#endif
