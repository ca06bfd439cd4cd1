/* The report's ROC and PRO curves (cli/rp_curves.c) against the library's metrics, an
 * independent implementation: each curve's area must equal rp_metric_auroc / rp_metric_aupro, and
 * its points must be a monotone path from (0, 0) to the FPR limit. Random maps with ties and
 * several regions per mask, plus a small case worked by hand. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include <reconpatch/reconpatch.h>

#include "rp_curves.h"

/* xorshift: the same data on every run. */
static uint32_t rng_state = 12345;
static uint32_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void assert_monotone(const curve *c, double x_end)
{
    ck_assert_uint_ge(c->count, 2);
    ck_assert(c->points[0].x == 0 && c->points[0].y == 0);
    for (size_t i = 1; i < c->count; i++) {
        ck_assert(c->points[i].x >= c->points[i - 1].x);
        ck_assert(c->points[i].y >= c->points[i - 1].y - 1e-12);
    }
    ck_assert_double_eq_tol(c->points[c->count - 1].x, x_end, 1e-12);
}

START_TEST(roc__area_equals_rp_metric_auroc_with_ties)
{
    enum { N = 500 };
    float scores[N];
    uint8_t labels[N];
    for (int i = 0; i < N; i++) {
        labels[i] = next_random() % 3 == 0;
        /* few distinct values, so that ties between classes occur */
        scores[i] = (float)(next_random() % 40) + (labels[i] ? 8.0f : 0.0f);
    }
    curve c;
    ck_assert_int_eq(curve_roc(scores, labels, N, &c), 0);
    double auroc;
    ck_assert_int_eq(rp_metric_auroc(scores, labels, N, &auroc), RP_OK);
    ck_assert_double_eq_tol(c.area, auroc, 1e-12);
    assert_monotone(&c, 1.0);
    ck_assert_double_eq_tol(c.points[c.count - 1].y, 1.0, 1e-12);
    curve_free(&c);
}
END_TEST

START_TEST(roc__hand_worked_case)
{
    /* Scores 4 (defect), 3 (good), 2 (defect), 1 (good): points (0,0) (0,.5) (.5,.5) (.5,1) (1,1), area 0.75. */
    const float scores[] = {1, 2, 3, 4};
    const uint8_t labels[] = {0, 1, 0, 1};
    curve c;
    ck_assert_int_eq(curve_roc(scores, labels, 4, &c), 0);
    ck_assert_uint_eq(c.count, 5);
    const double want[5][2] = {{0, 0}, {0, 0.5}, {0.5, 0.5}, {0.5, 1}, {1, 1}};
    for (int i = 0; i < 5; i++) {
        ck_assert_double_eq_tol(c.points[i].x, want[i][0], 1e-12);
        ck_assert_double_eq_tol(c.points[i].y, want[i][1], 1e-12);
    }
    ck_assert_double_eq_tol(c.area, 0.75, 1e-12);
    curve_free(&c);
}
END_TEST

START_TEST(roc__one_class_is_refused)
{
    const float scores[] = {1, 2};
    const uint8_t labels[] = {0, 0};
    curve c;
    ck_assert_int_eq(curve_roc(scores, labels, 2, &c), -1);
    ck_assert_ptr_null(c.points);
}
END_TEST

START_TEST(pro__area_equals_rp_metric_aupro)
{
    enum { COUNT = 6, SIDE = 24 };
    float *maps[COUNT];
    uint8_t *masks[COUNT];
    for (int i = 0; i < COUNT; i++) {
        maps[i] = malloc(SIDE * SIDE * sizeof(float));
        masks[i] = NULL;
        if (i % 3) { /* two of three images carry defects: rectangles, two per image, one touching diagonally */
            masks[i] = calloc(SIDE * SIDE, 1);
            for (int y = 3; y < 9; y++)
                for (int x = 2 + i; x < 7 + i; x++) masks[i][y * SIDE + x] = 255;
            for (int y = 9; y < 15; y++)
                for (int x = 7 + i; x < 12 + i; x++) masks[i][y * SIDE + x] = 255;
            for (int y = 18; y < 21; y++)
                for (int x = 15; x < 22; x++) masks[i][y * SIDE + x] = 255;
        }
        for (int p = 0; p < SIDE * SIDE; p++) {
            int defect = masks[i] && masks[i][p];
            maps[i][p] = (float)(next_random() % 64) * 0.25f + (defect ? 6.0f : 0.0f);
        }
    }
    for (int k = 0; k < 3; k++) {
        double limit = k == 0 ? 0.3 : k == 1 ? 0.05 : 1.0;
        curve c;
        ck_assert_int_eq(curve_pro((const float *const *)maps, (const uint8_t *const *)masks, COUNT, SIDE, limit, 50,
                                   &c), 0);
        double aupro;
        ck_assert_int_eq(rp_metric_aupro((const float *const *)maps, (const uint8_t *const *)masks, COUNT, SIDE, SIDE,
                                         limit, &aupro), RP_OK);
        ck_assert_msg(fabs(c.area - aupro) < 1e-9, "limit %g: curve area %.12f, rp_metric_aupro %.12f", limit, c.area,
                      aupro);
        assert_monotone(&c, limit);
        ck_assert_uint_le(c.count, 50);
        curve_free(&c);
    }
    for (int i = 0; i < COUNT; i++) {
        free(maps[i]);
        free(masks[i]);
    }
}
END_TEST

START_TEST(pro__no_defect_pixel_is_refused)
{
    float map[4] = {1, 2, 3, 4};
    const float *maps[1] = {map};
    const uint8_t *masks[1] = {NULL};
    curve c;
    ck_assert_int_eq(curve_pro(maps, masks, 1, 2, 0.3, 10, &c), -1);
    ck_assert_ptr_null(c.points);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_curves");
    TCase *t = tcase_create("curves");
    tcase_add_test(t, roc__area_equals_rp_metric_auroc_with_ties);
    tcase_add_test(t, roc__hand_worked_case);
    tcase_add_test(t, roc__one_class_is_refused);
    tcase_add_test(t, pro__area_equals_rp_metric_aupro);
    tcase_add_test(t, pro__no_defect_pixel_is_refused);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
