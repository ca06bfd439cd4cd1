/* rp__features_aggregate against PatchCore's torch code (tools/gen_features_goldens.py). */
#include <math.h>
#include <stdint.h>

#include "common/bilinear.h"
#include "common/common.h"
#include "features/aggregate.h"
#include "features/aggregate_kernels.h"
#include "rp_test.h"
#include "rp_test_cpu.h"

/* Same inputs as the generator: splitmix64, top 24 bits -> [0, 1), then max(2u - 0.5, 0). */
static void random_map(uint64_t seed, size_t n, float *out)
{
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++) {
        state += 0x9E3779B97F4A7C15ull;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * (1.0f / 16777216.0f);
        float v = u * 2.0f - 0.5f;
        out[i] = v > 0.0f ? v : 0.0f;
    }
}

typedef struct {
    char name[64];
    unsigned c2, h2, c3, h3, patch, fd;
    unsigned long long seed;
} golden_case;

static int read_cases(golden_case *cases, int max)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/features/cases.txt", rp_test_source_dir());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int n = 0;
    while (n < max && fscanf(f, "%63s %u %u %u %u %u %u %llu", cases[n].name, &cases[n].c2, &cases[n].h2,
                             &cases[n].c3, &cases[n].h3, &cases[n].patch, &cases[n].fd, &cases[n].seed) == 8)
        n++;
    fclose(f);
    return n;
}

/* Run one golden case; returns the largest relative error seen. */
static double check_case(const golden_case *gc)
{
    size_t n2 = (size_t)gc->c2 * gc->h2 * gc->h2, n3 = (size_t)gc->c3 * gc->h3 * gc->h3;
    size_t rows_all = (size_t)gc->h2 * gc->h2;
    float *l2 = malloc(n2 * sizeof(float)), *l3 = malloc(n3 * sizeof(float));
    float *out = malloc(rows_all * gc->fd * sizeof(float));
    ck_assert(l2 && l3 && out);
    random_map(gc->seed, n2, l2);
    random_map(gc->seed + 1000, n3, l3);
    ck_assert_int_eq(rp__features_aggregate(l2, gc->c2, gc->h2, l3, gc->c3, gc->h3, gc->patch, gc->fd, out), RP_OK);

    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/features/%s.bin", rp_test_source_dir(), gc->name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    uint32_t rows;
    ck_assert_int_eq(fread(&rows, 4, 1, f), 1);
    uint32_t *idx = malloc(rows * sizeof(uint32_t));
    float *want = malloc((size_t)rows * gc->fd * sizeof(float));
    ck_assert_int_eq(fread(idx, 4, rows, f), rows);
    ck_assert_int_eq(fread(want, 4, (size_t)rows * gc->fd, f), (size_t)rows * gc->fd);
    fclose(f);

    double worst = 0;
    for (uint32_t r = 0; r < rows; r++) {
        ck_assert_uint_lt(idx[r], rows_all);
        for (unsigned d = 0; d < gc->fd; d++) {
            double got = out[(size_t)idx[r] * gc->fd + d], w = want[(size_t)r * gc->fd + d];
            /* relative error, floored at 0.01 (inputs are O(1)): exact zeros come out of torch as 1e-7 */
            double rel = fabs(got - w) / fmax(fabs(w), 1e-2);
            if (rel > worst) worst = rel;
            ck_assert_msg(rel <= 1e-4, "%s: row %u dim %u: got %.8g, PatchCore %.8g", gc->name, idx[r], d, got, w);
        }
    }
    free(idx);
    free(want);
    free(l2);
    free(l3);
    free(out);
    return worst;
}

START_TEST(aggregate__matches_patchcore_torch_goldens)
{
    golden_case cases[32];
    int n = read_cases(cases, 32);
    ck_assert_int_ge(n, 6);
    for (int i = 0; i < n; i++) {
        double worst = check_case(&cases[i]);
        printf("features golden %-18s worst relative error %.2e\n", cases[i].name, worst);
    }
}
END_TEST

START_TEST(aggregate__full_resnet50_case_is_covered)
{
    golden_case cases[32];
    int n = read_cases(cases, 32), found = 0;
    for (int i = 0; i < n; i++)
        if (cases[i].c2 == 512 && cases[i].h2 == 28 && cases[i].c3 == 1024 && cases[i].h3 == 14 &&
            cases[i].fd == 1024)
            found = 1;
    ck_assert_msg(found, "the 512x28x28 / 1024x14x14 golden case is missing");
}
END_TEST

/* For C3 = 1024 and 1024 bins, bin c is exactly channel c's 3x3 mean (zero-padded): a closed form
 * independent of the golden files. With feature_dim 2048 the merge is the identity. */
START_TEST(aggregate__layer3_bins_are_channel_box_means)
{
    const unsigned c2 = 4, h2 = 5, c3 = 1024, h3 = 5;
    float *l2 = calloc((size_t)c2 * h2 * h2, sizeof(float));
    float *l3 = malloc((size_t)c3 * h3 * h3 * sizeof(float));
    float *out = malloc((size_t)h2 * h2 * 2048 * sizeof(float));
    random_map(99, (size_t)c3 * h3 * h3, l3);
    ck_assert_int_eq(rp__features_aggregate(l2, c2, h2, l3, c3, h3, 3, 2048, out), RP_OK);
    for (unsigned c = 0; c < c3; c += 37)
        for (int y = 0; y < (int)h3; y++)
            for (int x = 0; x < (int)h3; x++) {
                double s = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy >= 0 && yy < (int)h3 && xx >= 0 && xx < (int)h3) s += l3[(c * h3 + yy) * h3 + xx];
                    }
                float got = out[(size_t)(y * h2 + x) * 2048 + 1024 + c];
                ck_assert_float_eq_tol(got, s / 9.0, 1e-5);
                ck_assert_float_eq(out[(size_t)(y * h2 + x) * 2048 + c], 0.0f);
            }
    free(l2);
    free(l3);
    free(out);
}
END_TEST

/* Values in [-1, 1) with exact zeros and negative zeros mixed in (ReLU maps have many zeros). */
static void signed_map(uint64_t seed, size_t n, float *out)
{
    random_map(seed, n, out);
    for (size_t i = 0; i < n; i++) {
        out[i] -= 0.5f;
        if (i % 7 == 3) out[i] = -0.0f;
    }
}

/* Runs on CPUs with and without AVX-512 / AVX2 must give the same features: every kernel set
 * this CPU can run must write the same bits as the portable one (sides that are and are not
 * multiples of the register widths, partial merge blocks, bins across channels). */
START_TEST(aggregate_kernels__every_set_gives_the_same_bits)
{
    const rp__features_kernel_set *portable = rp__features_kernels_for(RP__ISA_PORTABLE);
    ck_assert_ptr_nonnull(portable);
    enum { C = 6, MAXH = 32, MAXOUT = 41 };
    float *map = malloc((size_t)C * MAXH * MAXH * sizeof(float));
    float *o0 = malloc((size_t)MAXOUT * MAXOUT * sizeof(float)), *o1 = malloc((size_t)MAXOUT * MAXOUT * sizeof(float));
    float *rows0 = malloc((size_t)MAXH * MAXOUT * sizeof(float)), *rows1 = malloc((size_t)MAXH * MAXOUT * sizeof(float));
    int compared = 0;
    for (int isa = RP__ISA_PORTABLE + 1; isa < RP__ISA_COUNT; isa++) {
        const rp__features_kernel_set *k = rp__features_kernels_for((rp__isa)isa);
#if defined(__x86_64__) && defined(__GNUC__)
        ck_assert_int_eq(k != NULL, rp__cpu_can_run((rp__isa)isa)); /* no set silently left out */
#endif
        if (!k) continue;
        compared++;
        const uint32_t sides[] = {28, 14, 1, 5, 8, 9, 16, 17, 23, 32};
        for (size_t si = 0; si < sizeof sides / sizeof *sides; si++) {
            const uint32_t h = sides[si];
            signed_map(h, (size_t)C * h * h, map);
            for (uint32_t p = 1; p <= 7; p += 2) {
                const uint64_t taps = (uint64_t)C * p * p;
                for (uint64_t bins = 1; bins <= taps; bins = bins * 3 + 1)
                    for (uint64_t b = 0; b < bins; b += 1 + bins / 4) {
                        uint64_t start, end;
                        rp__features_adaptive_bin(b, taps, bins, &start, &end);
                        memset(o0, 0x5a, (size_t)h * h * sizeof(float));
                        memset(o1, 0x5a, (size_t)h * h * sizeof(float));
                        portable->pool_bin(map, h, p, start, end, o0);
                        k->pool_bin(map, h, p, start, end, o1);
                        ck_assert_msg(!memcmp(o0, o1, (size_t)h * h * sizeof(float)),
                                      "%s: pool_bin differs (h %u, p %u, taps [%llu, %llu))", rp__isa_name(isa), h, p,
                                      (unsigned long long)start, (unsigned long long)end);
                    }
            }
            const uint32_t outs[] = {28, 1, 7, 8, 9, 30, 41};
            for (size_t oi = 0; oi < sizeof outs / sizeof *outs; oi++) {
                const uint32_t ho = outs[oi];
                uint32_t lo[MAXOUT], hi[MAXOUT];
                float frac[MAXOUT];
                for (uint32_t d = 0; d < ho; d++) rp__bilinear_tap(d, h, ho, &lo[d], &hi[d], &frac[d]);
                memset(o0, 0x5a, (size_t)ho * ho * sizeof(float));
                memset(o1, 0x5a, (size_t)ho * ho * sizeof(float));
                portable->upsample_plane(map, h, ho, lo, hi, frac, rows0, o0);
                k->upsample_plane(map, h, ho, lo, hi, frac, rows1, o1);
                ck_assert_msg(!memcmp(o0, o1, (size_t)ho * ho * sizeof(float)), "%s: upsample_plane differs (%u -> %u)",
                              rp__isa_name(isa), h, ho);
            }
        }
        /* merge: stacked planes into feature_dim bins (equal bins of 2, overlapping bins, wide
         * bins), blocks of RP__FEATURES_MERGE_BLOCK features and a partial last block */
        const uint32_t npixs[] = {784, 1, 7, 8, 9, 25};
        const uint64_t stackeds[] = {64, 64, 50, 7};
        const uint32_t dims[] = {32, 40, 21, 5};
        for (size_t pi = 0; pi < sizeof npixs / sizeof *npixs; pi++)
            for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
                const uint32_t npix = npixs[pi], fd = dims[di];
                const uint64_t stacked = stackeds[di];
                float *planes = malloc((size_t)stacked * npix * sizeof(float));
                float *m0 = malloc((size_t)npix * fd * sizeof(float)), *m1 = malloc((size_t)npix * fd * sizeof(float));
                signed_map(npix + fd, (size_t)stacked * npix, planes);
                memset(m0, 0x5a, (size_t)npix * fd * sizeof(float));
                memset(m1, 0x5a, (size_t)npix * fd * sizeof(float));
                for (uint32_t f0 = 0; f0 < fd; f0 += RP__FEATURES_MERGE_BLOCK) {
                    const uint32_t f1 = f0 + RP__FEATURES_MERGE_BLOCK < fd ? f0 + RP__FEATURES_MERGE_BLOCK : fd;
                    uint64_t first, unused;
                    rp__features_adaptive_bin(f0, stacked, fd, &first, &unused);
                    const float *from = planes + first * npix; /* the block's planes, as aggregate.c passes them */
                    portable->merge_block(from, first, stacked, f0, f1, fd, npix, m0);
                    k->merge_block(from, first, stacked, f0, f1, fd, npix, m1);
                }
                ck_assert_msg(!memcmp(m0, m1, (size_t)npix * fd * sizeof(float)),
                              "%s: merge_block differs (%llu planes -> %u features, %u patches)", rp__isa_name(isa),
                              (unsigned long long)stacked, fd, npix);
                free(planes);
                free(m0);
                free(m1);
            }
    }
    printf("aggregation kernels: %d vector set(s) compared with the portable one\n", compared);
    free(map);
    free(o0);
    free(o1);
    free(rows0);
    free(rows1);
}
END_TEST

START_TEST(aggregate__rejects_bad_arguments)
{
    float m[64] = {0}, out[64 * 8];
    ck_assert_int_eq(rp__features_aggregate(NULL, 1, 2, m, 1, 2, 3, 8, out), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp__features_aggregate"));
    ck_assert_int_eq(rp__features_aggregate(m, 1, 2, m, 1, 2, 3, 0, out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__features_aggregate(m, 0, 2, m, 1, 2, 3, 8, out), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__features_aggregate(m, 1, 2, m, 1, 2, 2, 8, out), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "patch_size 2"));
    ck_assert_int_eq(rp__features_aggregate(m, 1, 2, m, 1, 2, 3, 8, NULL), RP_E_INVALID_ARG);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("features_aggregate");
    TCase *tc = tcase_create("aggregate");
    tcase_add_test(tc, aggregate__matches_patchcore_torch_goldens);
    tcase_add_test(tc, aggregate__full_resnet50_case_is_covered);
    tcase_add_test(tc, aggregate_kernels__every_set_gives_the_same_bits);
    tcase_add_test(tc, aggregate__layer3_bins_are_channel_box_means);
    tcase_add_test(tc, aggregate__rejects_bad_arguments);
    rp_test_add_cpu_switch_case(tc);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
