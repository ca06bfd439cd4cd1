/* Metrics: AUROC against sklearn, AUPRO against the official MVTec AD procedure (goldens from
 * tools/gen_metrics_goldens.py), hand-computed cases, and bad inputs. */
#include <math.h>
#include <stdint.h>

#include "common/common.h"
#include "metrics/metrics_internal.h"
#include "rp_golden.h"
#include "rp_test.h"

#define GOLDEN "metrics/metrics_golden.bin"

/* ---- internals ----------------------------------------------------------------------------- */

START_TEST(float_key__orders_like_floats_and_ties_signed_zeros)
{
    const float v[] = {-INFINITY, -1e30f, -2.5f, -1e-40f, 0.0f, 1e-40f, 1e-7f, 1.0f, 3.5f, 1e30f, INFINITY};
    for (size_t i = 0; i + 1 < sizeof v / sizeof v[0]; i++)
        ck_assert_uint_lt(rp__metrics_float_key(v[i]), rp__metrics_float_key(v[i + 1]));
    ck_assert_uint_eq(rp__metrics_float_key(-0.0f), rp__metrics_float_key(0.0f));
}
END_TEST

START_TEST(radix_sort__sorts_by_key_and_is_stable)
{
    enum { N = 5000 };
    uint64_t *items = malloc(N * sizeof *items), *scratch = malloc(N * sizeof *scratch);
    uint32_t state = 12345;
    for (uint32_t i = 0; i < N; i++) {
        state = state * 1664525u + 1013904223u;
        /* few distinct keys so that stability is visible, spread over all four key bytes */
        float f = (float)((int)(state >> 24) % 50 - 25) * 1234.5f;
        items[i] = rp__metrics_item(rp__metrics_float_key(f), i);
    }
    rp__metrics_radix_sort(items, scratch, N);
    for (uint32_t i = 1; i < N; i++) {
        ck_assert_uint_le(rp__metrics_item_key(items[i - 1]), rp__metrics_item_key(items[i]));
        if (rp__metrics_item_key(items[i - 1]) == rp__metrics_item_key(items[i]))
            ck_assert_uint_lt(rp__metrics_item_payload(items[i - 1]), rp__metrics_item_payload(items[i]));
    }
    free(items);
    free(scratch);
}
END_TEST

START_TEST(components__diagonal_neighbours_join_one_region)
{
    /* 4 x 4: a diagonal line (one region under 8-connectivity), a lone pixel, a bar. */
    const uint8_t mask[16] = {
        255, 0, 0, 1,
        0, 255, 0, 0,
        0, 0, 255, 0,
        0, 0, 0, 0,
    };
    const uint8_t mask2[16] = {
        0, 0, 0, 0,
        0, 0, 0, 0,
        7, 7, 7, 0,
        0, 0, 0, 7,
    };
    uint32_t labels[16], queue[16];
    uint64_t *sizes = NULL, cap = 0;
    ck_assert_int_eq(rp__metrics_label_components(mask, 4, 4, 1, labels, queue, &sizes, &cap), 2);
    ck_assert_uint_eq(labels[0], 1);
    ck_assert_uint_eq(labels[5], 1);
    ck_assert_uint_eq(labels[10], 1);
    ck_assert_uint_eq(labels[3], 2);
    ck_assert_uint_eq(labels[7], 0);
    ck_assert_uint_eq(labels[1], 0);
    ck_assert_uint_eq(sizes[0], 3);
    ck_assert_uint_eq(sizes[1], 1);
    /* labels continue after the previous image's */
    ck_assert_int_eq(rp__metrics_label_components(mask2, 4, 4, 3, labels, queue, &sizes, &cap), 1);
    ck_assert_uint_eq(labels[8], 3);
    ck_assert_uint_eq(labels[15], 3);
    ck_assert_uint_eq(sizes[2], 4);
    free(sizes);
}
END_TEST

/* ---- AUROC ---------------------------------------------------------------------------------- */

START_TEST(auroc__hand_computed_cases)
{
    double a;
    /* sklearn's documentation example */
    const float s1[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const uint8_t l1[] = {0, 0, 1, 1};
    ck_assert_int_eq(rp_metric_auroc(s1, l1, 4, &a), RP_OK);
    ck_assert_double_eq_tol(a, 0.75, 1e-15);
    /* a tie across classes counts one half */
    const float s2[] = {1.0f, 1.0f};
    const uint8_t l2[] = {0, 1};
    ck_assert_int_eq(rp_metric_auroc(s2, l2, 2, &a), RP_OK);
    ck_assert_double_eq_tol(a, 0.5, 1e-15);
    /* -0 and +0 are one threshold */
    const float s3[] = {-0.0f, 0.0f, 2.0f};
    const uint8_t l3[] = {1, 0, 1};
    ck_assert_int_eq(rp_metric_auroc(s3, l3, 3, &a), RP_OK);
    ck_assert_double_eq_tol(a, 0.75, 1e-15);
    /* perfect and reversed rankings, infinities allowed */
    const float s4[] = {-INFINITY, 0.5f, 0.7f, INFINITY};
    const uint8_t l4[] = {0, 0, 1, 1}, l5[] = {1, 1, 0, 0};
    ck_assert_int_eq(rp_metric_auroc(s4, l4, 4, &a), RP_OK);
    ck_assert_double_eq(a, 1.0);
    ck_assert_int_eq(rp_metric_auroc(s4, l5, 4, &a), RP_OK);
    ck_assert_double_eq(a, 0.0);
}
END_TEST

static void check_auroc_golden(const rp_golden *g, const char *scores_name, const char *labels_name,
                               const char *value_name)
{
    size_t n, nl;
    float *s = rp_golden_floats(g, scores_name, &n);
    uint8_t *l = rp_golden_bytes(g, labels_name, &nl);
    ck_assert_uint_eq(n, nl);
    double a;
    ck_assert_int_eq(rp_metric_auroc(s, l, n, &a), RP_OK);
    ck_assert_double_eq_tol(a, rp_golden_double(g, value_name), 1e-12);
    free(s);
    free(l);
}

START_TEST(auroc__matches_sklearn_with_and_without_ties)
{
    rp_golden g = rp_golden_load(GOLDEN);
    check_auroc_golden(&g, "auroc_cont_scores", "auroc_cont_labels", "auroc_cont");
    check_auroc_golden(&g, "auroc_ties_scores", "auroc_ties_labels", "auroc_ties");
    rp_golden_free(&g);
}
END_TEST

START_TEST(auroc__rejects_bad_inputs_with_messages)
{
    const float s[] = {0.1f, NAN, 0.3f};
    const uint8_t l[] = {0, 1, 1}, same[] = {1, 1, 1}, two[] = {0, 2, 1};
    double a = 5;
    ck_assert_int_eq(rp_metric_auroc(s, l, 0, &a), RP_E_INVALID_ARG);
    ck_assert_double_eq(a, 0.0);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "count is 0"));
    ck_assert_int_eq(rp_metric_auroc(s, l, 3, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "score 1 is NaN"));
    const float ok[] = {0.1f, 0.2f, 0.3f};
    ck_assert_int_eq(rp_metric_auroc(ok, same, 3, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "3 positive and 0 negative"));
    ck_assert_int_eq(rp_metric_auroc(ok, two, 3, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "label 1 is 2"));
    ck_assert_int_eq(rp_metric_auroc(NULL, l, 3, &a), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_metric_auroc(ok, l, 3, NULL), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_metric_auroc"));
}
END_TEST

/* ---- pixel-level inputs shared by the pixel AUROC and AUPRO tests --------------------------- */

typedef struct pixel_case {
    uint32_t count, height, width;
    float *maps, *maps_quant;
    uint8_t *masks;
    const float *map_ptrs[8], *quant_ptrs[8];
    const uint8_t *mask_ptrs[8];
} pixel_case;

static pixel_case load_pixel_case(const rp_golden *g)
{
    pixel_case c;
    rp_golden_array shape = rp_golden_get(g, "pix_shape");
    int32_t dims[3];
    memcpy(dims, shape.data, sizeof dims);
    c.count = (uint32_t)dims[0];
    c.height = (uint32_t)dims[1];
    c.width = (uint32_t)dims[2];
    ck_assert_uint_le(c.count, 8);
    c.maps = rp_golden_floats(g, "pix_maps", NULL);
    c.maps_quant = rp_golden_floats(g, "pix_maps_quant", NULL);
    c.masks = rp_golden_bytes(g, "pix_masks", NULL);
    const size_t per = (size_t)c.width * c.height;
    for (uint32_t i = 0; i < c.count; i++) {
        c.map_ptrs[i] = c.maps + i * per;
        c.quant_ptrs[i] = c.maps_quant + i * per;
        c.mask_ptrs[i] = c.masks + i * per;
    }
    return c;
}

static void free_pixel_case(pixel_case *c)
{
    free(c->maps);
    free(c->maps_quant);
    free(c->masks);
}

/* Two 1 x 4 images worked out by hand in docs/metrics.md ("A worked example"). */
static const float hand_a[4] = {0.9f, 0.5f, 0.5f, 0.1f}, hand_b[4] = {0.7f, 0.2f, 0.6f, 0.3f};
static const uint8_t hand_ma[4] = {255, 255, 0, 0}, hand_mb[4] = {0, 0, 0, 255};

START_TEST(pixel_auroc__hand_computed_case)
{
    const float *maps[2] = {hand_a, hand_b};
    const uint8_t *masks[2] = {hand_ma, hand_mb};
    double a;
    ck_assert_int_eq(rp_metric_pixel_auroc(maps, masks, 2, 4, 1, &a), RP_OK);
    ck_assert_double_eq_tol(a, 9.5 / 15.0, 1e-15);
}
END_TEST

START_TEST(pixel_auroc__matches_sklearn_on_golden_maps)
{
    rp_golden g = rp_golden_load(GOLDEN);
    pixel_case c = load_pixel_case(&g);
    double a;
    ck_assert_int_eq(rp_metric_pixel_auroc(c.map_ptrs, c.mask_ptrs, c.count, c.width, c.height, &a), RP_OK);
    ck_assert_double_eq_tol(a, rp_golden_double(&g, "pix_auroc"), 1e-12);
    ck_assert_int_eq(rp_metric_pixel_auroc(c.quant_ptrs, c.mask_ptrs, c.count, c.width, c.height, &a), RP_OK);
    ck_assert_double_eq_tol(a, rp_golden_double(&g, "pix_auroc_quant"), 1e-12);
    /* the golden's second image has no defect: a NULL mask means the same */
    const uint8_t *masks_null[8];
    memcpy(masks_null, c.mask_ptrs, sizeof masks_null);
    for (size_t p = 0; p < (size_t)c.width * c.height; p++) ck_assert_uint_eq(c.mask_ptrs[1][p], 0);
    masks_null[1] = NULL;
    double b;
    ck_assert_int_eq(rp_metric_pixel_auroc(c.map_ptrs, masks_null, c.count, c.width, c.height, &b), RP_OK);
    ck_assert_double_eq_tol(b, rp_golden_double(&g, "pix_auroc"), 1e-12);
    free_pixel_case(&c);
    rp_golden_free(&g);
}
END_TEST

/* Independent check at scale: AUROC as the Mann-Whitney statistic from a comparison sort with
 * average ranks for ties, against the library's radix-sorted trapezoids. */
static int cmp_pair(const void *a, const void *b)
{
    const float x = ((const float *)a)[0], y = ((const float *)b)[0];
    return (x > y) - (x < y);
}

START_TEST(pixel_auroc__agrees_with_rank_statistic_on_a_million_pixels)
{
    enum { COUNT = 20, W = 224, H = 224 };
    const size_t per = (size_t)W * H, n = per * COUNT;
    float *maps = malloc(n * sizeof *maps);
    uint8_t *masks = malloc(n);
    float *pairs = malloc(2 * n * sizeof *pairs);
    const float *mp[COUNT];
    const uint8_t *kp[COUNT];
    uint64_t state = 99;
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const uint32_t r = (uint32_t)(state >> 33);
        const size_t x = i % W, y = (i / W) % H;
        masks[i] = (x > 100 && x < 140 && y > 60 + (i / per) && y < 120) ? 255 : 0;
        /* coarse values (many ties) plus a shift on defect pixels */
        maps[i] = (float)(r % 4096) / 64.0f + (masks[i] ? 9.0f : 0.0f);
        pairs[2 * i] = maps[i];
        pairs[2 * i + 1] = masks[i] ? 1.0f : 0.0f;
    }
    for (int m = 0; m < COUNT; m++) {
        mp[m] = maps + m * per;
        kp[m] = masks + m * per;
    }
    double a;
    ck_assert_int_eq(rp_metric_pixel_auroc(mp, kp, COUNT, W, H, &a), RP_OK);
    qsort(pairs, n, 2 * sizeof(float), cmp_pair);
    double rank_sum = 0, positives = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && pairs[2 * j] == pairs[2 * i]) j++;
        const double avg_rank = 0.5 * (double)(i + 1 + j); /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (pairs[2 * k + 1] != 0.0f) {
                rank_sum += avg_rank;
                positives += 1;
            }
        i = j;
    }
    const double negatives = (double)n - positives;
    const double u = rank_sum - positives * (positives + 1) / 2;
    ck_assert_double_eq_tol(a, u / (positives * negatives), 1e-9);
    free(maps);
    free(masks);
    free(pairs);
}
END_TEST

/* ---- AUPRO --------------------------------------------------------------------------------- */

START_TEST(aupro__hand_computed_case_with_ties_and_interpolation)
{
    const float *maps[2] = {hand_a, hand_b};
    const uint8_t *masks[2] = {hand_ma, hand_mb};
    double a;
    /* curve (0,0) (0,.25) (.2,.25) (.4,.25) (.6,.5) (.6,1) (.8,1) (1,1) (1,1) */
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 2, 4, 1, 0.0, &a), RP_OK);
    ck_assert_double_eq_tol(a, 0.25, 1e-15);
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 2, 4, 1, 0.5, &a), RP_OK);
    ck_assert_double_eq_tol(a, 0.13125 / 0.5, 1e-15);
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 2, 4, 1, 1.0, &a), RP_OK);
    ck_assert_double_eq_tol(a, 0.575, 1e-15);
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 2, 4, 1, 0.4, &a), RP_OK); /* limit on a curve point */
    ck_assert_double_eq_tol(a, 0.25, 1e-15);
}
END_TEST

START_TEST(aupro__matches_official_mvtec_procedure_on_golden_maps)
{
    rp_golden g = rp_golden_load(GOLDEN);
    pixel_case c = load_pixel_case(&g);
    static const struct {
        double limit;
        const char *tag;
    } limits[] = {{0.0, "30"}, {0.05, "05"}, {1.0, "100"}};
    char name[64];
    for (size_t i = 0; i < 3; i++) {
        double a;
        /* The reference keeps its FPRs in float32 (as the official code does): ~1e-7 apart. */
        ck_assert_int_eq(rp_metric_aupro(c.map_ptrs, c.mask_ptrs, c.count, c.width, c.height, limits[i].limit, &a),
                         RP_OK);
        snprintf(name, sizeof name, "pix_aupro_%s", limits[i].tag);
        ck_assert_double_eq_tol(a, rp_golden_double(&g, name), 2e-6);
        ck_assert_int_eq(
            rp_metric_aupro(c.quant_ptrs, c.mask_ptrs, c.count, c.width, c.height, limits[i].limit, &a), RP_OK);
        snprintf(name, sizeof name, "pix_quant_aupro_%s", limits[i].tag);
        ck_assert_double_eq_tol(a, rp_golden_double(&g, name), 2e-6);
    }
    free_pixel_case(&c);
    rp_golden_free(&g);
}
END_TEST

START_TEST(aupro__rejects_bad_inputs_with_messages)
{
    const float *maps[2] = {hand_a, hand_b};
    const uint8_t *masks[2] = {hand_ma, hand_mb};
    const uint8_t none[4] = {0, 0, 0, 0}, all[4] = {1, 1, 1, 1};
    double a = 3;
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 2, 4, 1, 1.5, &a), RP_E_INVALID_ARG);
    ck_assert_double_eq(a, 0.0);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "fpr_limit 1.5"));
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 2, 4, 1, -0.1, &a), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 2, 4, 1, NAN, &a), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_metric_aupro(maps, masks, 0, 4, 1, 0, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "count 0"));
    const uint8_t *no_defect[2] = {none, NULL};
    ck_assert_int_eq(rp_metric_aupro(maps, no_defect, 2, 4, 1, 0, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "0 defect regions"));
    const uint8_t *all_defect[2] = {all, all};
    ck_assert_int_eq(rp_metric_aupro(maps, all_defect, 2, 4, 1, 0, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "0 normal pixels"));
    const float nan_map[4] = {0, 0, NAN, 0};
    const float *with_nan[2] = {hand_a, nan_map};
    ck_assert_int_eq(rp_metric_aupro(with_nan, masks, 2, 4, 1, 0, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "maps[1] pixel (2, 0) is NaN"));
    const float *null_map[2] = {hand_a, NULL};
    ck_assert_int_eq(rp_metric_aupro(null_map, masks, 2, 4, 1, 0, &a), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_metric_pixel_auroc(with_nan, masks, 2, 4, 1, &a), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_metric_pixel_auroc(maps, no_defect, 2, 4, 1, &a), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "0 positive and 8 negative"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, float_key__orders_like_floats_and_ties_signed_zeros);
    tcase_add_test(tc, radix_sort__sorts_by_key_and_is_stable);
    tcase_add_test(tc, components__diagonal_neighbours_join_one_region);
    tcase_add_test(tc, auroc__hand_computed_cases);
    tcase_add_test(tc, auroc__matches_sklearn_with_and_without_ties);
    tcase_add_test(tc, auroc__rejects_bad_inputs_with_messages);
    tcase_add_test(tc, pixel_auroc__hand_computed_case);
    tcase_add_test(tc, pixel_auroc__matches_sklearn_on_golden_maps);
    tcase_add_test(tc, pixel_auroc__agrees_with_rank_statistic_on_a_million_pixels);
    tcase_add_test(tc, aupro__hand_computed_case_with_ties_and_interpolation);
    tcase_add_test(tc, aupro__matches_official_mvtec_procedure_on_golden_maps);
    tcase_add_test(tc, aupro__rejects_bad_inputs_with_messages);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
