/* Preprocessing against torchvision-on-PIL goldens: Resize((R, R)) with PIL BILINEAR, CenterCrop,
 * ToTensor + Normalize, and the Keras "caffe" variant (tools/gen_image_goldens.py); keep_aspect
 * against torchvision's own Resize(R) (shorter side) + CenterCrop, and the frame computation.
 *
 * Tolerance: PIL resizes in 8-bit fixed point and rounds to uint8 after each of its two passes; we
 * keep floats. The rounding of PIL's intermediate (<= 0.5 level, carried through weights summing
 * to 1) plus its final rounding (<= 0.5) bound the difference by 1 level of 255. The mean
 * difference must stay well below that (a half-pixel shift or a wrong filter would not). */
#include <math.h>
#include <reconpatch/reconpatch.h>

#include "image/preprocess.h"
#include "image_test_util.h"

#define MAX_LEVELS 1.001
#define MAX_MEAN_LEVELS 0.45

static const float tv_std[3] = {0.229f, 0.224f, 0.225f};

/* Compare out (3 x S x S) with a golden; differences are converted back to levels of 255. */
static void compare_levels(const float *out, const float *golden, uint32_t side, int32_t norm, const char *what)
{
    size_t plane = (size_t)side * side;
    double max_levels = 0.0, sum = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < 3 * plane; i++) {
        double scale = norm == RP_NORM_TORCHVISION ? 255.0 * tv_std[i / plane] : 1.0;
        double d = fabs((double)out[i] - golden[i]) * scale;
        sum += d;
        if (d > max_levels) max_levels = d, worst = i;
    }
    double mean = sum / (3.0 * plane);
    printf("%-28s %-11s max %.3f mean %.3f levels of 255\n", what, norm == RP_NORM_CAFFE ? "caffe" : "torchvision",
           max_levels, mean);
    ck_assert_msg(max_levels <= MAX_LEVELS, "%s: max diff %.4f levels at plane %zu y %zu x %zu (ours %g, PIL %g)",
                  what, max_levels, worst / plane, worst % plane / side, worst % side, out[worst], golden[worst]);
    ck_assert_msg(mean <= MAX_MEAN_LEVELS, "%s: mean diff %.4f levels", what, mean);
}

/* Preprocess the golden folder's source image (resize, crop, no_crop, keep_aspect) with both
 * normalisations and compare each with its golden NAME_{torchvision,caffe}.f32. */
static void compare_with_goldens(const char *folder, const char *name, const char *source, uint32_t resize,
                                 uint32_t crop, int no_crop, int keep_aspect)
{
    char path[1024];
    rp_image *img = NULL;
    ck_assert_msg(rp_image_load_file(img_golden_path(path, sizeof path, folder, source), NULL, &img) == RP_OK, "%s",
                  rp_last_error_message());
    size_t floats = 3u * crop * crop;
    float *out = malloc(floats * sizeof *out);
    const int32_t norms[2] = {RP_NORM_TORCHVISION, RP_NORM_CAFFE};
    for (int k = 0; k < 2; k++) {
        char golden_name[160];
        snprintf(golden_name, sizeof golden_name, "%s_%s.f32", name, k ? "caffe" : "torchvision");
        size_t n;
        float *golden = (float *)img_read_golden(folder, golden_name, &n);
        ck_assert_uint_eq(n, floats * sizeof(float));
        ck_assert_int_eq(rp__image_preprocess(img, resize, crop, no_crop, keep_aspect, norms[k], out), RP_OK);
        compare_levels(out, golden, crop, norms[k], name);
        free(golden);
    }
    free(out);
    rp_image_free(img);
}

static void check_case(const char *name)
{
    char line[512], src[128];
    ck_assert_msg(img_manifest_find("preprocess", name, line, sizeof line), "%s not in the manifest", name);
    unsigned resize, crop, no_crop;
    ck_assert_int_eq(sscanf(line, "%*s %127s %u %u %u", src, &resize, &crop, &no_crop), 4);
    compare_with_goldens("preprocess", name, src, resize, crop, (int)no_crop, 0);
}

#define PIL_TEST(name)                                                                                      \
    START_TEST(preprocess__##name##__matches_pil_within_one_level) { check_case(#name); }                   \
    END_TEST

PIL_TEST(up_rgb)
PIL_TEST(down_rgb)
PIL_TEST(down_gray)
PIL_TEST(mixed_rgb)
PIL_TEST(nocrop_rgb)
PIL_TEST(same_size_rgb)
PIL_TEST(tiny_up_gray)
PIL_TEST(odd_down_rgb)

/* ---- keep_aspect: torchvision Resize(int) + CenterCrop (tests/data/images/keep_aspect) ---- */

static void check_keep_aspect_case(const char *name)
{
    char line[512];
    ck_assert_msg(img_manifest_find("keep_aspect", name, line, sizeof line), "%s not in the manifest", name);
    ka_case k;
    ck_assert(ka_parse(line, &k));
    compare_with_goldens("keep_aspect", name, k.source, k.resize, k.crop, 0, 1);
}

#define KEEP_ASPECT_TEST(name)                                                                              \
    START_TEST(preprocess__keep_aspect_##name##__matches_torchvision_within_one_level)                      \
    {                                                                                                       \
        check_keep_aspect_case(#name);                                                                      \
    }                                                                                                       \
    END_TEST

KEEP_ASPECT_TEST(landscape_rgb)
KEEP_ASPECT_TEST(portrait_gray)
KEEP_ASPECT_TEST(landscape_up_rgb)

START_TEST(resize_frame__keep_aspect_gives_torchvisions_frames_and_offsets)
{
    /* Every manifest line (the real tiles too: only their sizes are needed here), including
     * offsets x.5 that round to even: landscape 62 - 33 = 29 -> 14, portrait 61 - 26 = 35 -> 18,
     * tile 345 - 224 = 121 -> 60, tile 613 - 224 = 389 -> 194. */
    char path[1024], line[512];
    FILE *f = fopen(img_golden_path(path, sizeof path, "keep_aspect", "manifest.txt"), "r");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        ka_case k;
        if (line[0] == '#' || !ka_parse(line, &k)) continue;
        uint32_t fw = 0, fh = 0, ox = 0, oy = 0;
        ck_assert_int_eq(rp__image_resize_frame(k.width, k.height, k.resize, k.crop, 0, 1, &fw, &fh, &ox, &oy, "t"),
                         RP_OK);
        ck_assert_msg(fw == k.frame_w && fh == k.frame_h && ox == k.off_x && oy == k.off_y,
                      "%s: frame %ux%u offsets (%u, %u), torchvision %ux%u (%u, %u)", k.name, fw, fh, ox, oy,
                      k.frame_w, k.frame_h, k.off_x, k.off_y);
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, 5);
}
END_TEST

START_TEST(resize_frame__default_and_no_crop_frames_and_square_images)
{
    uint32_t fw, fh, ox, oy;
    /* default: both axes to resize, whatever the aspect */
    ck_assert_int_eq(rp__image_resize_frame(345, 256, 256, 224, 0, 0, &fw, &fh, &ox, &oy, "t"), RP_OK);
    ck_assert(fw == 256 && fh == 256 && ox == 16 && oy == 16);
    /* no_crop: the crop size, offsets 0, resize ignored */
    ck_assert_int_eq(rp__image_resize_frame(345, 256, 0, 224, 1, 0, &fw, &fh, &ox, &oy, "t"), RP_OK);
    ck_assert(fw == 224 && fh == 224 && ox == 0 && oy == 0);
    /* keep_aspect on a square image is the default frame */
    ck_assert_int_eq(rp__image_resize_frame(900, 900, 256, 224, 0, 1, &fw, &fh, &ox, &oy, "t"), RP_OK);
    ck_assert(fw == 256 && fh == 256 && ox == 16 && oy == 16);
    /* int(256 * 1000 / 999) = int(256.256...) = 256: a nearly square image keeps a square frame */
    ck_assert_int_eq(rp__image_resize_frame(999, 1000, 256, 224, 0, 1, &fw, &fh, &ox, &oy, "t"), RP_OK);
    ck_assert(fw == 256 && fh == 256);
    /* a truncation, not a rounding: int(256 * 300 / 200) = 384, int(256 * 301 / 200) = int(385.28) = 385 */
    ck_assert_int_eq(rp__image_resize_frame(200, 301, 256, 224, 0, 1, &fw, &fh, &ox, &oy, "t"), RP_OK);
    ck_assert(fw == 256 && fh == 385 && ox == 16 && oy == 80); /* round(80.5) = 80 */
}
END_TEST

START_TEST(resize_frame__rejects_keep_aspect_with_no_crop_and_too_long_frames)
{
    uint32_t fw = 7, fh = 7, ox = 7, oy = 7;
    ck_assert_int_eq(rp__image_resize_frame(300, 200, 256, 224, 1, 1, &fw, &fh, &ox, &oy, "caller_fn"),
                     RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "caller_fn: keep_aspect and no_crop are both set"));
    /* 1 x 100 pixels: the longer side would become 25600 > 16384 */
    ck_assert_int_eq(rp__image_resize_frame(1, 100, 256, 224, 0, 1, &fw, &fh, &ox, &oy, "caller_fn"), RP_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "1 x 100 image's longer side to 25600, above 16384"));
    ck_assert_int_eq(rp__image_resize_frame(0, 100, 256, 224, 0, 1, &fw, &fh, &ox, &oy, "caller_fn"),
                     RP_E_INVALID_ARG);
    ck_assert(fw == 7 && fh == 7 && ox == 7 && oy == 7); /* nothing written on failure */
    /* the same limit through the preprocessing, which then writes nothing either */
    uint8_t px[100] = {0};
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_from_pixels(px, 1, 100, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    float out[3 * 32 * 32];
    ck_assert_int_eq(rp__image_preprocess(img, 256, 32, 0, 1, RP_NORM_CAFFE, out), RP_E_LIMIT);
    ck_assert_int_eq(rp__image_preprocess(img, 64, 32, 0, 1, RP_NORM_CAFFE, out), RP_OK); /* 6400: fine */
    rp_image_free(img);
}
END_TEST

START_TEST(preprocess__every_manifest_case_has_a_named_test) { ck_assert_int_eq(img_manifest_count("preprocess"), 8); }
END_TEST

START_TEST(crop_offset__rounds_half_to_even_like_torchvision)
{
    ck_assert_uint_eq(rp__image_crop_offset(256, 224), 16);
    ck_assert_uint_eq(rp__image_crop_offset(224, 224), 0);
    ck_assert_uint_eq(rp__image_crop_offset(17, 16), 0);  /* round(0.5) = 0 */
    ck_assert_uint_eq(rp__image_crop_offset(29, 26), 2);  /* round(1.5) = 2 */
    ck_assert_uint_eq(rp__image_crop_offset(48, 41), 4);  /* round(3.5) = 4 */
    ck_assert_uint_eq(rp__image_crop_offset(256, 223), 16); /* round(16.5) = 16 */
    ck_assert_uint_eq(rp__image_crop_offset(255, 224), 16); /* round(15.5) = 16 */
    ck_assert_uint_eq(rp__image_crop_offset(320, 289), 16); /* round(15.5) = 16 */
    ck_assert_uint_eq(rp__image_crop_offset(321, 288), 16); /* round(16.5) = 16 */
}
END_TEST

START_TEST(preprocess__gray_equals_the_same_gray_as_rgb)
{
    enum { W = 23, H = 17, S = 9 };
    uint8_t gray[W * H], rgb[W * H * 3];
    for (int i = 0; i < W * H; i++) gray[i] = rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(i * 29 + 3);
    rp_image *g = NULL, *c = NULL;
    ck_assert_int_eq(rp_image_from_pixels(gray, W, H, 0, RP_PIXEL_GRAY8, &g), RP_OK);
    ck_assert_int_eq(rp_image_from_pixels(rgb, W, H, 0, RP_PIXEL_RGB8, &c), RP_OK);
    float a[3 * S * S], b[3 * S * S];
    for (int32_t norm = RP_NORM_TORCHVISION; norm <= RP_NORM_CAFFE; norm++) {
        ck_assert_int_eq(rp__image_preprocess(g, 11, S, 0, 0, norm, a), RP_OK);
        ck_assert_int_eq(rp__image_preprocess(c, 11, S, 0, 0, norm, b), RP_OK);
        for (int i = 0; i < 3 * S * S; i++) ck_assert_float_eq_tol(a[i], b[i], 1e-5f);
    }
    rp_image_free(g);
    rp_image_free(c);
}
END_TEST

START_TEST(preprocess__constant_image_gives_the_normalised_constant)
{
    uint8_t px[7 * 5 * 3];
    for (size_t i = 0; i < sizeof px; i += 3) px[i] = 200, px[i + 1] = 100, px[i + 2] = 50;
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_from_pixels(px, 7, 5, 0, RP_PIXEL_RGB8, &img), RP_OK);
    float out[3 * 4 * 4];
    ck_assert_int_eq(rp__image_preprocess(img, 6, 4, 0, 0, RP_NORM_TORCHVISION, out), RP_OK);
    ck_assert_float_eq_tol(out[0], (200 / 255.0f - 0.485f) / 0.229f, 1e-5f);
    ck_assert_float_eq_tol(out[16], (100 / 255.0f - 0.456f) / 0.224f, 1e-5f);
    ck_assert_float_eq_tol(out[47], (50 / 255.0f - 0.406f) / 0.225f, 1e-5f);
    ck_assert_int_eq(rp__image_preprocess(img, 6, 4, 0, 0, RP_NORM_CAFFE, out), RP_OK);
    ck_assert_float_eq_tol(out[0], 50 - 103.939f, 1e-4f);   /* plane 0 is blue */
    ck_assert_float_eq_tol(out[16], 100 - 116.779f, 1e-4f); /* plane 1 green */
    ck_assert_float_eq_tol(out[47], 200 - 123.68f, 1e-4f);  /* plane 2 red */
    rp_image_free(img);
}
END_TEST

START_TEST(preprocess__rejects_bad_arguments)
{
    uint8_t px[16] = {0};
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_from_pixels(px, 4, 4, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    float out[3 * 8 * 8];
    ck_assert_int_eq(rp__image_preprocess(NULL, 8, 8, 0, 0, RP_NORM_CAFFE, out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__image_preprocess(img, 8, 8, 0, 0, RP_NORM_CAFFE, NULL), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__image_preprocess(img, 8, 8, 0, 0, 0, out), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "normalization 0"));
    ck_assert_int_eq(rp__image_preprocess(img, 8, 0, 0, 0, RP_NORM_CAFFE, out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__image_preprocess(img, 0, 8, 0, 0, RP_NORM_CAFFE, out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__image_preprocess(img, 6, 8, 0, 0, RP_NORM_CAFFE, out), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "crop 8 is larger than resize 6"));
    ck_assert_int_eq(rp__image_preprocess(img, 100000, 8, 0, 0, RP_NORM_CAFFE, out), RP_E_INVALID_ARG);
    /* with no_crop the resize value is irrelevant, even 0 */
    ck_assert_int_eq(rp__image_preprocess(img, 0, 8, 1, 0, RP_NORM_CAFFE, out), RP_OK);
    rp_image_free(img);
}
END_TEST

Suite *image_preprocess_suite(void)
{
    Suite *s = suite_create("preprocess");
    TCase *tc = tcase_create("preprocess");
    tcase_add_test(tc, preprocess__up_rgb__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__down_rgb__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__down_gray__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__mixed_rgb__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__nocrop_rgb__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__same_size_rgb__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__tiny_up_gray__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__odd_down_rgb__matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__every_manifest_case_has_a_named_test);
    tcase_add_test(tc, preprocess__keep_aspect_landscape_rgb__matches_torchvision_within_one_level);
    tcase_add_test(tc, preprocess__keep_aspect_portrait_gray__matches_torchvision_within_one_level);
    tcase_add_test(tc, preprocess__keep_aspect_landscape_up_rgb__matches_torchvision_within_one_level);
    tcase_add_test(tc, resize_frame__keep_aspect_gives_torchvisions_frames_and_offsets);
    tcase_add_test(tc, resize_frame__default_and_no_crop_frames_and_square_images);
    tcase_add_test(tc, resize_frame__rejects_keep_aspect_with_no_crop_and_too_long_frames);
    tcase_add_test(tc, crop_offset__rounds_half_to_even_like_torchvision);
    tcase_add_test(tc, preprocess__gray_equals_the_same_gray_as_rgb);
    tcase_add_test(tc, preprocess__constant_image_gives_the_normalised_constant);
    tcase_add_test(tc, preprocess__rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
