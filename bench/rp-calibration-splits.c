/* rp-calibration-splits: how many good parts the calibrated image threshold rejects, on average
 * over many random choices of the calibration images, not on one draw.
 *
 *   rp-calibration-splits --cache FILE [--cache FILE ...] [--calibrate 4,10,20] [--splits 20]
 *                         [--coreset 0.01] [--quantile 0.99] [--seed 1]
 *
 * Works on the feature caches of `rp-tune cache`. For each category and each split s, a seeded
 * random set of max(--calibrate) normal training images is held out; PatchCore trains on the rest
 * (the held-out images are not in the bank, as in rp_train); the first n held-out images calibrate
 * the image threshold with the library's own rule (rp__threshold_quantile, the rule of
 * rp_train / rp_model_calibrate), and the pixel threshold from their map maxima (network-input
 * geometry here, the image's own geometry in the library); the test split is then scored. One JSON
 * line per category and n gives the nominal false-reject rate of the rule, the false-reject rate
 * over the splits (mean, standard deviation, lowest, highest), the pooled counts, the escape rate
 * and the defect-mask false-reject rate.
 *
 * --control R: instead, a control where calibration and test images are exchangeable by
 * construction: PatchCore trains on every training image, the good test images are scored once, and
 * R times n of them drawn at random calibrate while the other good test images measure the false
 * rejects. The rule's mean false-reject rate must then be its nominal rate; a category whose
 * splits above exceed it while its control does not has good test images that differ from its
 * training images (not a fault of the rule).
 *
 * Why: the threshold taken from n calibration scores is itself random (for the maximum of n scores
 * the false-reject rate it gives is Beta(1, n)), and a test split has 20 to 120 good images, so
 * one draw says little about what the rule does; the mean over splits estimates the rule's expected
 * false-reject rate, which is what its nominal rate promises. docs/pipeline.md. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reconpatch/reconpatch.h>

#define RP_BENCH_PROGRAM "rp-calibration-splits"
#include "rp_cache_eval.h"

#include "bank/prng.h"
#include "pipeline/pipeline_internal.h"

#define MAX_CACHES 8
#define MAX_COUNTS 8

typedef struct options {
    uint32_t counts[MAX_COUNTS], n_counts, held; /* calibration sizes; held = the largest */
    uint32_t splits;
    uint32_t control; /* --control R: resamples of the exchangeable control; 0: the splits */
    double coreset, quantile;
    uint64_t seed;
} options;

/* What one calibration size gives on one split. */
typedef struct split_result {
    uint32_t false_rejects, goods, escapes, defects, mask_false_rejects;
} split_result;

/* order[0..n-1] = a seeded random permutation of 0..n-1 (Fisher-Yates). */
static void shuffle(uint32_t *order, uint32_t n, uint64_t seed)
{
    uint64_t state = seed;
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(rp__prng_next(&state) % i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* Image score and map maximum of one image's cached features. */
static void score_one(const rp_scorer *s, const float *features, size_t floats, float *map, size_t map_floats,
                      double *score, double *map_max)
{
    rp_score_result r = {.struct_size = sizeof r};
    if (rp_scorer_score_features(s, features, floats, &r, NULL, 0, map, map_floats)) die("score");
    float m = map[0];
    for (size_t p = 1; p < map_floats; p++) m = map[p] > m ? map[p] : m;
    *score = r.score;
    *map_max = m;
}

/* PatchCore's frozen bank of the training images order[first..n_train-1] (order NULL: in order). */
static rp_bank *train_bank(const rp_feature_cache *c, const options *o, const uint32_t *order, uint32_t first)
{
    const size_t per = (size_t)c->patches * c->dim;
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.dim = c->dim;
    bp.coreset_ratio = o->coreset;
    rp_bank *bank;
    if (rp_bank_create(&bp, &bank)) die("bank");
    for (uint32_t i = first; i < c->n_train; i++)
        if (rp_bank_add(bank, c->train + per * (order ? order[i] : i), c->patches, c->dim)) die("bank add");
    if (rp_bank_freeze(bank, NULL, NULL)) die("freeze");
    return bank;
}

/* One split of one category: train on all but the held-out images, then for each calibration size
 * the thresholds and what they do on the test split. */
static void run_split(const rp_feature_cache *c, const options *o, uint32_t split, split_result *out)
{
    const size_t per = (size_t)c->patches * c->dim, npix = (size_t)c->side * c->side;
    uint32_t *order = rp_cache_eval_alloc(c->n_train * sizeof *order);
    shuffle(order, c->n_train, o->seed * 1000003u + split);
    rp_bank *bank = train_bank(c, o, order, o->held);

    rp_scorer *s = rp_cache_scorer(c, NULL, bank);

    float *map = rp_cache_eval_alloc(npix * sizeof *map);
    double *held_score = rp_cache_eval_alloc(o->held * sizeof(double)), *held_max = rp_cache_eval_alloc(o->held * sizeof(double));
    for (uint32_t i = 0; i < o->held; i++)
        score_one(s, c->train + per * order[i], per, map, npix, &held_score[i], &held_max[i]);
    double *test_score = rp_cache_eval_alloc(c->n_test * sizeof(double)), *test_max = rp_cache_eval_alloc(c->n_test * sizeof(double));
    for (uint32_t i = 0; i < c->n_test; i++) score_one(s, c->test + per * i, per, map, npix, &test_score[i], &test_max[i]);

    for (uint32_t k = 0; k < o->n_counts; k++) {
        double t_image, t_pixel;
        if (rp__threshold_quantile(held_score, o->counts[k], o->quantile, &t_image) ||
            rp__threshold_quantile(held_max, o->counts[k], o->quantile, &t_pixel))
            die("threshold");
        split_result r = {0};
        for (uint32_t i = 0; i < c->n_test; i++) {
            if (c->labels[i]) {
                r.defects++;
                r.escapes += test_score[i] <= t_image;
            } else {
                r.goods++;
                r.false_rejects += test_score[i] > t_image;
                r.mask_false_rejects += test_max[i] > t_pixel;
            }
        }
        out[k] = r;
    }
    rp_scorer_free(s);
    rp_bank_free(bank);
    free(map);
    free(held_score);
    free(held_max);
    free(test_score);
    free(test_max);
    free(order);
}

/* The rule's promise: 1 - k / (n + 1), k = min(n, ceil((n + 1) q)) (rp__threshold_quantile). */
static double nominal_rate(uint32_t n, double q)
{
    double k = ceil((n + 1) * q);
    if (k > n) k = n;
    if (k < 1) k = 1;
    return 1.0 - k / (n + 1.0);
}

/* The exchangeable control (see the top): one model on every training image; for each resample r,
 * n random good test images calibrate and the other good test images are counted. */
static void run_control(const rp_feature_cache *c, const options *o)
{
    const size_t per = (size_t)c->patches * c->dim, npix = (size_t)c->side * c->side;
    rp_bank *bank = train_bank(c, o, NULL, 0);
    rp_scorer *s = rp_cache_scorer(c, NULL, bank);
    float *map = rp_cache_eval_alloc(npix * sizeof *map);
    double *good = rp_cache_eval_alloc(c->n_test * sizeof(double)), map_max;
    uint32_t n_good = 0;
    for (uint32_t i = 0; i < c->n_test; i++)
        if (!c->labels[i]) score_one(s, c->test + per * i, per, map, npix, &good[n_good++], &map_max);
    uint32_t *order = rp_cache_eval_alloc(n_good * sizeof *order);
    double *calibration = rp_cache_eval_alloc(o->held * sizeof(double));
    for (uint32_t k = 0; k < o->n_counts; k++) {
        const uint32_t n = o->counts[k];
        if (n >= n_good) continue;
        double sum = 0;
        for (uint32_t r = 0; r < o->control; r++) {
            shuffle(order, n_good, o->seed * 1000003u + r);
            for (uint32_t i = 0; i < n; i++) calibration[i] = good[order[i]];
            double t;
            if (rp__threshold_quantile(calibration, n, o->quantile, &t)) die("threshold");
            uint32_t rejected = 0;
            for (uint32_t i = n; i < n_good; i++) rejected += good[order[i]] > t;
            sum += (double)rejected / (n_good - n);
        }
        printf("{\"category\": \"%s\", \"control\": true, \"calibration_images\": %u, \"resamples\": %u, "
               "\"good_test_images\": %u, \"nominal_false_reject_rate\": %.4f, \"false_reject_rate_mean\": %.4f}\n",
               c->name, n, o->control, n_good, nominal_rate(n, o->quantile), sum / o->control);
        fflush(stdout);
    }
    rp_scorer_free(s);
    rp_bank_free(bank);
    free(map);
    free(good);
    free(order);
    free(calibration);
}

static void report(const rp_feature_cache *c, const options *o, const split_result *all)
{
    for (uint32_t k = 0; k < o->n_counts; k++) {
        double sum = 0, sum2 = 0, lo = 1, hi = 0, esc = 0, mask = 0;
        uint64_t fr = 0, goods = 0;
        for (uint32_t s = 0; s < o->splits; s++) {
            const split_result *r = &all[(size_t)s * o->n_counts + k];
            double rate = r->goods ? (double)r->false_rejects / r->goods : 0.0;
            sum += rate;
            sum2 += rate * rate;
            lo = rate < lo ? rate : lo;
            hi = rate > hi ? rate : hi;
            esc += r->defects ? (double)r->escapes / r->defects : 0.0;
            mask += r->goods ? (double)r->mask_false_rejects / r->goods : 0.0;
            fr += r->false_rejects;
            goods += r->goods;
        }
        const double n = o->splits, mean = sum / n;
        const double sd = o->splits > 1 ? sqrt(fmax(0.0, (sum2 - n * mean * mean) / (n - 1))) : 0.0;
        const double nominal = nominal_rate(o->counts[k], o->quantile);
        printf("{\"category\": \"%s\", \"calibration_images\": %u, \"splits\": %u, \"train_images\": %u, "
               "\"nominal_false_reject_rate\": %.4f, \"false_reject_rate_mean\": %.4f, \"false_reject_rate_sd\": %.4f, "
               "\"false_reject_rate_min\": %.4f, \"false_reject_rate_max\": %.4f, \"false_rejects\": %llu, "
               "\"good_scored\": %llu, \"ratio_to_nominal\": %.2f, \"escape_rate_mean\": %.4f, "
               "\"mask_false_reject_rate_mean\": %.4f, \"coreset\": %g, \"quantile\": %g}\n",
               c->name, o->counts[k], o->splits, c->n_train - o->held, nominal, mean, sd, lo, hi,
               (unsigned long long)fr, (unsigned long long)goods, nominal > 0 ? mean / nominal : NAN, esc / n,
               mask / n, o->coreset, o->quantile);
        fflush(stdout);
    }
}

static void cache_free(rp_feature_cache *c)
{
    free(c->train);
    free(c->test);
    free(c->labels);
    free(c->masks);
}

static int parse_counts(const char *list, options *o)
{
    o->n_counts = 0;
    o->held = 0;
    const char *p = list;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000 || o->n_counts == MAX_COUNTS || (*end && *end != ',')) return -1;
        o->counts[o->n_counts++] = (uint32_t)v;
        if ((uint32_t)v > o->held) o->held = (uint32_t)v;
        p = *end ? end + 1 : end;
    }
    return o->n_counts ? 0 : -1;
}

int main(int argc, char **argv)
{
    options o = {.splits = 20, .coreset = 0.01, .quantile = 0.99, .seed = 1};
    parse_counts("4,10,20", &o);
    const char *paths[MAX_CACHES];
    int n_caches = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--cache") && n_caches < MAX_CACHES) paths[n_caches++] = v;
        else if (!strcmp(a, "--calibrate")) {
            if (parse_counts(v, &o)) goto usage;
        } else if (!strcmp(a, "--splits")) o.splits = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--control")) o.control = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--coreset")) o.coreset = atof(v);
        else if (!strcmp(a, "--quantile")) o.quantile = atof(v);
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
        else goto usage;
        i++;
    }
    if (!n_caches || !o.splits || !(o.coreset > 0 && o.coreset <= 1) || !(o.quantile > 0 && o.quantile < 1)) goto usage;
    for (int k = 0; k < n_caches; k++) {
        rp_feature_cache c;
        rp_feature_cache_load(&c, paths[k], RP_BENCH_PROGRAM);
        if (c.n_train < o.held + 1) {
            fprintf(stderr, RP_BENCH_PROGRAM ": %s has %u training images, fewer than %u held out + 1\n", c.name,
                    c.n_train, o.held);
            return 1;
        }
        if (o.control) {
            run_control(&c, &o);
            cache_free(&c);
            continue;
        }
        split_result *all = rp_cache_eval_alloc((size_t)o.splits * o.n_counts * sizeof *all);
        const double t0 = now();
        for (uint32_t s = 0; s < o.splits; s++) run_split(&c, &o, s, all + (size_t)s * o.n_counts);
        fprintf(stderr, RP_BENCH_PROGRAM ": %s: %u splits in %.0f s\n", c.name, o.splits, now() - t0);
        report(&c, &o, all);
        free(all);
        cache_free(&c);
    }
    return 0;
usage:
    fprintf(stderr, "usage: " RP_BENCH_PROGRAM " --cache FILE [--cache FILE ...] [--calibrate 4,10,20] [--splits N]\n"
                    "       [--coreset R] [--quantile Q] [--seed N] [--control RESAMPLES]   (caches from `rp-tune cache`)\n");
    return 2;
}
