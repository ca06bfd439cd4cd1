/* The fp32 FMA peak of this CPU with AVX2 + FMA, on N threads (default 2): ten independent
 * accumulators per thread keep both FMA units busy, so the figure is what the cores can do at the
 * clock they run at now. bench/bench_backbone.sh prints it beside the backbone's GFLOP/s on CPUs
 * without AVX-512 (where the shared AVX-512 noise probe cannot run).
 *   gcc -O3 -funroll-loops -mavx2 -mfma -fopenmp tools/fma_peak.c -o /tmp/rp_fma_peak && /tmp/rp_fma_peak 2 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define ACCUMULATORS 10

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const long rounds = 20000000; /* of ACCUMULATORS FMAs on 8 floats each, per thread */
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        float sink = 0;
        const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            __m256 acc[ACCUMULATORS];
            const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
            for (int k = 0; k < ACCUMULATORS; k++) acc[k] = _mm256_set1_ps((float)k);
            for (long i = 0; i < rounds; i++)
                for (int k = 0; k < ACCUMULATORS; k++) acc[k] = _mm256_fmadd_ps(acc[k], b, c);
            for (int k = 0; k < ACCUMULATORS; k++) sink += acc[k][0];
        }
        const double seconds = omp_get_wtime() - t0;
        const double gflops = (double)threads * rounds * ACCUMULATORS * 8 * 2 / seconds / 1e9;
        if (gflops > best) best = gflops;
        if (sink == 1234.5f) printf(" "); /* keeps the loop from being optimised away */
    }
    printf("fp32 FMA peak (AVX2), %d threads: %.1f GFLOP/s\n", threads, best);
    return 0;
}
