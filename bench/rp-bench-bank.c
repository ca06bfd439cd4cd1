/* Benchmark of the memory bank and patch aggregation: coreset selection time, kNN GFLOP/s,
 * aggregation ms per image, peak memory. Data is splitmix64 noise, the same as
 * tools/bench_coreset_torch.py builds, so the two can be compared (bench/bench_bank.sh).
 *
 *   rp-bench-bank coreset N DIM RATIO SEED   -> "coreset_seconds S" and the first picks
 *   rp-bench-bank knn BANK QUERIES DIM REPEATS -> "knn_gflops G"
 *   rp-bench-bank features REPEATS           -> "features_ms M" (512x28x28 + 1024x14x14 -> 784 x 1024) */
#include <reconpatch/bank.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bank/prng.h"
#include "features/aggregate.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *noise(uint64_t n, uint32_t dim, uint64_t seed)
{
    float *v = malloc((size_t)n * dim * sizeof(float));
    if (!v) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint64_t state = seed;
    for (size_t i = 0; i < (size_t)n * dim; i++) v[i] = rp__prng_uniform(&state) * 2.0f - 1.0f;
    return v;
}

static double peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench_coreset(uint64_t n, uint32_t dim, double ratio, uint64_t seed)
{
    float *v = noise(n, dim, 1);
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.dim = dim;
    p.coreset_ratio = ratio;
    p.seed = seed;
    rp_bank *bank;
    if (rp_bank_create(&p, &bank) || rp_bank_add(bank, v, n, dim)) {
        fprintf(stderr, "%s\n", rp_last_error_message());
        return 1;
    }
    free(v); /* the bank holds its own copy */
    double t0 = now();
    if (rp_bank_freeze(bank, NULL, NULL)) {
        fprintf(stderr, "%s\n", rp_last_error_message());
        return 1;
    }
    double t = now() - t0;
    uint64_t m = rp_bank_size(bank);
    uint64_t *sel = malloc(m * sizeof(uint64_t));
    rp_bank_get_selection(bank, sel, m);
    printf("coreset_seconds %.3f\nkept %llu of %llu\npeak_mib %.0f\nfirst_picks", t, (unsigned long long)m,
           (unsigned long long)n, peak_mib());
    for (uint64_t i = 0; i < m && i < 20; i++) printf(" %llu", (unsigned long long)sel[i]);
    printf("\n");
    free(sel);
    rp_bank_free(bank);
    return 0;
}

static int bench_knn(uint64_t n, uint64_t nq, uint32_t dim, int repeats)
{
    float *v = noise(n, dim, 2), *q = noise(nq, dim, 3);
    rp_bank *bank;
    if (rp_bank_create_frozen(v, n, dim, NULL, &bank)) {
        fprintf(stderr, "%s\n", rp_last_error_message());
        return 1;
    }
    float *d = malloc(nq * sizeof(float));
    uint64_t *i = malloc(nq * sizeof(uint64_t));
    double *times = malloc(repeats * sizeof(double));
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (rp_bank_search(bank, q, (size_t)nq * dim, nq, 1, d, nq, i, nq)) {
            fprintf(stderr, "%s\n", rp_last_error_message());
            return 1;
        }
        times[r] = now() - t0;
    }
    qsort(times, repeats, sizeof(double), cmp_double);
    double med = times[repeats / 2];
    printf("knn_ms %.2f\nknn_gflops %.1f\npeak_mib %.0f\n", med * 1e3, 2.0 * n * nq * dim / med * 1e-9, peak_mib());
    free(times);
    free(d);
    free(i);
    free(v);
    free(q);
    rp_bank_free(bank);
    return 0;
}

static int bench_features(int repeats)
{
    float *l2 = noise(512, 28 * 28, 4), *l3 = noise(1024, 14 * 14, 5);
    float *out = malloc((size_t)784 * 1024 * sizeof(float));
    double *times = malloc(repeats * sizeof(double));
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (rp__features_aggregate(l2, 512, 28, l3, 1024, 14, 3, 1024, out)) return 1;
        times[r] = now() - t0;
    }
    qsort(times, repeats, sizeof(double), cmp_double);
    printf("features_ms %.2f\n", times[repeats / 2] * 1e3);
    free(times);
    free(out);
    free(l2);
    free(l3);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "coreset"))
        return bench_coreset(strtoull(argv[2], 0, 10), (uint32_t)atoi(argv[3]), atof(argv[4]), strtoull(argv[5], 0, 10));
    if (argc >= 6 && !strcmp(argv[1], "knn"))
        return bench_knn(strtoull(argv[2], 0, 10), strtoull(argv[3], 0, 10), (uint32_t)atoi(argv[4]), atoi(argv[5]));
    if (argc >= 3 && !strcmp(argv[1], "features")) return bench_features(atoi(argv[2]));
    fprintf(stderr, "usage: rp-bench-bank coreset N DIM RATIO SEED | knn BANK QUERIES DIM REPEATS | features REPEATS\n");
    return 2;
}
