/* A handle's num_threads governs every stage of the calls made on it, whatever the calling
 * thread's own OpenMP setting: the extractor's the aggregation, the bank's its search and index,
 * the scorer's the embedding, kNN and map of a score. The caller's setting is back after each
 * call. The library records the largest team its parallel stages were allowed
 * (rp__threads_largest_team), which is what these tests read. */
#include <omp.h>
#include <stdint.h>

#include <reconpatch/reconpatch.h>

#include "backbone/weights.h"
#include "bank_test_data.h"
#include "common/threads.h"
#include "extractor/extractor_internal.h"
#include "rp_test.h"

enum { CALLER_THREADS = 3, DIM = 64, BANK_ROWS = 2000, QUERIES = 4 * 196 };

/* The bank tests' documented splitmix64 vectors (bank_test_data.h). */
static float *random_rows(size_t rows, size_t dim, uint64_t seed)
{
    float *v = bank_test_vectors(rows, (uint32_t)dim, seed, 0);
    ck_assert_ptr_nonnull(v);
    return v;
}

static rp_bank *make_bank(uint32_t num_threads)
{
    float *v = random_rows(BANK_ROWS, DIM, 1);
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.num_threads = num_threads;
    rp_bank *bank = NULL;
    ck_assert_msg(rp_bank_create_frozen(v, BANK_ROWS, DIM, &p, &bank) == RP_OK, "%s", rp_last_error_message());
    free(v);
    return bank;
}

/* The largest team opened by call_under_test with the caller at CALLER_THREADS, checking that the
 * caller's setting survived. */
#define LARGEST_TEAM_OF(call)                                                                               \
    ({                                                                                                      \
        omp_set_num_threads(CALLER_THREADS);                                                               \
        rp__threads_reset_largest_team();                                                                   \
        ck_assert_msg((call) == RP_OK, "%s", rp_last_error_message());                                     \
        ck_assert_int_eq(omp_get_max_threads(), CALLER_THREADS);                                           \
        rp__threads_largest_team();                                                                         \
    })

START_TEST(bank_search__runs_with_the_banks_num_threads)
{
    float *q = random_rows(QUERIES, DIM, 2);
    float dist[QUERIES];
    for (uint32_t threads = 1; threads <= 2; threads++) {
        rp_bank *bank = make_bank(threads);
        ck_assert_int_eq(LARGEST_TEAM_OF(rp_bank_search(bank, q, (size_t)QUERIES * DIM, QUERIES, 1, dist, QUERIES,
                                                        NULL, 0)),
                         (int)threads);
        rp_bank_free(bank);
    }
    free(q);
}
END_TEST

START_TEST(scorer__every_stage_runs_with_the_scorers_num_threads)
{
    rp_bank *bank = make_bank(CALLER_THREADS);
    float *features = random_rows(28 * 28, DIM, 3);
    float *map = malloc(224 * 224 * sizeof *map);
    ck_assert_ptr_nonnull(map);
    for (uint32_t threads = 1; threads <= 2; threads++) {
        rp_scorer_params p;
        rp_scorer_params_init(&p, sizeof p);
        p.grid_size = 28;
        p.input_size = 224;
        p.num_threads = threads;
        rp_scorer *s = NULL;
        ck_assert_msg(rp_scorer_create(NULL, NULL, bank, &p, &s) == RP_OK, "%s", rp_last_error_message());
        rp_score_result r = {.struct_size = sizeof r};
        ck_assert_int_eq(LARGEST_TEAM_OF(rp_scorer_score_features(s, features, (size_t)28 * 28 * DIM, &r, NULL, 0,
                                                                  map, (size_t)224 * 224)),
                         (int)threads);
        rp_scorer_free(s);
    }
    free(map);
    free(features);
    rp_bank_free(bank);
}
END_TEST

START_TEST(extractor__aggregation_runs_with_the_extractors_num_threads)
{
    rp__weights *w = NULL;
    ck_assert_msg(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 8, 1, &w) == RP_OK, "%s",
                  rp_last_error_message());
    uint8_t pixels[64 * 64 * 3];
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (uint8_t)(i * 7);
    rp_image *img = NULL;
    ck_assert_int_eq(rp_image_from_pixels(pixels, 64, 64, 64 * 3, RP_PIXEL_RGB8, &img), RP_OK);
    for (uint32_t threads = 1; threads <= 2; threads++) {
        rp_extractor_params p;
        rp_extractor_params_init(&p, sizeof p);
        p.num_threads = threads;
        rp_extractor *e = NULL;
        ck_assert_msg(rp__extractor_create_from_weights(&p, w, 0, &e) == RP_OK, "%s", rp_last_error_message());
        rp_extractor_info info = {.struct_size = sizeof info};
        ck_assert_int_eq(rp_extractor_get_info(e, &info, sizeof info), RP_OK);
        const size_t floats = (size_t)info.grid_size * info.grid_size * info.feature_dim;
        float *features = malloc(floats * sizeof *features);
        ck_assert_ptr_nonnull(features);
        const rp_image *v[1] = {img};
        ck_assert_int_eq(LARGEST_TEAM_OF(rp_extractor_patch_features(e, v, 1, features, floats)), (int)threads);
        free(features);
        rp_extractor_free(e);
    }
    rp_image_free(img);
    rp__weights_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("thread_counts");
    TCase *tc = tcase_create("thread_counts");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, bank_search__runs_with_the_banks_num_threads);
    tcase_add_test(tc, scorer__every_stage_runs_with_the_scorers_num_threads);
    tcase_add_test(tc, extractor__aggregation_runs_with_the_extractors_num_threads);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
