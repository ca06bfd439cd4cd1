/* The trainer through the public API only: parameter validation, feature intake, determinism,
 * cancellation, progress reports and the early-stopping rule as seen in the loss history. */
#include <math.h>
#include <reconpatch/reconpatch.h>
#include <stddef.h>
#include <stdint.h>

#include "golden_text.h"
#include "rp_test.h"

/* The params layout is ABI: fields are only ever appended (ctypes bindings mirror it). */
_Static_assert(offsetof(rp_trainer_params, num_threads) == 52, "rp_trainer_params layout changed");
_Static_assert(offsetof(rp_trainer_params, seed) == 56, "rp_trainer_params layout changed");
_Static_assert(offsetof(rp_trainer_params, lr) == 72, "rp_trainer_params layout changed");
_Static_assert(offsetof(rp_trainer_params, val_fraction) == 128, "rp_trainer_params layout changed");
_Static_assert(offsetof(rp_trainer_params, sampler) == 136, "rp_trainer_params layout changed");
_Static_assert(sizeof(rp_trainer_params) == 152, "rp_trainer_params layout changed");

#define IMAGES 8
#define PATCHES 64
#define DIM 32

/* Patches of a few recurring "textures" (cluster centres) plus noise, from a fixed LCG so the test
 * data needs no file. */
static float *make_features(void)
{
    static float centres[4][DIM];
    float *f = malloc(sizeof(float) * IMAGES * PATCHES * DIM);
    ck_assert_ptr_nonnull(f);
    uint64_t s = 12345;
#define NEXT() ((s = s * 6364136223846793005ull + 1442695040888963407ull), (double)(s >> 11) * 0x1.0p-53 - 0.5)
    for (int c = 0; c < 4; c++)
        for (int d = 0; d < DIM; d++) centres[c][d] = (float)(4.0 * NEXT());
    for (int i = 0; i < IMAGES * PATCHES; i++) {
        int c = (int)((NEXT() + 0.5) * 4) & 3;
        for (int d = 0; d < DIM; d++) f[(size_t)i * DIM + d] = centres[c][d] + (float)NEXT();
    }
#undef NEXT
    return f;
}

static void small_params(rp_trainer_params *p)
{
    ck_assert_int_eq(rp_trainer_params_init(p, sizeof *p), RP_OK);
    p->repr_dim = 16;
    p->proj_dim = 8;
    p->batch_size = 48;
    p->k = 5;
    p->epochs = 6;
    p->steps_per_epoch = 5;
    p->val_fraction = 0.25;
    p->val_batches = 2;
    p->num_threads = 1;
}

static rp_trainer *filled_trainer(const rp_trainer_params *p)
{
    rp_trainer *t = NULL;
    ck_assert_int_eq(rp_trainer_create(p, &t), RP_OK);
    float *f = make_features();
    for (int i = 0; i < IMAGES; i++)
        ck_assert_int_eq(rp_trainer_add_image_features(t, f + (size_t)i * PATCHES * DIM, PATCHES, DIM), RP_OK);
    free(f);
    return t;
}

/* f's weights and biases after training. */
static float *trained_f(rp_trainer *t, uint32_t repr)
{
    rp_embedding *e = NULL;
    ck_assert_int_eq(rp_trainer_get_embedding(t, &e), RP_OK);
    ck_assert_uint_eq(rp_embedding_in_dim(e), DIM);
    ck_assert_uint_eq(rp_embedding_out_dim(e), repr);
    float *w = malloc(sizeof(float) * (DIM + 1) * repr);
    ck_assert_int_eq(rp_embedding_get(e, w, (size_t)DIM * repr, w + (size_t)DIM * repr, repr), RP_OK);
    rp_embedding_free(e);
    return w;
}

START_TEST(params__defaults_fill_struct_size)
{
    rp_trainer_params p;
    memset(&p, 0xff, sizeof p);
    ck_assert_int_eq(rp_trainer_params_init(&p, sizeof p), RP_OK);
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert_uint_eq(p.batch_size, 0);
    ck_assert(p.lr == 0.0);
    rp_trainer *t = NULL;
    ck_assert_int_eq(rp_trainer_create(NULL, &t), RP_OK); /* NULL params: all defaults */
    ck_assert_uint_eq(rp_trainer_image_count(t), 0);
    rp_trainer_free(t);
    rp_trainer_free(NULL);
}
END_TEST

/* f trained on the test features with the small params and the given EMA momentum. */
static float *f_with_momentum(double momentum)
{
    rp_trainer_params p;
    small_params(&p);
    p.ema_momentum = momentum;
    rp_trainer *t = filled_trainer(&p);
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_OK);
    float *f = trained_f(t, p.repr_dim);
    rp_trainer_free(t);
    return f;
}

START_TEST(params__default_ema_momentum_is_the_documented_0_995)
{
    /* The default is not visible in the struct (0 = default), so compare what it trains. */
    const size_t n = (size_t)(DIM + 1) * 16;
    float *by_default = f_with_momentum(0.0), *explicit_value = f_with_momentum(0.995), *old = f_with_momentum(0.9);
    ck_assert_msg(memcmp(by_default, explicit_value, n * sizeof(float)) == 0, "default != ema_momentum 0.995");
    ck_assert_msg(memcmp(by_default, old, n * sizeof(float)) != 0, "ema_momentum made no difference");
    free(by_default);
    free(explicit_value);
    free(old);
}
END_TEST

/* Case i of the bad-params table: sets one bad field and returns its name (NULL past the end). */
static const char *set_bad_field(rp_trainer_params *p, int i)
{
    switch (i) {
    case 0: p->batch_size = 1; return "batch_size";
    case 1: p->k = 1; return "k";
    case 2: p->k = 9, p->batch_size = 8; return "k";
    case 3: p->lr = -1e-3; return "lr";
    case 4: p->lr = NAN; return "lr";
    case 5: p->lr = 1e-3, p->lr_min = 1e-2; return "lr_min";
    case 6: p->sigma = -1; return "sigma";
    case 7: p->alpha = 1.5; return "alpha";
    case 8: p->margin = -0.5; return "margin";
    case 9: p->ema_momentum = 1.5; return "ema_momentum";
    case 10: p->val_fraction = 1.0; return "val_fraction";
    case 11: p->repr_dim = 1u << 20; return "repr_dim";
    case 12: p->proj_dim = 1u << 20; return "proj_dim";
    case 13: p->weight_decay = INFINITY; return "weight_decay";
    case 14: p->num_threads = 100000; return "num_threads";
    case 15: p->sampler = 3; return "sampler";
    case 16: p->sampler_window = 5000; return "sampler_window";
    case 17: p->target_centering = 3; return "target_centering";
    default: return NULL;
    }
}

/* One bad field at a time: RP_E_INVALID_ARG, *out NULL, and a message naming the field. */
START_TEST(create__rejects_bad_params_naming_the_field)
{
    for (int i = 0;; i++) {
        rp_trainer_params p;
        rp_trainer_params_init(&p, sizeof p);
        const char *field = set_bad_field(&p, i);
        if (!field) break;
        rp_trainer *t = (rp_trainer *)0x1;
        ck_assert_int_eq(rp_trainer_create(&p, &t), RP_E_INVALID_ARG);
        ck_assert_ptr_null(t);
        char want[64];
        snprintf(want, sizeof want, "params.%s ", field);
        ck_assert_msg(strstr(rp_last_error_message(), want) != NULL, "case %d: message \"%s\" lacks \"%s\"", i,
                      rp_last_error_message(), want);
    }
    ck_assert_int_eq(rp_trainer_create(NULL, NULL), RP_E_INVALID_ARG);
    /* A set reserved field is a newer caller's field: RP_E_VERSION, as for every params struct. */
    rp_trainer_params p;
    rp_trainer_params_init(&p, sizeof p);
    p.reserved0 = 1;
    rp_trainer *t = (rp_trainer *)0x1;
    ck_assert_int_eq(rp_trainer_create(&p, &t), RP_E_VERSION);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "params.reserved0"));
}
END_TEST

/* PCA against numpy (tools/gen_trainer_goldens.py): the contiguous fit and the trainer's fit over
 * the same rows split into images agree with it, and bad arguments are refused. */
START_TEST(pca__matches_numpy_contiguous_and_per_image)
{
    golden_file *g = golden_load("pca.txt");
    uint32_t count = (uint32_t)golden_scalar(g, "count"), dim = (uint32_t)golden_scalar(g, "dim"),
             out_dim = (uint32_t)golden_scalar(g, "out_dim");
    const double *x = golden_get(g, "x", (size_t)count * dim);
    const double *want_w = golden_get(g, "weight", (size_t)out_dim * dim), *want_b = golden_get(g, "bias", out_dim);
    float *xf = malloc(sizeof(float) * count * dim), *w = malloc(sizeof(float) * out_dim * (dim + 1));
    for (size_t i = 0; i < (size_t)count * dim; i++) xf[i] = (float)x[i];
    rp_trainer_params p;
    rp_trainer_params_init(&p, sizeof p);
    p.repr_dim = out_dim;
    rp_trainer *t = NULL;
    ck_assert_int_eq(rp_trainer_create(&p, &t), RP_OK);
    for (uint32_t r = 0; r < count; r += 50) /* 6 "images" of 50 rows */
        ck_assert_int_eq(rp_trainer_add_image_features(t, xf + (size_t)r * dim, 50, dim), RP_OK);
    for (int via_trainer = 0; via_trainer < 2; via_trainer++) {
        rp_embedding *e = NULL;
        if (via_trainer) ck_assert_int_eq(rp_trainer_fit_pca(t, 0, &e), RP_OK);
        else ck_assert_int_eq(rp_embedding_fit_pca(xf, count, dim, out_dim, &e), RP_OK);
        ck_assert_uint_eq(rp_embedding_in_dim(e), dim);
        ck_assert_uint_eq(rp_embedding_out_dim(e), out_dim);
        ck_assert_int_eq(rp_embedding_get(e, w, (size_t)out_dim * dim, w + (size_t)out_dim * dim, out_dim), RP_OK);
        for (size_t i = 0; i < (size_t)out_dim * dim; i++)
            ck_assert_msg(fabs(w[i] - want_w[i]) < 1e-6, "weight %zu: %g != %g", i, w[i], want_w[i]);
        for (uint32_t i = 0; i < out_dim; i++)
            ck_assert_msg(fabs(w[(size_t)out_dim * dim + i] - want_b[i]) < 1e-5 * (1 + fabs(want_b[i])),
                          "bias %u: %g != %g", i, w[(size_t)out_dim * dim + i], want_b[i]);
        rp_embedding_free(e);
    }
    rp_embedding *e = (rp_embedding *)0x1;
    ck_assert_int_eq(rp_embedding_fit_pca(xf, count, dim, dim + 1, &e), RP_E_INVALID_ARG);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "out_dim"));
    ck_assert_int_eq(rp_embedding_fit_pca(xf, 1, dim, 2, &e), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_embedding_fit_pca(NULL, count, dim, 2, &e), RP_E_INVALID_ARG);
    rp_trainer_free(t);
    ck_assert_int_eq(rp_trainer_create(&p, &t), RP_OK);
    ck_assert_int_eq(rp_trainer_fit_pca(t, 0, &e), RP_E_STATE);
    rp_trainer_free(t);
    free(xf);
    free(w);
    golden_free(g);
}
END_TEST

/* The aligned sampler trains (on a square 8 x 8 grid per image) and differs from uniform sampling;
 * a grid that is not square is refused with RP_E_STATE. */
START_TEST(train__aligned_sampler_trains_and_needs_square_grids)
{
    rp_trainer_params p;
    small_params(&p);
    p.sampler = RP_SAMPLER_ALIGNED;
    p.sampler_window = 2;
    rp_trainer *t = filled_trainer(&p);
    ck_assert_msg(rp_trainer_train(t, NULL, NULL) == RP_OK, "%s", rp_last_error_message());
    float *aligned = trained_f(t, 16);
    rp_trainer_free(t);
    small_params(&p);
    t = filled_trainer(&p);
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_OK);
    float *uniform = trained_f(t, 16);
    rp_trainer_free(t);
    ck_assert(memcmp(aligned, uniform, sizeof(float) * (DIM + 1) * 16) != 0);
    free(aligned);
    free(uniform);

    small_params(&p);
    p.sampler = RP_SAMPLER_ALIGNED;
    ck_assert_int_eq(rp_trainer_create(&p, &t), RP_OK);
    float *f = make_features();
    for (int i = 0; i < IMAGES; i++)
        ck_assert_int_eq(rp_trainer_add_image_features(t, f + (size_t)i * PATCHES * DIM, PATCHES - 1, DIM), RP_OK);
    free(f);
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_E_STATE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "square grid"));
    rp_trainer_free(t);
}
END_TEST

START_TEST(add__rejects_null_empty_and_dim_mismatch)
{
    rp_trainer *t = NULL;
    ck_assert_int_eq(rp_trainer_create(NULL, &t), RP_OK);
    float f[8] = {0};
    ck_assert_int_eq(rp_trainer_add_image_features(NULL, f, 2, 4), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_trainer_add_image_features(t, NULL, 2, 4), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_trainer_add_image_features(t, f, 0, 4), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_trainer_add_image_features(t, f, 2, 4), RP_OK);
    ck_assert_int_eq(rp_trainer_add_image_features(t, f, 4, 2), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "dim 2 != trainer in_dim 4"));
    ck_assert_uint_eq(rp_trainer_image_count(t), 1);
    ck_assert_uint_eq(rp_trainer_patch_count(t), 2);
    rp_trainer_free(t);
}
END_TEST

START_TEST(train__needs_features_two_images_and_a_batch)
{
    rp_trainer_params p;
    small_params(&p);
    rp_trainer *t = NULL;
    ck_assert_int_eq(rp_trainer_create(&p, &t), RP_OK);
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_E_STATE); /* no features */
    float *f = make_features();
    ck_assert_int_eq(rp_trainer_add_image_features(t, f, PATCHES, DIM), RP_OK);
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_E_STATE); /* one image, validation by image */
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "at least 2 images"));
    rp_embedding *e = (rp_embedding *)0x1;
    ck_assert_int_eq(rp_trainer_get_embedding(t, &e), RP_E_STATE);
    ck_assert_ptr_null(e);
    rp_trainer_free(t);
    /* Without validation one image is enough; k larger than the patches available is not. */
    p.val_fraction = -1;
    p.k = 5;
    ck_assert_int_eq(rp_trainer_create(&p, &t), RP_OK);
    ck_assert_int_eq(rp_trainer_add_image_features(t, f, 4, DIM), RP_OK);
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_E_STATE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "fewer than k"));
    rp_trainer_free(t);
    free(f);
}
END_TEST

START_TEST(train__same_seed_gives_identical_embedding)
{
    rp_trainer_params p;
    small_params(&p);
    rp_trainer *a = filled_trainer(&p), *b = filled_trainer(&p);
    ck_assert_int_eq(rp_trainer_train(a, NULL, NULL), RP_OK);
    ck_assert_int_eq(rp_trainer_train(b, NULL, NULL), RP_OK);
    float *fa = trained_f(a, p.repr_dim), *fb = trained_f(b, p.repr_dim);
    ck_assert_int_eq(memcmp(fa, fb, sizeof(float) * (DIM + 1) * p.repr_dim), 0);
    /* Another seed gives another embedding. */
    p.seed = 99;
    rp_trainer *c = filled_trainer(&p);
    ck_assert_int_eq(rp_trainer_train(c, NULL, NULL), RP_OK);
    float *fc = trained_f(c, p.repr_dim);
    ck_assert_int_ne(memcmp(fa, fc, sizeof(float) * (DIM + 1) * p.repr_dim), 0);
    free(fa);
    free(fb);
    free(fc);
    rp_trainer_free(a);
    rp_trainer_free(b);
    rp_trainer_free(c);
}
END_TEST

typedef struct progress_log {
    int calls, cancel_at;
    int64_t last_done, total;
    int bad_stage, saw_nan_val, saw_finite_val, loss_not_finite;
} progress_log;

static int on_progress(const rp_progress *pr, void *user)
{
    progress_log *log = user;
    log->calls++;
    if (pr->stage != RP_STAGE_TRAIN || pr->struct_size != sizeof *pr) log->bad_stage = 1;
    if (pr->done != log->last_done + 1) log->bad_stage = 1; /* done counts steps, one per call */
    log->last_done = pr->done;
    log->total = pr->total;
    if (isnan(pr->val_loss)) log->saw_nan_val = 1;
    else log->saw_finite_val = 1;
    if (!isfinite(pr->loss)) log->loss_not_finite = 1;
    return log->cancel_at && log->calls == log->cancel_at;
}

START_TEST(train__cancel_from_callback_leaves_trainer_reusable)
{
    rp_trainer_params p;
    small_params(&p);
    rp_trainer *t = filled_trainer(&p);
    progress_log log = {0};
    log.cancel_at = 7;
    ck_assert_int_eq(rp_trainer_train(t, on_progress, &log), RP_E_CANCELLED);
    ck_assert_int_eq(log.calls, 7); /* not called again after cancelling */
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "cancelled"));
    rp_embedding *e = (rp_embedding *)0x1;
    ck_assert_int_eq(rp_trainer_get_embedding(t, &e), RP_E_STATE);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(rp_trainer_patch_count(t), (uint64_t)IMAGES * PATCHES); /* features kept */
    /* Training again starts over and matches a trainer that was never cancelled. */
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_OK);
    rp_trainer *fresh = filled_trainer(&p);
    ck_assert_int_eq(rp_trainer_train(fresh, NULL, NULL), RP_OK);
    float *ft = trained_f(t, p.repr_dim), *ff = trained_f(fresh, p.repr_dim);
    ck_assert_int_eq(memcmp(ft, ff, sizeof(float) * (DIM + 1) * p.repr_dim), 0);
    free(ft);
    free(ff);
    rp_trainer_free(t);
    rp_trainer_free(fresh);
}
END_TEST

START_TEST(train__reports_every_step_and_lowers_the_loss)
{
    rp_trainer_params p;
    small_params(&p);
    p.epochs = 12;
    p.patience = 100; /* run every epoch */
    rp_trainer *t = filled_trainer(&p);
    progress_log log = {0};
    ck_assert_int_eq(rp_trainer_train(t, on_progress, &log), RP_OK);
    ck_assert_int_eq(log.calls, 12 * 5);
    ck_assert_int_eq(log.total, 12 * 5);
    ck_assert(!log.bad_stage && !log.loss_not_finite);
    ck_assert(log.saw_nan_val && log.saw_finite_val); /* NaN until the first validation */
    double train[12], val[12];
    uint32_t epochs;
    int32_t best;
    ck_assert_int_eq(rp_trainer_get_history(t, train, val, 12, &epochs, &best), RP_OK);
    ck_assert_uint_eq(epochs, 12);
    /* The exported f is the one of the epoch with the lowest validation loss. */
    int32_t argmin = 0;
    for (int i = 1; i < 12; i++)
        if (val[i] < val[argmin]) argmin = i;
    ck_assert_int_eq(best, argmin);
    /* Training lowers the relaxed contrastive loss on these clustered patches. */
    ck_assert_msg(train[11] < train[0], "train loss %g -> %g", train[0], train[11]);
    /* and the validation loss: a later epoch validates better than the first, so the exported f
     * is a trained one, not the first epoch's (val[best] <= val[0] holds by definition of best). */
    ck_assert_msg(best > 0, "best epoch %d: validation never improved on epoch 0 (%g)", best, val[0]);
    ck_assert_msg(val[best] < val[0], "val loss %g -> %g", val[0], val[best]);
    ck_assert_msg(val[11] < val[0], "last epoch's val loss %g is not below the first's %g", val[11], val[0]);
    rp_trainer_free(t);
}
END_TEST

/* Early stopping as seen in the history: training ends exactly `patience` epochs after the best
 * validation loss, unless the epochs ran out first. */
START_TEST(train__early_stopping_follows_patience)
{
    rp_trainer_params p;
    small_params(&p);
    p.epochs = 40;
    p.patience = 2;
    p.lr = 3e-2; /* large steps: the validation loss stops improving early */
    rp_trainer *t = filled_trainer(&p);
    ck_assert_int_eq(rp_trainer_train(t, NULL, NULL), RP_OK);
    double val[40];
    uint32_t epochs;
    int32_t best;
    ck_assert_int_eq(rp_trainer_get_history(t, NULL, val, 40, &epochs, &best), RP_OK);
    ck_assert(best >= 0 && (uint32_t)best < epochs);
    for (uint32_t e = 0; e < epochs; e++) ck_assert(val[e] >= val[best]);
    if (epochs < 40) ck_assert_uint_eq(epochs, (uint32_t)best + 1 + p.patience);
    else ck_assert_uint_ge((uint32_t)best + p.patience, epochs - 1);
    rp_trainer_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trainer_api");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, params__defaults_fill_struct_size);
    tcase_add_test(tc, params__default_ema_momentum_is_the_documented_0_995);
    tcase_add_test(tc, create__rejects_bad_params_naming_the_field);
    tcase_add_test(tc, add__rejects_null_empty_and_dim_mismatch);
    tcase_add_test(tc, train__needs_features_two_images_and_a_batch);
    tcase_add_test(tc, train__same_seed_gives_identical_embedding);
    tcase_add_test(tc, train__cancel_from_callback_leaves_trainer_reusable);
    tcase_add_test(tc, train__reports_every_step_and_lowers_the_loss);
    tcase_add_test(tc, train__early_stopping_follows_patience);
    tcase_add_test(tc, pca__matches_numpy_contiguous_and_per_image);
    tcase_add_test(tc, train__aligned_sampler_trains_and_needs_square_grids);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
