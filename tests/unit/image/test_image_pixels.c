/* rp_image_from_pixels: every caller layout, row strides, and argument checks; accessors and
 * params init. */
#include <reconpatch/reconpatch.h>

#include "image_test_util.h"

enum { W = 5, H = 3 };

/* Reference colour of pixel (x, y), distinct per channel. */
static uint8_t ref(uint32_t x, uint32_t y, int c) { return (uint8_t)(x * 40 + y * 7 + c * 90 + 1); }

/* Build a caller buffer in `format` with `stride` bytes per row; padding bytes are 0xEE. */
static uint8_t *make_buffer(int32_t format, size_t stride)
{
    uint8_t *buf = malloc(stride * H);
    memset(buf, 0xee, stride * H);
    for (uint32_t y = 0; y < H; y++) {
        uint8_t *row = buf + y * stride;
        for (uint32_t x = 0; x < W; x++) {
            uint8_t r = ref(x, y, 0), g = ref(x, y, 1), b = ref(x, y, 2), a = (uint8_t)(x * 50);
            switch (format) {
            case RP_PIXEL_GRAY8: row[x] = r; break;
            case RP_PIXEL_RGB8: memcpy(row + 3 * x, (uint8_t[]){r, g, b}, 3); break;
            case RP_PIXEL_BGR8: memcpy(row + 3 * x, (uint8_t[]){b, g, r}, 3); break;
            case RP_PIXEL_RGBA8: memcpy(row + 4 * x, (uint8_t[]){r, g, b, a}, 4); break;
            case RP_PIXEL_BGRA8: memcpy(row + 4 * x, (uint8_t[]){b, g, r, a}, 4); break;
            }
        }
    }
    return buf;
}

static void check_layout(int32_t format, uint32_t bpp)
{
    size_t strides[] = {0, (size_t)W * bpp, (size_t)W * bpp + 7, (size_t)W * bpp * 3};
    for (size_t s = 0; s < sizeof strides / sizeof *strides; s++) {
        size_t stride = strides[s] ? strides[s] : (size_t)W * bpp;
        uint8_t *buf = make_buffer(format, stride);
        rp_image *img = NULL;
        ck_assert_int_eq(rp_image_from_pixels(buf, W, H, strides[s], format, &img), RP_OK);
        uint32_t c = format == RP_PIXEL_GRAY8 ? 1 : 3;
        ck_assert_uint_eq(rp_image_width(img), W);
        ck_assert_uint_eq(rp_image_height(img), H);
        ck_assert_uint_eq(rp_image_channels(img), c);
        const uint8_t *px = rp_image_pixels(img);
        for (uint32_t y = 0; y < H; y++)
            for (uint32_t x = 0; x < W; x++)
                for (uint32_t k = 0; k < c; k++)
                    ck_assert_msg(px[(y * W + x) * c + k] == ref(x, y, (int)k),
                                  "format %d stride %zu: pixel (%u,%u) channel %u is %u, expected %u", format,
                                  strides[s], x, y, k, px[(y * W + x) * c + k], ref(x, y, (int)k));
        rp_image_free(img);
        free(buf);
    }
}

START_TEST(from_pixels__gray8_stays_one_channel_for_every_stride) { check_layout(RP_PIXEL_GRAY8, 1); }
END_TEST
START_TEST(from_pixels__rgb8_is_copied_for_every_stride) { check_layout(RP_PIXEL_RGB8, 3); }
END_TEST
START_TEST(from_pixels__bgr8_is_swapped_to_rgb_for_every_stride) { check_layout(RP_PIXEL_BGR8, 3); }
END_TEST
START_TEST(from_pixels__rgba8_drops_alpha_for_every_stride) { check_layout(RP_PIXEL_RGBA8, 4); }
END_TEST
START_TEST(from_pixels__bgra8_drops_alpha_and_swaps_for_every_stride) { check_layout(RP_PIXEL_BGRA8, 4); }
END_TEST

START_TEST(from_pixels__copies_so_the_caller_buffer_may_change)
{
    uint8_t px[4] = {10, 20, 30, 40};
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_from_pixels(px, 2, 2, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    memset(px, 0, sizeof px);
    ck_assert_uint_eq(rp_image_pixels(img)[3], 40);
    rp_image_free(img);
}
END_TEST

static void expect_invalid(const void *px, uint32_t w, uint32_t h, size_t stride, int32_t format, const char *needle)
{
    rp_image *img = (rp_image *)0x1;
    ck_assert_int_eq(rp_image_from_pixels(px, w, h, stride, format, &img), RP_E_INVALID_ARG);
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(rp_last_error_message(), "rp_image_from_pixels") && strstr(rp_last_error_message(), needle),
                  "message '%s' lacks '%s'", rp_last_error_message(), needle);
}

START_TEST(from_pixels__rejects_bad_arguments_with_a_message)
{
    uint8_t px[64] = {0};
    expect_invalid(NULL, 2, 2, 0, RP_PIXEL_GRAY8, "pixels is NULL");
    expect_invalid(px, 0, 2, 0, RP_PIXEL_GRAY8, "0x2");
    expect_invalid(px, 2, 0, 0, RP_PIXEL_GRAY8, "2x0");
    expect_invalid(px, 2, 2, 0, 0, "pixel_format 0");
    expect_invalid(px, 2, 2, 0, 6, "pixel_format 6");
    expect_invalid(px, 4, 2, 11, RP_PIXEL_RGB8, "stride_bytes 11");
    expect_invalid(px, 1, 0xffffffffu, SIZE_MAX / 2, RP_PIXEL_GRAY8, "overflows");
    ck_assert_int_eq(rp_image_from_pixels(px, 2, 2, 0, RP_PIXEL_GRAY8, NULL), RP_E_INVALID_ARG);
}
END_TEST

START_TEST(accessors__return_zero_for_null_and_free_accepts_null)
{
    ck_assert_uint_eq(rp_image_width(NULL), 0);
    ck_assert_uint_eq(rp_image_height(NULL), 0);
    ck_assert_uint_eq(rp_image_channels(NULL), 0);
    ck_assert_ptr_null(rp_image_pixels(NULL));
    rp_image_free(NULL);
}
END_TEST

START_TEST(load_params_init__sets_size_and_zero_defaults)
{
    rp_image_load_params p;
    memset(&p, 0xab, sizeof p);
    ck_assert_int_eq(rp_image_load_params_init(&p, sizeof p), RP_OK);
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert_uint_eq(p.max_pixels, 0);
    ck_assert_int_eq(rp_image_load_params_init(NULL, sizeof p), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_image_load_params_init(&p, 2), RP_E_INVALID_ARG);
    /* an older, shorter caller struct: only struct_size is known */
    uint32_t old_struct = 0;
    ck_assert_int_eq(rp_image_load_params_init((rp_image_load_params *)&old_struct, sizeof old_struct), RP_OK);
    ck_assert_uint_eq(old_struct, sizeof old_struct);
}
END_TEST

Suite *image_pixels_suite(void)
{
    Suite *s = suite_create("pixels");
    TCase *tc = tcase_create("pixels");
    tcase_add_test(tc, from_pixels__gray8_stays_one_channel_for_every_stride);
    tcase_add_test(tc, from_pixels__rgb8_is_copied_for_every_stride);
    tcase_add_test(tc, from_pixels__bgr8_is_swapped_to_rgb_for_every_stride);
    tcase_add_test(tc, from_pixels__rgba8_drops_alpha_for_every_stride);
    tcase_add_test(tc, from_pixels__bgra8_drops_alpha_and_swaps_for_every_stride);
    tcase_add_test(tc, from_pixels__copies_so_the_caller_buffer_may_change);
    tcase_add_test(tc, from_pixels__rejects_bad_arguments_with_a_message);
    tcase_add_test(tc, accessors__return_zero_for_null_and_free_accepts_null);
    tcase_add_test(tc, load_params_init__sets_size_and_zero_defaults);
    suite_add_tcase(s, tc);
    return s;
}
