/* The opt-in int8 kNN (rp_bank_params.knn_int8) against the fp32 search and a double-precision
 * brute force.
 *
 * When it must agree with the fp32 search: the int8 products only pick k + 8 candidates, which
 * are re-ranked exactly. With q = s_q Q + e_q, |e_q[d]| <= s_q / 2 (likewise b), the approximate
 * squared distance is off by at most
 *     E(q, b) = 2 (s_q / 2 |b|_1 + s_b / 2 |q|_1 + dim s_q s_b / 4) + float rounding.
 * A true top-k neighbour a can only be dropped if k + 8 candidates rank at or before it, at least
 * 9 of them outside the true top k, each with true d^2 <= d^2(a) + 2 E <= d^2_k + 2 E. So when
 *     d^2_(k+9) > d^2_k + 2 E_max(q)      (ranks 1-based, E_max over the bank)
 * every true top-k neighbour is a candidate, and the exact re-ranking returns exactly what the
 * fp32 search returns. The tests check that identity wherever the condition holds (and that it
 * holds for most queries, so the check is not vacuous), and exact distances everywhere. */
#include "bank/knn_int8.h"
#include "knn_ranking_checks.h"

static void select_int8(rp_bank_params *p) { p->knn_int8 = 1; }

/* max|v| / 127 and |v|_1, in double */
static void scale_and_l1(const float *v, uint32_t dim, double *scale, double *l1)
{
    double m = 0, s = 0;
    for (uint32_t d = 0; d < dim; d++) {
        m = fmax(m, fabs(v[d]));
        s += fabs(v[d]);
    }
    *scale = m / 127.0;
    *l1 = s;
}

/* E(q, b) above, with 1% margin, plus the float formula's rounding (generously) */
static double int8_bound(const float *q, const float *b, uint32_t dim)
{
    double sq, q1, sb, b1;
    scale_and_l1(q, dim, &sq, &q1);
    scale_and_l1(b, dim, &sb, &b1);
    return 2.0 * (sq / 2 * b1 + sb / 2 * q1 + dim * sq * sb / 4) * 1.01 + 1e-5 * (q1 * q1 + b1 * b1);
}

static const knn_ranking int8_ranking = {"int8", select_int8, int8_bound};

START_TEST(knn_int8__equals_fp32_on_random_data_where_gaps_exceed_the_quantisation_error)
{
    check_uniform_data(&int8_ranking, 8);
}
END_TEST

START_TEST(knn_int8__equals_fp32_for_queries_near_bank_vectors_where_gaps_exceed_the_error)
{
    check_queries_near_bank_vectors(&int8_ranking, 8);
}
END_TEST

START_TEST(knn_int8__clustered_data_gives_exact_distances_and_mostly_the_fp32_neighbours)
{
    /* Clustered data never meets the worst-case gap condition (its L1 bound exceeds the spread
     * inside a cluster), yet the int8 ranking finds the fp32 nearest neighbour for at least 95 %
     * of the queries. */
    check_clustered(&int8_ranking, 32, 3, 95);
}
END_TEST

/* 40 vectors (1, 0.0001 j) and the query (1, 0.0039): the true nearest is j = 39, but every
 * second coordinate is below half a quantisation step (1/127), so all vectors quantise alike and
 * the int8 ranking orders them by |b|^2, i.e. by j ascending: k + 8 candidates from the start. */
static float *hidden_below_step(float *q)
{
    float *v = malloc(40 * 2 * sizeof(float));
    for (int j = 0; j < 40; j++) v[2 * j] = 1.0f, v[2 * j + 1] = 0.0001f * (float)j;
    q[0] = 1.0f;
    q[1] = 0.0039f;
    return v;
}

START_TEST(knn_int8__misses_a_neighbour_hidden_below_the_quantisation_step)
{
    /* the documented failure mode: fp32 finds j = 39, int8 does not (its distance is exact) */
    float q[2];
    float *v = hidden_below_step(q);
    check_hidden_neighbour_is_missed(&int8_ranking, v, q, 39);
    free(v);
}
END_TEST

START_TEST(knn_int8__distances_of_returned_neighbours_are_exact_even_when_ranks_differ)
{
    /* dim 256 uniform: neighbours are nearly equidistant, the gap condition fails, the int8
     * ranking may pick other neighbours than fp32; their distances are still exact */
    const uint64_t n = 2000, nq = 200;
    const uint32_t dim = 256, k = 5;
    float *v = bank_test_vectors(n, dim, 45, 0);
    float *q = bank_test_vectors(nq, dim, 46, 0);
    rp_bank *bank = ranking_bank(&int8_ranking, v, n, dim);
    float *dist = malloc(nq * k * sizeof(float));
    uint64_t *idx = malloc(nq * k * sizeof(uint64_t));
    ranking_search(bank, q, nq, k, dist, idx);
    assert_distances_exact(v, dim, q, nq, k, dist, idx);
    free(dist);
    free(idx);
    free(v);
    free(q);
    rp_bank_free(bank);
}
END_TEST

START_TEST(knn_int8__near_duplicates_come_back_with_exact_distances)
{
    check_near_duplicates(&int8_ranking); /* the int8 formula is off by about 1 there */
}
END_TEST

START_TEST(knn_int8__one_and_two_threads_give_identical_results)
{
    check_thread_count_independence(&int8_ranking);
}
END_TEST

START_TEST(knn_int8__too_short_params_struct_reads_as_fp32)
{
    /* a caller built against the struct before knn_int8: the field after its end is not read;
     * the data tells int8 and fp32 apart (previous test) */
    float q[2];
    float *v = hidden_below_step(q);
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.struct_size = offsetof(rp_bank_params, knn_int8);
    p.knn_int8 = 1;
    rp_bank *short_p = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(v, 40, 2, &p, &short_p), RP_OK);
    float d;
    uint64_t i;
    ck_assert_int_eq(rp_bank_search(short_p, q, rp_bank_dim(short_p), 1, 1, &d, 1, &i, 1), RP_OK);
    ck_assert_uint_eq(i, 39); /* what fp32 finds; int8 would not */
    rp_bank_free(short_p);
    /* the full struct with knn_int8 = 1 does switch */
    p.struct_size = sizeof p;
    rp_bank *int8 = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(v, 40, 2, &p, &int8), RP_OK);
    ck_assert_int_eq(rp_bank_search(int8, q, rp_bank_dim(int8), 1, 1, &d, 1, &i, 1), RP_OK);
    ck_assert_uint_ne(i, 39);
    rp_bank_free(int8);
    free(v);
}
END_TEST

START_TEST(quantise__rounds_each_element_to_the_nearest_step_of_max_over_127)
{
    /* every length 1..70 (vector body and tail), signs mixed, one all-zero row */
    for (uint32_t dim = 1; dim <= 70; dim++) {
        float *v = bank_test_vectors(1, dim, 60 + dim, 0);
        if (dim == 33) memset(v, 0, dim * sizeof(float));
        int8_t out[70];
        const float s = rp__knn_quantise_row(v, dim, out);
        double max = 0;
        for (uint32_t d = 0; d < dim; d++) max = fmax(max, fabs(v[d]));
        ck_assert_msg(fabs(s - max / 127.0) <= 1e-7 * max, "dim %u: scale %.9g, want %.9g", dim, s, max / 127.0);
        for (uint32_t d = 0; d < dim; d++) {
            ck_assert_int_le(abs(out[d]), 127);
            /* the nearest step: within half a step (plus float rounding of v * 127 / max) */
            ck_assert_msg(fabs(out[d] * (double)s - v[d]) <= s * (0.5 + 1e-5), "dim %u element %u: %d for %.9g (s %.9g)",
                          dim, d, out[d], v[d], s);
        }
        free(v);
    }
    /* the largest element maps to +-127 exactly; ties round away from zero */
    const float v[4] = {-2.0f, 1.0f, 2.0f, 1.0f / 127.0f * 2.0f * 0.5f};
    int8_t out[4];
    ck_assert_float_eq(rp__knn_quantise_row(v, 4, out), 2.0f / 127.0f);
    ck_assert_int_eq(out[0], -127);
    ck_assert_int_eq(out[2], 127);
    ck_assert_int_eq(out[1], 64); /* 63.5 */
    ck_assert_int_eq(out[3], 1);  /* 0.5 */
}
END_TEST

int main(void)
{
    if (!rp__knn_int8_supported()) {
        printf("SKIP: oneDNN reports no AVX-512 VNNI, the int8 kNN is unavailable\n");
        rp_bank_params p;
        rp_bank_params_init(&p, sizeof p);
        p.knn_int8 = 1;
        const float v[4] = {1, 2, 3, 4};
        rp_bank *bank = NULL;
        if (rp_bank_create_frozen(v, 2, 2, &p, &bank) != RP_E_UNSUPPORTED || bank) {
            printf("knn_int8 on a CPU without VNNI did not fail with RP_E_UNSUPPORTED\n");
            return 1;
        }
        return 77;
    }
    Suite *s = suite_create("bank_knn_int8");
    TCase *tc = tcase_create("bank_knn_int8");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, knn_int8__equals_fp32_on_random_data_where_gaps_exceed_the_quantisation_error);
    tcase_add_test(tc, knn_int8__equals_fp32_for_queries_near_bank_vectors_where_gaps_exceed_the_error);
    tcase_add_test(tc, knn_int8__clustered_data_gives_exact_distances_and_mostly_the_fp32_neighbours);
    tcase_add_test(tc, knn_int8__misses_a_neighbour_hidden_below_the_quantisation_step);
    tcase_add_test(tc, knn_int8__distances_of_returned_neighbours_are_exact_even_when_ranks_differ);
    tcase_add_test(tc, knn_int8__near_duplicates_come_back_with_exact_distances);
    tcase_add_test(tc, knn_int8__one_and_two_threads_give_identical_results);
    tcase_add_test(tc, knn_int8__too_short_params_struct_reads_as_fp32);
    tcase_add_test(tc, quantise__rounds_each_element_to_the_nearest_step_of_max_over_127);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
