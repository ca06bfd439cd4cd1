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
#include <math.h>
#include <omp.h>
#include <reconpatch/bank.h>

#include "bank/knn.h"
#include "bank/knn_bf16.h"
#include "bank_test_data.h"
#include "rp_test.h"

static rp_bank *frozen_with(const float *v, uint64_t n, uint32_t dim, uint32_t bf16)
{
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.knn_bf16 = bf16;
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

/* 1 when query q satisfies the gap condition above for k (brute force over the bank). */
static int gap_condition_holds(const float *bank, uint64_t n, uint32_t dim, const float *q, uint32_t k)
{
    const double u = 0x1p-8;
    double *d2 = malloc(n * sizeof(double)), e_max = 0, qq = 0;
    for (uint32_t d = 0; d < dim; d++) qq += (double)q[d] * q[d];
    for (uint64_t j = 0; j < n; j++) {
        const float *b = bank + j * dim;
        double abs_dot = 0, bb = 0;
        for (uint32_t d = 0; d < dim; d++) {
            abs_dot += fabs((double)q[d] * b[d]);
            bb += (double)b[d] * b[d];
        }
        d2[j] = direct_sq(q, b, dim);
        /* the rounding bound with 1% margin, plus the float formula's rounding (generously) */
        const double e = 2.0 * (2 * u + u * u) * abs_dot * 1.01 + 1e-5 * (qq + bb);
        e_max = fmax(e_max, e);
    }
    double kth = 0, k9th = 0;
    for (uint32_t r = 0; r < k + 9 && r < n; r++) { /* partial selection of the k + 9 smallest */
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

static void search_ok(const rp_bank *bank, const float *q, uint64_t nq, uint32_t k, float *dist, uint64_t *idx)
{
    const int rc = rp_bank_search(bank, q, (size_t)nq * rp_bank_dim(bank), nq, k, dist, (size_t)nq * k, idx,
                                  (size_t)nq * k);
    ck_assert_msg(rc == RP_OK, "rp_bank_search: %s", rp_last_error_message());
}

/* bf16 vs fp32 on the same data: identical wherever the gap condition holds; returns how many
 * queries met it, and in *same_nn how many got the fp32 nearest neighbour (condition or not). */
static uint64_t compare_with_fp32(const float *v, uint64_t n, uint32_t dim, const float *q, uint64_t nq, uint32_t k,
                                  uint64_t *same_nn)
{
    rp_bank *b32 = frozen_with(v, n, dim, 0), *b16 = frozen_with(v, n, dim, 1);
    float *d32 = malloc(nq * k * sizeof(float)), *d16 = malloc(nq * k * sizeof(float));
    uint64_t *i32 = malloc(nq * k * sizeof(uint64_t)), *i16 = malloc(nq * k * sizeof(uint64_t));
    search_ok(b32, q, nq, k, d32, i32);
    search_ok(b16, q, nq, k, d16, i16);
    assert_distances_exact(v, dim, q, nq, k, d16, i16);
    uint64_t met = 0, same = 0;
    for (uint64_t r = 0; r < nq; r++) {
        same += i16[r * k] == i32[r * k];
        if (!gap_condition_holds(v, n, dim, q + r * dim, k)) continue;
        met++;
        for (uint32_t i = 0; i < k; i++) {
            ck_assert_msg(i16[r * k + i] == i32[r * k + i], "query %llu rank %u: bf16 index %llu, fp32 %llu",
                          (unsigned long long)r, i, (unsigned long long)i16[r * k + i],
                          (unsigned long long)i32[r * k + i]);
            ck_assert_msg(d16[r * k + i] == d32[r * k + i], "query %llu rank %u: bf16 distance %.9g, fp32 %.9g",
                          (unsigned long long)r, i, d16[r * k + i], d32[r * k + i]);
        }
    }
    if (same_nn) *same_nn = same;
    free(d32);
    free(d16);
    free(i32);
    free(i16);
    rp_bank_free(b32);
    rp_bank_free(b16);
    return met;
}

START_TEST(knn_bf16__equals_fp32_on_random_data_where_gaps_exceed_the_rounding_error)
{
    /* a full bank block plus a partial one, and a partial query block */
    const uint64_t n = RP__KNN_BANK_BLOCK + 300, nq = RP__KNN_QUERY_BLOCK + 45;
    const uint32_t dim = 8, k = 1;
    float *v = bank_test_vectors(n, dim, 41, 0);
    float *q = bank_test_vectors(nq, dim, 42, 0);
    uint64_t met = compare_with_fp32(v, n, dim, q, nq, k, NULL);
    ck_assert_msg(met * 2 >= nq, "the gap condition held for only %llu of %llu queries", (unsigned long long)met,
                  (unsigned long long)nq);
    free(v);
    free(q);
}
END_TEST

START_TEST(knn_bf16__equals_fp32_for_queries_near_bank_vectors_where_gaps_exceed_the_error)
{
    const uint64_t n = 3000, nq = 300;
    const uint32_t dim = 64;
    float *v = bank_test_vectors(n, dim, 43, 0);
    /* queries: bank vectors moved by a small offset, so each has one clearly nearest vector */
    float *q = malloc(nq * dim * sizeof(float));
    float *noise = bank_test_vectors(nq, dim, 44, 0);
    for (uint64_t r = 0; r < nq; r++)
        for (uint32_t d = 0; d < dim; d++) q[r * dim + d] = v[(r * 7 % n) * dim + d] + 0.05f * noise[r * dim + d];
    uint64_t met = compare_with_fp32(v, n, dim, q, nq, 1, NULL);
    ck_assert_msg(met * 10 >= nq * 9, "the gap condition held for only %llu of %llu queries", (unsigned long long)met,
                  (unsigned long long)nq);
    free(v);
    free(q);
    free(noise);
}
END_TEST

START_TEST(knn_bf16__clustered_data_gives_exact_distances_and_the_fp32_neighbours)
{
    /* Clustered data (8 tight clusters far apart), dim 256 as real patch features: the worst-case
     * bound (sum |q_d b_d| over 256 terms) rarely certifies a query, yet on this seeded data the
     * bf16 ranking finds the fp32 nearest neighbour for at least 99% of the queries (a fixed,
     * deterministic outcome), and every distance is exact. */
    const uint64_t n = 3000, nq = 300;
    const uint32_t dim = 256, k = 3;
    float *v = bank_test_vectors(n, dim, 51, 1);
    float *q = bank_test_vectors(nq, dim, 52, 1);
    uint64_t same = 0;
    compare_with_fp32(v, n, dim, q, nq, k, &same);
    ck_assert_msg(same * 100 >= nq * 99, "bf16 found the fp32 nearest neighbour for %llu of %llu queries",
                  (unsigned long long)same, (unsigned long long)nq);
    free(v);
    free(q);
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
    rp_bank *b32 = frozen_with(v, 40, 2, 0), *b16 = frozen_with(v, 40, 2, 1);
    float d32, d16;
    uint64_t i32, i16;
    search_ok(b32, q, 1, 1, &d32, &i32);
    search_ok(b16, q, 1, 1, &d16, &i16);
    ck_assert_uint_eq(i32, 39);
    ck_assert_uint_lt(i16, 1 + RP__KNN_EXTRA_CANDIDATES);
    ck_assert(d16 > d32);
    assert_distances_exact(v, 2, q, 1, 1, &d16, &i16);
    rp_bank_free(b32);
    rp_bank_free(b16);
    free(v);
}
END_TEST

START_TEST(knn_bf16__near_duplicates_come_back_with_exact_distances)
{
    /* an offset and tiny differences: |q|^2 + |b|^2 - 2 q.b (about 1000 - 1000) cancels, and bf16
     * moves q.b by up to about 8 here, far below the d^2 of about 40 to any other vector, so the
     * source vector stays a candidate and its tiny distance comes back exact */
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
    search_ok(bank, q, nq, 2, dist, idx);
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

START_TEST(knn_bf16__one_and_two_threads_give_identical_results)
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
        search_ok(bank, q, nq, k, d[t], i[t]);
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
    search_ok(bank, q, 1, 1, &d, &i);
    ck_assert_uint_eq(i, 39); /* what fp32 finds; bf16 would not */
    rp_bank_free(bank);
    /* the full struct with knn_bf16 = 1 does switch */
    p.struct_size = sizeof p;
    ck_assert_int_eq(rp_bank_create_frozen(v, 40, 2, &p, &bank), RP_OK);
    search_ok(bank, q, 1, 1, &d, &i);
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
 * keep the upper 16 bits, then look at the 16 dropped ones. */
static uint16_t reference_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    const uint32_t kept = u >> 16, dropped = u & 0xffffu;
    if (dropped > 0x8000u || (dropped == 0x8000u && (kept & 1u))) return (uint16_t)(kept + 1u);
    return (uint16_t)kept;
}

START_TEST(to_bf16__rounds_to_nearest_even_in_the_vector_body_and_the_tail)
{
    /* every length 1..70, values of mixed signs and magnitudes, exact ties of both parities */
    for (uint32_t n = 1; n <= 70; n++) {
        float *v = bank_test_vectors(1, n, 80 + n, 0);
        for (uint32_t i = 0; i < n; i++) v[i] *= (float)(1u << (i % 20)) * 1e-3f;
        if (n > 5) {
            const uint32_t ties[4] = {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x40490fdbu}; /* even, odd, -even, pi */
            for (int t = 0; t < 4; t++) memcpy(&v[t], &ties[t], sizeof v[t]);
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
