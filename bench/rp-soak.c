/* rp-soak: a long scoring run from several threads on one model, for leaks and drift.
 *
 *   rp-soak [--seconds S] [--threads T] [--weights PATH] [DATA]
 *
 * Trains a PatchCore model on DATA/train/good (default: the bundled examples/data/bottle), scores
 * every DATA/test/ * / *.png once on this thread (the reference), then T threads (default 4)
 * score the same shared images in a stream, each from its own starting point, for S seconds
 * (default $SOAK_SECONDS, else 600). Every score and heat map must equal the reference bit for
 * bit. Prints the resident memory after the warm-up (the first pass of every thread) and at the
 * end, and the open file descriptors before and after. Exit 0 when all results matched and no
 * descriptor was left open; 1 otherwise. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <reconpatch/reconpatch.h>

#include "rp_file_list.h"

#define MAX_THREADS 64

static rp_model *model;
static rp_image **images;
static size_t n_images;
static rp_score_result *ref;
static float **ref_maps;
static double deadline;
static atomic_long scored, mismatches, failures;
static atomic_int warm; /* threads that finished their first pass */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the one opendir holds */
}

/* snprintf into buf, exiting on a path too long for it. */
#define FORMAT_PATH(buf, ...)                                                                    \
    do {                                                                                         \
        if (snprintf(buf, sizeof buf, __VA_ARGS__) >= (int)sizeof buf) {                         \
            fprintf(stderr, "rp-soak: path too long\n");                                         \
            exit(2);                                                                             \
        }                                                                                        \
    } while (0)

static size_t pixels(size_t i) { return (size_t)rp_image_width(images[i]) * rp_image_height(images[i]); }

static int score(size_t i, rp_score_result *r, float *map)
{
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    return rp_score_image(model, images[i], r, map, pixels(i), NULL, 0);
}

static void *run(void *arg)
{
    size_t start = (size_t)(long)arg % n_images, max_px = 0;
    for (size_t i = 0; i < n_images; i++) max_px = pixels(i) > max_px ? pixels(i) : max_px;
    float *map = malloc(max_px * sizeof *map);
    if (!map) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    for (size_t pass = 0;; pass++) {
        for (size_t k = 0; k < n_images; k++) {
            size_t i = (start + k) % n_images;
            rp_score_result r;
            if (score(i, &r, map)) {
                fprintf(stderr, "rp-soak: image %zu: %s\n", i, rp_last_error_message());
                atomic_fetch_add(&failures, 1);
                continue;
            }
            if (memcmp(&r, &ref[i], sizeof r) || memcmp(map, ref_maps[i], pixels(i) * sizeof *map))
                atomic_fetch_add(&mismatches, 1);
            atomic_fetch_add(&scored, 1);
        }
        if (pass == 0) atomic_fetch_add(&warm, 1);
        if (now() >= deadline) break;
    }
    free(map);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *env = getenv("SOAK_SECONDS");
    double seconds = env && *env ? atof(env) : 600;
    int threads = 4;
    const char *weights = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else if (argv[i][0] != '-' && !data) data = argv[i];
        else {
            fprintf(stderr, "usage: rp-soak [--seconds S] [--threads T] [--weights PATH] [DATA]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > MAX_THREADS || !(seconds >= 0)) {
        fprintf(stderr, "rp-soak: --threads 1..%d and --seconds >= 0\n", MAX_THREADS);
        return 2;
    }
    char path[4096];
    if (!data) {
        FORMAT_PATH(path, "%s/../examples/data/bottle", SOAK_SOURCE_DIR);
        data = path;
    }
    const int fds_before = open_fds();

    /* training images */
    char dir[4096], file[8192];
    FORMAT_PATH(dir, "%s/train/good", data);
    file_list names = list_dir(dir, 0), train = {0};
    for (size_t i = 0; i < names.count; i++) {
        FORMAT_PATH(file, "%s/%s", dir, names.items[i]);
        list_push(&train, file);
    }
    list_free(&names);
    /* test images, decoded once and shared by the threads */
    FORMAT_PATH(dir, "%s/test", data);
    file_list kinds = list_dir(dir, 1), tests = {0};
    for (size_t k = 0; k < kinds.count; k++) {
        char sub[8192];
        FORMAT_PATH(sub, "%s/%s", dir, kinds.items[k]);
        file_list imgs = list_dir(sub, 0);
        for (size_t i = 0; i < imgs.count; i++) {
            FORMAT_PATH(file, "%s/%s", sub, imgs.items[i]);
            list_push(&tests, file);
        }
        list_free(&imgs);
    }
    list_free(&kinds);
    if (!train.count || !tests.count) {
        fprintf(stderr, "rp-soak: %s needs train/good and test/*/ images\n", data);
        return 2;
    }
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = weights;
    rp_train_params tp;
    rp_train_params_init(&tp, sizeof tp);
    tp.method = RP_METHOD_PATCHCORE;
    tp.extractor = &ep;
    if (rp_train((const char *const *)train.items, (uint32_t)train.count, &tp, NULL, NULL, &model)) {
        fprintf(stderr, "rp-soak: training: %s\n", rp_last_error_message());
        return 2;
    }
    n_images = tests.count;
    images = calloc(n_images, sizeof *images);
    ref = calloc(n_images, sizeof *ref);
    ref_maps = calloc(n_images, sizeof *ref_maps);
    for (size_t i = 0; i < n_images; i++) {
        if (rp_image_load_file(tests.items[i], NULL, &images[i])) {
            fprintf(stderr, "rp-soak: %s: %s\n", tests.items[i], rp_last_error_message());
            return 2;
        }
        ref_maps[i] = malloc(pixels(i) * sizeof(float));
        if (score(i, &ref[i], ref_maps[i])) {
            fprintf(stderr, "rp-soak: %s: %s\n", tests.items[i], rp_last_error_message());
            return 2;
        }
    }
    printf("rp-soak: %zu test images of %s, model trained on %zu, %d threads for %.0f s\n", n_images, data,
           train.count, threads, seconds);
    printf("open descriptors before: %d\n", fds_before);

    const double t0 = now();
    deadline = t0 + seconds;
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, run, (void *)(long)t);
    while (atomic_load(&warm) < threads) usleep(100000);
    const long rss_warm = rss_kib();
    printf("after warm-up (%.1f s, %ld images scored): RSS %ld KiB\n", now() - t0, atomic_load(&scored), rss_warm);
    fflush(stdout);
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    const double elapsed = now() - t0;
    const long rss_end = rss_kib();
    printf("at the end (%.1f s, %ld images scored, %.1f images/s): RSS %ld KiB (%+ld KiB since warm-up)\n",
           elapsed, atomic_load(&scored), atomic_load(&scored) / elapsed, rss_end, rss_end - rss_warm);

    for (size_t i = 0; i < n_images; i++) {
        rp_image_free(images[i]);
        free(ref_maps[i]);
    }
    free(images);
    free(ref);
    free(ref_maps);
    rp_model_free(model);
    list_free(&train);
    list_free(&tests);
    const int fds_after = open_fds();
    printf("open descriptors after: %d\n", fds_after);
    printf("results equal to single-threaded: %s (%ld mismatches, %ld failures)\n",
           atomic_load(&mismatches) || atomic_load(&failures) ? "NO" : "yes", atomic_load(&mismatches),
           atomic_load(&failures));
    return atomic_load(&mismatches) || atomic_load(&failures) || fds_after != fds_before ? 1 : 0;
}
