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
#include <math.h>
#include <omp.h>
#include <reconpatch/bank.h>

#include "bank/knn.h"
#include "bank/knn_int8.h"
#include "bank_test_data.h"
#include "rp_test.h"

static rp_bank *frozen_with(const float *v, uint64_t n, uint32_t dim, uint32_t int8)
{
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.knn_int8 = int8;
    rp_bank *bank = NULL;
    int rc = rp_bank_create_frozen(v, n, dim, &p, &bank);
    ck_assert_msg(rc == RP_OK, "rp_bank_create_frozen: %s", rp_last_error_message());
    return bank;
}

static double direct_sq(const float *a, const float *b, uint32_t dim)
{
    double s = 0;
    for (uint32_t d = 0; d < dim; d++) {
        double diff = (double)a[d] - b[d];
        s += diff * diff;
    }
    return s;
}

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

/* 1 when query q satisfies the gap condition above for k (brute force over the bank). */
static int gap_condition_holds(const float *bank, uint64_t n, uint32_t dim, const float *q, uint32_t k)
{
    double sq, q1, e_max = 0;
    scale_and_l1(q, dim, &sq, &q1);
    double *d2 = malloc(n * sizeof(double));
    for (uint64_t j = 0; j < n; j++) {
        double sb, b1;
        scale_and_l1(bank + j * dim, dim, &sb, &b1);
        d2[j] = direct_sq(q, bank + j * dim, dim);
        /* quantisation bound, 1% margin, plus the float formula's rounding (generously) */
        double e = 2.0 * (sq / 2 * b1 + sb / 2 * q1 + dim * sq * sb / 4) * 1.01 + 1e-5 * (q1 * q1 + b1 * b1);
        e_max = fmax(e_max, e);
    }
    /* the k-th and (k+9)-th smallest by partial selection */
    double kth = 0, k9th = 0;
    for (uint32_t r = 0; r < k + 9 && r < n; r++) {
        uint64_t best = r;
        for (uint64_t j = r + 1; j < n; j++)
            if (d2[j] < d2[best]) best = j;
        double t = d2[r];
        d2[r] = d2[best];
        d2[best] = t;
        if (r + 1 == k) kth = d2[r];
        if (r + 1 == k + 9) k9th = d2[r];
    }
    free(d2);
    return n >= k + 9 && k9th > kth + 2 * e_max;
}

/* Every returned distance equals the double-precision direct distance of the returned index
 * (within float rounding), ascending. */
static void assert_distances_exact(const float *bank, uint32_t dim, const float *q, uint64_t nq, uint32_t k,
                                   const float *dist, const uint64_t *idx)
{
    for (uint64_t r = 0; r < nq; r++)
        for (uint32_t i = 0; i < k; i++) {
            const double want = sqrt(direct_sq(q + r * dim, bank + idx[r * k + i] * dim, dim));
            const double got = dist[r * k + i];
            ck_assert_msg(fabs(got - want) <= 1e-6 * want || (want == 0 && got == 0),
                          "query %llu rank %u: distance %.9g, direct %.9g", (unsigned long long)r, i, got, want);
            if (i) ck_assert(dist[r * k + i - 1] <= dist[r * k + i]);
        }
}

/* int8 vs fp32 on the same data: identical wherever the gap condition holds; returns how many
 * queries met it. */
static uint64_t compare_with_fp32(const float *v, uint64_t n, uint32_t dim, const float *q, uint64_t nq, uint32_t k)
{
    rp_bank *b32 = frozen_with(v, n, dim, 0), *b8 = frozen_with(v, n, dim, 1);
    float *d32 = malloc(nq * k * sizeof(float)), *d8 = malloc(nq * k * sizeof(float));
    uint64_t *i32 = malloc(nq * k * sizeof(uint64_t)), *i8 = malloc(nq * k * sizeof(uint64_t));
    ck_assert_int_eq(rp_bank_search(b32, q, (size_t)nq * rp_bank_dim(b32), nq, k, d32, (size_t)nq * k, i32, (size_t)nq * k), RP_OK);
    ck_assert_int_eq(rp_bank_search(b8, q, (size_t)nq * rp_bank_dim(b8), nq, k, d8, (size_t)nq * k, i8, (size_t)nq * k), RP_OK);
    assert_distances_exact(v, dim, q, nq, k, d8, i8);
    uint64_t met = 0;
    for (uint64_t r = 0; r < nq; r++) {
        if (!gap_condition_holds(v, n, dim, q + r * dim, k)) continue;
        met++;
        for (uint32_t i = 0; i < k; i++) {
            ck_assert_msg(i8[r * k + i] == i32[r * k + i], "query %llu rank %u: int8 index %llu, fp32 %llu",
                          (unsigned long long)r, i, (unsigned long long)i8[r * k + i],
                          (unsigned long long)i32[r * k + i]);
            ck_assert_msg(d8[r * k + i] == d32[r * k + i], "query %llu rank %u: int8 distance %.9g, fp32 %.9g",
                          (unsigned long long)r, i, d8[r * k + i], d32[r * k + i]);
        }
    }
    free(d32);
    free(d8);
    free(i32);
    free(i8);
    rp_bank_free(b32);
    rp_bank_free(b8);
    return met;
}

START_TEST(knn_int8__equals_fp32_on_random_data_where_gaps_exceed_the_quantisation_error)
{
    /* a full bank block plus a partial one, and a partial query block */
    const uint64_t n = RP__KNN_BANK_BLOCK + 300, nq = RP__KNN_QUERY_BLOCK + 45;
    const uint32_t dim = 8, k = 1;
    float *v = bank_test_vectors(n, dim, 41, 0);
    float *q = bank_test_vectors(nq, dim, 42, 0);
    uint64_t met = compare_with_fp32(v, n, dim, q, nq, k);
    ck_assert_msg(met * 2 >= nq, "the gap condition held for only %llu of %llu queries", (unsigned long long)met,
                  (unsigned long long)nq);
    free(v);
    free(q);
}
END_TEST

START_TEST(knn_int8__equals_fp32_for_queries_near_bank_vectors_where_gaps_exceed_the_error)
{
    const uint64_t n = 3000, nq = 300;
    const uint32_t dim = 8;
    float *v = bank_test_vectors(n, dim, 43, 0);
    /* queries: bank vectors moved by a small offset, so each has one clearly nearest vector */
    float *q = malloc(nq * dim * sizeof(float));
    float *noise = bank_test_vectors(nq, dim, 44, 0);
    for (uint64_t r = 0; r < nq; r++)
        for (uint32_t d = 0; d < dim; d++) q[r * dim + d] = v[(r * 7 % n) * dim + d] + 0.05f * noise[r * dim + d];
    uint64_t met = compare_with_fp32(v, n, dim, q, nq, 1);
    ck_assert_msg(met * 10 >= nq * 9, "the gap condition held for only %llu of %llu queries", (unsigned long long)met,
                  (unsigned long long)nq);
    free(v);
    free(q);
    free(noise);
}
END_TEST

START_TEST(knn_int8__clustered_data_gives_exact_distances_and_mostly_the_fp32_neighbours)
{
    /* Clustered data (8 tight clusters far apart) never meets the worst-case gap condition: its
     * L1 bound exceeds the spread inside a cluster. Distances stay exact, identity holds where
     * the condition does, and on this seeded data the int8 ranking still finds the fp32 nearest
     * neighbour for at least 95% of the queries (a fixed, deterministic outcome, not a timing). */
    const uint64_t n = 3000, nq = 300;
    const uint32_t dim = 32, k = 3;
    float *v = bank_test_vectors(n, dim, 51, 1);
    float *q = bank_test_vectors(nq, dim, 52, 1);
    compare_with_fp32(v, n, dim, q, nq, k);
    rp_bank *b32 = frozen_with(v, n, dim, 0), *b8 = frozen_with(v, n, dim, 1);
    uint64_t i32[300], i8[300], same = 0;
    float d32[300], d8[300];
    ck_assert_int_eq(rp_bank_search(b32, q, (size_t)nq * rp_bank_dim(b32), nq, 1, d32, (size_t)nq * 1, i32, (size_t)nq * 1), RP_OK);
    ck_assert_int_eq(rp_bank_search(b8, q, (size_t)nq * rp_bank_dim(b8), nq, 1, d8, (size_t)nq * 1, i8, (size_t)nq * 1), RP_OK);
    for (uint64_t r = 0; r < nq; r++) same += i32[r] == i8[r];
    ck_assert_msg(same * 100 >= nq * 95, "int8 found the fp32 nearest neighbour for %llu of %llu queries",
                  (unsigned long long)same, (unsigned long long)nq);
    rp_bank_free(b32);
    rp_bank_free(b8);
    free(v);
    free(q);
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
    rp_bank *b32 = frozen_with(v, 40, 2, 0), *b8 = frozen_with(v, 40, 2, 1);
    float d32, d8;
    uint64_t i32, i8;
    ck_assert_int_eq(rp_bank_search(b32, q, rp_bank_dim(b32), 1, 1, &d32, 1, &i32, 1), RP_OK);
    ck_assert_int_eq(rp_bank_search(b8, q, rp_bank_dim(b8), 1, 1, &d8, 1, &i8, 1), RP_OK);
    ck_assert_uint_eq(i32, 39);
    ck_assert_uint_lt(i8, 1 + RP__KNN_EXTRA_CANDIDATES);
    ck_assert(d8 > d32);
    assert_distances_exact(v, 2, q, 1, 1, &d8, &i8);
    rp_bank_free(b32);
    rp_bank_free(b8);
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
    rp_bank *bank = frozen_with(v, n, dim, 1);
    float *dist = malloc(nq * k * sizeof(float));
    uint64_t *idx = malloc(nq * k * sizeof(uint64_t));
    ck_assert_int_eq(rp_bank_search(bank, q, (size_t)nq * rp_bank_dim(bank), nq, k, dist, (size_t)nq * k, idx, (size_t)nq * k), RP_OK);
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
    /* an offset and tiny differences: |q|^2 + |b|^2 - 2 q.b (about 1000 - 1000) cancels to noise
     * far above the true d^2 (about 1e-7); the int8 formula is off by about 1 here, still far
     * below the d^2 of about 40 to any other vector, so the source vector stays a candidate (the
     * worst-case gap condition itself is not met: its L1 bound is loose) */
    const uint64_t n = 1000, nq = 100;
    const uint32_t dim = 64;
    float *v = bank_test_vectors(n, dim, 47, 0);
    for (size_t i = 0; i < n * dim; i++) v[i] = v[i] + 4.0f;
    float *q = malloc(nq * dim * sizeof(float));
    float *noise = bank_test_vectors(nq, dim, 48, 0);
    for (uint64_t r = 0; r < nq; r++)
        for (uint32_t d = 0; d < dim; d++)
            q[r * dim + d] = v[(r * 11 % n) * dim + d] + noise[r * dim + d] * 1e-4f * (float)(1 + r % 5);
    rp_bank *bank = frozen_with(v, n, dim, 1);
    float dist[2 * 100];
    uint64_t idx[2 * 100];
    ck_assert_int_eq(rp_bank_search(bank, q, (size_t)nq * rp_bank_dim(bank), nq, 2, dist, (size_t)nq * 2, idx, (size_t)nq * 2), RP_OK);
    assert_distances_exact(v, dim, q, nq, 2, dist, idx);
    for (uint64_t r = 0; r < nq; r++) {
        ck_assert_uint_eq(idx[r * 2], r * 11 % n);
        ck_assert(dist[r * 2] > 0.0f && dist[r * 2] < 1e-2f);
    }
    free(v);
    free(q);
    free(noise);
    rp_bank_free(bank);
}
END_TEST

START_TEST(knn_int8__one_and_two_threads_give_identical_results)
{
    const uint64_t n = RP__KNN_BANK_BLOCK + 100, nq = 4 * RP__KNN_QUERY_BLOCK + 10;
    const uint32_t dim = 48, k = 4;
    float *v = bank_test_vectors(n, dim, 49, 1);
    float *q = bank_test_vectors(nq, dim, 50, 1);
    rp_bank *bank = frozen_with(v, n, dim, 1);
    float *d[2];
    uint64_t *i[2];
    const int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        d[t] = malloc(nq * k * sizeof(float));
        i[t] = malloc(nq * k * sizeof(uint64_t));
        omp_set_num_threads(t + 1);
        ck_assert_int_eq(rp_bank_search(bank, q, (size_t)nq * rp_bank_dim(bank), nq, k, d[t], (size_t)nq * k, i[t], (size_t)nq * k), RP_OK);
    }
    omp_set_num_threads(saved);
    ck_assert_int_eq(memcmp(d[0], d[1], nq * k * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(i[0], i[1], nq * k * sizeof(uint64_t)), 0);
    for (int t = 0; t < 2; t++) free(d[t]), free(i[t]);
    free(v);
    free(q);
    rp_bank_free(bank);
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
