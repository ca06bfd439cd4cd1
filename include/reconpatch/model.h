/* libreconpatch: the one-call API for host applications.
 *
 *   rp_train()        normal images in -> a model (extractor settings, trained head, frozen bank)
 *   rp_score_image()  a model and an image -> image score, anomaly map, decision, defect mask
 *   rp_model_save() / rp_model_load()   the model as one file (docs/model-format.md)
 *   rp_model_calibrate*()               decision thresholds from held-out images
 *
 * The lower-level handles (extractor, trainer, bank, scorer) stay public for applications that
 * need them; this layer only wires them together. See docs/pipeline.md.
 * Threads: rp_score_image, rp_model_save and the getters may run from several threads at once on
 * one model. rp_model_calibrate, rp_model_calibrate_labelled and rp_model_set_thresholds change
 * the model: they need exclusive use (no other call on that model at the same time). */
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
#define RP_METHOD_PCA 3        /* PCA onto trainer.repr_dim components before the bank (untrained
                                  baseline of the head; model format version 3) */

/* The quantile of the normal-image rule when none is given (see rp_calibration_params). */
#define RP_CALIBRATION_DEFAULT_QUANTILE 0.99

typedef struct rp_train_params {
    uint32_t struct_size;
    int32_t method;                       /* RP_METHOD_*; 0 = RP_METHOD_RECONPATCH */
    const rp_extractor_params *extractor; /* NULL = defaults (the cached Keras ResNet-50) */
    const rp_trainer_params *trainer;     /* NULL = defaults; ignored for PatchCore */
    const rp_bank_params *bank;           /* NULL = defaults (10% coreset); dim is set here */
    const rp_scorer_params *scorer;       /* NULL = defaults; geometry is taken from extractor */
    uint32_t batch_size;                  /* images per backbone batch; 0 = 4 */
    uint32_t reserved0;
    /* Share of the images held out of training and used to calibrate the thresholds with
     * rp_model_calibrate's rule; 0 = none (the model has no thresholds). In (0, 1): h =
     * max(1, round(count x fraction)) images, evenly spaced through the list (image i is held out
     * when floor((i + 1) h / count) > floor(i h / count)); at least one image must remain. */
    double calibration_fraction;
    double calibration_quantile;          /* q of that calibration; 0 = 0.99 */
    /* Several products in one model (docs/unified.md). With category_count >= 1 the model records
     * its categories and can take more later (rp_model_add_normals); with 2 or more every category
     * gets its own coreset bank (bank.coreset_ratio of its own patches) and thresholds (its own
     * held-out share), the head (ReConPatch, PCA) is fitted per category or on all images together
     * (heads below), and rp_score_image sends each image to the category of its nearest training
     * image. Image i is
     * of category image_categories[i] (0..category_count-1; every category needs an image; may be
     * NULL for one category); category_names (may be NULL) names them. 0: a plain model. */
    uint32_t category_count;
    uint32_t reserved1;
    const uint32_t *image_categories;
    const char *const *category_names;
    /* Bytes of patch features held in memory while training (docs/memory-bank.md, "Training
     * memory"): the head's trainer and the banks of all categories before their coresets together
     * hold at most about this much; past it their features move to an unlinked temporary file in
     * spill_dir, read back with the same values (the model is the same either way). 0 = 2 GiB;
     * UINT64_MAX = never spill (everything in memory). A shorter struct (older callers) reads as 0. */
    uint64_t feature_memory_limit;
    const char *spill_dir; /* folder of that file; NULL = $TMPDIR, else /tmp */
    /* Which head each category's bank is made with (ReConPatch and PCA models of several
     * categories; docs/unified.md): RP_HEADS_*. 0 = RP_HEADS_AUTO. A shorter struct reads as 0. */
    int32_t heads;
    uint32_t reserved2;
} rp_train_params;

/* rp_train_params.heads. rp_train with category_count >= 2 and rp_model_add_normals read it; a
 * model of one category has its one head whatever the value. */
#define RP_HEADS_AUTO 0         /* rp_train: RP_HEADS_PER_CATEGORY; rp_model_add_normals: as the model was
                                   trained (RP_HEADS_SHARED when its categories share one head, else
                                   RP_HEADS_PER_CATEGORY) */
#define RP_HEADS_SHARED 1       /* rp_train: one head fitted on every category's images; rp_model_add_normals:
                                   the new category's vectors made by the model's head (category 0's), frozen */
#define RP_HEADS_PER_CATEGORY 2 /* each category a head fitted on its own images alone (the model of
                                   each category is then the model trained on it alone); adding one fits
                                   the new category's head, the others stay as they are */
#define RP_HEADS_NONE 3         /* rp_model_add_normals only: the new category's bank holds the backbone's
                                   patch features (PatchCore's vectors), no head, nothing fitted */

RP_API int rp_train_params_init(rp_train_params *params, size_t size);

/* Train on normal images given as file paths (PNG or JPEG), each at least 1/8 of the resize
 * frame on a side (32 x 32 pixels at the default resize 256; smaller: RP_E_SHAPE naming the image,
 * its size and the minimum; docs/preprocessing.md). progress may be NULL; its stages
 * are RP_STAGE_FEATURES, RP_STAGE_TRAIN (ReConPatch only; once per category when each has its
 * own head), RP_STAGE_CORESET and, with a
 * calibration share, RP_STAGE_SCORE. On failure *out is NULL and the failing path is named in the
 * message. */
RP_API int rp_train(const char *const *paths, uint32_t count, const rp_train_params *params,
                    rp_progress_fn progress, void *user_data, rp_model **out);
/* The same from decoded images (borrowed for the call). */
RP_API int rp_train_images(const rp_image *const *images, uint32_t count, const rp_train_params *params,
                           rp_progress_fn progress, void *user_data, rp_model **out);

/* Score one image (at least 32 x 32 pixels at the default resize 256, as for rp_train: smaller
 * fails with RP_E_SHAPE). result_out (struct_size set by the caller; may be NULL) gets the scores and
 * the decision (RP_DECISION_NONE when the model has no image threshold). Optional outputs:
 *   map_out   the anomaly map in the image's own geometry: rp_image_width x rp_image_height
 *             floats, row-major (map_floats at least that, else RP_E_SHAPE);
 *   mask_out  the binary defect mask in the same geometry: 1 where the map is above the model's
 *             pixel threshold, else 0 (mask_size bytes, at least width x height, else RP_E_SHAPE;
 *             RP_E_STATE when the model has no pixel threshold).
 * On failure nothing is written to the outputs. */
RP_API int rp_score_image(const rp_model *model, const rp_image *image, rp_score_result *result_out,
                          float *map_out, size_t map_floats, uint8_t *mask_out, size_t mask_size);

/* Add a product to a model that records categories (trained with category_count >= 1), without
 * retraining what it holds (docs/unified.md): its normal images (PNG/JPEG paths) get their own
 * coreset bank; their descriptors join the router; with params->calibration_fraction the category
 * gets its own thresholds. The bank's vectors (ReConPatch, PCA; params->heads): made by a head
 * fitted on the new images alone (RP_HEADS_PER_CATEGORY, with params->trainer; the other
 * categories and their heads are not touched: the category is then what training with it would
 * have given), the model's frozen head (RP_HEADS_SHARED), or the backbone's patch features
 * (RP_HEADS_NONE: no head, nothing fitted, as PatchCore); RP_HEADS_AUTO: as the model was trained.
 * PatchCore: the features. Of params (may be NULL) bank (coreset_ratio, coreset_count, knn_int8, seed), heads,
 * trainer, batch_size, calibration_fraction, calibration_quantile, feature_memory_limit and
 * spill_dir are used, the rest is the model's.
 * name: new among the model's categories. Exclusive use of the model; on failure it is unchanged.
 * RP_E_STATE for a plain model, RP_E_LIMIT past 1024 categories. */
RP_API int rp_model_add_normals(rp_model *model, const char *name, const char *const *paths, uint32_t count,
                                const rp_train_params *params, rp_progress_fn progress, void *user_data);
/* The same from decoded images (borrowed for the call). */
RP_API int rp_model_add_normal_images(rp_model *model, const char *name, const rp_image *const *images,
                                      uint32_t count, const rp_train_params *params, rp_progress_fn progress,
                                      void *user_data);

/* rp_score_image against one given category of a model of several (docs/unified.md), without
 * routing: for lines that know which product is in front of the camera, and to check the router.
 * category in 0..rp_model_category_count-1 (else RP_E_INVALID_ARG); its thresholds decide. */
RP_API int rp_score_image_in_category(const rp_model *model, uint32_t category, const rp_image *image,
                                      rp_score_result *result_out, float *map_out, size_t map_floats,
                                      uint8_t *mask_out, size_t mask_size);

/* Score count images in one call: each as rp_score_image would (routed, thresholds, decision),
 * with the backbone run over up to 8 of them at a time (whether that is faster per image depends
 * on the CPU and the bank: measured in docs/scoring.md, "Where the time goes"). Scores may differ from rp_score_image's in
 * the last bits (oneDNN sums in another order at another batch size). Optional outputs:
 *   results_out  count results (struct_size set by the caller in each);
 *   maps_out     count pointers, each NULL (no map for that image) or holding map_floats[i] >=
 *                width x height floats of image i: its map in its own geometry.
 * The arguments are checked before anything is scored. A failure part-way (an image too small, out
 * of memory) names the image; outputs of earlier images may have been written, none of later ones.
 * count 0 is a no-op. */
RP_API int rp_score_images(const rp_model *model, const rp_image *const *images, uint32_t count,
                           rp_score_result *results_out, float *const *maps_out, const size_t *map_floats);

/* The categories of a model: 1 for a model of one product. The name is "" when none was given,
 * NULL for a category out of range; it is owned by the model. */
RP_API uint32_t rp_model_category_count(const rp_model *model);
RP_API const char *rp_model_category_name(const rp_model *model, uint32_t category);

/* Routing by hand, for callers that run the extractor themselves (rp_extractor_patch_features of
 * rp_model_extractor: grid_size^2 x feature_dim floats, exactly): the category rp_score_image would
 * choose (0 for a model of one category), and that category's scorer, owned by the model (NULL out
 * of range). */
RP_API int rp_model_route_features(const rp_model *model, const float *features, size_t features_floats,
                                   uint32_t *category_out);
RP_API const rp_scorer *rp_model_category_scorer(const rp_model *model, uint32_t category);

/* The parts, owned by the model (valid until rp_model_free). For a model of several categories
 * rp_model_bank, rp_model_scorer and rp_model_embedding give category 0's (another category's head
 * is its scorer's: rp_model_category_scorer). */
RP_API const rp_extractor *rp_model_extractor(const rp_model *model);
RP_API const rp_embedding *rp_model_embedding(const rp_model *model); /* NULL for PatchCore */
RP_API const rp_bank *rp_model_bank(const rp_model *model);
RP_API const rp_scorer *rp_model_scorer(const rp_model *model);
RP_API int32_t rp_model_method(const rp_model *model);

/* The memory a model holds, in bytes, by part: the library's own heap objects. Not counted: the
 * code oneDNN generates, the scratch of a call while it runs (features, tiles, maps), and an
 * activation arena while a call uses it. */
typedef struct rp_model_memory {
    uint32_t struct_size;
    uint32_t reserved0;
    uint64_t backbone_weights;     /* weights in their oneDNN layouts, with the copies a batch size needed */
    uint64_t backbone_activations; /* activation arenas kept between calls: one per call that ran at once */
    uint64_t heads;                /* the model's embedding and the categories' own heads */
    uint64_t banks;                /* every category's kept vectors, coreset selection and search index */
    uint64_t router;               /* the per-image descriptors that route among several categories */
    uint64_t total;                /* the sum of the above */
} rp_model_memory;

/* Fill *out (struct_size set by the caller; min(size) bytes filled). Safe beside scoring calls on
 * the same model; the activations then count the arenas not in use at that moment. */
RP_API int rp_model_get_memory(const rp_model *model, rp_model_memory *out, size_t size);

RP_API void rp_model_free(rp_model *model);

/* ---- thresholds ------------------------------------------------------------------------- */

#define RP_THRESHOLD_RULE_NONE 0     /* no thresholds */
#define RP_THRESHOLD_RULE_QUANTILE 1 /* normal images: conformal quantile of scores / map maxima */
#define RP_THRESHOLD_RULE_F1 2       /* labelled images: F1-optimal image threshold */
#define RP_THRESHOLD_RULE_USER 3     /* set by rp_model_set_thresholds */

typedef struct rp_model_thresholds {
    uint32_t struct_size;
    int32_t rule;                /* RP_THRESHOLD_RULE_*: how they were set (output only) */
    double image_threshold;      /* anomalous iff image score > this; NaN = none */
    double pixel_threshold;      /* map pixel is a defect iff its value > this; NaN = none */
    double quantile;             /* the q used (QUANTILE, and the pixel part of F1); else NaN */
    double f1;                   /* F1 reached on the calibration set (F1 rule); else NaN */
    uint32_t calibration_images; /* images the rule used (0 for USER / NONE) */
    uint32_t reserved0;
} rp_model_thresholds;

/* Copy the model's thresholds out (struct_size set by the caller; min(size) bytes filled). For a
 * model of several categories: category 0's. */
RP_API int rp_model_get_thresholds(const rp_model *model, rp_model_thresholds *out, size_t size);
/* The same for one category (0..rp_model_category_count-1, else RP_E_INVALID_ARG). */
RP_API int rp_model_get_category_thresholds(const rp_model *model, uint32_t category, rp_model_thresholds *out,
                                            size_t size);
/* Set them by hand: image_threshold and pixel_threshold (NaN removes one; otherwise finite) are
 * taken, the other fields ignored; the rule becomes RP_THRESHOLD_RULE_USER (NONE if both NaN).
 * A model of several categories gets them in every category. */
RP_API int rp_model_set_thresholds(rp_model *model, const rp_model_thresholds *thresholds);

typedef struct rp_calibration_params {
    uint32_t struct_size;
    uint32_t reserved0;
    double quantile;             /* q in (0, 1); 0 = RP_CALIBRATION_DEFAULT_QUANTILE (0.99) */
} rp_calibration_params;

RP_API int rp_calibration_params_init(rp_calibration_params *params, size_t size);

/* Thresholds from normal images (docs/pipeline.md, "Thresholds"): with the n images' scores
 * sorted, s_(1) <= ... <= s_(n), the image threshold is s_(k), k = min(n, ceil((n + 1) q)): a new
 * normal image from the same distribution is flagged with probability at most 1 - k / (n + 1)
 * (about 1 - q once n >= q / (1 - q), else 1 / (n + 1)). The pixel threshold is the same rule on
 * each image's map maximum (in its own geometry), so a new normal image gets an empty mask with the
 * same probability. params may be NULL. progress (may be NULL): stage RP_STAGE_SCORE.
 * A model of several categories routes each image as rp_score_image does and calibrates each
 * category from the images routed to it; a category that gets none keeps its thresholds.
 * On failure the model's thresholds are unchanged. */
RP_API int rp_model_calibrate(rp_model *model, const rp_image *const *images, uint32_t count,
                              const rp_calibration_params *params, rp_progress_fn progress, void *user_data);

/* Thresholds from labelled images (labels[i]: 0 normal, 1 anomalous; at least one of each): the
 * image threshold maximises F1 of "score > threshold" over the set, placed halfway between the
 * highest score called normal and the lowest called anomalous (ties of F1: the higher threshold).
 * The pixel threshold follows rp_model_calibrate's rule on the normal images. A model of several
 * categories routes the images and applies the rule per category: each category that gets images
 * needs a normal and an anomalous one among them (else RP_E_INVALID_ARG naming it). */
RP_API int rp_model_calibrate_labelled(rp_model *model, const rp_image *const *images, const uint8_t *labels,
                                       uint32_t count, const rp_calibration_params *params,
                                       rp_progress_fn progress, void *user_data);

/* ---- the model file (docs/model-format.md) ----------------------------------------------- */

/* The newest model file format version this library reads and writes. It changes
 * independently of the library version; files with a larger one fail with RP_E_VERSION.
 * Version 2 added keep_aspect to the extractor settings and the int8 kNN flag to the bank; version 1
 * files still load, and rp_model_save writes version 1 for models that use neither. Version 3 added
 * RP_METHOD_PCA (written only for PCA models). Version 4 added models that record categories
 * (written only for them: docs/unified.md). Version 5 added categories with a head of their own or
 * none (written only for models that have such a category). */
#define RP_MODEL_FORMAT_VERSION 5

typedef struct rp_model_save_params {
    uint32_t struct_size;
    uint32_t embed_weights;      /* non-zero: the backbone weights go inside the file (as a
                                    safetensors blob); 0: the file names the weights file */
    const char *weights_path;    /* referenced mode: the path to record (e.g. relative to the model
                                    file's folder); NULL = the file the model was built from. Its
                                    sha256 must match the model's backbone (RP_E_FORMAT). For a
                                    model loaded with embedded weights, NULL means the path recorded
                                    in its file (RP_E_STATE if none). */
} rp_model_save_params;

RP_API int rp_model_save_params_init(rp_model_save_params *params, size_t size);

/* Write the model to path atomically: a temporary file in the same folder, flushed and synced,
 * then renamed over path (and the folder synced). A crash at any moment leaves either the old
 * file or the new one, never a mix. The weights file (referenced) or its source (embedded) is
 * read again and its sha256 checked against the model's. params may be NULL (referenced).
 * A write that fails (disk full, file size limit) returns RP_E_IO naming path and the cause; out
 * of memory returns RP_E_NOMEM. On any failure the old file is left as it was and the temporary
 * file is removed. */
RP_API int rp_model_save(const rp_model *model, const char *path, const rp_model_save_params *params);

typedef struct rp_model_load_params {
    uint32_t struct_size;
    uint32_t num_threads;        /* extractor and scorer threads; 0 = one per online core */
    const char *weights_path;    /* referenced weights: use this file instead of the recorded one
                                    (its sha256 must still match); NULL = the recorded path, taken
                                    relative to the model file's folder when relative */
    uint64_t max_bytes;          /* refuse larger model files (RP_E_LIMIT); 0 = 8 GiB */
    int32_t precision;           /* the backbone's precision for scoring: RP_PRECISION_FP32, _BF16
                                    or _AUTO; 0 = the one the model was trained with. Another
                                    precision changes the scores slightly (docs/pipeline.md,
                                    "Precision"); the model then reports, and saves, the new one */
    uint32_t reserved0;
} rp_model_load_params;

RP_API int rp_model_load_params_init(rp_model_load_params *params, size_t size);

/* Read a model file and rebuild extractor, embedding, frozen bank and scorer; thresholds come back
 * too. Newer format versions fail with RP_E_VERSION, damaged files (bad magic, truncation, a
 * checksum mismatch, inconsistent sizes) with RP_E_FORMAT, referenced weights whose sha256 no
 * longer matches with RP_E_FORMAT; each message names the file and the problem. params may be
 * NULL. On failure *out is NULL. */
RP_API int rp_model_load(const char *path, const rp_model_load_params *params, rp_model **out);
/* The same from size bytes in memory (borrowed for the call). Relative referenced paths are taken
 * relative to the current directory. */
RP_API int rp_model_load_memory(const void *data, size_t size, const rp_model_load_params *params,
                                rp_model **out);

#ifdef __cplusplus
}
#endif
#endif
