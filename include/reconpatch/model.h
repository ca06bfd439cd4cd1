/* libreconpatch: the one-call API for host applications.
 *
 *   rp_train()        normal images in -> a model (extractor settings, trained head, frozen bank)
 *   rp_score_image()  a model and an image -> image score, anomaly map, decision
 *
 * The lower-level handles (extractor, trainer, bank, scorer) stay public for applications that
 * need them; this layer only wires them together. See docs/pipeline.md.
 * Threads: a model is immutable once rp_train returns it; rp_score_image may run from several
 * threads at once on one model. */
#ifndef RECONPATCH_MODEL_H
#define RECONPATCH_MODEL_H

#include "core.h"
#include "image.h"
#include "extractor.h"
#include "bank.h"
#include "scorer.h"
#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_model rp_model;

#define RP_METHOD_RECONPATCH 1 /* learned representation f before the bank (default) */
#define RP_METHOD_PATCHCORE 2  /* patch features go into the bank as they are */

typedef struct rp_train_params {
    uint32_t struct_size;
    int32_t method;                       /* RP_METHOD_*; 0 = RP_METHOD_RECONPATCH */
    const rp_extractor_params *extractor; /* NULL = defaults (the cached Keras ResNet-50) */
    const rp_trainer_params *trainer;     /* NULL = defaults; ignored for PatchCore */
    const rp_bank_params *bank;           /* NULL = defaults (10% coreset); dim is set here */
    const rp_scorer_params *scorer;       /* NULL = defaults; geometry is taken from extractor */
    uint32_t batch_size;                  /* images per backbone batch; 0 = 4 */
    uint32_t reserved0;
} rp_train_params;

RP_API int rp_train_params_init(rp_train_params *params, size_t size);

/* Train on normal images given as file paths (PNG or JPEG). progress may be NULL; its stages
 * are RP_STAGE_FEATURES, RP_STAGE_TRAIN (ReConPatch only) and RP_STAGE_CORESET. On failure
 * *out is NULL and the failing path is named in the message. */
RP_API int rp_train(const char *const *paths, uint32_t count, const rp_train_params *params,
                    rp_progress_fn progress, void *user_data, rp_model **out);
/* The same from decoded images (borrowed for the call). */
RP_API int rp_train_images(const rp_image *const *images, uint32_t count, const rp_train_params *params,
                           rp_progress_fn progress, void *user_data, rp_model **out);

/* Score one image. result_out (struct_size set by the caller) gets the scores and, when the model
 * has a threshold, the decision; map_out (optional) gets the anomaly map in the image's own
 * geometry: rp_image_width x rp_image_height floats, row-major. */
RP_API int rp_score_image(const rp_model *model, const rp_image *image, rp_score_result *result_out,
                          float *map_out, size_t map_floats);

/* The parts, owned by the model (valid until rp_model_free). */
RP_API const rp_extractor *rp_model_extractor(const rp_model *model);
RP_API const rp_embedding *rp_model_embedding(const rp_model *model); /* NULL for PatchCore */
RP_API const rp_bank *rp_model_bank(const rp_model *model);
RP_API const rp_scorer *rp_model_scorer(const rp_model *model);
RP_API int32_t rp_model_method(const rp_model *model);

RP_API void rp_model_free(rp_model *model);

#ifdef __cplusplus
}
#endif
#endif
