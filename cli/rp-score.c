/* rp-score: score images with a model saved by rp-train (or rp-eval --save-model).
 *
 *   rp-score MODEL IMAGE... [--heatmap DIR] [--range LO:HI] [--precision fp32|bf16|auto]
 *
 * Prints one JSON line per image on stdout:
 *   {"file": "...", "score": S, "score_max": M, "decision": "anomalous"|"normal"|null}
 * decision is null when the model has no image threshold (train with rp-train --calibrate). When
 * the model has a pixel threshold the line also gives "defect_pixels", the size of the defect mask.
 * With --heatmap, also writes DIR/NAME.png: the anomaly map coloured with "jet" and alpha-blended
 * over the image, and adds "heatmap": path. Colour range: LO..HI with --range; else 0 .. twice the
 * model's pixel threshold (so the threshold is the middle of the scale and every image uses the
 * same colours); else, without thresholds, the range of each map.
 * Options may come before or after the images. Exit status 0 if every image was scored, 1 if any
 * failed (its line carries "error"), 2 on bad usage. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <reconpatch/reconpatch.h>

#include "rp_model_options.h"
#include "rp_omp_policy.h"

#define OVERLAY_ALPHA 0.5f

typedef struct options {
    const char *model;
    double pixel_threshold; /* the model's, NaN if none */
    const char **images;
    int n_images;
    const char *heatmap_dir;
    int has_range;
    float lo, hi;
    int32_t precision; /* 0: the model's own */
} options;

static void usage(void)
{
    fprintf(stderr, "usage: rp-score MODEL IMAGE... [--heatmap DIR] [--range LO:HI] [--precision fp32|bf16|auto]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, options *o)
{
    o->images = calloc((size_t)argc, sizeof *o->images);
    if (!o->images) exit(1);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--heatmap") && v) o->heatmap_dir = v, i++;
        else if (!strcmp(a, "--precision")) o->precision = rp_model_options_precision("rp-score", v), i++;
        else if (!strcmp(a, "--range") && v) {
            char *end;
            o->lo = strtof(v, &end);
            if (*end != ':') usage();
            o->hi = strtof(end + 1, &end);
            if (*end || !(o->lo < o->hi)) {
                fprintf(stderr, "rp-score: --range %s: expected LO:HI with LO < HI\n", v);
                exit(2);
            }
            o->has_range = 1;
            i++;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage();
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rp-score: unknown option %s\n", a);
            usage();
        } else if (!o->model) o->model = a;
        else o->images[o->n_images++] = a;
    }
    if (!o->model || !o->n_images) usage();
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* JSON has no NaN or infinity. */
static void json_number(double v)
{
    if (isfinite(v)) printf("%.6g", v);
    else printf("null");
}

/* DIR/<parent folder>_<file name without extension>.png, so that the same file name in several
 * folders (MVTec's test/good/000.png and test/crack/000.png) gives distinct overlays. */
static int heatmap_path(const char *dir, const char *image_path, char *out, size_t n)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", image_path);
    char *slash = strrchr(copy, '/');
    char *name = slash ? slash + 1 : copy;
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = '\0';
    const char *parent = "";
    if (slash) {
        *slash = '\0';
        char *pslash = strrchr(copy, '/');
        parent = pslash ? pslash + 1 : copy;
        if (!strcmp(parent, ".") || !strcmp(parent, "..")) parent = "";
    }
    int len = snprintf(out, n, "%s/%s%s%s.png", dir, parent, parent[0] ? "_" : "", name);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

static int write_heatmap(const options *o, const rp_image *img, const float *map, size_t n, const char *path)
{
    float lo = o->lo, hi = o->hi;
    if (!o->has_range && o->pixel_threshold > 0) {
        lo = 0.0f;
        hi = (float)(2.0 * o->pixel_threshold);
    } else if (!o->has_range) {
        lo = hi = map[0];
        for (size_t i = 1; i < n; i++) {
            if (map[i] < lo) lo = map[i];
            if (map[i] > hi) hi = map[i];
        }
        if (!(lo < hi)) hi = lo + 1.0f; /* a flat map: one colour */
    }
    rp_image *overlay = NULL;
    int rc = rp_image_overlay_heatmap(img, map, n, lo, hi, OVERLAY_ALPHA, &overlay);
    if (!rc) rc = rp_image_save_png(overlay, path);
    rp_image_free(overlay);
    return rc;
}

/* Score one image and print its line; returns 0 or 1 (failed). */
static int score_one(const options *o, const rp_model *model, const char *file)
{
    rp_image *img = NULL;
    float *map = NULL;
    uint8_t *mask = NULL;
    char heatmap[8192] = "";
    const char *local_error = NULL; /* a failure of this program, not of a library call */
    rp_score_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    int rc = rp_image_load_file(file, NULL, &img);
    size_t n = img ? (size_t)rp_image_width(img) * rp_image_height(img) : 0;
    if (!rc && o->heatmap_dir && !(map = malloc(n * sizeof *map))) rc = RP_E_NOMEM, local_error = "out of memory";
    if (!rc && o->pixel_threshold == o->pixel_threshold && !(mask = malloc(n)))
        rc = RP_E_NOMEM, local_error = "out of memory";
    if (!rc) rc = rp_score_image(model, img, &r, map, map ? n : 0, mask, mask ? n : 0);
    if (!rc && map) {
        if (heatmap_path(o->heatmap_dir, file, heatmap, sizeof heatmap)) {
            rc = RP_E_INVALID_ARG;
            local_error = "the heat-map path is too long";
            heatmap[0] = '\0';
        } else rc = write_heatmap(o, img, map, n, heatmap);
    }
    printf("{\"file\": ");
    json_string(file);
    if (rc) {
        printf(", \"error\": ");
        json_string(local_error ? local_error : rp_last_error_message());
        printf("}\n");
    } else {
        printf(", \"score\": ");
        json_number(r.score);
        printf(", \"score_max\": ");
        json_number(r.score_max);
        printf(", \"decision\": %s", r.decision == RP_DECISION_ANOMALOUS ? "\"anomalous\""
                                     : r.decision == RP_DECISION_NORMAL  ? "\"normal\""
                                                                         : "null");
        if (mask) printf(", \"defect_pixels\": %llu", (unsigned long long)r.mask_pixels);
        if (rp_model_category_count(model) > 1) { /* a model of several products: where it was routed */
            printf(", \"category\": ");
            json_string(rp_model_category_name(model, r.category));
        }
        if (heatmap[0]) {
            printf(", \"heatmap\": ");
            json_string(heatmap);
        }
        printf("}\n");
    }
    fflush(stdout);
    free(map);
    free(mask);
    rp_image_free(img);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    rp_cli_passive_openmp(argv);
    options o = {0};
    parse_args(argc, argv, &o);
    if (o.heatmap_dir) {
        struct stat st;
        if (stat(o.heatmap_dir, &st) != 0 && mkdir(o.heatmap_dir, 0777) != 0) {
            fprintf(stderr, "rp-score: cannot create folder %s: %s\n", o.heatmap_dir, strerror(errno));
            return 1;
        }
        if (stat(o.heatmap_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "rp-score: --heatmap %s is not a folder\n", o.heatmap_dir);
            return 1;
        }
    }
    rp_model *model = NULL;
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    lp.precision = o.precision;
    if (rp_model_load(o.model, &lp, &model)) {
        fprintf(stderr, "rp-score: cannot load model %s: %s (%s)\n", o.model, rp_last_error_message(),
                rp_error_name(rp_last_error_code()));
        free(o.images);
        return 1;
    }
    rp_model_thresholds th;
    memset(&th, 0, sizeof th);
    th.struct_size = sizeof th;
    if (rp_model_get_thresholds(model, &th, sizeof th)) {
        fprintf(stderr, "rp-score: %s\n", rp_last_error_message());
        rp_model_free(model);
        free(o.images);
        return 1;
    }
    o.pixel_threshold = th.pixel_threshold;
    int failed = 0;
    for (int i = 0; i < o.n_images; i++) failed |= score_one(&o, model, o.images[i]);
    rp_model_free(model);
    free(o.images);
    return failed;
}
