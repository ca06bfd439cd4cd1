/* AdamW with cosine annealing of the learning rate, written to match torch.optim.AdamW and
 * torch.optim.lr_scheduler.CosineAnnealingLR step for step (the unit tests compare against them). */
#include <math.h>

#include "trainer/trainer_internal.h"

void rp__trainer_adamw_step(rp__trainer_adamw *opt, float *params, const float *grad, size_t count, double lr)
{
    opt->t++;
    double bc1 = 1.0 - pow(opt->beta1, (double)opt->t);
    double bc2_sqrt = sqrt(1.0 - pow(opt->beta2, (double)opt->t));
    double step = lr / bc1, decay = 1.0 - lr * opt->weight_decay;
    double b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    for (size_t i = 0; i < count; i++) {
        double g = grad[i];
        double p = (double)params[i] * decay; /* decoupled weight decay, applied first as PyTorch does */
        double m = b1 * opt->m[i] + (1.0 - b1) * g;
        double v = b2 * opt->v[i] + (1.0 - b2) * g * g;
        opt->m[i] = (float)m;
        opt->v[i] = (float)v;
        params[i] = (float)(p - step * m / (sqrt(v) / bc2_sqrt + eps));
    }
}

double rp__trainer_cosine_lr(double lr_max, double lr_min, uint64_t t, uint64_t total)
{
    if (total == 0 || t >= total) return lr_min;
    const double pi = 3.14159265358979323846;
    return lr_min + (lr_max - lr_min) * 0.5 * (1.0 + cos(pi * (double)t / (double)total));
}
