/* rp-train: train an anomaly model on normal images and save it to a file for rp-score.
 *
 *   rp-train [--method reconpatch|patchcore] [--coreset R] [--no-crop | --keep-aspect] [--weights PATH]
 *            [--epochs N] [--embed-weights] [--calibrate F] [--repr-dim N] [--feature-dim N] [--pca N]
 *            [--sampler uniform|aligned] [--category NAME] -o MODEL IMAGE_OR_DIR...   (rp_model_options.h)
 *   rp-train --extend MODEL --category NAME [--coreset R] [--calibrate F] [--heads none|shared|per-category]
 *            -o OUT IMAGE_OR_DIR...
 *
 * --category NAME records the product's name and makes a model that can take more products later;
 * --extend MODEL adds the images as a new product NAME to such a model (nothing it holds is
 * retrained; by default the new product gets what training with it would give it, a head fitted on
 * its images alone unless the model's products share one head; --heads per-category, shared (the
 * frozen head) or none (the backbone's features) choose: docs/unified.md) and writes the result to
 * OUT (which may be MODEL).
 *
 * --keep-aspect resizes each image's shorter side to 256 keeping its aspect ratio before the
 * 224 centre crop (torchvision Resize(256), the MVTec protocol); the default resizes both sides.
 *
 * --calibrate F holds a share F of the images out of training and sets the model's decision
 * thresholds from their scores (rp_train_params.calibration_fraction), so that rp-score can say
 * "normal" or "anomalous". --embed-weights stores the backbone weights inside the model file
 * (self-contained, about 100 MB larger); without it the file records the weights' path and sha256.
 * A folder stands for its PNG and JPEG files (not its sub-folders), sorted by name. Progress goes
 * to stderr: a bar with an ETA when stderr is a terminal, plain lines otherwise (logs, CI).
 * Exit status 0 on success, 1 on a failure (the library's message is printed), 2 on bad usage. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <reconpatch/reconpatch.h>

#include "rp_model_options.h"
#include "rp_omp_policy.h"

typedef struct path_list {
    char **items;
    size_t count, cap;
} path_list;

typedef struct options {
    int32_t method;
    double coreset, calibrate;
    int no_crop, keep_aspect, embed_weights;
    unsigned epochs;
    const char *weights, *output, *category, *extend;
    path_list inputs;
    rp_model_options model; /* --repr-dim, --feature-dim, --pca, --sampler */
} options;

static void usage(void)
{
    fprintf(stderr, "usage: rp-train [--method reconpatch|patchcore] [--coreset R] [--no-crop | --keep-aspect]\n"
                    "                [--weights PATH] [--epochs N] [--embed-weights] [--calibrate F]\n"
                    "                " RP_MODEL_OPTIONS_USAGE "\n"
                    "                [--category NAME] -o MODEL IMAGE_OR_DIR...\n"
                    "       rp-train --extend MODEL --category NAME [--coreset R] [--calibrate F] [--embed-weights]\n"
                    "                [--heads none|shared|per-category] -o OUT IMAGE_OR_DIR...\n");
    exit(2);
}

static void push(path_list *l, const char *s)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->items, l->cap * sizeof *l->items);
        if (!grown) {
            fprintf(stderr, "rp-train: out of memory\n");
            exit(1);
        }
        l->items = grown;
    }
    if (!(l->items[l->count++] = strdup(s))) {
        fprintf(stderr, "rp-train: out of memory\n");
        exit(1);
    }
}

static void free_list(path_list *l)
{
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* Append the image files of dir, sorted; returns how many. */
static size_t expand_dir(const char *dir, path_list *out)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "rp-train: cannot read folder %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    path_list names = {0};
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && is_image_name(e->d_name)) push(&names, e->d_name);
    closedir(d);
    if (names.count) qsort(names.items, names.count, sizeof *names.items, cmp_str);
    size_t len = strlen(dir);
    const char *sep = len && dir[len - 1] == '/' ? "" : "/";
    for (size_t i = 0; i < names.count; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s%s%s", dir, sep, names.items[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) push(out, path);
    }
    size_t n = names.count;
    free_list(&names);
    return n;
}

static void parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--method") && v) {
            if (!strcmp(v, "reconpatch")) o->method = RP_METHOD_RECONPATCH;
            else if (!strcmp(v, "patchcore")) o->method = RP_METHOD_PATCHCORE;
            else {
                fprintf(stderr, "rp-train: --method %s: expected reconpatch or patchcore\n", v);
                exit(2);
            }
            i++;
        } else if (!strcmp(a, "--coreset") && v) {
            o->coreset = strtod(v, &end);
            if (*end || !(o->coreset > 0 && o->coreset <= 1)) {
                fprintf(stderr, "rp-train: --coreset %s: expected a fraction in (0, 1]\n", v);
                exit(2);
            }
            i++;
        } else if (!strcmp(a, "--calibrate") && v) {
            o->calibrate = strtod(v, &end);
            if (*end || !(o->calibrate > 0 && o->calibrate < 1)) {
                fprintf(stderr, "rp-train: --calibrate %s: expected a fraction in (0, 1)\n", v);
                exit(2);
            }
            i++;
        } else if (!strcmp(a, "--epochs") && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 100000) {
                fprintf(stderr, "rp-train: --epochs %s: expected a whole number from 1\n", v);
                exit(2);
            }
            o->epochs = (unsigned)n;
            i++;
        } else if (!strcmp(a, "--weights") && v) o->weights = v, i++;
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && v) o->output = v, i++;
        else if (!strcmp(a, "--category") && v) o->category = v, i++;
        else if (!strcmp(a, "--extend") && v) o->extend = v, i++;
        else if (!strcmp(a, "--no-crop")) o->no_crop = 1;
        else if (!strcmp(a, "--keep-aspect")) o->keep_aspect = 1;
        else if (!strcmp(a, "--embed-weights")) o->embed_weights = 1;
        else if (rp_model_options_parse("rp-train", argv, argc, &i, &o->model)) continue;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage();
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rp-train: unknown option %s\n", a);
            usage();
        } else {
            struct stat st;
            if (stat(a, &st) != 0) {
                fprintf(stderr, "rp-train: %s: %s\n", a, strerror(errno));
                exit(1);
            }
            if (S_ISDIR(st.st_mode)) {
                if (!expand_dir(a, &o->inputs)) {
                    fprintf(stderr, "rp-train: folder %s holds no PNG or JPEG files\n", a);
                    exit(1);
                }
            } else push(&o->inputs, a);
        }
    }
    if (!o->output || !o->inputs.count) usage();
    if (o->no_crop && o->keep_aspect) {
        fprintf(stderr, "rp-train: --no-crop and --keep-aspect exclude each other (keep-aspect crops)\n");
        exit(2);
    }
    if (o->extend && !o->category) {
        fprintf(stderr, "rp-train: --extend needs --category NAME for the new product\n");
        exit(2);
    }
    if (o->inputs.count > UINT32_MAX) {
        fprintf(stderr, "rp-train: too many images (%zu)\n", o->inputs.count);
        exit(1);
    }
}

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct progress_state {
    int tty;
    int32_t stage;        /* stage of the last report */
    double stage_start;   /* when that stage began */
    int last_decile;      /* plain mode: last 10% step printed */
} progress_state;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *stage_name(int32_t stage)
{
    switch (stage) {
    case RP_STAGE_FEATURES: return "features";
    case RP_STAGE_TRAIN: return "training";
    case RP_STAGE_CORESET: return "coreset";
    case RP_STAGE_SCORE: return "calibrate";
    default: return "working";
    }
}

static void format_seconds(double s, char *buf, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static int on_progress(const rp_progress *p, void *user_data)
{
    progress_state *st = user_data;
    double t = now();
    if (p->stage != st->stage) {
        if (st->tty && st->stage) fputc('\n', stderr); /* keep the finished stage's bar */
        st->stage = p->stage;
        st->stage_start = t;
        st->last_decile = -1;
    }
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    double elapsed = t - st->stage_start;
    char eta[32] = "--:--", spent[32];
    if (p->done > 0 && p->total > 0) format_seconds(elapsed / frac - elapsed, eta, sizeof eta);
    format_seconds(elapsed, spent, sizeof spent);
    char extra[96] = "";
    if (p->stage == RP_STAGE_TRAIN && p->epoch >= 0) {
        if (p->val_loss == p->val_loss)
            snprintf(extra, sizeof extra, " epoch %d loss %.4f val %.4f", p->epoch + 1, p->loss, p->val_loss);
        else snprintf(extra, sizeof extra, " epoch %d loss %.4f", p->epoch + 1, p->loss);
    }
    if (st->tty) {
        char bar[31];
        int filled = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%-8s [%s] %3d%% %lld/%lld %s ETA %s%s\033[K", stage_name(p->stage), bar,
                (int)(frac * 100), (long long)p->done, (long long)p->total, spent, eta, extra);
        fflush(stderr);
    } else {
        /* one line per 10% of each stage, so logs stay short */
        int decile = (int)(frac * 10);
        if (decile != st->last_decile) {
            st->last_decile = decile;
            fprintf(stderr, "rp-train: %s %lld/%lld (%d%%) elapsed %s ETA %s%s\n", stage_name(p->stage),
                    (long long)p->done, (long long)p->total, (int)(frac * 100), spent, eta, extra);
        }
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------------- */

static int fail(const char *what)
{
    fprintf(stderr, "rp-train: %s: %s (%s)\n", what, rp_last_error_message(), rp_error_name(rp_last_error_code()));
    return 1;
}

/* --extend: load the model, add the images as a new product, save. */
static int extend(options *o, const rp_train_params *p)
{
    rp_model *model = NULL;
    if (rp_model_load(o->extend, NULL, &model)) {
        free_list(&o->inputs);
        return fail(o->extend);
    }
    fprintf(stderr, "rp-train: adding '%s' (%zu images) to %s (%u categories) -> %s\n", o->category, o->inputs.count,
            o->extend, rp_model_category_count(model), o->output);
    progress_state ps = {.tty = isatty(STDERR_FILENO)};
    int rc = rp_model_add_normals(model, o->category, (const char *const *)o->inputs.items, (uint32_t)o->inputs.count,
                                  p, on_progress, &ps);
    if (ps.tty && ps.stage) fputc('\n', stderr);
    free_list(&o->inputs);
    if (rc) {
        rp_model_free(model);
        return fail("adding the images");
    }
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    sp.embed_weights = (uint32_t)o->embed_weights;
    rc = rp_model_save(model, o->output, &sp);
    if (!rc) fprintf(stderr, "rp-train: saved %s with %u categories\n", o->output, rp_model_category_count(model));
    rp_model_free(model);
    return rc ? fail(o->output) : 0;
}

int main(int argc, char **argv)
{
    rp_cli_passive_openmp(argv);
    options o = {.method = RP_METHOD_RECONPATCH};
    parse_args(argc, argv, &o);

    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = o.weights; /* NULL = the cached Keras ResNet-50 */
    ep.no_crop = (uint32_t)o.no_crop;
    ep.keep_aspect = (uint32_t)o.keep_aspect;
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.coreset_ratio = o.coreset; /* 0 = the library's default (10%) */
    rp_trainer_params tp;
    rp_trainer_params_init(&tp, sizeof tp);
    tp.epochs = o.epochs;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = o.method;
    rp_model_options_apply(&o.model, &p.method, &ep, &tp);
    rp_model_options_apply_train(&o.model, &p);
    p.extractor = &ep;
    p.bank = &bp;
    p.trainer = &tp;
    p.calibration_fraction = o.calibrate;
    const char *names[1] = {o.category};
    if (o.category) {
        p.category_count = 1;
        p.category_names = names;
    }
    if (o.extend) return extend(&o, &p);

    fprintf(stderr, "rp-train: %s on %zu images -> %s\n", p.method == RP_METHOD_PATCHCORE ? "PatchCore" : p.method == RP_METHOD_PCA ? "PCA" : "ReConPatch",
            o.inputs.count, o.output);
    progress_state ps = {.tty = isatty(STDERR_FILENO)};
    double t0 = now();
    rp_model *model = NULL;
    int rc = rp_train((const char *const *)o.inputs.items, (uint32_t)o.inputs.count, &p, on_progress, &ps, &model);
    if (ps.tty && ps.stage) fputc('\n', stderr);
    if (rc) {
        free_list(&o.inputs);
        return fail("training failed");
    }
    double train_s = now() - t0;

    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    sp.embed_weights = (uint32_t)o.embed_weights;
    rc = rp_model_save(model, o.output, &sp);
    if (rc) {
        rp_model_free(model);
        free_list(&o.inputs);
        return fail(o.output);
    }
    fprintf(stderr, "rp-train: trained in %.1f s, bank of %llu vectors x %u, saved %s\n", train_s,
            (unsigned long long)rp_bank_size(rp_model_bank(model)), rp_bank_dim(rp_model_bank(model)), o.output);
    rp_model_thresholds th;
    memset(&th, 0, sizeof th);
    th.struct_size = sizeof th;
    if (rp_model_get_thresholds(model, &th, sizeof th) == RP_OK && th.rule != RP_THRESHOLD_RULE_NONE)
        fprintf(stderr, "rp-train: thresholds from %u held-out images: image %.6g, pixel %.6g\n",
                th.calibration_images, th.image_threshold, th.pixel_threshold);
    rp_model_free(model);
    free_list(&o.inputs);
    return 0;
}
