/* rp-tune: measure method and hyperparameter choices quickly, on cached patch features.
 *
 *   rp-tune cache --data DIR --out FILE [--no-crop | --keep-aspect] [--weights PATH]
 *                 [--bf16-rounding UNITS | --precision fp32|bf16] [--threads N]
 *       extract the patch features of DIR's train/good and test images once (plus labels and
 *       masks in the network-input geometry) into FILE; --bf16-rounding gives the features bf16's
 *       numerics in the listed units of the backbone (fp32 kernels rounding what bf16 would store,
 *       on any CPU: rp__extractor_create_bf16_rounded), UNITS a comma list of all, stem, layer1,
 *       layer2, layer3 and single blocks layerS.B (layer3.5 is layer3's last), the others fp32;
 *       --precision bf16 runs the backbone in oneDNN's native bf16 (rp_extractor_params.precision;
 *       refused on CPUs without AVX512-BF16);
 *   rp-tune run --cache FILE [--cache FILE ...] [--method reconpatch|patchcore] [--unified]
 *               [--coreset R] [--epochs N] [--steps N] [--batch N] [--lr X] [--sigma X] [--k N]
 *               [--alpha X] [--margin X] [--gamma X] [--repr-dim N] [--proj N] [--export-target] [--raw] [--uncentered]
 *               [--sampler uniform|aligned] [--window N] [--feature-dim N] [--pca N] [--trace FILE] [--train-only]
 *               [--val-batches N] [--threads N] [--seed N] [--bank-seed N]
 *       train (per cache, or one model on all with --unified), build the bank, score the cached test
 *       features, and print one JSON line per category with image AUROC, pixel AUROC and AUPRO.
 *       --feature-dim N pools the cached features to N values (PatchCore's own reduction, the
 *       adaptive average pooling of the aggregation: for N dividing the cached dimension this is
 *       exactly what the extractor gives with feature_dim N); --pca N replaces the learned head by
 *       PCA onto N components fitted on the training patches; --trace FILE writes one CSV line per
 *       training step (losses, pseudo-label statistics; slow: a validation pass every step).
 *       --seed seeds the head's training, --bank-seed the coreset's random projection (0, the
 *       default: the library's default seed).
 *
 * This is how the trainer's defaults were chosen (docs/reconpatch.md). Links the internal archive for
 * the mask geometry helpers. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <reconpatch/reconpatch.h>

#define RP_BENCH_PROGRAM "rp-tune"
#include "rp_cache_eval.h"

#include "backbone/weights.h"
#include "extractor/extractor_internal.h"
#include "features/aggregate_kernels.h"
#include "image/preprocess.h"
#include "trainer/trainer_internal.h"
#include "image/resample.h"
#include "rp_file_list.h"

#define MAGIC RP_FEATURE_CACHE_MAGIC
typedef rp_feature_cache cache;

static void features_of(const rp_extractor *ex, const char *path, float *out, size_t floats)
{
    rp_image *img;
    if (rp_image_load_file(path, NULL, &img)) die(path);
    const rp_image *v[1] = {img};
    if (rp_extractor_patch_features(ex, v, 1, out, floats)) die(path);
    rp_image_free(img);
}

/* --bf16-rounding's list -> the unit bits of rp__resnet_options.bf16_rounding_units (ResNet-50:
 * bit 0 the stem, then layer1's 3, layer2's 4 and layer3's 6 blocks). 0 on a bad name. */
static uint32_t bf16_units(const char *list)
{
    static const uint32_t first[4] = {1, 1, 4, 8}, count[4] = {0, 3, 4, 6};
    uint32_t mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned stage, block;
        char end;
        if (!strcmp(t, "all")) mask |= 0x3fffu;
        else if (!strcmp(t, "stem")) mask |= 1u;
        else if (sscanf(t, "layer%u.%u%c", &stage, &block, &end) == 2 && stage >= 1 && stage <= 3 && block < count[stage])
            mask |= 1u << (first[stage] + block);
        else if (sscanf(t, "layer%u%c", &stage, &end) == 1 && stage >= 1 && stage <= 3)
            mask |= ((1u << count[stage]) - 1) << first[stage];
        else return 0;
    }
    return mask;
}

static int do_cache(const char *data, const char *out, int no_crop, int keep_aspect, const char *weights,
                    uint32_t rounding, int32_t precision, uint32_t threads)
{
    char wpath[4096];
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    if (!weights) {
        if (rp_default_weights_path(wpath, sizeof wpath)) die("weights");
        weights = wpath;
    }
    ep.weights_path = weights;
    ep.no_crop = (uint32_t)no_crop;
    ep.keep_aspect = (uint32_t)keep_aspect;
    ep.num_threads = threads;
    ep.precision = precision;
    rp_extractor *ex;
    if (rounding) {
        rp__weights *w = NULL;
        if (rp__weights_load(weights, &w) || rp__extractor_create_bf16_rounded(&ep, w, rounding, &ex))
            die("extractor with bf16 rounding");
        rp__weights_free(w);
        fprintf(stderr, "rp-tune cache: bf16 rounding in units 0x%x (bit 0 the stem, bit 1 + i block i)\n", rounding);
    } else if (rp_extractor_create(&ep, &ex)) {
        die(rp_last_error_message());
    }
    rp_extractor_info info;
    info.struct_size = sizeof info;
    rp_extractor_get_info(ex, &info, sizeof info);
    uint32_t patches = info.grid_size * info.grid_size, dim = info.feature_dim, side = info.input_size;
    const uint32_t resize = 256; /* the extractor's default, which do_cache does not change */
    size_t per = (size_t)patches * dim;
    char path[4096];
    snprintf(path, sizeof path, "%s/train/good", data);
    file_list train_list = list_dir(path, 0);
    char **train = train_list.items;
    size_t n_train = train_list.count;
    snprintf(path, sizeof path, "%s/test", data);
    file_list type_list = list_dir(path, 1);
    char **types = type_list.items;
    size_t n_types = type_list.count;
    FILE *f = fopen(out, "wb");
    if (!f) die(out);
    uint32_t hdr[6] = {MAGIC, (uint32_t)n_train, 0, patches, dim, side};
    fwrite(hdr, sizeof hdr, 1, f);
    float *buf = malloc(per * sizeof(float));
    for (size_t i = 0; i < n_train; i++) {
        snprintf(path, sizeof path, "%s/train/good/%s", data, train[i]);
        features_of(ex, path, buf, per);
        fwrite(buf, sizeof(float), per, f);
    }
    uint32_t n_test = 0;
    uint8_t *labels = NULL, *masks = NULL;
    float *resampled = malloc((size_t)side * side * 3 * sizeof(float));
    for (size_t t = 0; t < n_types; t++) {
        snprintf(path, sizeof path, "%s/test/%s", data, types[t]);
        file_list img_list = list_dir(path, 0);
        char **imgs = img_list.items;
        size_t n = img_list.count;
        for (size_t i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/test/%s/%s", data, types[t], imgs[i]);
            features_of(ex, path, buf, per);
            fwrite(buf, sizeof(float), per, f);
            labels = realloc(labels, n_test + 1);
            masks = realloc(masks, (size_t)(n_test + 1) * side * side);
            uint8_t *m = masks + (size_t)n_test * side * side;
            memset(m, 0, (size_t)side * side);
            labels[n_test] = strcmp(types[t], "good") != 0;
            if (labels[n_test]) {
                char stem[1024];
                snprintf(stem, sizeof stem, "%s", imgs[i]);
                char *dot = strrchr(stem, '.');
                if (dot) *dot = 0;
                snprintf(path, sizeof path, "%s/ground_truth/%s/%s_mask.png", data, types[t], stem);
                rp_image *mask;
                if (!rp_image_load_file(path, NULL, &mask)) {
                    uint32_t c = rp_image_channels(mask), fw, fh, ox, oy;
                    /* the mask goes through the image's frame (with keep_aspect, its own size's) */
                    if (rp__image_resize_frame(rp_image_width(mask), rp_image_height(mask), resize, side, no_crop,
                                               keep_aspect, &fw, &fh, &ox, &oy, "rp-tune") ||
                        rp__image_resample(rp_image_pixels(mask), rp_image_width(mask), rp_image_height(mask), c,
                                           fw, fh, ox, oy, side, side, resampled, "rp-tune"))
                        die(path);
                    for (size_t p = 0; p < (size_t)side * side; p++) m[p] = resampled[p * c] > 127.0f;
                    rp_image_free(mask);
                }
            }
            n_test++;
        }
    }
    fwrite(labels, 1, n_test, f);
    fwrite(masks, 1, (size_t)n_test * side * side, f);
    hdr[2] = n_test;
    fseek(f, 0, SEEK_SET);
    fwrite(hdr, sizeof hdr, 1, f);
    fclose(f);
    fprintf(stderr, "rp-tune: cached %zu train and %u test images of %s\n", n_train, n_test, data);
    rp_extractor_free(ex);
    return 0;
}

static void load_cache(cache *c, const char *path) { rp_feature_cache_load(c, path, RP_BENCH_PROGRAM); }

typedef struct run_opts {
    int32_t method;
    uint32_t pca_dim; /* non-zero: PCA onto this many components instead of the learned head */
    double coreset;
    uint64_t bank_seed; /* the coreset's random projection (0: the library's default seed) */
    rp_trainer_params tp;
    FILE *trace; /* per-step CSV of the training, or NULL */
    int train_only; /* stop after training the head (with --trace: the curves are the result) */
} run_opts;

/* Pool each cached feature vector to out_dim values with the aggregation's adaptive average
 * pooling bins (PyTorch adaptive_avg_pool1d), in place. */
static void pool_features(float *v, uint64_t rows, uint32_t dim, uint32_t out_dim)
{
    float *tmp = malloc(out_dim * sizeof(float));
    if (!tmp) die("pool");
    for (uint64_t r = 0; r < rows; r++) {
        const float *in = v + r * dim;
        for (uint32_t i = 0; i < out_dim; i++) {
            uint64_t first, last;
            rp__features_adaptive_bin(i, dim, out_dim, &first, &last);
            double sum = 0.0;
            for (uint64_t c = first; c < last; c++) sum += in[c];
            tmp[i] = (float)(sum / (double)(last - first));
        }
        memcpy(v + r * out_dim, tmp, out_dim * sizeof(float));
    }
    free(tmp);
}

static void pool_cache(cache *c, uint32_t out_dim)
{
    if (!out_dim || out_dim == c->dim) return;
    if (out_dim > c->dim) {
        fprintf(stderr, "rp-tune: --feature-dim %u is above the cached %u\n", out_dim, c->dim);
        exit(2);
    }
    pool_features(c->train, (uint64_t)c->n_train * c->patches, c->dim, out_dim);
    pool_features(c->test, (uint64_t)c->n_test * c->patches, c->dim, out_dim);
    c->dim = out_dim;
}

static void trace_step(const rp__trainer_step_stats *s, void *user_data)
{
    fprintf((FILE *)user_data, "%llu,%u,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n",
            (unsigned long long)s->step, s->epoch, s->lr, s->loss, s->val_loss, s->val_loss_frozen,
            s->share_w_half, s->mean_w, s->nn_same_position, s->nn_near_position, s->nn_same_image);
    fflush((FILE *)user_data);
}

/* PCA fitted on the training patches of the given caches. */
static rp_embedding *fit_pca(cache *cs, int n, uint32_t out_dim)
{
    const uint32_t dim = cs[0].dim;
    uint64_t rows = 0;
    for (int c = 0; c < n; c++) rows += (uint64_t)cs[c].n_train * cs[c].patches;
    const float *x = cs[0].train;
    float *joined = NULL;
    if (n > 1) {
        joined = malloc(rows * dim * sizeof(float));
        if (!joined) die("pca");
        uint64_t at = 0;
        for (int c = 0; c < n; c++) {
            size_t floats = (size_t)cs[c].n_train * cs[c].patches * dim;
            memcpy(joined + at, cs[c].train, floats * sizeof(float));
            at += floats;
        }
        x = joined;
    }
    rp_embedding *e;
    if (rp_embedding_fit_pca(x, rows, dim, out_dim, &e)) die("pca");
    free(joined);
    return e;
}

/* Train on the given caches' training features; returns the embedding (NULL for PatchCore) and bank. */
static void train(cache *cs, int n, const run_opts *o, rp_embedding **emb, rp_bank **bank, double *secs)
{
    double t0 = now();
    uint32_t dim = cs[0].dim;
    size_t per = (size_t)cs[0].patches * dim;
    *emb = NULL;
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.coreset_ratio = o->coreset;
    bp.seed = o->bank_seed;
    if (o->pca_dim) {
        *emb = fit_pca(cs, n, o->pca_dim);
        bp.dim = o->pca_dim;
    } else if (o->method == RP_METHOD_RECONPATCH) {
        rp_trainer *t;
        if (rp_trainer_create(&o->tp, &t)) die("trainer");
        if (o->trace) {
            fprintf(o->trace, "step,epoch,lr,loss,val_loss,val_loss_frozen_labels,share_w_above_half,mean_w,"
                              "nn_same_position,nn_near_position,nn_same_image\n");
            rp__trainer_set_observer(t, trace_step, o->trace);
        }
        for (int c = 0; c < n; c++)
            for (uint32_t i = 0; i < cs[c].n_train; i++)
                if (rp_trainer_add_image_features(t, cs[c].train + per * i, cs[c].patches, dim)) die("add");
        if (rp_trainer_train(t, NULL, NULL)) die("train");
        if (rp_trainer_get_embedding(t, emb)) die("embedding");
        rp_trainer_free(t);
        bp.dim = rp_embedding_out_dim(*emb);
        if (o->train_only) {
            *bank = NULL;
            *secs = now() - t0;
            return;
        }
    } else {
        bp.dim = dim;
    }
    if (rp_bank_create(&bp, bank)) die("bank");
    float *tmp = *emb ? malloc((size_t)cs[0].patches * bp.dim * sizeof(float)) : NULL;
    for (int c = 0; c < n; c++)
        for (uint32_t i = 0; i < cs[c].n_train; i++) {
            const float *v = cs[c].train + per * i;
            if (*emb) {
                if (rp_embedding_apply(*emb, v, cs[c].patches, tmp, (size_t)cs[c].patches * bp.dim)) die("apply");
                v = tmp;
            }
            if (rp_bank_add(*bank, v, cs[c].patches, bp.dim)) die("bank add");
        }
    free(tmp);
    if (rp_bank_freeze(*bank, NULL, NULL)) die("freeze");
    *secs = now() - t0;
}

/* One JSON line: the category's metrics with this model. */
static void evaluate(const cache *c, const rp_embedding *emb, const rp_bank *bank, const run_opts *o, double secs,
                     const char *mode)
{
    if (!bank) {
        printf("{\"category\": \"%s\", \"train_s\": %.1f}\n", c->name, secs);
        return;
    }
    rp_cache_eval e;
    rp_cache_evaluate(c, emb, bank, &e);
    char pixel[64], pro[64];
    /* JSON has no NaN: categories without masks report null pixel metrics. */
    snprintf(pixel, sizeof pixel, isnan(e.pixel_auroc) ? "null" : "%.4f", e.pixel_auroc);
    snprintf(pro, sizeof pro, isnan(e.aupro) ? "null" : "%.4f", e.aupro);
    const char *method = o->pca_dim ? "pca" : o->method == RP_METHOD_PATCHCORE ? "patchcore" : "reconpatch";
    printf("{\"category\": \"%s\", \"method\": \"%s\", \"mode\": \"%s\", \"feature_dim\": %u, \"bank_dim\": %u, "
           "\"sampler\": \"%s\", \"centered\": %d, \"seed\": %llu, \"bank_seed\": %llu, \"image_auroc\": %.4f, \"pixel_auroc\": %s, \"aupro\": %s, "
           "\"train_s\": %.1f, \"score_ms\": %.1f, \"bank\": %llu}\n",
           c->name, method, mode, c->dim, rp_bank_dim(bank), o->tp.sampler == RP_SAMPLER_ALIGNED ? "aligned" : "uniform",
           o->tp.target_centering != RP_TARGETS_UNCENTERED,
           (unsigned long long)o->tp.seed, (unsigned long long)o->bank_seed, e.image_auroc, pixel, pro, secs, e.score_ms,
           (unsigned long long)rp_bank_size(bank));
    fflush(stdout);
    free(e.scores);
}

int main(int argc, char **argv)
{
    if (argc < 2) goto usage;
    if (!strcmp(argv[1], "cache")) {
        const char *data = NULL, *out = NULL, *w = NULL;
        int no_crop = 0, keep_aspect = 0;
        uint32_t rounding = 0, threads = 0;
        int32_t precision = RP_PRECISION_FP32;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
            else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
            else if (!strcmp(argv[i], "--weights") && i + 1 < argc) w = argv[++i];
            else if (!strcmp(argv[i], "--no-crop")) no_crop = 1;
            else if (!strcmp(argv[i], "--keep-aspect")) keep_aspect = 1;
            else if (!strcmp(argv[i], "--bf16-rounding") && i + 1 < argc) {
                if (!(rounding = bf16_units(argv[++i]))) goto usage;
            } else if (!strcmp(argv[i], "--precision") && i + 1 < argc &&
                       (!strcmp(argv[i + 1], "fp32") || !strcmp(argv[i + 1], "bf16"))) {
                precision = strcmp(argv[++i], "bf16") ? RP_PRECISION_FP32 : RP_PRECISION_BF16;
            } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = (uint32_t)atoi(argv[++i]);
            else goto usage;
        }
        if (!data || !out || (no_crop && keep_aspect) || (rounding && precision != RP_PRECISION_FP32)) goto usage;
        return do_cache(data, out, no_crop, keep_aspect, w, rounding, precision, threads);
    }
    if (!strcmp(argv[1], "run")) {
        cache cs[8];
        int n = 0, unified = 0;
        uint32_t feature_dim = 0;
        run_opts o = {.method = RP_METHOD_RECONPATCH, .coreset = 0.1};
        rp_trainer_params_init(&o.tp, sizeof o.tp);
        for (int i = 2; i < argc; i++) {
            const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
            if (!strcmp(a, "--cache") && n < 8) load_cache(&cs[n++], v), i++;
            else if (!strcmp(a, "--method")) o.method = !strcmp(v, "patchcore") ? RP_METHOD_PATCHCORE : RP_METHOD_RECONPATCH, i++;
            else if (!strcmp(a, "--coreset")) o.coreset = atof(v), i++;
            else if (!strcmp(a, "--epochs")) o.tp.epochs = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--steps")) o.tp.steps_per_epoch = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--batch")) o.tp.batch_size = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--lr")) o.tp.lr = atof(v), i++;
            else if (!strcmp(a, "--sigma")) o.tp.sigma = atof(v), i++;
            else if (!strcmp(a, "--k")) o.tp.k = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--alpha")) o.tp.alpha = atof(v), i++;
            else if (!strcmp(a, "--margin")) o.tp.margin = atof(v), i++;
            else if (!strcmp(a, "--gamma")) o.tp.ema_momentum = atof(v), i++;
            else if (!strcmp(a, "--repr") || !strcmp(a, "--repr-dim")) o.tp.repr_dim = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--feature-dim")) feature_dim = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--pca")) o.pca_dim = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--window")) o.tp.sampler_window = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--sampler")) {
                if (!strcmp(v, "aligned")) o.tp.sampler = RP_SAMPLER_ALIGNED;
                else if (!strcmp(v, "uniform")) o.tp.sampler = RP_SAMPLER_UNIFORM;
                else goto usage;
                i++;
            } else if (!strcmp(a, "--trace")) {
                if (!(o.trace = fopen(v, "w"))) die(v);
                i++;
            }
            else if (!strcmp(a, "--proj")) o.tp.proj_dim = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--patience")) o.tp.patience = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--wd")) o.tp.weight_decay = atof(v), i++;
            else if (!strcmp(a, "--seed")) o.tp.seed = strtoull(v, NULL, 10), i++;
            else if (!strcmp(a, "--bank-seed")) o.bank_seed = strtoull(v, NULL, 10), i++;
            else if (!strcmp(a, "--export-target")) o.tp.export_target = 1;
            else if (!strcmp(a, "--raw")) o.tp.raw_targets = 1;
            else if (!strcmp(a, "--train-only")) o.train_only = 1;
            else if (!strcmp(a, "--val-batches")) o.tp.val_batches = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--threads")) o.tp.num_threads = (uint32_t)atoi(v), i++;
            else if (!strcmp(a, "--uncentered")) o.tp.target_centering = RP_TARGETS_UNCENTERED;
            else if (!strcmp(a, "--unified")) unified = 1;
            else goto usage;
        }
        if (!n) goto usage;
        for (int c = 0; c < n; c++) pool_cache(&cs[c], feature_dim);
        rp_embedding *emb;
        rp_bank *bank;
        double secs;
        if (unified) {
            train(cs, n, &o, &emb, &bank, &secs);
            for (int c = 0; c < n; c++) evaluate(&cs[c], emb, bank, &o, secs, "unified");
            rp_embedding_free(emb);
            rp_bank_free(bank);
        } else {
            for (int c = 0; c < n; c++) {
                train(&cs[c], 1, &o, &emb, &bank, &secs);
                evaluate(&cs[c], emb, bank, &o, secs, "separate");
                rp_embedding_free(emb);
                rp_bank_free(bank);
            }
        }
        if (o.trace) fclose(o.trace);
        return 0;
    }
usage:
    fprintf(stderr, "usage: rp-tune cache --data DIR --out FILE [--no-crop | --keep-aspect] [--weights PATH]\n"
                    "                     [--bf16-rounding all|stem|layerS|layerS.B,... | --precision fp32|bf16] [--threads N]\n"
                    "       rp-tune run --cache FILE [...] [--method reconpatch|patchcore] [--unified] [options]\n");
    return 2;
}
