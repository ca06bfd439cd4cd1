/* libreconpatch: the scorer. Patch features of a test image -> per-patch anomaly scores (distance
 * to the nearest memory-bank entry, after the learned embedding if any), an image score and an
 * anomaly map in the network-input geometry and in the original image geometry.
 * See docs/scoring.md for every step and the exact formulas.
 *
 * Ownership: the scorer BORROWS the extractor, the embedding and the bank given to
 * rp_scorer_create; they must stay alive and unchanged until rp_scorer_free.
 * Threads: the scorer is immutable after creation; rp_scorer_score, rp_scorer_score_features,
 * rp_scorer_map_to_image and rp_scorer_get_info may run from many threads at once on one scorer
 * (each call allocates its own scratch), and give the same results as from a single thread. */
#ifndef RECONPATCH_SCORER_H
#define RECONPATCH_SCORER_H

#include "core.h"
#include "image.h"
#include "extractor.h"
#include "bank.h"
#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_scorer rp_scorer;

#define RP_SCORER_DEFAULT_REWEIGHT_NEIGHBORS 9
#define RP_SCORER_DEFAULT_MAP_SIGMA 4.0

typedef struct rp_scorer_params {
    uint32_t struct_size;
    uint32_t reweight_neighbors; /* b of the reweighted image score; 0 = 9; at most 1024; more
                                    than the bank holds means the whole bank */
    double map_sigma;            /* Gaussian smoothing of the map, in input pixels; 0 = 4.0;
                                    at most 64 */
    uint32_t num_threads;        /* threads for every step of a score (embedding, kNN, map); 0 = one per online core */
    /* The preprocessing geometry (resize, no_crop and keep_aspect, the last one at the end of this
     * struct). With an extractor, 0 takes the extractor's value (rp_extractor_info reports it)
     * and a non-zero value must equal it (RP_E_SHAPE); leave them 0. Without an extractor they
     * describe how the features' images were preprocessed. */
    uint32_t resize;             /* 0 = the extractor's, or 256 without one */
    uint32_t no_crop;            /* non-zero: the image was resized straight to input_size */
    /* Only for a scorer without an extractor (features in, scores out); with an extractor leave
     * them 0 (or equal to the extractor's grid_size / input_size). */
    uint32_t grid_size;          /* patches per side */
    uint32_t input_size;         /* network input side (the crop), the size of map_input */
    uint32_t keep_aspect;        /* non-zero: resize the shorter side to `resize` keeping the
                                    aspect ratio (torchvision Resize(int)), then centre-crop;
                                    not with no_crop */
} rp_scorer_params;

/* Fill *params with defaults (all zero) and struct_size = min(size, sizeof *params). */
RP_API int rp_scorer_params_init(rp_scorer_params *params, size_t size);

/* A scorer over a frozen bank (RP_E_STATE otherwise). extractor may be NULL for a features-only
 * scorer (then params->grid_size and params->input_size are required and rp_scorer_score fails
 * with RP_E_STATE). embedding NULL = PatchCore (patch features are compared as they are); else
 * its in_dim must equal the patch feature length and its out_dim the bank's dim (RP_E_SHAPE).
 * Without an embedding the feature length must equal the bank's dim. params may be NULL.
 * All three objects are borrowed: they must outlive the scorer. */
RP_API int rp_scorer_create(const rp_extractor *extractor, const rp_embedding *embedding, const rp_bank *bank,
                            const rp_scorer_params *params, rp_scorer **out);
RP_API void rp_scorer_free(rp_scorer *scorer);

typedef struct rp_scorer_info {
    uint32_t struct_size;
    uint32_t grid_size;          /* patches per side: patch score arrays hold grid_size^2 */
    uint32_t input_size;         /* map_input side */
    uint32_t feature_dim;        /* patch feature length taken by rp_scorer_score_features */
    uint32_t bank_dim;           /* length of the compared vectors (after the embedding) */
    uint32_t reweight_neighbors; /* b, as resolved */
    uint64_t bank_size;
    double map_sigma;
    uint32_t resize;             /* resolved geometry: the image is resized to resize x resize, */
    uint32_t crop_offset;        /* and the input_size crop starts at (crop_offset, crop_offset);
                                    with keep_aspect see below */
    uint32_t no_crop;
    uint32_t num_threads;
    uint32_t has_extractor;
    uint32_t has_embedding;
    uint32_t keep_aspect;        /* non-zero: the shorter side is resized to resize keeping the
                                    aspect ratio; crop_offset is then the offset along the shorter
                                    side, the one along the longer side depends on each image's
                                    size (docs/preprocessing.md) */
    uint32_t reserved0;          /* 0: fills the tail so that the next appended field grows the
                                    struct (docs/ABI.md) */
} rp_scorer_info;

RP_API int rp_scorer_get_info(const rp_scorer *scorer, rp_scorer_info *info, size_t size);

/* Scores of one image. The caller sets struct_size = sizeof(rp_score_result) before the call;
 * the library fills min(struct_size, its own size) bytes. */
typedef struct rp_score_result {
    uint32_t struct_size;
    uint32_t max_patch;          /* index y * grid_size + x of the highest-scoring patch */
    double score;                /* THE image score: the reweighted score = reweight * score_max */
    double score_max;            /* the plain maximum of the patch scores (PatchCore's code) */
    double reweight;             /* 1 - exp(|m_test - m*|) / sum_b exp(|m_test - m_b|), in [0, 1) */
    uint64_t max_patch_neighbor; /* bank index of m*, the nearest bank entry of that patch */
    /* Filled by rp_score_image (model.h) from the model's thresholds; the rp_scorer_* calls know
     * no thresholds and leave these zero (RP_DECISION_NONE). */
    int32_t decision;            /* RP_DECISION_*: NONE (no image threshold), NORMAL or ANOMALOUS */
    uint32_t category;           /* rp_score_image: the model category the image was scored in (0 for a
                                    model of one category); 0 from the rp_scorer_* calls */
    double threshold;            /* the image threshold used: anomalous iff score > threshold;
                                    NaN from rp_score_image when the model has none */
    double pixel_threshold;      /* the map threshold of the mask: defect iff map > it; NaN if none */
    uint64_t mask_pixels;        /* defect pixels written to the mask (0 when no mask was asked) */
} rp_score_result;

#define RP_DECISION_NONE 0      /* zero, so results of the threshold-free scorer read "no decision" */
#define RP_DECISION_NORMAL 1
#define RP_DECISION_ANOMALOUS 2

/* Patch features of one image (grid_size^2 x feature_dim floats, patch (y, x) at row
 * y * grid_size + x, exactly features_floats = grid_size^2 * feature_dim) -> scores.
 * Outputs, each optional (NULL), sized in elements and checked (RP_E_SHAPE if too small):
 *   result_out         the image scores (struct_size set by the caller);
 *   patch_scores_out   grid_size^2 distances to the nearest bank entry;
 *   map_input_out      input_size^2 floats: the anomaly map in network-input geometry (patch
 *                      scores bilinearly upsampled, then Gaussian-smoothed).
 * On failure nothing is written to the outputs. */
RP_API int rp_scorer_score_features(const rp_scorer *scorer, const float *features, size_t features_floats,
                                    rp_score_result *result_out, float *patch_scores_out,
                                    size_t patch_scores_floats, float *map_input_out, size_t map_input_floats);

/* An image -> scores: the extractor's patch features, then rp_scorer_score_features, and the
 * map also in the image's own geometry (map_image_out: width x height floats, row-major; the
 * centre crop and the resize are undone; pixels outside the crop take the value of the nearest
 * map border pixel). Outputs optional as above. Needs a scorer with an extractor (RP_E_STATE).
 * With keep_aspect an image whose resized longer side would exceed 16384 fails (RP_E_LIMIT). */
RP_API int rp_scorer_score(const rp_scorer *scorer, const rp_image *image, rp_score_result *result_out,
                           float *map_input_out, size_t map_input_floats, float *map_image_out,
                           size_t map_image_floats);

/* An input_size x input_size map (from rp_scorer_score_features) -> the map over an original
 * image of width x height pixels, with the scorer's geometry, as rp_scorer_score does it. */
RP_API int rp_scorer_map_to_image(const rp_scorer *scorer, const float *map_input, size_t map_input_floats,
                                  uint32_t width, uint32_t height, float *map_image_out,
                                  size_t map_image_floats);

/* A ground-truth mask (any size, gray or colour, 0 = normal) -> input_size^2 bytes in the network-
 * input geometry (resized and cropped like the image, with the same filter), 1 where the
 * resampled value is above threshold (0..254; 127 for 0/255 masks), else 0. For evaluation. */
RP_API int rp_scorer_mask_to_input(const rp_scorer *scorer, const rp_image *mask, uint32_t threshold,
                                   uint8_t *mask_out, size_t mask_out_size);

#ifdef __cplusplus
}
#endif
#endif
