/* The rp_image object: allocation, accessors, copying caller pixels, and the load entry points that
 * recognise the format by its magic bytes and hand over to the PNG or JPEG decoder. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/timing.h"
#include "image/image_internal.h"

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
static const uint8_t jpeg_magic[3] = {0xff, 0xd8, 0xff}; /* SOI followed by the next marker */

int rp__image_alloc(uint32_t width, uint32_t height, uint32_t channels, const char *fn, rp_image **out)
{
    size_t bytes;
    *out = NULL;
    if (rp__mul_size((size_t)width * channels, height, &bytes) || bytes > SIZE_MAX - sizeof(rp_image))
        return rp__fail(RP_E_NOMEM, "%s: %ux%u image with %u channels does not fit in memory", fn, width,
                        height, channels);
    rp_image *img = rp__malloc(sizeof *img + bytes);
    if (!img)
        return rp__fail(RP_E_NOMEM, "%s: cannot allocate %zu bytes for a %ux%ux%u image", fn,
                        sizeof *img + bytes, width, height, channels);
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->pixels = (uint8_t *)(img + 1);
    *out = img;
    return RP_OK;
}

int rp_image_load_params_init(rp_image_load_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_image_load_params_init");
}

/* Resolve the caller's params (NULL = defaults) to a pixel limit. */
static int resolve_max_pixels(const rp_image_load_params *params, const char *fn, uint64_t *max_pixels)
{
    rp_image_load_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    int rc = rp__params_copy(&p, sizeof p, params, fn);
    if (rc) return rc;
    *max_pixels = p.max_pixels ? p.max_pixels : RP_IMAGE_DEFAULT_MAX_PIXELS;
    return RP_OK;
}

typedef enum { FORMAT_UNKNOWN, FORMAT_PNG, FORMAT_JPEG } image_format;

static image_format detect_format(const uint8_t *head, size_t n)
{
    if (n >= sizeof png_magic && !memcmp(head, png_magic, sizeof png_magic)) return FORMAT_PNG;
    if (n >= sizeof jpeg_magic && !memcmp(head, jpeg_magic, sizeof jpeg_magic)) return FORMAT_JPEG;
    return FORMAT_UNKNOWN;
}

static int fail_unknown_format(const rp__image_source *src, const uint8_t *head, size_t n)
{
    char hex[3 * 8 + 1] = "";
    for (size_t i = 0; i < n && i < 8; i++) snprintf(hex + 3 * i, 4, "%02x ", head[i]);
    if (n) hex[3 * (n < 8 ? n : 8) - 1] = '\0';
    return rp__fail(RP_E_FORMAT, "%s: %s: not a PNG or JPEG (first bytes: %s%s)", src->fn, src->name,
                    n ? hex : "none, the data is empty", n && n < 8 ? ", too short" : "");
}

static int decode(rp__image_source *src, const uint8_t *head, size_t n, uint64_t max_pixels, rp_image **out)
{
    const double started = rp__timing_start();
    int rc;
    switch (detect_format(head, n)) {
    case FORMAT_PNG: rc = rp__image_decode_png(src, max_pixels, out); break;
    case FORMAT_JPEG: rc = rp__image_decode_jpeg(src, max_pixels, out); break;
    default: rc = fail_unknown_format(src, head, n);
    }
    rp__timing_stop(RP_TIMING_DECODE, started);
    return rc;
}

int rp_image_load_memory(const void *data, size_t size, const rp_image_load_params *params, rp_image **out)
{
    static const char fn[] = "rp_image_load_memory";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    uint64_t max_pixels;
    int rc = resolve_max_pixels(params, fn, &max_pixels);
    if (rc) return rc;
    if (!data) return rp__fail(RP_E_INVALID_ARG, "%s: data is NULL", fn);
    if (!size) return rp__fail(RP_E_INVALID_ARG, "%s: size is 0 (empty buffer)", fn);
    rp__image_source src = {.data = data, .size = size, .fn = fn, .name = "memory buffer"};
    return decode(&src, data, size, max_pixels, out);
}

int rp_image_load_file(const char *path, const rp_image_load_params *params, rp_image **out)
{
    static const char fn[] = "rp_image_load_file";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!path) return rp__fail(RP_E_INVALID_ARG, "%s: path is NULL", fn);
    uint64_t max_pixels;
    int rc = resolve_max_pixels(params, fn, &max_pixels);
    if (rc) return rc;

    FILE *f = fopen(path, "rb");
    if (!f) return rp__fail(RP_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return rp__fail(RP_E_IO, "%s: '%s' is a directory", fn, path);
    }
    /* Peek at the magic, then rewind so each decoder reads the file from its first byte. */
    uint8_t head[8];
    size_t n = fread(head, 1, sizeof head, f);
    if (n < sizeof head && ferror(f)) {
        rc = rp__fail(RP_E_IO, "%s: cannot read '%s': %s", fn, path, strerror(errno));
    } else if (fseek(f, 0, SEEK_SET) != 0) {
        rc = rp__fail(RP_E_IO, "%s: cannot rewind '%s' (not a regular file?): %s", fn, path, strerror(errno));
    } else {
        rp__image_source src = {.file = f, .fn = fn, .name = path};
        rc = decode(&src, head, n, max_pixels, out);
    }
    fclose(f);
    return rc;
}

/* Bytes per pixel and channel order of caller layouts; alpha (if any) is skipped. */
static int pixel_layout(int32_t format, uint32_t *bytes_per_pixel, int *bgr)
{
    switch (format) {
    case RP_PIXEL_GRAY8: *bytes_per_pixel = 1; *bgr = 0; return 1;
    case RP_PIXEL_RGB8: *bytes_per_pixel = 3; *bgr = 0; return 1;
    case RP_PIXEL_BGR8: *bytes_per_pixel = 3; *bgr = 1; return 1;
    case RP_PIXEL_RGBA8: *bytes_per_pixel = 4; *bgr = 0; return 1;
    case RP_PIXEL_BGRA8: *bytes_per_pixel = 4; *bgr = 1; return 1;
    default: return 0;
    }
}

int rp_image_from_pixels(const void *pixels, uint32_t width, uint32_t height, size_t stride_bytes,
                         int32_t pixel_format, rp_image **out)
{
    static const char fn[] = "rp_image_from_pixels";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!pixels) return rp__fail(RP_E_INVALID_ARG, "%s: pixels is NULL", fn);
    if (!width || !height) return rp__fail(RP_E_INVALID_ARG, "%s: size %ux%u has a zero side", fn, width, height);
    uint32_t bpp;
    int bgr;
    if (!pixel_layout(pixel_format, &bpp, &bgr))
        return rp__fail(RP_E_INVALID_ARG, "%s: unknown pixel_format %d (use RP_PIXEL_*)", fn, pixel_format);
    size_t row_bytes = (size_t)width * bpp;
    if (stride_bytes == 0) stride_bytes = row_bytes;
    if (stride_bytes < row_bytes)
        return rp__fail(RP_E_INVALID_ARG, "%s: stride_bytes %zu is smaller than width %u x %u bytes per pixel",
                        fn, stride_bytes, width, bpp);
    size_t span; /* the caller's buffer must hold (height - 1) strides plus one row */
    if (rp__mul_size(stride_bytes, height - 1, &span) || span > SIZE_MAX - row_bytes)
        return rp__fail(RP_E_INVALID_ARG, "%s: stride_bytes %zu x height %u overflows the address space", fn,
                        stride_bytes, height);

    uint32_t channels = bpp == 1 ? 1 : 3;
    rp_image *img;
    int rc = rp__image_alloc(width, height, channels, fn, &img);
    if (rc) return rc;
    const uint8_t *src = pixels;
    for (uint32_t y = 0; y < height; y++) {
        const uint8_t *s = src + (size_t)y * stride_bytes;
        uint8_t *d = img->pixels + (size_t)y * width * channels;
        if (channels == 1) {
            memcpy(d, s, width);
            continue;
        }
        for (uint32_t x = 0; x < width; x++, s += bpp, d += 3) {
            d[0] = s[bgr ? 2 : 0];
            d[1] = s[1];
            d[2] = s[bgr ? 0 : 2];
        }
    }
    *out = img;
    return RP_OK;
}

uint32_t rp_image_width(const rp_image *image) { return image ? image->width : 0; }
uint32_t rp_image_height(const rp_image *image) { return image ? image->height : 0; }
uint32_t rp_image_channels(const rp_image *image) { return image ? image->channels : 0; }
const uint8_t *rp_image_pixels(const rp_image *image) { return image ? image->pixels : NULL; }

void rp_image_free(rp_image *image) { free(image); }
