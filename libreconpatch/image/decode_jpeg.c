/* JPEG decoding with libjpeg(-turbo): gray stays gray, YCbCr/RGB becomes RGB, CMYK/YCCK is converted
 * to RGB. libjpeg's fatal errors and its data-corruption warnings long-jump back to read_guarded()
 * (the default handlers would print to stderr and call exit()). See docs/images.md. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "common/alloc.h"
#include "image/image_internal.h"

/* A progressive file can hold thousands of tiny scans that each cost a full pass: a cheap way to
 * make a small file take minutes. Real encoders use about 10. */
#define MAX_SCANS 1000

typedef struct jpeg_job {
    struct jpeg_error_mgr err; /* first member: libjpeg hands us this pointer */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    rp__image_source *src;
    uint64_t max_pixels;
    int code;
    char message[JMSG_LENGTH_MAX + 64];
    rp_image *image;
    uint8_t *cmyk_row;
} jpeg_job;

static void set_error(jpeg_job *job, int code, const char *message)
{
    if (job->message[0]) return;
    job->code = code;
    snprintf(job->message, sizeof job->message, "%s", message);
}

static void on_error_exit(j_common_ptr cinfo)
{
    jpeg_job *job = (jpeg_job *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    /* A source that hit a read error (not end of file) is an I/O failure, not bad data. */
    int code = RP_E_FORMAT;
    if (job->src->file && ferror(job->src->file)) code = RP_E_IO;
    /* well-formed files this build cannot decode: 12/16-bit samples, lossless or hierarchical JPEG */
    if (cinfo->err->msg_code == JERR_BAD_PRECISION || cinfo->err->msg_code == JERR_SOF_UNSUPPORTED ||
        cinfo->err->msg_code == JERR_NOT_COMPILED)
        code = RP_E_UNSUPPORTED;
    set_error(job, code, text);
    longjmp(job->jump, 1);
}

/* Warnings that mean the pixels are wrong (cut file, damaged entropy data): fail instead of handing
 * out a half-gray image. Others (odd JFIF version, unknown Adobe transform) are only logged. */
static int warning_means_corrupt_pixels(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION: return 1;
    default: return 0;
    }
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) return; /* trace messages */
    jpeg_job *job = (jpeg_job *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    if (warning_means_corrupt_pixels(cinfo->err->msg_code)) {
        set_error(job, RP_E_FORMAT, text);
        longjmp(job->jump, 1);
    }
    rp__log(RP_LOG_WARN, "%s: %s: JPEG warning: %s", job->src->fn, job->src->name, text);
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; /* never print */ }

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    jpeg_job *job = (jpeg_job *)cinfo->err;
    if (d->input_scan_number > MAX_SCANS) {
        char text[96];
        snprintf(text, sizeof text, "more than %d progressive scans", MAX_SCANS);
        set_error(job, RP_E_FORMAT, text);
        longjmp(job->jump, 1);
    }
}

/* CMYK -> RGB. Adobe Photoshop, and libjpeg itself (which writes the Adobe APP14 marker for every
 * CMYK file), store the channels inverted: 255 = no ink. Then R = C' K' / 255, rounded, which is
 * (255 - C)(255 - K) / 255 on the ink values. Files without the marker are treated the same way,
 * as PIL does ("assume Adobe conventions"): non-inverted CMYK JPEGs are rare in practice, and
 * matching PIL keeps the pixels equal to what a PIL/torchvision training pipeline sees. */
static void inverted_cmyk_row_to_rgb(const uint8_t *cmyk, uint8_t *rgb, uint32_t width)
{
    for (uint32_t x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        unsigned k = cmyk[3];
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)((cmyk[c] * k + 127) / 255); /* exact rounding: v*k/255 is never a half */
    }
}

/* Everything that may fail inside libjpeg; errors long-jump out of here. */
static void read_image(j_decompress_ptr cinfo, jpeg_job *job)
{
    rp__image_source *src = job->src;
    if (src->data) {
        jpeg_mem_src(cinfo, src->data, (unsigned long)src->size);
    } else {
        jpeg_stdio_src(cinfo, src->file);
    }
    jpeg_read_header(cinfo, TRUE);

    char msg[200];
    uint32_t w = cinfo->image_width, h = cinfo->image_height;
    if ((uint64_t)w * h > job->max_pixels) {
        snprintf(msg, sizeof msg, "%ux%u = %llu pixels is over the limit of %llu (params.max_pixels)", w, h,
                 (unsigned long long)w * h, (unsigned long long)job->max_pixels);
        set_error(job, RP_E_LIMIT, msg);
        longjmp(job->jump, 1);
    }
    uint32_t channels;
    int cmyk = 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; channels = 1; break;
    case JCS_YCbCr:
    case JCS_RGB: cinfo->out_color_space = JCS_RGB; channels = 3; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; channels = 3; cmyk = 1; break; /* libjpeg: YCCK -> CMYK */
    default:
        snprintf(msg, sizeof msg, "unsupported colour space with %d components", cinfo->num_components);
        set_error(job, RP_E_UNSUPPORTED, msg);
        longjmp(job->jump, 1);
    }
    jpeg_start_decompress(cinfo);
    if (cinfo->output_width != w || cinfo->output_height != h ||
        (uint32_t)cinfo->output_components != (cmyk ? 4u : channels)) {
        set_error(job, RP_E_INTERNAL, "libjpeg output shape differs from the header");
        longjmp(job->jump, 1);
    }
    if (rp__image_alloc(w, h, channels, src->fn, &job->image)) {
        set_error(job, RP_E_NOMEM, rp_last_error_message());
        longjmp(job->jump, 1);
    }
    if (cmyk && !(job->cmyk_row = rp__malloc((size_t)w * 4))) {
        set_error(job, RP_E_NOMEM, "out of memory for a CMYK row");
        longjmp(job->jump, 1);
    }
    while (cinfo->output_scanline < h) {
        uint8_t *dst = job->image->pixels + (size_t)cinfo->output_scanline * w * channels;
        JSAMPROW row = cmyk ? job->cmyk_row : dst;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            set_error(job, RP_E_FORMAT, "decoder returned no scanline");
            longjmp(job->jump, 1);
        }
        if (cmyk) inverted_cmyk_row_to_rgb(job->cmyk_row, dst, w);
    }
    jpeg_finish_decompress(cinfo);
}

/* setjmp lives in this small function so no local of the caller can be clobbered by longjmp. */
static int read_guarded(j_decompress_ptr cinfo, jpeg_job *job)
{
    if (setjmp(job->jump)) return -1;
    jpeg_create_decompress(cinfo);
    cinfo->progress = &job->progress;
    read_image(cinfo, job);
    return 0;
}

int rp__image_decode_jpeg(rp__image_source *src, uint64_t max_pixels, rp_image **out)
{
    jpeg_job job;
    struct jpeg_decompress_struct cinfo;
    memset(&job, 0, sizeof job);
    memset(&cinfo, 0, sizeof cinfo);
    job.src = src;
    job.max_pixels = max_pixels;
    job.code = RP_E_FORMAT;
    cinfo.err = jpeg_std_error(&job.err);
    job.err.error_exit = on_error_exit;
    job.err.emit_message = on_emit_message;
    job.err.output_message = on_output_message;
    job.progress.progress_monitor = on_progress;

    int failed = read_guarded(&cinfo, &job);
    jpeg_destroy_decompress(&cinfo); /* safe after a failed create too: it checks its own state */
    free(job.cmyk_row);
    if (failed) {
        rp_image_free(job.image);
        return rp__fail(job.code, "%s: %s: JPEG: %s", src->fn, src->name, job.message);
    }
    *out = job.image;
    return RP_OK;
}
