/* The trainer's numerics against PyTorch (tools/gen_trainer_goldens.py): heads, pseudo-labels
 * (pairwise, contextual before/after query expansion, mixed; neighbour ties), the relaxed contrastive
 * loss and its gradients, AdamW, the EMA update and the cosine schedule; plus finite differences. */
#include <math.h>
#include <stdint.h>

#include "golden_text.h"
#include "rp_test.h"
#include "trainer/trainer_features.h"
#include "trainer/trainer_internal.h"

/* A heads case from linear.txt / mlp.txt, converted to the C types. */
typedef struct heads_case {
    golden_file *g;
    rp__trainer_shape shape;
    rp__trainer_layout layout;
    uint32_t n;
    float *x, *online, *target;
    rp__trainer_label_cfg labels;
    double margin;
} heads_case;

static float *to_float(const double *v, size_t n)
{
    float *f = malloc(n * sizeof(float));
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    return f;
}

static heads_case load_case(const char *file)
{
    heads_case c;
    memset(&c, 0, sizeof c);
    c.g = golden_load(file);
    golden_array dims = {0};
    for (size_t i = 0; i < c.g->n; i++)
        if (!strcmp(c.g->a[i].name, "dims")) dims = c.g->a[i];
    ck_assert(dims.count == 3 || dims.count == 4);
    c.shape.in_dim = (uint32_t)dims.v[0];
    c.shape.repr_dim = (uint32_t)dims.v[1];
    c.shape.hidden_dim = dims.count == 4 ? (uint32_t)dims.v[2] : 0;
    c.shape.proj_dim = (uint32_t)dims.v[dims.count - 1];
    rp__trainer_layout_of(&c.shape, &c.layout);
    c.n = (uint32_t)golden_scalar(c.g, "n");
    c.x = to_float(golden_get(c.g, "x", (size_t)c.n * c.shape.in_dim), (size_t)c.n * c.shape.in_dim);
    c.online = to_float(golden_get(c.g, "online", c.layout.total), c.layout.total);
    c.target = to_float(golden_get(c.g, "target", c.layout.total), c.layout.total);
    c.labels.sigma = golden_scalar(c.g, "sigma");
    c.labels.k = (uint32_t)golden_scalar(c.g, "k");
    c.labels.alpha = golden_scalar(c.g, "alpha");
    c.labels.normalize = 1;
    c.margin = golden_scalar(c.g, "margin");
    return c;
}

static void free_case(heads_case *c)
{
    golden_free(c->g);
    free(c->x);
    free(c->online);
    free(c->target);
}

static rp__trainer_acts alloc_acts(const rp__trainer_shape *s, uint32_t n)
{
    rp__trainer_acts a = {malloc((size_t)n * s->repr_dim * sizeof(float)),
                          malloc((size_t)n * (s->hidden_dim ? s->hidden_dim : 1) * sizeof(float)),
                          malloc((size_t)n * s->proj_dim * sizeof(float))};
    ck_assert(a.h && a.a && a.z);
    return a;
}

static void free_acts(rp__trainer_acts *a)
{
    free(a->h);
    free(a->a);
    free(a->z);
}

/* The whole C path from patches to loss and parameter gradients, as one training step runs it. */
static void c_loss_and_grad(const heads_case *c, double *loss, float *grad)
{
    const rp__trainer_shape *s = &c->shape;
    uint32_t n = c->n, p = s->proj_dim;
    rp__trainer_acts on = alloc_acts(s, n), tg = alloc_acts(s, n);
    double *w = malloc((size_t)n * n * sizeof(double)), *zd = malloc((size_t)n * p * sizeof(double));
    double *dzd = malloc((size_t)n * p * sizeof(double));
    float *dz = malloc((size_t)n * p * sizeof(float));
    float *scratch = malloc((size_t)n * (s->repr_dim + s->hidden_dim) * sizeof(float));
    ck_assert(w && zd && dzd && dz && scratch);
    rp__trainer_forward(s, c->target, c->x, n, &tg);
    ck_assert_int_eq(rp__trainer_pseudo_labels(tg.z, n, p, &c->labels, w, NULL), RP_OK);
    rp__trainer_forward(s, c->online, c->x, n, &on);
    for (size_t i = 0; i < (size_t)n * p; i++) zd[i] = on.z[i];
    ck_assert_int_eq(rp__trainer_loss(zd, n, p, w, c->margin, loss, dzd, NULL), RP_OK);
    for (size_t i = 0; i < (size_t)n * p; i++) dz[i] = (float)dzd[i];
    rp__trainer_backward(s, c->online, c->x, n, &on, dz, grad, scratch);
    free_acts(&on);
    free_acts(&tg);
    free(w);
    free(zd);
    free(dzd);
    free(dz);
    free(scratch);
}

static double max_abs(const double *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* got within rel * max(|want|, scale) elementwise. */
static void assert_close_scaled(const char *what, const float *got, const double *want, size_t n, double rel,
                                double scale)
{
    for (size_t i = 0; i < n; i++) {
        double tol = rel * fmax(fabs(want[i]), scale);
        ck_assert_msg(fabs(got[i] - want[i]) <= tol, "%s[%zu]: got %.10g, want %.10g (tol %.3g)", what, i, got[i],
                      want[i], tol);
    }
}

static void check_heads_case(const char *file)
{
    heads_case c = load_case(file);
    float *grad = malloc(c.layout.total * sizeof(float));
    double loss;
    c_loss_and_grad(&c, &loss, grad);
    double want = golden_scalar(c.g, "loss");
    ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want), "%s loss %.10g, torch %.10g", file, loss, want);
    const double *gw = golden_get(c.g, "grad", c.layout.total);
    const rp__trainer_layout *l = &c.layout;
    /* Each weight tensor on its own, so the tolerance floor follows that tensor's scale. Bias
     * gradients are judged against their layer's weight gradient: the loss sees only differences
     * z_i - z_j, so the biases feeding z linearly have a true gradient of exactly 0 and both sides
     * hold rounding noise there. */
    double s_f = max_abs(gw + l->w_f, l->b_f - l->w_f), s_g1 = max_abs(gw + l->w_g1, l->b_g1 - l->w_g1);
    assert_close_f("grad W_f", grad + l->w_f, gw + l->w_f, l->b_f - l->w_f, 1e-5, 1e-1);
    assert_close_scaled("grad b_f", grad + l->b_f, gw + l->b_f, l->w_g1 - l->b_f, 1e-5, 0.1 * s_f);
    assert_close_f("grad W_g1", grad + l->w_g1, gw + l->w_g1, l->b_g1 - l->w_g1, 1e-5, 1e-1);
    assert_close_scaled("grad b_g1", grad + l->b_g1, gw + l->b_g1, l->w_g2 - l->b_g1, 1e-5, 0.1 * s_g1);
    if (c.shape.hidden_dim) {
        double s_g2 = max_abs(gw + l->w_g2, l->b_g2 - l->w_g2);
        assert_close_f("grad W_g2", grad + l->w_g2, gw + l->w_g2, l->b_g2 - l->w_g2, 1e-5, 1e-1);
        assert_close_scaled("grad b_g2", grad + l->b_g2, gw + l->b_g2, l->total - l->b_g2, 1e-5, 0.1 * s_g2);
    }
    free(grad);
    free_case(&c);
}

START_TEST(loss__value_and_gradients_match_torch_linear_g)
{
    check_heads_case("linear.txt");
}
END_TEST

START_TEST(loss__value_and_gradients_match_torch_mlp_g)
{
    check_heads_case("mlp.txt");
}
END_TEST

START_TEST(forward__target_outputs_match_torch)
{
    heads_case c = load_case("linear.txt");
    rp__trainer_acts tg = alloc_acts(&c.shape, c.n);
    rp__trainer_forward(&c.shape, c.target, c.x, c.n, &tg);
    assert_close_f("zt", tg.z, golden_get(c.g, "zt", (size_t)c.n * c.shape.proj_dim), (size_t)c.n * c.shape.proj_dim,
                   1e-5, 1e-1);
    free_acts(&tg);
    free_case(&c);
}
END_TEST

/* Every pseudo-label matrix of a golden file, recomputed from its z (double) by the C functions. */
static void check_similarities(const golden_file *g, const double *z_in, uint32_t n, uint32_t dim)
{
    uint32_t k = (uint32_t)golden_scalar(g, "k");
    size_t nn = (size_t)n * n;
    double *z = malloc((size_t)n * dim * sizeof(double)), *d2 = malloc(nn * sizeof(double));
    double *wp = malloc(nn * sizeof(double)), *c_raw = malloc(nn * sizeof(double));
    double *c_qe = malloc(nn * sizeof(double)), *wc = malloc(nn * sizeof(double));
    uint32_t *nbr = malloc((size_t)n * k * sizeof(uint32_t));
    memcpy(z, z_in, (size_t)n * dim * sizeof(double));
    rp__trainer_l2_normalize(z, n, dim);
    ck_assert_int_eq(rp__trainer_sq_dists(z, n, dim, d2, NULL), RP_OK);
    assert_close("d2", d2, golden_get(g, "d2", nn), nn, 1e-5, 1e-3);
    ck_assert_int_eq(rp__trainer_knn(d2, n, k, nbr), RP_OK);
    const double *want_nbr = golden_get(g, "nbr", (size_t)n * k);
    for (size_t i = 0; i < (size_t)n * k; i++)
        ck_assert_msg(nbr[i] == (uint32_t)want_nbr[i], "neighbour %zu of row %zu: got %u, torch %u", i % k, i / k,
                      nbr[i], (uint32_t)want_nbr[i]);
    rp__trainer_pairwise_sim(d2, n, golden_scalar(g, "sigma"), wp);
    assert_close("w_p", wp, golden_get(g, "wp", nn), nn, 1e-5, 1e-1);
    ck_assert_int_eq(rp__trainer_contextual_sim(nbr, n, k, c_raw, c_qe, wc, NULL), RP_OK);
    assert_close("c before query expansion", c_raw, golden_get(g, "c_raw", nn), nn, 1e-12, 0);
    assert_close("c after query expansion", c_qe, golden_get(g, "c_qe", nn), nn, 1e-12, 0);
    assert_close("w_c", wc, golden_get(g, "wc", nn), nn, 1e-12, 0);
    free(z);
    free(d2);
    free(wp);
    free(c_raw);
    free(c_qe);
    free(wc);
    free(nbr);
}

START_TEST(similarity__matrices_match_torch_with_exact_ties)
{
    golden_file *g = golden_load("ties.txt");
    uint32_t n = (uint32_t)golden_scalar(g, "n"), dim = (uint32_t)golden_scalar(g, "dim");
    const double *z = golden_get(g, "z", (size_t)n * dim);
    check_similarities(g, z, n, dim);
    /* The mixed labels through the entry point the trainer uses (float z', exact in float). */
    float *zf = to_float(z, (size_t)n * dim);
    double *w = malloc((size_t)n * n * sizeof(double));
    rp__trainer_label_cfg cfg = {golden_scalar(g, "sigma"), (uint32_t)golden_scalar(g, "k"), golden_scalar(g, "alpha"),
                                 1, 0};
    ck_assert_int_eq(rp__trainer_pseudo_labels(zf, n, dim, &cfg, w, NULL), RP_OK);
    assert_close("w mixed", w, golden_get(g, "w", (size_t)n * n), (size_t)n * n, 1e-5, 1e-1);
    free(zf);
    free(w);
    golden_free(g);
}
END_TEST

/* Labels from batch-centred targets: the neighbour lists exactly, w to float accuracy. */
START_TEST(similarity__centred_labels_match_torch)
{
    golden_file *g = golden_load("centered.txt");
    uint32_t n = (uint32_t)golden_scalar(g, "n"), dim = (uint32_t)golden_scalar(g, "dim"),
             k = (uint32_t)golden_scalar(g, "k");
    float *zf = to_float(golden_get(g, "z", (size_t)n * dim), (size_t)n * dim);
    double *w = malloc((size_t)n * n * sizeof(double));
    rp__trainer_ws ws;
    ck_assert_int_eq(rp__trainer_ws_init(&ws, n, dim, k), RP_OK);
    rp__trainer_label_cfg cfg = {golden_scalar(g, "sigma"), k, golden_scalar(g, "alpha"), 1, 1};
    ck_assert_int_eq(rp__trainer_pseudo_labels(zf, n, dim, &cfg, w, &ws), RP_OK);
    const double *nbr = golden_get(g, "nbr", (size_t)n * k);
    for (size_t i = 0; i < (size_t)n * k; i++) ck_assert_uint_eq(ws.nbr[i], (uint32_t)nbr[i]);
    assert_close("w centred", w, golden_get(g, "w", (size_t)n * n), (size_t)n * n, 1e-6, 1e-2);
    /* Without centring the common offset dominates: the labels differ. */
    double *w_raw = malloc((size_t)n * n * sizeof(double));
    cfg.center = 0;
    ck_assert_int_eq(rp__trainer_pseudo_labels(zf, n, dim, &cfg, w_raw, &ws), RP_OK);
    double diff = 0;
    for (size_t i = 0; i < (size_t)n * n; i++) diff = fmax(diff, fabs(w_raw[i] - w[i]));
    ck_assert_msg(diff > 0.1, "centring changed w by only %g", diff);
    rp__trainer_ws_free(&ws);
    free(zf);
    free(w);
    free(w_raw);
    golden_free(g);
}
END_TEST

/* The aligned sampler against the generator's own implementation of its documented rule. */
START_TEST(sampler__aligned_batches_match_the_documented_rule)
{
    golden_file *g = golden_load("sampler.txt");
    uint32_t n_images = (uint32_t)golden_scalar(g, "n_images"), grid = (uint32_t)golden_scalar(g, "grid"),
             window = (uint32_t)golden_scalar(g, "window"), n = (uint32_t)golden_scalar(g, "n"),
             batches = (uint32_t)golden_scalar(g, "batches");
    const double *want = golden_get(g, "idx", (size_t)n * batches);
    uint32_t start[16], order[16], idx[256];
    ck_assert(n_images <= 16 && n <= 256);
    for (uint32_t i = 0; i < n_images; i++) start[i] = i * grid * grid, order[i] = i;
    rp__trainer_rng rng;
    rp__trainer_rng_seed(&rng, (uint64_t)golden_scalar(g, "seed"));
    rp__trainer_sampler s = {n_images, grid, start, order};
    for (uint32_t b = 0; b < batches; b++) {
        rp__trainer_sample_aligned(&s, &rng, window, n, idx);
        for (uint32_t i = 0; i < n; i++)
            ck_assert_msg(idx[i] == (uint32_t)want[(size_t)b * n + i], "batch %u row %u: %u != %u", b, i, idx[i],
                          (uint32_t)want[(size_t)b * n + i]);
    }
    golden_free(g);
}
END_TEST

START_TEST(similarity__labels_from_target_heads_match_torch)
{
    heads_case c = load_case("linear.txt");
    uint32_t n = c.n, p = c.shape.proj_dim;
    size_t nn = (size_t)n * n;
    rp__trainer_acts tg = alloc_acts(&c.shape, n);
    rp__trainer_forward(&c.shape, c.target, c.x, n, &tg);
    double *zt = malloc((size_t)n * p * sizeof(double)), *w = malloc(nn * sizeof(double));
    for (size_t i = 0; i < (size_t)n * p; i++) zt[i] = tg.z[i];
    /* Matrix by matrix (the duplicated patch makes exact ties in the neighbour lists)... */
    check_similarities(c.g, zt, n, p);
    /* ...then mixed, on normalised and on raw targets. */
    ck_assert_int_eq(rp__trainer_pseudo_labels(tg.z, n, p, &c.labels, w, NULL), RP_OK);
    assert_close("w mixed", w, golden_get(c.g, "w", nn), nn, 1e-5, 1e-1);
    rp__trainer_label_cfg raw = c.labels;
    raw.normalize = 0;
    raw.sigma = golden_scalar(c.g, "raw_sigma");
    ck_assert_int_eq(rp__trainer_pseudo_labels(tg.z, n, p, &raw, w, NULL), RP_OK);
    assert_close("w mixed, raw targets", w, golden_get(c.g, "w_raw", nn), nn, 1e-5, 1e-1);
    free(zt);
    free(w);
    free_acts(&tg);
    free_case(&c);
}
END_TEST

/* L(z) and dL/dz in double against central differences of L itself. */
START_TEST(loss__gradient_in_z_matches_finite_differences)
{
    heads_case c = load_case("linear.txt");
    uint32_t n = c.n, p = c.shape.proj_dim;
    size_t nz = (size_t)n * p, nn = (size_t)n * n;
    const double *z0 = golden_get(c.g, "z", nz), *w = golden_get(c.g, "w", nn);
    double *z = malloc(nz * sizeof(double)), *dz = malloc(nz * sizeof(double));
    memcpy(z, z0, nz * sizeof(double));
    double loss;
    ck_assert_int_eq(rp__trainer_loss(z, n, p, w, c.margin, &loss, dz, NULL), RP_OK);
    const double h = 1e-6;
    double scale = 0.0;
    for (size_t i = 0; i < nz; i++) scale = fmax(scale, fabs(dz[i]));
    for (size_t i = 0; i < nz; i++) {
        /* Rows 2 and 5 are duplicates: moving one alone crosses the eps-smoothed kink of |z_2 - z_5|. */
        if (i / p == 2 || i / p == 5) continue;
        double lp, lm, keep = z[i];
        z[i] = keep + h;
        ck_assert_int_eq(rp__trainer_loss(z, n, p, w, c.margin, &lp, NULL, NULL), RP_OK);
        z[i] = keep - h;
        ck_assert_int_eq(rp__trainer_loss(z, n, p, w, c.margin, &lm, NULL, NULL), RP_OK);
        z[i] = keep;
        double fd = (lp - lm) / (2 * h);
        ck_assert_msg(fabs(fd - dz[i]) <= 1e-6 * fmax(fabs(dz[i]), scale),
                      "dL/dz[%zu]: analytic %.10g, finite difference %.10g", i, dz[i], fd);
    }
    free(z);
    free(dz);
    free_case(&c);
}
END_TEST

/* The heads in double, written out plainly: the reference for finite differences of the weights. */
static void forward_double(const heads_case *c, const double *params, double *z)
{
    const rp__trainer_shape *s = &c->shape;
    const rp__trainer_layout *l = &c->layout;
    double h[64], a[64];
    ck_assert(s->repr_dim <= 64 && s->hidden_dim <= 64);
    for (uint32_t r = 0; r < c->n; r++) {
        const float *x = c->x + (size_t)r * s->in_dim;
        for (uint32_t o = 0; o < s->repr_dim; o++) {
            double acc = params[l->b_f + o];
            for (uint32_t i = 0; i < s->in_dim; i++) acc += params[l->w_f + (size_t)o * s->in_dim + i] * x[i];
            h[o] = acc;
        }
        uint32_t g1 = s->hidden_dim ? s->hidden_dim : s->proj_dim;
        double *out1 = s->hidden_dim ? a : z + (size_t)r * s->proj_dim;
        for (uint32_t o = 0; o < g1; o++) {
            double acc = params[l->b_g1 + o];
            for (uint32_t i = 0; i < s->repr_dim; i++) acc += params[l->w_g1 + (size_t)o * s->repr_dim + i] * h[i];
            out1[o] = acc;
        }
        if (!s->hidden_dim) continue;
        for (uint32_t o = 0; o < s->proj_dim; o++) {
            double acc = params[l->b_g2 + o];
            for (uint32_t i = 0; i < s->hidden_dim; i++)
                acc += params[l->w_g2 + (size_t)o * s->hidden_dim + i] * (a[i] > 0 ? a[i] : 0);
            z[(size_t)r * s->proj_dim + o] = acc;
        }
    }
}

/* The float C gradient (sgemm path) against central differences of a double re-implementation, with
 * the pseudo-labels held fixed as in training. Tolerance 1e-4 relative: the float heads round z at
 * about 1e-7 relative and the gradient sums n = 16 rows of products. */
static void check_fd(const char *file)
{
    heads_case c = load_case(file);
    uint32_t n = c.n, p = c.shape.proj_dim;
    const double *w = golden_get(c.g, "w", (size_t)n * n);
    float *grad = malloc(c.layout.total * sizeof(float));
    double loss;
    c_loss_and_grad(&c, &loss, grad);
    double *params = malloc(c.layout.total * sizeof(double)), *z = malloc((size_t)n * p * sizeof(double));
    for (size_t i = 0; i < c.layout.total; i++) params[i] = c.online[i];
    double scale = 0.0;
    for (size_t i = 0; i < c.layout.total; i++) scale = fmax(scale, fabs(grad[i]));
    rp__trainer_rng rng;
    rp__trainer_rng_seed(&rng, 42);
    const double h = 1e-5;
    /* Every bias, and 60 weights drawn across all layers. */
    for (size_t t = 0; t < c.layout.total; t++) {
        int is_bias = (t >= c.layout.b_f && t < c.layout.w_g1) || (t >= c.layout.b_g1 && t < c.layout.w_g2) ||
                      t >= c.layout.b_g2;
        if (!is_bias && rp__trainer_rng_below(&rng, (uint32_t)c.layout.total) >= 60) continue;
        double lp, lm, keep = params[t];
        params[t] = keep + h;
        forward_double(&c, params, z);
        ck_assert_int_eq(rp__trainer_loss(z, n, p, w, c.margin, &lp, NULL, NULL), RP_OK);
        params[t] = keep - h;
        forward_double(&c, params, z);
        ck_assert_int_eq(rp__trainer_loss(z, n, p, w, c.margin, &lm, NULL, NULL), RP_OK);
        params[t] = keep;
        double fd = (lp - lm) / (2 * h);
        ck_assert_msg(fabs(fd - grad[t]) <= 1e-4 * fmax(fabs(fd), 1e-2 * scale),
                      "%s parameter %zu: C gradient %.10g, finite difference %.10g", file, t, grad[t], fd);
    }
    free(params);
    free(z);
    free(grad);
    free_case(&c);
}

START_TEST(backward__gradients_match_finite_differences_linear_g)
{
    check_fd("linear.txt");
}
END_TEST

START_TEST(backward__gradients_match_finite_differences_mlp_g)
{
    check_fd("mlp.txt");
}
END_TEST

START_TEST(ema__update_matches_torch)
{
    heads_case c = load_case("linear.txt");
    rp__trainer_ema_update(c.target, c.online, c.layout.total, golden_scalar(c.g, "ema_gamma"));
    assert_close_f("EMA target", c.target, golden_get(c.g, "ema_target", c.layout.total), c.layout.total, 1e-6, 0);
    free_case(&c);
}
END_TEST

START_TEST(adamw__two_steps_match_torch_optim)
{
    heads_case c = load_case("linear.txt");
    size_t np = c.layout.total;
    float *g1 = to_float(golden_get(c.g, "grad", np), np), *g2 = to_float(golden_get(c.g, "adam_g2", np), np);
    rp__trainer_adamw opt = {0.9, 0.999, 1e-8, golden_scalar(c.g, "adam_wd"), 0, calloc(np, sizeof(float)),
                             calloc(np, sizeof(float))};
    double lr = golden_scalar(c.g, "adam_lr");
    rp__trainer_adamw_step(&opt, c.online, g1, np, lr);
    assert_close_f("params after step 1", c.online, golden_get(c.g, "adam_p1", np), np, 1e-5, 1e-1);
    rp__trainer_adamw_step(&opt, c.online, g2, np, lr);
    assert_close_f("params after step 2", c.online, golden_get(c.g, "adam_p2", np), np, 1e-5, 1e-1);
    assert_close_f("exp_avg", opt.m, golden_get(c.g, "adam_m2", np), np, 1e-5, 1e-1);
    assert_close_f("exp_avg_sq", opt.v, golden_get(c.g, "adam_v2", np), np, 1e-5, 1e-1);
    free(g1);
    free(g2);
    free(opt.m);
    free(opt.v);
    free_case(&c);
}
END_TEST

START_TEST(cosine__schedule_matches_torch_scheduler)
{
    golden_file *g = golden_load("linear.txt");
    uint64_t total = (uint64_t)golden_scalar(g, "cos_total");
    const double *want = golden_get(g, "cos_lr", total + 1);
    for (uint64_t t = 0; t <= total; t++) {
        double lr = rp__trainer_cosine_lr(golden_scalar(g, "cos_lr_max"), golden_scalar(g, "cos_lr_min"), t, total);
        ck_assert_msg(fabs(lr - want[t]) <= 1e-12, "step %llu: lr %.15g, torch %.15g", (unsigned long long)t, lr,
                      want[t]);
    }
    golden_free(g);
}
END_TEST

START_TEST(knn__rejects_k_outside_1_to_n)
{
    double d2[4] = {0, 1, 1, 0};
    uint32_t nbr[4];
    ck_assert_int_eq(rp__trainer_knn(d2, 2, 3, nbr), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__trainer_knn(d2, 2, 0, nbr), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__trainer_contextual_sim(nbr, 2, 1, NULL, NULL, d2, NULL), RP_E_INVALID_ARG);
}
END_TEST

/* The read-only view rp_train fills the bank from (trainer_features.h): each added image's block, in
 * order, with its own patch count, unchanged by later additions; NULL and 0 outside. */
START_TEST(features_view__returns_each_added_image_in_order)
{
    enum { DIM = 3, IMAGES = 70 }; /* past the first growth of the image arrays (64) */
    rp_trainer *t = NULL;
    ck_assert_int_eq(rp_trainer_create(NULL, &t), RP_OK);
    float rows[5 * DIM]; /* up to 5 patches per image */
    const float *first = NULL;
    for (uint32_t i = 0; i < IMAGES; i++) {
        const uint32_t patches = i % 5 + 1;
        for (uint32_t k = 0; k < patches * DIM; k++) rows[k] = (float)(1000 * i + k);
        ck_assert_int_eq(rp_trainer_add_image_features(t, rows, patches, DIM), RP_OK);
        if (i == 0) first = rp__trainer_image_features(t, 0, &(uint32_t){0});
    }
    for (uint32_t i = 0; i < IMAGES; i++) {
        uint32_t patches = 0;
        const float *v = rp__trainer_image_features(t, i, &patches);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(patches, i % 5 + 1);
        for (uint32_t k = 0; k < patches * DIM; k++) ck_assert_float_eq(v[k], (float)(1000 * i + k));
    }
    uint32_t patches = 7;
    ck_assert_ptr_eq(rp__trainer_image_features(t, 0, &patches), first);
    ck_assert_ptr_null(rp__trainer_image_features(t, IMAGES, &patches));
    ck_assert_uint_eq(patches, 0);
    patches = 7;
    ck_assert_ptr_null(rp__trainer_image_features(NULL, 0, &patches));
    ck_assert_uint_eq(patches, 0);
    rp_trainer_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trainer_math");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, forward__target_outputs_match_torch);
    tcase_add_test(tc, similarity__matrices_match_torch_with_exact_ties);
    tcase_add_test(tc, similarity__labels_from_target_heads_match_torch);
    tcase_add_test(tc, loss__value_and_gradients_match_torch_linear_g);
    tcase_add_test(tc, loss__value_and_gradients_match_torch_mlp_g);
    tcase_add_test(tc, loss__gradient_in_z_matches_finite_differences);
    tcase_add_test(tc, backward__gradients_match_finite_differences_linear_g);
    tcase_add_test(tc, backward__gradients_match_finite_differences_mlp_g);
    tcase_add_test(tc, ema__update_matches_torch);
    tcase_add_test(tc, adamw__two_steps_match_torch_optim);
    tcase_add_test(tc, cosine__schedule_matches_torch_scheduler);
    tcase_add_test(tc, knn__rejects_k_outside_1_to_n);
    tcase_add_test(tc, features_view__returns_each_added_image_in_order);
    tcase_add_test(tc, similarity__centred_labels_match_torch);
    tcase_add_test(tc, sampler__aligned_batches_match_the_documented_rule);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
