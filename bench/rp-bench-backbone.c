/* rp-bench-backbone: times the backbone through layer3 at 224 x 224 (what anomaly detection runs).
 *
 *   rp-bench-backbone --arch resnet50|wide_resnet50_2 --batch N [--bf16] [--weights PATH]
 *                     [--threads N] [--iters N]
 *
 * Without --weights it uses seeded random weights of the full-size network (speed does not depend
 * on the values). Prints per-iteration times, then as its LAST line one JSON object:
 * {"arch": ..., "batch": ..., "precision": ..., "threads": ..., "img_per_s": median, "best_img_per_s": ...,
 *  "gflop_per_s": median, "bf16_native": 0|1}; bf16 without native AVX512-BF16 runs only with
 * RP_BENCH_BF16_EMULATION=1 set and is then printed as "not native". bench/bench_backbone.sh runs it
 * side by side with the PyTorch peer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backbone/resnet.h"
#include "backbone/weights.h"
#include "common/common.h"
#include "extractor/extractor_internal.h"
#include "rp_omp_policy.h"

/* Multiply-adds x 2 of the network up to layer3 at 224 x 224, per image. */
#define GFLOP_RESNET50 6.56
#define GFLOP_WIDE_RESNET50_2 18.37

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: rp-bench-backbone --arch resnet50|wide_resnet50_2 --batch N [--bf16] [--weights PATH] "
                    "[--threads N] [--iters N]\n");
}

int main(int argc, char **argv)
{
    rp_cli_passive_openmp(argv);
    const char *arch_name = "resnet50", *weights_path = NULL;
    uint32_t batch = 1, threads = 0, iters = 10;
    int bf16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bf16")) bf16 = 1;
        else if (!v) return usage(), 2;
        else if (!strcmp(a, "--arch")) arch_name = v, i++;
        else if (!strcmp(a, "--weights")) weights_path = v, i++;
        else if (!strcmp(a, "--batch")) batch = (uint32_t)atoi(v), i++;
        else if (!strcmp(a, "--threads")) threads = (uint32_t)atoi(v), i++;
        else if (!strcmp(a, "--iters")) iters = (uint32_t)atoi(v), i++;
        else return usage(), 2;
    }
    int32_t arch = !strcmp(arch_name, "resnet50") ? RP_ARCH_RESNET50
                   : !strcmp(arch_name, "wide_resnet50_2") ? RP_ARCH_WIDE_RESNET50_2 : 0;
    if (!arch || batch == 0 || iters == 0) return usage(), 2;

    rp__weights *w = NULL;
    double t_load = now();
    int rc = weights_path ? rp__weights_load(weights_path, &w)
                          : rp__weights_random(arch, RP_LAYOUT_TORCHVISION, 1, 1, &w);
    t_load = now() - t_load;
    if (rc) {
        fprintf(stderr, "rp-bench-backbone: %s\n", rp_last_error_message());
        return 1;
    }
    /* Reading, hashing (SHA-256) and converting the file: what every extractor or model load pays. */
    if (weights_path) printf("weights load %.3f s (read, SHA-256, conversion): %s\n", t_load, weights_path);
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.arch = arch;
    p.crop = 224;
    p.no_crop = 1;
    p.num_threads = threads;
    p.precision = bf16 ? RP_PRECISION_BF16 : RP_PRECISION_FP32;
    rp_extractor *e = NULL;
    double t0 = now();
    /* The public create refuses emulated bf16; the benchmark reports what that refusal means. */
    if (rp__extractor_create_from_weights(&p, w, getenv("RP_BENCH_BF16_EMULATION") != NULL, &e) != RP_OK) {
        fprintf(stderr, "rp-bench-backbone: %s\n", rp_last_error_message());
        printf("{\"arch\": \"%s\", \"batch\": %u, \"precision\": \"%s\", \"error\": \"%s\"}\n", arch_name, batch,
               bf16 ? "bf16" : "fp32", rp_error_name(rp_last_error_code()));
        rp__weights_free(w);
        return 1;
    }
    double t_create = now() - t0;
    rp__weights_free(w);
    rp_extractor_info info;
    rp_extractor_get_info(e, &info, sizeof info);
    size_t n_in = (size_t)batch * 3 * 224 * 224, n3 = (size_t)batch * info.layer3_channels * 14 * 14;
    size_t n2 = (size_t)batch * info.layer2_channels * 28 * 28;
    float *x = malloc(n_in * sizeof(float)), *l2 = malloc(n2 * sizeof(float)), *l3 = malloc(n3 * sizeof(float));
    double *t = malloc(iters * sizeof(double));
    if (!x || !l2 || !l3 || !t) return 1;
    for (size_t i = 0; i < n_in; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int i = 0; i < 2; i++) /* warm-up: builds the batch's plan, faults in the arena */
        if (rp_extractor_forward(e, x, n_in, batch, l2, n2, l3, n3) != RP_OK) {
            fprintf(stderr, "rp-bench-backbone: %s\n", rp_last_error_message());
            return 1;
        }
    for (uint32_t i = 0; i < iters; i++) {
        double s = now();
        rp_extractor_forward(e, x, n_in, batch, l2, n2, l3, n3);
        t[i] = now() - s;
        printf("iter %u: %.2f ms, %.1f img/s\n", i, 1e3 * t[i], batch / t[i]);
    }
    qsort(t, iters, sizeof *t, cmp_double);
    double med = iters % 2 ? t[iters / 2] : 0.5 * (t[iters / 2 - 1] + t[iters / 2]);
    double gflop = arch == RP_ARCH_RESNET50 ? GFLOP_RESNET50 : GFLOP_WIDE_RESNET50_2;
    const int native = rp__resnet_bf16_native();
    printf("create %.2f s, stem '%s', 3x3 '%s'%s\n", t_create, rp__extractor_impl_name(e, 0),
           rp__extractor_impl_name(e, 1),
           !bf16 ? "" : native ? ", bf16 native" : ", bf16 not native (oneDNN's emulation: numerics only, slow)");
    printf("{\"arch\": \"%s\", \"batch\": %u, \"precision\": \"%s\", \"threads\": %u, \"img_per_s\": %.2f, "
           "\"best_img_per_s\": %.2f, \"gflop_per_s\": %.1f, \"bf16_native\": %d}\n",
           arch_name, batch, bf16 ? "bf16" : "fp32", info.num_threads, batch / med, batch / t[0],
           gflop * batch / med, native);
    free(x), free(l2), free(l3), free(t);
    rp_extractor_free(e);
    return 0;
}
