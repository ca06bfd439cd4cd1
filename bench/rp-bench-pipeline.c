/* rp-bench-pipeline: where the time goes, stage by stage, on a real category.
 *
 *   rp-bench-pipeline --data DIR [--method reconpatch|patchcore] [--coreset R] [--epochs N] [--repr-dim N] [--limit N]
 *                     [--knn-int8 | --knn-bf16] [--precision fp32|bf16]
 *
 * Training: feature extraction, ReConPatch head training, embedding + coreset selection, with peak
 * memory. Scoring (each test image of DIR): decode, preprocess, backbone (through layer3), patch
 * aggregation, embedding, kNN search, map (upsample + smoothing); medians in ms, the kNN's GFLOP/s,
 * and the whole scoring cost over the backbone alone. --knn-int8 / --knn-bf16 set
 * rp_bank_params.knn_int8 / knn_bf16 (their GFLOP/s count the int8 or bf16 multiply-adds the same way
 * as fp32 ones); --precision the backbone's (rp_extractor_params.precision). Prints one JSON object as its last line.
 * Links the internal archive to time the stages that the public calls chain together. Also says
 * which kernels ran: oneDNN's version and instruction set (backbone, kNN products), OpenBLAS's
 * core, and which of the library's own loops (AVX-512, AVX2 + FMA or portable: aggregation, kNN
 * scan, map) are used.
 * Then the same images through the public one-call path, rp_image_load_file + rp_score_image with
 * the map in the image's own geometry, as a host application scores: the stage table of the
 * library's own clocks (rp_timing_*, the table rp-eval --timing prints), and the throughput with
 * two images in flight (two threads sharing the model, loaded again with one thread per call)
 * and 8 images per rp_score_images call, against one stream. */
#include <dirent.h>
#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <reconpatch/reconpatch.h>

#define RP_BENCH_PROGRAM "rp-bench-pipeline"
#include "rp_bench_isa.h"
#include "rp_bench_util.h"
#include "rp_stage_table.h"

#include "common/common.h"
#include "features/aggregate.h"
#include "scorer/scorer_internal.h"

enum { S_DECODE, S_PRE, S_BACKBONE, S_AGG, S_EMBED, S_KNN, S_MAP, S_TOTAL, N_STAGES };
static const char *stage_names[N_STAGES] = {"decode", "preprocess", "backbone", "aggregate",
                                            "embed",  "knn",        "map",      "total"};

char *openblas_get_config(void); /* OpenBLAS's own entry points (its cblas.h path varies) */
char *openblas_get_corename(void);

/* One line naming the kernels behind the timed stages. */
static void print_kernels(void)
{
    const dnnl_version_t *v = dnnl_version();
    printf("kernels: oneDNN %d.%d.%d (%s, %d OpenMP threads), OpenBLAS %s (core %s, OPENBLAS_CORETYPE=%s), "
           "library %s\n",
           v->major, v->minor, v->patch, rp_bench_isa_name(dnnl_get_effective_cpu_isa()), omp_get_max_threads(),
           openblas_get_config(), openblas_get_corename(),
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "unset",
           rp_bench_library_loops(rp__cpu_use_avx512(), rp__cpu_use_avx2()));
}

/* One test image through the public one-call path, as a host application scores it. */
static void score_one_image(const rp_model *model, const char *path, float **map, size_t *map_floats)
{
    rp_image *img;
    if (rp_image_load_file(path, NULL, &img)) die(path);
    const size_t own = (size_t)rp_image_width(img) * rp_image_height(img);
    if (own > *map_floats) {
        free(*map);
        if (!(*map = malloc(own * sizeof **map))) die("out of memory for a map");
        *map_floats = own;
    }
    rp_score_result r = {.struct_size = sizeof r};
    if (rp_score_image(model, img, &r, *map, own, NULL, 0)) die(path);
    rp_image_free(img);
}

/* Every image once through rp_score_image, one after the other; returns the wall seconds. */
static double whole_calls(const rp_model *model, char **paths, size_t n, rp_stage_table *table)
{
    float *map = NULL;
    size_t map_floats = 0;
    double discard[RP_TIMING_COUNT], stage_seconds[RP_TIMING_COUNT];
    rp_timing_enable(1);
    rp_timing_take(discard, RP_TIMING_COUNT);
    const double t0 = now();
    for (size_t i = 0; i < n; i++) {
        const double started = now();
        score_one_image(model, paths[i], &map, &map_floats);
        const double whole = now() - started;
        rp_timing_take(stage_seconds, RP_TIMING_COUNT);
        rp_stage_table_add(table, stage_seconds, whole, whole);
    }
    const double wall = now() - t0;
    rp_timing_enable(0);
    free(map);
    return wall;
}

typedef struct stream {
    const rp_model *model;
    char **paths;
    size_t n, first; /* scores paths[first], paths[first + 2], ... */
} stream;

static void *score_stream(void *arg)
{
    const stream *s = arg;
    float *map = NULL;
    size_t map_floats = 0;
    for (size_t i = s->first; i < s->n; i += 2) score_one_image(s->model, s->paths[i], &map, &map_floats);
    free(map);
    return NULL;
}

/* Two images in flight: the model saved and loaded again with one thread per call, two host
 * threads taking every other image. Returns the wall seconds for all n. */
static double two_in_flight(const rp_model *model, char **paths, size_t n)
{
    char path[] = "/tmp/rp-bench-pipeline-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) die("mkstemp");
    close(fd);
    if (rp_model_save(model, path, NULL)) die("rp_model_save");
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    lp.num_threads = 1;
    rp_model *one_thread;
    const int rc = rp_model_load(path, &lp, &one_thread);
    unlink(path);
    if (rc) die("rp_model_load");
    stream s[2] = {{one_thread, paths, n, 0}, {one_thread, paths, n, 1}};
    float *warm_map = NULL;
    size_t warm_floats = 0;
    score_one_image(one_thread, paths[0], &warm_map, &warm_floats); /* warm-up: plans, arenas */
    free(warm_map);
    const double t0 = now();
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        if (pthread_create(&t[k], NULL, score_stream, &s[k])) die("pthread_create");
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    const double wall = now() - t0;
    rp_model_free(one_thread);
    return wall;
}

enum { BATCH = 8 };

/* Images paths[start .. start + k - 1] through one rp_score_images call (maps in each image's
 * geometry, buffers grown as needed). */
static void score_batch(const rp_model *model, char **paths, size_t start, size_t k, float **maps, size_t *floats)
{
    rp_image *imgs[BATCH] = {0};
    for (size_t j = 0; j < k; j++) {
        if (rp_image_load_file(paths[start + j], NULL, &imgs[j])) die(paths[start + j]);
        const size_t own = (size_t)rp_image_width(imgs[j]) * rp_image_height(imgs[j]);
        if (own > floats[j]) {
            free(maps[j]);
            if (!(maps[j] = malloc(own * sizeof(float)))) die("out of memory for a map");
            floats[j] = own;
        }
    }
    if (rp_score_images(model, (const rp_image *const *)imgs, (uint32_t)k, NULL, maps, floats)) die("rp_score_images");
    for (size_t j = 0; j < k; j++) rp_image_free(imgs[j]);
}

/* Every image once through rp_score_images, 8 per call; returns the wall seconds. One untimed call
 * first builds the batch-8 plan, as the other passes are timed with their plans built. */
static double batched_calls(const rp_model *model, char **paths, size_t n)
{
    float *maps[BATCH] = {0};
    size_t floats[BATCH] = {0};
    score_batch(model, paths, 0, n < BATCH ? n : BATCH, maps, floats);
    const double t0 = now();
    for (size_t start = 0; start < n; start += BATCH)
        score_batch(model, paths, start, n - start < BATCH ? n - start : BATCH, maps, floats);
    const double wall = now() - t0;
    for (int j = 0; j < BATCH; j++) free(maps[j]);
    return wall;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Image files under dir (one level) or under dir's sub-folders (two levels). */
static void collect(const char *dir, int depth, char ***v, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    size_t first = *n;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) {
            if (depth > 1) collect(path, depth - 1, v, n);
        } else if (strstr(e->d_name, ".png") || strstr(e->d_name, ".jpg")) {
            *v = realloc(*v, (*n + 1) * sizeof **v);
            (*v)[(*n)++] = strdup(path);
        }
    }
    closedir(d);
    qsort(*v + first, *n - first, sizeof **v, cmp_str);
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static double stage_started;
static int32_t current_stage;
static double stage_seconds[5];

/* Progress callback that splits rp_train's time by stage. */
static int split_stages(const rp_progress *p, void *ud)
{
    (void)ud;
    double t = now();
    if (p->stage != current_stage) {
        if (current_stage > 0 && current_stage < 5) stage_seconds[current_stage] += t - stage_started;
        current_stage = p->stage;
        stage_started = t;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = NULL;
    int32_t method = RP_METHOD_RECONPATCH;
    double coreset = 0.1;
    uint32_t epochs = 0, repr_dim = 0;
    size_t limit = 0;
    uint32_t knn_int8 = 0, knn_bf16 = 0;
    int32_t precision = RP_PRECISION_FP32;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--data")) data = v, i++;
        else if (!strcmp(argv[i], "--method")) method = strcmp(v, "patchcore") ? RP_METHOD_RECONPATCH : RP_METHOD_PATCHCORE, i++;
        else if (!strcmp(argv[i], "--coreset")) coreset = atof(v), i++;
        else if (!strcmp(argv[i], "--epochs")) epochs = (uint32_t)atoi(v), i++;
        else if (!strcmp(argv[i], "--repr-dim")) repr_dim = (uint32_t)atoi(v), i++;
        else if (!strcmp(argv[i], "--limit")) limit = (size_t)atol(v), i++;
        else if (!strcmp(argv[i], "--knn-int8")) knn_int8 = 1;
        else if (!strcmp(argv[i], "--knn-bf16")) knn_bf16 = 1;
        else if (!strcmp(argv[i], "--precision") && (!strcmp(v, "fp32") || !strcmp(v, "bf16")))
            precision = strcmp(v, "bf16") ? RP_PRECISION_FP32 : RP_PRECISION_BF16, i++;
        else {
            fprintf(stderr, "usage: rp-bench-pipeline --data DIR [--method reconpatch|patchcore] [--coreset R] "
                            "[--epochs N] [--repr-dim N] [--limit N] [--knn-int8 | --knn-bf16] "
                            "[--precision fp32|bf16]\n");
            return 2;
        }
    }
    if (!data) die("--data is required");
    char path[4096];
    char **train = NULL, **test = NULL;
    size_t n_train = 0, n_test = 0;
    snprintf(path, sizeof path, "%s/train/good", data);
    collect(path, 1, &train, &n_train);
    snprintf(path, sizeof path, "%s/test", data);
    collect(path, 2, &test, &n_test);
    if (limit && n_test > limit) n_test = limit;
    if (!n_train || !n_test) die("no images");

    /* ---- training, split by stage ---- */
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.coreset_ratio = coreset;
    bp.knn_int8 = knn_int8;
    bp.knn_bf16 = knn_bf16;
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.precision = precision;
    rp_trainer_params tp;
    rp_trainer_params_init(&tp, sizeof tp);
    tp.epochs = epochs;
    tp.repr_dim = repr_dim;
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.method = method;
    p.bank = &bp;
    p.extractor = &ep;
    p.trainer = &tp;
    rp_model *model;
    double t0 = now();
    stage_started = t0;
    if (rp_train((const char *const *)train, (uint32_t)n_train, &p, split_stages, NULL, &model)) die("rp_train");
    double train_total = now() - t0;
    if (current_stage > 0 && current_stage < 5) stage_seconds[current_stage] += now() - stage_started;
    double train_rss = peak_rss_mb();

    /* ---- scoring, stage by stage ---- */
    const rp_extractor *ex = rp_model_extractor(model);
    const rp_embedding *emb = rp_model_embedding(model);
    const rp_bank *bank = rp_model_bank(model);
    const rp_scorer *scorer = rp_model_scorer(model);
    rp_extractor_info info;
    info.struct_size = sizeof info;
    rp_extractor_get_info(ex, &info, sizeof info);
    uint32_t side = info.input_size, grid = info.grid_size, patches = grid * grid, dim = info.feature_dim;
    size_t l2 = (size_t)info.layer2_channels * info.layer2_size * info.layer2_size;
    size_t l3 = (size_t)info.layer3_channels * info.layer3_size * info.layer3_size;
    uint32_t bdim = rp_bank_dim(bank);
    float *input = malloc((size_t)3 * side * side * sizeof(float));
    float *layer2 = malloc(l2 * sizeof(float)), *layer3 = malloc(l3 * sizeof(float));
    float *features = malloc((size_t)patches * dim * sizeof(float));
    float *embedded = malloc((size_t)patches * bdim * sizeof(float));
    float *dist = malloc(patches * sizeof(float)), *map = malloc((size_t)side * side * sizeof(float));
    float *scratch = malloc((size_t)side * side * sizeof(float));
    uint64_t *idx = malloc(patches * sizeof(uint64_t));
    double *times[N_STAGES];
    for (int s = 0; s < N_STAGES; s++) times[s] = calloc(n_test, sizeof(double));
    for (size_t i = 0; i < n_test; i++) {
        double t[N_STAGES + 1];
        t[0] = now();
        rp_image *img;
        if (rp_image_load_file(test[i], NULL, &img)) die(test[i]);
        t[1] = now();
        if (rp_extractor_preprocess(ex, img, input, (size_t)3 * side * side)) die("preprocess");
        t[2] = now();
        if (rp_extractor_forward(ex, input, (size_t)3 * side * side, 1, layer2, l2, layer3, l3)) die("forward");
        t[3] = now();
        if (rp__features_aggregate(layer2, info.layer2_channels, info.layer2_size, layer3, info.layer3_channels,
                                   info.layer3_size, 3, dim, features))
            die("aggregate");
        t[4] = now();
        const float *q = features;
        if (emb) {
            if (rp_embedding_apply(emb, features, patches, embedded, (size_t)patches * bdim)) die("embed");
            q = embedded;
        }
        t[5] = now();
        if (rp_bank_search(bank, q, (size_t)patches * rp_bank_dim(bank), patches, 1, dist, patches, idx, patches)) die("knn");
        t[6] = now();
        rp__scorer_patch_map(dist, &scorer->geometry, scorer->map_sigma, map, scratch, 1);
        t[7] = now();
        for (int s = 0; s < S_TOTAL; s++) times[s][i] = (t[s + 1] - t[s]) * 1000.0;
        times[S_TOTAL][i] = (t[7] - t[0]) * 1000.0;
        rp_image_free(img);
    }
    double med[N_STAGES];
    for (int s = 0; s < N_STAGES; s++) med[s] = median(times[s], n_test);
    double knn_gflops = 2.0 * patches * (double)rp_bank_size(bank) * bdim / (med[S_KNN] * 1e6);

    printf("training on %zu images (%s, coreset %.3g, backbone %s): %.1f s = features %.1f s + head %.1f s + "
           "coreset %.1f s; peak RSS %.0f MB\n",
           n_train, method == RP_METHOD_PATCHCORE ? "patchcore" : "reconpatch", coreset,
           precision == RP_PRECISION_BF16 ? "bf16" : "fp32", train_total,
           stage_seconds[RP_STAGE_FEATURES], stage_seconds[RP_STAGE_TRAIN], stage_seconds[RP_STAGE_CORESET],
           train_rss);
    print_kernels();
    printf("scoring %zu images, median ms per image:\n", n_test);
    for (int s = 0; s < N_STAGES; s++) printf("  %-10s %8.2f\n", stage_names[s], med[s]);
    printf("  kNN (%s): %llu x %u bank, %.0f GFLOP/s; whole scoring / backbone = %.2f; peak RSS %.0f MB\n",
           knn_int8 ? "int8" : knn_bf16 ? "bf16" : "fp32", (unsigned long long)rp_bank_size(bank), bdim, knn_gflops, med[S_TOTAL] / med[S_BACKBONE], peak_rss_mb());
    rp_stage_table table = {0};
    const double one_stream = whole_calls(model, test, n_test, &table);
    rp_stage_table_print(&table, stdout, "rp_score_image (map in the image's geometry), one stream", "(none: decoding is a library stage)");
    const double in_flight = two_in_flight(model, test, n_test);
    const double batched = batched_calls(model, test, n_test);
    printf("  throughput: one stream %.2f images/s (%u threads per call); two images in flight %.2f images/s "
           "(1 thread per call; ratio %.2f); rp_score_images, 8 per call, %.2f images/s (ratio %.2f)\n",
           n_test / one_stream, (unsigned)omp_get_max_threads(), n_test / in_flight, one_stream / in_flight,
           n_test / batched, one_stream / batched);
    rp_model_memory mem = {.struct_size = sizeof mem};
    if (rp_model_get_memory(model, &mem, sizeof mem)) die("rp_model_get_memory");
    printf("  model memory (rp_model_get_memory): %.1f MB = backbone weights %.1f + activation arenas %.1f + "
           "heads %.2f + banks %.1f + router %.2f\n",
           mem.total / 1e6, mem.backbone_weights / 1e6, mem.backbone_activations / 1e6, mem.heads / 1e6,
           mem.banks / 1e6, mem.router / 1e6);
    printf("{\"method\": \"%s\", \"coreset\": %g, \"n_train\": %zu, \"train_s\": %.2f, \"features_s\": %.2f, "
           "\"head_s\": %.2f, \"coreset_s\": %.2f, \"train_peak_rss_mb\": %.0f",
           method == RP_METHOD_PATCHCORE ? "patchcore" : "reconpatch", coreset, n_train, train_total,
           stage_seconds[RP_STAGE_FEATURES], stage_seconds[RP_STAGE_TRAIN], stage_seconds[RP_STAGE_CORESET], train_rss);
    for (int s = 0; s < N_STAGES; s++) printf(", \"%s_ms\": %.3f", stage_names[s], med[s]);
    printf(", \"knn_int8\": %u, \"knn_bf16\": %u, \"precision\": \"%s\", \"knn_gflops\": %.1f, \"score_over_backbone\": %.3f, \"peak_rss_mb\": %.0f, "
           "\"model_memory_mb\": %.1f, \"images_per_s_one_stream\": %.3f, \"images_per_s_two_in_flight\": %.3f, "
           "\"images_per_s_batch_8\": %.3f, \"rp_score_image_stage_mean_ms\": ",
           knn_int8, knn_bf16, precision == RP_PRECISION_BF16 ? "bf16" : "fp32", knn_gflops, med[S_TOTAL] / med[S_BACKBONE], peak_rss_mb(), mem.total / 1e6, n_test / one_stream,
           n_test / in_flight, n_test / batched);
    rp_stage_table_json(&table, stdout);
    printf("}\n");
    rp_stage_table_free(&table);
    rp_model_free(model);
    return 0;
}
