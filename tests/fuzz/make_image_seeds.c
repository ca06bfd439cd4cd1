/* Writes seed corpora for the image fuzz targets into OUT_DIR/<target>/ (folders created):
 *   image_png/      small valid PNGs through libpng: gray, gray+alpha, RGB, RGBA at 8 and 16 bits,
 *                   1/2/4-bit gray, palette (with tRNS, and 2/4-bit), gray and RGB with tRNS,
 *                   Adam7-interlaced RGB, palette and 16-bit, a 1x1 and a text/gAMA chunk file;
 *   image_jpeg/     small valid JPEGs through libjpeg: gray, RGB 4:2:0 / 4:4:4 / 4:2:2,
 *                   progressive RGB and gray, optimised Huffman, restart markers, arithmetic
 *                   coding, CMYK and YCCK (Adobe marker), a 1x1;
 *   caller_pixels/  fuzz_caller_pixels inputs: a 24-byte header (width, height, stride, format,
 *                   salt) and the pixels, for every pixel format, packed and padded strides, plus
 *                   invalid headers (zero sides, unknown formats, stride below a row, overflow).
 * The pixels are a deterministic pattern, so the seeds are the same on every run. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */
#include <png.h>
#include <reconpatch/reconpatch.h>

static const char *out_dir;

static int make_dir(const char *sub, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", out_dir, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", path);
        return -1;
    }
    return 0;
}

static uint8_t pattern(uint32_t x, uint32_t y, uint32_t c) { return (uint8_t)(x * 37 + y * 91 + c * 53 + (x ^ y) * 7); }

/* ---- PNG ---- */
typedef struct png_seed {
    const char *name;
    uint32_t w, h;
    int color_type, bit_depth, interlace, trns, text;
} png_seed;

/* Every image seed must decode. */
static int check_loads(const char *path)
{
    rp_image *img = NULL;
    int rc = rp_image_load_file(path, NULL, &img);
    rp_image_free(img);
    if (rc) fprintf(stderr, "seed does not load: %s\n", rp_last_error_message());
    return rc ? -1 : 0;
}

static int write_png(const char *dir, const png_seed *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.png", dir, s->name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile rows = NULL; /* set after setjmp, read after longjmp */
    png_bytep *volatile rp = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        free(rows);
        free(rp);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, s->w, s->h, s->bit_depth, s->color_type,
                 s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    int channels = s->color_type == PNG_COLOR_TYPE_GRAY ? 1
                 : s->color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                 : s->color_type == PNG_COLOR_TYPE_RGB ? 3
                 : s->color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
    if (s->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[16];
        png_byte alpha[16];
        int n = 1 << (s->bit_depth < 4 ? s->bit_depth : 4);
        for (int i = 0; i < n; i++) {
            pal[i].red = (png_byte)(i * 17), pal[i].green = (png_byte)(255 - i * 13), pal[i].blue = (png_byte)(i * 71);
            alpha[i] = (png_byte)(255 - i * 16);
        }
        png_set_PLTE(png, info, pal, n);
        if (s->trns) png_set_tRNS(png, info, alpha, n, NULL);
    } else if (s->trns) {
        png_color_16 t = {0};
        t.gray = t.red = t.green = t.blue = 1;
        png_set_tRNS(png, info, NULL, 0, &t);
    }
    if (s->text) {
        png_text txt = {0};
        txt.compression = PNG_TEXT_COMPRESSION_NONE;
        txt.key = (png_charp) "Comment";
        txt.text = (png_charp) "seed";
        png_set_text(png, info, &txt, 1);
        png_set_gAMA(png, info, 1.0 / 2.2);
    }
    png_write_info(png, info);
    size_t row_bytes = ((size_t)s->w * channels * s->bit_depth + 7) / 8;
    rows = calloc(s->h, row_bytes);
    rp = malloc(s->h * sizeof *rp);
    if (!rows || !rp) longjmp(png_jmpbuf(png), 1);
    for (uint32_t y = 0; y < s->h; y++) {
        uint8_t *r = rows + y * row_bytes;
        rp[y] = r;
        if (s->color_type == PNG_COLOR_TYPE_PALETTE || s->bit_depth < 8) {
            int per = 8 / s->bit_depth, mask = (1 << s->bit_depth) - 1;
            if (s->color_type == PNG_COLOR_TYPE_PALETTE && s->bit_depth > 4) mask = 15;
            for (uint32_t x = 0; x < s->w; x++) {
                int v = pattern(x, y, 0) & mask;
                if (s->bit_depth == 8) r[x] = (uint8_t)v;
                else r[x / per] |= (uint8_t)(v << (8 - s->bit_depth * (int)(x % per + 1)));
            }
        } else {
            for (size_t i = 0; i < row_bytes; i++) r[i] = pattern((uint32_t)i, y, 0);
        }
    }
    png_write_image(png, rp);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(rp);
    return fclose(f) == 0 ? check_loads(path) : -1;
}

/* ---- JPEG ---- */
typedef struct jpeg_seed {
    const char *name;
    uint32_t w, h;
    int components; /* 1 gray, 3 RGB, 4 CMYK */
    int ycck, progressive, optimize, restart, arith, h_samp, v_samp;
} jpeg_seed;

static int write_jpeg(const char *dir, const jpeg_seed *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.jpg", dir, s->name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = s->w;
    c.image_height = s->h;
    c.input_components = s->components;
    c.in_color_space = s->components == 1 ? JCS_GRAYSCALE : s->components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    if (s->components == 4) jpeg_set_colorspace(&c, s->ycck ? JCS_YCCK : JCS_CMYK);
    jpeg_set_quality(&c, 85, TRUE);
    if (s->h_samp && s->components == 3) {
        c.comp_info[0].h_samp_factor = s->h_samp;
        c.comp_info[0].v_samp_factor = s->v_samp;
    }
    if (s->progressive) jpeg_simple_progression(&c);
    c.optimize_coding = s->optimize ? TRUE : FALSE;
    c.restart_interval = (unsigned)s->restart;
#ifdef C_ARITH_CODING_SUPPORTED
    c.arith_code = s->arith ? TRUE : FALSE;
#endif
    jpeg_start_compress(&c, TRUE);
    size_t row_bytes = (size_t)s->w * s->components;
    uint8_t *row = malloc(row_bytes);
    for (uint32_t y = 0; row && y < s->h; y++) {
        for (size_t i = 0; i < row_bytes; i++) row[i] = pattern((uint32_t)i / s->components, y, (uint32_t)i % s->components);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return fclose(f) == 0 && row ? check_loads(path) : -1;
}

/* ---- caller pixels ---- */
static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int write_pixels(const char *dir, const char *name, uint32_t w, uint32_t h, uint64_t stride, int32_t format,
                        uint32_t salt, size_t pixel_bytes)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    uint8_t *buf = malloc(24 + pixel_bytes);
    if (!buf) return -1;
    put_le(buf, w, 4);
    put_le(buf + 4, h, 4);
    put_le(buf + 8, stride, 8);
    put_le(buf + 16, (uint32_t)format, 4);
    put_le(buf + 20, salt, 4);
    for (size_t i = 0; i < pixel_bytes; i++) buf[24 + i] = pattern((uint32_t)i, (uint32_t)(i / 61), 0);
    FILE *f = fopen(path, "wb");
    int rc = f && fwrite(buf, 1, 24 + pixel_bytes, f) == 24 + pixel_bytes ? 0 : -1;
    if (f && fclose(f) != 0) rc = -1;
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    char dir[4096];
    int err = 0;

    static const png_seed pngs[] = {
        {"gray8", 13, 7, PNG_COLOR_TYPE_GRAY, 8, 0, 0, 0},
        {"gray16", 9, 6, PNG_COLOR_TYPE_GRAY, 16, 0, 0, 0},
        {"gray1", 17, 5, PNG_COLOR_TYPE_GRAY, 1, 0, 0, 0},
        {"gray2", 11, 4, PNG_COLOR_TYPE_GRAY, 2, 0, 0, 0},
        {"gray4", 7, 9, PNG_COLOR_TYPE_GRAY, 4, 0, 0, 0},
        {"gray8-trns", 8, 8, PNG_COLOR_TYPE_GRAY, 8, 0, 1, 0},
        {"gray-alpha8", 10, 6, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0, 0},
        {"gray-alpha16", 5, 5, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0, 0},
        {"rgb8", 12, 8, PNG_COLOR_TYPE_RGB, 8, 0, 0, 0},
        {"rgb8-trns", 6, 6, PNG_COLOR_TYPE_RGB, 8, 0, 1, 0},
        {"rgb16", 7, 5, PNG_COLOR_TYPE_RGB, 16, 0, 0, 0},
        {"rgba8", 9, 7, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 0, 0},
        {"rgba16", 4, 6, PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 0, 0},
        {"palette8", 11, 7, PNG_COLOR_TYPE_PALETTE, 8, 0, 0, 0},
        {"palette8-trns", 9, 9, PNG_COLOR_TYPE_PALETTE, 8, 0, 1, 0},
        {"palette4", 13, 3, PNG_COLOR_TYPE_PALETTE, 4, 0, 0, 0},
        {"palette2-trns", 10, 4, PNG_COLOR_TYPE_PALETTE, 2, 0, 1, 0},
        {"interlaced-rgb8", 19, 11, PNG_COLOR_TYPE_RGB, 8, 1, 0, 0},
        {"interlaced-palette4", 9, 10, PNG_COLOR_TYPE_PALETTE, 4, 1, 1, 0},
        {"interlaced-gray16", 10, 9, PNG_COLOR_TYPE_GRAY, 16, 1, 0, 0},
        {"interlaced-rgba8", 3, 2, PNG_COLOR_TYPE_RGB_ALPHA, 8, 1, 0, 0},
        {"one-pixel", 1, 1, PNG_COLOR_TYPE_RGB, 8, 0, 0, 0},
        {"tall-text-gamma", 2, 40, PNG_COLOR_TYPE_GRAY, 8, 0, 0, 1},
    };
    err |= make_dir("image_png", dir, sizeof dir);
    for (size_t i = 0; !err && i < sizeof pngs / sizeof pngs[0]; i++)
        if (write_png(dir, &pngs[i])) {
            fprintf(stderr, "png seed %s failed\n", pngs[i].name);
            err = 1;
        }

    static const jpeg_seed jpegs[] = {
        {"gray", 16, 12, 1, 0, 0, 0, 0, 0, 0, 0},
        {"rgb-420", 17, 13, 3, 0, 0, 0, 0, 0, 0, 0},
        {"rgb-444", 9, 8, 3, 0, 0, 0, 0, 0, 1, 1},
        {"rgb-422", 24, 8, 3, 0, 0, 0, 0, 0, 2, 1},
        {"rgb-progressive", 20, 15, 3, 0, 1, 0, 0, 0, 0, 0},
        {"gray-progressive", 11, 21, 1, 0, 1, 0, 0, 0, 0, 0},
        {"rgb-optimized", 16, 16, 3, 0, 0, 1, 0, 0, 0, 0},
        {"rgb-restart", 40, 24, 3, 0, 0, 0, 1, 0, 0, 0},
        {"rgb-arith", 16, 9, 3, 0, 0, 0, 0, 1, 0, 0},
        {"cmyk", 8, 8, 4, 0, 0, 0, 0, 0, 0, 0},
        {"ycck", 10, 7, 4, 1, 0, 0, 0, 0, 0, 0},
        {"one-pixel", 1, 1, 3, 0, 0, 0, 0, 0, 0, 0},
    };
    err |= make_dir("image_jpeg", dir, sizeof dir);
    for (size_t i = 0; !err && i < sizeof jpegs / sizeof jpegs[0]; i++)
        if (write_jpeg(dir, &jpegs[i])) {
            fprintf(stderr, "jpeg seed %s failed\n", jpegs[i].name);
            err = 1;
        }

    err |= make_dir("caller_pixels", dir, sizeof dir);
    static const struct { const char *name; int32_t format; uint32_t bpp; } fmts[] = {
        {"gray8", RP_PIXEL_GRAY8, 1}, {"rgb8", RP_PIXEL_RGB8, 3}, {"bgr8", RP_PIXEL_BGR8, 3},
        {"rgba8", RP_PIXEL_RGBA8, 4}, {"bgra8", RP_PIXEL_BGRA8, 4}};
    for (uint32_t i = 0; !err && i < sizeof fmts / sizeof fmts[0]; i++) {
        char name[64];
        uint32_t w = 9 + i, h = 7, bpp = fmts[i].bpp;
        snprintf(name, sizeof name, "%s-packed", fmts[i].name);
        err |= write_pixels(dir, name, w, h, 0, fmts[i].format, i, (size_t)w * h * bpp);
        snprintf(name, sizeof name, "%s-stride", fmts[i].name);
        uint64_t stride = (uint64_t)w * bpp + 5;
        err |= write_pixels(dir, name, w, h, stride, fmts[i].format, i + 5, stride * (h - 1) + (size_t)w * bpp);
        snprintf(name, sizeof name, "%s-1x1", fmts[i].name);
        err |= write_pixels(dir, name, 1, 1, 0, fmts[i].format, i + 2, bpp);
    }
    err |= write_pixels(dir, "wide-row", 300, 2, 0, RP_PIXEL_RGB8, 1, 300 * 2 * 3);
    err |= write_pixels(dir, "zero-width", 0, 4, 0, RP_PIXEL_GRAY8, 0, 16);
    err |= write_pixels(dir, "zero-height", 4, 0, 0, RP_PIXEL_RGB8, 0, 16);
    err |= write_pixels(dir, "format-0", 4, 4, 0, 0, 0, 16);
    err |= write_pixels(dir, "format-6", 2, 2, 0, 6, 0, 16);
    err |= write_pixels(dir, "stride-below-row", 4, 2, 11, RP_PIXEL_RGB8, 0, 24);
    err |= write_pixels(dir, "stride-overflow", 4, 3, UINT64_MAX / 2, RP_PIXEL_RGBA8, 0, 16);
    err |= write_pixels(dir, "huge-width", 0xffffffffu, 2, 0, RP_PIXEL_BGRA8, 0, 16);
    if (err) fprintf(stderr, "%s: writing the seeds failed\n", argv[0]);
    return err ? 1 : 0;
}
