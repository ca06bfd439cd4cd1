/* rp-bench-categories: does scoring slow down as categories are added to one model?
 *
 *   rp-bench-categories --data DIR --data DIR [--data DIR ...] [--coreset R] [--per-category N]
 *                       [--rounds R] [--batch B]
 *
 * PatchCore models, MVTec protocol (keep_aspect), coreset ratio R (default 0.1), on each DIR's
 * train/good, built through the public API:
 *   1 cat    DIR 0 alone (category_count 1: no router, scored as a plain model)
 *   2 cats   DIR 0 and DIR 1, routed
 *   K cats   every DIR, routed
 * The 2- and K-category models grow from the first with rp_model_add_normal_images, which for
 * PatchCore builds each added category's bank exactly as a separate model of it would be
 * (docs/unified.md), so every training image goes through the backbone once. Every model is saved
 * and loaded back, so all three are timed in the same state. B is the backbone batch of training
 * (default 1: the batch scoring uses).
 *
 * Timing: N evenly spaced test images (default 20) of each of DIR 0 and DIR 1, decoded before,
 * each scored with rp_score_image (image score and heat map) by the three models, and by
 * rp_score_image_in_category on the K-category model with the image's own category ("own bank":
 * no router, the image's own bank, what a separate model of its category costs), interleaved image
 * by image (their order rotated per image and round), R rounds (default 5) after one untimed round.
 * Printed per image group and model: median ms per image, its ratio to the 1-category model
 * (of the medians, and the median of the paired ratios: same image and round, seconds apart, the
 * figure least moved by other jobs on the host) and the paired ratio to "own bank". DIR 1's images
 * search DIR 1's bank in the routed models but DIR 0's in the 1-category one, so their ratio to
 * that model also carries the two banks' size difference (printed); their ratio to "own bank" does
 * not. Also: the share of the timed images routed to their own category, the
 * routing of N test images of every DIR by the K-category model, whether routed scores and maps
 * equal the separate model's, the ISA and the load average. Exit 1 when a routed image lands in
 * another category or its score differs by more than 1e-4 relative (all features here are batch
 * 1, so they should be bit-identical). */
#include <dirent.h>
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <reconpatch/reconpatch.h>

#define RP_BENCH_PROGRAM "rp-bench-categories"
#include "rp_bench_isa.h"
#include "rp_bench_util.h"
#include "rp_file_list.h"
#include "rp_omp_policy.h"

#define MAX_SETS 8
#define N_MODELS 3 /* DIR 0 alone, 2 cats, K cats */

typedef struct image_set {
    const char *dir;
    const char *name;   /* the folder's last component */
    rp_image **train;
    uint32_t n_train;
    rp_image **test;    /* N evenly spaced test images */
    uint32_t n_test;
} image_set;

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (!s) exit(2);
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

static rp_image *load(const char *path)
{
    rp_image *img = NULL;
    if (rp_image_load_file(path, NULL, &img)) die(path);
    return img;
}

/* DIR/train/good, all of it. */
static void load_train(image_set *s)
{
    char *dir = join(s->dir, "train/good");
    file_list l = list_dir(dir, 0);
    if (!l.count) {
        fprintf(stderr, RP_BENCH_PROGRAM ": no images in %s\n", dir);
        exit(2);
    }
    s->train = malloc(l.count * sizeof *s->train);
    for (size_t i = 0; i < l.count; i++) {
        char *p = join(dir, l.items[i]);
        s->train[i] = load(p);
        free(p);
    }
    s->n_train = (uint32_t)l.count;
    list_free(&l);
    free(dir);
}

static void free_train(image_set *s)
{
    for (uint32_t i = 0; i < s->n_train; i++) rp_image_free(s->train[i]);
    free(s->train);
    s->train = NULL;
    s->n_train = 0;
}

/* n test images evenly spaced through DIR/test/<type>/<file> in sorted order (good and defects). */
static void load_test(image_set *s, uint32_t n)
{
    char *test = join(s->dir, "test");
    file_list types = list_dir(test, 1), all = {0};
    for (size_t t = 0; t < types.count; t++) {
        char *d = join(test, types.items[t]);
        file_list f = list_dir(d, 0);
        for (size_t i = 0; i < f.count; i++) {
            char *p = join(d, f.items[i]);
            list_push(&all, p);
            free(p);
        }
        list_free(&f);
        free(d);
    }
    if (!all.count) {
        fprintf(stderr, RP_BENCH_PROGRAM ": no test images under %s\n", test);
        exit(2);
    }
    if (n > all.count) n = (uint32_t)all.count;
    s->test = malloc(n * sizeof *s->test);
    for (uint32_t i = 0; i < n; i++) s->test[i] = load(all.items[(size_t)i * all.count / n]);
    s->n_test = n;
    list_free(&all);
    list_free(&types);
    free(test);
}

static void train_params(rp_train_params *p, rp_extractor_params *ep, rp_bank_params *bp, double coreset,
                         uint32_t batch, const char *const *name)
{
    rp_extractor_params_init(ep, sizeof *ep);
    ep->keep_aspect = 1; /* the MVTec protocol, as rp-eval --keep-aspect */
    rp_bank_params_init(bp, sizeof *bp);
    bp->coreset_ratio = coreset;
    rp_train_params_init(p, sizeof *p);
    p->method = RP_METHOD_PATCHCORE;
    p->extractor = ep;
    p->bank = bp;
    p->batch_size = batch;
    p->category_count = 1;
    p->category_names = name;
}

static rp_model *save_and_load(rp_model *m, const char *dir, const char *file)
{
    char *path = join(dir, file);
    if (rp_model_save(m, path, NULL)) die("rp_model_save");
    rp_model_free(m);
    rp_model *back = NULL;
    if (rp_model_load(path, NULL, &back)) die("rp_model_load");
    unlink(path);
    free(path);
    return back;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    if (!n) return NAN;
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void print_loadavg(const char *when)
{
    FILE *f = fopen("/proc/loadavg", "r");
    char line[128] = "?";
    if (f) {
        if (!fgets(line, sizeof line, f)) strcpy(line, "?\n");
        fclose(f);
    }
    printf("load average %s (1, 5, 15 min; runnable/threads; last pid): %s", when, line);
}

static void print_isa(void)
{
    const dnnl_version_t *v = dnnl_version();
    /* the library's own vector loops (kNN scan, aggregation, map) follow the same tests
     * (libreconpatch/common/cpu.c): AVX-512F and RP_DISABLE_AVX512 not set, else AVX2 + FMA and
     * RP_DISABLE_AVX2 not set */
    const int avx512 = __builtin_cpu_supports("avx512f") && !rp_bench_env_disables("RP_DISABLE_AVX512");
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                     !rp_bench_env_disables("RP_DISABLE_AVX2");
    printf("ISA: oneDNN %d.%d.%d %s (backbone, kNN products), library %s; CPU avx2 %s, fma %s, "
           "avx512f %s; %d OpenMP threads, OMP_WAIT_POLICY=%s\n",
           v->major, v->minor, v->patch, rp_bench_isa_name(dnnl_get_effective_cpu_isa()),
           rp_bench_library_loops(avx512, avx2), __builtin_cpu_supports("avx2") ? "yes" : "no",
           __builtin_cpu_supports("fma") ? "yes" : "no", __builtin_cpu_supports("avx512f") ? "yes" : "no",
           omp_get_max_threads(), getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "unset");
}

int main(int argc, char **argv)
{
    image_set sets[MAX_SETS];
    int n_sets = 0;
    double coreset = 0.1;
    uint32_t per_category = 20, rounds = 5, batch = 1;
    memset(sets, 0, sizeof sets);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc && n_sets < MAX_SETS) {
            sets[n_sets].dir = argv[++i];
            const char *slash = strrchr(sets[n_sets].dir, '/');
            sets[n_sets].name = slash && slash[1] ? slash + 1 : sets[n_sets].dir;
            n_sets++;
        } else if (!strcmp(argv[i], "--coreset") && i + 1 < argc) {
            coreset = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--per-category") && i + 1 < argc) {
            per_category = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = (uint32_t)atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s --data DIR --data DIR [--data DIR ...] [--coreset R] [--per-category N] "
                            "[--rounds R] [--batch B]\n", argv[0]);
            return 2;
        }
    }
    if (n_sets < 2 || coreset <= 0 || coreset > 1 || !per_category || !rounds) {
        fprintf(stderr, RP_BENCH_PROGRAM ": needs at least two --data, a coreset in (0, 1], N >= 1, R >= 1\n");
        return 2;
    }
    const int K = n_sets;
    rp_cli_passive_openmp(argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("rp-bench-categories: PatchCore, keep_aspect, coreset %g, %d categories, %u test images of each of "
           "%s and %s, %u timed rounds\n", coreset, K, per_category, sets[0].name, sets[1].name, rounds);
    print_isa();
    print_loadavg("at start");

    char tmp[] = "/tmp/rp-bench-categories-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 2;
    }

    /* ---- the models ---- */
    rp_train_params p;
    rp_extractor_params ep;
    rp_bank_params bp;
    rp_model *models[N_MODELS] = {NULL};
    const char *model_names[N_MODELS] = {"1 cat", "2 cats", NULL};
    char kname[32];
    snprintf(kname, sizeof kname, "%d cats", K);
    model_names[2] = kname;
    double t0 = now();
    for (int s = 0; s < K; s++) load_train(&sets[s]);
    printf("decoded %d training sets in %.1f s\n", K, now() - t0);

    t0 = now();
    rp_model *grow = NULL;
    train_params(&p, &ep, &bp, coreset, batch, &sets[0].name);
    if (rp_train_images((const rp_image *const *)sets[0].train, sets[0].n_train, &p, NULL, NULL, &grow))
        die("rp_train_images");
    printf("trained %s alone (%u images) in %.1f s\n", sets[0].name, sets[0].n_train, now() - t0);
    {
        /* a copy of "single 0" before categories are added to it */
        char *path = join(tmp, "single0.rpm");
        if (rp_model_save(grow, path, NULL)) die("rp_model_save");
        if (rp_model_load(path, NULL, &models[0])) die("rp_model_load");
        unlink(path);
        free(path);
    }

    for (int s = 1; s < K; s++) {
        t0 = now();
        train_params(&p, &ep, &bp, coreset, batch, NULL);
        if (rp_model_add_normal_images(grow, sets[s].name, (const rp_image *const *)sets[s].train, sets[s].n_train, &p,
                                       NULL, NULL))
            die("rp_model_add_normal_images");
        printf("added %s (%u images) in %.1f s\n", sets[s].name, sets[s].n_train, now() - t0);
        if (s == 1) {
            char *path = join(tmp, "two.rpm");
            if (rp_model_save(grow, path, NULL)) die("rp_model_save");
            if (rp_model_load(path, NULL, &models[1])) die("rp_model_load");
            unlink(path);
            free(path);
        }
    }
    models[2] = save_and_load(grow, tmp, "all.rpm");
    rmdir(tmp);
    for (int s = 0; s < K; s++) free_train(&sets[s]);
    for (int m = 0; m < N_MODELS; m++) {
        printf("model %-7s: bank vectors per category", model_names[m]);
        for (uint32_t c = 0; c < rp_model_category_count(models[m]); c++) {
            rp_scorer_info si;
            si.struct_size = sizeof si;
            if (rp_scorer_get_info(rp_model_category_scorer(models[m], c), &si, sizeof si)) die("rp_scorer_get_info");
            printf(" %s %llu", rp_model_category_name(models[m], c), (unsigned long long)si.bank_size);
        }
        printf("\n");
    }

    /* ---- the test images ---- */
    for (int s = 0; s < K; s++) load_test(&sets[s], per_category);

    /* routing of every set's test images by the K-category model (features, no kNN) */
    {
        rp_extractor_info info;
        info.struct_size = sizeof info;
        const rp_extractor *ex = rp_model_extractor(models[2]);
        if (rp_extractor_get_info(ex, &info, sizeof info)) die("rp_extractor_get_info");
        const size_t floats = (size_t)info.grid_size * info.grid_size * info.feature_dim;
        float *f = malloc(floats * sizeof *f);
        uint32_t home_all = 0, n_all = 0;
        printf("routing by the %d-category model, test images of each set:", K);
        for (int s = 0; s < K; s++) {
            uint32_t home = 0;
            for (uint32_t i = 0; i < sets[s].n_test; i++) {
                uint32_t c = 0;
                if (rp_extractor_patch_features(ex, (const rp_image *const *)&sets[s].test[i], 1, f, floats) ||
                    rp_model_route_features(models[2], f, floats, &c))
                    die("routing");
                home += c == (uint32_t)s;
            }
            printf(" %s %u/%u;", sets[s].name, home, sets[s].n_test);
            home_all += home;
            n_all += sets[s].n_test;
        }
        printf(" all %u/%u\n", home_all, n_all);
        free(f);
    }

    /* ---- timing: groups 0 and 1 (the first two sets), each image by its own single model, the 2-
     * and the K-category model, interleaved image by image, order rotated ---- */
    const uint32_t n0 = sets[0].n_test, n1 = sets[1].n_test, n = n0 + n1;
    rp_image **imgs = malloc(n * sizeof *imgs);
    for (uint32_t i = 0; i < n; i++) imgs[i] = i < n0 ? sets[0].test[i] : sets[1].test[i - n0];
    /* M_KNOWN: rp_score_image_in_category on the K-category model, the image's own category given:
     * its own bank and no router, the cost of a separate model of its category */
    enum { M_SINGLE, M_KNOWN, M_TWO, M_ALL, N_TIMED };
    const char *timed_names[N_TIMED] = {"1 cat", "own bank", "2 cats", kname};
    /* times[(round * n + image) * N_TIMED + model], ms */
    double *times = malloc((size_t)rounds * n * N_TIMED * sizeof *times);
    double *ref_score = malloc((size_t)n * N_TIMED * sizeof *ref_score);
    float **ref_map = calloc((size_t)n * N_TIMED, sizeof *ref_map);
    uint32_t routed_home[N_TIMED] = {0};
    double worst_rel = 0, worst_map = 0;
    uint32_t identical = 0, compared = 0;
    print_loadavg("before scoring");
    const double t_scoring = now();
    for (uint32_t r = 0; r <= rounds; r++) { /* round 0: warm-up and references */
        for (uint32_t i = 0; i < n; i++) {
            const uint32_t own = i < n0 ? 0 : 1;
            const size_t pixels = (size_t)rp_image_width(imgs[i]) * rp_image_height(imgs[i]);
            for (uint32_t k = 0; k < N_TIMED; k++) {
                const uint32_t which = (k + i + r) % N_TIMED;
                const rp_model *m = models[which == M_SINGLE ? 0 : which == M_TWO ? 1 : 2];
                float *map = malloc(pixels * sizeof *map);
                rp_score_result res;
                memset(&res, 0, sizeof res);
                res.struct_size = sizeof res;
                const double t = now();
                if (which == M_KNOWN ? rp_score_image_in_category(m, own, imgs[i], &res, map, pixels, NULL, 0)
                                     : rp_score_image(m, imgs[i], &res, map, pixels, NULL, 0))
                    die("rp_score_image");
                const double ms = (now() - t) * 1e3;
                const size_t slot = (size_t)i * N_TIMED + which;
                if (r == 0) {
                    ref_score[slot] = res.score;
                    ref_map[slot] = map;
                    routed_home[which] += res.category == (which == M_SINGLE ? 0 : own);
                    continue;
                }
                times[((size_t)(r - 1) * n + i) * N_TIMED + which] = ms;
                if (res.score != ref_score[slot]) {
                    fprintf(stderr, RP_BENCH_PROGRAM ": image %u scored %.9g then %.9g by one model\n", i,
                            ref_score[slot], res.score);
                    return 1;
                }
                free(map);
            }
        }
        if (r == 0) printf("warm-up round (untimed) done in %.1f s\n", now() - t_scoring);
    }
    print_loadavg("after scoring");

    /* routed against separate-model scores and maps (round 0): DIR 0's images against DIR 0's own
     * model; DIR 1's against its own bank in the K-category model, built as DIR 1's own model
     * would be (the bench does not train that one, to save a pass of its images) */
    for (uint32_t i = 0; i < n; i++) {
        const size_t pixels = (size_t)rp_image_width(imgs[i]) * rp_image_height(imgs[i]);
        const uint32_t base = i < n0 ? M_SINGLE : M_KNOWN;
        const double s0 = ref_score[(size_t)i * N_TIMED + base];
        const float *m0 = ref_map[(size_t)i * N_TIMED + base];
        for (uint32_t w = base + 1; w <= M_ALL; w++) {
            const double s = ref_score[(size_t)i * N_TIMED + w];
            const float *mw = ref_map[(size_t)i * N_TIMED + w];
            double rel = fabs(s - s0) / (fabs(s0) > 1e-30 ? fabs(s0) : 1.0), dmap = 0;
            for (size_t j = 0; j < pixels; j++) {
                const double d = fabs((double)mw[j] - m0[j]);
                if (d > dmap) dmap = d;
            }
            identical += s == s0 && memcmp(mw, m0, pixels * sizeof *m0) == 0;
            compared++;
            if (rel > worst_rel) worst_rel = rel;
            if (dmap > worst_map) worst_map = dmap;
        }
    }
    printf("routed vs separate (%s: own bank, 2 and %d cats vs %s alone; %s: 2 and %d cats vs own bank): %u of %u (image, model) pairs bit-identical in score and map; "
           "largest relative score difference %.3g, largest map difference %.3g\n",
           sets[0].name, K, sets[0].name, sets[1].name, K, identical, compared, worst_rel, worst_map);
    printf("timed images scored in their own category: 2 cats %u/%u, %d cats %u/%u\n", routed_home[M_TWO], n, K,
           routed_home[M_ALL], n);

    /* medians per group: 0 = set 0's images, 1 = set 1's, 2 = both */
    double *v = malloc((size_t)rounds * n * sizeof *v), *q = malloc((size_t)rounds * n * sizeof *q);
    double *q2 = malloc((size_t)rounds * n * sizeof *q2);
    double json_med[3][N_TIMED], json_pair[3][N_TIMED];
    printf("\nms per image (rp_score_image with heat map, median over images x %u rounds); ratios to the model of %s "
           "alone (of the medians, and the median of the paired ratios) and to the image's own bank without the "
           "router (paired)\n", rounds, sets[0].name);
    printf("%-22s %-9s %10s %12s %12s %12s\n", "images", "model", "median ms", "/1cat med", "/1cat paired",
           "/own paired");
    for (int g = 0; g < 3; g++) {
        const uint32_t lo = g == 1 ? n0 : 0, hi = g == 0 ? n0 : n;
        char label[64];
        if (g < 2)
            snprintf(label, sizeof label, "%s (%u)", sets[g].name, hi - lo);
        else
            snprintf(label, sizeof label, "both (%u)", n);
        double base = NAN;
        for (uint32_t w = 0; w < N_TIMED; w++) {
            size_t c = 0;
            for (uint32_t r = 0; r < rounds; r++)
                for (uint32_t i = lo; i < hi; i++) {
                    const double *row = times + ((size_t)r * n + i) * N_TIMED;
                    v[c] = row[w];
                    q2[c] = row[w] / row[M_KNOWN];
                    q[c++] = row[w] / row[M_SINGLE];
                }
            const double med = median(v, c), pair = median(q, c), pair_own = median(q2, c);
            if (w == M_SINGLE) base = med;
            json_med[g][w] = med;
            json_pair[g][w] = pair_own;
            printf("%-22s %-9s %10.1f %12.3f %12.3f %12.3f\n", label, timed_names[w], med, med / base, pair, pair_own);
        }
    }
    printf("timed scoring took %.1f s\n", now() - t_scoring);
    printf("{\"models\": [\"1 cat\", \"own bank\", \"2 cats\", \"%s\"], \"coreset\": %g, \"categories\": %d, "
           "\"rounds\": %u, \"isa\": \"%s\", \"groups\": {", kname, coreset, K, rounds,
           rp_bench_isa_name(dnnl_get_effective_cpu_isa()));
    for (int g = 0; g < 3; g++)
        printf("%s\"%s\": {\"ms\": [%.2f, %.2f, %.2f, %.2f], \"paired_ratio_to_own_bank\": [%.4f, %.4f, %.4f, %.4f]}",
               g ? ", " : "", g < 2 ? sets[g].name : "both", json_med[g][0], json_med[g][1], json_med[g][2],
               json_med[g][3], json_pair[g][0], json_pair[g][1], json_pair[g][2], json_pair[g][3]);
    printf("}, \"routed_home\": [%u, %u], \"images\": %u, \"identical\": %u, \"compared\": %u, "
           "\"max_rel_score_diff\": %.3g}\n", routed_home[M_TWO], routed_home[M_ALL], n, identical, compared, worst_rel);

    for (size_t i = 0; i < (size_t)n * N_TIMED; i++) free(ref_map[i]);
    free(ref_map);
    free(ref_score);
    free(times);
    free(v);
    free(q);
    free(q2);
    free(imgs);
    for (int s = 0; s < K; s++) {
        for (uint32_t i = 0; i < sets[s].n_test; i++) rp_image_free(sets[s].test[i]);
        free(sets[s].test);
    }
    for (int m = 0; m < N_MODELS; m++) rp_model_free(models[m]);
    return worst_rel > 1e-4 || routed_home[M_TWO] < n || routed_home[M_ALL] < n ? 1 : 0;
}
