/* Models of several categories (docs/unified.md): routing, equality with separate models,
 * per-category thresholds, the model file (format 4) and bad parameters. The second "product" is
 * the committed bottle images with their colours inverted: a different appearance, same sizes. */
#include <math.h>

#include "model/le_bytes.h"
#include "model/model_format.h"
#include "model/model_internal.h"
#include "model_fixture.h"

#define N_TRAIN 6u
#define N_TEST 4u

static char dir[256], weights[512];
static rp_image *train[2][N_TRAIN], *test_img[2][N_TEST];

static void setup_images(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights, sizeof weights, "%s/w.safetensors", dir);
    if (fixture_write_weights(weights, 7)) {
        fprintf(stderr, "cannot write %s\n", weights);
        exit(1);
    }
    fixture_train_images(train[0], N_TRAIN);
    for (uint32_t i = 0; i < N_TRAIN; i++) train[1][i] = fixture_inverted(train[0][i]);
    static const char *const tests[N_TEST] = {"test/good/000.png", "test/good/005.png", "test/broken_large/000.png",
                                              "test/contamination/000.png"};
    for (uint32_t i = 0; i < N_TEST; i++) {
        test_img[0][i] = fixture_image(tests[i]);
        test_img[1][i] = fixture_inverted(test_img[0][i]);
    }
}

/* The small settings every model here is trained with: the fixture's (model_fixture.h) with a
 * longer feature, a smaller head and backbone batch 1 (oneDNN may round differently at another
 * batch size, and some tests compare models bit for bit). */
typedef fixture_params small_params;

static void small_params_init(small_params *s, int32_t method, double calibration_fraction)
{
    fixture_params_init(s, weights, method, 32, 0);
    s->tp.repr_dim = 16;
    s->tp.proj_dim = 8;
    s->tp.epochs = 1;
    s->tp.steps_per_epoch = 2;
    s->p.calibration_fraction = calibration_fraction;
    s->p.batch_size = 1;
}

/* Both categories' images interleaved (the order must not matter), with their categories. */
static rp_model *train_unified(int32_t method, double calibration_fraction, int32_t *rc_out)
{
    const rp_image *images[2 * N_TRAIN];
    uint32_t cats[2 * N_TRAIN];
    for (uint32_t i = 0; i < 2 * N_TRAIN; i++) {
        images[i] = train[i % 2][i / 2];
        cats[i] = i % 2;
    }
    static const char *const names[2] = {"bottle", "bottle-inverted"};
    small_params P;
    small_params_init(&P, method, calibration_fraction);
    P.p.category_count = 2;
    P.p.image_categories = cats;
    P.p.category_names = names;
    rp_model *m = NULL;
    *rc_out = rp_train_images(images, 2 * N_TRAIN, &P.p, NULL, NULL, &m);
    return m;
}

/* One category alone, with the same settings. */
static rp_model *train_single(uint32_t category, double calibration_fraction)
{
    small_params P;
    small_params_init(&P, RP_METHOD_PATCHCORE, calibration_fraction);
    rp_model *m = NULL;
    ck_assert_int_eq(rp_train_images((const rp_image *const *)train[category], N_TRAIN, &P.p, NULL, NULL, &m), RP_OK);
    return m;
}

static rp_score_result score(const rp_model *m, const rp_image *img, float *map)
{
    rp_score_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    const size_t pixels = (size_t)rp_image_width(img) * rp_image_height(img);
    ck_assert_int_eq(rp_score_image(m, img, &r, map, map ? pixels : 0, NULL, 0), RP_OK);
    return r;
}

/* Two models agree on every category: same thresholds, every test image routed to its own
 * category in b with the same score as in a. */
static void expect_same_categories(const rp_model *a, const rp_model *b)
{
    for (uint32_t c = 0; c < 2; c++) {
        rp_model_thresholds ta, tb;
        ta.struct_size = tb.struct_size = sizeof ta;
        ck_assert_int_eq(rp_model_get_category_thresholds(a, c, &ta, sizeof ta), RP_OK);
        ck_assert_int_eq(rp_model_get_category_thresholds(b, c, &tb, sizeof tb), RP_OK);
        ck_assert_double_eq(ta.image_threshold, tb.image_threshold);
        ck_assert_double_eq(ta.pixel_threshold, tb.pixel_threshold);
        for (uint32_t i = 0; i < N_TEST; i++) {
            rp_score_result ra = score(a, test_img[c][i], NULL), rb = score(b, test_img[c][i], NULL);
            ck_assert_uint_eq(rb.category, c);
            ck_assert_double_eq(ra.score, rb.score);
        }
    }
}

START_TEST(routes_every_image_to_its_category)
{
    for (int method = 0; method < 2; method++) {
        int32_t rc;
        rp_model *m = train_unified(method ? RP_METHOD_RECONPATCH : RP_METHOD_PATCHCORE, 0, &rc);
        ck_assert_int_eq(rc, RP_OK);
        ck_assert_uint_eq(rp_model_category_count(m), 2);
        ck_assert_str_eq(rp_model_category_name(m, 0), "bottle");
        ck_assert_str_eq(rp_model_category_name(m, 1), "bottle-inverted");
        ck_assert_ptr_null(rp_model_category_name(m, 2));
        for (uint32_t c = 0; c < 2; c++)
            for (uint32_t i = 0; i < N_TEST; i++) ck_assert_uint_eq(score(m, test_img[c][i], NULL).category, c);
        rp_model_free(m);
    }
}
END_TEST

/* PatchCore has no head: with the right route, each category's scores and maps are those of a
 * model trained on that category alone (same patches, same order, same coreset). */
START_TEST(patchcore_unified_equals_separate_models)
{
    int32_t rc;
    rp_model *u = train_unified(RP_METHOD_PATCHCORE, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    for (uint32_t c = 0; c < 2; c++) {
        rp_model *single = train_single(c, 0);
        ck_assert_uint_eq(rp_bank_size(rp_model_bank(single)), rp_bank_size(u->categories[c].bank));
        const size_t nf = rp_bank_size(rp_model_bank(single)) * rp_bank_dim(rp_model_bank(single));
        float *a = malloc(nf * sizeof *a), *b = malloc(nf * sizeof *b);
        ck_assert_int_eq(rp_bank_get_vectors(rp_model_bank(single), a, nf), RP_OK);
        ck_assert_int_eq(rp_bank_get_vectors(u->categories[c].bank, b, nf), RP_OK);
        ck_assert_int_eq(memcmp(a, b, nf * sizeof *a), 0);
        free(a);
        free(b);
        for (uint32_t i = 0; i < N_TEST; i++) {
            const size_t pixels = (size_t)rp_image_width(test_img[c][i]) * rp_image_height(test_img[c][i]);
            float *map_u = malloc(pixels * sizeof *map_u), *map_s = malloc(pixels * sizeof *map_s);
            rp_score_result ru = score(u, test_img[c][i], map_u), rs = score(single, test_img[c][i], map_s);
            ck_assert_double_eq(ru.score, rs.score);
            ck_assert_double_eq(ru.score_max, rs.score_max);
            double worst = 0;
            for (size_t k = 0; k < pixels; k++) worst = fmax(worst, fabs((double)map_u[k] - map_s[k]));
            ck_assert_double_eq(worst, 0.0);
            free(map_u);
            free(map_s);
        }
        rp_model_free(single);
    }
    rp_model_free(u);
}
END_TEST

START_TEST(forced_category_skips_the_router)
{
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_PATCHCORE, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    rp_score_result routed = score(m, test_img[0][0], NULL), forced;
    memset(&forced, 0, sizeof forced);
    forced.struct_size = sizeof forced;
    ck_assert_int_eq(rp_score_image_in_category(m, 1, test_img[0][0], &forced, NULL, 0, NULL, 0), RP_OK);
    ck_assert_uint_eq(forced.category, 1);
    /* the inverted product's bank explains a plain bottle badly */
    ck_assert_double_gt(forced.score, routed.score);
    ck_assert_int_eq(rp_score_image_in_category(m, 0, test_img[0][0], &forced, NULL, 0, NULL, 0), RP_OK);
    ck_assert_double_eq(forced.score, routed.score);
    ck_assert_int_eq(rp_score_image_in_category(m, 2, test_img[0][0], &forced, NULL, 0, NULL, 0), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "category 2"));
    rp_model_free(m);
}
END_TEST

/* Each category is calibrated on its own held-out images, as a model of that category alone is. */
START_TEST(thresholds_per_category)
{
    int32_t rc;
    rp_model *u = train_unified(RP_METHOD_PATCHCORE, 0.34, &rc);
    ck_assert_int_eq(rc, RP_OK);
    for (uint32_t c = 0; c < 2; c++) {
        rp_model *single = train_single(c, 0.34);
        rp_model_thresholds tu, ts;
        tu.struct_size = ts.struct_size = sizeof tu;
        ck_assert_int_eq(rp_model_get_category_thresholds(u, c, &tu, sizeof tu), RP_OK);
        ck_assert_int_eq(rp_model_get_thresholds(single, &ts, sizeof ts), RP_OK);
        ck_assert_int_eq(tu.rule, RP_THRESHOLD_RULE_QUANTILE);
        ck_assert_uint_eq(tu.calibration_images, ts.calibration_images);
        ck_assert_double_eq(tu.image_threshold, ts.image_threshold);
        ck_assert_double_eq(tu.pixel_threshold, ts.pixel_threshold);
        rp_model_free(single);
    }
    rp_model_thresholds t;
    t.struct_size = sizeof t;
    ck_assert_int_eq(rp_model_get_category_thresholds(u, 2, &t, sizeof t), RP_E_INVALID_ARG);
    /* the decision uses the routed category's threshold */
    rp_score_result r = score(u, test_img[1][0], NULL);
    ck_assert_int_eq(rp_model_get_category_thresholds(u, 1, &t, sizeof t), RP_OK);
    ck_assert_double_eq(r.threshold, t.image_threshold);
    rp_model_free(u);
}
END_TEST

START_TEST(file_round_trip_keeps_categories)
{
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_RECONPATCH, 0.34, &rc);
    ck_assert_int_eq(rc, RP_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/unified.rpm", dir);
    ck_assert_int_eq(rp_model_save(m, path, NULL), RP_OK);
    uint8_t *bytes;
    size_t size;
    ck_assert_int_eq(fixture_read_file(path, &bytes, &size), 0);
    ck_assert_uint_eq(rp__le_get_u32(bytes + 8), 4); /* format version */
    free(bytes);
    rp_model *back = NULL;
    ck_assert_int_eq(rp_model_load(path, NULL, &back), RP_OK);
    ck_assert_uint_eq(rp_model_category_count(back), 2);
    ck_assert_str_eq(rp_model_category_name(back, 1), "bottle-inverted");
    expect_same_categories(m, back);
    rp_model_free(back);
    rp_model_free(m);
}
END_TEST

START_TEST(bad_category_params_are_named)
{
    const rp_image *images[2] = {train[0][0], train[1][0]};
    uint32_t cats[2] = {0, 1};
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = weights;
    ep.feature_dim = 32;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = RP_METHOD_PATCHCORE;
    p.extractor = &ep;
    p.category_count = 2;
    rp_model *m = (rp_model *)1;
    ck_assert_int_eq(rp_train_images(images, 2, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "image_categories is NULL"));
    p.image_categories = cats;
    cats[1] = 2;
    ck_assert_int_eq(rp_train_images(images, 2, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "image_categories[1] is 2"));
    cats[1] = 0;
    ck_assert_int_eq(rp_train_images(images, 2, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "category 1 has no images"));
    cats[1] = 1;
    const char *names[2] = {"a", NULL};
    p.category_names = names;
    ck_assert_int_eq(rp_train_images(images, 2, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "category_names[1] is NULL"));
    /* one image per category cannot spare one for calibration */
    p.category_names = NULL;
    p.calibration_fraction = 0.5;
    ck_assert_int_eq(rp_train_images(images, 2, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "of a category"));
}
END_TEST

/* A file that claims categories its sections do not hold is refused as damaged. */
START_TEST(inconsistent_category_sections_fail_as_format)
{
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_PATCHCORE, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/unified-pc.rpm", dir);
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    sp.embed_weights = 1;
    ck_assert_int_eq(rp_model_save(m, path, &sp), RP_OK);
    rp_model_free(m);
    uint8_t *d;
    size_t size;
    ck_assert_int_eq(fixture_read_file(path, &d, &size), 0);
    /* find CATS and claim three categories (its CRC recomputed: the content, not the framing, is wrong) */
    size_t pos = RP__MODEL_HEADER_SIZE;
    while (memcmp(d + pos, RP__SEC_CATEGORIES, 4) != 0) pos += RP__MODEL_SECTION_HEAD + rp__le_get_u64(d + pos + 8) + 4;
    const size_t body = RP__MODEL_SECTION_HEAD + rp__le_get_u64(d + pos + 8);
    rp__le_put_u32(d + pos + RP__MODEL_SECTION_HEAD, 3);
    rp__le_put_u32(d + pos + body, rp__crc32(0, d + pos, body));
    rp_model *back = (rp_model *)1;
    ck_assert_int_eq(rp_model_load_memory(d, size, NULL, &back), RP_E_FORMAT);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "CBNK"));
    free(d);
}
END_TEST

/* A model trained on category 0 alone (but recording categories), then given category 1 with
 * rp_model_add_normal_images: for PatchCore exactly the model trained on both. */
static rp_model *train_first_then_add(int32_t method, double calibration_fraction)
{
    static const char *const first[1] = {"bottle"};
    small_params P;
    small_params_init(&P, method, calibration_fraction);
    P.p.category_count = 1;
    P.p.category_names = first;
    rp_model *m = NULL;
    ck_assert_int_eq(rp_train_images((const rp_image *const *)train[0], N_TRAIN, &P.p, NULL, NULL, &m), RP_OK);
    ck_assert_uint_eq(rp_model_category_count(m), 1);
    ck_assert_int_eq(rp_model_add_normal_images(m, "bottle-inverted", (const rp_image *const *)train[1], N_TRAIN, &P.p,
                                                NULL, NULL),
                     RP_OK);
    return m;
}

START_TEST(added_category_equals_training_with_it)
{
    int32_t rc;
    rp_model *both = train_unified(RP_METHOD_PATCHCORE, 0.34, &rc);
    ck_assert_int_eq(rc, RP_OK);
    rp_model *added = train_first_then_add(RP_METHOD_PATCHCORE, 0.34);
    ck_assert_uint_eq(rp_model_category_count(added), 2);
    ck_assert_str_eq(rp_model_category_name(added, 1), "bottle-inverted");
    expect_same_categories(both, added);
    rp_model_free(both);
    rp_model_free(added);
}
END_TEST

/* The head stays as trained; the new category is routed and saved like the others. */
START_TEST(added_category_keeps_the_head_and_saves)
{
    rp_model *m = train_first_then_add(RP_METHOD_RECONPATCH, 0);
    const rp_embedding *f = rp_model_embedding(m);
    ck_assert_ptr_nonnull(f);
    for (uint32_t i = 0; i < N_TEST; i++) {
        ck_assert_uint_eq(score(m, test_img[0][i], NULL).category, 0);
        ck_assert_uint_eq(score(m, test_img[1][i], NULL).category, 1);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/added.rpm", dir);
    ck_assert_int_eq(rp_model_save(m, path, NULL), RP_OK);
    rp_model *back = NULL;
    ck_assert_int_eq(rp_model_load(path, NULL, &back), RP_OK);
    ck_assert_uint_eq(rp_model_category_count(back), 2);
    for (uint32_t i = 0; i < N_TEST; i++)
        ck_assert_double_eq(score(m, test_img[1][i], NULL).score, score(back, test_img[1][i], NULL).score);
    rp_model_free(back);
    rp_model_free(m);
}
END_TEST

START_TEST(adding_is_refused_without_change)
{
    rp_model *plain = train_single(0, 0);
    const rp_image *const *imgs = (const rp_image *const *)train[1];
    ck_assert_int_eq(rp_model_add_normal_images(plain, "x", imgs, N_TRAIN, NULL, NULL, NULL), RP_E_STATE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "records no categories"));
    ck_assert_uint_eq(rp_model_category_count(plain), 1);
    rp_model_free(plain);
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_PATCHCORE, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    ck_assert_int_eq(rp_model_add_normal_images(m, "bottle", imgs, N_TRAIN, NULL, NULL, NULL), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "already has a category 'bottle'"));
    ck_assert_int_eq(rp_model_add_normal_images(m, NULL, imgs, N_TRAIN, NULL, NULL, NULL), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_model_add_normal_images(m, "new", imgs, 0, NULL, NULL, NULL), RP_E_INVALID_ARG);
    /* one image cannot spare one for calibration: refused before the model changes */
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.calibration_fraction = 0.5;
    ck_assert_int_eq(rp_model_add_normal_images(m, "new", imgs, 1, &p, NULL, NULL), RP_E_INVALID_ARG);
    ck_assert_uint_eq(rp_model_category_count(m), 2);
    const char *missing[1] = {"/nonexistent/x.png"};
    ck_assert_int_eq(rp_model_add_normals(m, "new", missing, 1, NULL, NULL, NULL), RP_E_IO);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_model_add_normals: image 0 (/nonexistent/x.png)"));
    ck_assert_uint_eq(rp_model_category_count(m), 2);
    for (uint32_t i = 0; i < N_TEST; i++) ck_assert_uint_eq(score(m, test_img[1][i], NULL).category, 1);
    rp_model_free(m);
}
END_TEST

static void expect_same_thresholds(const rp_model *a, uint32_t category, const rp_model *single)
{
    rp_model_thresholds ta = {.struct_size = sizeof ta}, ts = {.struct_size = sizeof ts};
    ck_assert_int_eq(rp_model_get_category_thresholds(a, category, &ta, sizeof ta), RP_OK);
    ck_assert_int_eq(rp_model_get_thresholds(single, &ts, sizeof ts), RP_OK);
    ck_assert_int_eq(ta.rule, ts.rule);
    ck_assert_uint_eq(ta.calibration_images, ts.calibration_images);
    ck_assert_double_eq(ta.image_threshold, ts.image_threshold);
    ck_assert_double_eq(ta.pixel_threshold, ts.pixel_threshold);
}

/* rp_model_calibrate(_labelled) on a model of two categories routes each image and calibrates each
 * category from the images routed to it: what a model of that category alone gets from them. */
START_TEST(calibration_routes_and_sets_each_category)
{
    int32_t rc;
    rp_model *u = train_unified(RP_METHOD_PATCHCORE, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    static const uint8_t labels[N_TEST] = {0, 0, 1, 1}; /* good, good, broken, contamination */
    const rp_image *mixed[2 * N_TEST];
    uint8_t mixed_labels[2 * N_TEST];
    for (uint32_t i = 0; i < 2 * N_TEST; i++) {
        mixed[i] = test_img[i % 2][i / 2];
        mixed_labels[i] = labels[i / 2];
    }
    rp_model *single[2] = {train_single(0, 0), train_single(1, 0)};

    ck_assert_int_eq(rp_model_calibrate(u, mixed, 2 * N_TEST, NULL, NULL, NULL), RP_OK);
    for (uint32_t c = 0; c < 2; c++) {
        ck_assert_int_eq(rp_model_calibrate(single[c], (const rp_image *const *)test_img[c], N_TEST, NULL, NULL, NULL),
                         RP_OK);
        expect_same_thresholds(u, c, single[c]);
    }
    ck_assert_int_eq(rp_model_calibrate_labelled(u, mixed, mixed_labels, 2 * N_TEST, NULL, NULL, NULL), RP_OK);
    for (uint32_t c = 0; c < 2; c++) {
        ck_assert_int_eq(rp_model_calibrate_labelled(single[c], (const rp_image *const *)test_img[c], labels, N_TEST,
                                                     NULL, NULL, NULL),
                         RP_OK);
        expect_same_thresholds(u, c, single[c]);
    }
    /* images of category 0 only: category 1 keeps the thresholds it had */
    ck_assert_int_eq(rp_model_calibrate(u, (const rp_image *const *)test_img[0], N_TEST, NULL, NULL, NULL), RP_OK);
    ck_assert_int_eq(rp_model_calibrate(single[0], (const rp_image *const *)test_img[0], N_TEST, NULL, NULL, NULL),
                     RP_OK);
    expect_same_thresholds(u, 0, single[0]);
    expect_same_thresholds(u, 1, single[1]);
    /* a category whose routed images are all labelled normal cannot take the F1 rule; nothing changes */
    for (uint32_t i = 1; i < 2 * N_TEST; i += 2) mixed_labels[i] = 0;
    ck_assert_int_eq(rp_model_calibrate_labelled(u, mixed, mixed_labels, 2 * N_TEST, NULL, NULL, NULL),
                     RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "routed to category 'bottle-inverted'"));
    expect_same_thresholds(u, 0, single[0]);
    expect_same_thresholds(u, 1, single[1]);
    rp_model_free(single[0]);
    rp_model_free(single[1]);
    rp_model_free(u);
}
END_TEST

/* Routing by hand, as a host that runs the extractor itself does it, gives rp_score_image's
 * category and score. */
START_TEST(route_features_and_category_scorer_match_rp_score_image)
{
    int32_t rc;
    rp_model *u = train_unified(RP_METHOD_RECONPATCH, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    rp_extractor_info info = {.struct_size = sizeof info};
    ck_assert_int_eq(rp_extractor_get_info(rp_model_extractor(u), &info, sizeof info), RP_OK);
    const size_t floats = (size_t)info.grid_size * info.grid_size * info.feature_dim;
    float *f = malloc(floats * sizeof *f);
    for (uint32_t c = 0; c < 2; c++)
        for (uint32_t i = 0; i < N_TEST; i++) {
            const rp_image *img = test_img[c][i];
            ck_assert_int_eq(rp_extractor_patch_features(rp_model_extractor(u), &img, 1, f, floats), RP_OK);
            uint32_t routed = 9;
            ck_assert_int_eq(rp_model_route_features(u, f, floats, &routed), RP_OK);
            ck_assert_uint_eq(routed, c);
            rp_score_result r = {.struct_size = sizeof r};
            ck_assert_int_eq(rp_scorer_score_features(rp_model_category_scorer(u, routed), f, floats, &r, NULL, 0,
                                                      NULL, 0),
                             RP_OK);
            ck_assert_double_eq(r.score, score(u, img, NULL).score);
        }
    uint32_t routed;
    ck_assert_int_eq(rp_model_route_features(u, f, floats - 1, &routed), RP_E_SHAPE);
    ck_assert_int_eq(rp_model_route_features(u, NULL, floats, &routed), RP_E_INVALID_ARG);
    ck_assert_ptr_null(rp_model_category_scorer(u, 2));
    free(f);
    rp_model_free(u);
}
END_TEST

int main(void)
{
    setup_images();
    Suite *s = suite_create("model_categories");
    TCase *tc = tcase_create("categories");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, routes_every_image_to_its_category);
    tcase_add_test(tc, patchcore_unified_equals_separate_models);
    tcase_add_test(tc, forced_category_skips_the_router);
    tcase_add_test(tc, thresholds_per_category);
    tcase_add_test(tc, file_round_trip_keeps_categories);
    tcase_add_test(tc, bad_category_params_are_named);
    tcase_add_test(tc, inconsistent_category_sections_fail_as_format);
    tcase_add_test(tc, added_category_equals_training_with_it);
    tcase_add_test(tc, added_category_keeps_the_head_and_saves);
    tcase_add_test(tc, adding_is_refused_without_change);
    tcase_add_test(tc, calibration_routes_and_sets_each_category);
    tcase_add_test(tc, route_features_and_category_scorer_match_rp_score_image);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    for (uint32_t c = 0; c < 2; c++) {
        for (uint32_t i = 0; i < N_TRAIN; i++) rp_image_free(train[c][i]);
        for (uint32_t i = 0; i < N_TEST; i++) rp_image_free(test_img[c][i]);
    }
    fixture_remove_dir(dir);
    return rc;
}
