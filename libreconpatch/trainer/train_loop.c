/* The ReConPatch training loop: split the images into training and validation sets, then for each
 * step draw a batch of patches across the training images, label it with the target network, take
 * one AdamW step on the online network's relaxed contrastive loss, and move the target towards the
 * online network. Validation after each epoch drives early stopping and picks the exported f. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trainer/trainer_internal.h"

typedef struct loop {
    rp__trainer_shape shape;
    rp__trainer_layout layout;
    rp__trainer_label_cfg labels;
    double margin;
    uint32_t batch, val_batch; /* rows per training / validation batch */
    float *online, *target, *grad, *best_f;
    rp__trainer_adamw opt;
    float *x, *scratch, *dz;
    rp__trainer_acts on, tg;
    double *w, *zd, *dzd;
    rp__trainer_ws ws; /* scratch of the O(batch^2) label and loss computations */
    const float **train_rows, **val_rows;
    /* Set when the features live in the trainer's temporary file: rows are then read with pread
     * (rows picked at random through the mapping would map whole cached folios of the file, and
     * the resident set would grow to the file's size), the pointers above serving as positions. */
    const rp__feature_store *spilled;
    uint32_t n_train, n_val;
    uint32_t *perm;    /* shuffled order of train_rows */
    uint32_t *val_idx; /* val_batches x val_batch fixed indices into val_rows */
    uint32_t *batch_idx;  /* the current batch: indices into train_rows */
    /* Where each training row came from: image (among the training images) and grid position.
     * Training images are contiguous in train_rows: image i starts at img_start[i]. */
    uint32_t *row_img, *row_pos, *img_start, *img_patches, *img_order;
    uint32_t n_train_img;
    uint32_t grid; /* side of the square patch grid all training images share, 0 if none */
    /* Diagnostics only (an observer is set): the initial target and its labels of the fixed
     * validation batches. */
    float *target0;
    double *val_w0;
} loop;

static void loop_free(loop *L)
{
    free(L->online);
    free(L->target);
    free(L->grad);
    free(L->best_f);
    free(L->opt.m);
    free(L->opt.v);
    free(L->x);
    free(L->scratch);
    free(L->dz);
    free(L->on.h);
    free(L->on.a);
    free(L->on.z);
    free(L->tg.h);
    free(L->tg.a);
    free(L->tg.z);
    free(L->w);
    free(L->zd);
    free(L->dzd);
    free(L->train_rows);
    free(L->val_rows);
    free(L->perm);
    free(L->val_idx);
    free(L->batch_idx);
    free(L->row_img);
    free(L->row_pos);
    free(L->img_start);
    free(L->img_patches);
    free(L->img_order);
    free(L->target0);
    free(L->val_w0);
    rp__trainer_ws_free(&L->ws);
}

static int alloc_acts(rp__trainer_acts *a, const rp__trainer_shape *s, uint32_t n)
{
    a->h = rp__malloc((size_t)n * s->repr_dim * sizeof(float));
    a->a = s->hidden_dim ? rp__malloc((size_t)n * s->hidden_dim * sizeof(float)) : NULL;
    a->z = rp__malloc((size_t)n * s->proj_dim * sizeof(float));
    return a->h && a->z && (a->a || !s->hidden_dim);
}

static int gather(const loop *L, const float *const *rows, const uint32_t *idx, uint32_t n, uint32_t dim, float *x)
{
    if (!L->spilled) {
        for (uint32_t i = 0; i < n; i++) memcpy(x + (size_t)i * dim, rows[idx[i]], dim * sizeof(float));
        return RP_OK;
    }
    const float *base = rp__feature_store_view(L->spilled);
    for (uint32_t i = 0; i < n; i++) {
        int rc = rp__feature_store_read(L->spilled, (uint64_t)(rows[idx[i]] - base) / dim, 1, x + (size_t)i * dim,
                                        "rp_trainer_train");
        if (rc) return rc;
    }
    return RP_OK;
}

/* Pseudo-labels of the batch in L->x (n rows) from the given target parameters, into L->w. */
static int batch_labels(loop *L, const float *target, uint32_t n)
{
    /* Plain values: no gradient flows through them. */
    rp__trainer_forward(&L->shape, target, L->x, n, &L->tg);
    return rp__trainer_pseudo_labels(L->tg.z, n, L->shape.proj_dim, &L->labels, L->w, &L->ws);
}

/* Loss of one batch already gathered in L->x (n rows); with want_grad also fills L->grad. The labels
 * come from the moving target, or are the given matrix w (n x n) when it is not NULL. */
static int batch_loss_with(loop *L, uint32_t n, const double *w, int want_grad, double *loss)
{
    const rp__trainer_shape *s = &L->shape;
    size_t nz = (size_t)n * s->proj_dim;
    int rc = RP_OK;
    if (!w) {
        if ((rc = batch_labels(L, L->target, n)) != RP_OK) return rc;
        w = L->w;
    }
    rp__trainer_forward(s, L->online, L->x, n, &L->on);
    for (size_t i = 0; i < nz; i++) L->zd[i] = L->on.z[i];
    rc = rp__trainer_loss(L->zd, n, s->proj_dim, w, L->margin, loss, want_grad ? L->dzd : NULL, &L->ws);
    if (rc != RP_OK) return rc;
    if (!want_grad) return RP_OK;
    for (size_t i = 0; i < nz; i++) L->dz[i] = (float)L->dzd[i];
    rp__trainer_backward(s, L->online, L->x, n, &L->on, L->dz, L->grad, L->scratch);
    rp__trainer_zero_invariant_grads(s, L->grad);
    return RP_OK;
}

static int batch_loss(loop *L, uint32_t n, int want_grad, double *loss)
{
    return batch_loss_with(L, n, NULL, want_grad, loss);
}

/* Mean loss over the fixed validation batches; with frozen, against the initial target's labels. */
static int validation_loss_of(loop *L, uint32_t val_batches, uint32_t dim, int frozen, double *out)
{
    double sum = 0.0;
    const size_t vb2 = (size_t)L->val_batch * L->val_batch;
    for (uint32_t b = 0; b < val_batches; b++) {
        int rc = gather(L, L->val_rows, L->val_idx + (size_t)b * L->val_batch, L->val_batch, dim, L->x);
        if (rc != RP_OK) return rc;
        double l;
        rc = batch_loss_with(L, L->val_batch, frozen ? L->val_w0 + vb2 * b : NULL, 0, &l);
        if (rc != RP_OK) return rc;
        sum += l;
    }
    *out = sum / val_batches;
    return RP_OK;
}

static int validation_loss(loop *L, uint32_t val_batches, uint32_t dim, double *out)
{
    return validation_loss_of(L, val_batches, dim, 0, out);
}

/* Copy f (weights then biases) of the network chosen for export. */
static void snapshot_f(const loop *L, const rp_trainer_params *p, float *dst)
{
    const float *src = p->export_target ? L->target : L->online;
    memcpy(dst, src + L->layout.w_f, (L->layout.b_f - L->layout.w_f + L->shape.repr_dim) * sizeof(float));
}

/* Split images (by image, never by patch) and build the row lists and the validation batches. */
static int split_images(rp_trainer *t, loop *L, rp__trainer_rng *rng, int with_val)
{
    uint32_t n_img = t->n_images, n_val_img = 0;
    uint8_t *is_val = rp__calloc(n_img, 1);
    uint32_t *order = rp__malloc(n_img * sizeof(uint32_t));
    if (!is_val || !order) {
        free(is_val);
        free(order);
        return rp__fail(RP_E_NOMEM, "rp_trainer_train: out of memory");
    }
    if (with_val) {
        n_val_img = (uint32_t)floor(t->p.val_fraction * n_img + 0.5);
        if (n_val_img < 1) n_val_img = 1;
        if (n_val_img > n_img - 1) n_val_img = n_img - 1;
        for (uint32_t i = 0; i < n_img; i++) order[i] = i;
        rp__trainer_shuffle(rng, order, n_img);
        for (uint32_t i = 0; i < n_val_img; i++) is_val[order[i]] = 1;
    }
    uint64_t nv = 0, nt = 0;
    for (uint32_t i = 0; i < n_img; i++) *(is_val[i] ? &nv : &nt) += t->image_patches[i];
    L->n_train = (uint32_t)nt;
    L->n_val = (uint32_t)nv;
    L->train_rows = rp__malloc((nt ? nt : 1) * sizeof(float *));
    L->val_rows = rp__malloc((nv ? nv : 1) * sizeof(float *));
    L->row_img = rp__malloc((nt ? nt : 1) * sizeof(uint32_t));
    L->row_pos = rp__malloc((nt ? nt : 1) * sizeof(uint32_t));
    L->img_start = rp__malloc(n_img * sizeof(uint32_t));
    L->img_patches = rp__malloc(n_img * sizeof(uint32_t));
    L->img_order = rp__malloc(n_img * sizeof(uint32_t));
    int ok = L->train_rows && L->val_rows && L->row_img && L->row_pos && L->img_start && L->img_patches &&
             L->img_order;
    if (ok) {
        uint32_t a = 0, b = 0, ti = 0;
        for (uint32_t i = 0; i < n_img; i++) {
            if (!is_val[i]) {
                L->img_start[ti] = a;
                L->img_patches[ti] = t->image_patches[i];
                L->img_order[ti] = ti;
            }
            for (uint32_t r = 0; r < t->image_patches[i]; r++) {
                const float *row = rp__trainer_image_rows(t, i) + (size_t)r * t->in_dim;
                if (is_val[i]) {
                    L->val_rows[b++] = row;
                } else {
                    L->row_img[a] = ti;
                    L->row_pos[a] = r;
                    L->train_rows[a++] = row;
                }
            }
            if (!is_val[i]) ti++;
        }
        L->n_train_img = ti;
    }
    free(is_val);
    free(order);
    if (!ok) return rp__fail(RP_E_NOMEM, "rp_trainer_train: out of memory");
    return RP_OK;
}

/* Fixed validation batches: consecutive slices of shuffled validation rows, reshuffled when used up. */
static int make_val_batches(loop *L, rp__trainer_rng *rng, uint32_t val_batches)
{
    uint32_t *order = rp__malloc(L->n_val * sizeof(uint32_t));
    L->val_idx = rp__malloc((size_t)val_batches * L->val_batch * sizeof(uint32_t));
    if (!order || !L->val_idx) {
        free(order);
        return rp__fail(RP_E_NOMEM, "rp_trainer_train: out of memory");
    }
    for (uint32_t i = 0; i < L->n_val; i++) order[i] = i;
    uint32_t cursor = L->n_val;
    for (uint32_t b = 0; b < val_batches; b++) {
        if (cursor + L->val_batch > L->n_val) {
            rp__trainer_shuffle(rng, order, L->n_val);
            cursor = 0;
        }
        memcpy(L->val_idx + (size_t)b * L->val_batch, order + cursor, L->val_batch * sizeof(uint32_t));
        cursor += L->val_batch;
    }
    free(order);
    return RP_OK;
}

static int alloc_loop(loop *L, const rp_trainer_params *p)
{
    const rp__trainer_shape *s = &L->shape;
    size_t np = L->layout.total, B = L->batch;
    size_t f_count = L->layout.b_f + s->repr_dim;
    L->online = rp__malloc(np * sizeof(float));
    L->target = rp__malloc(np * sizeof(float));
    L->grad = rp__malloc(np * sizeof(float));
    L->best_f = rp__malloc(f_count * sizeof(float));
    L->opt.m = rp__calloc(np, sizeof(float));
    L->opt.v = rp__calloc(np, sizeof(float));
    L->x = rp__malloc(B * s->in_dim * sizeof(float));
    L->scratch = rp__malloc(B * (s->repr_dim + s->hidden_dim) * sizeof(float));
    L->dz = rp__malloc(B * s->proj_dim * sizeof(float));
    L->w = rp__malloc(B * B * sizeof(double));
    L->zd = rp__malloc(B * s->proj_dim * sizeof(double));
    L->dzd = rp__malloc(B * s->proj_dim * sizeof(double));
    L->perm = rp__malloc((size_t)L->n_train * sizeof(uint32_t));
    L->batch_idx = rp__malloc(B * sizeof(uint32_t));
    int acts = alloc_acts(&L->on, s, L->batch) & alloc_acts(&L->tg, s, L->batch);
    if (rp__trainer_ws_init(&L->ws, L->batch, s->proj_dim, p->k) != RP_OK) acts = 0;
    if (!acts || !L->online || !L->target || !L->grad || !L->best_f || !L->opt.m || !L->opt.v || !L->x ||
        !L->scratch || !L->dz || !L->w || !L->zd || !L->dzd || !L->perm || !L->batch_idx)
        return rp__fail(RP_E_NOMEM, "rp_trainer_train: out of memory for a batch of %zu (%zu parameters)", B, np);
    return RP_OK;
}

/* Side of the square patch grid shared by every training image, or 0 if there is none. */
static uint32_t common_grid(const loop *L)
{
    uint32_t p = L->n_train_img ? L->img_patches[0] : 0, g = 0;
    while ((g + 1) * (g + 1) <= p) g++;
    if (!g || g * g != p) return 0;
    for (uint32_t i = 1; i < L->n_train_img; i++)
        if (L->img_patches[i] != p) return 0;
    return g;
}

/* UNIFORM: the next slice of a shuffled order of all training rows, reshuffled when used up. */
static void uniform_batch(loop *L, rp__trainer_rng *rng, uint32_t *cursor)
{
    if (*cursor + L->batch > L->n_train) {
        rp__trainer_shuffle(rng, L->perm, L->n_train);
        *cursor = 0;
    }
    memcpy(L->batch_idx, L->perm + *cursor, L->batch * sizeof(uint32_t));
    *cursor += L->batch;
}

/* Statistics of the labels in L->w and the neighbour lists in L->ws.nbr of the current batch. */
static void label_stats(const loop *L, uint32_t grid, rp__trainer_step_stats *st)
{
    const uint32_t n = L->batch, k = L->labels.k;
    uint64_t half = 0, same_pos = 0, near_pos = 0, same_img = 0;
    double wsum = 0.0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            if (j != i) {
                double w = L->w[(size_t)i * n + j];
                wsum += w;
                half += w > 0.5;
            }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ri = L->batch_idx[i];
        for (uint32_t a = 1; a < k; a++) { /* entry 0 is i itself */
            uint32_t rj = L->batch_idx[L->ws.nbr[(size_t)i * k + a]];
            if (L->row_img[rj] == L->row_img[ri]) {
                same_img++;
                continue;
            }
            uint32_t pi = L->row_pos[ri], pj = L->row_pos[rj];
            same_pos += pi == pj;
            if (grid) {
                int dy = (int)(pi / grid) - (int)(pj / grid), dx = (int)(pi % grid) - (int)(pj % grid);
                near_pos += dy >= -1 && dy <= 1 && dx >= -1 && dx <= 1;
            }
        }
    }
    const double pairs = (double)n * (n - 1), nbrs = (double)n * (k - 1);
    st->share_w_half = half / pairs;
    st->mean_w = wsum / pairs;
    st->nn_same_position = same_pos / nbrs;
    st->nn_near_position = grid ? near_pos / nbrs : NAN;
    st->nn_same_image = same_img / nbrs;
}

/* Diagnostics: keep the initial target and label the validation batches with it once. */
static int freeze_initial_labels(loop *L, uint32_t val_batches, uint32_t dim)
{
    const size_t vb2 = (size_t)L->val_batch * L->val_batch;
    L->target0 = rp__malloc(L->layout.total * sizeof(float));
    L->val_w0 = rp__malloc(vb2 * val_batches * sizeof(double));
    if (!L->target0 || !L->val_w0) return rp__fail(RP_E_NOMEM, "rp_trainer_train: out of memory (diagnostics)");
    memcpy(L->target0, L->target, L->layout.total * sizeof(float));
    for (uint32_t b = 0; b < val_batches; b++) {
        int rc = gather(L, L->val_rows, L->val_idx + (size_t)b * L->val_batch, L->val_batch, dim, L->x);
        if (rc == RP_OK) rc = batch_labels(L, L->target0, L->val_batch);
        if (rc != RP_OK) return rc;
        memcpy(L->val_w0 + vb2 * b, L->w, vb2 * sizeof(double));
    }
    return RP_OK;
}

/* Check what training needs, split the images and size the batches, allocate the loop. */
static int prepare(rp_trainer *t, loop *L, rp__trainer_rng *rng, int with_val)
{
    const rp_trainer_params *p = &t->p;
    if (!t->n_images || !t->in_dim)
        return rp__fail(RP_E_STATE, "rp_trainer_train: no features added (rp_trainer_add_image_features)");
    if (with_val && t->n_images < 2)
        return rp__fail(RP_E_STATE,
                        "rp_trainer_train: validation by image needs at least 2 images, have %u "
                        "(or set val_fraction < 0)",
                        t->n_images);

    L->shape = (rp__trainer_shape){t->in_dim, p->repr_dim, p->proj_dim, p->proj_hidden};
    rp__trainer_layout_of(&L->shape, &L->layout);
    L->labels = (rp__trainer_label_cfg){p->sigma, p->k, p->alpha, !p->raw_targets,
                                        p->target_centering == RP_TARGETS_CENTERED};
    L->margin = p->margin;

    int rc = split_images(t, L, rng, with_val);
    if (rc != RP_OK) return rc;
    L->spilled = rp__feature_store_spilled(&t->features) ? &t->features : NULL;
    L->batch = p->batch_size < L->n_train ? p->batch_size : L->n_train;
    if (L->batch < p->k)
        return rp__fail(RP_E_STATE, "rp_trainer_train: %u training patches, fewer than k = %u", L->n_train, p->k);
    if (with_val) {
        L->val_batch = L->batch < L->n_val ? L->batch : L->n_val;
        if (L->val_batch < p->k)
            return rp__fail(RP_E_STATE, "rp_trainer_train: %u validation patches, fewer than k = %u", L->n_val,
                            p->k);
    }
    L->grid = common_grid(L);
    if (p->sampler == RP_SAMPLER_ALIGNED && !L->grid)
        return rp__fail(RP_E_STATE, "rp_trainer_train: the aligned sampler needs every image's patches on one "
                                    "square grid (first image: %u patches)",
                        L->n_train_img ? L->img_patches[0] : 0);
    if ((rc = alloc_loop(L, p)) != RP_OK) return rc;
    if (with_val && (rc = make_val_batches(L, rng, p->val_batches)) != RP_OK) return rc;
    return RP_OK;
}

/* Steps per epoch: the params', else one pass over the training patches (capped). */
static uint32_t steps_per_epoch(const loop *L, const rp_trainer_params *p)
{
    uint32_t spe = p->steps_per_epoch;
    if (!spe) {
        spe = L->n_train / L->batch;
        if (spe > RP__TRAINER_DEFAULT_STEPS_CAP) spe = RP__TRAINER_DEFAULT_STEPS_CAP;
        if (spe < 1) spe = 1;
    }
    return spe;
}

/* Seeded initialisation of the online network, the target as its copy, a fresh AdamW state. */
static void init_networks(loop *L, const rp_trainer_params *p, rp__trainer_rng *rng)
{
    rp__trainer_init_params(&L->shape, rng, L->online);
    memcpy(L->target, L->online, L->layout.total * sizeof(float));
    L->opt.beta1 = 0.9;
    L->opt.beta2 = 0.999;
    L->opt.eps = 1e-8;
    L->opt.weight_decay = p->weight_decay;
    L->opt.t = 0;
    for (uint32_t i = 0; i < L->n_train; i++) L->perm[i] = i;
}

/* Where the loop is: the shuffled order's read position, steps taken, and the early stopping. */
typedef struct loop_state {
    uint32_t cursor;  /* next row of perm; n_train forces a shuffle before the first batch */
    uint64_t step_no; /* steps taken */
    uint64_t total;   /* steps planned */
    double best_val;  /* lowest validation loss so far */
    uint32_t since_best;
    double val;       /* last validation loss (NaN before the first) */
} loop_state;

/* Diagnostics after a step: the labels' statistics and both validation losses, to the observer. */
static int observe_step(rp_trainer *t, loop *L, rp__trainer_step_stats *st, int with_val)
{
    if (with_val) {
        int rc = validation_loss(L, t->p.val_batches, t->in_dim, &st->val_loss);
        if (rc == RP_OK) rc = validation_loss_of(L, t->p.val_batches, t->in_dim, 1, &st->val_loss_frozen);
        if (rc != RP_OK) return rp__fail(rc, "rp_trainer_train: out of memory during validation");
    }
    t->observer(st, t->observer_data);
    return RP_OK;
}

/* One training step: draw a batch (the aligned sampler's, or the next slice of the shuffled order),
 * its loss and gradient, then AdamW on the online network and the EMA of the target. A non-finite
 * loss is divergence. */
static int train_step(rp_trainer *t, loop *L, rp__trainer_rng *rng, loop_state *st, uint32_t e, uint32_t s,
                      int with_val, double *loss)
{
    const rp_trainer_params *p = &t->p;
    if (p->sampler == RP_SAMPLER_ALIGNED) {
        rp__trainer_sampler sm = {L->n_train_img, L->grid, L->img_start, L->img_order};
        rp__trainer_sample_aligned(&sm, rng, p->sampler_window, L->batch, L->batch_idx);
    } else {
        uniform_batch(L, rng, &st->cursor);
    }
    int rc = gather(L, L->train_rows, L->batch_idx, L->batch, t->in_dim, L->x);
    if (rc != RP_OK) return rc;
    rc = batch_loss(L, L->batch, 1, loss);
    if (rc != RP_OK)
        return rp__fail(rc, "rp_trainer_train: out of memory for the pseudo-labels of a batch of %u", L->batch);
    if (!isfinite(*loss))
        return rp__fail(RP_E_DIVERGED, "rp_trainer_train: training diverged: loss is %g at epoch %u step %u: "
                                       "lower lr (%g)", *loss, e, s, p->lr);
    rp__trainer_step_stats stats = {.step = st->step_no, .epoch = e, .loss = *loss, .val_loss = NAN,
                                    .val_loss_frozen = NAN};
    if (t->observer) label_stats(L, L->grid, &stats);
    stats.lr = rp__trainer_cosine_lr(p->lr, p->lr_min, st->step_no, st->total);
    rp__trainer_adamw_step(&L->opt, L->online, L->grad, L->layout.total, stats.lr);
    rp__trainer_ema_update(L->target, L->online, L->layout.total, p->ema_momentum);
    if (t->observer && (rc = observe_step(t, L, &stats, with_val)) != RP_OK) return rc;
    st->step_no++;
    return RP_OK;
}

/* End of epoch e: record the mean loss, validate, keep the best f, and decide on early stopping. */
static int end_epoch(rp_trainer *t, loop *L, loop_state *st, uint32_t e, double mean_loss, int with_val, int *stop)
{
    const rp_trainer_params *p = &t->p;
    t->hist_train[e] = mean_loss;
    t->hist_epochs = e + 1;
    if (with_val) {
        int rc = validation_loss(L, p->val_batches, t->in_dim, &st->val);
        if (rc == RP_E_IO) return rc; /* reading a spilled feature back failed: the read said so */
        if (rc != RP_OK) return rp__fail(rc, "rp_trainer_train: out of memory during validation");
        if (st->val < st->best_val) {
            st->best_val = st->val;
            st->since_best = 0;
            t->best_epoch = (int32_t)e;
            snapshot_f(L, p, L->best_f);
        } else if (++st->since_best >= p->patience) {
            *stop = 1;
        }
    } else {
        t->best_epoch = (int32_t)e;
    }
    t->hist_val[e] = st->val;
    rp__log(RP_LOG_DEBUG, "rp_trainer_train: epoch %u loss %.6f val_loss %.6f", e, t->hist_train[e], st->val);
    return RP_OK;
}

static int train(rp_trainer *t, loop *L, rp_progress_fn progress, void *user_data)
{
    const rp_trainer_params *p = &t->p;
    const int with_val = p->val_fraction > 0.0;
    rp__trainer_rng rng;
    rp__trainer_rng_seed(&rng, p->seed);
    int rc = prepare(t, L, &rng, with_val);
    if (rc != RP_OK) return rc;

    const uint32_t spe = steps_per_epoch(L, p);
    uint64_t total = (uint64_t)p->epochs * spe;
    if (p->max_steps && p->max_steps < total) total = p->max_steps;
    const uint32_t epochs = (uint32_t)((total + spe - 1) / spe);
    free(t->hist_train);
    free(t->hist_val);
    t->hist_train = rp__malloc(epochs * sizeof(double));
    t->hist_val = rp__malloc(epochs * sizeof(double));
    if (!t->hist_train || !t->hist_val) return rp__fail(RP_E_NOMEM, "rp_trainer_train: out of memory");

    init_networks(L, p, &rng);
    if (t->observer && with_val && (rc = freeze_initial_labels(L, p->val_batches, t->in_dim)) != RP_OK) return rc;
    loop_state st = {.cursor = L->n_train, .total = total, .best_val = INFINITY, .val = NAN};
    int stop = 0;
    for (uint32_t e = 0; e < epochs && !stop; e++) {
        double sum = 0.0;
        uint32_t steps = 0;
        for (uint32_t s = 0; s < spe && st.step_no < total; s++) {
            double loss;
            if ((rc = train_step(t, L, &rng, &st, e, s, with_val, &loss)) != RP_OK) return rc;
            steps++;
            sum += loss;
            const int epoch_end = s + 1 == spe || st.step_no == total;
            if (epoch_end && (rc = end_epoch(t, L, &st, e, sum / steps, with_val, &stop)) != RP_OK) return rc;
            if (progress) {
                rp_progress pr = {sizeof pr, RP_STAGE_TRAIN, (int64_t)st.step_no, (int64_t)total, (int32_t)e,
                                  (int32_t)s, loss, st.val};
                if (progress(&pr, user_data))
                    return rp__fail(RP_E_CANCELLED, "rp_trainer_train: cancelled by the progress callback at "
                                                    "epoch %u step %u",
                                    e, s);
            }
        }
    }
    if (!with_val) snapshot_f(L, p, L->best_f);
    /* Hand the chosen f over to the trainer. */
    free(t->f_params);
    t->f_params = L->best_f;
    L->best_f = NULL;
    t->trained = 1;
    return RP_OK;
}

int rp__trainer_run(rp_trainer *t, rp_progress_fn progress, void *user_data)
{
    /* Drop the previous results first: whatever happens below, no stale f is handed out. */
    t->trained = 0;
    t->hist_epochs = 0;
    t->best_epoch = -1;
    loop L;
    memset(&L, 0, sizeof L);
    int old_threads = openblas_get_num_threads();
    openblas_set_num_threads((int)t->p.num_threads);
    int rc = train(t, &L, progress, user_data);
    openblas_set_num_threads(old_threads);
    loop_free(&L);
    return rc;
}
