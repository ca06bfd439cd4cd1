/* Bad input never crashes or leaks (the image_valgrind test runs this under valgrind) and fails
 * with a specific RP_E_* code, a message naming the function, and *out left NULL. */
#include <reconpatch/reconpatch.h>

#include "image_test_util.h"

/* Decode from memory expecting failure with `code`; checks *out and the message. */
static void expect_memory_failure(const void *data, size_t n, const rp_image_load_params *p, int code,
                                  const char *what)
{
    rp_image *img = (rp_image *)0x1;
    int rc = rp_image_load_memory(data, n, p, &img);
    ck_assert_msg(rc == code, "%s: got %s (%s), expected %s", what, rp_error_name(rc), rp_last_error_message(),
                  rp_error_name(code));
    ck_assert_ptr_null(img);
    ck_assert_int_eq(rp_last_error_code(), code);
    ck_assert_msg(strstr(rp_last_error_message(), "rp_image_load_memory") != NULL, "%s: message '%s'", what,
                  rp_last_error_message());
}

static void expect_file_failure(const char *path, int code, const char *needle)
{
    rp_image *img = (rp_image *)0x1;
    int rc = rp_image_load_file(path, NULL, &img);
    ck_assert_msg(rc == code, "%s: got %s (%s)", path ? path : "NULL", rp_error_name(rc), rp_last_error_message());
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(rp_last_error_message(), "rp_image_load_file") != NULL, "message '%s'",
                  rp_last_error_message());
    if (needle)
        ck_assert_msg(strstr(rp_last_error_message(), needle) != NULL, "message '%s' lacks '%s'",
                      rp_last_error_message(), needle);
}

START_TEST(load__rejects_null_arguments_and_empty_buffer)
{
    uint8_t byte = 0x89;
    expect_memory_failure(NULL, 10, NULL, RP_E_INVALID_ARG, "NULL data");
    expect_memory_failure(&byte, 0, NULL, RP_E_INVALID_ARG, "empty buffer");
    ck_assert_int_eq(rp_image_load_memory(&byte, 1, NULL, NULL), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_load_file("x.png", NULL, NULL), RP_E_INVALID_ARG);
    expect_file_failure(NULL, RP_E_INVALID_ARG, "path is NULL");
}
END_TEST

START_TEST(load_file__reports_missing_file_directory_and_empty_file_distinctly)
{
    expect_file_failure("/nonexistent/dir/image.png", RP_E_IO, "/nonexistent/dir/image.png");
    expect_file_failure("/tmp", RP_E_IO, "directory");
    char path[] = "/tmp/rp_image_empty_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    expect_file_failure(path, RP_E_FORMAT, "empty");
    unlink(path);
}
END_TEST

START_TEST(load__rejects_wrong_magic)
{
    static const char gif[] = "GIF89a\x0d\x00\x07\x00\x00\x00\x00";
    static const uint8_t bmp[] = {'B', 'M', 0x36, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0};
    static const uint8_t short_png[] = {0x89, 'P', 'N', 'G'};
    static const uint8_t one[] = {0xff};
    expect_memory_failure(gif, sizeof gif - 1, NULL, RP_E_FORMAT, "GIF");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "not a PNG or JPEG"));
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "47 49 46")); /* the bytes seen */
    expect_memory_failure(bmp, sizeof bmp, NULL, RP_E_FORMAT, "BMP");
    expect_memory_failure(short_png, sizeof short_png, NULL, RP_E_FORMAT, "4-byte PNG magic");
    expect_memory_failure(one, sizeof one, NULL, RP_E_FORMAT, "one byte");
}
END_TEST

/* Every proper prefix of a valid file must fail: a half-written file is not an image. */
static void check_every_truncation(const char *name)
{
    size_t n;
    uint8_t *data = img_read_golden("decode", name, &n);
    for (size_t len = 1; len < n; len++) {
        char what[96];
        snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", name, len, n);
        expect_memory_failure(data, len, NULL, RP_E_FORMAT, what);
    }
    /* and through the file reader, at a few offsets */
    size_t cuts[] = {1, 8, 20, n / 3, n / 2, n - 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char path[] = "/tmp/rp_image_cut_XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, cuts[i]), (ssize_t)cuts[i]);
        close(fd);
        expect_file_failure(path, RP_E_FORMAT, NULL);
        unlink(path);
    }
    free(data);
}

START_TEST(png__truncated_at_every_offset_fails_with_format) { check_every_truncation("png_rgb8.png"); }
END_TEST

START_TEST(png_interlaced__truncated_at_every_offset_fails_with_format)
{
    check_every_truncation("png_rgba16_adam7.png");
}
END_TEST

START_TEST(jpeg__truncated_at_every_offset_fails_with_format) { check_every_truncation("jpeg_rgb420.jpg"); }
END_TEST

START_TEST(jpeg_progressive__truncated_at_every_offset_fails_with_format)
{
    check_every_truncation("jpeg_rgb_progressive.jpg");
}
END_TEST

/* PNG chunks carry CRCs: a file made of critical chunks only (IHDR, IDAT, IEND) must reject a
 * flipped bit anywhere. */
START_TEST(png__any_flipped_bit_fails_with_format)
{
    size_t n;
    uint8_t *data = img_read_golden("decode", "png_rgb8.png", &n);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            data[i] ^= (uint8_t)(1u << bit);
            char what[80];
            snprintf(what, sizeof what, "png_rgb8.png with bit %d of byte %zu flipped", bit, i);
            expect_memory_failure(data, n, NULL, RP_E_FORMAT, what);
            data[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(data);
}
END_TEST

/* JPEG has no checksums: a flipped bit in the entropy-coded data may decode to other pixels. What
 * must hold is: no crash, no leak, and either a well-formed image or a clear failure. */
START_TEST(jpeg__flipped_bytes_give_an_image_or_a_clean_failure)
{
    const char *files[] = {"jpeg_rgb420.jpg", "jpeg_rgb_progressive.jpg", "jpeg_cmyk_adobe.jpg"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        size_t n;
        uint8_t *data = img_read_golden("decode", files[f], &n);
        int ok = 0, failed = 0;
        for (size_t i = 0; i < n; i++) {
            data[i] ^= 0x5a;
            rp_image *img = (rp_image *)0x1;
            int rc = rp_image_load_memory(data, n, NULL, &img);
            if (rc == RP_OK) {
                ck_assert_uint_gt(rp_image_width(img), 0);
                ck_assert_uint_gt(rp_image_height(img), 0);
                ck_assert(rp_image_channels(img) == 1 || rp_image_channels(img) == 3);
                rp_image_free(img);
                ok++;
            } else {
                ck_assert_msg(rc == RP_E_FORMAT || rc == RP_E_UNSUPPORTED || rc == RP_E_LIMIT,
                              "%s byte %zu: %s %s", files[f], i, rp_error_name(rc), rp_last_error_message());
                ck_assert_ptr_null(img);
                ck_assert_str_ne(rp_last_error_message(), "");
                failed++;
            }
            data[i] ^= 0x5a;
        }
        printf("%s: %zu single-byte corruptions, %d decoded, %d rejected\n", files[f], n, ok, failed);
        ck_assert_int_gt(failed, 0);
        free(data);
    }
}
END_TEST

START_TEST(png__zero_width_fails_with_format)
{
    size_t n;
    uint8_t *data = img_read_golden("decode", "bad_png_zero_width.png", &n);
    expect_memory_failure(data, n, NULL, RP_E_FORMAT, "zero width");
    free(data);
}
END_TEST

START_TEST(jpeg__zero_height_fails_with_format)
{
    size_t n;
    uint8_t *data = img_read_golden("decode", "bad_jpeg_zero_height.jpg", &n);
    expect_memory_failure(data, n, NULL, RP_E_FORMAT, "zero height");
    free(data);
}
END_TEST

/* 10^10 and 3.6 * 10^9 pixels: allocating first would fail with RP_E_NOMEM (or exhaust memory);
 * RP_E_LIMIT shows the header was checked before any pixel allocation. */
START_TEST(png__huge_header_fails_with_limit_before_allocating)
{
    size_t n;
    uint8_t *data = img_read_golden("decode", "bad_png_huge.png", &n);
    expect_memory_failure(data, n, NULL, RP_E_LIMIT, "100000x100000 PNG");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "100000x100000"));
    free(data);
}
END_TEST

START_TEST(jpeg__huge_header_fails_with_limit_before_allocating)
{
    size_t n;
    uint8_t *data = img_read_golden("decode", "bad_jpeg_huge.jpg", &n);
    expect_memory_failure(data, n, NULL, RP_E_LIMIT, "60000x60000 JPEG");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "60000x60000"));
    free(data);
}
END_TEST

START_TEST(load__pixel_limit_below_image_size_fails_with_limit)
{
    const char *files[] = {"png_rgb8.png", "png_gray8_adam7_3x2.png", "jpeg_gray.jpg", "jpeg_cmyk_adobe.jpg"};
    uint64_t pixels[] = {13 * 7, 3 * 2, 13 * 7, 13 * 7};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        size_t n;
        uint8_t *data = img_read_golden("decode", files[f], &n);
        rp_image_load_params p;
        ck_assert_int_eq(rp_image_load_params_init(&p, sizeof p), RP_OK);
        p.max_pixels = pixels[f] - 1;
        expect_memory_failure(data, n, &p, RP_E_LIMIT, files[f]);
        ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "max_pixels"));
        free(data);
    }
}
END_TEST

START_TEST(load__png_signature_followed_by_garbage_fails_with_format)
{
    uint8_t data[64];
    static const uint8_t magic[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    memcpy(data, magic, 8);
    for (size_t i = 8; i < sizeof data; i++) data[i] = (uint8_t)(i * 37);
    expect_memory_failure(data, sizeof data, NULL, RP_E_FORMAT, "PNG magic + garbage");
    static const uint8_t soi_garbage[] = {0xff, 0xd8, 0xff, 0x00, 0x12, 0x34, 0x56, 0x78};
    expect_memory_failure(soi_garbage, sizeof soi_garbage, NULL, RP_E_FORMAT, "JPEG SOI + garbage");
}
END_TEST

START_TEST(load__params_with_unset_struct_size_fail_before_reading)
{
    rp_image_load_params p;
    memset(&p, 0, sizeof p);
    static const uint8_t one[] = {0xff};
    expect_memory_failure(one, 1, &p, RP_E_INVALID_ARG, "struct_size 0");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "struct_size"));
}
END_TEST

/* Well-formed JPEG variants outside baseline/progressive 8-bit: RP_E_UNSUPPORTED, not "damaged". */
START_TEST(jpeg__12_bit_and_lossless_files_fail_with_unsupported)
{
    size_t n;
    uint8_t *data = img_read_golden("decode", "jpeg_rgb420.jpg", &n);
    size_t sof = 0;
    for (size_t i = 2; i + 1 < n && !sof; i++)
        if (data[i] == 0xff && data[i + 1] == 0xc0) sof = i;
    ck_assert_uint_gt(sof, 0);
    data[sof + 4] = 12; /* sample precision */
    expect_memory_failure(data, n, NULL, RP_E_UNSUPPORTED, "12-bit JPEG");
    data[sof + 4] = 8;
    data[sof + 1] = 0xc3; /* SOF3: lossless */
    expect_memory_failure(data, n, NULL, RP_E_UNSUPPORTED, "lossless JPEG");
    free(data);
}
END_TEST

Suite *image_bad_input_suite(void)
{
    Suite *s = suite_create("bad_input");
    TCase *tc = tcase_create("bad_input");
    tcase_add_test(tc, load__rejects_null_arguments_and_empty_buffer);
    tcase_add_test(tc, load_file__reports_missing_file_directory_and_empty_file_distinctly);
    tcase_add_test(tc, load__rejects_wrong_magic);
    tcase_add_test(tc, png__truncated_at_every_offset_fails_with_format);
    tcase_add_test(tc, png_interlaced__truncated_at_every_offset_fails_with_format);
    tcase_add_test(tc, jpeg__truncated_at_every_offset_fails_with_format);
    tcase_add_test(tc, jpeg_progressive__truncated_at_every_offset_fails_with_format);
    tcase_add_test(tc, png__any_flipped_bit_fails_with_format);
    tcase_add_test(tc, jpeg__flipped_bytes_give_an_image_or_a_clean_failure);
    tcase_add_test(tc, png__zero_width_fails_with_format);
    tcase_add_test(tc, jpeg__zero_height_fails_with_format);
    tcase_add_test(tc, png__huge_header_fails_with_limit_before_allocating);
    tcase_add_test(tc, jpeg__huge_header_fails_with_limit_before_allocating);
    tcase_add_test(tc, load__pixel_limit_below_image_size_fails_with_limit);
    tcase_add_test(tc, load__png_signature_followed_by_garbage_fails_with_format);
    tcase_add_test(tc, jpeg__12_bit_and_lossless_files_fail_with_unsupported);
    tcase_add_test(tc, load__params_with_unset_struct_size_fail_before_reading);
    suite_add_tcase(s, tc);
    return s;
}
