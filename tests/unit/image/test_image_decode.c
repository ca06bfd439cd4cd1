/* Decoding: every PNG colour type / bit depth / palette / interlace variant and JPEG gray, colour,
 * progressive and CMYK, compared pixel for pixel with the reference decode committed by
 * tools/gen_image_goldens.py (numpy from the encoded samples, or PIL on the same libjpeg). */
#include <reconpatch/reconpatch.h>

#include "image_test_util.h"

/* Decode <name> from the decode manifest by path and from memory; both must equal <name>.raw. */
static void check_golden(const char *name)
{
    char line[512], file[128], path[1024];
    ck_assert_msg(img_manifest_find("decode", name, line, sizeof line), "%s not in the manifest", name);
    unsigned w, h, c;
    ck_assert_int_eq(sscanf(line, "%*s %127s %u %u %u", file, &w, &h, &c), 4);

    size_t raw_size, enc_size;
    char raw_name[160];
    snprintf(raw_name, sizeof raw_name, "%s.raw", name);
    uint8_t *expected = img_read_golden("decode", raw_name, &raw_size);
    uint8_t *encoded = img_read_golden("decode", file, &enc_size);
    ck_assert_uint_eq(raw_size, (size_t)w * h * c);

    rp_image *from_file = NULL, *from_memory = NULL;
    ck_assert_msg(rp_image_load_file(img_golden_path(path, sizeof path, "decode", file), NULL, &from_file) == RP_OK,
                  "%s: %s", name, rp_last_error_message());
    ck_assert_msg(rp_image_load_memory(encoded, enc_size, NULL, &from_memory) == RP_OK, "%s: %s", name,
                  rp_last_error_message());
    rp_image *both[2] = {from_file, from_memory};
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(rp_image_width(both[i]), w);
        ck_assert_uint_eq(rp_image_height(both[i]), h);
        ck_assert_uint_eq(rp_image_channels(both[i]), c);
        const uint8_t *px = rp_image_pixels(both[i]);
        for (size_t k = 0; k < raw_size; k++)
            ck_assert_msg(px[k] == expected[k], "%s (%s): byte %zu (x %zu, y %zu, channel %zu) is %u, reference %u",
                          name, i ? "memory" : "file", k, (k / c) % w, k / c / w, k % c, px[k], expected[k]);
    }
    rp_image_free(from_file);
    rp_image_free(from_memory);
    free(expected);
    free(encoded);
}

#define GOLDEN_TEST(name)                                                                                   \
    START_TEST(decode__##name##__matches_reference) { check_golden(#name); }                                \
    END_TEST

/* PNG: gray 1/2/4/8/16 bits (low depths scaled by bit replication, 16 bits rounded) */
GOLDEN_TEST(png_gray1)
GOLDEN_TEST(png_gray2)
GOLDEN_TEST(png_gray4)
GOLDEN_TEST(png_gray8)
GOLDEN_TEST(png_gray16)
GOLDEN_TEST(png_gray16_edges)
/* PNG: alpha dropped, gray stays one channel */
GOLDEN_TEST(png_graya8)
GOLDEN_TEST(png_graya16)
GOLDEN_TEST(png_rgb8)
GOLDEN_TEST(png_rgb16)
GOLDEN_TEST(png_rgba8)
GOLDEN_TEST(png_rgba16)
/* PNG: palettes of every depth, with and without tRNS; tRNS colour keys ignored */
GOLDEN_TEST(png_palette1)
GOLDEN_TEST(png_palette2)
GOLDEN_TEST(png_palette4)
GOLDEN_TEST(png_palette8)
GOLDEN_TEST(png_palette4_trns)
GOLDEN_TEST(png_gray8_trns)
GOLDEN_TEST(png_rgb16_trns)
/* PNG: Adam7 interlacing */
GOLDEN_TEST(png_gray1_adam7)
GOLDEN_TEST(png_palette4_adam7)
GOLDEN_TEST(png_rgb8_adam7)
GOLDEN_TEST(png_rgba16_adam7)
GOLDEN_TEST(png_gray8_adam7_3x2)
/* PNG written by PIL (adaptive filters) */
GOLDEN_TEST(png_pil_l)
GOLDEN_TEST(png_pil_rgb)
/* JPEG */
GOLDEN_TEST(jpeg_gray)
GOLDEN_TEST(jpeg_rgb420)
GOLDEN_TEST(jpeg_rgb444)
GOLDEN_TEST(jpeg_rgb_progressive)
GOLDEN_TEST(jpeg_cmyk_adobe)
GOLDEN_TEST(jpeg_cmyk_plain)

#define GOLDEN_COUNT 32

START_TEST(decode__every_manifest_case_has_a_named_test)
{
    ck_assert_int_eq(img_manifest_count("decode"), GOLDEN_COUNT);
}
END_TEST

START_TEST(decode__format_comes_from_magic_not_file_name)
{
    /* a PNG saved under a .jpg name still decodes as PNG */
    size_t n;
    uint8_t *png = img_read_golden("decode", "png_rgb8.png", &n);
    char path[] = "/tmp/rp_image_magic_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, png, n), (ssize_t)n);
    close(fd);
    char named[64];
    snprintf(named, sizeof named, "%s.jpg", path);
    ck_assert_int_eq(rename(path, named), 0);
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_load_file(named, NULL, &img), RP_OK);
    ck_assert_uint_eq(rp_image_channels(img), 3);
    rp_image_free(img);
    unlink(named);
    free(png);
}
END_TEST

START_TEST(decode__max_pixels_equal_to_the_image_size_is_allowed)
{
    size_t n;
    uint8_t *jpg = img_read_golden("decode", "jpeg_rgb420.jpg", &n);
    rp_image_load_params p;
    ck_assert_int_eq(rp_image_load_params_init(&p, sizeof p), RP_OK);
    p.max_pixels = 13 * 7;
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_load_memory(jpg, n, &p, &img), RP_OK);
    rp_image_free(img);
    free(jpg);
}
END_TEST

Suite *image_decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("golden");
    tcase_add_test(tc, decode__png_gray1__matches_reference);
    tcase_add_test(tc, decode__png_gray2__matches_reference);
    tcase_add_test(tc, decode__png_gray4__matches_reference);
    tcase_add_test(tc, decode__png_gray8__matches_reference);
    tcase_add_test(tc, decode__png_gray16__matches_reference);
    tcase_add_test(tc, decode__png_gray16_edges__matches_reference);
    tcase_add_test(tc, decode__png_graya8__matches_reference);
    tcase_add_test(tc, decode__png_graya16__matches_reference);
    tcase_add_test(tc, decode__png_rgb8__matches_reference);
    tcase_add_test(tc, decode__png_rgb16__matches_reference);
    tcase_add_test(tc, decode__png_rgba8__matches_reference);
    tcase_add_test(tc, decode__png_rgba16__matches_reference);
    tcase_add_test(tc, decode__png_palette1__matches_reference);
    tcase_add_test(tc, decode__png_palette2__matches_reference);
    tcase_add_test(tc, decode__png_palette4__matches_reference);
    tcase_add_test(tc, decode__png_palette8__matches_reference);
    tcase_add_test(tc, decode__png_palette4_trns__matches_reference);
    tcase_add_test(tc, decode__png_gray8_trns__matches_reference);
    tcase_add_test(tc, decode__png_rgb16_trns__matches_reference);
    tcase_add_test(tc, decode__png_gray1_adam7__matches_reference);
    tcase_add_test(tc, decode__png_palette4_adam7__matches_reference);
    tcase_add_test(tc, decode__png_rgb8_adam7__matches_reference);
    tcase_add_test(tc, decode__png_rgba16_adam7__matches_reference);
    tcase_add_test(tc, decode__png_gray8_adam7_3x2__matches_reference);
    tcase_add_test(tc, decode__png_pil_l__matches_reference);
    tcase_add_test(tc, decode__png_pil_rgb__matches_reference);
    tcase_add_test(tc, decode__jpeg_gray__matches_reference);
    tcase_add_test(tc, decode__jpeg_rgb420__matches_reference);
    tcase_add_test(tc, decode__jpeg_rgb444__matches_reference);
    tcase_add_test(tc, decode__jpeg_rgb_progressive__matches_reference);
    tcase_add_test(tc, decode__jpeg_cmyk_adobe__matches_reference);
    tcase_add_test(tc, decode__jpeg_cmyk_plain__matches_reference);
    tcase_add_test(tc, decode__every_manifest_case_has_a_named_test);
    tcase_add_test(tc, decode__format_comes_from_magic_not_file_name);
    tcase_add_test(tc, decode__max_pixels_equal_to_the_image_size_is_allowed);
    suite_add_tcase(s, tc);
    return s;
}
