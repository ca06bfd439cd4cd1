/* A head from the patch features a trainer holds, and the bank vectors it makes of them: shared
 * by rp_train (one head for all categories, or one per category) and rp_model_add_normals (a head
 * fitted on the new category alone). */
#include <stdlib.h>

#include "bank/bank_internal.h"
#include "common/alloc.h"
#include "pipeline/pipeline_internal.h"
#include "trainer/trainer_features.h"

int rp__fit_head(rp_trainer *trainer, int32_t method, rp_progress_fn progress, void *user_data, rp_embedding **out)
{
    *out = NULL;
    if (method == RP_METHOD_PCA) return rp_trainer_fit_pca(trainer, 0, out); /* fitted, not trained */
    int rc = rp_trainer_train(trainer, progress, user_data);
    return rc ? rc : rp_trainer_get_embedding(trainer, out);
}

/* f applied to every stored training patch (the trainer keeps one block per image), straight into
 * a bank: all training images, the validation share included, describe normal appearance. Each
 * image's features are released once embedded (they may be in a temporary file). */
int rp__embed_into_banks(const rp_trainer *trainer, const rp_embedding *f, rp_model *m, const uint32_t *category,
                         rp_bank *bank, const char *fn)
{
    const uint32_t out_dim = rp_embedding_out_dim(f), n_images = rp_trainer_image_count(trainer);
    uint32_t most = 0, n;
    for (uint32_t i = 0; i < n_images; i++)
        if (rp__trainer_image_features(trainer, i, &n) && n > most) most = n;
    const size_t floats = (size_t)most * out_dim;
    float *block = rp__malloc((floats ? floats : 1) * sizeof(float));
    if (!block) return rp__fail(RP_E_NOMEM, "%s: out of memory for the embedding buffer", fn);
    int rc = RP_OK;
    for (uint32_t i = 0; i < n_images && !rc; i++) {
        const float *features = rp__trainer_image_features(trainer, i, &n);
        rc = rp_embedding_apply(f, features, n, block, (size_t)n * out_dim);
        rp__trainer_release_features(trainer, i);
        if (!rc) rc = rp_bank_add(category ? m->categories[category[i]].bank : bank, block, n, out_dim);
    }
    free(block);
    return rc;
}

int rp__fit_head_into_bank(rp_trainer *trainer, int32_t method, rp_bank_params bp, uint64_t bank_limit,
                           const char *spill_dir, rp_progress_fn progress, void *user_data, const char *fn,
                           rp_embedding **head_out, rp_bank **bank_out)
{
    rp_embedding *head = NULL;
    rp_bank *bank = NULL;
    int rc = rp__fit_head(trainer, method, progress, user_data, &head);
    if (!rc) {
        bp.dim = rp_embedding_out_dim(head);
        rc = rp_bank_create(&bp, &bank);
    }
    if (!rc) rc = rp__bank_set_memory_limit(bank, bank_limit, spill_dir, fn);
    if (!rc) rc = rp__embed_into_banks(trainer, head, NULL, NULL, bank, fn);
    if (rc) {
        rp_embedding_free(head);
        rp_bank_free(bank);
        head = NULL;
        bank = NULL;
    }
    *head_out = head;
    *bank_out = bank;
    return rc;
}

int rp__heads_check(int32_t heads, int for_training, const char *fn)
{
    if (heads == RP_HEADS_NONE && for_training)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.heads RP_HEADS_NONE (3) is for rp_model_add_normals; a model "
                                          "without a head is RP_METHOD_PATCHCORE", fn);
    if (heads < RP_HEADS_AUTO || heads > RP_HEADS_NONE)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.heads %d is not RP_HEADS_AUTO (0), RP_HEADS_SHARED (1), "
                                          "RP_HEADS_PER_CATEGORY (2) or RP_HEADS_NONE (3)", fn, heads);
    return RP_OK;
}
