/* Score the test set of a feature cache (bench/rp_feature_cache.h) with a features-only scorer over
 * an embedding (NULL: PatchCore) and a frozen bank, and compute image AUROC, pixel AUROC and AUPRO
 * with the cached masks, which are in the network-input geometry like the maps. Shared by the bench
 * programs that evaluate on cached features; include after defining RP_BENCH_PROGRAM. */
#ifndef RP_CACHE_EVAL_H
#define RP_CACHE_EVAL_H

#include <math.h>

#include "rp_bench_util.h"
#include "rp_feature_cache.h"

typedef struct rp_cache_eval {
    float *scores; /* per test image (malloc'd: the caller frees it) */
    double image_auroc, pixel_auroc, aupro;
    double score_ms; /* scoring time per test image */
} rp_cache_eval;

static inline void *rp_cache_eval_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, RP_BENCH_PROGRAM ": out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* A features-only scorer (no extractor) in the cache's geometry. */
static inline rp_scorer *rp_cache_scorer(const rp_feature_cache *c, const rp_embedding *emb, const rp_bank *bank)
{
    rp_scorer_params sp;
    rp_scorer_params_init(&sp, sizeof sp);
    uint32_t grid = 1;
    while (grid * grid < c->patches) grid++;
    sp.grid_size = grid;
    sp.input_size = c->side;
    rp_scorer *s;
    if (rp_scorer_create(NULL, emb, bank, &sp, &s)) die("scorer");
    return s;
}

static inline void rp_cache_evaluate(const rp_feature_cache *c, const rp_embedding *emb, const rp_bank *bank,
                                     rp_cache_eval *out)
{
    rp_scorer *s = rp_cache_scorer(c, emb, bank);
    const size_t npix = (size_t)c->side * c->side, per = (size_t)c->patches * c->dim;
    float *maps = rp_cache_eval_alloc(npix * c->n_test * sizeof(float));
    const float **mp = rp_cache_eval_alloc(c->n_test * sizeof *mp);
    const uint8_t **kp = rp_cache_eval_alloc(c->n_test * sizeof *kp);
    out->scores = rp_cache_eval_alloc(c->n_test * sizeof(float));
    const double t0 = now();
    for (uint32_t i = 0; i < c->n_test; i++) {
        rp_score_result r = {.struct_size = sizeof r};
        if (rp_scorer_score_features(s, c->test + per * i, per, &r, NULL, 0, maps + npix * i, npix)) die("score");
        out->scores[i] = (float)r.score;
        mp[i] = maps + npix * i;
        kp[i] = c->labels[i] ? c->masks + npix * i : NULL;
    }
    out->score_ms = (now() - t0) * 1000.0 / (c->n_test ? c->n_test : 1);
    if (rp_metric_auroc(out->scores, c->labels, c->n_test, &out->image_auroc)) die("auroc");
    /* Image-level categories (no ground_truth/ folder) cache all-zero masks: no pixel metrics. */
    int any_mask = 0;
    for (size_t p = 0; p < npix * c->n_test && !any_mask; p++) any_mask = c->masks[p] != 0;
    out->pixel_auroc = out->aupro = NAN;
    if (any_mask) {
        if (rp_metric_pixel_auroc(mp, kp, c->n_test, c->side, c->side, &out->pixel_auroc)) die("pixel auroc");
        if (rp_metric_aupro(mp, kp, c->n_test, c->side, c->side, 0, &out->aupro)) die("aupro");
    }
    rp_scorer_free(s);
    free(maps);
    free(mp);
    free(kp);
}

#endif
