/* The opt-in bf16 kNN (rp_bank_params.knn_bf16) against the fp32 search and a double-precision
 * brute force.
 *
 * When it must agree with the fp32 search: the bf16 products only pick k + 8 candidates, which are
 * re-ranked exactly. Rounding to bf16 (8 significant bits) moves each element by at most
 * u |x|, u = 2^-8, so with q' = q + e_q and b' = b + e_b
 *     |q'.b' - q.b| <= (2u + u^2) sum_d |q_d b_d|,
 * and the fp32 accumulation and the formula |q|^2 + |b|^2 - 2 q'.b' add float rounding. The
 * approximate squared distance is therefore off by at most
 *     E(q, b) = 2 (2u + u^2) sum_d |q_d b_d| + float rounding,
 * and, as for int8 (test_bank_knn_int8.c), when d^2_(k+9) > d^2_k + 2 E_max(q) every true top-k
 * neighbour is a candidate and the exact re-ranking returns exactly what the fp32 search returns.
 * The tests check that identity wherever the condition holds (and that it holds often enough not to
 * be vacuous), and exact distances everywhere. */
#include "bank/knn_bf16.h"
#include "knn_ranking_checks.h"

static void select_bf16(rp_bank_params *p) { p->knn_bf16 = 1; }

/* E(q, b) above, with 1% margin, plus the float formula's rounding (generously) */
static double bf16_bound(const float *q, const float *b, uint32_t dim)
{
    const double u = 0x1p-8;
    double abs_dot = 0, qq = 0, bb = 0;
    for (uint32_t d = 0; d < dim; d++) {
        abs_dot += fabs((double)q[d] * b[d]);
        qq += (double)q[d] * q[d];
        bb += (double)b[d] * b[d];
    }
    return 2.0 * (2 * u + u * u) * abs_dot * 1.01 + 1e-5 * (qq + bb);
}

static const knn_ranking bf16_ranking = {"bf16", select_bf16, bf16_bound};

START_TEST(knn_bf16__equals_fp32_on_random_data_where_gaps_exceed_the_rounding_error)
{
    check_uniform_data(&bf16_ranking, 8);
}
END_TEST

START_TEST(knn_bf16__equals_fp32_for_queries_near_bank_vectors_where_gaps_exceed_the_error)
{
    check_queries_near_bank_vectors(&bf16_ranking, 64);
}
END_TEST

START_TEST(knn_bf16__clustered_data_gives_exact_distances_and_the_fp32_neighbours)
{
    /* dim 256 as real patch features: the worst-case bound (sum |q_d b_d| over 256 terms) rarely
     * certifies a query, yet the bf16 ranking finds the fp32 nearest neighbour for at least 99 %
     * of the queries */
    check_clustered(&bf16_ranking, 256, 3, 99);
}
END_TEST

/* 40 vectors (1, 1 + 0.0001 j) and the query (1, 1.0039): the true nearest is j = 39, but bf16's
 * step at 1 is 2^-7 = 0.0078, so every vector and the query round to (1, 1); the bf16 ranking
 * then orders them by |b|^2, i.e. by j ascending: k + 8 candidates from the start. */
static float *hidden_below_step(float *q)
{
    float *v = malloc(40 * 2 * sizeof(float));
    for (int j = 0; j < 40; j++) v[2 * j] = 1.0f, v[2 * j + 1] = 1.0f + 0.0001f * (float)j;
    q[0] = 1.0f;
    q[1] = 1.0039f;
    return v;
}

START_TEST(knn_bf16__misses_a_neighbour_hidden_below_the_rounding_step)
{
    /* the documented failure mode: fp32 finds j = 39, bf16 does not (its distance is exact) */
    float q[2];
    float *v = hidden_below_step(q);
    check_hidden_neighbour_is_missed(&bf16_ranking, v, q, 39);
    free(v);
}
END_TEST

START_TEST(knn_bf16__near_duplicates_come_back_with_exact_distances)
{
    check_near_duplicates(&bf16_ranking); /* bf16 moves q.b by up to about 8 there */
}
END_TEST

START_TEST(knn_bf16__one_and_two_threads_give_identical_results)
{
    check_thread_count_independence(&bf16_ranking);
}
END_TEST

START_TEST(knn_bf16__too_short_params_struct_reads_as_fp32_and_both_rankings_are_refused)
{
    /* a caller built against the struct before knn_bf16: the field after its end is not read;
     * the data tells bf16 and fp32 apart (the test above) */
    float q[2];
    float *v = hidden_below_step(q);
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.struct_size = offsetof(rp_bank_params, knn_bf16);
    p.knn_bf16 = 1;
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(v, 40, 2, &p, &bank), RP_OK);
    float d;
    uint64_t i;
    ranking_search(bank, q, 1, 1, &d, &i);
    ck_assert_uint_eq(i, 39); /* what fp32 finds; bf16 would not */
    rp_bank_free(bank);
    /* the full struct with knn_bf16 = 1 does switch */
    p.struct_size = sizeof p;
    ck_assert_int_eq(rp_bank_create_frozen(v, 40, 2, &p, &bank), RP_OK);
    ranking_search(bank, q, 1, 1, &d, &i);
    ck_assert_uint_ne(i, 39);
    rp_bank_free(bank);
    /* one ranking at a time */
    p.knn_int8 = 1;
    bank = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(v, 40, 2, &p, &bank), RP_E_INVALID_ARG);
    ck_assert_ptr_null(bank);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "knn_int8 and knn_bf16 are both set"));
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_E_INVALID_ARG);
    free(v);
}
END_TEST

/* Round to nearest bf16, ties to even, written out independently of the library's bit trick:
 * keep the upper 16 bits, then look at the 16 dropped ones. A NaN keeps its upper bits with the
 * quiet bit set (vcvtneps2bf16's rule). */
static uint16_t reference_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    const uint32_t kept = u >> 16, dropped = u & 0xffffu;
    if (isnan(f)) return (uint16_t)(kept | 0x0040u);
    if (dropped > 0x8000u || (dropped == 0x8000u && (kept & 1u))) return (uint16_t)(kept + 1u);
    return (uint16_t)kept;
}

START_TEST(to_bf16__rounds_to_nearest_even_in_the_vector_body_and_the_tail)
{
    /* every length 1..70, values of mixed signs and magnitudes, exact ties of both parities, and
     * NaNs (one whose payload lies only in the low bits) in the vector body and in the tail */
    for (uint32_t n = 1; n <= 70; n++) {
        float *v = bank_test_vectors(1, n, 80 + n, 0);
        for (uint32_t i = 0; i < n; i++) v[i] *= (float)(1u << (i % 20)) * 1e-3f;
        if (n > 5) {
            const uint32_t ties[4] = {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x40490fdbu}; /* even, odd, -even, pi */
            for (int t = 0; t < 4; t++) memcpy(&v[t], &ties[t], sizeof v[t]);
            const uint32_t low_payload_nan = 0x7f800001u, negative_quiet_nan = 0xffc00000u;
            memcpy(&v[4], &low_payload_nan, sizeof v[4]);
            memcpy(&v[n - 1], &negative_quiet_nan, sizeof v[n - 1]);
        }
        uint16_t out[70];
        rp__knn_to_bf16(v, n, out);
        for (uint32_t i = 0; i < n; i++)
            ck_assert_msg(out[i] == reference_bf16(v[i]), "length %u element %u: 0x%04x for %.9g, want 0x%04x", n, i,
                          out[i], v[i], reference_bf16(v[i]));
        free(v);
    }
    const float tie_even = 0x1.01p0f, tie_odd = 0x1.03p0f; /* halfway between two bf16 values */
    uint16_t out[2];
    rp__knn_to_bf16((const float[]){tie_even, tie_odd}, 2, out);
    ck_assert_uint_eq(out[0], 0x3f80); /* down to the even 1.0 */
    ck_assert_uint_eq(out[1], 0x3f82); /* up to the even 1.015625 */
}
END_TEST

int main(void)
{
    if (!rp__knn_bf16_supported()) {
        printf("SKIP: oneDNN reports no AVX512-BF16, the bf16 kNN is unavailable\n");
        rp_bank_params p;
        rp_bank_params_init(&p, sizeof p);
        p.knn_bf16 = 1;
        const float v[4] = {1, 2, 3, 4};
        rp_bank *bank = NULL;
        if (rp_bank_create_frozen(v, 2, 2, &p, &bank) != RP_E_UNSUPPORTED || bank ||
            !strstr(rp_last_error_message(), "knn_bf16 needs AVX512-BF16")) {
            printf("knn_bf16 on a CPU without AVX512-BF16 did not fail with RP_E_UNSUPPORTED\n");
            return 1;
        }
        return 77;
    }
    Suite *s = suite_create("bank_knn_bf16");
    TCase *tc = tcase_create("bank_knn_bf16");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, knn_bf16__equals_fp32_on_random_data_where_gaps_exceed_the_rounding_error);
    tcase_add_test(tc, knn_bf16__equals_fp32_for_queries_near_bank_vectors_where_gaps_exceed_the_error);
    tcase_add_test(tc, knn_bf16__clustered_data_gives_exact_distances_and_the_fp32_neighbours);
    tcase_add_test(tc, knn_bf16__misses_a_neighbour_hidden_below_the_rounding_step);
    tcase_add_test(tc, knn_bf16__near_duplicates_come_back_with_exact_distances);
    tcase_add_test(tc, knn_bf16__one_and_two_threads_give_identical_results);
    tcase_add_test(tc, knn_bf16__too_short_params_struct_reads_as_fp32_and_both_rankings_are_refused);
    tcase_add_test(tc, to_bf16__rounds_to_nearest_even_in_the_vector_body_and_the_tail);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
