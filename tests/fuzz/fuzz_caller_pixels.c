/* libFuzzer target: caller memory into rp_image_from_pixels. The input starts with a 24-byte
 * header, all little-endian: width u32, height u32, stride_bytes u64, pixel_format i32, salt u32
 * (picks the preprocessing mode); any values, hostile ones included. The pixels are the rest.
 *
 * rp_image_from_pixels takes no buffer size: the caller promises (height - 1) * stride + width *
 * bytes_per_pixel readable bytes. When the header is valid and the rest holds that span, the call
 * gets a private copy of exactly that many bytes (so a read past it is a sanitizer report) and the
 * image must match the source pixel for pixel; when the rest is too short the call is skipped (it
 * would be the caller breaking the contract). Every invalid header (zero side, unknown format,
 * stride below a row, span overflow) must fail cleanly, whatever the buffer. */
#include <string.h>

#include "fuzz_image_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t bytes_per_pixel(int32_t format)
{
    switch (format) {
    case RP_PIXEL_GRAY8: return 1;
    case RP_PIXEL_RGB8: case RP_PIXEL_BGR8: return 3;
    case RP_PIXEL_RGBA8: case RP_PIXEL_BGRA8: return 4;
    default: return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 24) return 0;
    const uint32_t width = (uint32_t)le(data, 4), height = (uint32_t)le(data + 4, 4);
    const uint64_t stride64 = le(data + 8, 8);
    const int32_t format = (int32_t)(uint32_t)le(data + 16, 4);
    const uint32_t salt = (uint32_t)le(data + 20, 4);
    const uint8_t *pixels = data + 24;
    const size_t rest = size - 24;
    const size_t stride_arg = (size_t)stride64;
    const uint32_t bpp = bytes_per_pixel(format);

    /* What the contract says about this header. */
    int valid = width && height && bpp && (size_t)stride64 == stride64;
    size_t row = 0, stride = 0, span = 0;
    if (valid) {
        row = (size_t)width * bpp; /* at most 4 * (2^32 - 1): fits a 64-bit size_t */
        stride = stride_arg ? stride_arg : row;
        valid = stride >= row;
    }
    if (valid) valid = !__builtin_mul_overflow(stride, (size_t)height - 1, &span) &&
                       !__builtin_add_overflow(span, row, &span);

    rp_image *img = NULL;
    if (!valid) {
        /* Rejected before any pixel is read: the whole rest of the input as the buffer. */
        if (rp_image_from_pixels(rest ? pixels : data, width, height, stride_arg, format, &img) == RP_OK || img)
            abort();
        return 0;
    }
    if (span > rest) return 0;
    uint8_t *copy = malloc(span ? span : 1);
    if (!copy) return 0;
    memcpy(copy, pixels, span);
    int rc = rp_image_from_pixels(copy, width, height, stride_arg, format, &img);
    if (rc != RP_OK) {
        /* Only the allocation of the copy may fail, and it is bounded by the input here. */
        if (img || rc != RP_E_NOMEM) abort();
        free(copy);
        return 0;
    }
    const uint32_t channels = bpp == 1 ? 1 : 3;
    const int bgr = format == RP_PIXEL_BGR8 || format == RP_PIXEL_BGRA8;
    if (rp_image_width(img) != width || rp_image_height(img) != height || rp_image_channels(img) != channels)
        abort();
    const uint8_t *out = rp_image_pixels(img);
    for (uint32_t y = 0; y < height; y++) {
        const uint8_t *s = copy + (size_t)y * stride;
        const uint8_t *d = out + (size_t)y * width * channels;
        for (uint32_t x = 0; x < width; x++, s += bpp, d += channels) {
            if (channels == 1 ? d[0] != s[0]
                              : d[0] != s[bgr ? 2 : 0] || d[1] != s[1] || d[2] != s[bgr ? 0 : 2])
                abort();
        }
    }
    free(copy);
    fuzz_preprocess(img, salt);
    rp_image_free(img);
    return 0;
}
