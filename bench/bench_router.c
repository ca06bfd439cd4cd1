/* The router of a model of several categories (docs/unified.md): the time to pick an image's
 * category, the nearest of N training-image descriptors of 1024 floats, for N = 250 .. 16000.
 * It is the only scoring cost that grows with the number of categories (the kNN searches one
 * category's bank); compare it with a whole image's scoring (rp-bench-pipeline, tens of ms).
 * Random descriptors: the search is exact, so its cost does not depend on the data.
 * usage: bench_router [REPEATS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model/model_internal.h"

#define DIM 1024u

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const int repeats = argc > 1 ? atoi(argv[1]) : 51;
    if (repeats < 1 || repeats > 100000) {
        fprintf(stderr, "usage: bench_router [REPEATS]\n");
        return 2;
    }
    static const uint32_t sizes[] = {250, 1000, 4000, 16000};
    float *query = malloc(DIM * sizeof *query);
    double *t = malloc((size_t)repeats * sizeof *t);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    printf("router: nearest of N training-image descriptors (%u floats), median of %d\n", DIM, repeats);
    printf("%8s %12s\n", "N", "ms/image");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        rp_model *m = rp__model_alloc(4);
        if (!m || !query || !t) return 1;
        float *d = malloc(DIM * sizeof *d);
        for (uint32_t i = 0; i < sizes[s]; i++) {
            for (uint32_t k = 0; k < DIM; k++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                d[k] = (float)(state >> 40) / (float)(1u << 24);
            }
            if (rp__router_add(&m->router, d, DIM, i % 4)) return 1;
        }
        for (uint32_t k = 0; k < DIM; k++) query[k] = 0.5f;
        volatile uint32_t sink = 0;
        for (int r = 0; r < repeats; r++) {
            double t0 = now();
            sink += rp__route(m, query);
            t[r] = (now() - t0) * 1e3;
        }
        (void)sink;
        qsort(t, (size_t)repeats, sizeof *t, cmp_double);
        printf("%8u %12.3f\n", sizes[s], t[repeats / 2]);
        free(d);
        rp_model_free(m);
    }
    free(query);
    free(t);
    return 0;
}
