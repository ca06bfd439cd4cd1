/* Images too small for the resize: a side magnified more than 8x (below 32 pixels at the default
 * resize 256) is refused with RP_E_SHAPE, at scoring and at training, with a message naming the
 * size and the smallest accepted; 32 pixels is accepted. docs/preprocessing.md. */
#include <math.h>

#include "model_fixture.h"

static char dir[256], weights_path[512];
static rp_model *model;

/* A w x h RGB image of a smooth gradient (some texture for the backbone). */
static rp_image *gradient(uint32_t w, uint32_t h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < 3; c++)
                px[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * 255 / (w > 1 ? w - 1 : 1) + y * 7 + c * 40) & 0xff);
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_from_pixels(px, w, h, 0, RP_PIXEL_RGB8, &img), RP_OK);
    free(px);
    return img;
}

static void expect_refused(const char *got, uint32_t w, uint32_t h, const char *frame, const char *smallest)
{
    char size[64];
    snprintf(size, sizeof size, "%ux%u pixels", w, h);
    ck_assert_msg(strstr(got, size) != NULL, "message does not name the size %s: %s", size, got);
    ck_assert_msg(strstr(got, frame) != NULL, "message does not name the frame %s: %s", frame, got);
    ck_assert_msg(strstr(got, smallest) != NULL, "message does not name the minimum %s: %s", smallest, got);
}

START_TEST(score_image__sides_below_32_at_resize_256_are_refused_and_32_is_accepted)
{
    static const uint32_t sizes[][2] = {{1, 1}, {8, 8}, {31, 31}, {31, 400}, {400, 31}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        rp_image *img = gradient(sizes[i][0], sizes[i][1]);
        size_t n = (size_t)sizes[i][0] * sizes[i][1];
        float *map = malloc(n * sizeof *map);
        for (size_t k = 0; k < n; k++) map[k] = -7.0f;
        rp_score_result r = {.struct_size = sizeof r};
        r.score = -3.0;
        ck_assert_int_eq(rp_score_image(model, img, &r, map, n, NULL, 0), RP_E_SHAPE);
        ck_assert_int_eq(rp_last_error_code(), RP_E_SHAPE);
        expect_refused(rp_last_error_message(), sizes[i][0], sizes[i][1], "to 256x256",
                       "smallest image accepted is 32x32 pixels");
        /* nothing written on failure */
        ck_assert(r.score == -3.0);
        ck_assert(map[0] == -7.0f && map[n - 1] == -7.0f);
        free(map);
        rp_image_free(img);
    }
    /* 32 pixels: magnified exactly 8x, accepted; a real score and a full map. */
    static const uint32_t ok[][2] = {{32, 32}, {32, 400}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        rp_image *img = gradient(ok[i][0], ok[i][1]);
        size_t n = (size_t)ok[i][0] * ok[i][1];
        float *map = malloc(n * sizeof *map);
        rp_score_result r = {.struct_size = sizeof r};
        ck_assert_msg(rp_score_image(model, img, &r, map, n, NULL, 0) == RP_OK, "%ux%u: %s", ok[i][0], ok[i][1],
                      rp_last_error_message());
        ck_assert(isfinite(r.score) && r.score > 0);
        for (size_t k = 0; k < n; k++) ck_assert(isfinite(map[k]) && map[k] >= 0);
        free(map);
        rp_image_free(img);
    }
}
END_TEST

START_TEST(extractor__the_minimum_follows_resize_crop_and_keep_aspect)
{
    /* resize 128: the minimum is 16; no_crop at crop 224: 28; keep_aspect: the shorter side
     * becomes resize, so a 20 x 100 image at resize 256 is magnified 12.8x on both axes. */
    static const struct {
        uint32_t resize, crop, no_crop, keep_aspect, w, h;
        int expect;
        const char *frame, *smallest;
    } cases[] = {
        {128, 112, 0, 0, 15, 15, RP_E_SHAPE, "to 128x128", "16x16"},
        {128, 112, 0, 0, 16, 16, RP_OK, NULL, NULL},
        {0, 224, 1, 0, 27, 27, RP_E_SHAPE, "to 224x224", "28x28"},
        {0, 224, 1, 0, 28, 28, RP_OK, NULL, NULL},
        {256, 224, 0, 1, 20, 100, RP_E_SHAPE, "to 256x1280", "32x160"},
        {256, 224, 0, 1, 32, 100, RP_OK, NULL, NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rp_extractor_params ep;
        rp_extractor_params_init(&ep, sizeof ep);
        ep.weights_path = weights_path;
        ep.resize = cases[c].resize;
        ep.crop = cases[c].crop;
        ep.no_crop = cases[c].no_crop;
        ep.keep_aspect = cases[c].keep_aspect;
        ep.feature_dim = 16;
        rp_extractor *e = NULL;
        ck_assert_msg(rp_extractor_create(&ep, &e) == RP_OK, "%s", rp_last_error_message());
        rp_extractor_info info = {.struct_size = sizeof info};
        ck_assert_int_eq(rp_extractor_get_info(e, &info, sizeof info), RP_OK);
        size_t in = (size_t)3 * info.input_size * info.input_size;
        float *input = malloc(in * sizeof *input);
        rp_image *img = gradient(cases[c].w, cases[c].h);
        int rc = rp_extractor_preprocess(e, img, input, in);
        ck_assert_msg(rc == cases[c].expect, "case %zu (%ux%u): %s, expected %s (%s)", c, cases[c].w, cases[c].h,
                      rp_error_name(rc), rp_error_name(cases[c].expect), rp_last_error_message());
        if (rc) {
            ck_assert(strstr(rp_last_error_message(), "rp_extractor_preprocess") != NULL);
            expect_refused(rp_last_error_message(), cases[c].w, cases[c].h, cases[c].frame, cases[c].smallest);
        }
        rp_image_free(img);
        free(input);
        rp_extractor_free(e);
    }
}
END_TEST

START_TEST(train__a_too_small_training_image_is_refused_and_named)
{
    rp_image *train[4];
    fixture_train_images(train, 3);
    train[3] = gradient(8, 8);
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = weights_path;
    ep.feature_dim = 16;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = RP_METHOD_PATCHCORE;
    p.extractor = &ep;
    rp_model *m = (rp_model *)&p; /* must be set to NULL on failure */
    ck_assert_int_eq(rp_train_images((const rp_image *const *)train, 4, &p, NULL, NULL, &m), RP_E_SHAPE);
    ck_assert_ptr_null(m);
    expect_refused(rp_last_error_message(), 8, 8, "to 256x256", "smallest image accepted is 32x32 pixels");
    /* and with 32 x 32 in its place, training succeeds */
    rp_image_free(train[3]);
    train[3] = gradient(32, 32);
    ck_assert_msg(rp_train_images((const rp_image *const *)train, 4, &p, NULL, NULL, &m) == RP_OK, "%s",
                  rp_last_error_message());
    ck_assert_ptr_nonnull(m);
    rp_model_free(m);
    for (int i = 0; i < 4; i++) rp_image_free(train[i]);
}
END_TEST

int main(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights_path, sizeof weights_path, "%s/weights.safetensors", dir);
    if (fixture_write_weights(weights_path, 5)) return 1;
    rp_image *train[4];
    fixture_train_images(train, 4);
    model = fixture_train(weights_path, RP_METHOD_PATCHCORE, (const rp_image *const *)train, 4, 16, 0.5, 0);

    Suite *s = suite_create("model_small_images");
    TCase *tc = tcase_create("small_images");
    tcase_add_test(tc, score_image__sides_below_32_at_resize_256_are_refused_and_32_is_accepted);
    tcase_add_test(tc, extractor__the_minimum_follows_resize_crop_and_keep_aspect);
    tcase_add_test(tc, train__a_too_small_training_image_is_refused_and_named);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    rp_model_free(model);
    for (int i = 0; i < 4; i++) rp_image_free(train[i]);
    fixture_remove_dir(dir);
    return rc;
}
