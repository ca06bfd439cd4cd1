/* rp-bench-train-memory: training's peak resident memory and time against the number of training
 * images (docs/memory-bank.md, "Training memory").
 *
 *   rp-bench-train-memory --data DIR [--data DIR ...] --images N [--method reconpatch|patchcore]
 *                         [--coreset R] [--limit N[K|M|G]|none] [--cache DIR] [--keep-aspect]
 *
 * One model of several categories (one per --data, as a plant would train it) on N training images
 * in all: each set's train/good images in turn, and once a set's own images are used up, the same
 * images flipped left-right, top-bottom, both, and those four transposed (written once as PNG
 * files under --cache, default /tmp/rp-bench-train-memory, and reused). Prints the wall time, the peak resident set
 * (getrusage), the largest number of feature bytes the library's stores held in memory at once
 * (the test hook of common/feature_store.h) and how many stores went to their temporary file.
 * --limit sets rp_train_params.feature_memory_limit in bytes, K, M or G (none: everything in memory), parsed
 * as rp-train parses --feature-memory-limit. Run one
 * size per process: the peak resident set of a process only grows. RP_DEBUG_RSS=1 prints the
 * resident memory at every progress report. */
#define RP_BENCH_PROGRAM "rp-bench-train-memory"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/feature_store.h"
#include "rp_bench_util.h"
#include "rp_file_list.h"
#include "rp_model_options.h"
#include "rp_omp_policy.h"

#define MAX_SETS 16

/* The largest resident memory seen in each progress stage, split as /proc/self/status does:
 * anonymous (heap) and file-backed (mapped files: the library, and spilled features being read). */
typedef struct stage_peaks {
    long anon_kb[8], file_kb[8];
} stage_peaks;

static void sample_rss(long *anon_kb, long *file_kb)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "RssAnon:", 8)) *anon_kb = atol(line + 8);
        if (!strncmp(line, "RssFile:", 8)) *file_kb = atol(line + 8);
    }
    if (f) fclose(f);
}

static int on_progress(const rp_progress *p, void *user_data)
{
    stage_peaks *s = user_data;
    const int k = p->stage >= 0 && p->stage < 8 ? p->stage : 0;
    long anon = 0, file = 0;
    sample_rss(&anon, &file);
    if (getenv("RP_DEBUG_RSS")) fprintf(stderr, "stage %d step %lld/%lld: %ld + %ld kB\n", k, (long long)p->done, (long long)p->total, anon, file);
    if (anon > s->anon_kb[k]) s->anon_kb[k] = anon;
    if (file > s->file_kb[k]) s->file_kb[k] = file;
    return 0;
}

/* The image flipped (kind bit 1 left-right, bit 2 top-bottom), then transposed (bit 4). */
static rp_image *flipped(const rp_image *img, int kind)
{
    const uint32_t w = rp_image_width(img), h = rp_image_height(img), c = rp_image_channels(img);
    const uint32_t ow = kind & 4 ? h : w, oh = kind & 4 ? w : h;
    const uint8_t *src = rp_image_pixels(img);
    uint8_t *px = malloc((size_t)w * h * c);
    if (!px) die("out of memory");
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++) {
            uint32_t sx = kind & 4 ? y : x, sy = kind & 4 ? x : y;
            if (kind & 1) sx = w - 1 - sx;
            if (kind & 2) sy = h - 1 - sy;
            memcpy(px + ((size_t)y * ow + x) * c, src + ((size_t)sy * w + sx) * c, c);
        }
    rp_image *out = NULL;
    if (rp_image_from_pixels(px, ow, oh, 0, c == 3 ? RP_PIXEL_RGB8 : RP_PIXEL_GRAY8, &out)) die("rp_image_from_pixels");
    free(px);
    return out;
}

/* Path of the k-th training image of a set: its own images first, then their flips (cached). */
static char *image_path(const char *data, const file_list *own, uint32_t k, const char *cache, uint32_t set)
{
    char buf[8192];
    const uint32_t n = (uint32_t)own->count, kind = k / n, i = k % n;
    if (kind == 0) {
        snprintf(buf, sizeof buf, "%s/train/good/%s", data, own->items[i]);
        return strdup(buf);
    }
    if (kind > 7) {
        fprintf(stderr, RP_BENCH_PROGRAM ": %s has %u images: at most 8 x that can be made\n", data, n);
        exit(2);
    }
    snprintf(buf, sizeof buf, "%s/set%u-flip%u-%05u.png", cache, set, kind, i);
    if (access(buf, R_OK) != 0) {
        char src[8192];
        snprintf(src, sizeof src, "%s/train/good/%s", data, own->items[i]);
        rp_image *img = NULL;
        if (rp_image_load_file(src, NULL, &img)) die(src);
        rp_image *f = flipped(img, (int)kind);
        if (rp_image_save_png(f, buf)) die(buf);
        rp_image_free(f);
        rp_image_free(img);
    }
    return strdup(buf);
}

int main(int argc, char **argv)
{
    rp_cli_passive_openmp(argv);
    const char *data[MAX_SETS], *cache = "/tmp/rp-bench-train-memory", *limit_arg = NULL;
    uint32_t n_sets = 0, images = 0, keep_aspect = 0;
    int32_t method = RP_METHOD_RECONPATCH;
    double coreset = 0.01;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--data") && v && n_sets < MAX_SETS) data[n_sets++] = argv[++i];
        else if (!strcmp(a, "--images") && v) images = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--coreset") && v) coreset = atof(argv[++i]);
        else if (!strcmp(a, "--limit") && v) limit_arg = argv[++i];
        else if (!strcmp(a, "--cache") && v) cache = argv[++i];
        else if (!strcmp(a, "--keep-aspect")) keep_aspect = 1;
        else if (!strcmp(a, "--method") && v) {
            v = argv[++i];
            method = !strcmp(v, "patchcore") ? RP_METHOD_PATCHCORE : RP_METHOD_RECONPATCH;
        } else {
            fprintf(stderr, "usage: %s --data DIR [--data DIR ...] --images N [--method reconpatch|patchcore] "
                            "[--coreset R] [--limit N[K|M|G]|none] [--cache DIR] [--keep-aspect]\n", argv[0]);
            return 2;
        }
    }
    if (!n_sets || !images) {
        fprintf(stderr, "%s: need --data and --images\n", argv[0]);
        return 2;
    }
    if (mkdir(cache, 0700) && errno != EEXIST) {
        perror(cache);
        return 1;
    }
    /* images spread over the sets as evenly as their sizes allow */
    file_list own[MAX_SETS];
    char **paths = calloc(images, sizeof *paths);
    uint32_t *cats = calloc(images, sizeof *cats);
    for (uint32_t s = 0; s < n_sets; s++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/train/good", data[s]);
        own[s] = list_dir(dir, 0);
        if (!own[s].count) {
            fprintf(stderr, "%s: no training images in %s\n", argv[0], dir);
            return 1;
        }
    }
    for (uint32_t k = 0; k < images; k++) {
        const uint32_t s = k % n_sets;
        paths[k] = image_path(data[s], &own[s], k / n_sets, cache, s);
        cats[k] = s;
    }
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.keep_aspect = keep_aspect;
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.coreset_ratio = coreset;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = method;
    p.extractor = &ep;
    p.bank = &bp;
    p.category_count = n_sets;
    p.image_categories = cats;
    if (limit_arg) p.feature_memory_limit = rp_model_options_bytes(argv[0], limit_arg); /* N[K|M|G] or none */

    struct rusage before;
    getrusage(RUSAGE_SELF, &before);
    rp__feature_store_reset_peak();
    const double t0 = now();
    rp_model *m = NULL;
    stage_peaks peaks = {{0}, {0}};
    if (rp_train((const char *const *)paths, images, &p, on_progress, &peaks, &m)) die("rp_train");
    const double secs = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("images %u categories %u method %s coreset %g limit %s: train %.1f s (%.1f ms/image), peak RSS %.0f MB "
           "(%.0f MB before training), feature bytes held at most %.0f MB, stores spilled %llu\n",
           images, n_sets, method == RP_METHOD_PATCHCORE ? "patchcore" : "reconpatch", coreset,
           limit_arg ? limit_arg : "default", secs, 1e3 * secs / images, ru.ru_maxrss / 1024.0,
           before.ru_maxrss / 1024.0, rp__feature_store_peak_bytes() / 1048576.0,
           (unsigned long long)rp__feature_store_spill_count());
    static const char *const stage_names[8] = {"?", "features", "train", "coreset", "score", "?", "?", "?"};
    printf("  resident memory at the progress reports, largest per stage (anonymous + file-backed):");
    for (int k = 0; k < 8; k++)
        if (peaks.anon_kb[k]) printf(" %s %.0f + %.0f MB;", stage_names[k], peaks.anon_kb[k] / 1024.0, peaks.file_kb[k] / 1024.0);
    printf("\n");
    rp_model_free(m);
    for (uint32_t k = 0; k < images; k++) free(paths[k]);
    for (uint32_t s = 0; s < n_sets; s++) list_free(&own[s]);
    free(paths);
    free(cats);
    return 0;
}
