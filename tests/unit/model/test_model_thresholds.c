/* Thresholds: the conformal quantile rule and the F1 rule against independent computations, the
 * calibration calls, the hold-out in rp_train, and the decision and mask of rp_score_image. */
#include <math.h>

#include "model_fixture.h"
#include "pipeline/pipeline_internal.h"

#define N_TRAIN 8

static char dir[256], weights_path[512];
static rp_image *train_images[N_TRAIN], *good, *defect;
static rp_model *model, *held_out_model;

static uint64_t rng_state = 12345;
static double uniform01(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

START_TEST(quantile__picks_the_kth_smallest_with_k_ceil_n_plus_1_q)
{
    /* Values 1..n in a scrambled order: the k-th smallest is k. */
    static const struct { uint32_t n; double q; double expect; } cases[] = {
        {9, 0.9, 9},       /* ceil(10 x 0.9) = 9 */
        {99, 0.99, 99},    /* ceil(100 x 0.99) = 99, despite 0.99 x 100 rounding */
        {199, 0.99, 198},  /* ceil(200 x 0.99) = 198 */
        {1000, 0.95, 951}, /* ceil(1001 x 0.95) = ceil(950.95) */
        {5, 0.99, 5},      /* k above n: the maximum */
        {3, 0.2, 1},       /* ceil(0.8) = 1 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t n = cases[c].n;
        double *v = malloc(n * sizeof *v);
        for (uint32_t i = 0; i < n; i++) v[i] = (double)((i * 7919u) % n + 1);
        double t;
        ck_assert_int_eq(rp__threshold_quantile(v, n, cases[c].q, &t), RP_OK);
        ck_assert_msg(t == cases[c].expect, "n %u q %g: %g != %g", n, cases[c].q, t, cases[c].expect);
        free(v);
    }
}
END_TEST

/* The property the rule is chosen for: with n exchangeable normal scores, a new one exceeds the
 * threshold with probability 1 - k / (n + 1). Monte Carlo over many calibration sets. */
START_TEST(quantile__false_alarm_rate_matches_the_conformal_bound)
{
    const uint32_t n = 19, reps = 4000, fresh = 50;
    const double q = 0.9; /* k = ceil(20 x 0.9) = 18: expected false alarm rate 2 / 20 = 0.1 */
    double v[19], alarms = 0;
    for (uint32_t r = 0; r < reps; r++) {
        for (uint32_t i = 0; i < n; i++) v[i] = uniform01();
        double t;
        ck_assert_int_eq(rp__threshold_quantile(v, n, q, &t), RP_OK);
        for (uint32_t j = 0; j < fresh; j++) alarms += uniform01() > t;
    }
    double rate = alarms / ((double)reps * fresh);
    /* Per calibration set the rate is Beta-distributed around 0.1 (sd ~ 0.065); over 4000 sets the
     * mean's sd is ~0.001: 0.01 is a wide margin. */
    ck_assert_msg(fabs(rate - 0.1) < 0.01, "false alarm rate %g, expected 0.1", rate);
}
END_TEST

/* F1 of "score > t" computed directly. */
static double f1_direct(const double *s, const uint8_t *l, uint32_t n, double t)
{
    uint32_t tp = 0, fp = 0, fn = 0;
    for (uint32_t i = 0; i < n; i++) {
        int called = s[i] > t;
        tp += called && l[i];
        fp += called && !l[i];
        fn += !called && l[i];
    }
    return tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
}

START_TEST(f1__matches_a_brute_force_search_with_ties)
{
    for (int trial = 0; trial < 300; trial++) {
        uint32_t n = 2 + (uint32_t)(uniform01() * 40);
        double s[64];
        uint8_t l[64];
        uint32_t pos = 0;
        for (uint32_t i = 0; i < n; i++) {
            l[i] = uniform01() < 0.4;
            /* Coarse values make ties common; anomalies a little higher on average. */
            s[i] = floor((uniform01() + 0.5 * l[i]) * 8) / 4;
            pos += l[i];
        }
        if (pos == 0) l[0] = 1;
        if (pos == n) l[0] = 0;
        /* Brute force: every score as a cut, and below all of them. */
        double best = f1_direct(s, l, n, -INFINITY), best_cut = -INFINITY;
        for (uint32_t i = 0; i < n; i++) {
            double f = f1_direct(s, l, n, s[i]);
            if (f > best || (f == best && s[i] > best_cut)) best = f, best_cut = s[i];
        }
        double t, f1;
        ck_assert_int_eq(rp__threshold_f1(s, l, n, &t, &f1), RP_OK);
        ck_assert_msg(f1 == best, "trial %d: F1 %g, brute force %g", trial, f1, best);
        ck_assert_double_eq(f1_direct(s, l, n, t), best);
        /* Ties of F1 go to the highest cut: the threshold splits the scores exactly like it. */
        for (uint32_t i = 0; i < n; i++) ck_assert_int_eq(s[i] > t, s[i] > best_cut);
        /* Halfway between the last normal score and the next one. */
        if (best_cut > -INFINITY) {
            double next = INFINITY;
            for (uint32_t i = 0; i < n; i++)
                if (s[i] > best_cut && s[i] < next) next = s[i];
            ck_assert_double_eq(t, best_cut + (next - best_cut) / 2);
        }
    }
}
END_TEST

/* Image scores and map maxima through the public scoring call. */
static void scores_of(const rp_model *m, rp_image *const *imgs, uint32_t n, double *scores, double *map_max)
{
    for (uint32_t i = 0; i < n; i++) {
        size_t px = (size_t)rp_image_width(imgs[i]) * rp_image_height(imgs[i]);
        float *map = malloc(px * sizeof *map);
        rp_score_result r;
        r.struct_size = sizeof r;
        ck_assert_int_eq(rp_score_image(m, imgs[i], &r, map, px, NULL, 0), RP_OK);
        scores[i] = r.score;
        map_max[i] = map[0];
        for (size_t k = 1; k < px; k++) map_max[i] = fmax(map_max[i], map[k]);
        free(map);
    }
}

static double max_of(const double *v, uint32_t n)
{
    double m = v[0];
    for (uint32_t i = 1; i < n; i++) m = fmax(m, v[i]);
    return m;
}

START_TEST(calibrate__normal_images_give_the_quantile_of_scores_and_map_maxima)
{
    rp_image *calib[3] = {good, train_images[1], train_images[5]};
    double s[3], mx[3];
    scores_of(model, calib, 3, s, mx);
    ck_assert_int_eq(rp_model_calibrate(model, (const rp_image *const *)calib, 3, NULL, NULL, NULL), RP_OK);
    rp_model_thresholds t;
    ck_assert_int_eq(rp_model_get_thresholds(model, &t, sizeof t), RP_OK);
    ck_assert_int_eq(t.rule, RP_THRESHOLD_RULE_QUANTILE);
    ck_assert_uint_eq(t.calibration_images, 3);
    ck_assert_double_eq(t.quantile, 0.99);
    /* n = 3, q = 0.99: k = min(3, ceil(3.96)) = 3, the maximum. */
    ck_assert_double_eq(t.image_threshold, max_of(s, 3));
    ck_assert_double_eq(t.pixel_threshold, max_of(mx, 3));
    /* q = 0.5: k = ceil(2) = 2, the median. */
    rp_calibration_params cp;
    rp_calibration_params_init(&cp, sizeof cp);
    cp.quantile = 0.5;
    ck_assert_int_eq(rp_model_calibrate(model, (const rp_image *const *)calib, 3, &cp, NULL, NULL), RP_OK);
    rp_model_get_thresholds(model, &t, sizeof t);
    double sorted[3] = {s[0], s[1], s[2]};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (sorted[j] < sorted[i]) { double x = sorted[i]; sorted[i] = sorted[j]; sorted[j] = x; }
    ck_assert_double_eq(t.image_threshold, sorted[1]);
    /* Bad quantiles change nothing. */
    cp.quantile = 1.0;
    ck_assert_int_eq(rp_model_calibrate(model, (const rp_image *const *)calib, 3, &cp, NULL, NULL),
                     RP_E_INVALID_ARG);
    rp_model_thresholds after;
    rp_model_get_thresholds(model, &after, sizeof after);
    ck_assert(memcmp(&t, &after, sizeof t) == 0);
}
END_TEST

START_TEST(calibrate_labelled__f1_threshold_separates_and_rejects_one_class)
{
    rp_image *imgs[3] = {good, train_images[2], defect};
    uint8_t labels[3] = {0, 0, 1};
    double s[3], mx[3];
    scores_of(model, imgs, 3, s, mx);
    ck_assert_int_eq(rp_model_calibrate_labelled(model, (const rp_image *const *)imgs, labels, 3, NULL, NULL, NULL),
                     RP_OK);
    rp_model_thresholds t;
    rp_model_get_thresholds(model, &t, sizeof t);
    ck_assert_int_eq(t.rule, RP_THRESHOLD_RULE_F1);
    double expect, f1;
    ck_assert_int_eq(rp__threshold_f1(s, labels, 3, &expect, &f1), RP_OK);
    ck_assert_double_eq(t.image_threshold, expect);
    ck_assert_double_eq(t.f1, f1);
    ck_assert_double_eq(t.pixel_threshold, fmax(mx[0], mx[1])); /* the normal images' rule */
    if (s[2] > fmax(s[0], s[1])) { /* separable: F1 1, threshold halfway */
        ck_assert_double_eq(t.f1, 1.0);
        ck_assert_double_eq(t.image_threshold, fmax(s[0], s[1]) + (s[2] - fmax(s[0], s[1])) / 2);
    }
    uint8_t all_normal[3] = {0, 0, 0}, bad[3] = {0, 2, 1};
    ck_assert_int_eq(rp_model_calibrate_labelled(model, (const rp_image *const *)imgs, all_normal, 3, NULL, NULL,
                                                 NULL), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "at least one normal and one anomalous"));
    ck_assert_int_eq(rp_model_calibrate_labelled(model, (const rp_image *const *)imgs, bad, 3, NULL, NULL, NULL),
                     RP_E_INVALID_ARG);
}
END_TEST

START_TEST(train__calibration_fraction_holds_images_out_of_the_bank)
{
    /* 8 images, fraction 0.25: h = 2, images 3 and 7 (floor((i+1) 2 / 8) steps there). */
    rp_model_thresholds t;
    rp_model_get_thresholds(held_out_model, &t, sizeof t);
    ck_assert_int_eq(t.rule, RP_THRESHOLD_RULE_QUANTILE);
    ck_assert_uint_eq(t.calibration_images, 2);
    rp_extractor_info info;
    info.struct_size = sizeof info;
    rp_extractor_get_info(rp_model_extractor(held_out_model), &info, sizeof info);
    /* coreset 1.0 keeps every patch: exactly the 6 training images went into the bank. */
    ck_assert_uint_eq(rp_bank_size(rp_model_bank(held_out_model)), 6ull * info.grid_size * info.grid_size);
    rp_image *held[2] = {train_images[3], train_images[7]};
    double s[2], mx[2];
    scores_of(held_out_model, held, 2, s, mx);
    ck_assert_double_eq(t.image_threshold, fmax(s[0], s[1]));
    ck_assert_double_eq(t.pixel_threshold, fmax(mx[0], mx[1]));
    ck_assert(t.image_threshold > 0); /* not in the bank, so not at distance 0 */
}
END_TEST

START_TEST(train__calibration_fraction_out_of_range_fails)
{
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = weights_path;
    p.extractor = &ep;
    p.method = RP_METHOD_PATCHCORE;
    rp_model *m = (rp_model *)0x1;
    p.calibration_fraction = 1.0;
    ck_assert_int_eq(rp_train_images((const rp_image *const *)train_images, 2, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    p.calibration_fraction = 0.9; /* round(2 x 0.9) = 2 of 2: nothing left to train on */
    ck_assert_int_eq(rp_train_images((const rp_image *const *)train_images, 2, &p, NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "calibration_fraction"));
}
END_TEST

START_TEST(score__decision_and_mask_follow_the_thresholds)
{
    size_t px = (size_t)rp_image_width(defect) * rp_image_height(defect);
    float *map = malloc(px * sizeof *map);
    uint8_t *mask = malloc(px);
    rp_score_result r;
    r.struct_size = sizeof r;
    /* No thresholds: no decision, NaN threshold, and a mask cannot be drawn. */
    rp_model_thresholds none = {.struct_size = sizeof none, .image_threshold = NAN, .pixel_threshold = NAN};
    ck_assert_int_eq(rp_model_set_thresholds(model, &none), RP_OK);
    ck_assert_int_eq(rp_score_image(model, defect, &r, map, px, NULL, 0), RP_OK);
    ck_assert_int_eq(r.decision, RP_DECISION_NONE);
    ck_assert(isnan(r.threshold));
    memset(mask, 7, px);
    ck_assert_int_eq(rp_score_image(model, defect, &r, NULL, 0, mask, px), RP_E_STATE);
    ck_assert_uint_eq(mask[0], 7);
    /* Thresholds around the score and at the map's median. */
    double lo = map[0], hi = map[0];
    for (size_t i = 0; i < px; i++) lo = fmin(lo, map[i]), hi = fmax(hi, map[i]);
    rp_model_thresholds t = {.struct_size = sizeof t, .image_threshold = r.score - 1e-3,
                             .pixel_threshold = (lo + hi) / 2};
    ck_assert_int_eq(rp_model_set_thresholds(model, &t), RP_OK);
    ck_assert_int_eq(rp_score_image(model, defect, &r, NULL, 0, mask, px), RP_OK);
    ck_assert_int_eq(r.decision, RP_DECISION_ANOMALOUS);
    ck_assert_double_eq(r.threshold, t.image_threshold);
    ck_assert_double_eq(r.pixel_threshold, t.pixel_threshold);
    uint64_t on = 0;
    for (size_t i = 0; i < px; i++) {
        ck_assert_uint_eq(mask[i], map[i] > t.pixel_threshold ? 1 : 0);
        on += mask[i];
    }
    ck_assert_uint_eq(r.mask_pixels, on);
    ck_assert(on > 0 && on < px);
    t.image_threshold = r.score; /* strictly greater is anomalous: equal is normal */
    ck_assert_int_eq(rp_model_set_thresholds(model, &t), RP_OK);
    ck_assert_int_eq(rp_score_image(model, defect, &r, NULL, 0, NULL, 0), RP_OK);
    ck_assert_int_eq(r.decision, RP_DECISION_NORMAL);
    /* Too small a mask buffer: RP_E_SHAPE, nothing written. */
    memset(mask, 7, px);
    ck_assert_int_eq(rp_score_image(model, defect, &r, NULL, 0, mask, px - 1), RP_E_SHAPE);
    ck_assert_uint_eq(mask[0], 7);
    /* An older caller's smaller result struct gets only its own fields. */
    rp_score_result small;
    memset(&small, 0xAB, sizeof small);
    small.struct_size = offsetof(rp_score_result, decision);
    ck_assert_int_eq(rp_score_image(model, defect, &small, NULL, 0, NULL, 0), RP_OK);
    ck_assert_uint_eq(small.struct_size, offsetof(rp_score_result, decision));
    ck_assert_int_eq(small.decision, (int32_t)0xABABABAB);
    t.image_threshold = INFINITY;
    ck_assert_int_eq(rp_model_set_thresholds(model, &t), RP_E_INVALID_ARG);
    free(map);
    free(mask);
}
END_TEST

int main(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights_path, sizeof weights_path, "%s/weights.safetensors", dir);
    if (fixture_write_weights(weights_path, 1)) return 1;
    fixture_train_images(train_images, N_TRAIN);
    good = fixture_image("test/good/005.png");
    defect = fixture_image("test/broken_large/004.png");
    const rp_image *const *imgs = (const rp_image *const *)train_images;
    model = fixture_train(weights_path, RP_METHOD_PATCHCORE, imgs, 4, 64, 0.1, 0);
    held_out_model = fixture_train(weights_path, RP_METHOD_PATCHCORE, imgs, N_TRAIN, 64, 1.0, 0.25);

    Suite *s = suite_create("model_thresholds");
    TCase *tc = tcase_create("thresholds");
    tcase_add_test(tc, quantile__picks_the_kth_smallest_with_k_ceil_n_plus_1_q);
    tcase_add_test(tc, quantile__false_alarm_rate_matches_the_conformal_bound);
    tcase_add_test(tc, f1__matches_a_brute_force_search_with_ties);
    tcase_add_test(tc, calibrate__normal_images_give_the_quantile_of_scores_and_map_maxima);
    tcase_add_test(tc, calibrate_labelled__f1_threshold_separates_and_rejects_one_class);
    tcase_add_test(tc, train__calibration_fraction_holds_images_out_of_the_bank);
    tcase_add_test(tc, train__calibration_fraction_out_of_range_fails);
    tcase_add_test(tc, score__decision_and_mask_follow_the_thresholds);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    rp_model_free(model);
    rp_model_free(held_out_model);
    for (int i = 0; i < N_TRAIN; i++) rp_image_free(train_images[i]);
    rp_image_free(good);
    rp_image_free(defect);
    fixture_remove_dir(dir);
    return rc;
}
