/* Training memory (docs/memory-bank.md, "Training memory"): with rp_train_params.feature_memory_limit
 * the patch features move to an unlinked temporary file once the trainer and the banks together
 * would hold more than the limit. These tests train the same small models with everything in
 * memory and with a limit far below the features' size, and check, through the feature stores'
 * byte counter (the test hook of common/feature_store.h), that the limit held, that the
 * features did go to the file, that the models are identical bit for bit, and that no file is
 * left behind. The second product is the committed bottle images with their colours inverted. */
#include <dirent.h>
#include <sys/stat.h>
#include <math.h>

#include "common/feature_store.h"
#include "model/model_internal.h"
#include "model_fixture.h"

#define N_TRAIN 6u
#define N_TEST 3u
#define SMALL_LIMIT (96u << 10) /* a fraction of one image's features (784 x 32 floats = 98 KiB) */

static char dir[256], weights[512], spill[512];
static rp_image *train[2][N_TRAIN], *test_img[N_TEST];

static uint32_t files_in(const char *path)
{
    DIR *d = opendir(path);
    uint32_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* Two categories (bottle and inverted bottle), 6 images each, interleaved. */
static int train_two(int32_t method, uint64_t limit, const char *spill_dir, rp_model **out)
{
    const rp_image *images[2 * N_TRAIN];
    uint32_t cats[2 * N_TRAIN];
    for (uint32_t i = 0; i < 2 * N_TRAIN; i++) {
        images[i] = train[i % 2][i / 2];
        cats[i] = i % 2;
    }
    fixture_params f;
    fixture_params_init(&f, weights, method, 32, 0.25);
    f.tp.repr_dim = 16;
    f.tp.proj_dim = 8;
    f.tp.epochs = 2;
    f.tp.steps_per_epoch = 2;
    f.p.batch_size = 1; /* oneDNN may round differently at another batch: the models are compared bit for bit */
    f.p.calibration_fraction = 0.2;
    f.p.category_count = 2;
    f.p.image_categories = cats;
    f.p.feature_memory_limit = limit;
    f.p.spill_dir = spill_dir;
    *out = NULL;
    return rp_train_images(images, 2 * N_TRAIN, &f.p, NULL, NULL, out);
}

static void assert_same_models(const rp_model *a, const rp_model *b)
{
    ck_assert_uint_eq(a->n_categories, b->n_categories);
    for (uint32_t c = 0; c < a->n_categories; c++) {
        const rp_bank *x = a->categories[c].bank, *y = b->categories[c].bank;
        ck_assert_uint_eq(rp_bank_size(x), rp_bank_size(y));
        const size_t n = (size_t)rp_bank_size(x) * rp_bank_dim(x);
        float *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v);
        ck_assert_int_eq(rp_bank_get_vectors(x, u, n), RP_OK);
        ck_assert_int_eq(rp_bank_get_vectors(y, v, n), RP_OK);
        ck_assert_int_eq(memcmp(u, v, n * sizeof *u), 0);
        free(u);
        free(v);
        ck_assert_double_eq(a->categories[c].thresholds.image_threshold, b->categories[c].thresholds.image_threshold);
    }
    for (uint32_t i = 0; i < N_TEST; i++) {
        rp_score_result ra = {.struct_size = sizeof ra}, rb = {.struct_size = sizeof rb};
        ck_assert_int_eq(rp_score_image(a, test_img[i], &ra, NULL, 0, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_score_image(b, test_img[i], &rb, NULL, 0, NULL, 0), RP_OK);
        ck_assert_double_eq(ra.score, rb.score);
        ck_assert_uint_eq(ra.category, rb.category);
    }
}

/* Train with everything in memory, then under SMALL_LIMIT: same model, limit kept, files used
 * and gone. */
static void check_method(int32_t method)
{
    rp_model *in_memory = NULL, *spilled = NULL;
    rp__feature_store_reset_peak();
    ck_assert_int_eq(train_two(method, UINT64_MAX, spill, &in_memory), RP_OK);
    ck_assert_uint_eq(rp__feature_store_spill_count(), 0);
    /* 12 images x 784 patches x 32 floats: the in-memory run held far more than the limit */
    ck_assert_uint_gt(rp__feature_store_peak_bytes(), 8u * SMALL_LIMIT);
    ck_assert_uint_eq(rp__feature_store_bytes_held(), 0);

    rp__feature_store_reset_peak();
    ck_assert_int_eq(train_two(method, SMALL_LIMIT, spill, &spilled), RP_OK);
    /* PatchCore: both banks spilled; ReConPatch: both categories' trainers (a head each) and banks */
    ck_assert_uint_eq(rp__feature_store_spill_count(), method == RP_METHOD_PATCHCORE ? 2u : 4u);
    ck_assert_uint_le(rp__feature_store_peak_bytes(), SMALL_LIMIT);
    ck_assert_uint_eq(rp__feature_store_bytes_held(), 0);
    ck_assert_uint_eq(files_in(spill), 0); /* the temporary files were never visible */
    assert_same_models(in_memory, spilled);
    rp_model_free(in_memory);
    rp_model_free(spilled);
}

START_TEST(patchcore_spilled_features_give_the_same_model)
{
    check_method(RP_METHOD_PATCHCORE);
}
END_TEST

START_TEST(reconpatch_spilled_features_give_the_same_model)
{
    check_method(RP_METHOD_RECONPATCH);
}
END_TEST

START_TEST(unusable_spill_folder_is_named)
{
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-folder", dir);
    rp_model *m = (rp_model *)1;
    ck_assert_int_eq(train_two(RP_METHOD_PATCHCORE, SMALL_LIMIT, missing, &m), RP_E_IO);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "no-such-folder"));
    ck_assert_uint_eq(rp__feature_store_bytes_held(), 0);
}
END_TEST

/* The store on its own: rows up to the limit stay in memory, the next one moves them all to the
 * file; they read back exactly through the mapping and pread, after pages were given back, and
 * after a truncation and new appends. */
START_TEST(feature_store_reads_back_what_it_spilled)
{
    enum { DIM = 5, ROWS = 1000 };
    float *rows = malloc(ROWS * DIM * sizeof *rows), *back = malloc(ROWS * DIM * sizeof *back);
    for (uint32_t i = 0; i < ROWS * DIM; i++) rows[i] = (float)i * 0.25f - 7.0f;
    rp__feature_store s;
    ck_assert_int_eq(rp__feature_store_init(&s, DIM, 100 * DIM * sizeof(float), spill, "test"), RP_OK);
    ck_assert_int_eq(rp__feature_store_append(&s, rows, 60, "test"), RP_OK);
    ck_assert_int_eq(rp__feature_store_spilled(&s), 0);
    ck_assert_int_eq(rp__feature_store_append(&s, rows + 60 * DIM, 40, "test"), RP_OK); /* exactly the limit */
    ck_assert_int_eq(rp__feature_store_spilled(&s), 0);
    ck_assert_int_eq(rp__feature_store_append(&s, rows + 100 * DIM, 1, "test"), RP_OK);
    ck_assert_int_eq(rp__feature_store_spilled(&s), 1);
    ck_assert_uint_eq(rp__feature_store_bytes_held(), 0);
    ck_assert_int_eq(rp__feature_store_append(&s, rows + 101 * DIM, ROWS - 101, "test"), RP_OK);
    const float *view = rp__feature_store_rows(&s, "test");
    ck_assert_ptr_nonnull(view);
    ck_assert_int_eq(memcmp(view, rows, sizeof(float) * ROWS * DIM), 0);
    rp__feature_store_release(&s, 10, 500);
    ck_assert_int_eq(memcmp(view, rows, sizeof(float) * ROWS * DIM), 0); /* pages come back from the file */
    ck_assert_int_eq(rp__feature_store_read(&s, 123, 456, back, "test"), RP_OK);
    ck_assert_int_eq(memcmp(back, rows + 123 * DIM, sizeof(float) * 456 * DIM), 0);
    rp__feature_store_truncate(&s, 700);
    ck_assert_uint_eq(s.rows, 700);
    ck_assert_int_eq(rp__feature_store_append(&s, rows + 700 * DIM, ROWS - 700, "test"), RP_OK);
    ck_assert_int_eq(memcmp(rp__feature_store_rows(&s, "test"), rows, sizeof(float) * ROWS * DIM), 0);
    ck_assert_uint_eq(files_in(spill), 0);
    rp__feature_store_free(&s);
    free(rows);
    free(back);
}
END_TEST

int main(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights, sizeof weights, "%s/w.safetensors", dir);
    snprintf(spill, sizeof spill, "%s/spill", dir);
    if (fixture_write_weights(weights, 7) || mkdir(spill, 0700)) {
        fprintf(stderr, "cannot set up %s\n", dir);
        return 1;
    }
    fixture_train_images(train[0], N_TRAIN);
    for (uint32_t i = 0; i < N_TRAIN; i++) train[1][i] = fixture_inverted(train[0][i]);
    static const char *const tests[N_TEST] = {"test/good/000.png", "test/broken_large/000.png",
                                              "test/contamination/000.png"};
    for (uint32_t i = 0; i < N_TEST; i++) test_img[i] = fixture_image(tests[i]);
    Suite *s = suite_create("model_spill");
    TCase *tc = tcase_create("spill");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, feature_store_reads_back_what_it_spilled);
    tcase_add_test(tc, patchcore_spilled_features_give_the_same_model);
    tcase_add_test(tc, reconpatch_spilled_features_give_the_same_model);
    tcase_add_test(tc, unusable_spill_folder_is_named);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    for (uint32_t c = 0; c < 2; c++)
        for (uint32_t i = 0; i < N_TRAIN; i++) rp_image_free(train[c][i]);
    for (uint32_t i = 0; i < N_TEST; i++) rp_image_free(test_img[i]);
    fixture_remove_dir(dir);
    return rc;
}
