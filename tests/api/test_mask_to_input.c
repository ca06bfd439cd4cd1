/* rp_scorer_mask_to_input: ground-truth masks land in the network-input geometry exactly as the
 * image does (resize to resize x resize, then the centre crop), so pixel metrics compare like with
 * like. Checked on masks whose answer is known by hand. */
#include <reconpatch/reconpatch.h>
#include <stdint.h>

#include "rp_test.h"

/* A features-only scorer with the given geometry over a one-vector bank. */
static rp_scorer *make_scorer(uint32_t resize, uint32_t input_size, uint32_t no_crop, rp_bank **bank)
{
    float v[4] = {0, 0, 0, 0};
    ck_assert_int_eq(rp_bank_create_frozen(v, 1, 4, NULL, bank), RP_OK);
    rp_scorer_params p;
    rp_scorer_params_init(&p, sizeof p);
    p.grid_size = 4;
    p.input_size = input_size;
    p.resize = resize;
    p.no_crop = no_crop;
    rp_scorer *s;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, *bank, &p, &s), RP_OK);
    return s;
}

START_TEST(mask_to_input__same_size_mask_is_cropped_at_the_centre)
{
    /* resize 256 == mask size, crop 224 at offset 16: mask pixel (x, y) lands at (x - 16, y - 16) */
    static uint8_t mask[256 * 256];
    memset(mask, 0, sizeof mask);
    for (int y = 100; y < 120; y++)
        for (int x = 30; x < 50; x++) mask[y * 256 + x] = 255;
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(mask, 256, 256, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    rp_bank *bank;
    rp_scorer *s = make_scorer(256, 224, 0, &bank);
    static uint8_t out[224 * 224];
    ck_assert_int_eq(rp_scorer_mask_to_input(s, img, 127, out, sizeof out), RP_OK);
    for (int y = 0; y < 224; y++)
        for (int x = 0; x < 224; x++) {
            int inside = y + 16 >= 100 && y + 16 < 120 && x + 16 >= 30 && x + 16 < 50;
            ck_assert_msg(out[y * 224 + x] == inside, "pixel (%d, %d) is %d", x, y, out[y * 224 + x]);
        }
    /* a buffer too small, a NULL mask and a threshold out of range are refused */
    ck_assert_int_eq(rp_scorer_mask_to_input(s, img, 127, out, 100), RP_E_SHAPE);
    ck_assert_int_eq(rp_scorer_mask_to_input(s, NULL, 127, out, sizeof out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_scorer_mask_to_input(s, img, 255, out, sizeof out), RP_E_INVALID_ARG);
    rp_scorer_free(s);
    rp_bank_free(bank);
    rp_image_free(img);
}
END_TEST

START_TEST(mask_to_input__no_crop_halves_a_double_size_mask)
{
    /* no crop, input 64: a 128 x 128 mask whose right half is defect -> right half of 64 x 64 */
    static uint8_t mask[128 * 128];
    for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++) mask[y * 128 + x] = x >= 64 ? 255 : 0;
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(mask, 128, 128, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    rp_bank *bank;
    rp_scorer *s = make_scorer(0, 64, 1, &bank);
    uint8_t out[64 * 64];
    ck_assert_int_eq(rp_scorer_mask_to_input(s, img, 127, out, sizeof out), RP_OK);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) ck_assert_int_eq(out[y * 64 + x], x >= 32);
    rp_scorer_free(s);
    rp_bank_free(bank);
    rp_image_free(img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mask_to_input");
    TCase *tc = tcase_create("geometry");
    tcase_add_test(tc, mask_to_input__same_size_mask_is_cropped_at_the_centre);
    tcase_add_test(tc, mask_to_input__no_crop_halves_a_double_size_mask);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
