/* Reduced representations, each against an independent computation: the extractor's own feature
 * reduction (feature_dim) equals the block means of its 1024-value features (which is how
 * bench/rp-tune reduces cached features), and a PCA model (RP_METHOD_PCA) is written as format
 * version 3, reloads to the same scores, and is refused in an older version's header. Small random
 * backbone (model_fixture.h): no cached weights needed. */
#include <math.h>
#include <reconpatch/reconpatch.h>
#include <stdlib.h>
#include <string.h>

#include "model/le_bytes.h"
#include "model_fixture.h"

static char dir[256], weights_path[1024];

static void setup(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights_path, sizeof weights_path, "%s/w.safetensors", dir);
    if (fixture_write_weights(weights_path, 3)) exit(1);
}

static void teardown(void) { fixture_remove_dir(dir); }

static float *features_of(const rp_image *img, uint32_t feature_dim, uint32_t *patches)
{
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = weights_path;
    ep.feature_dim = feature_dim;
    rp_extractor *ex = NULL;
    ck_assert_msg(rp_extractor_create(&ep, &ex) == RP_OK, "%s", rp_last_error_message());
    rp_extractor_info info;
    info.struct_size = sizeof info;
    ck_assert_int_eq(rp_extractor_get_info(ex, &info, sizeof info), RP_OK);
    ck_assert_uint_eq(info.feature_dim, feature_dim);
    *patches = info.grid_size * info.grid_size;
    size_t floats = (size_t)*patches * feature_dim;
    float *f = malloc(floats * sizeof(float));
    ck_assert_int_eq(rp_extractor_patch_features(ex, &img, 1, f, floats), RP_OK);
    rp_extractor_free(ex);
    return f;
}

START_TEST(feature_dim__equals_block_means_of_the_full_features)
{
    rp_image *img = fixture_image("test/broken_large/000.png");
    uint32_t patches, p2;
    float *full = features_of(img, 1024, &patches);
    const uint32_t dims[] = {512, 128, 64, 32};
    for (int d = 0; d < 4; d++) {
        float *reduced = features_of(img, dims[d], &p2);
        ck_assert_uint_eq(p2, patches);
        const uint32_t block = 1024 / dims[d];
        double worst = 0;
        for (uint32_t p = 0; p < patches; p++)
            for (uint32_t i = 0; i < dims[d]; i++) {
                double mean = 0;
                for (uint32_t c = 0; c < block; c++) mean += full[(size_t)p * 1024 + i * block + c];
                mean /= block;
                double err = fabs(reduced[(size_t)p * dims[d] + i] - mean) / (fabs(mean) + 1e-3);
                if (err > worst) worst = err;
            }
        ck_assert_msg(worst < 1e-4, "feature_dim %u: worst relative difference %g", dims[d], worst);
        free(reduced);
    }
    free(full);
    rp_image_free(img);
}
END_TEST

static double score_of(const rp_model *m, const rp_image *img)
{
    rp_score_result r = {.struct_size = sizeof r};
    ck_assert_msg(rp_score_image(m, img, &r, NULL, 0, NULL, 0) == RP_OK, "%s", rp_last_error_message());
    return r.score;
}

START_TEST(pca_model__is_format_3_reloads_identically_and_older_headers_refuse_it)
{
    rp_image *train[4];
    fixture_train_images(train, 4);
    /* fixture_train_with sets trainer.repr_dim 32: 32 principal components of 64-value features. */
    rp_model *m = fixture_train(weights_path, RP_METHOD_PCA, (const rp_image *const *)train, 4, 64, 0.1, 0);
    ck_assert_int_eq(rp_model_method(m), RP_METHOD_PCA);
    ck_assert_uint_eq(rp_bank_dim(rp_model_bank(m)), 32);
    char path[1024];
    snprintf(path, sizeof path, "%s/pca.rpm", dir);
    ck_assert_msg(rp_model_save(m, path, NULL) == RP_OK, "%s", rp_last_error_message());
    uint8_t *d;
    size_t size;
    ck_assert_int_eq(fixture_read_file(path, &d, &size), 0);
    ck_assert_uint_eq(rp__le_get_u32(d + 8), 3);
    rp_model *loaded = NULL;
    ck_assert_msg(rp_model_load_memory(d, size, NULL, &loaded) == RP_OK, "%s", rp_last_error_message());
    ck_assert_int_eq(rp_model_method(loaded), RP_METHOD_PCA);
    rp_image *test = fixture_image("test/broken_small/000.png");
    ck_assert(score_of(m, test) == score_of(loaded, test));
    rp_model_free(loaded);
    /* The same bytes under a version 2 header: method 3 does not exist there, so it is damage. */
    rp__le_put_u32(d + 8, 2);
    rp__le_put_u32(d + 28, rp__crc32(0, d, 28));
    loaded = (rp_model *)0x1;
    ck_assert_int_eq(rp_model_load_memory(d, size, NULL, &loaded), RP_E_FORMAT);
    ck_assert_ptr_null(loaded);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "method 3"));
    free(d);
    rp_image_free(test);
    for (int i = 0; i < 4; i++) rp_image_free(train[i]);
    rp_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_reduced");
    TCase *tc = tcase_create("model_reduced");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, feature_dim__equals_block_means_of_the_full_features);
    tcase_add_test(tc, pca_model__is_format_3_reloads_identically_and_older_headers_refuse_it);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
