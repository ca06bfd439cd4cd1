/* PNG decoding with libpng: every colour type and bit depth, palette and interlaced images, to
 * 8-bit gray (1 channel) or RGB (3 channels). libpng reports errors by calling our error function,
 * which long-jumps back to read_guarded(); all cleanup happens in one place after it returns.
 * The rules (16-bit scaling, alpha, palette, gamma) are explained in docs/images.md. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "image/image_internal.h"

typedef struct png_job {
    rp__image_source *src;
    uint64_t max_pixels;
    int code;           /* RP_E_* reported if libpng bails out */
    char message[256];  /* first error seen; later ones are consequences */
    rp_image *image;    /* owned until handed to the caller */
    png_bytep *rows;
} png_job;

/* Record the first failure; keep the earliest message since later ones are consequences. */
static void set_error(png_job *job, int code, const char *message)
{
    if (job->message[0]) return;
    job->code = code;
    snprintf(job->message, sizeof job->message, "%s", message);
}

static void on_error(png_structp png, png_const_charp message)
{
    png_job *job = png_get_error_ptr(png);
    set_error(job, RP_E_FORMAT, message);
    png_longjmp(png, 1);
}

/* Warnings (bad ancillary chunks, odd sRGB profiles) do not stop decoding: log them only. */
static void on_warning(png_structp png, png_const_charp message)
{
    png_job *job = png_get_error_ptr(png);
    rp__log(RP_LOG_WARN, "%s: %s: PNG warning: %s", job->src->fn, job->src->name, message);
}

static void read_bytes(png_structp png, png_bytep dst, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    rp__image_source *src = job->src;
    char msg[160];
    if (src->data) {
        if (n > src->size - src->pos) {
            snprintf(msg, sizeof msg, "truncated: %zu bytes needed at offset %zu, only %zu left", n, src->pos,
                     src->size - src->pos);
            set_error(job, RP_E_FORMAT, msg);
            png_error(png, msg);
        }
        memcpy(dst, src->data + src->pos, n);
        src->pos += n;
        return;
    }
    size_t got = fread(dst, 1, n, src->file);
    if (got == n) {
        src->pos += n;
        return;
    }
    if (ferror(src->file)) {
        snprintf(msg, sizeof msg, "read error at offset %zu: %s", src->pos + got, strerror(errno));
        set_error(job, RP_E_IO, msg);
    } else {
        snprintf(msg, sizeof msg, "truncated: file ends at offset %zu, %zu more bytes needed", src->pos + got,
                 n - got);
        set_error(job, RP_E_FORMAT, msg);
    }
    png_error(png, msg);
}

/* Ask libpng for 8-bit gray or RGB whatever the file holds. */
static void request_gray8_or_rgb8(png_structp png, png_infop info)
{
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    /* Palette -> RGB (this also turns tRNS into an alpha channel, dropped below). */
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    /* 1/2/4-bit gray -> 8-bit by bit replication (1 -> 0/255, 2-bit x85, 4-bit x17). */
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    /* 16 -> 8 bits with rounding, v8 = round(v16 * 255 / 65535), not by keeping the high byte. */
    if (bit_depth == 16) png_set_scale_16(png);
    /* Alpha is ignored, not composited: the colour under a transparent pixel is what the camera or
     * tool wrote there, and compositing onto an arbitrary background would invent pixels. */
    if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    png_set_interlace_handling(png); /* Adam7: libpng assembles the passes into whole rows */
    png_read_update_info(png, info);
}

/* Everything that may fail inside libpng; errors long-jump out of here. */
static void read_image(png_structp png, png_infop info, png_job *job)
{
    png_set_read_fn(png, job, read_bytes);
    /* Our own pixel limit decides, not libpng's default 1,000,000-pixel side limit. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    /* Skip every ancillary chunk but tRNS, unread: none changes the pixels we return (no gamma or
     * colour management is applied), and libpng allocates text, sPLT, eXIf, pCAL and sCAL chunks
     * at their declared length before reading them, so a 73-byte file declaring a 2 GB tEXt chunk
     * made it allocate 2 GB. A skipped chunk's CRC is still checked (a warning, as before). */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_read_info(png, info);

    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    char msg[200];
    if ((uint64_t)w * h > job->max_pixels) {
        snprintf(msg, sizeof msg, "%ux%u = %llu pixels is over the limit of %llu (params.max_pixels)", w, h,
                 (unsigned long long)w * h, (unsigned long long)job->max_pixels);
        set_error(job, RP_E_LIMIT, msg);
        png_error(png, msg);
    }
    request_gray8_or_rgb8(png, info);

    uint32_t channels = png_get_channels(png, info);
    if ((channels != 1 && channels != 3) || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)w * channels) {
        snprintf(msg, sizeof msg, "libpng produced %u channels of %d bits, %zu bytes per row (expected 8-bit "
                 "gray or RGB)", channels, png_get_bit_depth(png, info), (size_t)png_get_rowbytes(png, info));
        set_error(job, RP_E_INTERNAL, msg);
        png_error(png, msg);
    }
    if (rp__image_alloc(w, h, channels, job->src->fn, &job->image)) {
        set_error(job, RP_E_NOMEM, rp_last_error_message());
        png_error(png, "out of memory");
    }
    job->rows = rp__malloc(sizeof *job->rows * h);
    if (!job->rows) {
        set_error(job, RP_E_NOMEM, "out of memory for the row table");
        png_error(png, "out of memory");
    }
    for (uint32_t y = 0; y < h; y++) job->rows[y] = job->image->pixels + (size_t)y * w * channels;
    png_read_image(png, job->rows);
    /* Read up to IEND so that a file cut after its pixel data (a half-written file) is reported. */
    png_read_end(png, NULL);
}

/* setjmp lives in this small function so no local of the caller can be clobbered by longjmp. */
static int read_guarded(png_structp png, png_infop info, png_job *job)
{
    if (setjmp(png_jmpbuf(png))) return -1;
    read_image(png, info, job);
    return 0;
}

int rp__image_decode_png(rp__image_source *src, uint64_t max_pixels, rp_image **out)
{
    png_job job;
    memset(&job, 0, sizeof job);
    job.src = src;
    job.max_pixels = max_pixels;
    job.code = RP_E_FORMAT;

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return rp__fail(RP_E_NOMEM, "%s: %s: cannot create the PNG decoder", src->fn, src->name);
    }
    int failed = read_guarded(png, info, &job);
    png_destroy_read_struct(&png, &info, NULL);
    free(job.rows);
    if (failed) {
        rp_image_free(job.image);
        return rp__fail(job.code, "%s: %s: PNG: %s", src->fn, src->name, job.message);
    }
    *out = job.image;
    return RP_OK;
}
