/* Internals of the ReConPatch trainer, shared by its source files and the unit tests.
 * Not installed. The method and every choice made here are described in docs/reconpatch.md. */
#ifndef RP_TRAINER_INTERNAL_H
#define RP_TRAINER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "common/feature_store.h"

/* Added to squared distances before the square root in the loss, so the gradient of |z_i - z_j|
 * stays finite for identical outputs. The PyTorch golden script uses the same value. */
#define RP__TRAINER_DIST_EPS 1e-12

/* Default steps per epoch: one pass over the training patches, at most this many steps. */
#define RP__TRAINER_DEFAULT_STEPS_CAP 50

/* ---- random numbers (xoshiro256**, seeded through splitmix64) ------------------------------ */
typedef struct rp__trainer_rng {
    uint64_t s[4];
} rp__trainer_rng;

void rp__trainer_rng_seed(rp__trainer_rng *rng, uint64_t seed);
uint64_t rp__trainer_rng_next(rp__trainer_rng *rng);
/* Uniform in [0, n) (n >= 1). */
uint32_t rp__trainer_rng_below(rp__trainer_rng *rng, uint32_t n);
/* Uniform in [0, 1). */
double rp__trainer_rng_uniform(rp__trainer_rng *rng);
/* Fisher-Yates shuffle of n indices. */
void rp__trainer_shuffle(rp__trainer_rng *rng, uint32_t *v, uint32_t n);

/* ---- the heads: f (in -> repr) then g (repr -> proj, or repr -> hidden -> ReLU -> proj) --------
 * All parameters live in one flat float array so the optimiser and the EMA update walk it once.
 * Layout (PyTorch nn.Linear order: weight out x in, row-major, then bias):
 *   W_f [repr x in], b_f [repr], W_g1 [g1_out x repr], b_g1 [g1_out], and for the MLP g also
 *   W_g2 [proj x hidden], b_g2 [proj]; g1_out is proj (linear g) or hidden (MLP g). */
typedef struct rp__trainer_shape {
    uint32_t in_dim, repr_dim, proj_dim, hidden_dim; /* hidden_dim 0 = linear g */
} rp__trainer_shape;

typedef struct rp__trainer_layout {
    size_t w_f, b_f, w_g1, b_g1, w_g2, b_g2; /* offsets into the flat array (w_g2/b_g2 = total if unused) */
    size_t total;                            /* number of parameters */
} rp__trainer_layout;

void rp__trainer_layout_of(const rp__trainer_shape *shape, rp__trainer_layout *layout);

/* PyTorch's default nn.Linear initialisation: weight and bias uniform in +-1/sqrt(fan_in). */
void rp__trainer_init_params(const rp__trainer_shape *shape, rp__trainer_rng *rng, float *params);

/* Activations of one forward pass over a batch of n rows (caller-allocated):
 * h [n x repr], a [n x hidden] (after the ReLU; MLP g only, else unused), z [n x proj]. */
typedef struct rp__trainer_acts {
    float *h, *a, *z;
} rp__trainer_acts;

/* Forward pass: x [n x in] -> acts. One sgemm per layer. */
void rp__trainer_forward(const rp__trainer_shape *shape, const float *params, const float *x, uint32_t n,
                         rp__trainer_acts *acts);

/* Backward pass: given dL/dz [n x proj] and the forward's acts, write dL/dparams (flat layout) into
 * grad. scratch holds n x (repr + hidden) floats. dz is left unchanged. */
void rp__trainer_backward(const rp__trainer_shape *shape, const float *params, const float *x, uint32_t n,
                          const rp__trainer_acts *acts, const float *dz, float *grad, float *scratch);

/* The loss sees only differences z_i - z_j, so biases that shift every z by the same vector (b_f and
 * b_g with a linear g; b_g2 with the MLP g) have a true gradient of exactly 0. Set it to 0 so that
 * Adam, which normalises step sizes, does not turn float rounding noise into full-size steps. */
void rp__trainer_zero_invariant_grads(const rp__trainer_shape *shape, float *grad);

/* target = momentum * target + (1 - momentum) * online, over count parameters. */
void rp__trainer_ema_update(float *target, const float *online, size_t count, double momentum);

/* ---- workspace for the O(n^2) functions below --------------------------------------------
 * Allocated once per training run so a step allocates nothing (large per-step allocations showed
 * up as page faults in profiles). Every function taking a workspace accepts NULL and then uses a
 * temporary one of its own (convenient in tests). */
typedef struct rp__trainer_ws {
    uint32_t n, dim, k; /* capacities */
    double *norms;      /* n */
    double *z;          /* n x dim: normalised target outputs */
    double *d2, *c_raw, *c_qe, *wc; /* n x n each: pseudo-label stages */
    double *dist, *coef;            /* n x n each: loss distances and per-pair coefficients */
    double *mu, *s;                 /* n each: loss row means and mean-path terms */
    uint8_t *in_k, *in_half;        /* n x n membership of the k and k/2 neighbour lists */
    uint32_t *nbr;                  /* n x k neighbour lists */
} rp__trainer_ws;

int rp__trainer_ws_init(rp__trainer_ws *ws, uint32_t n, uint32_t dim, uint32_t k);
void rp__trainer_ws_free(rp__trainer_ws *ws);

/* Tile size for the symmetric passes over n x n matrices: element (j, i) is visited together with
 * (i, j) tile by tile, which keeps the transposed accesses in cache. */
#define RP__TRAINER_TILE 64

/* ---- pseudo-labels from the target outputs z' (no gradient flows through them) ---------- */
/* Squared Euclidean distances between the n rows of z [n x dim] via one dgemm (Gram matrix):
 * d2 [n x n], symmetric, diagonal exactly 0, negatives from rounding clamped to 0. */
int rp__trainer_sq_dists(const double *z, uint32_t n, uint32_t dim, double *d2, rp__trainer_ws *ws);

/* Divide each row by its L2 norm (rows of norm 0 stay 0). */
void rp__trainer_l2_normalize(double *z, uint32_t n, uint32_t dim);

/* w_p(i,j) = exp(-d2(i,j) / sigma). */
void rp__trainer_pairwise_sim(const double *d2, uint32_t n, double sigma, double *wp);

/* The k nearest neighbours of every row, i itself first, then ascending d2, ties by the lower
 * index: nbr [n x k]. 1 <= k <= n. */
int rp__trainer_knn(const double *d2, uint32_t n, uint32_t k, uint32_t *nbr);

/* Contextual similarity from the neighbour lists (rp__trainer_knn with this k):
 *   c(i,j) = |N_k(i) & N_k(j)| / k if j in N_k(i), else 0               -> c_raw (may be NULL)
 *   query expansion: row i = mean of rows l in R(i) = { l in N_{k/2}(i) : i in N_{k/2}(l) }
 *                                                                         -> c_qe (may be NULL)
 *   w_c = (c_qe + c_qe^T) / 2                                              -> wc
 * k >= 2 so that R(i) holds at least i. */
int rp__trainer_contextual_sim(const uint32_t *nbr, uint32_t n, uint32_t k, double *c_raw, double *c_qe,
                               double *wc, rp__trainer_ws *ws);

typedef struct rp__trainer_label_cfg {
    double sigma;  /* pairwise kernel width */
    uint32_t k;    /* contextual neighbourhood size */
    double alpha;  /* w = alpha * w_p + (1 - alpha) * w_c */
    int normalize; /* non-zero: L2-normalise z' rows before both similarities */
    int center;    /* non-zero: subtract the batch mean of z' first (before any normalisation) */
} rp__trainer_label_cfg;

/* The mixed pseudo-label matrix w [n x n] from the target outputs zt [n x dim] (float). */
int rp__trainer_pseudo_labels(const float *zt, uint32_t n, uint32_t dim, const rp__trainer_label_cfg *cfg,
                              double *w, rp__trainer_ws *ws);

/* ---- relaxed contrastive loss on the online outputs z [n x dim] ------------------------- *
 * d(i,j) = sqrt(|z_i - z_j|^2 + eps) for j != i, d(i,i) = 0; mu_i = (1/n) sum_l d(i,l);
 * delta = d(i,j) / mu_i;
 * L = (1/n) sum_i sum_{j != i} [ w(i,j) delta^2 + (1 - w(i,j)) max(margin - delta, 0)^2 ].
 * Writes L to *loss_out and, if dz is not NULL, dL/dz [n x dim]. */
int rp__trainer_loss(const double *z, uint32_t n, uint32_t dim, const double *w, double margin, double *loss_out,
                     double *dz, rp__trainer_ws *ws);

/* ---- optimiser: AdamW (decoupled weight decay, PyTorch's torch.optim.AdamW update) ------- */
typedef struct rp__trainer_adamw {
    double beta1, beta2, eps, weight_decay;
    uint64_t t;  /* steps taken */
    float *m, *v; /* first and second moments, one per parameter */
} rp__trainer_adamw;

void rp__trainer_adamw_step(rp__trainer_adamw *opt, float *params, const float *grad, size_t count, double lr);

/* Cosine annealing (PyTorch CosineAnnealingLR, closed form): the learning rate of step t of T. */
double rp__trainer_cosine_lr(double lr_max, double lr_min, uint64_t t, uint64_t total);

/* ---- the aligned batch sampler (sampler.c) ------------------------------------------------ */
typedef struct rp__trainer_sampler {
    uint32_t n_images;          /* training images */
    uint32_t grid;              /* side of every image's square patch grid */
    const uint32_t *img_start;  /* row index of each image's first patch (patches row-major) */
    uint32_t *img_order;        /* n_images scratch entries, a permutation of 0..n_images-1 */
} rp__trainer_sampler;
/* One batch of n row indices: a random window of w x w grid positions (w = min(window, grid),
 * top-left uniform over the grid) taken from distinct images chosen uniformly without replacement,
 * w^2 rows per image in row-major window order (the last image's block may be cut short). When
 * every image has been used, the next round draws a new window and starts over with all images
 * (rows repeat in a batch only when it needs more than one round, batch > images x w^2, and the
 * windows overlap). */
void rp__trainer_sample_aligned(rp__trainer_sampler *s, rp__trainer_rng *rng, uint32_t window, uint32_t n,
                                uint32_t *idx);

/* ---- diagnostics: what one training step looked like (bench/rp-tune --trace) ------------- *
 * Costly extras (a validation pass every step, labels of the frozen initial target) are computed
 * only while an observer is set; a training without one runs exactly as before. */
typedef struct rp__trainer_step_stats {
    uint64_t step;            /* 0-based */
    uint32_t epoch;
    double lr;                /* learning rate of this step */
    double loss;              /* training loss of the step's batch (labels from the moving target) */
    double val_loss;          /* validation loss after the step, labels from the moving target */
    double val_loss_frozen;   /* validation loss after the step, labels from the initial target */
    double share_w_half;      /* share of the batch's pairs (i != j) with w > 0.5 */
    double mean_w;            /* mean w over those pairs */
    double nn_same_position;  /* share of the k-1 batch neighbours (self excluded) that are the same
                                 grid position of another image */
    double nn_near_position;  /* ... within one grid cell (Chebyshev distance <= 1) of another image */
    double nn_same_image;     /* ... from the same image */
} rp__trainer_step_stats;
typedef void (*rp__trainer_observer)(const rp__trainer_step_stats *stats, void *user_data);
void rp__trainer_set_observer(rp_trainer *t, rp__trainer_observer fn, void *user_data);

/* ---- the public handle ---------------------------------------------------------------- */
struct rp_trainer {
    rp_trainer_params p; /* defaults resolved, validated */
    uint32_t in_dim;     /* 0 until known (params or first image) */

    /* Patch features, stored once, image after image (in memory up to a limit, then in a
     * temporary file: common/feature_store.h); image i is image_patches[i] rows from row
     * image_start[i]. Read them through rp__trainer_image_rows. */
    rp__feature_store features;
    uint64_t *image_start;
    uint32_t *image_patches;
    uint32_t n_images, cap_images;
    uint64_t n_patches;

    int busy; /* inside rp_trainer_train: refuse re-entrant calls from the progress callback */

    /* Results of the last completed training. */
    int trained;
    float *f_params; /* repr x in weights then repr biases */
    double *hist_train, *hist_val;
    uint32_t hist_epochs;
    int32_t best_epoch;
    rp__trainer_observer observer; /* diagnostics, NULL normally */
    void *observer_data;
};

/* Image i's rows (image_patches[i] x in_dim floats). A spilled store is mapped after every add, so
 * the view exists whenever images do. Readers going through it in order give the pages back
 * (rp__feature_store_release); the training batches, which pick rows at random, read them with
 * pread instead (train_loop.c, gather). */
static inline const float *rp__trainer_image_rows(const rp_trainer *t, uint32_t i)
{
    return rp__feature_store_view(&t->features) + (size_t)t->image_start[i] * t->in_dim;
}

/* The training loop (train_loop.c): fills the result fields, or returns an error with trained = 0. */
int rp__trainer_run(rp_trainer *t, rp_progress_fn progress, void *user_data);

#endif
