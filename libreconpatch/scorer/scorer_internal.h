/* Internals of the scorer: the handle and the map steps, reachable by unit tests. Not installed. */
#ifndef RP_SCORER_INTERNAL_H
#define RP_SCORER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "reconpatch/scorer.h"

/* How a map in network-input geometry (input_size^2, the crop) sits in the original image: the
 * image was resized to resize x resize (both axes) and the crop starts at crop_offset there;
 * with keep_aspect the shorter side was resized to resize and the frame and offsets depend on
 * each image (rp__image_resize_frame). no_crop: resize == input_size and crop_offset == 0. */
typedef struct rp__scorer_geometry {
    uint32_t grid_size;
    uint32_t input_size;
    uint32_t resize;
    uint32_t crop_offset; /* keep_aspect: along the shorter side */
    uint32_t keep_aspect;
} rp__scorer_geometry;

struct rp_scorer {
    const rp_extractor *extractor; /* borrowed, may be NULL */
    const rp_embedding *embedding; /* borrowed, may be NULL */
    const rp_bank *bank;           /* borrowed, frozen */
    rp__scorer_geometry geometry;
    uint32_t no_crop;
    uint32_t feature_dim;          /* patch feature length in */
    uint32_t bank_dim;             /* compared vector length (embedding out_dim or feature_dim) */
    uint64_t bank_size;
    uint32_t reweight_neighbors;   /* resolved b, at most bank_size */
    double map_sigma;
    uint32_t num_threads;
    const float *bank_vectors;     /* bank_size x bank_dim, for the reweighting distances: the
                                      frozen bank's own (borrowed) or bank_vectors_owned */
    float *bank_vectors_owned;     /* the scorer's copy when the bank exposes no storage */
};

/* Bilinear resize of a src_w x src_h map to dst_w x dst_h as torch.nn.functional.interpolate(
 * mode="bilinear", align_corners=False) (no antialiasing): source coordinate
 * (d + 0.5) * src / dst - 0.5, clamped to the first pixel below 0 and the last above. */
void rp__scorer_resize_bilinear(const float *src, uint32_t src_w, uint32_t src_h, float *dst, uint32_t dst_w,
                                uint32_t dst_h, uint32_t num_threads);

/* Radius of scipy.ndimage.gaussian_filter's kernel: int(truncate * sigma + 0.5), truncate 4. */
uint32_t rp__scorer_gaussian_radius(double sigma);

/* scipy.ndimage.gaussian_filter(map, sigma) for a float32 width x height map, in place: truncate
 * 4.0, mode "reflect" (d c b a | a b c d | d c b a), separable, first along the columns (axis 0)
 * then along the rows, each pass summed in double and stored as float as scipy does.
 * scratch holds width * height floats. */
void rp__scorer_gaussian_filter(float *map, uint32_t width, uint32_t height, double sigma, float *scratch,
                                uint32_t num_threads);
/* The same with the passes of one instruction set (the caller checks rp__cpu_can_run), portable
 * where it has none: every set gives the same bits, which the tests check. */
void rp__scorer_gaussian_filter_isa(float *map, uint32_t width, uint32_t height, double sigma, float *scratch,
                                    uint32_t num_threads, rp__isa isa);

/* An input_size^2 map -> width x height image map: with the image's resize frame fw x fh and
 * crop offsets (ox, oy) (rp__image_resize_frame), image pixel (u, v) samples the map bilinearly
 * at crop coordinates ((u + 0.5) * fw / width - 0.5 - ox, likewise for v), clamped to the map
 * (pixels outside the crop take the nearest border value). Fails only when the frame does
 * (keep_aspect: RP_E_LIMIT for a too elongated image; message names fn), before writing out. */
int rp__scorer_map_to_image(const float *map, const rp__scorer_geometry *g, uint32_t width, uint32_t height,
                            float *out, uint32_t num_threads, const char *fn);

/* The whole map step: grid_size^2 patch scores -> input_size^2 smoothed map. scratch holds
 * input_size^2 floats. */
void rp__scorer_patch_map(const float *patch_scores, const rp__scorer_geometry *g, double sigma, float *map_out,
                          float *scratch, uint32_t num_threads);

/* Patch scores and image scores of one image's patch features (already validated). Writes
 * grid^2 scores to patch_scores and the result fields; returns RP_OK or a failure code with the
 * message naming fn. */
int rp__scorer_patch_scores(const rp_scorer *scorer, const float *features, float *patch_scores,
                            rp_score_result *result, const char *fn);

/* The caller's result struct (its struct_size says how many bytes it has) gets min(that, ours)
 * bytes of full, the rest of it zeroed; struct_size becomes the bytes written. */
void rp__score_result_write(rp_score_result *out, const rp_score_result *full);

/* Patch features of one width x height image (grid^2 x feature_dim, not checked for shape) -> the
 * result and, if map_image_out is non-NULL, the map in the image's geometry (width x height
 * floats): rp_scorer_score after its extractor step, for callers that already hold the features. */
int rp__scorer_score_features_image(const rp_scorer *scorer, const float *features, uint32_t width, uint32_t height,
                                    rp_score_result *result_out, float *map_image_out, const char *fn);

#endif
