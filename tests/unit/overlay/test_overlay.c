/* Heat-map overlays and rp_image_save_png, through the public API. Expected overlays come from
 * matplotlib's "jet" colour map (tools/gen_overlay_goldens.py -> tests/data/overlay/). */
#include <errno.h>
#include <math.h>
#include <reconpatch/reconpatch.h>
#include <stdint.h>
#include <sys/stat.h>

#include "rp_test.h"

static char dir[4096];

static void data_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/tests/data/overlay/%s", rp_test_source_dir(), name);
}

static rp_image *load_golden(const char *name)
{
    char path[4200];
    data_path(path, sizeof path, name);
    rp_image *img = NULL;
    ck_assert_msg(rp_image_load_file(path, NULL, &img) == RP_OK, "%s: %s", path, rp_last_error_message());
    return img;
}

static float *load_map(const char *name, size_t floats)
{
    char path[4200];
    data_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    float *map = malloc(floats * sizeof *map);
    ck_assert_uint_eq(fread(map, sizeof *map, floats, f), floats);
    ck_assert_int_eq(fgetc(f), EOF); /* the file holds exactly width x height floats */
    fclose(f);
    return map;
}

/* Run one manifest case and compare with matplotlib's overlay byte for byte. */
static void check_case(const char *name, float lo, float hi, float alpha)
{
    char file[256];
    snprintf(file, sizeof file, "%s_image.png", name);
    rp_image *img = load_golden(file);
    snprintf(file, sizeof file, "%s_expected.png", name);
    rp_image *expected = load_golden(file);
    size_t n = (size_t)rp_image_width(img) * rp_image_height(img);
    snprintf(file, sizeof file, "%s_map.f32", name);
    float *map = load_map(file, n);

    rp_image *out = NULL;
    ck_assert_msg(rp_image_overlay_heatmap(img, map, n, lo, hi, alpha, &out) == RP_OK, "%s: %s", name,
                  rp_last_error_message());
    ck_assert_uint_eq(rp_image_width(out), rp_image_width(img));
    ck_assert_uint_eq(rp_image_height(out), rp_image_height(img));
    ck_assert_uint_eq(rp_image_channels(out), 3);
    ck_assert_uint_eq(rp_image_channels(expected), 3);
    const uint8_t *got = rp_image_pixels(out), *want = rp_image_pixels(expected);
    for (size_t i = 0; i < 3 * n; i++)
        ck_assert_msg(got[i] == want[i], "%s: pixel %zu channel %zu: %u, matplotlib %u", name, i / 3, i % 3, got[i],
                      want[i]);
    rp_image_free(out);
    rp_image_free(expected);
    rp_image_free(img);
    free(map);
}

START_TEST(overlay_heatmap__matches_matplotlib_jet_blend)
{
    char path[4200];
    data_path(path, sizeof path, "manifest.txt");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char name[64];
    double lo, hi, alpha;
    int cases = 0;
    while (fscanf(f, "%63s %lf %lf %lf", name, &lo, &hi, &alpha) == 4) {
        check_case(name, (float)lo, (float)hi, (float)alpha);
        cases++;
    }
    fclose(f);
    ck_assert_int_eq(cases, 3);
}
END_TEST

START_TEST(overlay_heatmap__rejects_bad_arguments)
{
    uint8_t px[6] = {10, 20, 30, 40, 50, 60};
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(px, 2, 1, 0, RP_PIXEL_RGB8, &img), RP_OK);
    float map[2] = {0.1f, 0.9f};
    rp_image *out = (rp_image *)0x1;

    ck_assert_int_eq(rp_image_overlay_heatmap(NULL, map, 2, 0, 1, 0.5f, &out), RP_E_INVALID_ARG);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_image_overlay_heatmap: image is NULL"));
    ck_assert_int_eq(rp_image_overlay_heatmap(img, NULL, 2, 0, 1, 0.5f, &out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 0, 1, 0.5f, NULL), RP_E_INVALID_ARG);

    out = (rp_image *)0x1;
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 3, 0, 1, 0.5f, &out), RP_E_SHAPE);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "map_floats 3 != image width 2 x height 1 = 2"));

    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 1, 1, 0.5f, &out), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "lo 1 .. hi 1"));
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 2, 1, 0.5f, &out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, NAN, 1, 0.5f, &out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 0, INFINITY, 0.5f, &out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 0, 1, 1.5f, &out), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "alpha 1.5"));
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 0, 1, -0.1f, &out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 0, 1, NAN, &out), RP_E_INVALID_ARG);

    map[1] = NAN;
    ck_assert_int_eq(rp_image_overlay_heatmap(img, map, 2, 0, 1, 0.5f, &out), RP_E_INVALID_ARG);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "map[1] (x 1, y 0) is NaN"));
    rp_image_free(img);
}
END_TEST

/* A fresh temporary folder per test. */
static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/rp_overlay_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

START_TEST(save_png__round_trips_gray_and_rgb_pixels)
{
    make_dir();
    uint8_t rgb[4 * 3 * 3], gray[5 * 2];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    for (size_t i = 0; i < sizeof gray; i++) gray[i] = (uint8_t)(255 - i * 23);
    struct {
        const uint8_t *px;
        uint32_t w, h, channels;
        int32_t fmt;
    } cases[2] = {{rgb, 4, 3, 3, RP_PIXEL_RGB8}, {gray, 5, 2, 1, RP_PIXEL_GRAY8}};
    for (int c = 0; c < 2; c++) {
        rp_image *img, *back;
        ck_assert_int_eq(rp_image_from_pixels(cases[c].px, cases[c].w, cases[c].h, 0, cases[c].fmt, &img), RP_OK);
        char path[4200];
        snprintf(path, sizeof path, "%s/case%d.png", dir, c);
        ck_assert_msg(rp_image_save_png(img, path) == RP_OK, "%s", rp_last_error_message());
        ck_assert_int_eq(rp_image_load_file(path, NULL, &back), RP_OK);
        ck_assert_uint_eq(rp_image_width(back), cases[c].w);
        ck_assert_uint_eq(rp_image_height(back), cases[c].h);
        ck_assert_uint_eq(rp_image_channels(back), cases[c].channels);
        ck_assert_int_eq(memcmp(rp_image_pixels(back), cases[c].px, (size_t)cases[c].w * cases[c].h * cases[c].channels),
                         0);
        rp_image_free(back);
        rp_image_free(img);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

START_TEST(save_png__fails_with_io_error_naming_the_path_and_keeps_old_file)
{
    make_dir();
    uint8_t px[3] = {1, 2, 3};
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(px, 1, 1, 0, RP_PIXEL_RGB8, &img), RP_OK);
    char path[4200];
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", dir);
    ck_assert_int_eq(rp_image_save_png(img, path), RP_E_IO);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_image_save_png: "));
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "/no/such/dir/x.png"));
    ck_assert_int_eq(rp_image_save_png(NULL, path), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_save_png(img, NULL), RP_E_INVALID_ARG);

    /* a target that is a directory cannot be replaced: the rename fails, nothing is left behind */
    snprintf(path, sizeof path, "%s/target.png", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(rp_image_save_png(img, path), RP_E_IO);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    rmdir(path);
    ck_assert_int_eq(rmdir(dir), 0); /* empty: no temporary file left */
    rp_image_free(img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("overlay");
    TCase *tc = tcase_create("overlay");
    tcase_add_test(tc, overlay_heatmap__matches_matplotlib_jet_blend);
    tcase_add_test(tc, overlay_heatmap__rejects_bad_arguments);
    tcase_add_test(tc, save_png__round_trips_gray_and_rgb_pixels);
    tcase_add_test(tc, save_png__fails_with_io_error_naming_the_path_and_keeps_old_file);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
