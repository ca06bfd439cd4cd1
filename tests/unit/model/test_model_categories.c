/* Models of several categories (docs/unified.md): routing, equality with separate models (one
 * head per category, or none), per-category thresholds, the model file (formats 4 and 5) and bad
 * parameters. The second "product" is
 * the committed bottle images with their colours inverted: a different appearance, same sizes. */
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "backbone/resnet.h"
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

/* Both categories' images interleaved (the order must not matter), with their categories and
 * rp_train_params.heads. */
static rp_model *train_unified_heads(int32_t method, double calibration_fraction, int32_t heads, int32_t *rc_out)
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
    P.p.heads = heads;
    rp_model *m = NULL;
    *rc_out = rp_train_images(images, 2 * N_TRAIN, &P.p, NULL, NULL, &m);
    return m;
}

static rp_model *train_unified(int32_t method, double calibration_fraction, int32_t *rc_out)
{
    return train_unified_heads(method, calibration_fraction, RP_HEADS_AUTO, rc_out);
}

/* The format version rp_model_save writes for m (saved as name in the test folder). */
static uint32_t saved_format_version(const rp_model *m, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(rp_model_save(m, path, NULL), RP_OK);
    uint8_t *bytes;
    size_t size;
    ck_assert_int_eq(fixture_read_file(path, &bytes, &size), 0);
    const uint32_t version = rp__le_get_u32(bytes + 8);
    free(bytes);
    return version;
}

/* One category alone, with the same settings. */
static rp_model *train_single_with(int32_t method, uint32_t category, double calibration_fraction)
{
    small_params P;
    small_params_init(&P, method, calibration_fraction);
    rp_model *m = NULL;
    ck_assert_int_eq(rp_train_images((const rp_image *const *)train[category], N_TRAIN, &P.p, NULL, NULL, &m), RP_OK);
    return m;
}

static rp_model *train_single(uint32_t category, double calibration_fraction)
{
    return train_single_with(RP_METHOD_PATCHCORE, category, calibration_fraction);
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

/* Category c of model u is exactly single, a model of one category: same bank vectors, and the
 * same scores and maps for c's test images scored in c. */
static void expect_category_is_model(const rp_model *u, uint32_t c, const rp_model *single, uint32_t images_of)
{
    const rp_bank *bu = u->categories[c].bank, *bs = rp_model_bank(single);
    ck_assert_uint_eq(rp_bank_size(bs), rp_bank_size(bu));
    ck_assert_uint_eq(rp_bank_dim(bs), rp_bank_dim(bu));
    const size_t nf = rp_bank_size(bs) * rp_bank_dim(bs);
    float *a = malloc(nf * sizeof *a), *b = malloc(nf * sizeof *b);
    ck_assert_int_eq(rp_bank_get_vectors(bs, a, nf), RP_OK);
    ck_assert_int_eq(rp_bank_get_vectors(bu, b, nf), RP_OK);
    ck_assert_int_eq(memcmp(a, b, nf * sizeof *a), 0);
    free(a);
    free(b);
    for (uint32_t i = 0; i < N_TEST; i++) {
        const rp_image *img = test_img[images_of][i];
        const size_t pixels = (size_t)rp_image_width(img) * rp_image_height(img);
        float *map_u = malloc(pixels * sizeof *map_u), *map_s = malloc(pixels * sizeof *map_s);
        rp_score_result ru = {.struct_size = sizeof ru}, rs = score(single, img, map_s);
        ck_assert_int_eq(rp_score_image_in_category(u, c, img, &ru, map_u, pixels, NULL, 0), RP_OK);
        ck_assert_double_eq(ru.score, rs.score);
        ck_assert_double_eq(ru.score_max, rs.score_max);
        double worst = 0;
        for (size_t k = 0; k < pixels; k++) worst = fmax(worst, fabs((double)map_u[k] - map_s[k]));
        ck_assert_double_eq(worst, 0.0);
        free(map_u);
        free(map_s);
    }
}

/* With the right route, each category's scores and maps are those of a model trained on that
 * category alone (same patches, same order, same coreset): PatchCore has no head, ReConPatch and
 * PCA fit one head per category by default, with the same params and seed. */
START_TEST(unified_equals_separate_models)
{
    static const int32_t methods[3] = {RP_METHOD_PATCHCORE, RP_METHOD_RECONPATCH, RP_METHOD_PCA};
    for (int k = 0; k < 3; k++) {
        int32_t rc;
        rp_model *u = train_unified(methods[k], 0, &rc);
        ck_assert_int_eq(rc, RP_OK);
        for (uint32_t c = 0; c < 2; c++) {
            ck_assert_uint_eq(u->categories[c].head_kind,
                              c == 0 || methods[k] == RP_METHOD_PATCHCORE ? RP__HEAD_MODEL : RP__HEAD_OWN);
            rp_model *single = train_single_with(methods[k], c, 0);
            expect_category_is_model(u, c, single, c);
            rp_model_free(single);
        }
        rp_model_free(u);
    }
}
END_TEST

/* heads = RP_HEADS_SHARED: one head fitted on both categories' images, used by both (the model
 * file stays format 4). */
START_TEST(shared_head_serves_every_category)
{
    int32_t rc;
    rp_model *m = train_unified_heads(RP_METHOD_RECONPATCH, 0, RP_HEADS_SHARED, &rc);
    ck_assert_int_eq(rc, RP_OK);
    for (uint32_t c = 0; c < 2; c++) {
        ck_assert_uint_eq(m->categories[c].head_kind, RP__HEAD_MODEL);
        ck_assert_ptr_eq(rp__category_head(m, c), rp_model_embedding(m));
        for (uint32_t i = 0; i < N_TEST; i++) ck_assert_uint_eq(score(m, test_img[c][i], NULL).category, c);
    }
    ck_assert_uint_eq(saved_format_version(m, "shared-head.rpm"), 4);
    /* a product added with the default heads goes through the shared head, as trained */
    ck_assert_int_eq(rp_model_add_normal_images(m, "third", (const rp_image *const *)train[1], N_TRAIN, NULL, NULL,
                                                NULL),
                     RP_OK);
    ck_assert_uint_eq(m->categories[2].head_kind, RP__HEAD_MODEL);
    rp_model_free(m);
    /* RP_HEADS_NONE is for adding a category only */
    ck_assert_ptr_null(train_unified_heads(RP_METHOD_RECONPATCH, 0, RP_HEADS_NONE, &rc));
    ck_assert_int_eq(rc, RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "params.heads RP_HEADS_NONE"));
    ck_assert_ptr_null(train_unified_heads(RP_METHOD_RECONPATCH, 0, 7, &rc));
    ck_assert_int_eq(rc, RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "params.heads 7"));
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
    ck_assert_uint_eq(saved_format_version(m, "unified.rpm"), 5); /* category 1 has its own head */
    char path[600];
    snprintf(path, sizeof path, "%s/unified.rpm", dir);
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

/* A ReConPatch model of category 0, then category 1 added with the heads mode given (a
 * rp_train_params with heads set and the small trainer params). */
static rp_model *reconpatch_first_then_add(int32_t heads)
{
    static const char *const first[1] = {"bottle"};
    small_params P;
    small_params_init(&P, RP_METHOD_RECONPATCH, 0);
    P.p.category_count = 1;
    P.p.category_names = first;
    rp_model *m = NULL;
    ck_assert_int_eq(rp_train_images((const rp_image *const *)train[0], N_TRAIN, &P.p, NULL, NULL, &m), RP_OK);
    P.p.heads = heads;
    ck_assert_int_eq(rp_model_add_normal_images(m, "bottle-inverted", (const rp_image *const *)train[1], N_TRAIN, &P.p,
                                                NULL, NULL),
                     RP_OK);
    return m;
}

/* Adding leaves the model's head as trained. The new category's vectors: by default (the model
 * has one category, so it shares no head) and with RP_HEADS_PER_CATEGORY a head fitted on them
 * alone (exactly a ReConPatch model of them); RP_HEADS_NONE the backbone's features (exactly a
 * PatchCore model of them); RP_HEADS_SHARED the frozen head. Each saves and loads with its scores. */
START_TEST(added_category_heads_and_the_file)
{
    static const int32_t modes[4] = {RP_HEADS_AUTO, RP_HEADS_NONE, RP_HEADS_PER_CATEGORY, RP_HEADS_SHARED};
    rp_model *alone_pc = train_single_with(RP_METHOD_PATCHCORE, 1, 0);
    rp_model *alone_rp = train_single_with(RP_METHOD_RECONPATCH, 1, 0);
    rp_model *first = train_single_with(RP_METHOD_RECONPATCH, 0, 0);
    for (int k = 0; k < 4; k++) {
        rp_model *m = reconpatch_first_then_add(modes[k]);
        /* category 0 and the model's head: as trained without the new category */
        expect_category_is_model(m, 0, first, 0);
        for (uint32_t i = 0; i < N_TEST; i++) {
            ck_assert_uint_eq(score(m, test_img[0][i], NULL).category, 0);
            ck_assert_uint_eq(score(m, test_img[1][i], NULL).category, 1);
        }
        const uint32_t kind = m->categories[1].head_kind;
        if (modes[k] == RP_HEADS_PER_CATEGORY || modes[k] == RP_HEADS_AUTO) {
            ck_assert_uint_eq(kind, RP__HEAD_OWN);
            expect_category_is_model(m, 1, alone_rp, 1);
        } else if (modes[k] == RP_HEADS_SHARED) {
            ck_assert_uint_eq(kind, RP__HEAD_MODEL);
            ck_assert_uint_eq(rp_bank_dim(m->categories[1].bank), 16);
        } else {
            ck_assert_uint_eq(kind, RP__HEAD_NONE);
            expect_category_is_model(m, 1, alone_pc, 1);
        }
        char path[600], name[32];
        snprintf(name, sizeof name, "added-%d.rpm", k);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        ck_assert_uint_eq(saved_format_version(m, name), modes[k] == RP_HEADS_SHARED ? 4 : 5);
        rp_model *back = NULL;
        ck_assert_int_eq(rp_model_load(path, NULL, &back), RP_OK);
        ck_assert_uint_eq(rp_model_category_count(back), 2);
        ck_assert_uint_eq(back->categories[1].head_kind, kind);
        for (uint32_t c = 0; c < 2; c++)
            for (uint32_t i = 0; i < N_TEST; i++)
                ck_assert_double_eq(score(m, test_img[c][i], NULL).score, score(back, test_img[c][i], NULL).score);
        rp_model_free(back);
        rp_model_free(m);
    }
    rp_model_free(alone_pc);
    rp_model_free(alone_rp);
    rp_model_free(first);
}
END_TEST

/* A format 5 file whose category sections contradict each other: the head kind in CBNK against
 * the CHED present, and a CHED whose head does not take the features. */
START_TEST(inconsistent_category_heads_fail_as_format)
{
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_RECONPATCH, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/unified-heads.rpm", dir);
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    sp.embed_weights = 1;
    ck_assert_int_eq(rp_model_save(m, path, &sp), RP_OK);
    rp_model_free(m);
    uint8_t *d;
    size_t size;
    ck_assert_int_eq(fixture_read_file(path, &d, &size), 0);
    static const struct { const char *id; size_t offset; uint32_t value; const char *message; } cases[] = {
        {RP__SEC_CATEGORY_BANK, 4, RP__HEAD_NONE, "head kind 2 but a section 'CHED'"},
        {RP__SEC_CATEGORY_BANK, 4, 9, "head kind 9"},
        {RP__SEC_CATEGORY_HEAD, 8, 31, "head 31 -> 16, the features have 32"},
        {RP__SEC_CATEGORY_HEAD, 0, 0, "section 'CHED' 0 is for category 0"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *e = malloc(size);
        memcpy(e, d, size);
        size_t pos = RP__MODEL_HEADER_SIZE;
        while (memcmp(e + pos, cases[k].id, 4) != 0) pos += RP__MODEL_SECTION_HEAD + rp__le_get_u64(e + pos + 8) + 4;
        const size_t body = RP__MODEL_SECTION_HEAD + rp__le_get_u64(e + pos + 8);
        rp__le_put_u32(e + pos + RP__MODEL_SECTION_HEAD + cases[k].offset, cases[k].value);
        rp__le_put_u32(e + pos + body, rp__crc32(0, e + pos, body)); /* the content is wrong, not the framing */
        rp_model *back = (rp_model *)1;
        ck_assert_int_eq(rp_model_load_memory(e, size, NULL, &back), RP_E_FORMAT);
        ck_assert_ptr_null(back);
        ck_assert_msg(strstr(rp_last_error_message(), cases[k].message), "case %zu: %s", k, rp_last_error_message());
        free(e);
    }
    free(d);
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

/* Floats of the folded backbone through layer3 (weights and biases of every convolution), counted
 * from the weights the fixture wrote, independently of the network built from them. */
static uint64_t backbone_floats(void)
{
    rp__weights *w = NULL;
    rp__resnet_spec spec;
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 8, 7, &w), RP_OK);
    ck_assert_int_eq(rp__resnet_fold(w, 3, "test", &spec), RP_OK);
    const rp__resnet_conv *c = &spec.stem;
    uint64_t n = (uint64_t)c->out_channels * (c->in_channels * c->kernel * c->kernel + 1);
    for (uint32_t s = 0; s < 3; s++)
        for (uint32_t b = 0; b < spec.blocks[s]; b++) {
            const rp__resnet_conv *convs[4] = {&spec.stage[s][b].conv1, &spec.stage[s][b].conv2,
                                               &spec.stage[s][b].conv3, &spec.stage[s][b].downsample};
            for (int k = 0; k < 4; k++)
                if (convs[k]->weight)
                    n += (uint64_t)convs[k]->out_channels * (convs[k]->in_channels * convs[k]->kernel * convs[k]->kernel + 1);
        }
    rp__resnet_spec_free(&spec);
    rp__weights_free(w);
    return n;
}

/* rp_model_get_memory against what the parts must hold: the heads exactly, the banks at least
 * their vectors, selection and norms, the router its descriptors, the backbone its folded weights
 * (oneDNN's blocked layouts may pad channel counts up to the vector width). */
START_TEST(memory_reports_every_part)
{
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_RECONPATCH, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    rp_model_memory mem = {.struct_size = sizeof mem};
    ck_assert_int_eq(rp_model_get_memory(m, &mem, sizeof mem), RP_OK);
    ck_assert_uint_eq(mem.struct_size, sizeof mem);

    const rp_embedding *heads[2] = {m->embedding, m->categories[1].own_head};
    uint64_t want_heads = 0;
    for (int h = 0; h < 2; h++) {
        ck_assert_ptr_nonnull(heads[h]);
        want_heads += ((uint64_t)rp_embedding_in_dim(heads[h]) + 1) * rp_embedding_out_dim(heads[h]) * sizeof(float);
    }
    ck_assert_uint_eq(mem.heads, want_heads);

    uint64_t bank_least = 0;
    for (uint32_t c = 0; c < 2; c++) {
        const rp_bank *b = m->categories[c].bank;
        bank_least += rp_bank_size(b) * (rp_bank_dim(b) * sizeof(float) + sizeof(uint64_t) + sizeof(float));
    }
    ck_assert_uint_ge(mem.banks, bank_least);
    ck_assert_uint_le(mem.banks, 3 * bank_least);

    ck_assert_uint_eq(m->router.count, 2 * N_TRAIN);
    ck_assert_uint_ge(mem.router, m->router.count * ((uint64_t)m->router.dim * sizeof(float) + sizeof(uint32_t)));

    const uint64_t folded = backbone_floats() * sizeof(float);
    ck_assert_uint_ge(mem.backbone_weights, folded);
    ck_assert_uint_le(mem.backbone_weights, 3 * folded);
    ck_assert_uint_gt(mem.backbone_activations, 0); /* training ran the backbone: its arena stays */
    ck_assert_uint_eq(mem.total, mem.backbone_weights + mem.backbone_activations + mem.heads + mem.banks + mem.router);

    /* An older, shorter struct gets its own fields only; bad arguments are named. */
    rp_model_memory shorter;
    memset(&shorter, 0xAB, sizeof shorter);
    const size_t old_size = offsetof(rp_model_memory, heads);
    ck_assert_int_eq(rp_model_get_memory(m, &shorter, old_size), RP_OK);
    ck_assert_uint_eq(shorter.struct_size, old_size);
    ck_assert_uint_eq(shorter.backbone_weights, mem.backbone_weights);
    ck_assert_uint_eq(shorter.heads, 0xABABABABABABABABull);
    ck_assert_int_eq(rp_model_get_memory(NULL, &mem, sizeof mem), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "model is NULL"));
    ck_assert_int_eq(rp_model_get_memory(m, &mem, 2), RP_E_INVALID_ARG);
    rp_model_free(m);
}
END_TEST

static void *score_on_another_thread(void *model)
{
    rp_score_result r = {.struct_size = sizeof r};
    for (int i = 0; i < 3; i++) ck_assert_int_eq(rp_score_image(model, test_img[1][0], &r, NULL, 0, NULL, 0), RP_OK);
    return NULL;
}

/* rp_timing_*: with the clocks on, a routed ReConPatch score (with a map in the image's geometry)
 * counts every stage once and their sum stays within the call's own time; the totals are per
 * thread (another thread's scores do not show) and taking them resets them; off, nothing counts. */
START_TEST(timing_counts_each_stage_on_the_calling_thread)
{
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_RECONPATCH, 0, &rc);
    ck_assert_int_eq(rc, RP_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/data/bottle/test/good/000.png", rp_test_source_dir());
    double t[RP_TIMING_COUNT];
    ck_assert_int_eq(rp_timing_take(t, RP_TIMING_COUNT), RP_OK); /* whatever training left */

    rp_timing_enable(1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_load_file(path, NULL, &img), RP_OK);
    const size_t pixels = (size_t)rp_image_width(img) * rp_image_height(img);
    float *map = malloc(pixels * sizeof *map);
    rp_score_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(rp_score_image(m, img, &r, map, pixels, NULL, 0), RP_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    const double whole = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    ck_assert_int_eq(rp_timing_take(t, RP_TIMING_COUNT), RP_OK);
    double sum = 0;
    for (int s = 0; s < RP_TIMING_COUNT; s++) {
        ck_assert_msg(t[s] > 0, "stage %s took %g s", rp_timing_stage_name(s), t[s]);
        sum += t[s];
    }
    ck_assert_double_le(sum, whole);
    ck_assert_int_eq(rp_timing_take(t, RP_TIMING_COUNT), RP_OK);
    for (int s = 0; s < RP_TIMING_COUNT; s++) ck_assert_double_eq(t[s], 0.0);

    pthread_t other;
    ck_assert_int_eq(pthread_create(&other, NULL, score_on_another_thread, m), 0);
    ck_assert_int_eq(pthread_join(other, NULL), 0);
    ck_assert_int_eq(rp_timing_take(t, RP_TIMING_COUNT), RP_OK);
    for (int s = 0; s < RP_TIMING_COUNT; s++) ck_assert_double_eq(t[s], 0.0);

    rp_timing_enable(0);
    ck_assert_int_eq(rp_score_image(m, img, &r, map, pixels, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_timing_take(t, RP_TIMING_COUNT), RP_OK);
    for (int s = 0; s < RP_TIMING_COUNT; s++) ck_assert_double_eq(t[s], 0.0);

    ck_assert_int_eq(rp_timing_take(t, RP_TIMING_COUNT - 1), RP_E_SHAPE);
    ck_assert_int_eq(rp_timing_take(NULL, RP_TIMING_COUNT), RP_E_INVALID_ARG);
    ck_assert_str_eq(rp_timing_stage_name(RP_TIMING_KNN), "knn");
    ck_assert_str_eq(rp_timing_stage_name(RP_TIMING_COUNT), "");
    free(map);
    rp_image_free(img);
    rp_model_free(m);
}
END_TEST

/* rp_score_images over two batches of both products: each image routed and scored as
 * rp_score_image does (scores to float rounding: another batch size sums in another order), maps
 * where asked for; bad arguments named before anything is written. */
START_TEST(score_images_match_score_image)
{
    int32_t rc;
    rp_model *m = train_unified(RP_METHOD_RECONPATCH, 0.34, &rc);
    ck_assert_int_eq(rc, RP_OK);
    enum { COUNT = 2 * N_TEST + 2 }; /* 10: a batch of 8 and one of 2 */
    const rp_image *images[COUNT];
    for (uint32_t i = 0; i < COUNT; i++) images[i] = i < 2 * N_TEST ? test_img[i % 2][i / 2] : train[i % 2][0];
    rp_score_result got[COUNT];
    float *maps[COUNT];
    size_t floats[COUNT];
    for (uint32_t i = 0; i < COUNT; i++) {
        got[i].struct_size = sizeof got[i];
        floats[i] = (size_t)rp_image_width(images[i]) * rp_image_height(images[i]);
        maps[i] = i == 3 ? NULL : malloc(floats[i] * sizeof(float)); /* image 3: no map */
    }
    ck_assert_int_eq(rp_score_images(m, images, COUNT, got, maps, floats), RP_OK);
    for (uint32_t i = 0; i < COUNT; i++) {
        float *want_map = malloc(floats[i] * sizeof *want_map);
        rp_score_result want = score(m, images[i], want_map);
        ck_assert_uint_eq(got[i].category, want.category);
        ck_assert_uint_eq(got[i].category, i % 2);
        ck_assert_double_eq_tol(got[i].score, want.score, 1e-4 * fmax(1.0, fabs(want.score)));
        ck_assert_double_eq(got[i].threshold, want.threshold);
        if (fabs(want.score - want.threshold) > 1e-3 * fmax(1.0, fabs(want.threshold)))
            ck_assert_int_eq(got[i].decision, want.decision);
        if (maps[i]) {
            double worst = 0, peak = 0;
            for (size_t k = 0; k < floats[i]; k++) {
                worst = fmax(worst, fabs((double)maps[i][k] - want_map[k]));
                peak = fmax(peak, fabs((double)want_map[k]));
            }
            ck_assert_double_le(worst, 1e-4 * fmax(1.0, peak));
        }
        free(want_map);
    }

    /* bad arguments: nothing written */
    rp_score_result untouched[COUNT];
    memset(untouched, 0x5A, sizeof untouched);
    for (uint32_t i = 0; i < COUNT; i++) untouched[i].struct_size = sizeof untouched[i];
    rp_score_result before[COUNT];
    memcpy(before, untouched, sizeof before);
    const rp_image *with_null[COUNT];
    memcpy(with_null, images, sizeof with_null);
    with_null[5] = NULL;
    ck_assert_int_eq(rp_score_images(m, with_null, COUNT, untouched, NULL, NULL), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "image 5 is NULL"));
    size_t short_floats[COUNT];
    memcpy(short_floats, floats, sizeof short_floats);
    short_floats[9] = floats[9] - 1;
    ck_assert_int_eq(rp_score_images(m, images, COUNT, untouched, maps, short_floats), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "maps_out[9]"));
    ck_assert_int_eq(memcmp(untouched, before, sizeof before), 0);
    ck_assert_int_eq(rp_score_images(m, images, 0, NULL, NULL, NULL), RP_OK);
    ck_assert_int_eq(rp_score_images(NULL, images, COUNT, NULL, NULL, NULL), RP_E_INVALID_ARG);
    for (uint32_t i = 0; i < COUNT; i++) free(maps[i]);
    rp_model_free(m);
}
END_TEST

int main(void)
{
    setup_images();
    Suite *s = suite_create("model_categories");
    TCase *tc = tcase_create("categories");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, routes_every_image_to_its_category);
    tcase_add_test(tc, unified_equals_separate_models);
    tcase_add_test(tc, shared_head_serves_every_category);
    tcase_add_test(tc, forced_category_skips_the_router);
    tcase_add_test(tc, thresholds_per_category);
    tcase_add_test(tc, file_round_trip_keeps_categories);
    tcase_add_test(tc, bad_category_params_are_named);
    tcase_add_test(tc, inconsistent_category_sections_fail_as_format);
    tcase_add_test(tc, added_category_equals_training_with_it);
    tcase_add_test(tc, added_category_heads_and_the_file);
    tcase_add_test(tc, inconsistent_category_heads_fail_as_format);
    tcase_add_test(tc, adding_is_refused_without_change);
    tcase_add_test(tc, calibration_routes_and_sets_each_category);
    tcase_add_test(tc, route_features_and_category_scorer_match_rp_score_image);
    tcase_add_test(tc, memory_reports_every_part);
    tcase_add_test(tc, timing_counts_each_stage_on_the_calling_thread);
    tcase_add_test(tc, score_images_match_score_image);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    for (uint32_t c = 0; c < 2; c++) {
        for (uint32_t i = 0; i < N_TRAIN; i++) rp_image_free(train[c][i]);
        for (uint32_t i = 0; i < N_TEST; i++) rp_image_free(test_img[c][i]);
    }
    fixture_remove_dir(dir);
    return rc;
}
