/* Exact kNN search against a double-precision brute force. */
#include <math.h>
#include <pthread.h>
#include <reconpatch/bank.h>

#include "bank/knn.h"
#include "bank/knn_kernels.h"
#include "bank_test_data.h"
#include "rp_test.h"
#include "rp_test_cpu.h"

static rp_bank *frozen(const float *v, uint64_t n, uint32_t dim)
{
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(v, n, dim, NULL, &bank), RP_OK);
    ck_assert_int_eq(rp_bank_is_frozen(bank), 1);
    return bank;
}

/* k nearest by brute force in double, ties by index. */
static void brute_force(const float *bank, uint64_t n, uint32_t dim, const float *q, uint32_t k, double *dist,
                        uint64_t *idx)
{
    for (uint32_t i = 0; i < k; i++) dist[i] = INFINITY, idx[i] = UINT64_MAX;
    for (uint64_t j = 0; j < n; j++) {
        double s = 0;
        for (uint32_t d = 0; d < dim; d++) {
            double diff = (double)q[d] - bank[j * dim + d];
            s += diff * diff;
        }
        s = sqrt(s);
        if (s >= dist[k - 1]) continue;
        uint32_t i = k - 1;
        while (i > 0 && dist[i - 1] > s) {
            dist[i] = dist[i - 1];
            idx[i] = idx[i - 1];
            i--;
        }
        dist[i] = s;
        idx[i] = j;
    }
}

static void check_against_brute_force(const float *bank_v, uint64_t n, uint32_t dim, const float *q, uint64_t nq,
                                      uint32_t k, double rel_tol)
{
    rp_bank *bank = frozen(bank_v, n, dim);
    float *dist = malloc(nq * k * sizeof(float));
    uint64_t *idx = malloc(nq * k * sizeof(uint64_t));
    double *want_d = malloc(k * sizeof(double));
    uint64_t *want_i = malloc(k * sizeof(uint64_t));
    ck_assert_int_eq(rp_bank_search(bank, q, (size_t)nq * rp_bank_dim(bank), nq, k, dist, (size_t)nq * k, idx, (size_t)nq * k), RP_OK);
    for (uint64_t r = 0; r < nq; r++) {
        brute_force(bank_v, n, dim, q + r * dim, k, want_d, want_i);
        for (uint32_t i = 0; i < k; i++) {
            ck_assert_msg(idx[r * k + i] == want_i[i], "query %llu rank %u: index %llu, brute force %llu",
                          (unsigned long long)r, i, (unsigned long long)idx[r * k + i],
                          (unsigned long long)want_i[i]);
            double err = fabs(dist[r * k + i] - want_d[i]) / fmax(want_d[i], 1e-30);
            ck_assert_msg(err <= rel_tol || (want_d[i] == 0 && dist[r * k + i] == 0),
                          "query %llu rank %u: distance %.9g, brute force %.9g (rel %.2e)", (unsigned long long)r, i,
                          dist[r * k + i], want_d[i], err);
        }
    }
    free(dist);
    free(idx);
    free(want_d);
    free(want_i);
    rp_bank_free(bank);
}

START_TEST(knn__matches_double_brute_force_across_blocks)
{
    /* two full bank blocks plus a partial one, and more queries than one query block */
    const uint64_t n = 2 * RP__KNN_BANK_BLOCK + 777, nq = RP__KNN_QUERY_BLOCK + 45;
    const uint32_t dim = 48;
    float *v = bank_test_vectors(n, dim, 21, 0);
    float *q = bank_test_vectors(nq, dim, 22, 0);
    check_against_brute_force(v, n, dim, q, nq, 1, 1e-5);
    check_against_brute_force(v, n, dim, q, nq, 7, 1e-5);
    free(v);
    free(q);
}
END_TEST

START_TEST(knn__small_bank_and_k_equal_to_size)
{
    const uint64_t n = 20, nq = 9;
    float *v = bank_test_vectors(n, 5, 23, 0);
    float *q = bank_test_vectors(nq, 5, 24, 0);
    check_against_brute_force(v, n, 5, q, nq, 20, 1e-5);
    free(v);
    free(q);
}
END_TEST

/* Queries a hair away from large-norm bank vectors: |q|^2 + |b|^2 - 2 q.b cancels almost
 * completely, yet the returned distances must be accurate. */
START_TEST(knn__near_duplicates_have_accurate_distances)
{
    const uint64_t n = 3000, nq = 200;
    const uint32_t dim = 256;
    float *v = bank_test_vectors(n, dim, 25, 1);
    for (size_t i = 0; i < n * dim; i++) v[i] = v[i] * 50.0f + 100.0f;
    float *q = malloc(nq * dim * sizeof(float));
    float *noise = bank_test_vectors(nq, dim, 26, 0);
    for (uint64_t r = 0; r < nq; r++)
        for (uint32_t d = 0; d < dim; d++)
            q[r * dim + d] = v[(r * 13 % n) * dim + d] + noise[r * dim + d] * 1e-3f * (float)(1 + r % 5);
    check_against_brute_force(v, n, dim, q, nq, 3, 1e-4);
    free(v);
    free(q);
    free(noise);
}
END_TEST

START_TEST(knn__exact_duplicates_come_back_in_index_order_at_zero)
{
    const uint64_t n = 50;
    const uint32_t dim = 16;
    float *v = bank_test_vectors(n, dim, 27, 0);
    for (int copy = 1; copy <= 3; copy++) memcpy(v + (10 * copy) * dim, v + 5 * dim, dim * sizeof(float));
    rp_bank *bank = frozen(v, n, dim);
    float dist[4];
    uint64_t idx[4];
    ck_assert_int_eq(rp_bank_search(bank, v + 5 * dim, rp_bank_dim(bank), 1, 4, dist, 4, idx, 4), RP_OK);
    const uint64_t want[4] = {5, 10, 20, 30};
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(idx[i], want[i]);
        ck_assert_float_eq(dist[i], 0.0f);
    }
    free(v);
    rp_bank_free(bank);
}
END_TEST

typedef struct {
    const rp_bank *bank;
    const float *q;
    uint64_t nq;
    uint32_t k;
    float *dist;
    uint64_t *idx;
    int status;
} search_job;

static void *run_search(void *arg)
{
    search_job *j = arg;
    j->status = rp_bank_search(j->bank, j->q, (size_t)j->nq * rp_bank_dim(j->bank), j->nq, j->k, j->dist, (size_t)j->nq * j->k, j->idx, (size_t)j->nq * j->k);
    return NULL;
}

START_TEST(knn__eight_concurrent_searches_equal_serial)
{
    const uint64_t n = RP__KNN_BANK_BLOCK + 100, nq = 300;
    const uint32_t dim = 32, k = 3;
    float *v = bank_test_vectors(n, dim, 28, 1);
    float *q = bank_test_vectors(nq, dim, 29, 1);
    rp_bank *bank = frozen(v, n, dim);
    float *ser_d = malloc(nq * k * sizeof(float));
    uint64_t *ser_i = malloc(nq * k * sizeof(uint64_t));
    ck_assert_int_eq(rp_bank_search(bank, q, (size_t)nq * rp_bank_dim(bank), nq, k, ser_d, (size_t)nq * k, ser_i, (size_t)nq * k), RP_OK);
    pthread_t th[8];
    search_job jobs[8];
    for (int t = 0; t < 8; t++) {
        jobs[t] = (search_job){bank, q, nq, k, malloc(nq * k * sizeof(float)), malloc(nq * k * sizeof(uint64_t)), -99};
        ck_assert_int_eq(pthread_create(&th[t], NULL, run_search, &jobs[t]), 0);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(jobs[t].status, RP_OK);
        ck_assert_int_eq(memcmp(jobs[t].dist, ser_d, nq * k * sizeof(float)), 0);
        ck_assert_int_eq(memcmp(jobs[t].idx, ser_i, nq * k * sizeof(uint64_t)), 0);
        free(jobs[t].dist);
        free(jobs[t].idx);
    }
    free(ser_d);
    free(ser_i);
    free(v);
    free(q);
    rp_bank_free(bank);
}
END_TEST

START_TEST(knn__frozen_by_coreset_searches_its_kept_vectors)
{
    const uint64_t n = 2000;
    const uint32_t dim = 24;
    float *v = bank_test_vectors(n, dim, 30, 1);
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.dim = dim;
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_OK);
    ck_assert_int_eq(rp_bank_add(bank, v, n, dim), RP_OK);
    ck_assert_int_eq(rp_bank_freeze(bank, NULL, NULL), RP_OK);
    uint64_t m = rp_bank_size(bank);
    ck_assert_uint_eq(m, 200);
    float *kept = malloc(m * dim * sizeof(float));
    ck_assert_int_eq(rp_bank_get_vectors(bank, kept, m * dim), RP_OK);
    float d;
    uint64_t i;
    for (uint64_t r = 0; r < m; r += 17) { /* a kept vector finds itself at distance 0 */
        ck_assert_int_eq(rp_bank_search(bank, kept + r * dim, rp_bank_dim(bank), 1, 1, &d, 1, &i, 1), RP_OK);
        ck_assert_uint_eq(i, r);
        ck_assert_float_eq(d, 0.0f);
    }
    free(kept);
    free(v);
    rp_bank_free(bank);
}
END_TEST

/* Runs on CPUs with and without AVX-512 / AVX2 must give the same neighbours: every kernel set
 * this CPU can run must give the same bits as the portable one, on lengths that exercise the
 * vector bodies, their tails and the leftover dimensions. */
START_TEST(knn_kernels__every_set_gives_the_same_bits)
{
    const rp__knn_kernel_set *portable = rp__knn_kernels_for(RP__ISA_PORTABLE);
    ck_assert_ptr_nonnull(portable);
    int compared = 0;
    for (int isa = RP__ISA_PORTABLE + 1; isa < RP__ISA_COUNT; isa++) {
        const rp__knn_kernel_set *k = rp__knn_kernels_for((rp__isa)isa);
#if defined(__x86_64__) && defined(__GNUC__)
        ck_assert_int_eq(k != NULL, rp__cpu_can_run((rp__isa)isa)); /* no set silently left out */
#endif
        if (!k) continue;
        compared++;
        /* norms and exact distances: every dim up to 70, and long rows */
        enum { ROWS = 8, MAXDIM = 1027 }; /* clustered test vectors need at least 8 rows */
        float *a = bank_test_vectors(ROWS, MAXDIM, 41, 0), *b = bank_test_vectors(ROWS, MAXDIM, 42, 1);
        for (uint32_t dim = 1; dim <= MAXDIM; dim += dim < 70 ? 1 : 239) {
            float n0[ROWS], n1[ROWS];
            portable->sq_norms(a, ROWS, dim, n0);
            k->sq_norms(a, ROWS, dim, n1);
            ck_assert_msg(!memcmp(n0, n1, sizeof n0), "%s: sq_norms differ at dim %u", rp__isa_name(isa), dim);
            for (uint32_t r = 0; r < ROWS; r++) {
                const double e0 = portable->exact_sq(a + r * dim, b + r * dim, dim);
                const double e1 = k->exact_sq(a + r * dim, b + r * dim, dim);
                ck_assert_msg(!memcmp(&e0, &e1, sizeof e0), "%s: exact_sq differs at dim %u", rp__isa_name(isa), dim);
            }
        }
        free(a);
        free(b);
        /* the scan: products whose distances fall (every lane a hit), random ones (rare hits),
         * ties (index order), negatives (clamped to 0), a NaN; lists empty, part full and full */
        enum { WIDTH = 203 };
        float *noise = bank_test_vectors(2, WIDTH, 43, 0);
        float dots[WIDTH], bnorms[WIDTH];
        for (int pattern = 0; pattern < 4; pattern++) {
            for (uint32_t j = 0; j < WIDTH; j++) {
                bnorms[j] = 1.0f + noise[WIDTH + j] * 0.5f;
                dots[j] = pattern == 0 ? 0.001f * (float)j : noise[j];
                if (pattern == 2) dots[j] = (float)(j % 3) * 0.25f;    /* many equal distances */
                if (pattern == 3 && j % 17 == 0) dots[j] = 5.0f;       /* negative d2: clamped */
            }
            if (pattern == 3) dots[100] = NAN;
            for (uint32_t width = 1; width <= WIDTH; width += width < 20 ? 1 : 61)
                for (uint32_t cap = 1; cap <= 9; cap += 4)
                    for (uint32_t start_len = 0; start_len <= cap; start_len += cap) {
                        rp__knn_candidate l0[9], l1[9];
                        memset(l0, 0, sizeof l0);
                        uint32_t len0 = 0, len1;
                        for (uint32_t i = 0; i < start_len; i++) /* earlier blocks' candidates */
                            rp__knn_insert(l0, &len0, cap, 0.5f + 0.1f * (float)i, 100000 + i);
                        memcpy(l1, l0, sizeof l0);
                        len1 = len0;
                        portable->scan_row(dots, bnorms, width, 7, 0.75f, l0, &len0, cap);
                        k->scan_row(dots, bnorms, width, 7, 0.75f, l1, &len1, cap);
                        ck_assert_uint_eq(len0, len1);
                        ck_assert_msg(!memcmp(l0, l1, sizeof l0), "%s: scan differs (pattern %d, width %u, cap %u)",
                                      rp__isa_name(isa), pattern, width, cap);
                    }
        }
        free(noise);
    }
    printf("knn kernels: %d vector set(s) compared with the portable one\n", compared);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bank_knn");
    TCase *tc = tcase_create("knn");
    tcase_add_test(tc, knn__matches_double_brute_force_across_blocks);
    tcase_add_test(tc, knn__small_bank_and_k_equal_to_size);
    tcase_add_test(tc, knn__near_duplicates_have_accurate_distances);
    tcase_add_test(tc, knn__exact_duplicates_come_back_in_index_order_at_zero);
    tcase_add_test(tc, knn__frozen_by_coreset_searches_its_kept_vectors);
    tcase_add_test(tc, knn_kernels__every_set_gives_the_same_bits);
    rp_test_add_cpu_switch_case(tc);
    suite_add_tcase(s, tc);
    /* Threads at once on one object: the case make check-tsan runs (CK_RUN_CASE=concurrency). */
    TCase *conc = tcase_create("concurrency");
    tcase_add_test(conc, knn__eight_concurrent_searches_equal_serial);
    suite_add_tcase(s, conc);
    return rp_test_run(s);
}
