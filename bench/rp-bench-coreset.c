/* Greedy k-centre coreset at scale on real patch features (docs/memory-bank.md, "The coreset at
 * scale").
 *
 *   rp-bench-coreset cache --out FILE [--flips] --data DIR [--data DIR ...]
 *       Extract every training image's patch features (default extractor, keep_aspect = 1, the
 *       evaluation protocol's geometry), project them to 128 dims with the bank's projection
 *       (rp__coreset_points_build, seed RP_BANK_DEFAULT_SEED, the same rows rp_bank_freeze would
 *       select on) and write the projected rows. With --flips the images are written four times:
 *       as they are, flipped left-right, flipped top-bottom, and both (variant-major: all sets as
 *       they are first, then all left-right flips, ...). The file records one segment per
 *       (variant, set).
 *   rp-bench-coreset info --cache FILE
 *   rp-bench-coreset run --cache FILE --ratio R [--rows N | --segment NAME] [--threads T] [--runs K]
 *       Time rp__coreset_select on the first N rows (default all) or on one segment (e.g.
 *       "orig/magnetic_tile"), dim == projection_dim == 128 so the projection is skipped (as in
 *       PatchCore). Prints wall time, CPU time (user + sys of the process during the call), peak
 *       RSS, the kernels used and the selection's pruning statistics, per run, then the medians.
 */
#define RP_BENCH_PROGRAM "rp-bench-coreset"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <reconpatch/reconpatch.h>

#include "bank/coreset.h"
#include "bank/coreset_points.h"
#include "common/common.h"
#include "rp_bench_util.h"
#include "rp_file_list.h"

#define MAGIC 0x53435052u /* "RPCS" */
#define MAX_SEG 64
#define PD 128u

typedef struct {
    char name[56];
    uint64_t offset, rows;
} segment;

typedef struct {
    uint32_t magic, pd, nseg, reserved;
    uint64_t rows;
    segment seg[MAX_SEG];
} cache_header;

static const char *variant_names[4] = {"orig", "hflip", "vflip", "hvflip"};

static rp_image *flipped(const rp_image *img, int variant)
{
    uint32_t w = rp_image_width(img), h = rp_image_height(img), c = rp_image_channels(img);
    const uint8_t *src = rp_image_pixels(img);
    uint8_t *dst = malloc((size_t)w * h * c);
    if (!dst) die("malloc");
    for (uint32_t y = 0; y < h; y++) {
        uint32_t sy = (variant & 2) ? h - 1 - y : y;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t sx = (variant & 1) ? w - 1 - x : x;
            memcpy(dst + ((size_t)y * w + x) * c, src + ((size_t)sy * w + sx) * c, c);
        }
    }
    rp_image *out;
    if (rp_image_from_pixels(dst, w, h, 0, c == 1 ? RP_PIXEL_GRAY8 : RP_PIXEL_RGB8, &out)) die("rp_image_from_pixels");
    free(dst);
    return out;
}

static const char *base_name(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    static char buf[48];
    size_t s = len;
    while (s > 0 && dir[s - 1] != '/') s--;
    snprintf(buf, sizeof buf, "%.*s", (int)(len - s), dir + s);
    return buf;
}

static int do_cache(const char *out, const char **data, int nd, int flips)
{
    char wpath[4096];
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    if (rp_default_weights_path(wpath, sizeof wpath)) die("weights");
    ep.weights_path = wpath;
    ep.keep_aspect = 1;
    rp_extractor *ex;
    if (rp_extractor_create(&ep, &ex)) die("extractor");
    rp_extractor_info info;
    info.struct_size = sizeof info;
    rp_extractor_get_info(ex, &info, sizeof info);
    const uint32_t patches = info.grid_size * info.grid_size, dim = info.feature_dim;
    enum { BATCH = 1 }; /* batches of 8 ran far slower than 8 single images here (oneDNN, AVX2) */
    float *feat = malloc((size_t)BATCH * patches * dim * sizeof(float));
    if (!feat) die("malloc");
    FILE *f = fopen(out, "wb");
    if (!f) die(out);
    cache_header hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.magic = MAGIC;
    hdr.pd = PD;
    fwrite(&hdr, sizeof hdr, 1, f);
    double t0 = now();
    for (int v = 0; v < (flips ? 4 : 1); v++) {
        for (int d = 0; d < nd; d++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/train/good", data[d]);
            file_list list = list_dir(path, 0);
            if (!list.count) {
                fprintf(stderr, RP_BENCH_PROGRAM ": no images in %s\n", path);
                return 1;
            }
            segment *s = &hdr.seg[hdr.nseg++];
            snprintf(s->name, sizeof s->name, "%s/%s", variant_names[v], base_name(data[d]));
            s->offset = hdr.rows;
            for (size_t i = 0; i < list.count; i += BATCH) {
                uint32_t b = (uint32_t)(list.count - i < BATCH ? list.count - i : BATCH);
                rp_image *imgs[BATCH];
                for (uint32_t j = 0; j < b; j++) {
                    snprintf(path, sizeof path, "%s/train/good/%s", data[d], list.items[i + j]);
                    rp_image *img;
                    if (rp_image_load_file(path, NULL, &img)) die(path);
                    if (v) {
                        imgs[j] = flipped(img, v);
                        rp_image_free(img);
                    } else
                        imgs[j] = img;
                }
                if (rp_extractor_patch_features(ex, (const rp_image *const *)imgs, b, feat,
                                                (size_t)b * patches * dim))
                    die("rp_extractor_patch_features");
                for (uint32_t j = 0; j < b; j++) rp_image_free(imgs[j]);
                rp__coreset_points pts;
                if (rp__coreset_points_build(feat, (uint64_t)b * patches, dim, PD, RP_BANK_DEFAULT_SEED,
                                             RP_BENCH_PROGRAM, &pts))
                    die("projection");
                fwrite(pts.y, sizeof(float) * PD, (size_t)b * patches, f);
                rp__coreset_points_free(&pts);
                s->rows += (uint64_t)b * patches;
                hdr.rows += (uint64_t)b * patches;
            }
            /* the header after every segment: a cut-short run leaves a usable file */
            long end = ftell(f);
            fseek(f, 0, SEEK_SET);
            fwrite(&hdr, sizeof hdr, 1, f);
            fseek(f, end, SEEK_SET);
            fflush(f);
            fprintf(stderr, RP_BENCH_PROGRAM ": %s: %zu images, %llu rows, %.0f s so far\n", s->name, list.count,
                    (unsigned long long)s->rows, now() - t0);
            list_free(&list);
        }
    }
    fseek(f, 0, SEEK_SET);
    fwrite(&hdr, sizeof hdr, 1, f);
    if (fclose(f)) die(out);
    rp_extractor_free(ex);
    free(feat);
    fprintf(stderr, RP_BENCH_PROGRAM ": wrote %llu rows of %u floats to %s\n", (unsigned long long)hdr.rows, PD, out);
    return 0;
}

static FILE *open_cache(const char *path, cache_header *hdr)
{
    FILE *f = fopen(path, "rb");
    if (!f || fread(hdr, sizeof *hdr, 1, f) != 1 || hdr->magic != MAGIC || hdr->pd != PD) {
        fprintf(stderr, RP_BENCH_PROGRAM ": %s is not a complete coreset cache\n", path);
        exit(1);
    }
    return f;
}

static int do_info(const char *path)
{
    cache_header hdr;
    fclose(open_cache(path, &hdr));
    printf("%llu rows of %u floats\n", (unsigned long long)hdr.rows, hdr.pd);
    for (uint32_t i = 0; i < hdr.nseg; i++)
        printf("  %-28s rows %9llu .. %9llu\n", hdr.seg[i].name, (unsigned long long)hdr.seg[i].offset,
               (unsigned long long)(hdr.seg[i].offset + hdr.seg[i].rows));
    return 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static double current_rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * 4096.0 / (1024.0 * 1024.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int do_run(const char *path, double ratio, uint64_t rows, const char *segname, uint32_t threads, int runs)
{
    cache_header hdr;
    FILE *f = open_cache(path, &hdr);
    uint64_t off = 0, n = rows && rows < hdr.rows ? rows : hdr.rows;
    if (segname) {
        uint32_t i = 0;
        while (i < hdr.nseg && strcmp(hdr.seg[i].name, segname)) i++;
        if (i == hdr.nseg) {
            fprintf(stderr, RP_BENCH_PROGRAM ": no segment %s in %s (see: info)\n", segname, path);
            return 1;
        }
        off = hdr.seg[i].offset;
        n = hdr.seg[i].rows;
    }
    float *y = malloc(n * PD * sizeof(float));
    if (!y) die("malloc");
    if (fseek(f, (long)(sizeof hdr + off * PD * sizeof(float)), SEEK_SET) || fread(y, sizeof(float) * PD, n, f) != n)
        die("short cache file");
    fclose(f);
    uint64_t m = (uint64_t)floor((double)n * ratio);
    if (m < 1) m = 1;
    uint64_t *idx = malloc(m * sizeof *idx);
    if (!idx) die("malloc");
    const double rss0 = current_rss_mib();
    printf("coreset: %llu rows x %u (%s), m = %llu (ratio %g), %u thread(s), kernels %s\n", (unsigned long long)n,
           PD, segname ? segname : "first rows", (unsigned long long)m, ratio, threads, rp__coreset_kernel_isa());
    printf("rss before selection %.0f MiB (the rows: %.0f MiB)\n", rss0, n * PD * 4.0 / (1 << 20));
    fflush(stdout);
    double wall[64], cpu[64];
    if (runs > 64) runs = 64;
    for (int r = 0; r < runs; r++) {
        double c0 = cpu_seconds(), t0 = now();
        if (rp__coreset_select(y, n, PD, m, PD, RP_BANK_DEFAULT_SEED, threads, NULL, NULL, RP_BENCH_PROGRAM, idx))
            die("rp__coreset_select");
        wall[r] = now() - t0;
        cpu[r] = cpu_seconds() - c0;
        uint64_t h = 1469598103934665603ull;
        for (uint64_t i = 0; i < m; i++) h = (h ^ idx[i]) * 1099511628211ull;
        printf("run %d: wall %.2f s, cpu %.2f s, peak rss %.0f MiB (+%.0f over the rows), picks hash %016llx "
               "first %llu %llu %llu\n",
               r + 1, wall[r], cpu[r], peak_rss_mib(), peak_rss_mib() - rss0, (unsigned long long)h,
               (unsigned long long)idx[0], (unsigned long long)(m > 1 ? idx[1] : 0),
               (unsigned long long)(m > 2 ? idx[2] : 0));
        rp__coreset_stats st;
        rp__coreset_last_stats(&st);
        const double plain = (double)n * (double)(m - 1);
        printf("  pruning: member visits %.3g (%.2f%% of the plain loop's %.3g), full rows %.3g (%.2f%%), "
               "centre distances %.3g, clusters opened %.3g, unassigned group empty at pick %llu%s, %llu reorders, "
               "kernels %s\n",
               (double)st.member_visits, 100.0 * st.member_visits / plain, plain, (double)st.rows_computed,
               100.0 * st.rows_computed / plain, (double)st.centre_candidates, (double)st.clusters_checked,
               (unsigned long long)st.unassigned_left_at, st.partitions ? " (not tracked in partitions)" : "",
               (unsigned long long)st.reorders, st.isa);
        if (st.partitions)
            printf("  APPROXIMATE: selected in %llu partitions of consecutive rows (RP_CORESET_PARTITION)\n",
                   (unsigned long long)st.partitions);
        else
            printf("  exact (PatchCore's selection)\n");
        printf("  full rows per tenth of the picks (M):");
        for (int b = 0; b < RP__CORESET_STAT_BUCKETS; b++) printf(" %.1f", st.rows_by_tenth[b] * 1e-6);
        printf("\n  member visits per tenth (M):");
        for (int b = 0; b < RP__CORESET_STAT_BUCKETS; b++) printf(" %.1f", st.visits_by_tenth[b] * 1e-6);
        printf("\n  pick distance at the end of each tenth%s:", st.partitions ? " (largest over the partitions)" : "");
        for (int b = 0; b < RP__CORESET_STAT_BUCKETS; b++) printf(" %.4g", st.radius_by_tenth[b]);
        printf("\n  largest norm %.4g, rounding slack sqrt(e) %.4g\n", st.largest_norm, st.rounding_slack);
        fflush(stdout);
    }
    printf("median of %d: wall %.2f s, cpu %.2f s\n", runs, median(wall, runs), median(cpu, runs));
    free(idx);
    free(y);
    return 0;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *cachef = NULL, *segname = NULL, *data[16];
    int nd = 0, flips = 0, runs = 1;
    double ratio = 0.1;
    uint64_t rows = 0;
    uint32_t threads = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--flips")) flips = 1;
        else if (!v) break;
        else if (!strcmp(a, "--out")) out = v, i++;
        else if (!strcmp(a, "--data") && nd < 16) data[nd++] = v, i++;
        else if (!strcmp(a, "--cache")) cachef = v, i++;
        else if (!strcmp(a, "--segment")) segname = v, i++;
        else if (!strcmp(a, "--ratio")) ratio = atof(v), i++;
        else if (!strcmp(a, "--rows")) rows = strtoull(v, 0, 10), i++;
        else if (!strcmp(a, "--threads")) threads = (uint32_t)atoi(v), i++;
        else if (!strcmp(a, "--runs")) runs = atoi(v), i++;
    }
    if (argc >= 2 && !strcmp(argv[1], "cache") && out && nd) return do_cache(out, data, nd, flips);
    if (argc >= 2 && !strcmp(argv[1], "info") && cachef) return do_info(cachef);
    if (argc >= 2 && !strcmp(argv[1], "run") && cachef && runs >= 1) return do_run(cachef, ratio, rows, segname, threads, runs);
    fprintf(stderr, "usage: rp-bench-coreset cache --out FILE [--flips] --data DIR [--data DIR ...]\n"
                    "       rp-bench-coreset info --cache FILE\n"
                    "       rp-bench-coreset run --cache FILE [--ratio R] [--rows N | --segment NAME] "
                    "[--threads T] [--runs K]\n");
    return 2;
}
