/* rp-eval: train on each category's normal images, score its test set, report image AUROC, pixel
 * AUROC and AUPRO the way the field measures them (maps and masks in the network-input geometry).
 *
 *   rp-eval --data DIR [--data DIR ...] [--method patchcore|reconpatch] [--coreset 0.1]
 *           [--no-crop | --keep-aspect] [--mask-threshold 127] [--weights PATH] [--epochs N]
 *           [--unified]            one model of all the --data categories, each with its own bank,
 *                                  images routed to the category of their nearest training image
 *           [--unified-shared]     one model, one bank shared by all categories (no routing)
 *           [--add DIR]            with --unified: a category added after training, its head frozen
 *           [--json OUT.json] [--knn-int8 | --knn-bf16] [--repr-dim N] [--feature-dim N] [--pca N]
 *           [--sampler uniform|aligned]   (rp_model_options.h)
 *           [--save-model MODEL]   (one category, or --unified: the trained model, for rp-score)
 *           [--calibrate N]        hold out N normal training images to calibrate the thresholds,
 *                                  then count false rejects and escapes on the test split;
 *                                  N1,N2,...: the largest is held out, the others calibrate on subsets
 *           [--report DIR]         an HTML report (DIR/index.html); calibrates (N = 20) unless told
 *           [--timing]             where each test image's time went, stage by stage (rp_timing_*)
 *
 * DIR has the MVTec AD layout: train/good, test/<type>, ground_truth/<type>/<name>_mask.png. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <reconpatch/reconpatch.h>

#include "rp_calibration_subsets.h"
#include "rp_decisions.h"
#include "rp_file_list.h"
#include "rp_model_options.h"
#include "rp_report.h"
#include "rp_stage_table.h"

#define MAX_CATEGORIES 32
/* Calibration images when --report asks for thresholds without --calibrate; a fifth of a small
 * training set at most (docs/cli.md). */
#define DEFAULT_CALIBRATION_IMAGES 20
#define MAX_SUBSETS 8 /* smaller calibration counts of --calibrate N1,N2,... */

typedef struct category {
    const char *dir;
    char name[256];
    file_list train;
    file_list test;    /* test image paths */
    file_list masks;   /* mask path or "" for each test image */
    uint8_t *labels;   /* 1 = anomalous */
    double train_seconds, ms_per_image;
    rp_stage_table stages; /* --timing: per test image, from the library's stage clocks */
    size_t routed_home;       /* test images a model of several categories routed to this one */
    double routed_home_share; /* their share; -1 for a model of one category */
    int added;                /* joined the model by rp_model_add_normals (--add) */
    double image_auroc, pixel_auroc, aupro;
    int has_masks;
    size_t n_trained;              /* training images the model learnt from (held-out ones excluded) */
    rp_model_thresholds thresholds; /* the model's, rule NONE when not calibrated */
    decision_counts decisions;     /* at those thresholds, on the test split */
    /* --calibrate with several counts: the same for each smaller one, ascending */
    rp_model_thresholds subset_thresholds[MAX_SUBSETS];
    decision_counts subset_decisions[MAX_SUBSETS];
} category;

typedef struct options {
    const char *data[MAX_CATEGORIES];
    const char *add[MAX_CATEGORIES]; /* --add: categories added to the trained unified model */
    int n_add;
    int n_data;
    int32_t method;
    double coreset;
    int no_crop, keep_aspect, unified, unified_shared, verbose;
    int knn_int8; /* rp_bank_params.knn_int8: int8-ranked nearest-neighbour search */
    int knn_bf16; /* rp_bank_params.knn_bf16: bf16-ranked */
    unsigned mask_threshold;
    const char *weights, *json, *save_model;
    unsigned epochs;
    rp_model_options model; /* --repr-dim, --feature-dim, --pca, --sampler */
    int calibrate;      /* calibration images asked for (the largest of a list); -1 = not given */
    uint32_t subsets[MAX_SUBSETS]; /* the list's other counts, ascending */
    int n_subsets;
    const char *report; /* report folder or NULL */
    int timing;         /* --timing: the stage table of the test images */
} options;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "rp-eval: %s: %s (%s)\n", what, rp_last_error_message(), rp_error_name(rp_last_error_code()));
    exit(1);
}

static void load_category(category *c, const char *dir)
{
    char path[4096];
    c->dir = dir;
    const char *base = strrchr(dir, '/');
    snprintf(c->name, sizeof c->name, "%s", base && base[1] ? base + 1 : dir);
    snprintf(path, sizeof path, "%s/train/good", dir);
    file_list names = list_dir(path, 0);
    for (size_t i = 0; i < names.count; i++) {
        snprintf(path, sizeof path, "%s/train/good/%s", dir, names.items[i]);
        list_push(&c->train, path);
    }
    snprintf(path, sizeof path, "%s/test", dir);
    file_list types = list_dir(path, 1);
    snprintf(path, sizeof path, "%s/ground_truth", dir);
    DIR *gt = opendir(path);
    c->has_masks = gt != NULL;
    if (gt) closedir(gt);
    for (size_t t = 0; t < types.count; t++) {
        snprintf(path, sizeof path, "%s/test/%s", dir, types.items[t]);
        file_list imgs = list_dir(path, 0);
        for (size_t i = 0; i < imgs.count; i++) {
            snprintf(path, sizeof path, "%s/test/%s/%s", dir, types.items[t], imgs.items[i]);
            list_push(&c->test, path);
            int good = !strcmp(types.items[t], "good");
            uint8_t *labels = realloc(c->labels, c->test.count);
            if (!labels) {
                fprintf(stderr, "rp-eval: out of memory listing %s\n", dir);
                exit(1);
            }
            c->labels = labels;
            c->labels[c->test.count - 1] = !good;
            char stem[1024];
            snprintf(stem, sizeof stem, "%s", imgs.items[i]);
            char *dot = strrchr(stem, '.');
            if (dot) *dot = 0;
            if (good || !c->has_masks) list_push(&c->masks, "");
            else {
                snprintf(path, sizeof path, "%s/ground_truth/%s/%s_mask.png", dir, types.items[t], stem);
                list_push(&c->masks, path);
            }
        }
        list_free(&imgs);
    }
    list_free(&types);
    list_free(&names);
    if (!c->train.count || !c->test.count) {
        fprintf(stderr, "rp-eval: %s: needs train/good and test/* images\n", dir);
        exit(1);
    }
}

static int print_progress(const rp_progress *p, void *ud)
{
    (void)ud;
    static const char *names[] = {"", "features", "train", "coreset", "score"};
    const char *stage = p->stage >= 1 && p->stage <= 4 ? names[p->stage] : "?";
    if (p->stage == RP_STAGE_TRAIN)
        fprintf(stderr, "  %s: epoch %d step %d loss %.5f val %.5f\n", stage, p->epoch, p->step, p->loss, p->val_loss);
    else
        fprintf(stderr, "  %s: %lld / %lld\n", stage, (long long)p->done, (long long)p->total);
    return 0;
}

/* The images held out of n for calibration: the asked number (DEFAULT_CALIBRATION_IMAGES for a
 * report), at most a fifth of the set so that a small set keeps most images for training. */
static uint32_t calibration_count(const options *o, size_t n, int say_why)
{
    if (o->calibrate == 0 || (o->calibrate < 0 && !o->report)) return 0;
    uint32_t want = o->calibrate > 0 ? (uint32_t)o->calibrate : DEFAULT_CALIBRATION_IMAGES;
    size_t cap = n / 5 ? n / 5 : 1;
    if (want > cap) {
        if (say_why)
            fprintf(stderr, "rp-eval: %zu normal training images: calibrating on %zu instead of %u (at most a fifth)\n",
                n, cap, want);
        want = (uint32_t)cap;
    }
    if (want >= n) {
        fprintf(stderr, "rp-eval: %zu normal training images leave none to train on after %u calibration images\n",
                n, want);
        exit(2);
    }
    return want;
}

/* The bank of every model rp-eval trains, or category it adds. */
static void bank_params(const options *o, rp_bank_params *bp)
{
    rp_bank_params_init(bp, sizeof *bp);
    bp->coreset_ratio = o->coreset;
    bp->knn_int8 = (uint32_t)o->knn_int8;
    bp->knn_bf16 = (uint32_t)o->knn_bf16;
}

/* categories: n_categories >= 2 names, image_categories the category of each path (NULL: one). */
static rp_model *train(const options *o, const char *const *paths, uint32_t n, const uint32_t *image_categories,
                       uint32_t n_categories, const char *const *names, rp_model_thresholds *subsets_out)
{
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = o->weights;
    ep.no_crop = (uint32_t)o->no_crop;
    ep.keep_aspect = (uint32_t)o->keep_aspect; /* the scorer (and so the masks) follow the extractor */
    rp_bank_params bp;
    bank_params(o, &bp);
    rp_trainer_params tp;
    rp_trainer_params_init(&tp, sizeof tp);
    tp.epochs = o->epochs;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = o->method;
    rp_model_options_apply(&o->model, &p.method, &ep, &tp);
    rp_model_options_apply_train(&o->model, &p);
    if (p.heads == RP_HEADS_NONE) p.heads = RP_HEADS_AUTO; /* --heads none is for the --add categories */
    p.extractor = &ep;
    p.bank = &bp;
    p.trainer = &tp;
    /* rp_train holds out round(n x fraction) evenly spaced images: exactly the count wanted. */
    uint32_t held_out = calibration_count(o, n, 1);
    p.calibration_fraction = (double)held_out / (double)n;
    if (image_categories) {
        p.category_count = n_categories;
        p.image_categories = image_categories;
        p.category_names = names;
    }
    rp_model *m;
    if (rp_train(paths, n, &p, o->verbose ? print_progress : NULL, NULL, &m)) die("training failed");
    uint32_t sizes[MAX_SUBSETS];
    for (int j = 0; j < o->n_subsets; j++) sizes[j] = o->subsets[j] < held_out ? o->subsets[j] : held_out;
    if (o->n_subsets && calibration_subsets(m, paths, n, held_out, sizes, (uint32_t)o->n_subsets, subsets_out))
        die("calibrating on subsets of the held-out images");
    return m;
}

/* One test image through a model of several categories: the features once, routed, then scored
 * in the routed category (what rp_score_image does, with the input-geometry map the metrics need). */
static void score_routed(const rp_model *m, const rp_image *img, float *features, size_t features_floats,
                         rp_score_result *r, float *map_input, size_t npix, float *map_image, size_t own,
                         uint32_t *category)
{
    if (rp_extractor_patch_features(rp_model_extractor(m), &img, 1, features, features_floats) ||
        rp_model_route_features(m, features, features_floats, category) ||
        rp_scorer_score_features(rp_model_category_scorer(m, *category), features, features_floats, r, NULL, 0,
                                 map_input, npix) ||
        (own && rp_scorer_map_to_image(rp_model_category_scorer(m, *category), map_input, npix, rp_image_width(img),
                                       rp_image_height(img), map_image, own)))
        die("scoring a test image");
}

/* c is the model's category model_category (0 for a model of one category). */
static void evaluate(const options *o, const rp_model *m, uint32_t model_category, category *c, rp_report *report)
{
    const rp_scorer *scorer = rp_model_category_scorer(m, model_category);
    const int routed = rp_model_category_count(m) > 1;
    c->thresholds.struct_size = sizeof c->thresholds;
    if (rp_model_get_category_thresholds(m, model_category, &c->thresholds, sizeof c->thresholds))
        die("rp_model_get_category_thresholds");
    int calibrated = c->thresholds.rule == RP_THRESHOLD_RULE_QUANTILE;
    float *map_image = NULL; /* the map in the image's own geometry, where the defect mask is drawn */
    size_t map_image_floats = 0;
    rp_scorer_info info;
    info.struct_size = sizeof info;
    if (rp_scorer_get_info(scorer, &info, sizeof info)) die("rp_scorer_get_info");
    size_t side = info.input_size, npix = side * side;
    size_t n = c->test.count;
    float *scores = malloc(n * sizeof(float));
    float **maps = calloc(n, sizeof *maps);
    uint8_t **masks = calloc(n, sizeof *masks);
    rp_extractor_info xi;
    xi.struct_size = sizeof xi;
    if (rp_extractor_get_info(rp_model_extractor(m), &xi, sizeof xi)) die("rp_extractor_get_info");
    const size_t features_floats = (size_t)xi.grid_size * xi.grid_size * xi.feature_dim;
    float *features = routed ? malloc(features_floats * sizeof *features) : NULL;
    c->routed_home = 0;
    if (o->timing) {
        double discard[RP_TIMING_COUNT];
        rp_timing_enable(1);
        rp_timing_take(discard, RP_TIMING_COUNT); /* what training and calibration left */
    }
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        const double image_started = now();
        double in_calls = 0, call_started = image_started;
        rp_image *img;
        if (rp_image_load_file(c->test.items[i], NULL, &img)) die(c->test.items[i]);
        in_calls += now() - call_started;
        maps[i] = malloc(npix * sizeof(float));
        size_t own = calibrated ? (size_t)rp_image_width(img) * rp_image_height(img) : 0;
        if (own > map_image_floats) {
            map_image = realloc(map_image, own * sizeof *map_image);
            if (!map_image) die("out of memory for a map");
            map_image_floats = own;
        }
        rp_score_result r;
        r.struct_size = sizeof r;
        call_started = now();
        if (routed) {
            uint32_t to;
            score_routed(m, img, features, features_floats, &r, maps[i], npix, map_image, own, &to);
            c->routed_home += to == model_category;
        } else if (rp_scorer_score(scorer, img, &r, maps[i], npix, own ? map_image : NULL, own)) {
            die(c->test.items[i]);
        }
        in_calls += now() - call_started;
        scores[i] = (float)r.score;
        if (calibrated) {
            decisions_add(&c->decisions, c->labels[i], r.score, c->thresholds.image_threshold, map_image, own,
                          c->thresholds.pixel_threshold);
            for (int j = 0; j < o->n_subsets; j++)
                decisions_add(&c->subset_decisions[j], c->labels[i], r.score, c->subset_thresholds[j].image_threshold,
                              map_image, own, c->subset_thresholds[j].pixel_threshold);
        }
        call_started = now();
        rp_image_free(img);
        in_calls += now() - call_started;
        if (o->timing) {
            double stage_seconds[RP_TIMING_COUNT];
            rp_timing_take(stage_seconds, RP_TIMING_COUNT);
            rp_stage_table_add(&c->stages, stage_seconds, in_calls, now() - image_started);
        }
    }
    c->ms_per_image = (now() - t0) * 1000.0 / (double)n;
    if (o->timing) {
        rp_timing_enable(0);
        rp_stage_table_print(&c->stages, stdout, c->name,
                             "(keeping each map for the pixel metrics, counting decisions against the thresholds)");
    }
    free(features);
    c->routed_home_share = routed ? (double)c->routed_home / (double)n : -1.0;
    if (rp_metric_auroc(scores, c->labels, n, &c->image_auroc)) die("image AUROC");
    c->pixel_auroc = c->aupro = -1;
    if (c->has_masks) {
        for (size_t i = 0; i < n; i++) {
            if (!c->masks.items[i][0]) continue;
            rp_image *mask;
            if (rp_image_load_file(c->masks.items[i], NULL, &mask)) die(c->masks.items[i]);
            masks[i] = malloc(npix);
            if (rp_scorer_mask_to_input(scorer, mask, o->mask_threshold, masks[i], npix)) die(c->masks.items[i]);
            rp_image_free(mask);
        }
        if (rp_metric_pixel_auroc((const float *const *)maps, (const uint8_t *const *)masks, (uint32_t)n,
                                  (uint32_t)side, (uint32_t)side, &c->pixel_auroc))
            die("pixel AUROC");
        if (rp_metric_aupro((const float *const *)maps, (const uint8_t *const *)masks, (uint32_t)n, (uint32_t)side,
                            (uint32_t)side, 0, &c->aupro))
            die("AUPRO");
    }
    if (report) {
        report_category rc = {
            .name = c->name,
            .count = n,
            .paths = (const char *const *)c->test.items,
            .mask_paths = (const char *const *)c->masks.items,
            .labels = c->labels,
            .scores = scores,
            .maps = (const float *const *)maps,
            .masks = (const uint8_t *const *)masks,
            .side = (uint32_t)side,
            .has_masks = c->has_masks,
            .mask_threshold = o->mask_threshold,
            .image_auroc = c->image_auroc,
            .pixel_auroc = c->pixel_auroc,
            .aupro = c->aupro,
            .thresholds = &c->thresholds,
            .nominal_false_reject_rate = calibrated ? decisions_nominal_false_reject_rate(
                                                          c->thresholds.calibration_images, c->thresholds.quantile)
                                                    : -1,
            .decisions = calibrated ? &c->decisions : NULL,
        };
        report_add_category(report, &rc, scorer);
    }
    free(map_image);
    for (size_t i = 0; i < n; i++) {
        free(maps[i]);
        free(masks[i]);
    }
    free(maps);
    free(masks);
    free(scores);
}

static void json_metric(FILE *f, const char *key, double v)
{
    if (v < 0) fprintf(f, "\"%s\": null", key);
    else fprintf(f, "\"%s\": %.6f", key, v);
}

/* The calibration and what its thresholds decide on the test split (rp_decisions.h). */
static void write_json_decisions(FILE *f, const rp_model_thresholds *t, const decision_counts *d)
{
    fprintf(f, "\"calibration_images\": %u, \"quantile\": %g, \"image_threshold\": %.9g, \"pixel_threshold\": %.9g, ",
            t->calibration_images, t->quantile, t->image_threshold, t->pixel_threshold);
    json_metric(f, "nominal_false_reject_rate", decisions_nominal_false_reject_rate(t->calibration_images, t->quantile));
    fprintf(f, ", ");
    json_metric(f, "false_reject_rate", decisions_false_reject_rate(d));
    fprintf(f, ", ");
    json_metric(f, "escape_rate", decisions_escape_rate(d));
    fprintf(f, ", ");
    json_metric(f, "mask_false_reject_rate", decisions_mask_false_reject_rate(d));
    fprintf(f, ", ");
    json_metric(f, "mask_escape_rate", decisions_mask_escape_rate(d));
    fprintf(f, ", ");
    json_metric(f, "pixel_false_positive_rate", decisions_pixel_false_positive_rate(d));
    fprintf(f, ", \"confusion\": {\"tp\": %llu, \"fp\": %llu, \"tn\": %llu, \"fn\": %llu}",
            (unsigned long long)d->tp, (unsigned long long)d->fp, (unsigned long long)d->tn,
            (unsigned long long)d->fn);
}

static void write_json(const options *o, category *cats, int n)
{
    FILE *f = fopen(o->json, "w");
    if (!f) {
        fprintf(stderr, "rp-eval: cannot write %s: %s\n", o->json, strerror(errno));
        exit(1);
    }
    fprintf(f, "{\"method\": \"%s\", \"unified\": %s, \"unified_mode\": \"%s\", \"coreset\": %g, \"no_crop\": %s, "
               "\"keep_aspect\": %s, \"knn_int8\": %s, \"knn_bf16\": %s, \"heads\": \"%s\", \"categories\": {",
            rp_model_options_method_name(o->model.pca_dim ? RP_METHOD_PCA : o->method), o->unified ? "true" : "false",
            !o->unified ? "none" : o->unified_shared ? "shared" : "routed", o->coreset,
            o->no_crop ? "true" : "false", o->keep_aspect ? "true" : "false", o->knn_int8 ? "true" : "false", o->knn_bf16 ? "true" : "false",
            o->model.heads == RP_HEADS_SHARED ? "shared" : o->model.heads == RP_HEADS_PER_CATEGORY ? "per-category"
            : o->model.heads == RP_HEADS_NONE ? "none" : "default");
    for (int i = 0; i < n; i++) {
        category *c = &cats[i];
        fprintf(f, "%s\n  \"%s\": {", i ? "," : "", c->name);
        json_metric(f, "image_auroc", c->image_auroc);
        fprintf(f, ", ");
        json_metric(f, "pixel_auroc", c->pixel_auroc);
        fprintf(f, ", ");
        json_metric(f, "aupro", c->aupro);
        fprintf(f, ", \"n_train\": %zu, \"n_test\": %zu, \"train_seconds\": %.3f, \"ms_per_image\": %.3f",
                c->n_trained, c->test.count, c->train_seconds, c->ms_per_image);
        fprintf(f, ", ");
        json_metric(f, "routed_home_share", c->routed_home_share);
        fprintf(f, ", \"added\": %s", c->added ? "true" : "false");
        if (o->timing) {
            fprintf(f, ", \"stage_mean_ms\": ");
            rp_stage_table_json(&c->stages, f);
        }
        if (c->thresholds.rule == RP_THRESHOLD_RULE_QUANTILE) {
            fprintf(f, ", ");
            write_json_decisions(f, &c->thresholds, &c->decisions);
        }
        if (o->n_subsets) {
            fprintf(f, ", \"calibration_subsets\": [");
            for (int j = 0; j < o->n_subsets; j++) {
                fprintf(f, "%s{", j ? ", " : "");
                write_json_decisions(f, &c->subset_thresholds[j], &c->subset_decisions[j]);
                fprintf(f, "}");
            }
            fprintf(f, "]");
        }
        fprintf(f, "}");
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(f, "\n}, \"peak_rss_mb\": %.1f}\n", ru.ru_maxrss / 1024.0);
    fclose(f);
}

/* --add: the category joins the trained model without retraining its head (rp_model_add_normals),
 * with the same coreset and calibration share as the categories trained with it. */
static void add_category(const options *o, rp_model *m, category *c)
{
    rp_bank_params bp;
    bank_params(o, &bp);
    rp_trainer_params tp; /* for a head fitted on the added category (--heads per-category) */
    rp_trainer_params_init(&tp, sizeof tp);
    tp.epochs = o->epochs;
    rp_extractor_params unused_ep;
    rp_extractor_params_init(&unused_ep, sizeof unused_ep);
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    rp_model_options_apply(&o->model, &p.method, &unused_ep, &tp);
    p.bank = &bp;
    p.trainer = &tp;
    rp_model_options_apply_train(&o->model, &p);
    const uint32_t held_out = calibration_count(o, c->train.count, 1);
    p.calibration_fraction = (double)held_out / (double)c->train.count;
    double t0 = now();
    if (rp_model_add_normals(m, c->name, (const char *const *)c->train.items, (uint32_t)c->train.count, &p,
                             o->verbose ? print_progress : NULL, NULL))
        die("adding a category");
    c->train_seconds = now() - t0;
    c->added = 1;
    fprintf(stderr, "rp-eval: %s added to the model in %.1f s (%s)\n", c->name, c->train_seconds,
            o->model.heads == RP_HEADS_SHARED         ? "through the model's frozen head"
            : o->model.heads == RP_HEADS_PER_CATEGORY ? "a head fitted on it alone"
            : o->model.heads == RP_HEADS_NONE         ? "no head: the backbone's features"
                                                      : "heads as the model was trained");
}

static void save_model(const options *o, const rp_model *m)
{
    if (!o->save_model) return;
    if (rp_model_save(m, o->save_model, NULL)) die(o->save_model);
    fprintf(stderr, "rp-eval: model saved to %s\n", o->save_model);
}

/* The second table: the calibrated thresholds' false rejects and escapes on the test split. */
static void print_decision_row(const char *name, const rp_model_thresholds *t, const decision_counts *d)
{
    char fpfn[32];
    snprintf(fpfn, sizeof fpfn, "%llu/%llu", (unsigned long long)d->fp, (unsigned long long)d->fn);
    printf("%-16s %6u %11.4f %9.4f %11.4f %8.4f %9.4f %10.6f %10s\n", name, t->calibration_images,
           decisions_nominal_false_reject_rate(t->calibration_images, t->quantile), decisions_false_reject_rate(d),
           decisions_escape_rate(d), decisions_mask_false_reject_rate(d), decisions_mask_escape_rate(d),
           decisions_pixel_false_positive_rate(d), fpfn);
}

static void print_decisions(const options *o, const category *cats, int n)
{
    printf("\n%-16s %6s %11s %9s %11s %8s %9s %10s %10s\n", "category", "n_cal", "nominal_FRR", "FRR", "escape",
           "mask_FRR", "mask_esc", "pixel_FPR", "FP/FN");
    for (int i = 0; i < n; i++) {
        const category *c = &cats[i];
        for (int j = 0; j < o->n_subsets; j++) print_decision_row(c->name, &c->subset_thresholds[j], &c->subset_decisions[j]);
        print_decision_row(c->name, &c->thresholds, &c->decisions);
    }
}

/* --calibrate N or N1,N2,...: each a whole number >= 1 (0 alone: no calibration). */
static void parse_calibrate(options *o, const char *v)
{
    uint32_t counts[MAX_SUBSETS + 1];
    int n = 0;
    const char *p = v;
    for (;;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 1000000 || n == MAX_SUBSETS + 1 || (*end && *end != ',') || (x == 0 && (n || *end))) {
            fprintf(stderr, "rp-eval: --calibrate %s: give a count of images or a list like 4,10,20 (at most %d, each >= 1)\n",
                    v, MAX_SUBSETS + 1);
            exit(2);
        }
        counts[n++] = (uint32_t)x;
        if (!*end) break;
        p = end + 1;
    }
    /* ascending; the largest is the held-out count */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && counts[j] < counts[j - 1]; j--) {
            uint32_t t = counts[j];
            counts[j] = counts[j - 1];
            counts[j - 1] = t;
        }
    o->calibrate = (int)counts[n - 1];
    o->n_subsets = 0;
    for (int i = 0; i + 1 < n; i++)
        if (counts[i] != counts[n - 1]) o->subsets[o->n_subsets++] = counts[i];
}

static void usage(void)
{
    fprintf(stderr, "usage: rp-eval --data DIR [--data DIR ...] [--method patchcore|reconpatch] [--coreset 0.1]\n"
                    "               [--no-crop | --keep-aspect] [--mask-threshold 127] [--unified | --unified-shared] [--add DIR]\n"
                    "               [--weights PATH]\n"
                    "               [--epochs N] [--verbose] [--json OUT.json] [--save-model MODEL] [--knn-int8 | --knn-bf16]\n"
                    "               [--calibrate N] [--report DIR] [--timing]\n"
                    "               " RP_MODEL_OPTIONS_USAGE "\n");
    exit(2);
}

int main(int argc, char **argv)
{
    options o = {.method = RP_METHOD_RECONPATCH, .coreset = 0.1, .mask_threshold = 127, .calibrate = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--data") && v && o.n_data < MAX_CATEGORIES) o.data[o.n_data++] = v, i++;
        else if (!strcmp(a, "--add") && v && o.n_add < MAX_CATEGORIES) o.add[o.n_add++] = v, i++;
        else if (!strcmp(a, "--method") && v) {
            if (!strcmp(v, "patchcore")) o.method = RP_METHOD_PATCHCORE;
            else if (!strcmp(v, "reconpatch")) o.method = RP_METHOD_RECONPATCH;
            else usage();
            i++;
        } else if (!strcmp(a, "--coreset") && v) o.coreset = atof(v), i++;
        else if (!strcmp(a, "--mask-threshold") && v) o.mask_threshold = (unsigned)atoi(v), i++;
        else if (!strcmp(a, "--weights") && v) o.weights = v, i++;
        else if (!strcmp(a, "--json") && v) o.json = v, i++;
        else if (!strcmp(a, "--save-model") && v) o.save_model = v, i++;
        else if (!strcmp(a, "--epochs") && v) o.epochs = (unsigned)atoi(v), i++;
        else if (!strcmp(a, "--calibrate") && v) parse_calibrate(&o, v), i++;
        else if (!strcmp(a, "--report") && v) o.report = v, i++;
        else if (!strcmp(a, "--no-crop")) o.no_crop = 1;
        else if (!strcmp(a, "--keep-aspect")) o.keep_aspect = 1;
        else if (!strcmp(a, "--unified")) o.unified = 1;
        else if (!strcmp(a, "--unified-shared")) o.unified = o.unified_shared = 1;
        else if (!strcmp(a, "--verbose")) o.verbose = 1;
        else if (!strcmp(a, "--timing")) o.timing = 1;
        else if (!strcmp(a, "--knn-int8")) o.knn_int8 = 1;
        else if (!strcmp(a, "--knn-bf16")) o.knn_bf16 = 1;
        else if (!rp_model_options_parse("rp-eval", argv, argc, &i, &o.model)) usage();
    }
    if (!o.n_data || o.coreset <= 0 || o.coreset > 1 || o.mask_threshold > 254) usage();
    if (o.no_crop && o.keep_aspect) {
        fprintf(stderr, "rp-eval: --no-crop and --keep-aspect exclude each other (keep-aspect crops)\n");
        return 2;
    }
    if (o.calibrate < -1 || (o.calibrate == 0 && o.report)) {
        fprintf(stderr, "rp-eval: --calibrate %d: give 1 or more images (the report needs thresholds)\n", o.calibrate);
        return 2;
    }
    if (o.save_model && o.n_data > 1 && !o.unified) {
        fprintf(stderr, "rp-eval: --save-model needs one --data folder or --unified (one model)\n");
        return 2;
    }
    category cats[MAX_CATEGORIES];
    memset(cats, 0, sizeof cats);
    /* The subsets are drawn from the held-out images as one list; a routed model holds out a share
     * of each category instead, so they would not be the images it calibrated on. */
    if (o.unified && !o.unified_shared && o.n_subsets) {
        fprintf(stderr, "rp-eval: --calibrate N1,N2,... (calibration subsets) does not go with --unified; use one N "
                        "or --unified-shared\n");
        return 2;
    }
    if (o.n_add && (!o.unified || o.unified_shared || o.n_data + o.n_add > MAX_CATEGORIES)) {
        fprintf(stderr, "rp-eval: --add needs --unified (a model that records categories), at most %d in all\n",
                MAX_CATEGORIES);
        return 2;
    }
    const int n_cats = o.n_data + o.n_add;
    for (int i = 0; i < o.n_data; i++) load_category(&cats[i], o.data[i]);
    for (int i = 0; i < o.n_add; i++) load_category(&cats[o.n_data + i], o.add[i]);
    rp_report *report = o.report ? report_open(o.report) : NULL;

    if (o.unified) {
        file_list all = {0};
        uint32_t *image_category = NULL;
        const char *names[MAX_CATEGORIES];
        for (int i = 0; i < o.n_data; i++) {
            names[i] = cats[i].name;
            for (size_t j = 0; j < cats[i].train.count; j++) {
                list_push(&all, cats[i].train.items[j]);
                image_category = realloc(image_category, all.count * sizeof *image_category);
                if (!image_category) die("out of memory");
                image_category[all.count - 1] = (uint32_t)i;
            }
        }
        double t0 = now();
        rp_model_thresholds subsets[MAX_SUBSETS];
        /* routed: one bank per category; shared: one bank over all (the earlier unified mode) */
        const int routed = !o.unified_shared && (o.n_data > 1 || o.n_add);
        rp_model *m = train(&o, (const char *const *)all.items, (uint32_t)all.count, routed ? image_category : NULL,
                            (uint32_t)o.n_data, names, subsets);
        double secs = now() - t0;
        for (int i = o.n_data; i < n_cats; i++) add_category(&o, m, &cats[i]);
        save_model(&o, m);
        for (int i = 0; i < n_cats; i++) {
            cats[i].train_seconds = i < o.n_data ? secs : cats[i].train_seconds;
            /* routed: the category's own training images (its bank), calibration images excepted;
             * shared: the one model's training set */
            rp_model_thresholds t;
            t.struct_size = sizeof t;
            if (routed && rp_model_get_category_thresholds(m, (uint32_t)i, &t, sizeof t)) die("category thresholds");
            cats[i].n_trained = routed ? cats[i].train.count - t.calibration_images
                                       : all.count - calibration_count(&o, all.count, 0);
            memcpy(cats[i].subset_thresholds, subsets, sizeof subsets);
            evaluate(&o, m, routed ? (uint32_t)i : 0u, &cats[i], report);
        }
        free(image_category);
        rp_model_free(m);
        list_free(&all);
    } else {
        for (int i = 0; i < o.n_data; i++) {
            double t0 = now();
            rp_model *m = train(&o, (const char *const *)cats[i].train.items, (uint32_t)cats[i].train.count, NULL, 1,
                                NULL, cats[i].subset_thresholds);
            cats[i].train_seconds = now() - t0;
            cats[i].n_trained = cats[i].train.count - calibration_count(&o, cats[i].train.count, 0);
            save_model(&o, m);
            evaluate(&o, m, 0, &cats[i], report);
            rp_model_free(m);
        }
    }
    printf("%-16s %10s %11s %8s %8s %7s %9s %9s\n", "category", "image_AUROC", "pixel_AUROC", "AUPRO", "n_train",
           "n_test", "train_s", "ms/image");
    for (int i = 0; i < n_cats; i++) {
        category *c = &cats[i];
        printf("%-16s %10.4f %11.4f %8.4f %8zu %7zu %9.1f %9.1f\n", c->name, c->image_auroc, c->pixel_auroc,
               c->aupro, c->n_trained, c->test.count, c->train_seconds, c->ms_per_image);
    }
    for (int i = 0; i < n_cats; i++)
        if (cats[i].routed_home_share >= 0)
            printf("routing: %s: %zu of %zu test images scored in their own category\n", cats[i].name,
                   cats[i].routed_home, cats[i].test.count);
    if (cats[0].thresholds.rule == RP_THRESHOLD_RULE_QUANTILE) print_decisions(&o, cats, n_cats);
    if (o.json) write_json(&o, cats, n_cats);
    if (report) report_close(report);
    for (int i = 0; i < n_cats; i++) {
        list_free(&cats[i].train);
        list_free(&cats[i].test);
        list_free(&cats[i].masks);
        free(cats[i].labels);
        rp_stage_table_free(&cats[i].stages);
    }
    return 0;
}
