/* Benchmark (not a test): time one ReConPatch training step, phase by phase, on random 1024-d
 * patches. Usage: bench_trainer_step [batch=512] [threads=2] [repeats=15]. Prints medians in ms. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer/trainer_internal.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { FWD_T, LABELS, FWD_O, LOSS, BWD, ADAM, EMA, TOTAL, PHASES };
static const char *names[PHASES] = {"target forward", "pseudo-labels", "online forward", "loss + dL/dz",
                                    "backward", "AdamW", "EMA", "step"};

int main(int argc, char **argv)
{
    uint32_t B = argc > 1 ? (uint32_t)atoi(argv[1]) : 512, threads = argc > 2 ? (uint32_t)atoi(argv[2]) : 2;
    int reps = argc > 3 ? atoi(argv[3]) : 15;
    openblas_set_num_threads((int)threads);
    rp__trainer_shape s = {1024, 512, 128, 0};
    rp__trainer_layout l;
    rp__trainer_layout_of(&s, &l);
    rp__trainer_rng rng;
    rp__trainer_rng_seed(&rng, 1);
    float *on = malloc(l.total * 4), *tg = malloc(l.total * 4), *grad = malloc(l.total * 4);
    float *x = malloc((size_t)B * s.in_dim * 4), *dz = malloc((size_t)B * s.proj_dim * 4);
    float *scratch = malloc((size_t)B * s.repr_dim * 4);
    double *w = malloc((size_t)B * B * 8), *zd = malloc((size_t)B * s.proj_dim * 8), *dzd = malloc((size_t)B * s.proj_dim * 8);
    rp__trainer_acts ao = {malloc((size_t)B * s.repr_dim * 4), NULL, malloc((size_t)B * s.proj_dim * 4)};
    rp__trainer_acts at = {malloc((size_t)B * s.repr_dim * 4), NULL, malloc((size_t)B * s.proj_dim * 4)};
    rp__trainer_adamw opt = {0.9, 0.999, 1e-8, 1e-2, 0, calloc(l.total, 4), calloc(l.total, 4)};
    rp__trainer_init_params(&s, &rng, on);
    memcpy(tg, on, l.total * 4);
    /* Patches with some structure: 16 centres plus noise, as real patches cluster. */
    for (uint32_t i = 0; i < B; i++)
        for (uint32_t d = 0; d < s.in_dim; d++)
            x[(size_t)i * s.in_dim + d] = (float)(sin((i % 16 + 1) * (d + 1) * 0.37) + 0.3 * (rp__trainer_rng_uniform(&rng) - 0.5));
    rp__trainer_label_cfg cfg = {1.0, 5, 0.5, 1, 0};
    rp__trainer_ws ws;
    if (rp__trainer_ws_init(&ws, B, s.proj_dim, cfg.k)) return 1;
    double *t[PHASES];
    for (int p = 0; p < PHASES; p++) t[p] = malloc(reps * sizeof(double));
    for (int r = -2; r < reps; r++) { /* two warm-up steps */
        double t0 = now_ms(), m[PHASES + 1];
        m[0] = t0;
        double loss;
        rp__trainer_forward(&s, tg, x, B, &at);
        m[1] = now_ms();
        rp__trainer_pseudo_labels(at.z, B, s.proj_dim, &cfg, w, &ws);
        m[2] = now_ms();
        rp__trainer_forward(&s, on, x, B, &ao);
        m[3] = now_ms();
        for (size_t i = 0; i < (size_t)B * s.proj_dim; i++) zd[i] = ao.z[i];
        rp__trainer_loss(zd, B, s.proj_dim, w, 1.0, &loss, dzd, &ws);
        for (size_t i = 0; i < (size_t)B * s.proj_dim; i++) dz[i] = (float)dzd[i];
        m[4] = now_ms();
        rp__trainer_backward(&s, on, x, B, &ao, dz, grad, scratch);
        rp__trainer_zero_invariant_grads(&s, grad);
        m[5] = now_ms();
        rp__trainer_adamw_step(&opt, on, grad, l.total, 1e-3);
        m[6] = now_ms();
        rp__trainer_ema_update(tg, on, l.total, 0.9);
        m[7] = now_ms();
        if (r < 0) continue;
        for (int p = 0; p < EMA + 1; p++) t[p][r] = m[p + 1] - m[p];
        t[TOTAL][r] = m[7] - m[0];
        if (r == reps - 1) printf("last loss %.6f\n", loss);
    }
    printf("batch %u, 1024 -> 512 -> 128, %u OpenBLAS threads, median of %d steps:\n", B, threads, reps);
    for (int p = 0; p < PHASES; p++) {
        qsort(t[p], reps, sizeof(double), cmp);
        printf("  %-16s %8.2f ms\n", names[p], t[p][reps / 2]);
    }
    return 0;
}
