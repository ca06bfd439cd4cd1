/* The one-call pipeline through the public header and the shared library only: rp_train on the
 * committed bottle images (20 normal), scoring the 10 committed test images, the map geometry,
 * thresholds from a held-out share, save and load, argument errors and cancellation.
 * With the cached Keras ResNet-50 (`make weights`) every test runs, including the accuracy ones.
 * Without it the models are built on the committed random-weights ResNet-50 fixture
 * (tests/data/weights/r50_keras_d64.safetensors), so the wiring, geometry, file, error and
 * cancellation tests run everywhere; only the accuracy tests are left out (they say so). */
#include <math.h>
#include <reconpatch/reconpatch.h>
#include <stdint.h>

#include "rp_test.h"

#define N_TRAIN 20
#define N_TEST 10

static char train_paths[N_TRAIN][4096];
static const char *train_list[N_TRAIN];
static rp_image *test_images[N_TEST];
static uint8_t test_labels[N_TEST];
static rp_model *patchcore, *reconpatch;
/* Without the cached weights: the random-weights fixture, and a feature length its 24 channels fill. */
static char fixture_weights[4096];
static rp_extractor_params extractor_params;

static const char *test_files[N_TEST] = {
    "good/000.png", "good/005.png", "good/010.png", "good/015.png", "broken_large/000.png",
    "broken_large/004.png", "broken_small/000.png", "broken_small/004.png", "contamination/000.png",
    "contamination/004.png",
};

static rp_model *train(int32_t method, double calibration_fraction)
{
    rp_trainer_params tp;
    rp_trainer_params_init(&tp, sizeof tp);
    tp.epochs = 2; /* small: the test checks the wiring, docs/reconpatch.md the method */
    tp.steps_per_epoch = 10;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = method;
    p.trainer = &tp;
    p.extractor = &extractor_params;
    p.calibration_fraction = calibration_fraction;
    rp_model *m = NULL;
    if (rp_train(train_list, N_TRAIN, &p, NULL, NULL, &m)) {
        fprintf(stderr, "rp_train: %s\n", rp_last_error_message());
        exit(1);
    }
    return m;
}

static void test_scores(const rp_model *m, float *scores, rp_score_result *results)
{
    for (int i = 0; i < N_TEST; i++) {
        rp_score_result r;
        r.struct_size = sizeof r;
        ck_assert_int_eq(rp_score_image(m, test_images[i], &r, NULL, 0, NULL, 0), RP_OK);
        scores[i] = (float)r.score;
        if (results) results[i] = r;
    }
}

static void assert_separates(const rp_model *m, const char *name)
{
    float scores[N_TEST];
    test_scores(m, scores, NULL);
    double auroc = 0;
    ck_assert_int_eq(rp_metric_auroc(scores, test_labels, N_TEST, &auroc), RP_OK);
    float max_good = -INFINITY, min_defect = INFINITY;
    for (int i = 0; i < N_TEST; i++) {
        if (test_labels[i]) min_defect = fminf(min_defect, scores[i]);
        else max_good = fmaxf(max_good, scores[i]);
    }
    fprintf(stderr, "%s: image AUROC %.4f, highest good %.4f, lowest defect %.4f\n", name, auroc, max_good,
            min_defect);
    ck_assert_double_eq(auroc, 1.0);
    ck_assert_float_gt(min_defect, max_good);
}

START_TEST(train_patchcore__bottle_defects_score_above_every_good_image)
{
    assert_separates(patchcore, "patchcore");
    ck_assert_int_eq(rp_model_method(patchcore), RP_METHOD_PATCHCORE);
    ck_assert_ptr_null(rp_model_embedding(patchcore));
}
END_TEST

START_TEST(train_reconpatch__bottle_defects_score_above_every_good_image)
{
    assert_separates(reconpatch, "reconpatch");
    ck_assert_int_eq(rp_model_method(reconpatch), RP_METHOD_RECONPATCH);
    ck_assert_ptr_nonnull(rp_model_embedding(reconpatch));
}
END_TEST

START_TEST(train__calibration_share_sets_the_threshold_from_held_out_images)
{
    /* 20 images, fraction 0.1: h = 2, images 9 and 19 (train/good/090.png and 190.png). */
    rp_model_thresholds t;
    t.struct_size = sizeof t;
    ck_assert_int_eq(rp_model_get_thresholds(reconpatch, &t, sizeof t), RP_OK);
    ck_assert_int_eq(t.rule, RP_THRESHOLD_RULE_QUANTILE);
    ck_assert_uint_eq(t.calibration_images, 2);
    double held_max = -INFINITY;
    for (int k = 0; k < 2; k++) {
        rp_image *img;
        ck_assert_int_eq(rp_image_load_file(train_list[k == 0 ? 9 : 19], NULL, &img), RP_OK);
        rp_score_result r;
        r.struct_size = sizeof r;
        ck_assert_int_eq(rp_score_image(reconpatch, img, &r, NULL, 0, NULL, 0), RP_OK);
        held_max = fmax(held_max, r.score); /* n = 2, q = 0.99: the maximum */
        rp_image_free(img);
    }
    ck_assert_double_eq(t.image_threshold, held_max);
    float scores[N_TEST];
    rp_score_result results[N_TEST];
    test_scores(reconpatch, scores, results);
    int flagged = 0;
    for (int i = 0; i < N_TEST; i++) {
        ck_assert_double_eq(results[i].threshold, t.image_threshold);
        ck_assert_int_eq(results[i].decision,
                         results[i].score > t.image_threshold ? RP_DECISION_ANOMALOUS : RP_DECISION_NORMAL);
        flagged += test_labels[i] && results[i].decision == RP_DECISION_ANOMALOUS;
    }
    fprintf(stderr, "threshold %.4f flags %d of 6 defect images\n", t.image_threshold, flagged);
    /* The PatchCore model was trained without a share: no decision. */
    test_scores(patchcore, scores, results);
    ck_assert_int_eq(results[0].decision, RP_DECISION_NONE);
}
END_TEST

START_TEST(score_image__map_and_mask_have_the_image_geometry)
{
    /* A non-square image: the map is width x height, row-major. */
    const uint32_t w = 300, h = 200;
    uint8_t *px = malloc((size_t)w * h * 3);
    const uint8_t *src = rp_image_pixels(test_images[4]);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) px[((size_t)y * w + x) * 3 + c] = src[((y * 256 / h) * 256 + x * 256 / w) * 3 + c];
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(px, w, h, 0, RP_PIXEL_RGB8, &img), RP_OK);
    size_t n = (size_t)w * h;
    float *map = malloc(n * sizeof *map);
    uint8_t *mask = malloc(n);
    rp_score_result r;
    r.struct_size = sizeof r;
    ck_assert_int_eq(rp_score_image(patchcore, img, &r, map, n - 1, NULL, 0), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "300 x 200"));
    ck_assert_int_eq(rp_score_image(patchcore, img, &r, map, n, NULL, 0), RP_OK);
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        ck_assert(isfinite(map[i]));
        lo = fminf(lo, map[i]);
        hi = fmaxf(hi, map[i]);
    }
    ck_assert_float_lt(lo, hi);
    ck_assert_float_le(hi, (float)r.score_max); /* smoothing and resampling never exceed the top patch */
    /* A mask needs a pixel threshold; with one, it marks exactly the map pixels above it. */
    ck_assert_int_eq(rp_score_image(patchcore, img, &r, NULL, 0, mask, n), RP_E_STATE);
    /* The shared model's thresholds change here: keep them to restore them after. */
    rp_model_thresholds saved = {.struct_size = sizeof saved};
    ck_assert_int_eq(rp_model_get_thresholds(patchcore, &saved, sizeof saved), RP_OK);
    rp_model_thresholds t = {.struct_size = sizeof t, .image_threshold = NAN, .pixel_threshold = (lo + hi) / 2};
    rp_model *m = patchcore;
    ck_assert_int_eq(rp_model_set_thresholds(m, &t), RP_OK);
    ck_assert_int_eq(rp_score_image(m, img, &r, NULL, 0, mask, n), RP_OK);
    uint64_t on = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(mask[i], map[i] > t.pixel_threshold);
        on += mask[i];
    }
    ck_assert_uint_eq(r.mask_pixels, on);
    ck_assert_int_eq(r.decision, RP_DECISION_NONE);
    ck_assert_int_eq(rp_model_set_thresholds(m, &saved), RP_OK);
    free(px);
    free(map);
    free(mask);
    rp_image_free(img);
}
END_TEST

/* An image stretched (nearest) from a square test image to w x h pixels. */
static rp_image *non_square(const rp_image *square, uint32_t w, uint32_t h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    const uint8_t *src = rp_image_pixels(square);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) px[((size_t)y * w + x) * 3 + c] = src[((y * 256 / h) * 256 + x * 256 / w) * 3 + c];
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(px, w, h, 0, RP_PIXEL_RGB8, &img), RP_OK);
    free(px);
    return img;
}

START_TEST(score_image__keep_aspect_map_is_the_input_map_mapped_back)
{
    rp_extractor_params ep = extractor_params; /* the cached weights, or the fixture */
    ep.keep_aspect = 1;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = RP_METHOD_PATCHCORE;
    p.extractor = &ep;
    rp_model *m = NULL;
    ck_assert_msg(rp_train(train_list, N_TRAIN, &p, NULL, NULL, &m) == RP_OK, "%s", rp_last_error_message());
    const rp_scorer *scorer = rp_model_scorer(m);
    rp_scorer_info info;
    ck_assert_int_eq(rp_scorer_get_info(scorer, &info, sizeof info), RP_OK);
    ck_assert_uint_eq(info.keep_aspect, 1); /* rp_train passed it from the extractor to the scorer */

    /* Square images have the default frame: the same bank, the same scores and maps, bit for bit. */
    for (int i = 0; i < N_TEST; i += 4) {
        size_t n = 256 * 256;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        rp_score_result ra = {.struct_size = sizeof ra}, rb = {.struct_size = sizeof rb};
        ck_assert_int_eq(rp_score_image(m, test_images[i], &ra, a, n, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_score_image(patchcore, test_images[i], &rb, b, n, NULL, 0), RP_OK);
        ck_assert_msg(memcmp(&ra, &rb, sizeof ra) == 0 && memcmp(a, b, n * sizeof *a) == 0,
                      "square image %d scores differently with keep_aspect", i);
        free(a);
        free(b);
    }

    /* Non-square images: rp_score_image's map is exactly rp_scorer_map_to_image of the map in
     * input geometry (each image's own frame), and it differs from the both-axes model's map. */
    const uint32_t sizes[2][2] = {{300, 200}, {180, 290}};
    for (int k = 0; k < 2; k++) {
        const uint32_t w = sizes[k][0], h = sizes[k][1];
        rp_image *img = non_square(test_images[4], w, h);
        size_t n = (size_t)w * h;
        float *map = malloc(n * sizeof *map), *check = malloc(n * sizeof *check), *plain = malloc(n * sizeof *plain);
        static float map_input[224 * 224];
        rp_score_result r = {.struct_size = sizeof r}, r2 = {.struct_size = sizeof r2}, r3 = {.struct_size = sizeof r3};
        ck_assert_int_eq(rp_score_image(m, img, &r, map, n, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_scorer_score(scorer, img, &r2, map_input, 224 * 224, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_scorer_map_to_image(scorer, map_input, 224 * 224, w, h, check, n), RP_OK);
        ck_assert_double_eq(r.score, r2.score);
        ck_assert_msg(memcmp(map, check, n * sizeof *map) == 0, "%u x %u: map differs from the mapped-back map", w, h);
        ck_assert_int_eq(rp_score_image(patchcore, img, &r3, plain, n, NULL, 0), RP_OK);
        ck_assert_msg(memcmp(map, plain, n * sizeof *map) != 0 && r.score != r3.score,
                      "%u x %u: keep_aspect made no difference", w, h);
        fprintf(stderr, "keep_aspect %ux%u: score %.4f (both axes resized: %.4f)\n", w, h, r.score, r3.score);
        free(map);
        free(check);
        free(plain);
        rp_image_free(img);
    }
    rp_model_free(m);
}
END_TEST

START_TEST(save_load__public_round_trip_scores_identically)
{
    char dir[] = "/tmp/rp-train-score-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/reconpatch.rpm", dir);
    ck_assert_int_eq(rp_model_save(reconpatch, path, NULL), RP_OK);
    rp_model *loaded = NULL;
    ck_assert_int_eq(rp_model_load(path, NULL, &loaded), RP_OK);
    float a[N_TEST], b[N_TEST];
    rp_score_result ra[N_TEST], rb[N_TEST];
    test_scores(reconpatch, a, ra);
    test_scores(loaded, b, rb);
    ck_assert(memcmp(ra, rb, sizeof ra) == 0);
    rp_model_free(loaded);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(train__argument_errors_name_the_problem)
{
    rp_model *m = (rp_model *)0x1;
    ck_assert_int_eq(rp_train(NULL, 1, NULL, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(rp_train(train_list, 0, NULL, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "count is 0"));
    ck_assert_int_eq(rp_train(train_list, 1, NULL, NULL, NULL, NULL), RP_E_INVALID_ARG);
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.extractor = &extractor_params;
    p.method = 7;
    ck_assert_int_eq(rp_train(train_list, 1, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "method 7"));
    p.method = RP_METHOD_PATCHCORE;
    p.batch_size = 100000;
    ck_assert_int_eq(rp_train(train_list, 1, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    p.batch_size = 0;
    const char *missing[2] = {train_list[0], "/nonexistent/image.png"};
    ck_assert_int_eq(rp_train(missing, 2, &p, NULL, NULL, &m), RP_E_IO);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "/nonexistent/image.png"));
    rp_score_result r;
    r.struct_size = sizeof r;
    ck_assert_int_eq(rp_score_image(NULL, test_images[0], &r, NULL, 0, NULL, 0), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_score_image(patchcore, NULL, &r, NULL, 0, NULL, 0), RP_E_INVALID_ARG);
    r.struct_size = 0;
    ck_assert_int_eq(rp_score_image(patchcore, test_images[0], &r, NULL, 0, NULL, 0), RP_E_INVALID_ARG);
}
END_TEST

static int cancel_at(const rp_progress *p, void *user_data)
{
    return p->stage == *(const int32_t *)user_data;
}

/* Cancelling at each stage rp_train goes through, scoring included (a calibration share makes it
 * score the held-out images), gives RP_E_CANCELLED and no model; rp_model_calibrate, whose only
 * stage is scoring, leaves the model's thresholds as they were. */
START_TEST(train__progress_cancel_at_every_stage_returns_cancelled_and_no_model)
{
    rp_trainer_params tp;
    rp_trainer_params_init(&tp, sizeof tp);
    tp.epochs = 1;
    tp.steps_per_epoch = 2;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.trainer = &tp;
    p.extractor = &extractor_params;
    p.calibration_fraction = 0.5; /* 2 of the 4 images are scored for the thresholds */
    const int32_t stages[4] = {RP_STAGE_FEATURES, RP_STAGE_TRAIN, RP_STAGE_CORESET, RP_STAGE_SCORE};
    for (int i = 0; i < 4; i++) {
        rp_model *m = (rp_model *)0x1;
        ck_assert_msg(rp_train(train_list, 4, &p, cancel_at, (void *)&stages[i], &m) == RP_E_CANCELLED,
                      "stage %d: %s", stages[i], rp_last_error_message());
        ck_assert_ptr_null(m);
        ck_assert_int_eq(rp_last_error_code(), RP_E_CANCELLED);
    }
    rp_model_thresholds before = {.struct_size = sizeof before}, after = {.struct_size = sizeof after};
    ck_assert_int_eq(rp_model_get_thresholds(patchcore, &before, sizeof before), RP_OK);
    ck_assert_int_eq(rp_model_calibrate(patchcore, (const rp_image *const *)test_images, 4, NULL, cancel_at,
                                        (void *)&stages[3]),
                     RP_E_CANCELLED);
    ck_assert_int_eq(rp_model_get_thresholds(patchcore, &after, sizeof after), RP_OK);
    ck_assert_mem_eq(&before, &after, sizeof before);
}
END_TEST

int main(void)
{
    char weights[4096];
    const int real_weights = rp_test_weights_path(weights, sizeof weights) != NULL;
    const char *root = rp_test_source_dir();
    rp_extractor_params_init(&extractor_params, sizeof extractor_params);
    if (!real_weights) {
        snprintf(fixture_weights, sizeof fixture_weights, "%s/tests/data/weights/r50_keras_d64.safetensors", root);
        extractor_params.weights_path = fixture_weights;
        extractor_params.feature_dim = 16;
        printf("no cached ResNet-50: random-weights fixture; the accuracy tests are left out\n");
    }
    for (int i = 0; i < N_TRAIN; i++) {
        snprintf(train_paths[i], sizeof train_paths[i], "%s/examples/data/bottle/train/good/%03d.png", root, i * 10);
        train_list[i] = train_paths[i];
    }
    for (int i = 0; i < N_TEST; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/examples/data/bottle/test/%s", root, test_files[i]);
        if (rp_image_load_file(path, NULL, &test_images[i])) {
            fprintf(stderr, "%s: %s\n", path, rp_last_error_message());
            return 1;
        }
        test_labels[i] = strncmp(test_files[i], "good/", 5) != 0;
    }
    /* Built once: training is the expensive part, the tests only read the models. */
    patchcore = train(RP_METHOD_PATCHCORE, 0);
    reconpatch = train(RP_METHOD_RECONPATCH, 0.1);

    Suite *s = suite_create("train_score");
    TCase *tc = tcase_create("train_score");
    if (real_weights) { /* accuracy needs the pretrained backbone */
        tcase_add_test(tc, train_patchcore__bottle_defects_score_above_every_good_image);
        tcase_add_test(tc, train_reconpatch__bottle_defects_score_above_every_good_image);
    }
    tcase_add_test(tc, train__calibration_share_sets_the_threshold_from_held_out_images);
    tcase_add_test(tc, score_image__map_and_mask_have_the_image_geometry);
    tcase_add_test(tc, score_image__keep_aspect_map_is_the_input_map_mapped_back);
    tcase_add_test(tc, save_load__public_round_trip_scores_identically);
    tcase_add_test(tc, train__argument_errors_name_the_problem);
    tcase_add_test(tc, train__progress_cancel_at_every_stage_returns_cancelled_and_no_model);
    suite_add_tcase(s, tc);
    /* No fork: the models live in this process, and OpenMP thread pools do not survive fork. */
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    rp_model_free(patchcore);
    rp_model_free(reconpatch);
    for (int i = 0; i < N_TEST; i++) rp_image_free(test_images[i]);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
