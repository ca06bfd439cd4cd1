/* Scorer: patch scores, image scores and maps against PyTorch/scipy goldens
 * (tools/gen_scorer_goldens.py), the geometry on analytic cases, keep_aspect maps and masks
 * against torchvision's frames, threads, and bad inputs. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "common/common.h"
#include "image/preprocess.h"
#include "rp_golden.h"
#include "rp_test.h"
#include "rp_test_cpu.h"
#include "scorer/scorer_internal.h"

#define GOLDEN "scorer/scorer_golden.bin"

/* |a - b| <= tol * max(1, |b|): relative for large values, absolute near zero. */
static void assert_close(const float *got, const float *want, size_t n, double tol, const char *what)
{
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)got[i] - (double)want[i]) / fmax(1.0, fabs((double)want[i]));
        if (err > worst) {
            worst = err;
            at = i;
        }
    }
    ck_assert_msg(worst <= tol, "%s: element %zu is %.9g, reference %.9g (relative error %.3g > %.3g)", what, at,
                  (double)got[at], (double)want[at], worst, tol);
}

static int32_t golden_int(const rp_golden *g, const char *name)
{
    rp_golden_array a = rp_golden_get(g, name);
    int32_t v;
    memcpy(&v, a.data, sizeof v);
    return v;
}

static rp_bank *golden_bank(const rp_golden *g, const char *name)
{
    rp_golden_array a = rp_golden_get(g, name);
    float *v = rp_golden_floats(g, name, NULL);
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create_frozen(v, a.dims[0], a.dims[1], NULL, &bank), RP_OK);
    free(v);
    return bank;
}

static rp_scorer *features_scorer(const rp_bank *bank, const rp_embedding *emb, uint32_t grid, uint32_t input,
                                  uint32_t resize, uint32_t no_crop, uint32_t b, double sigma, uint32_t threads)
{
    rp_scorer_params p;
    ck_assert_int_eq(rp_scorer_params_init(&p, sizeof p), RP_OK);
    p.grid_size = grid;
    p.input_size = input;
    p.resize = resize;
    p.no_crop = no_crop;
    p.reweight_neighbors = b;
    p.map_sigma = sigma;
    p.num_threads = threads;
    rp_scorer *s = NULL;
    ck_assert_msg(rp_scorer_create(NULL, emb, bank, &p, &s) == RP_OK, "%s", rp_last_error_message());
    return s;
}

/* ---- the map steps alone ------------------------------------------------------------------ */

START_TEST(map_steps__resize_matches_torch_interpolate)
{
    rp_golden g = rp_golden_load(GOLDEN);
    float *src = rp_golden_floats(&g, "c_resize_src", NULL), *want = rp_golden_floats(&g, "c_resize_dst", NULL);
    float got[8 * 13];
    rp__scorer_resize_bilinear(src, 5, 3, got, 13, 8, 1);
    assert_close(got, want, 8 * 13, 1e-6, "bilinear 5x3 -> 13x8");
    free(src);
    free(want);
    rp_golden_free(&g);
}
END_TEST

START_TEST(map_steps__smoothing_matches_scipy_reflect_even_when_kernel_exceeds_map)
{
    ck_assert_uint_eq(rp__scorer_gaussian_radius(4.0), 16);
    ck_assert_uint_eq(rp__scorer_gaussian_radius(2.5), 10);
    rp_golden g = rp_golden_load(GOLDEN);
    float *map = rp_golden_floats(&g, "c_smooth_src", NULL), *want = rp_golden_floats(&g, "c_smooth_dst", NULL);
    float scratch[7 * 12];
    rp__scorer_gaussian_filter(map, 12, 7, 4.0, scratch, 1);
    assert_close(map, want, 7 * 12, 1e-6, "gaussian_filter sigma 4 on 12x7");
    free(map);
    free(want);
    rp_golden_free(&g);
}
END_TEST

START_TEST(map_steps__openmp_split_of_large_maps_changes_no_value)
{
    /* Large enough (> 65536 pixels) for the map steps to split the work across threads. */
    enum { N = 300, W = 401, H = 299 };
    float *map1 = malloc(N * N * sizeof *map1), *map4 = malloc(N * N * sizeof *map4);
    float *scratch = malloc(N * N * sizeof *scratch);
    float *img1 = malloc(W * H * sizeof *img1), *img4 = malloc(W * H * sizeof *img4);
    uint32_t state = 7;
    for (int i = 0; i < N * N; i++) {
        state = state * 1664525u + 1013904223u;
        map1[i] = map4[i] = (float)(state >> 8) / 16777216.0f;
    }
    rp__scorer_gaussian_filter(map1, N, N, 4.0, scratch, 1);
    rp__scorer_gaussian_filter(map4, N, N, 4.0, scratch, 4);
    ck_assert_mem_eq(map1, map4, N * N * sizeof *map1);
    rp__scorer_geometry geo = {.grid_size = 10, .input_size = N, .resize = 340, .crop_offset = 20};
    ck_assert_int_eq(rp__scorer_map_to_image(map1, &geo, W, H, img1, 1, "test"), RP_OK);
    ck_assert_int_eq(rp__scorer_map_to_image(map1, &geo, W, H, img4, 4, "test"), RP_OK);
    ck_assert_mem_eq(img1, img4, W * H * sizeof *img1);
    free(map1);
    free(map4);
    free(scratch);
    free(img1);
    free(img4);
}
END_TEST

/* Runs on CPUs with and without AVX-512 / AVX2 must give the same maps: the smoothing passes of
 * every instruction set this CPU can run must give the same bits as the portable ones (widths
 * that are and are not multiples of 8, kernels longer than the map, threads split or not). */
START_TEST(map_steps__smoothing_gives_the_same_bits_with_every_instruction_set)
{
    enum { MAXW = 301, MAXH = 260 };
    const uint32_t sizes[][2] = {{224, 224}, {12, 7}, {1, 1}, {8, 8}, {9, 30}, {31, 5}, {301, 260}};
    const double sigmas[] = {4.0, 0.5, 2.5, 10.0};
    float *src = malloc(MAXW * MAXH * sizeof *src), *want = malloc(MAXW * MAXH * sizeof *want);
    float *got = malloc(MAXW * MAXH * sizeof *got), *scratch = malloc(MAXW * MAXH * sizeof *scratch);
    uint32_t state = 11;
    for (int i = 0; i < MAXW * MAXH; i++) {
        state = state * 1664525u + 1013904223u;
        src[i] = (float)(state >> 8) / 16777216.0f * 3.0f - 1.0f;
    }
    int compared = 0;
    for (int isa = RP__ISA_PORTABLE + 1; isa < RP__ISA_COUNT; isa++) {
        if (!rp__cpu_can_run((rp__isa)isa)) continue;
        compared++;
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
            for (size_t gi = 0; gi < sizeof sigmas / sizeof *sigmas; gi++)
                for (uint32_t threads = 1; threads <= 2; threads++) {
                    const uint32_t w = sizes[si][0], h = sizes[si][1];
                    memcpy(want, src, (size_t)w * h * sizeof *src);
                    memcpy(got, src, (size_t)w * h * sizeof *src);
                    rp__scorer_gaussian_filter_isa(want, w, h, sigmas[gi], scratch, threads, RP__ISA_PORTABLE);
                    rp__scorer_gaussian_filter_isa(got, w, h, sigmas[gi], scratch, threads, (rp__isa)isa);
                    ck_assert_msg(!memcmp(want, got, (size_t)w * h * sizeof *got),
                                  "%s: smoothing %ux%u with sigma %g (%u threads) differs from portable",
                                  rp__isa_name(isa), w, h, sigmas[gi], threads);
                }
    }
    printf("map smoothing: %d vector set(s) compared with the portable one\n", compared);
    free(src);
    free(want);
    free(got);
    free(scratch);
}
END_TEST

/* ---- scores and maps against the goldens ------------------------------------------------- */

START_TEST(score_features__patchcore_case_matches_torch_golden)
{
    rp_golden g = rp_golden_load(GOLDEN);
    rp_bank *bank = golden_bank(&g, "a_bank");
    rp_scorer *s = features_scorer(bank, NULL, 28, 224, 256, 0, 0, 0.0, 2);
    size_t nf;
    float *feats = rp_golden_floats(&g, "a_features", &nf);
    float *want_patch = rp_golden_floats(&g, "a_patch_scores", NULL);
    float *want_map = rp_golden_floats(&g, "a_map_input", NULL);
    float patch[784];
    float *map = malloc(224 * 224 * sizeof *map);
    rp_score_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_msg(rp_scorer_score_features(s, feats, nf, &r, patch, 784, map, 224 * 224) == RP_OK, "%s",
                  rp_last_error_message());
    assert_close(patch, want_patch, 784, 1e-5, "patch scores");
    ck_assert_uint_eq(r.max_patch, (uint32_t)golden_int(&g, "a_best"));
    ck_assert_uint_eq(r.max_patch_neighbor, (uint64_t)golden_int(&g, "a_neighbor"));
    ck_assert_double_eq_tol(r.score_max, rp_golden_double(&g, "a_score_max"), 1e-5 * r.score_max);
    ck_assert_double_eq_tol(r.reweight, rp_golden_double(&g, "a_reweight"), 1e-6);
    ck_assert_double_eq_tol(r.score, rp_golden_double(&g, "a_score"), 1e-5 * r.score);
    ck_assert_double_eq_tol(r.score, r.reweight * r.score_max, 1e-12 * r.score);
    assert_close(map, want_map, 224 * 224, 1e-5, "map_input 224x224");
    /* defaults resolved as documented */
    rp_scorer_info info;
    ck_assert_int_eq(rp_scorer_get_info(s, &info, sizeof info), RP_OK);
    ck_assert_uint_eq(info.reweight_neighbors, 9);
    ck_assert_double_eq(info.map_sigma, 4.0);
    ck_assert_uint_eq(info.crop_offset, 16);
    ck_assert_uint_eq(info.feature_dim, 16);
    free(feats);
    free(want_patch);
    free(want_map);
    free(map);
    rp_scorer_free(s);
    rp_bank_free(bank);
    rp_golden_free(&g);
}
END_TEST

START_TEST(score_features__embedding_case_matches_torch_golden)
{
    rp_golden g = rp_golden_load(GOLDEN);
    rp_bank *bank = golden_bank(&g, "b_bank");
    float *w = rp_golden_floats(&g, "b_weight", NULL), *bias = rp_golden_floats(&g, "b_bias", NULL);
    rp_embedding *emb;
    ck_assert_int_eq(rp_embedding_create(24, 12, w, bias, &emb), RP_OK);
    rp_scorer *s = features_scorer(bank, emb, 10, 80, 92, 0, 5, 2.5, 1);
    size_t nf;
    float *feats = rp_golden_floats(&g, "b_features", &nf);
    float *want_patch = rp_golden_floats(&g, "b_patch_scores", NULL);
    float *want_map = rp_golden_floats(&g, "b_map_input", NULL);
    float patch[100], map[80 * 80];
    rp_score_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_msg(rp_scorer_score_features(s, feats, nf, &r, patch, 100, map, 80 * 80) == RP_OK, "%s",
                  rp_last_error_message());
    assert_close(patch, want_patch, 100, 1e-5, "patch scores");
    ck_assert_uint_eq(r.max_patch, (uint32_t)golden_int(&g, "b_best"));
    ck_assert_uint_eq(r.max_patch_neighbor, (uint64_t)golden_int(&g, "b_neighbor"));
    ck_assert_double_eq_tol(r.score_max, rp_golden_double(&g, "b_score_max"), 1e-5 * r.score_max);
    ck_assert_double_eq_tol(r.reweight, rp_golden_double(&g, "b_reweight"), 1e-5);
    ck_assert_double_eq_tol(r.score, rp_golden_double(&g, "b_score"), 1e-5 * r.score);
    assert_close(map, want_map, 80 * 80, 1e-5, "map_input 80x80");
    free(w);
    free(bias);
    free(feats);
    free(want_patch);
    free(want_map);
    rp_scorer_free(s);
    rp_embedding_free(emb);
    rp_bank_free(bank);
    rp_golden_free(&g);
}
END_TEST

START_TEST(reweighting__hand_computed_three_point_bank)
{
    /* bank (0,0) (1,0) (0,3); the only patch at (-1,0): s* = 1 to m* = (0,0); with b = 2 the
     * support of m* is {(0,0), (1,0)} at distances 1 and 2 from the patch:
     * weight = 1 - e^1 / (e^1 + e^2) = e / (1 + e). */
    const float bank_v[6] = {0, 0, 1, 0, 0, 3}, patch[2] = {-1, 0};
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create_frozen(bank_v, 3, 2, NULL, &bank), RP_OK);
    rp_scorer *s = features_scorer(bank, NULL, 1, 4, 0, 1, 2, 0.0, 1);
    rp_score_result r;
    r.struct_size = sizeof r;
    ck_assert_int_eq(rp_scorer_score_features(s, patch, 2, &r, NULL, 0, NULL, 0), RP_OK);
    const double e = exp(1.0);
    ck_assert_double_eq_tol(r.score_max, 1.0, 1e-6);
    ck_assert_double_eq_tol(r.reweight, e / (1 + e), 1e-12);
    ck_assert_double_eq_tol(r.score, e / (1 + e), 1e-6);
    ck_assert_uint_eq(r.max_patch_neighbor, 0);
    rp_scorer_free(s);
    /* b larger than the bank: the whole bank, 1 - e / (e + e^2 + e^sqrt(10)) */
    s = features_scorer(bank, NULL, 1, 4, 0, 1, 50, 0.0, 1);
    ck_assert_int_eq(rp_scorer_score_features(s, patch, 2, &r, NULL, 0, NULL, 0), RP_OK);
    ck_assert_double_eq_tol(r.reweight, 1.0 - e / (e + e * e + exp(sqrt(10.0))), 1e-12);
    rp_scorer_free(s);
    rp_bank_free(bank);
    /* a one-entry bank: the support is m* alone and the weight is 0 */
    ck_assert_int_eq(rp_bank_create_frozen(bank_v + 2, 1, 2, NULL, &bank), RP_OK);
    s = features_scorer(bank, NULL, 1, 4, 0, 1, 0, 0.0, 1);
    ck_assert_int_eq(rp_scorer_score_features(s, patch, 2, &r, NULL, 0, NULL, 0), RP_OK);
    ck_assert_double_eq_tol(r.score_max, 2.0, 1e-6);
    ck_assert_double_eq(r.score, 0.0);
    rp_scorer_free(s);
    rp_bank_free(bank);
}
END_TEST

/* ---- the map in image geometry ------------------------------------------------------------ */

START_TEST(map_to_image__matches_torch_interpolate_of_edge_padded_frame)
{
    rp_golden g = rp_golden_load(GOLDEN);
    float one = 0;
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create_frozen(&one, 1, 1, NULL, &bank), RP_OK);
    /* 224 map, resize 256 (offset 16), image 180 x 120 */
    rp_scorer *s = features_scorer(bank, NULL, 28, 224, 256, 0, 0, 0.0, 2);
    float *map = rp_golden_floats(&g, "a_map_input", NULL), *want = rp_golden_floats(&g, "a_map_image", NULL);
    float *got = malloc(180 * 120 * sizeof *got);
    ck_assert_int_eq(rp_scorer_map_to_image(s, map, 224 * 224, 180, 120, got, 180 * 120), RP_OK);
    assert_close(got, want, 180 * 120, 1e-5, "map_image 180x120 from 224 crop of 256");
    free(map);
    free(want);
    free(got);
    rp_scorer_free(s);
    /* 80 map, resize 92 (offset 6) and no_crop, image 70 x 50 */
    map = rp_golden_floats(&g, "b_map_input", NULL);
    float out[70 * 50];
    s = features_scorer(bank, NULL, 10, 80, 92, 0, 0, 0.0, 1);
    want = rp_golden_floats(&g, "b_map_image_crop", NULL);
    ck_assert_int_eq(rp_scorer_map_to_image(s, map, 80 * 80, 70, 50, out, 70 * 50), RP_OK);
    assert_close(out, want, 70 * 50, 1e-5, "map_image 70x50 from 80 crop of 92");
    free(want);
    rp_scorer_free(s);
    s = features_scorer(bank, NULL, 10, 80, 0, 1, 0, 0.0, 1);
    want = rp_golden_floats(&g, "b_map_image_nocrop", NULL);
    ck_assert_int_eq(rp_scorer_map_to_image(s, map, 80 * 80, 70, 50, out, 70 * 50), RP_OK);
    assert_close(out, want, 70 * 50, 1e-5, "map_image 70x50 no_crop");
    free(want);
    free(map);
    rp_scorer_free(s);
    rp_bank_free(bank);
    rp_golden_free(&g);
}
END_TEST

START_TEST(map_to_image__constant_map_stays_constant)
{
    rp__scorer_geometry geo = {.grid_size = 4, .input_size = 16, .resize = 20, .crop_offset = 2};
    float map[16 * 16], out[37 * 23];
    for (int i = 0; i < 16 * 16; i++) map[i] = 2.75f;
    ck_assert_int_eq(rp__scorer_map_to_image(map, &geo, 37, 23, out, 1, "test"), RP_OK);
    for (int i = 0; i < 37 * 23; i++) ck_assert_float_eq(out[i], 2.75f);
}
END_TEST

START_TEST(map_to_image__ramp_is_exact_inside_the_crop_and_border_valued_outside)
{
    /* Image as large as the resize frame: image pixel u sits at crop coordinate u - offset
     * exactly, so a ramp map comes back shifted by the offset, with its border values outside. */
    rp__scorer_geometry geo = {.grid_size = 4, .input_size = 16, .resize = 20, .crop_offset = 2};
    float map[16 * 16], out[20 * 20];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) map[y * 16 + x] = (float)(3 * x + 100 * y);
    ck_assert_int_eq(rp__scorer_map_to_image(map, &geo, 20, 20, out, 1, "test"), RP_OK);
    for (int v = 0; v < 20; v++)
        for (int u = 0; u < 20; u++) {
            int x = u - 2, y = v - 2;
            x = x < 0 ? 0 : x > 15 ? 15 : x;
            y = y < 0 ? 0 : y > 15 ? 15 : y;
            ck_assert_float_eq_tol(out[v * 20 + u], (float)(3 * x + 100 * y), 1e-4f);
        }
    /* An image twice the frame: a linear ramp stays linear in the image coordinate,
     * value(u) = 3 * ((u + 0.5) / 2 - 0.5 - offset) where that lies inside the crop. */
    float big[40 * 40];
    ck_assert_int_eq(rp__scorer_map_to_image(map, &geo, 40, 40, big, 1, "test"), RP_OK);
    for (int u = 0; u < 40; u++) {
        double xc = (u + 0.5) / 2.0 - 0.5 - 2.0;
        xc = xc < 0 ? 0 : xc > 15 ? 15 : xc;
        ck_assert_float_eq_tol(big[u], (float)(3 * xc), 1e-4f);
    }
    /* no_crop with the image the size of the map: the identity */
    rp__scorer_geometry same = {.grid_size = 4, .input_size = 16, .resize = 16, .crop_offset = 0};
    float ident[16 * 16];
    ck_assert_int_eq(rp__scorer_map_to_image(map, &same, 16, 16, ident, 1, "test"), RP_OK);
    ck_assert_mem_eq(ident, map, sizeof map);
}
END_TEST

/* ---- keep_aspect: each image's own frame (tools/gen_scorer_goldens.py, scorer_keep_aspect.bin) -- */

#define GOLDEN_KEEP_ASPECT "scorer/scorer_keep_aspect.bin"

/* A features-only scorer with input 80 (grid 10), resize 92 on the shorter side, sigma 2.5. */
static rp_scorer *keep_aspect_scorer(const rp_bank *bank)
{
    rp_scorer_params p;
    ck_assert_int_eq(rp_scorer_params_init(&p, sizeof p), RP_OK);
    p.grid_size = 10;
    p.input_size = 80;
    p.resize = 92;
    p.keep_aspect = 1;
    p.map_sigma = 2.5;
    p.num_threads = 2;
    rp_scorer *s = NULL;
    ck_assert_msg(rp_scorer_create(NULL, NULL, bank, &p, &s) == RP_OK, "%s", rp_last_error_message());
    return s;
}

/* Frame golden: width, height, frame_w, frame_h, off_x, off_y as torchvision has them. */
static void golden_frame(const rp_golden *g, const char *name, int32_t f[6])
{
    rp_golden_array a = rp_golden_get(g, name);
    ck_assert(a.dtype == 'i' && a.count == 6);
    memcpy(f, a.data, 6 * sizeof *f);
}

START_TEST(map_to_image__keep_aspect_matches_torch_interpolate_of_the_images_own_frame)
{
    rp_golden g = rp_golden_load(GOLDEN_KEEP_ASPECT);
    float one = 0;
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create_frozen(&one, 1, 1, NULL, &bank), RP_OK);
    rp_scorer *s = keep_aspect_scorer(bank);
    rp_scorer_info info;
    ck_assert_int_eq(rp_scorer_get_info(s, &info, sizeof info), RP_OK);
    ck_assert_uint_eq(info.keep_aspect, 1);
    ck_assert_uint_eq(info.resize, 92);
    ck_assert_uint_eq(info.crop_offset, 6); /* the shorter side's: round((92 - 80) / 2) */
    float *map = rp_golden_floats(&g, "k_map_input", NULL);
    const char *names[2] = {"wide", "tall"};
    for (int i = 0; i < 2; i++) {
        char key[64];
        int32_t f[6];
        snprintf(key, sizeof key, "k_%s_frame", names[i]);
        golden_frame(&g, key, f);
        const uint32_t w = (uint32_t)f[0], h = (uint32_t)f[1];
        uint32_t fw, fh, ox, oy;
        ck_assert_int_eq(rp__image_resize_frame(w, h, 92, 80, 0, 1, &fw, &fh, &ox, &oy, "t"), RP_OK);
        ck_assert_msg(fw == (uint32_t)f[2] && fh == (uint32_t)f[3] && ox == (uint32_t)f[4] && oy == (uint32_t)f[5],
                      "%s: frame %ux%u (%u, %u), torchvision %dx%d (%d, %d)", names[i], fw, fh, ox, oy, f[2], f[3],
                      f[4], f[5]);
        snprintf(key, sizeof key, "k_%s_map_image", names[i]);
        float *want = rp_golden_floats(&g, key, NULL), *got = malloc((size_t)w * h * sizeof *got);
        ck_assert_int_eq(rp_scorer_map_to_image(s, map, 80 * 80, w, h, got, (size_t)w * h), RP_OK);
        assert_close(got, want, (size_t)w * h, 1e-5, key);
        free(want);
        free(got);
    }
    free(map);
    rp_scorer_free(s);
    rp_bank_free(bank);
    rp_golden_free(&g);
}
END_TEST

START_TEST(mask_to_input__keep_aspect_matches_torchvision_resize_and_crop_of_the_mask)
{
    rp_golden g = rp_golden_load(GOLDEN_KEEP_ASPECT);
    float one = 0;
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create_frozen(&one, 1, 1, NULL, &bank), RP_OK);
    rp_scorer *s = keep_aspect_scorer(bank);
    const char *names[2] = {"wide", "tall"};
    for (int i = 0; i < 2; i++) {
        char key[64];
        int32_t f[6];
        snprintf(key, sizeof key, "k_%s_frame", names[i]);
        golden_frame(&g, key, f);
        snprintf(key, sizeof key, "k_%s_mask", names[i]);
        size_t n;
        uint8_t *mask = rp_golden_bytes(&g, key, &n);
        ck_assert_uint_eq(n, (size_t)f[0] * f[1]);
        rp_image *img;
        ck_assert_int_eq(rp_image_from_pixels(mask, (uint32_t)f[0], (uint32_t)f[1], 0, RP_PIXEL_GRAY8, &img), RP_OK);
        snprintf(key, sizeof key, "k_%s_mask_input", names[i]);
        uint8_t *want = rp_golden_bytes(&g, key, &n), got[80 * 80];
        ck_assert_uint_eq(n, sizeof got);
        ck_assert_int_eq(rp_scorer_mask_to_input(s, img, 127, got, sizeof got), RP_OK);
        size_t on = 0;
        for (size_t k = 0; k < sizeof got; k++) {
            ck_assert_msg(got[k] == want[k], "%s: pixel (%zu, %zu) is %u, torchvision %u", names[i], k % 80, k / 80,
                          got[k], want[k]);
            on += got[k];
        }
        ck_assert_uint_gt(on, 0);
        free(mask);
        free(want);
        rp_image_free(img);
    }
    rp_scorer_free(s);
    rp_bank_free(bank);
    rp_golden_free(&g);
}
END_TEST

START_TEST(keep_aspect__with_no_crop_is_refused_and_too_long_frames_fail_cleanly)
{
    float one = 0;
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create_frozen(&one, 1, 1, NULL, &bank), RP_OK);
    rp_scorer_params p;
    rp_scorer_params_init(&p, sizeof p);
    p.grid_size = 10;
    p.input_size = 80;
    p.keep_aspect = 1;
    p.no_crop = 1;
    rp_scorer *s = (rp_scorer *)0x1;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, bank, &p, &s), RP_E_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(
        strstr(rp_last_error_message(), "rp_scorer_create: params.keep_aspect and params.no_crop are both set"));
    /* A caller built before keep_aspect existed (struct_size without it) gets the default. */
    p.no_crop = 0;
    p.struct_size = offsetof(rp_scorer_params, keep_aspect);
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, bank, &p, &s), RP_OK);
    rp_scorer_info info;
    ck_assert_int_eq(rp_scorer_get_info(s, &info, sizeof info), RP_OK);
    ck_assert_uint_eq(info.keep_aspect, 0);
    /* ... and an info struct of that age is filled only that far */
    rp_scorer_info old;
    memset(&old, 0xab, sizeof old);
    ck_assert_int_eq(rp_scorer_get_info(s, &old, offsetof(rp_scorer_info, keep_aspect)), RP_OK);
    ck_assert_uint_eq(old.struct_size, offsetof(rp_scorer_info, keep_aspect));
    ck_assert_uint_eq(old.keep_aspect, 0xababababu);
    rp_scorer_free(s);
    /* an image whose longer side would pass 16384: an error, and the output is not touched */
    s = keep_aspect_scorer(bank);
    float map[80 * 80], out[1 * 300];
    for (int i = 0; i < 80 * 80; i++) map[i] = 1.0f;
    for (int i = 0; i < 300; i++) out[i] = -7.0f;
    ck_assert_int_eq(rp_scorer_map_to_image(s, map, 80 * 80, 1, 300, out, 300), RP_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_scorer_map_to_image: keep_aspect resizes the 1 x 300"));
    for (int i = 0; i < 300; i++) ck_assert_float_eq(out[i], -7.0f);
    uint8_t mpx[300] = {0}, mout[80 * 80];
    rp_image *mask;
    ck_assert_int_eq(rp_image_from_pixels(mpx, 1, 300, 0, RP_PIXEL_GRAY8, &mask), RP_OK);
    ck_assert_int_eq(rp_scorer_mask_to_input(s, mask, 127, mout, sizeof mout), RP_E_LIMIT);
    rp_image_free(mask);
    rp_scorer_free(s);
    rp_bank_free(bank);
}
END_TEST

/* ---- threads --------------------------------------------------------------------------------- */

typedef struct thread_job {
    const rp_scorer *scorer;
    const float *features;
    size_t features_floats;
    rp_score_result result;
    float patch[784];
    float *map;
    int rc;
} thread_job;

static void *score_in_thread(void *arg)
{
    thread_job *j = arg;
    for (int rep = 0; rep < 3 && j->rc == RP_OK; rep++) {
        j->result.struct_size = sizeof j->result;
        j->rc = rp_scorer_score_features(j->scorer, j->features, j->features_floats, &j->result, j->patch, 784,
                                         j->map, 224 * 224);
    }
    return NULL;
}

START_TEST(score_features__eight_threads_match_single_thread_exactly)
{
    rp_golden g = rp_golden_load(GOLDEN);
    rp_bank *bank = golden_bank(&g, "a_bank");
    rp_scorer *s = features_scorer(bank, NULL, 28, 224, 256, 0, 0, 0.0, 2);
    size_t nf;
    float *feats = rp_golden_floats(&g, "a_features", &nf);
    thread_job ref = {.scorer = s, .features = feats, .features_floats = nf, .map = malloc(224 * 224 * 4)};
    score_in_thread(&ref);
    ck_assert_int_eq(ref.rc, RP_OK);
    enum { T = 8 };
    thread_job jobs[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (thread_job){.scorer = s, .features = feats, .features_floats = nf, .map = malloc(224 * 224 * 4)};
        pthread_create(&th[t], NULL, score_in_thread, &jobs[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        ck_assert_int_eq(jobs[t].rc, RP_OK);
        ck_assert_mem_eq(&jobs[t].result, &ref.result, sizeof ref.result);
        ck_assert_mem_eq(jobs[t].patch, ref.patch, sizeof ref.patch);
        ck_assert_mem_eq(jobs[t].map, ref.map, 224 * 224 * 4);
        free(jobs[t].map);
    }
    free(ref.map);
    free(feats);
    rp_scorer_free(s);
    rp_bank_free(bank);
    rp_golden_free(&g);
}
END_TEST

/* ---- bad inputs -------------------------------------------------------------------------------- */

START_TEST(create__rejects_unfit_banks_embeddings_and_params)
{
    const float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    rp_bank *frozen, *open;
    ck_assert_int_eq(rp_bank_create_frozen(v, 2, 4, NULL, &frozen), RP_OK);
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.dim = 4;
    ck_assert_int_eq(rp_bank_create(&bp, &open), RP_OK);
    rp_scorer_params p;
    rp_scorer_params_init(&p, sizeof p);
    p.grid_size = 2;
    p.input_size = 8;
    p.no_crop = 1;
    rp_scorer *s = (rp_scorer *)0x1;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, open, &p, &s), RP_E_STATE);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_scorer_create: the bank is not frozen"));
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, NULL, &p, &s), RP_E_INVALID_ARG);
    /* an embedding whose out_dim is not the bank's */
    float w[12] = {0};
    rp_embedding *emb;
    ck_assert_int_eq(rp_embedding_create(4, 3, w, NULL, &emb), RP_OK);
    ck_assert_int_eq(rp_scorer_create(NULL, emb, frozen, &p, &s), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "embedding out_dim 3 != bank dim 4"));
    rp_embedding_free(emb);
    /* no extractor and no grid */
    p.grid_size = 0;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, frozen, &p, &s), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "grid_size (0)"));
    p.grid_size = 2;
    p.map_sigma = -1;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, frozen, &p, &s), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "map_sigma -1"));
    p.map_sigma = 0;
    p.no_crop = 0;
    p.resize = 6; /* smaller than the crop */
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, frozen, &p, &s), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "params.resize 6"));
    p.resize = 0;
    p.reweight_neighbors = 5000;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, frozen, &p, &s), RP_E_INVALID_ARG);
    p.reweight_neighbors = 0;
    /* a params struct from a newer library with a set unknown field */
    struct {
        rp_scorer_params p;
        uint64_t future;
    } big;
    memset(&big, 0, sizeof big);
    big.p = p;
    big.p.struct_size = sizeof big;
    big.future = 1;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, frozen, &big.p, &s), RP_E_VERSION);
    big.future = 0;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, frozen, &big.p, &s), RP_OK);
    rp_scorer_free(s);
    rp_scorer_free(NULL);
    rp_bank_free(frozen);
    rp_bank_free(open);
}
END_TEST

START_TEST(score_features__rejects_bad_shapes_and_leaves_outputs_untouched)
{
    const float bank_v[8] = {0, 0, 1, 0, 0, 1, 1, 1};
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create_frozen(bank_v, 4, 2, NULL, &bank), RP_OK);
    rp_scorer *s = features_scorer(bank, NULL, 2, 8, 0, 1, 0, 1.0, 1);
    float feats[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
    float patch[4], map[64];
    rp_score_result r;
    for (int i = 0; i < 4; i++) patch[i] = -7;
    for (int i = 0; i < 64; i++) map[i] = -7;
    memset(&r, 0xab, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_int_eq(rp_scorer_score_features(s, feats, 6, &r, patch, 4, map, 64), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "features_floats 6 != 2 x 2 patches x 2 features = 8"));
    ck_assert_int_eq(rp_scorer_score_features(s, feats, 8, &r, patch, 3, map, 64), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "patch_scores_out holds 3 floats, 4 needed"));
    ck_assert_int_eq(rp_scorer_score_features(s, feats, 8, &r, patch, 4, map, 63), RP_E_SHAPE);
    feats[5] = NAN;
    ck_assert_int_eq(rp_scorer_score_features(s, feats, 8, &r, patch, 4, map, 64), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "feature 1 of patch 2 is nan"));
    feats[5] = 0.6f;
    for (int i = 0; i < 4; i++) ck_assert_float_eq(patch[i], -7);
    for (int i = 0; i < 64; i++) ck_assert_float_eq(map[i], -7);
    ck_assert_uint_eq(r.max_patch, 0xabababab);
    r.struct_size = 0;
    ck_assert_int_eq(rp_scorer_score_features(s, feats, 8, &r, patch, 4, map, 64), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "struct_size is 0"));
    /* a caller that knows only the first fields of the result gets only those */
    r.struct_size = offsetof(rp_score_result, score_max);
    ck_assert_int_eq(rp_scorer_score_features(s, feats, 8, &r, patch, 4, map, 64), RP_OK);
    ck_assert_uint_eq(r.struct_size, offsetof(rp_score_result, score_max));
    ck_assert_uint_eq(r.max_patch_neighbor, 0xababababababababull);
    /* no extractor: rp_scorer_score is a state error, and mapping checks its sizes */
    rp_image *img = NULL;
    ck_assert_int_eq(rp_scorer_score(s, (const rp_image *)feats, NULL, NULL, 0, NULL, 0), RP_E_STATE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "without an extractor"));
    ck_assert_int_eq(rp_scorer_score(s, img, NULL, NULL, 0, NULL, 0), RP_E_INVALID_ARG);
    float out[10];
    ck_assert_int_eq(rp_scorer_map_to_image(s, map, 64, 5, 3, out, 10), RP_E_SHAPE);
    ck_assert_int_eq(rp_scorer_map_to_image(s, map, 60, 2, 3, out, 10), RP_E_SHAPE);
    ck_assert_int_eq(rp_scorer_map_to_image(s, map, 64, 2, 3, out, 10), RP_OK);
    rp_scorer_free(s);
    rp_bank_free(bank);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scorer");
    TCase *tc = tcase_create("scorer");
    tcase_add_test(tc, map_steps__resize_matches_torch_interpolate);
    tcase_add_test(tc, map_steps__smoothing_matches_scipy_reflect_even_when_kernel_exceeds_map);
    tcase_add_test(tc, map_steps__openmp_split_of_large_maps_changes_no_value);
    tcase_add_test(tc, map_steps__smoothing_gives_the_same_bits_with_every_instruction_set);
    tcase_add_test(tc, score_features__patchcore_case_matches_torch_golden);
    tcase_add_test(tc, score_features__embedding_case_matches_torch_golden);
    tcase_add_test(tc, reweighting__hand_computed_three_point_bank);
    tcase_add_test(tc, map_to_image__matches_torch_interpolate_of_edge_padded_frame);
    tcase_add_test(tc, map_to_image__constant_map_stays_constant);
    tcase_add_test(tc, map_to_image__ramp_is_exact_inside_the_crop_and_border_valued_outside);
    tcase_add_test(tc, map_to_image__keep_aspect_matches_torch_interpolate_of_the_images_own_frame);
    tcase_add_test(tc, mask_to_input__keep_aspect_matches_torchvision_resize_and_crop_of_the_mask);
    tcase_add_test(tc, keep_aspect__with_no_crop_is_refused_and_too_long_frames_fail_cleanly);
    tcase_add_test(tc, create__rejects_unfit_banks_embeddings_and_params);
    tcase_add_test(tc, score_features__rejects_bad_shapes_and_leaves_outputs_untouched);
    rp_test_add_cpu_switch_case(tc);
    suite_add_tcase(s, tc);
    /* Threads at once on one object: the case make check-tsan runs (CK_RUN_CASE=concurrency). */
    TCase *conc = tcase_create("concurrency");
    tcase_add_test(conc, score_features__eight_threads_match_single_thread_exactly);
    suite_add_tcase(s, conc);
    return rp_test_run(s);
}
