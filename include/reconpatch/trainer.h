/* libreconpatch: the ReConPatch embedding trainer and the learned representation layer f.
 * See docs/reconpatch.md. */
#ifndef RECONPATCH_TRAINER_H
#define RECONPATCH_TRAINER_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the representation layer f: a linear map with bias, in_dim -> out_dim -------------- */
/* Immutable after creation: rp_embedding_apply may run from several threads at once. */
typedef struct rp_embedding rp_embedding;

/* weight is out_dim x in_dim, row-major (PyTorch's nn.Linear layout); bias has out_dim values
 * (NULL = zero). Both are copied. */
RP_API int rp_embedding_create(uint32_t in_dim, uint32_t out_dim, const float *weight,
                               const float *bias, rp_embedding **out);
RP_API uint32_t rp_embedding_in_dim(const rp_embedding *embedding);  /* 0 for NULL */
RP_API uint32_t rp_embedding_out_dim(const rp_embedding *embedding); /* 0 for NULL */
/* out (count x out_dim) = in (count x in_dim) * weight^T + bias. out_floats is out's capacity. */
RP_API int rp_embedding_apply(const rp_embedding *embedding, const float *in, uint64_t count,
                              float *out, size_t out_floats);
/* Copy the parameters out (either pointer may be NULL). */
RP_API int rp_embedding_get(const rp_embedding *embedding, float *weight_out, size_t weight_floats,
                            float *bias_out, size_t bias_floats);
RP_API void rp_embedding_free(rp_embedding *embedding);

/* PCA fitted on count x dim row-major features: a new embedding f(x) = V^T (x - mean) onto the
 * out_dim principal directions of largest variance (each direction's sign set so that its
 * largest-magnitude entry is positive). The untrained baseline of a learned head of the same size. */
RP_API int rp_embedding_fit_pca(const float *features, uint64_t count, uint32_t dim, uint32_t out_dim,
                                rp_embedding **out);

/* ---- the trainer ------------------------------------------------------------------------ *
 * Learns f (and a projection g used only for training) on the patch features of normal images with
 * ReConPatch's relaxed contrastive loss. Add each training image's patch features, train, then take
 * f out as an rp_embedding for the scorer. A trainer needs exclusive use (one thread at a time).
 *
 * Fields are zero for "the default". Where zero is itself a useful value (alpha, weight_decay,
 * val_fraction), pass a negative number to mean zero. The defaults of sigma, k, alpha, margin and
 * ema_momentum were chosen by measurement on magnetic tile (docs/reconpatch.md). */
typedef struct rp_trainer_params {
    uint32_t struct_size;
    uint32_t in_dim;          /* patch feature length; 0 = taken from the first image added */
    uint32_t repr_dim;        /* output of f; 0 = 64 (docs/reconpatch.md, fourth sweep) */
    uint32_t proj_dim;        /* output of g; 0 = 128 */
    uint32_t proj_hidden;     /* 0 = linear g; else g is linear(proj_hidden)-ReLU-linear */
    uint32_t batch_size;      /* patches per step, drawn across all training images; 0 = 512 */
    uint32_t epochs;          /* 0 = 8 */
    uint32_t steps_per_epoch; /* 0 = min(training patches / batch_size, 50) */
    uint32_t patience;        /* epochs without a better validation loss before stopping; 0 = 10 */
    uint32_t k;               /* contextual neighbourhood size (2 .. batch_size); 0 = 5 */
    uint32_t val_batches;     /* fixed validation batches evaluated after each epoch; 0 = 4 */
    uint32_t raw_targets;     /* non-zero: similarities on raw target outputs, not L2-normalised */
    uint32_t export_target;   /* non-zero: export the EMA target's f instead of the online f */
    uint32_t num_threads;     /* OpenBLAS threads during rp_trainer_train; 0 = one per online core */
    uint64_t seed;            /* initialisation, split and sampling; 0 = RP_TRAINER_DEFAULT_SEED */
    uint64_t max_steps;       /* cap on the total number of steps; 0 = epochs * steps_per_epoch */
    double lr;                /* AdamW peak learning rate, cosine-annealed to lr_min; 0 = 3e-4 */
    double lr_min;            /* 0 = 0 */
    double weight_decay;      /* AdamW decoupled weight decay; 0 = 1e-2; negative = none */
    double sigma;             /* pairwise similarity exp(-|z'_i - z'_j|^2 / sigma); 0 = 1 */
    double alpha;             /* w = alpha * pairwise + (1 - alpha) * contextual; 0 = 0.9; negative = 0 */
    double margin;            /* relaxed contrastive margin m; 0 = 1 */
    double ema_momentum;      /* target = gamma * target + (1 - gamma) * online; 0 = 0.995 */
    double val_fraction;      /* share of IMAGES held out for validation; 0 = 0.1; negative = none */
    uint32_t sampler;         /* how a batch is drawn: RP_SAMPLER_*; 0 = RP_SAMPLER_UNIFORM */
    uint32_t sampler_window;  /* RP_SAMPLER_ALIGNED: window side in patches; 0 = 4 */
    uint32_t target_centering; /* RP_TARGETS_*: subtract the batch mean of z' before the labels;
                                  0 = RP_TARGETS_CENTERED */
    uint32_t reserved0;       /* must be 0 */
} rp_trainer_params;

/* Pseudo-labels from the target outputs z': with the batch mean subtracted first (CENTERED), or as
 * they are (UNCENTERED, the behaviour before centring was added). */
#define RP_TARGETS_CENTERED 1
#define RP_TARGETS_UNCENTERED 2

/* Batch samplers. UNIFORM: batch_size patches drawn across all training patches. ALIGNED: the same
 * window of sampler_window x sampler_window patch positions in batch_size / window^2 different
 * images, so a batch holds the same part of the product seen in many images (the contextual
 * pseudo-labels then find corresponding patches as neighbours). ALIGNED needs square patch grids. */
#define RP_SAMPLER_UNIFORM 1
#define RP_SAMPLER_ALIGNED 2

#define RP_TRAINER_DEFAULT_SEED 0x7EC0A7C4ull

typedef struct rp_trainer rp_trainer;

/* Fill *p with defaults (all zero) and struct_size = min(size, sizeof *p). */
RP_API int rp_trainer_params_init(rp_trainer_params *p, size_t size);

/* An empty trainer. p may be NULL (all defaults). Invalid fields fail with RP_E_INVALID_ARG and a
 * message naming the field. */
RP_API int rp_trainer_create(const rp_trainer_params *p, rp_trainer **out);

/* Add one training image's patch features: patches x dim floats, row-major (copied; the trainer
 * keeps the image grouping so the validation split is by image). dim must match in_dim (or the
 * first image's dim when in_dim is 0): RP_E_SHAPE otherwise. RP_E_STATE during rp_trainer_train. */
RP_API int rp_trainer_add_image_features(rp_trainer *trainer, const float *features, uint32_t patches,
                                         uint32_t dim);

RP_API uint32_t rp_trainer_image_count(const rp_trainer *trainer); /* 0 for NULL */
RP_API uint64_t rp_trainer_patch_count(const rp_trainer *trainer); /* 0 for NULL */

/* Train from a fresh, seeded initialisation (a second call starts over). progress (may be NULL) is
 * called after every step with stage RP_STAGE_TRAIN, epoch, step, loss and the last val_loss (NaN
 * before the first validation or without one); done/total count steps. A non-zero return cancels:
 * RP_E_CANCELLED, the trainer keeps its features, has no trained embedding and may train again.
 * Needs at least 2 images when a validation share is used, and enough patches for one batch
 * (RP_E_STATE otherwise). The same seed, data and num_threads give bit-identical results.
 * Note: num_threads is applied with openblas_set_num_threads (process-wide) for the duration of the
 * call and restored afterwards. */
RP_API int rp_trainer_train(rp_trainer *trainer, rp_progress_fn progress, void *user_data);

/* A new rp_embedding holding the trained f (the best epoch by validation loss when a validation
 * share is used, else the last step). The caller frees it. RP_E_STATE before a completed training. */
RP_API int rp_trainer_get_embedding(const rp_trainer *trainer, rp_embedding **out);

/* Per-epoch curves of the last training: mean training loss and validation loss (NaN without
 * validation) for up to capacity epochs (either array may be NULL). *epochs_out (may be NULL) gets
 * the number of epochs run, *best_epoch_out (may be NULL) the epoch whose f is exported. */
RP_API int rp_trainer_get_history(const rp_trainer *trainer, double *train_loss_out, double *val_loss_out,
                                  uint32_t capacity, uint32_t *epochs_out, int32_t *best_epoch_out);

/* PCA on the features added so far, instead of training: a new embedding as rp_embedding_fit_pca
 * gives for all of them, with out_dim components (0 = the params' repr_dim). The caller frees it. */
RP_API int rp_trainer_fit_pca(const rp_trainer *trainer, uint32_t out_dim, rp_embedding **out);

RP_API void rp_trainer_free(rp_trainer *trainer);

#ifdef __cplusplus
}
#endif
#endif
