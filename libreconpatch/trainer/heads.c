/* The trainable heads f and g: parameter layout, initialisation, forward and backward passes
 * (OpenBLAS sgemm, no autograd), and the exponential-moving-average update of the target copy. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "trainer/trainer_internal.h"

void rp__trainer_layout_of(const rp__trainer_shape *s, rp__trainer_layout *l)
{
    uint32_t g1_out = s->hidden_dim ? s->hidden_dim : s->proj_dim;
    l->w_f = 0;
    l->b_f = l->w_f + (size_t)s->repr_dim * s->in_dim;
    l->w_g1 = l->b_f + s->repr_dim;
    l->b_g1 = l->w_g1 + (size_t)g1_out * s->repr_dim;
    l->w_g2 = l->b_g1 + g1_out;
    if (s->hidden_dim) {
        l->b_g2 = l->w_g2 + (size_t)s->proj_dim * s->hidden_dim;
        l->total = l->b_g2 + s->proj_dim;
    } else {
        l->b_g2 = l->w_g2;
        l->total = l->w_g2;
    }
}

static void init_uniform(rp__trainer_rng *rng, float *p, size_t count, double bound)
{
    for (size_t i = 0; i < count; i++) p[i] = (float)((2.0 * rp__trainer_rng_uniform(rng) - 1.0) * bound);
}

void rp__trainer_init_params(const rp__trainer_shape *s, rp__trainer_rng *rng, float *params)
{
    rp__trainer_layout l;
    rp__trainer_layout_of(s, &l);
    uint32_t g1_out = s->hidden_dim ? s->hidden_dim : s->proj_dim;
    double bf = 1.0 / sqrt((double)s->in_dim), bg1 = 1.0 / sqrt((double)s->repr_dim);
    init_uniform(rng, params + l.w_f, (size_t)s->repr_dim * s->in_dim, bf);
    init_uniform(rng, params + l.b_f, s->repr_dim, bf);
    init_uniform(rng, params + l.w_g1, (size_t)g1_out * s->repr_dim, bg1);
    init_uniform(rng, params + l.b_g1, g1_out, bg1);
    if (s->hidden_dim) {
        double bg2 = 1.0 / sqrt((double)s->hidden_dim);
        init_uniform(rng, params + l.w_g2, (size_t)s->proj_dim * s->hidden_dim, bg2);
        init_uniform(rng, params + l.b_g2, s->proj_dim, bg2);
    }
}

/* y [n x out] = x [n x in] * W^T + b. */
static void linear(const float *x, uint32_t n, uint32_t in, const float *w, const float *b, uint32_t out, float *y)
{
    for (uint32_t i = 0; i < n; i++) memcpy(y + (size_t)i * out, b, out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x, (int)in, w, (int)in,
                1.0f, y, (int)out);
}

void rp__trainer_forward(const rp__trainer_shape *s, const float *params, const float *x, uint32_t n,
                         rp__trainer_acts *acts)
{
    rp__trainer_layout l;
    rp__trainer_layout_of(s, &l);
    linear(x, n, s->in_dim, params + l.w_f, params + l.b_f, s->repr_dim, acts->h);
    if (!s->hidden_dim) {
        linear(acts->h, n, s->repr_dim, params + l.w_g1, params + l.b_g1, s->proj_dim, acts->z);
        return;
    }
    linear(acts->h, n, s->repr_dim, params + l.w_g1, params + l.b_g1, s->hidden_dim, acts->a);
    size_t na = (size_t)n * s->hidden_dim;
    for (size_t i = 0; i < na; i++)
        if (!(acts->a[i] > 0.0f)) acts->a[i] = 0.0f;
    linear(acts->a, n, s->hidden_dim, params + l.w_g2, params + l.b_g2, s->proj_dim, acts->z);
}

/* Gradients of one linear layer y = x W^T + b given dy [n x out]:
 * dW [out x in] = dy^T x, db [out] = column sums of dy, and (if dx) dx [n x in] = dy W. */
static void linear_backward(const float *x, uint32_t n, uint32_t in, const float *w, uint32_t out, const float *dy,
                            float *dw, float *db, float *dx)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f, dy, (int)out, x, (int)in,
                0.0f, dw, (int)in);
    /* Column sums in double: n can be 512 and the sum order must not depend on the thread count. */
    for (uint32_t o = 0; o < out; o++) {
        double acc = 0.0;
        for (uint32_t i = 0; i < n; i++) acc += dy[(size_t)i * out + o];
        db[o] = (float)acc;
    }
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0f, dy, (int)out, w,
                    (int)in, 0.0f, dx, (int)in);
}

void rp__trainer_backward(const rp__trainer_shape *s, const float *params, const float *x, uint32_t n,
                          const rp__trainer_acts *acts, const float *dz, float *grad, float *scratch)
{
    rp__trainer_layout l;
    rp__trainer_layout_of(s, &l);
    float *dh = scratch;                             /* n x repr */
    float *da = scratch + (size_t)n * s->repr_dim; /* n x hidden (MLP g only) */
    if (!s->hidden_dim) {
        linear_backward(acts->h, n, s->repr_dim, params + l.w_g1, s->proj_dim, dz, grad + l.w_g1, grad + l.b_g1,
                        dh);
    } else {
        linear_backward(acts->a, n, s->hidden_dim, params + l.w_g2, s->proj_dim, dz, grad + l.w_g2,
                        grad + l.b_g2, da);
        /* ReLU: no gradient where the unit was off (PyTorch also uses 0 at exactly 0). */
        size_t na = (size_t)n * s->hidden_dim;
        for (size_t i = 0; i < na; i++)
            if (!(acts->a[i] > 0.0f)) da[i] = 0.0f;
        linear_backward(acts->h, n, s->repr_dim, params + l.w_g1, s->hidden_dim, da, grad + l.w_g1,
                        grad + l.b_g1, dh);
    }
    linear_backward(x, n, s->in_dim, params + l.w_f, s->repr_dim, dh, grad + l.w_f, grad + l.b_f, NULL);
}

void rp__trainer_zero_invariant_grads(const rp__trainer_shape *s, float *grad)
{
    rp__trainer_layout l;
    rp__trainer_layout_of(s, &l);
    if (s->hidden_dim) {
        memset(grad + l.b_g2, 0, s->proj_dim * sizeof(float));
    } else {
        memset(grad + l.b_f, 0, s->repr_dim * sizeof(float));
        memset(grad + l.b_g1, 0, s->proj_dim * sizeof(float));
    }
}

void rp__trainer_ema_update(float *target, const float *online, size_t count, double momentum)
{
    float g = (float)momentum, one_minus_g = (float)(1.0 - momentum);
    for (size_t i = 0; i < count; i++) target[i] = g * target[i] + one_minus_g * online[i];
}
