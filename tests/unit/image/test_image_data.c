/* Real data from ../shared/data: full-resolution MVTec bottle, natural photos and magnetic tile
 * images decode exactly as PIL decodes them, every data set image loads, and preprocessing the
 * 900x900 bottle agrees with torchvision on PIL. Run only when the data directory exists. */
#include <ftw.h>
#include <math.h>
#include <reconpatch/reconpatch.h>
#include <zlib.h>

#include "image/preprocess.h"
#include "image_test_util.h"

static char data_path[1024];

static const char *in_data(const char *rel)
{
    snprintf(data_path, sizeof data_path, "%s/%s", rp_test_data_dir(), rel);
    return data_path;
}

START_TEST(decode__real_files_match_pil_crc)
{
    char path[1024], line[512], rel[512];
    FILE *f = fopen(img_golden_path(path, sizeof path, "fullres", "decode_crc.txt"), "r");
    ck_assert_ptr_nonnull(f);
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned w, h, c;
        unsigned long crc;
        if (line[0] == '#' || sscanf(line, "%511s %u %u %u %lx", rel, &w, &h, &c, &crc) != 5) continue;
        rp_image *img = NULL;
        ck_assert_msg(rp_image_load_file(in_data(rel), NULL, &img) == RP_OK, "%s", rp_last_error_message());
        ck_assert_uint_eq(rp_image_width(img), w);
        ck_assert_uint_eq(rp_image_height(img), h);
        ck_assert_uint_eq(rp_image_channels(img), c);
        unsigned long got = crc32(0L, rp_image_pixels(img), (uInt)((size_t)w * h * c));
        ck_assert_msg(got == crc, "%s: pixel CRC %08lx, PIL's %08lx", rel, got, crc);
        rp_image_free(img);
        checked++;
    }
    fclose(f);
    ck_assert_int_ge(checked, 10);
}
END_TEST

static int loaded, load_failures;

static int load_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 4 || (strcmp(path + n - 4, ".png") && strcmp(path + n - 4, ".jpg"))) return 0;
    rp_image *img = NULL;
    if (rp_image_load_file(path, NULL, &img) != RP_OK) {
        printf("cannot load %s: %s\n", path, rp_last_error_message());
        load_failures++;
    } else {
        loaded++;
    }
    rp_image_free(img);
    return 0;
}

START_TEST(decode__every_data_set_image_loads_without_a_corruption_report)
{
    const char *sets[] = {"mvtec_ad/bottle", "magnetic_tile", "natural", "mvtec_ad_fullres"};
    loaded = load_failures = 0;
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) nftw(in_data(sets[i]), load_one, 16, FTW_PHYS);
    printf("data sets: %d images loaded, %d failed\n", loaded, load_failures);
    ck_assert_int_eq(load_failures, 0);
    ck_assert_int_gt(loaded, 1000);
}
END_TEST

START_TEST(preprocess__fullres_bottle_matches_pil_within_one_level)
{
    rp_image *img = NULL, *pil = NULL;
    ck_assert_int_eq(rp_image_load_file(in_data("mvtec_ad_fullres/bottle/train/good/000.png"), NULL, &img), RP_OK);
    char path[1024];
    ck_assert_int_eq(rp_image_load_file(img_golden_path(path, sizeof path, "fullres",
                                                        "bottle_train_000_resize256_crop224_pil.png"),
                                        NULL, &pil),
                     RP_OK);
    ck_assert_uint_eq(rp_image_width(pil), 224);
    const uint8_t *ref = rp_image_pixels(pil); /* PIL's uint8 result, HWC RGB */
    enum { S = 224 };
    static float out[3 * S * S];
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std_[3] = {0.229f, 0.224f, 0.225f};
    static const float caffe_mean_rgb[3] = {123.68f, 116.779f, 103.939f};
    for (int32_t norm = RP_NORM_TORCHVISION; norm <= RP_NORM_CAFFE; norm++) {
        ck_assert_int_eq(rp__image_preprocess(img, 256, S, 0, 0, norm, out), RP_OK);
        double max_levels = 0.0, sum = 0.0;
        int above_half = 0;
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < S * S; i++) {
                double levels; /* back from the network input to levels of 255 */
                if (norm == RP_NORM_TORCHVISION)
                    levels = ((double)out[c * S * S + i] * std_[c] + mean[c]) * 255.0;
                else
                    levels = (double)out[(2 - c) * S * S + i] + caffe_mean_rgb[c];
                double d = fabs(levels - ref[i * 3 + c]);
                sum += d;
                above_half += d > 0.5;
                if (d > max_levels) max_levels = d;
            }
        }
        printf("bottle 900x900 -> 256 -> crop 224 %-11s max %.3f mean %.3f levels; %.2f%% of values differ by "
               "more than 0.5 (PIL rounding)\n",
               norm == RP_NORM_CAFFE ? "caffe" : "torchvision", max_levels, sum / (3.0 * S * S),
               100.0 * above_half / (3.0 * S * S));
        ck_assert_double_le(max_levels, 1.001);
        ck_assert_double_le(sum / (3.0 * S * S), 0.45);
    }
    rp_image_free(img);
    rp_image_free(pil);
}
END_TEST

/* keep_aspect at the field's MVTec protocol (torchvision Resize(256) + CenterCrop(224)) on real
 * non-square magnetic tile images, against PIL's 8-bit result (tests/data/images/keep_aspect). */
START_TEST(preprocess__keep_aspect_magnetic_tiles_match_torchvision_within_one_level)
{
    char path[1024], line[512];
    FILE *f = fopen(img_golden_path(path, sizeof path, "keep_aspect", "manifest.txt"), "r");
    ck_assert_ptr_nonnull(f);
    enum { S = 224 };
    static float out[3 * S * S];
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        ka_case k;
        if (line[0] == '#' || !ka_parse(line, &k) || strncmp(k.name, "tile_", 5) != 0) continue;
        rp_image *img = NULL, *pil = NULL;
        ck_assert_int_eq(rp_image_load_file(in_data(k.source), NULL, &img), RP_OK);
        ck_assert_uint_eq(rp_image_width(img), k.width);
        ck_assert_uint_eq(rp_image_height(img), k.height);
        char golden[200];
        snprintf(golden, sizeof golden, "%s_pil.png", k.name);
        ck_assert_int_eq(rp_image_load_file(img_golden_path(path, sizeof path, "keep_aspect", golden), NULL, &pil),
                         RP_OK);
        const uint8_t *ref = rp_image_pixels(pil); /* PIL's uint8 crop, gray */
        ck_assert_int_eq(rp__image_preprocess(img, k.resize, k.crop, 0, 1, RP_NORM_CAFFE, out), RP_OK);
        double max_levels = 0.0, sum = 0.0;
        for (int c = 0; c < 3; c++) /* gray replicated: every plane holds the same levels */
            for (int i = 0; i < S * S; i++) {
                const float mean = c == 0 ? 103.939f : c == 1 ? 116.779f : 123.68f;
                double d = fabs((double)out[c * S * S + i] + mean - ref[i]);
                sum += d;
                if (d > max_levels) max_levels = d;
            }
        printf("%s %ux%u -> frame %ux%u, offsets (%u, %u): max %.3f mean %.3f levels\n", k.source, k.width, k.height,
               k.frame_w, k.frame_h, k.off_x, k.off_y, max_levels, sum / (3.0 * S * S));
        ck_assert_double_le(max_levels, 1.001);
        ck_assert_double_le(sum / (3.0 * S * S), 0.45);
        rp_image_free(img);
        rp_image_free(pil);
        checked++;
    }
    fclose(f);
    ck_assert_int_eq(checked, 2);
}
END_TEST

Suite *image_data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_add_test(tc, decode__real_files_match_pil_crc);
    tcase_add_test(tc, decode__every_data_set_image_loads_without_a_corruption_report);
    tcase_add_test(tc, preprocess__fullres_bottle_matches_pil_within_one_level);
    tcase_add_test(tc, preprocess__keep_aspect_magnetic_tiles_match_torchvision_within_one_level);
    suite_add_tcase(s, tc);
    return s;
}
