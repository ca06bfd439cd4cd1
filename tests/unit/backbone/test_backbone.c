/* The oneDNN ResNet against PyTorch (goldens from tools/gen_backbone_goldens.py on the same seeded
 * random weights), in both weight layouts, plus batching, threads, bf16 and argument checks. */
#include <dnnl.h>
#include <math.h>
#include <pthread.h>

#include "backbone/weights.h"
#include "backbone_golden.h"
#include "common/common.h"
#include "extractor/extractor_internal.h"
#include "image/preprocess.h"
#include "rp_test.h"

static rp__weights *random_weights(int32_t arch, int32_t layout, uint32_t divisor, uint64_t seed)
{
    rp__weights *w = NULL;
    ck_assert_msg(rp__weights_random(arch, layout, divisor, seed, &w) == RP_OK, "%s", rp_last_error_message());
    return w;
}

static rp_extractor *make(const rp__weights *w, uint32_t crop, int32_t output, int32_t precision,
                          uint32_t threads)
{
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.crop = crop;
    p.no_crop = 1;
    p.output = output;
    p.precision = precision;
    p.num_threads = threads;
    rp_extractor *e = NULL;
    ck_assert_msg(rp__extractor_create_from_weights(&p, w, 1, &e) == RP_OK, "%s", rp_last_error_message());
    return e;
}

static double weights_sum(const rp__weights *w)
{
    double s = 0;
    for (size_t i = 0; i < w->count; i++) {
        size_t n = rp__weights_numel(&w->tensors[i]);
        double t = 0;
        for (size_t k = 0; k < n; k++) t += w->tensors[i].data[k];
        s += t;
    }
    return s;
}

/* max |got - want| <= rel * max |want| over a golden array. */
static void assert_close(const float *got, const bb_array *want, double rel, const char *what)
{
    double max_ref = 0, max_err = 0;
    for (size_t i = 0; i < want->count; i++) {
        double r = bb_at(want, i);
        max_ref = fmax(max_ref, fabs(r));
        max_err = fmax(max_err, fabs(got[i] - r));
    }
    ck_assert_msg(max_ref > 0, "%s: reference is all zeros", what);
    ck_assert_msg(max_err <= rel * max_ref, "%s: max abs error %g > %g x max |ref| %g", what, max_err, rel, max_ref);
}

/* ---- small networks, both layouts: every output value against PyTorch ------------------------ */

static void check_small(int32_t arch, int32_t layout, const char *file)
{
    bb_golden g = bb_golden_load(file);
    bb_array sa = bb_get(&g, "seed");
    uint64_t seed = (uint64_t)bb_at(&sa, 0);
    rp__weights *w = random_weights(arch, layout, 8, seed);
    bb_array ws = bb_get(&g, "weights_sum");
    ck_assert_msg(fabs(weights_sum(w) - bb_at(&ws, 0)) <= 1e-9 * fabs(bb_at(&ws, 0)) + 1e-9,
                  "rp__weights_random and the Python generator disagree: %.12g vs %.12g", weights_sum(w),
                  bb_at(&ws, 0));
    rp_extractor *e = make(w, 64, RP_OUTPUT_CLASSIFIER, RP_PRECISION_FP32, 2);
    bb_array l2 = bb_get(&g, "layer2"), l3 = bb_get(&g, "layer3"), pr = bb_get(&g, "probs");
    rp_extractor_info info;
    ck_assert_int_eq(rp_extractor_get_info(e, &info, sizeof info), RP_OK);
    ck_assert_uint_eq(info.layer2_channels, l2.dims[1]);
    ck_assert_uint_eq(info.layer2_size, l2.dims[2]);
    ck_assert_uint_eq(info.layer3_channels, l3.dims[1]);
    ck_assert_uint_eq(info.layer3_size, l3.dims[2]);
    ck_assert_int_eq(info.layout, layout);
    float *x = malloc(2 * 3 * 64 * 64 * sizeof(float));
    bb_random_input(BB_INPUT_SEED, 2 * 3 * 64 * 64, -2.0f, 2.0f, x);
    float *o2 = malloc(l2.count * sizeof(float)), *o3 = malloc(l3.count * sizeof(float));
    float *probs = malloc(pr.count * sizeof(float));
    ck_assert_msg(rp_extractor_forward(e, x, 2 * 3 * 64 * 64, 2, o2, l2.count, o3, l3.count) == RP_OK, "%s", rp_last_error_message());
    assert_close(o2, &l2, 1e-4, "layer2");
    assert_close(o3, &l3, 1e-4, "layer3");
    ck_assert_msg(rp_extractor_classify(e, x, 2 * 3 * 64 * 64, 2, probs, pr.count) == RP_OK, "%s", rp_last_error_message());
    assert_close(probs, &pr, 1e-4, "probs");
    free(x), free(o2), free(o3), free(probs);
    rp_extractor_free(e);
    rp__weights_free(w);
    free(g.data);
}

START_TEST(forward__small_resnet50_torchvision_layout_matches_torch)
{
    check_small(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, "small_resnet50_torchvision.rpg");
}
END_TEST

START_TEST(forward__small_resnet50_keras_layout_matches_torch)
{
    check_small(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, "small_resnet50_keras.rpg");
}
END_TEST

START_TEST(forward__small_wide_resnet50_2_matches_torch)
{
    check_small(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_TORCHVISION, "small_wide_resnet50_2_torchvision.rpg");
}
END_TEST

/* ---- full-size networks: 2000 fixed positions per layer against PyTorch ----------------------- */

static void check_full(int32_t arch, const char *file)
{
    bb_golden g = bb_golden_load(file);
    bb_array sa = bb_get(&g, "seed");
    rp__weights *w = random_weights(arch, RP_LAYOUT_TORCHVISION, 1, (uint64_t)bb_at(&sa, 0));
    rp_extractor *e = make(w, 224, RP_OUTPUT_LAYER3, RP_PRECISION_FP32, 2);
    rp_extractor_info info;
    rp_extractor_get_info(e, &info, sizeof info);
    ck_assert_int_eq(info.arch, arch);
    ck_assert_uint_eq(info.layer2_size, 28);
    ck_assert_uint_eq(info.layer3_size, 14);
    size_t n2 = (size_t)info.layer2_channels * 28 * 28, n3 = (size_t)info.layer3_channels * 14 * 14;
    float *x = malloc(3 * 224 * 224 * sizeof(float)), *o2 = malloc(n2 * sizeof(float)), *o3 = malloc(n3 * sizeof(float));
    bb_random_input(BB_INPUT_SEED, 3 * 224 * 224, -2.0f, 2.0f, x);
    ck_assert_msg(rp_extractor_forward(e, x, 3 * 224 * 224, 1, o2, n2, o3, n3) == RP_OK, "%s", rp_last_error_message());
    const char *layers[2] = {"layer2", "layer3"};
    float *outs[2] = {o2, o3};
    size_t ns[2] = {n2, n3};
    for (int l = 0; l < 2; l++) {
        char name[32];
        snprintf(name, sizeof name, "%s_index", layers[l]);
        bb_array idx = bb_get(&g, name);
        snprintf(name, sizeof name, "%s_value", layers[l]);
        bb_array val = bb_get(&g, name);
        snprintf(name, sizeof name, "%s_max_abs", layers[l]);
        bb_array mx = bb_get(&g, name);
        double max_ref = bb_at(&mx, 0), max_err = 0;
        for (size_t i = 0; i < idx.count; i++) {
            size_t k = (size_t)bb_at(&idx, i);
            ck_assert_uint_lt(k, ns[l]);
            max_err = fmax(max_err, fabs(outs[l][k] - bb_at(&val, i)));
        }
        ck_assert_msg(max_err <= 1e-4 * max_ref, "%s: max abs error %g > 1e-4 x %g", layers[l], max_err, max_ref);
    }
    free(x), free(o2), free(o3);
    rp_extractor_free(e);
    rp__weights_free(w);
    free(g.data);
}

START_TEST(forward__full_resnet50_matches_torch_at_2000_positions)
{
    check_full(RP_ARCH_RESNET50, "full_resnet50.rpg");
}
END_TEST

START_TEST(forward__full_wide_resnet50_2_matches_torch_at_2000_positions)
{
    check_full(RP_ARCH_WIDE_RESNET50_2, "full_wide_resnet50_2.rpg");
}
END_TEST

/* ---- batching and threads ---------------------------------------------------------------------- */

typedef struct small_net {
    rp__weights *w;
    rp_extractor *e;
    size_t n_in, n2, n3;
} small_net;

static small_net small_net_make(void)
{
    small_net s;
    s.w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 8, 5);
    s.e = make(s.w, 96, RP_OUTPUT_LAYER3, RP_PRECISION_FP32, 2);
    rp_extractor_info info;
    rp_extractor_get_info(s.e, &info, sizeof info);
    s.n_in = 3 * 96 * 96;
    s.n2 = (size_t)info.layer2_channels * info.layer2_size * info.layer2_size;
    s.n3 = (size_t)info.layer3_channels * info.layer3_size * info.layer3_size;
    return s;
}

static void small_net_free(small_net *s)
{
    rp_extractor_free(s->e);
    rp__weights_free(s->w);
}

START_TEST(forward__batch_of_3_matches_images_one_by_one)
{
    small_net s = small_net_make();
    float *x = malloc(3 * s.n_in * sizeof(float));
    bb_random_input(77, 3 * s.n_in, -2.0f, 2.0f, x);
    float *b3 = malloc(3 * s.n3 * sizeof(float)), *one = malloc(s.n3 * sizeof(float));
    ck_assert_int_eq(rp_extractor_forward(s.e, x, 3 * s.n_in, 3, NULL, 0, b3, 3 * s.n3), RP_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rp_extractor_forward(s.e, x + i * s.n_in, s.n_in, 1, NULL, 0, one, s.n3), RP_OK);
        double max_ref = 0, max_err = 0;
        for (size_t k = 0; k < s.n3; k++) {
            max_ref = fmax(max_ref, fabs(one[k]));
            max_err = fmax(max_err, fabs(one[k] - b3[i * s.n3 + k]));
        }
        ck_assert_msg(max_err <= 1e-5 * max_ref, "image %d: batch vs single differ by %g (max %g)", i, max_err,
                      max_ref);
    }
    free(x), free(b3), free(one);
    small_net_free(&s);
}
END_TEST

typedef struct job {
    const small_net *s;
    const float *x;
    float *l2, *l3;
    int rounds, rc;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    j->rc = RP_OK;
    for (int r = 0; r < j->rounds && j->rc == RP_OK; r++)
        j->rc = rp_extractor_forward(j->s->e, j->x, 2 * j->s->n_in, 2, j->l2, 2 * j->s->n2, j->l3, 2 * j->s->n3);
    return NULL;
}

START_TEST(forward__four_threads_at_once_are_bit_identical_to_serial)
{
    small_net s = small_net_make();
    enum { T = 4 };
    float *x[T], *l2[T], *l3[T], *r2[T], *r3[T];
    for (int t = 0; t < T; t++) {
        x[t] = malloc(2 * s.n_in * sizeof(float));
        bb_random_input(100 + t, 2 * s.n_in, -2.0f, 2.0f, x[t]);
        l2[t] = malloc(2 * s.n2 * sizeof(float)), l3[t] = malloc(2 * s.n3 * sizeof(float));
        r2[t] = malloc(2 * s.n2 * sizeof(float)), r3[t] = malloc(2 * s.n3 * sizeof(float));
        /* Serial reference first (also builds the batch-2 plan: the threads then share it). */
        ck_assert_int_eq(rp_extractor_forward(s.e, x[t], 2 * s.n_in, 2, r2[t], 2 * s.n2, r3[t], 2 * s.n3), RP_OK);
    }
    pthread_t th[T];
    job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (job){&s, x[t], l2[t], l3[t], 20, -100};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        ck_assert_int_eq(jobs[t].rc, RP_OK);
        ck_assert_msg(memcmp(l2[t], r2[t], 2 * s.n2 * sizeof(float)) == 0, "thread %d: layer2 differs", t);
        ck_assert_msg(memcmp(l3[t], r3[t], 2 * s.n3 * sizeof(float)) == 0, "thread %d: layer3 differs", t);
        free(x[t]), free(l2[t]), free(l3[t]), free(r2[t]), free(r3[t]);
    }
    small_net_free(&s);
}
END_TEST

/* A new batch size first seen on several threads at once: one plan is built, all agree. */
START_TEST(forward__new_batch_size_from_four_threads_is_built_once_and_agrees)
{
    small_net s = small_net_make();
    enum { T = 4 };
    float *x = malloc(2 * s.n_in * sizeof(float)), *ref = malloc(2 * s.n3 * sizeof(float));
    bb_random_input(9, 2 * s.n_in, -2.0f, 2.0f, x);
    float *l2[T], *l3[T];
    pthread_t th[T];
    job jobs[T];
    for (int t = 0; t < T; t++) {
        l2[t] = malloc(2 * s.n2 * sizeof(float)), l3[t] = malloc(2 * s.n3 * sizeof(float));
        jobs[t] = (job){&s, x, l2[t], l3[t], 2, -100};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    ck_assert_int_eq(rp_extractor_forward(s.e, x, 2 * s.n_in, 2, NULL, 0, ref, 2 * s.n3), RP_OK);
    for (int t = 0; t < T; t++) {
        ck_assert_int_eq(jobs[t].rc, RP_OK);
        ck_assert(memcmp(l3[t], ref, 2 * s.n3 * sizeof(float)) == 0);
        free(l2[t]), free(l3[t]);
    }
    free(x), free(ref);
    small_net_free(&s);
}
END_TEST

/* Regression: the batch-1 weight layout forced on batch 8 sent WRN's layer3 1x1 convs to oneDNN's
 * reference kernel (80 s per call). Plans for other batch sizes must pick real kernels. */
START_TEST(plans__batch_1_and_8_use_no_reference_kernels)
{
    rp__weights *w = random_weights(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_TORCHVISION, 1, 1);
    rp_extractor *e = make(w, 224, RP_OUTPUT_LAYER3, RP_PRECISION_FP32, 2);
    uint32_t batches[3] = {1, 8, 3};
    for (int i = 0; i < 3; i++) {
        uint32_t refs = 99;
        ck_assert_msg(rp__extractor_prepare_batch(e, batches[i], &refs) == RP_OK, "%s", rp_last_error_message());
        ck_assert_msg(refs == 0, "batch %u: %u convs on reference kernels", batches[i], refs);
    }
    rp_extractor_free(e);
    rp__weights_free(w);
}
END_TEST

/* ---- bf16 ---------------------------------------------------------------------------------------- */

START_TEST(bf16__layer3_within_2e_2_relative_l2_of_fp32)
{
    /* Full-size ResNet-50: bf16 rounding (weights and activations, 8-bit mantissa) accumulates
     * over 13 blocks to about 1-2% relative L2 error (1.1% here, 1.3-2.0% with the real Keras
     * weights on photos: docs/backbone.md). On CPUs without native bf16 this uses oneDNN's
     * emulation (allowed for tests only), which needs AVX-512: below it bf16 is refused. */
    rp__weights *w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 1, 21);
    if ((dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) != dnnl_cpu_isa_avx512_core) {
        rp_extractor_params p;
        rp_extractor_params_init(&p, sizeof p);
        p.precision = RP_PRECISION_BF16;
        rp_extractor *e = (rp_extractor *)0x1;
        ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 1, &e), RP_E_UNSUPPORTED);
        ck_assert_ptr_null(e);
        fprintf(stderr, "bf16 accuracy not measured: this CPU has no AVX-512, so oneDNN has no bf16 convolution\n");
        rp__weights_free(w);
        return;
    }
    rp_extractor *f = make(w, 224, RP_OUTPUT_LAYER3, RP_PRECISION_FP32, 2);
    rp_extractor *b = make(w, 224, RP_OUTPUT_LAYER3, RP_PRECISION_BF16, 2);
    size_t n3 = 1024 * 14 * 14;
    float *x = malloc(3 * 224 * 224 * sizeof(float)), *of = malloc(n3 * sizeof(float)), *ob = malloc(n3 * sizeof(float));
    bb_random_input(BB_INPUT_SEED, 3 * 224 * 224, -2.0f, 2.0f, x);
    ck_assert_int_eq(rp_extractor_forward(f, x, 3 * 224 * 224, 1, NULL, 0, of, n3), RP_OK);
    ck_assert_int_eq(rp_extractor_forward(b, x, 3 * 224 * 224, 1, NULL, 0, ob, n3), RP_OK);
    double num = 0, den = 0;
    for (size_t i = 0; i < n3; i++) {
        num += (double)(ob[i] - of[i]) * (ob[i] - of[i]);
        den += (double)of[i] * of[i];
    }
    double rel = sqrt(num / den);
    ck_assert_msg(rel <= 2e-2, "bf16 layer3 relative L2 error %g > 2e-2", rel);
    ck_assert_msg(rel > 0, "bf16 output identical to fp32: bf16 path not taken");
    rp_extractor_info info;
    rp_extractor_get_info(b, &info, sizeof info);
    ck_assert_int_eq(info.precision, RP_PRECISION_BF16);
    free(x), free(of), free(ob);
    rp_extractor_free(f);
    rp_extractor_free(b);
    rp__weights_free(w);
}
END_TEST

/* Relative L2 distance ||a - b|| / ||b||. */
static double rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

static size_t count_not_bf16(const float *v, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        bad += (u & 0xffffu) != 0;
    }
    return bad;
}

/* x rounded to the nearest bf16, ties to even (finite values only). */
static float to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x7fffu + (u >> 16 & 1u)) & 0xffff0000u;
    memcpy(&x, &u, sizeof u);
    return x;
}

static rp_extractor *make_rounded(const rp__weights *w, uint32_t units)
{
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.crop = 224;
    p.no_crop = 1;
    p.output = RP_OUTPUT_LAYER3;
    p.num_threads = 2;
    rp_extractor *e = NULL;
    ck_assert_msg(rp__extractor_create_bf16_rounded(&p, w, units, &e) == RP_OK, "%s", rp_last_error_message());
    return e;
}

START_TEST(bf16_rounding__stores_bf16_values_in_the_chosen_units_only)
{
    /* The precision study's fp32 kernels with bf16 rounding: with every unit rounded, layer2 and
     * layer3 hold only bf16 values and sit at bf16's distance from fp32: 1.0 to 1.2 %, around the
     * 1.1 % oneDNN's own bf16 gave on this network (docs/backbone.md; without the weights'
     * rounding it is 0.8 %); with layer3's six blocks left in fp32, layer2 is the same bits and
     * layer3 is closer to fp32. The stem alone rounds its input: the input rounded beforehand
     * gives the same bits. Where oneDNN can run bf16 (emulated or native), oneDNN's bf16 sits at
     * the same distance from fp32 as the rounded network, and the two are closer to each other than
     * to fp32 (they share the rounded weights). How much closer depends on the kernels: oneDNN's
     * emulation on AVX-512 without BF16 came within half of fp32's distance; its native
     * AVX512-BF16 kernels accumulate in another order, so other values round the other way and
     * that noise grows over the layers: 0.67 of fp32's distance on a Zen 5 (docs/backbone.md). */
    rp__weights *w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 1, 21);
    const uint32_t all = 0x3fffu, up_to_layer2 = 0xffu; /* stem + 13 blocks; stem + layer1 + layer2 */
    rp_extractor *f = make(w, 224, RP_OUTPUT_LAYER3, RP_PRECISION_FP32, 2);
    rp_extractor *r_all = make_rounded(w, all), *r_l2 = make_rounded(w, up_to_layer2);
    const size_t nin = 3 * 224 * 224, n2 = 512 * 28 * 28, n3 = 1024 * 14 * 14;
    float *x = malloc(nin * sizeof(float));
    float *f2 = malloc(n2 * sizeof(float)), *f3 = malloc(n3 * sizeof(float));
    float *a2 = malloc(n2 * sizeof(float)), *a3 = malloc(n3 * sizeof(float));
    float *l2 = malloc(n2 * sizeof(float)), *l3 = malloc(n3 * sizeof(float));
    bb_random_input(BB_INPUT_SEED, nin, -2.0f, 2.0f, x);
    ck_assert_int_eq(rp_extractor_forward(f, x, nin, 1, f2, n2, f3, n3), RP_OK);
    ck_assert_int_eq(rp_extractor_forward(r_all, x, nin, 1, a2, n2, a3, n3), RP_OK);
    ck_assert_int_eq(rp_extractor_forward(r_l2, x, nin, 1, l2, n2, l3, n3), RP_OK);

    ck_assert_msg(count_not_bf16(a2, n2) == 0 && count_not_bf16(a3, n3) == 0,
                  "all units rounded: %zu layer2 and %zu layer3 values are not bf16", count_not_bf16(a2, n2),
                  count_not_bf16(a3, n3));
    const double err_all = rel_l2(a3, f3, n3), err_l2 = rel_l2(l3, f3, n3);
    ck_assert_msg(err_all >= 1.0e-2 && err_all <= 1.2e-2, "all rounded: layer3 relative L2 %g outside [1e-2, 1.2e-2]",
                  err_all);
    ck_assert_msg(memcmp(l2, a2, n2 * sizeof(float)) == 0, "layer2 differs between the two rounded networks");
    ck_assert_msg(count_not_bf16(l3, n3) > n3 / 2, "layer3 in fp32 holds mostly bf16 values: not fp32");
    ck_assert_msg(err_l2 < err_all, "layer3 in fp32: relative L2 %g not below all rounded %g", err_l2, err_all);
    fprintf(stderr, "bf16 rounding, layer3 relative L2 to fp32: all units %.4f, layer3 in fp32 %.4f\n", err_all, err_l2);

    rp_extractor *r_stem = make_rounded(w, 1u);
    float *xr = malloc(nin * sizeof(float)), *s2 = malloc(n2 * sizeof(float)), *sr2 = malloc(n2 * sizeof(float));
    for (size_t i = 0; i < nin; i++) xr[i] = to_bf16(x[i]);
    ck_assert_msg(memcmp(xr, x, nin * sizeof(float)) != 0, "the test input is bf16 already");
    ck_assert_int_eq(rp_extractor_forward(r_stem, x, nin, 1, s2, n2, NULL, 0), RP_OK);
    ck_assert_int_eq(rp_extractor_forward(r_stem, xr, nin, 1, sr2, n2, NULL, 0), RP_OK);
    ck_assert_msg(memcmp(s2, sr2, n2 * sizeof(float)) == 0, "stem rounded: its input is not rounded");
    free(xr), free(s2), free(sr2);
    rp_extractor_free(r_stem);

    if ((dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core) {
        rp_extractor *b = make(w, 224, RP_OUTPUT_LAYER3, RP_PRECISION_BF16, 2);
        float *b3 = malloc(n3 * sizeof(float));
        ck_assert_int_eq(rp_extractor_forward(b, x, nin, 1, NULL, 0, b3, n3), RP_OK);
        const double to_onednn = rel_l2(a3, b3, n3), fp32_to_onednn = rel_l2(f3, b3, n3);
        fprintf(stderr, "oneDNN bf16 layer3: relative L2 %.4f to the rounded network, %.4f to fp32\n", to_onednn,
                fp32_to_onednn);
        ck_assert_msg(fabs(err_all - fp32_to_onednn) <= 0.15 * fp32_to_onednn,
                      "rounded network %g from fp32, oneDNN's bf16 %g: not bf16's error size", err_all, fp32_to_onednn);
        /* two unrelated draws of bf16's noise would be about sqrt(2) x 1.1 % apart */
        ck_assert_msg(to_onednn < 0.85 * fp32_to_onednn, "rounded network %g from oneDNN's bf16, fp32 %g", to_onednn,
                      fp32_to_onednn);
        free(b3);
        rp_extractor_free(b);
    } else {
        fprintf(stderr, "rounded network not compared with oneDNN's bf16: no AVX-512 here\n");
    }

    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.precision = RP_PRECISION_BF16;
    rp_extractor *bad = (rp_extractor *)0x1;
    ck_assert_int_eq(rp__extractor_create_bf16_rounded(&p, w, all, &bad), RP_E_INVALID_ARG);
    ck_assert_ptr_null(bad);
    free(x), free(f2), free(f3), free(a2), free(a3), free(l2), free(l3);
    rp_extractor_free(f);
    rp_extractor_free(r_all);
    rp_extractor_free(r_l2);
    rp__weights_free(w);
}
END_TEST

START_TEST(bf16__refused_with_unsupported_when_the_cpu_lacks_native_bf16)
{
    rp__weights *w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 8, 1);
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.precision = RP_PRECISION_BF16;
    p.crop = 64, p.no_crop = 1;
    rp_extractor *e = (rp_extractor *)0x1;
    int rc = rp__extractor_create_from_weights(&p, w, 0, &e);
    if ((dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16) {
        ck_assert_int_eq(rc, RP_OK);
        rp_extractor_free(e);
    } else {
        ck_assert_int_eq(rc, RP_E_UNSUPPORTED);
        ck_assert_ptr_null(e);
        ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "bf16"));
    }
    rp__weights_free(w);
}
END_TEST

START_TEST(auto_precision__is_bf16_exactly_where_the_cpu_runs_it_natively)
{
    rp__weights *w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 8, 1);
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.precision = RP_PRECISION_AUTO;
    p.crop = 64, p.no_crop = 1;
    rp_extractor *e = NULL;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_OK);
    rp_extractor_info info;
    info.struct_size = sizeof info;
    ck_assert_int_eq(rp_extractor_get_info(e, &info, sizeof info), RP_OK);
    const int native = (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    ck_assert_int_eq(info.precision, native ? RP_PRECISION_BF16 : RP_PRECISION_FP32);
    rp_extractor_free(e);
    p.precision = RP_PRECISION_AUTO + 1;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "RP_PRECISION_AUTO"));
    rp__weights_free(w);
}
END_TEST

/* ---- argument checks ------------------------------------------------------------------------------ */

START_TEST(create__rejects_bad_params_with_clear_codes)
{
    rp_extractor *e = (rp_extractor *)0x1;
    ck_assert_int_eq(rp_extractor_create(NULL, NULL), RP_E_INVALID_ARG);
    /* NULL params (or weights_path) mean the default weights: point their folder at nothing, so
     * the test does not depend on the cache, and restore the environment after. */
    const char *saved = getenv("RP_WEIGHTS_DIR");
    char *saved_copy = saved ? strdup(saved) : NULL;
    setenv("RP_WEIGHTS_DIR", "/nonexistent/rp-weights", 1);
    ck_assert_int_eq(rp_extractor_create(NULL, &e), RP_E_IO);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_extractor_create: params.weights_path is NULL and the "
                                                          "default weights are missing: rp_default_weights_path: "
                                                          "no weights at /nonexistent/rp-weights"));
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    ck_assert_int_eq(rp_extractor_create(&p, &e), RP_E_IO);
    if (saved_copy) setenv("RP_WEIGHTS_DIR", saved_copy, 1);
    else unsetenv("RP_WEIGHTS_DIR");
    free(saved_copy);
    p.weights_path = "/nonexistent/model.safetensors";
    ck_assert_int_ne(rp_extractor_create(&p, &e), RP_OK);
    ck_assert_ptr_null(e);

    rp__weights *w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 8, 1);
    rp_extractor_params_init(&p, sizeof p);
    p.crop = 300, p.resize = 256;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "crop 300"));
    rp_extractor_params_init(&p, sizeof p);
    p.arch = 7;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_INVALID_ARG);
    rp_extractor_params_init(&p, sizeof p);
    p.arch = RP_ARCH_WIDE_RESNET50_2; /* reduced-width nets have no arch: accepted */
    p.patch_size = 4;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "patch_size 4"));
    rp_extractor_params_init(&p, sizeof p);
    p.precision = RP_PRECISION_AUTO + 1;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_INVALID_ARG);
    rp_extractor_params_init(&p, sizeof p);
    p.crop = 16, p.no_crop = 1;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_INVALID_ARG);
    ck_assert_ptr_null(e);
    rp_extractor_params_init(&p, sizeof p);
    p.keep_aspect = 1, p.no_crop = 1;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_INVALID_ARG);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "params.keep_aspect and params.no_crop are both set"));
    rp__weights_free(w);

    /* A full-size resnet50 file asked to be a wide one. */
    w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 1, 1);
    rp_extractor_params_init(&p, sizeof p);
    p.arch = RP_ARCH_WIDE_RESNET50_2;
    ck_assert_int_eq(rp__extractor_create_from_weights(&p, w, 0, &e), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "resnet50"));
    rp__weights_free(w);
}
END_TEST

START_TEST(forward__rejects_wrong_sizes_and_wrong_state)
{
    small_net s = small_net_make();
    float *x = calloc(2 * s.n_in, sizeof(float)), *o3 = malloc(2 * s.n3 * sizeof(float));
    ck_assert_int_eq(rp_extractor_forward(s.e, x, 2 * s.n_in, 2, NULL, 0, o3, 2 * s.n3 - 1), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_extractor_forward: layer3_out"));
    /* the input: one image short (it would be over-read) or one too many (batch and buffer disagree) */
    ck_assert_int_eq(rp_extractor_forward(s.e, x, s.n_in, 2, NULL, 0, o3, 2 * s.n3), RP_E_SHAPE);
    char want[160];
    snprintf(want, sizeof want, "rp_extractor_forward: input holds %zu floats, batch 2 needs", s.n_in);
    ck_assert_msg(strstr(rp_last_error_message(), want), "%s", rp_last_error_message());
    ck_assert_int_eq(rp_extractor_forward(s.e, x, 2 * s.n_in, 1, NULL, 0, o3, 2 * s.n3), RP_E_SHAPE);
    ck_assert_int_eq(rp_extractor_forward(s.e, x, 0, 0, NULL, 0, o3, 2 * s.n3), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_extractor_forward(s.e, NULL, s.n_in, 1, NULL, 0, o3, 2 * s.n3), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_extractor_forward(s.e, x, s.n_in, 1, NULL, 0, NULL, 0), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_extractor_forward(NULL, x, s.n_in, 1, NULL, 0, o3, s.n3), RP_E_INVALID_ARG);
    float probs[1000];
    ck_assert_int_eq(rp_extractor_classify(s.e, x, s.n_in, 1, probs, 1000), RP_E_STATE);
    ck_assert_int_eq(rp_extractor_classify(s.e, x, s.n_in - 1, 1, probs, 1000), RP_E_SHAPE);
    ck_assert_int_eq(rp_extractor_preprocess(s.e, NULL, x, s.n_in), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_extractor_get_info(s.e, NULL, 0), RP_E_INVALID_ARG);
    rp_extractor_free(NULL); /* no-op */
    free(x), free(o3);
    small_net_free(&s);
}
END_TEST

/* One failure contract: a refused call leaves every output as the caller left it (the
 * extractor used to zero them). */
START_TEST(forward__failure_leaves_outputs_untouched)
{
    small_net s = small_net_make();
    float *x = calloc(2 * s.n_in, sizeof(float)), *o2 = malloc(2 * s.n2 * sizeof(float));
    float *o3 = malloc(2 * s.n3 * sizeof(float));
    for (size_t i = 0; i < 2 * s.n2; i++) o2[i] = 5.0f;
    for (size_t i = 0; i < 2 * s.n3; i++) o3[i] = 5.0f;
    ck_assert_int_eq(rp_extractor_forward(s.e, x, 2 * s.n_in, 2, o2, 2 * s.n2, o3, 2 * s.n3 - 1), RP_E_SHAPE);
    ck_assert_int_eq(rp_extractor_forward(s.e, x, 2 * s.n_in - 1, 2, o2, 2 * s.n2, o3, 2 * s.n3), RP_E_SHAPE);
    for (size_t i = 0; i < 2 * s.n2; i++) ck_assert_float_eq(o2[i], 5.0f);
    for (size_t i = 0; i < 2 * s.n3; i++) ck_assert_float_eq(o3[i], 5.0f);
    for (size_t i = 0; i < s.n_in; i++) x[i] = 3.0f;
    ck_assert_int_eq(rp_extractor_preprocess(s.e, NULL, x, s.n_in), RP_E_INVALID_ARG);
    for (size_t i = 0; i < s.n_in; i++) ck_assert_float_eq(x[i], 3.0f);
    free(x), free(o2), free(o3);
    small_net_free(&s);
}
END_TEST

/* keep_aspect reaches the preprocessing: the extractor's input is rp__image_preprocess's with
 * keep_aspect (checked against torchvision in tests/unit/image), different from the default
 * frame on a non-square image, and a too elongated image fails before anything is computed. */
START_TEST(preprocess__keep_aspect_extractor_uses_the_aspect_keeping_frame)
{
    rp__weights *w = random_weights(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 8, 3);
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.resize = 72, p.crop = 64, p.keep_aspect = 1, p.num_threads = 1;
    rp_extractor *e = NULL;
    ck_assert_msg(rp__extractor_create_from_weights(&p, w, 0, &e) == RP_OK, "%s", rp_last_error_message());
    enum { W = 97, H = 61, N = 3 * 64 * 64 };
    static uint8_t px[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) px[i] = (uint8_t)(i * 37 + i / 97);
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(px, W, H, 0, RP_PIXEL_RGB8, &img), RP_OK);
    static float got[N], want[N], square[N];
    ck_assert_int_eq(rp_extractor_preprocess(e, img, got, N), RP_OK);
    ck_assert_int_eq(rp__image_preprocess(img, 72, 64, 0, 1, RP_NORM_CAFFE, want), RP_OK);
    ck_assert_int_eq(rp__image_preprocess(img, 72, 64, 0, 0, RP_NORM_CAFFE, square), RP_OK);
    ck_assert(memcmp(got, want, sizeof got) == 0);
    ck_assert(memcmp(got, square, sizeof got) != 0);
    rp_image_free(img);
    /* 1 x 300: the longer side would become 72 * 300 = 21600 > 16384 */
    ck_assert_int_eq(rp_image_from_pixels(px, 1, 300, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    for (int i = 0; i < N; i++) got[i] = -7.0f;
    ck_assert_int_eq(rp_extractor_preprocess(e, img, got, N), RP_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_extractor_preprocess: keep_aspect resizes the 1 x 300"));
    ck_assert_float_eq(got[0], -7.0f); /* untouched, as every failed call leaves its outputs */
    rp_extractor_info info;
    ck_assert_int_eq(rp_extractor_get_info(e, &info, sizeof info), RP_OK);
    size_t nf = (size_t)info.grid_size * info.grid_size * info.feature_dim;
    float *feats = malloc(nf * sizeof *feats);
    const rp_image *v[1] = {img};
    ck_assert_int_eq(rp_extractor_patch_features(e, v, 1, feats, nf), RP_E_LIMIT);
    free(feats);
    rp_image_free(img);
    rp_extractor_free(e);
    rp__weights_free(w);
}
END_TEST

/* patch_features = preprocess + forward + aggregate per image, over more images than one batch. */
START_TEST(patch_features__ten_images_match_one_by_one)
{
    small_net s = small_net_make();
    enum { N = 10 };
    rp_image *img[N];
    uint8_t px[40 * 30 * 3];
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < sizeof px; k++) px[k] = (uint8_t)((k * 31 + (size_t)i * 57) % 251);
        ck_assert_int_eq(rp_image_from_pixels(px, 40, 30, 0, RP_PIXEL_RGB8, &img[i]), RP_OK);
    }
    rp_extractor_info info;
    rp_extractor_get_info(s.e, &info, sizeof info);
    size_t per = (size_t)info.grid_size * info.grid_size * info.feature_dim;
    float *all = malloc(N * per * sizeof(float)), *one = malloc(per * sizeof(float));
    ck_assert_msg(rp_extractor_patch_features(s.e, (const rp_image *const *)img, N, all, N * per) == RP_OK, "%s",
                  rp_last_error_message());
    for (int i = 0; i < N; i += 3) {
        ck_assert_int_eq(rp_extractor_patch_features(s.e, (const rp_image *const *)&img[i], 1, one, per), RP_OK);
        double max_ref = 0, max_err = 0;
        for (size_t k = 0; k < per; k++) {
            max_ref = fmax(max_ref, fabs(one[k]));
            max_err = fmax(max_err, fabs(one[k] - all[i * per + k]));
        }
        ck_assert_msg(max_ref > 0 && max_err <= 1e-5 * max_ref, "image %d: %g vs max %g", i, max_err, max_ref);
    }
    ck_assert_int_eq(rp_extractor_patch_features(s.e, (const rp_image *const *)img, N, all, N * per - 1),
                     RP_E_SHAPE);
    for (int i = 0; i < N; i++) rp_image_free(img[i]);
    free(all), free(one);
    small_net_free(&s);
}
END_TEST

int main(void)
{
    /* No fork per test: libgomp's thread pool does not survive fork() once OpenMP has run. */
    setenv("CK_FORK", "no", 1);
    Suite *s = suite_create("backbone");
    TCase *tc = tcase_create("backbone");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, forward__small_resnet50_torchvision_layout_matches_torch);
    tcase_add_test(tc, forward__small_resnet50_keras_layout_matches_torch);
    tcase_add_test(tc, forward__small_wide_resnet50_2_matches_torch);
    tcase_add_test(tc, forward__full_resnet50_matches_torch_at_2000_positions);
    tcase_add_test(tc, forward__full_wide_resnet50_2_matches_torch_at_2000_positions);
    tcase_add_test(tc, forward__batch_of_3_matches_images_one_by_one);
    tcase_add_test(tc, plans__batch_1_and_8_use_no_reference_kernels);
    tcase_add_test(tc, bf16__layer3_within_2e_2_relative_l2_of_fp32);
    tcase_add_test(tc, bf16__refused_with_unsupported_when_the_cpu_lacks_native_bf16);
    tcase_add_test(tc, bf16_rounding__stores_bf16_values_in_the_chosen_units_only);
    tcase_add_test(tc, auto_precision__is_bf16_exactly_where_the_cpu_runs_it_natively);
    tcase_add_test(tc, create__rejects_bad_params_with_clear_codes);
    tcase_add_test(tc, forward__rejects_wrong_sizes_and_wrong_state);
    tcase_add_test(tc, forward__failure_leaves_outputs_untouched);
    tcase_add_test(tc, patch_features__ten_images_match_one_by_one);
    tcase_add_test(tc, preprocess__keep_aspect_extractor_uses_the_aspect_keeping_frame);
    suite_add_tcase(s, tc);
    /* Threads at once on one object: the case make check-tsan runs (CK_RUN_CASE=concurrency). */
    TCase *conc = tcase_create("concurrency");
    tcase_set_timeout(conc, 0);
    tcase_add_test(conc, forward__four_threads_at_once_are_bit_identical_to_serial);
    tcase_add_test(conc, forward__new_batch_size_from_four_threads_is_built_once_and_agrees);
    suite_add_tcase(s, conc);
    return rp_test_run(s);
}
