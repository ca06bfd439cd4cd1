/* rp-knn-accuracy: what the int8 or bf16 kNN ranking (rp_bank_params.knn_int8 / knn_bf16) changes
 * on real data.
 *
 *   rp-knn-accuracy --cache FILE [--coreset R] [--ranking int8|bf16]
 *
 * FILE is a feature cache written by `rp-tune cache` (format in bench/rp-tune.c). Builds a
 * PatchCore bank from the training features (coreset R, default 0.1), then the same kept vectors
 * again as an int8 (default) or bf16 bank, and compares, over every test patch: the nearest-neighbour distance
 * (share differing by more than 1e-5 relative, largest relative difference, share with another
 * neighbour index), and, through the scorer: the largest relative difference of an image score,
 * and image AUROC, pixel AUROC and AUPRO of both. Also the time of each search over all test
 * patches (one call; the host is shared, so a rough figure). Prints one JSON line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <reconpatch/reconpatch.h>

#define RP_BENCH_PROGRAM "rp-knn-accuracy"
#include "rp_cache_eval.h"

typedef rp_feature_cache cache;

static void load_cache(cache *c, const char *path) { rp_feature_cache_load(c, path, RP_BENCH_PROGRAM); }

/* A metric as JSON: null where the set has none (ELPV has no pixel masks: NaN). */
static const char *metric(char buf[16], double v)
{
    if (v != v) return "null";
    snprintf(buf, 16, "%.4f", v);
    return buf;
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

int main(int argc, char **argv)
{
    const char *path = NULL;
    double coreset = 0.1;
    int bf16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--cache") && v) path = v, i++;
        else if (!strcmp(argv[i], "--coreset") && v) coreset = atof(v), i++;
        else if (!strcmp(argv[i], "--ranking") && v && (!strcmp(v, "int8") || !strcmp(v, "bf16")))
            bf16 = !strcmp(v, "bf16"), i++;
        else {
            fprintf(stderr, "usage: rp-knn-accuracy --cache FILE [--coreset R] [--ranking int8|bf16]\n");
            return 2;
        }
    }
    if (!path) die("--cache is required");
    cache c;
    load_cache(&c, path);

    /* the fp32 bank (PatchCore: raw patch features), then its kept vectors as a bank ranked in
     * int8 or bf16 (the "ranked" bank below) */
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.dim = c.dim;
    bp.coreset_ratio = coreset;
    rp_bank *b32, *branked;
    if (rp_bank_create(&bp, &b32)) die("bank");
    if (rp_bank_add(b32, c.train, (uint64_t)c.patches * c.n_train, c.dim)) die("bank add");
    free(c.train);
    if (rp_bank_freeze(b32, NULL, NULL)) die("freeze");
    const uint64_t m = rp_bank_size(b32);
    float *kept = rp_cache_eval_alloc((size_t)m * c.dim * sizeof(float));
    if (rp_bank_get_vectors(b32, kept, (size_t)m * c.dim)) die("get vectors");
    bp.knn_int8 = !bf16;
    bp.knn_bf16 = (uint32_t)bf16;
    if (rp_bank_create_frozen(kept, m, c.dim, &bp, &branked)) die(rp_last_error_message());
    free(kept);

    /* every test patch's nearest neighbour, both ways */
    const uint64_t nq = (uint64_t)c.patches * c.n_test;
    float *d32 = rp_cache_eval_alloc(nq * sizeof(float)), *dranked = rp_cache_eval_alloc(nq * sizeof(float));
    uint64_t *i32 = rp_cache_eval_alloc(nq * sizeof(uint64_t)), *iranked = rp_cache_eval_alloc(nq * sizeof(uint64_t));
    double t0 = now();
    if (rp_bank_search(b32, c.test, (size_t)nq * c.dim, nq, 1, d32, nq, i32, nq)) die("search fp32");
    double t1 = now();
    if (rp_bank_search(branked, c.test, (size_t)nq * c.dim, nq, 1, dranked, nq, iranked, nq)) die("search int8 / bf16");
    double t2 = now();
    uint64_t differ = 0, other_index = 0, ranked_closer = 0;
    double max_patch = 0;
    for (uint64_t q = 0; q < nq; q++) {
        const double r = rel(dranked[q], d32[q]);
        differ += r > 1e-5;
        other_index += iranked[q] != i32[q];
        ranked_closer += dranked[q] < d32[q]; /* should stay 0: the ranking can only miss, not find closer */
        if (r > max_patch) max_patch = r;
    }

    rp_cache_eval m32, mranked;
    rp_cache_evaluate(&c, NULL, b32, &m32);
    rp_cache_evaluate(&c, NULL, branked, &mranked);
    double max_image = 0;
    for (uint32_t i = 0; i < c.n_test; i++) max_image = fmax(max_image, rel(mranked.scores[i], m32.scores[i]));

    const char *base = strrchr(path, '/');
    const char *ranking = bf16 ? "bf16" : "int8";
    char b[6][16];
    printf("{\"cache\": \"%s\", \"ranking\": \"%s\", \"coreset\": %g, \"bank\": %llu, \"dim\": %u, \"test_patches\": %llu, "
           "\"share_nn_distance_differs_1e-5\": %.6f, \"share_other_nn_index\": %.6f, \"%s_closer\": %llu, "
           "\"max_rel_patch_score\": %.3e, \"max_rel_image_score\": %.3e, "
           "\"fp32\": {\"image_auroc\": %s, \"pixel_auroc\": %s, \"aupro\": %s, \"search_s\": %.2f}, "
           "\"%s\": {\"image_auroc\": %s, \"pixel_auroc\": %s, \"aupro\": %s, \"search_s\": %.2f}}\n",
           base ? base + 1 : path, ranking, coreset, (unsigned long long)m, c.dim, (unsigned long long)nq,
           (double)differ / nq, (double)other_index / nq, ranking, (unsigned long long)ranked_closer, max_patch, max_image,
           metric(b[0], m32.image_auroc), metric(b[1], m32.pixel_auroc), metric(b[2], m32.aupro), t1 - t0, ranking,
           metric(b[3], mranked.image_auroc), metric(b[4], mranked.pixel_auroc), metric(b[5], mranked.aupro), t2 - t1);
    free(d32);
    free(dranked);
    free(i32);
    free(iranked);
    free(m32.scores);
    free(mranked.scores);
    free(c.test);
    free(c.labels);
    free(c.masks);
    rp_bank_free(b32);
    rp_bank_free(branked);
    return 0;
}
