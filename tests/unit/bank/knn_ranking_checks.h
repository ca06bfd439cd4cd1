/* Shared by the tests of the reduced-precision kNN rankings (test_bank_knn_int8.c,
 * test_bank_knn_bf16.c): a ranking only picks k + 8 candidates, re-ranked exactly, so it must return
 * exact distances always, and exactly the fp32 search's neighbours wherever the ranking's error bound
 * leaves fewer than 9 vectors outside the top k within reach:
 *     d^2_(k+9) > d^2_k + 2 E_max(q)      (ranks 1-based, E_max the bound's largest value over the bank)
 * Each test file supplies its ranking's bound E(q, b) and the params that select the ranking. */
#ifndef KNN_RANKING_CHECKS_H
#define KNN_RANKING_CHECKS_H

#include <math.h>
#include <omp.h>
#include <reconpatch/bank.h>

#include "bank/knn.h"
#include "bank_test_data.h"
#include "rp_test.h"

/* The ranking under test: its params field and its bound on |approximate - true| squared distance. */
typedef struct {
    const char *name;                 /* "int8", "bf16": for messages */
    void (*select)(rp_bank_params *p); /* turn the ranking on */
    double (*bound)(const float *q, const float *b, uint32_t dim);
} knn_ranking;

static inline rp_bank *ranking_bank(const knn_ranking *rk, const float *v, uint64_t n, uint32_t dim)
{
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    if (rk) rk->select(&p);
    rp_bank *bank = NULL;
    int rc = rp_bank_create_frozen(v, n, dim, &p, &bank);
    ck_assert_msg(rc == RP_OK, "rp_bank_create_frozen: %s", rp_last_error_message());
    return bank;
}

static inline void ranking_search(const rp_bank *bank, const float *q, uint64_t nq, uint32_t k, float *dist,
                                  uint64_t *idx)
{
    const int rc = rp_bank_search(bank, q, (size_t)nq * rp_bank_dim(bank), nq, k, dist, (size_t)nq * k, idx,
                                  (size_t)nq * k);
    ck_assert_msg(rc == RP_OK, "rp_bank_search: %s", rp_last_error_message());
}

static inline double direct_sq(const float *a, const float *b, uint32_t dim)
{
    double s = 0;
    for (uint32_t d = 0; d < dim; d++) {
        double diff = (double)a[d] - b[d];
        s += diff * diff;
    }
    return s;
}

/* 1 when query q satisfies the gap condition above for k (brute force over the bank). */
static inline int gap_condition_holds(const knn_ranking *rk, const float *bank, uint64_t n, uint32_t dim,
                                      const float *q, uint32_t k)
{
    double *d2 = malloc(n * sizeof(double)), e_max = 0;
    for (uint64_t j = 0; j < n; j++) {
        d2[j] = direct_sq(q, bank + j * dim, dim);
        e_max = fmax(e_max, rk->bound(q, bank + j * dim, dim));
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
static inline void assert_distances_exact(const float *bank, uint32_t dim, const float *q, uint64_t nq, uint32_t k,
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

/* The ranking vs fp32 on the same data: exact distances, and identical results wherever the gap
 * condition holds; returns how many queries met it. */
static inline uint64_t compare_with_fp32(const knn_ranking *rk, const float *v, uint64_t n, uint32_t dim,
                                         const float *q, uint64_t nq, uint32_t k)
{
    rp_bank *b32 = ranking_bank(NULL, v, n, dim), *br = ranking_bank(rk, v, n, dim);
    float *d32 = malloc(nq * k * sizeof(float)), *dr = malloc(nq * k * sizeof(float));
    uint64_t *i32 = malloc(nq * k * sizeof(uint64_t)), *ir = malloc(nq * k * sizeof(uint64_t));
    ranking_search(b32, q, nq, k, d32, i32);
    ranking_search(br, q, nq, k, dr, ir);
    assert_distances_exact(v, dim, q, nq, k, dr, ir);
    uint64_t met = 0;
    for (uint64_t r = 0; r < nq; r++) {
        if (!gap_condition_holds(rk, v, n, dim, q + r * dim, k)) continue;
        met++;
        for (uint32_t i = 0; i < k; i++) {
            ck_assert_msg(ir[r * k + i] == i32[r * k + i], "query %llu rank %u: %s index %llu, fp32 %llu",
                          (unsigned long long)r, i, rk->name, (unsigned long long)ir[r * k + i],
                          (unsigned long long)i32[r * k + i]);
            ck_assert_msg(dr[r * k + i] == d32[r * k + i], "query %llu rank %u: %s distance %.9g, fp32 %.9g",
                          (unsigned long long)r, i, rk->name, dr[r * k + i], d32[r * k + i]);
        }
    }
    free(d32), free(dr), free(i32), free(ir);
    rp_bank_free(b32);
    rp_bank_free(br);
    return met;
}

/* Uniform data, a full bank block plus a partial one and a partial query block (k = 1): at least
 * half of the queries meet the condition, so the identity check is not vacuous. */
static inline void check_uniform_data(const knn_ranking *rk, uint32_t dim)
{
    const uint64_t n = RP__KNN_BANK_BLOCK + 300, nq = RP__KNN_QUERY_BLOCK + 45;
    float *v = bank_test_vectors(n, dim, 41, 0);
    float *q = bank_test_vectors(nq, dim, 42, 0);
    uint64_t met = compare_with_fp32(rk, v, n, dim, q, nq, 1);
    ck_assert_msg(met * 2 >= nq, "the gap condition held for only %llu of %llu queries", (unsigned long long)met,
                  (unsigned long long)nq);
    free(v);
    free(q);
}

/* Queries near bank vectors (each moved by 0.05 x noise, so each has one clearly nearest vector):
 * at least 90 % meet the condition. */
static inline void check_queries_near_bank_vectors(const knn_ranking *rk, uint32_t dim)
{
    const uint64_t n = 3000, nq = 300;
    float *v = bank_test_vectors(n, dim, 43, 0);
    float *q = malloc(nq * dim * sizeof(float));
    float *noise = bank_test_vectors(nq, dim, 44, 0);
    for (uint64_t r = 0; r < nq; r++)
        for (uint32_t d = 0; d < dim; d++) q[r * dim + d] = v[(r * 7 % n) * dim + d] + 0.05f * noise[r * dim + d];
    uint64_t met = compare_with_fp32(rk, v, n, dim, q, nq, 1);
    ck_assert_msg(met * 10 >= nq * 9, "the gap condition held for only %llu of %llu queries", (unsigned long long)met,
                  (unsigned long long)nq);
    free(v);
    free(q);
    free(noise);
}

/* Clustered data (8 tight clusters far apart; seeded, so a fixed outcome, not a timing): exact
 * distances and identity where the condition holds at k, and the fp32 nearest neighbour (k = 1
 * searches) for at least min_percent of the queries. */
static inline void check_clustered(const knn_ranking *rk, uint32_t dim, uint32_t k, uint64_t min_percent)
{
    const uint64_t n = 3000, nq = 300;
    float *v = bank_test_vectors(n, dim, 51, 1);
    float *q = bank_test_vectors(nq, dim, 52, 1);
    compare_with_fp32(rk, v, n, dim, q, nq, k);
    rp_bank *b32 = ranking_bank(NULL, v, n, dim), *br = ranking_bank(rk, v, n, dim);
    uint64_t i32[300], ir[300], same = 0;
    float d32[300], dr[300];
    ranking_search(b32, q, nq, 1, d32, i32);
    ranking_search(br, q, nq, 1, dr, ir);
    for (uint64_t r = 0; r < nq; r++) same += i32[r] == ir[r];
    ck_assert_msg(same * 100 >= nq * min_percent, "%s found the fp32 nearest neighbour for %llu of %llu queries",
                  rk->name, (unsigned long long)same, (unsigned long long)nq);
    rp_bank_free(b32);
    rp_bank_free(br);
    free(v);
    free(q);
}

/* An offset and tiny differences: |q|^2 + |b|^2 - 2 q.b (about 1000 - 1000) cancels to noise far
 * above the true d^2 (about 1e-7), but the ranking's error stays far below the d^2 of about 40 to
 * any other vector, so the source vector stays a candidate and comes back at its exact tiny
 * distance (the worst-case gap condition itself is not met: its bounds are loose). */
static inline void check_near_duplicates(const knn_ranking *rk)
{
    const uint64_t n = 1000, nq = 100;
    const uint32_t dim = 64;
    float *v = bank_test_vectors(n, dim, 47, 0);
    for (size_t i = 0; i < n * dim; i++) v[i] = v[i] + 4.0f;
    float *q = malloc(nq * dim * sizeof(float));
    float *noise = bank_test_vectors(nq, dim, 48, 0);
    for (uint64_t r = 0; r < nq; r++)
        for (uint32_t d = 0; d < dim; d++)
            q[r * dim + d] = v[(r * 11 % n) * dim + d] + noise[r * dim + d] * 1e-4f * (float)(1 + r % 5);
    rp_bank *bank = ranking_bank(rk, v, n, dim);
    float dist[2 * 100];
    uint64_t idx[2 * 100];
    ranking_search(bank, q, nq, 2, dist, idx);
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

/* 1 and 2 OpenMP threads give bit-identical results (block boundaries of both bank and queries). */
static inline void check_thread_count_independence(const knn_ranking *rk)
{
    const uint64_t n = RP__KNN_BANK_BLOCK + 100, nq = 4 * RP__KNN_QUERY_BLOCK + 10;
    const uint32_t dim = 48, k = 4;
    float *v = bank_test_vectors(n, dim, 49, 1);
    float *q = bank_test_vectors(nq, dim, 50, 1);
    rp_bank *bank = ranking_bank(rk, v, n, dim);
    float *d[2];
    uint64_t *i[2];
    const int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        d[t] = malloc(nq * k * sizeof(float));
        i[t] = malloc(nq * k * sizeof(uint64_t));
        omp_set_num_threads(t + 1);
        ranking_search(bank, q, nq, k, d[t], i[t]);
    }
    omp_set_num_threads(saved);
    ck_assert_int_eq(memcmp(d[0], d[1], nq * k * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(i[0], i[1], nq * k * sizeof(uint64_t)), 0);
    for (int t = 0; t < 2; t++) free(d[t]), free(i[t]);
    free(v);
    free(q);
    rp_bank_free(bank);
}

/* The ranking's failure mode, on 40 vectors whose differences it cannot see (each test file builds
 * them): fp32 finds the true nearest, want_fp32; the ranking returns one of the first k + 8 by
 * |b|^2, at its exact, larger distance. */
static inline void check_hidden_neighbour_is_missed(const knn_ranking *rk, const float *v, const float *q,
                                                    uint64_t want_fp32)
{
    rp_bank *b32 = ranking_bank(NULL, v, 40, 2), *br = ranking_bank(rk, v, 40, 2);
    float d32, dr;
    uint64_t i32, ir;
    ranking_search(b32, q, 1, 1, &d32, &i32);
    ranking_search(br, q, 1, 1, &dr, &ir);
    ck_assert_uint_eq(i32, want_fp32);
    ck_assert_uint_lt(ir, 1 + RP__KNN_EXTRA_CANDIDATES);
    ck_assert(dr > d32);
    assert_distances_exact(v, 2, q, 1, 1, &dr, &ir);
    rp_bank_free(b32);
    rp_bank_free(br);
}

#endif
