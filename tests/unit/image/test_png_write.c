/* rp__png_write: what is written decodes back to the same pixels, and the target file is
 * replaced atomically (complete or untouched, no temporary files left behind). */
#include <dirent.h>
#include <reconpatch/reconpatch.h>
#include <sys/stat.h>

#include "image/png_write.h"
#include "image_test_util.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/rp_png_write_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Files in dir whose name contains ".tmp-" (leftover temporaries). */
static int count_temporaries(void)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[sizeof dir + sizeof e->d_name + 2];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (rmdir(path) != 0) unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
}

static uint8_t *pattern(uint32_t w, uint32_t h, uint32_t c, int seed)
{
    uint8_t *px = malloc((size_t)w * h * c);
    for (size_t i = 0; i < (size_t)w * h * c; i++) px[i] = (uint8_t)(i * 131 + seed * 17 + (i >> 5));
    return px;
}

START_TEST(png_write__every_channel_count_decodes_back_to_the_same_pixels)
{
    make_dir();
    const uint32_t w = 37, h = 11;
    for (uint32_t c = 1; c <= 4; c++) {
        char path[128];
        snprintf(path, sizeof path, "%s/out%u.png", dir, c);
        uint8_t *px = pattern(w, h, c, (int)c);
        ck_assert_msg(rp__png_write(path, px, w, h, c) == RP_OK, "%s", rp_last_error_message());
        rp_image *img = NULL;
        ck_assert_int_eq(rp_image_load_file(path, NULL, &img), RP_OK);
        uint32_t colour = c <= 2 ? 1 : 3; /* the decoder drops alpha */
        ck_assert_uint_eq(rp_image_channels(img), colour);
        ck_assert_uint_eq(rp_image_width(img), w);
        ck_assert_uint_eq(rp_image_height(img), h);
        const uint8_t *got = rp_image_pixels(img);
        for (size_t p = 0; p < (size_t)w * h; p++)
            for (uint32_t k = 0; k < colour; k++) ck_assert_uint_eq(got[p * colour + k], px[p * c + k]);
        rp_image_free(img);
        free(px);
    }
    ck_assert_int_eq(count_temporaries(), 0);
    remove_dir();
}
END_TEST

START_TEST(png_write__replaces_an_existing_file)
{
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/heat.png", dir);
    uint8_t *a = pattern(8, 8, 3, 1), *b = pattern(16, 4, 1, 2);
    ck_assert_int_eq(rp__png_write(path, a, 8, 8, 3), RP_OK);
    ck_assert_int_eq(rp__png_write(path, b, 16, 4, 1), RP_OK);
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_load_file(path, NULL, &img), RP_OK);
    ck_assert_uint_eq(rp_image_width(img), 16);
    ck_assert_int_eq(memcmp(rp_image_pixels(img), b, 64), 0);
    rp_image_free(img);
    ck_assert_int_eq(count_temporaries(), 0);
    free(a);
    free(b);
    remove_dir();
}
END_TEST

START_TEST(png_write__failed_rename_removes_the_temporary_and_keeps_the_target)
{
    make_dir();
    /* the target is a non-empty directory: everything succeeds except the final rename */
    char target[128], inner[160];
    snprintf(target, sizeof target, "%s/busy.png", dir);
    ck_assert_int_eq(mkdir(target, 0700), 0);
    snprintf(inner, sizeof inner, "%s/keep", target);
    FILE *f = fopen(inner, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    uint8_t *px = pattern(4, 4, 3, 3);
    ck_assert_int_eq(rp__png_write(target, px, 4, 4, 3), RP_E_IO);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rename"));
    ck_assert_int_eq(count_temporaries(), 0);
    struct stat st;
    ck_assert_int_eq(stat(inner, &st), 0);
    free(px);
    unlink(inner);
    remove_dir();
}
END_TEST

START_TEST(png_write__rejects_bad_arguments_and_missing_directory)
{
    uint8_t px[12] = {0};
    ck_assert_int_eq(rp__png_write(NULL, px, 2, 2, 3), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__png_write("/tmp/x.png", NULL, 2, 2, 3), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__png_write("/tmp/x.png", px, 0, 2, 3), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__png_write("/tmp/x.png", px, 2, 2, 5), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__png_write("/tmp/x.png", px, 2, 2, 0), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__png_write("/nonexistent/dir/x.png", px, 2, 2, 3), RP_E_IO);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "/nonexistent/dir/x.png"));
}
END_TEST

Suite *image_png_write_suite(void)
{
    Suite *s = suite_create("png_write");
    TCase *tc = tcase_create("png_write");
    tcase_add_test(tc, png_write__every_channel_count_decodes_back_to_the_same_pixels);
    tcase_add_test(tc, png_write__replaces_an_existing_file);
    tcase_add_test(tc, png_write__failed_rename_removes_the_temporary_and_keeps_the_target);
    tcase_add_test(tc, png_write__rejects_bad_arguments_and_missing_directory);
    suite_add_tcase(s, tc);
    return s;
}
