/* The ResNet-50-family backbone on oneDNN: weights -> folded convolutions (resnet_fold.c) ->
 * oneDNN primitives and a per-batch-size execution plan (resnet_net.c). Internal; the public face
 * is rp_extractor (extractor/extractor.c). See docs/backbone.md and docs/threading.md. */
#ifndef RP_BACKBONE_RESNET_H
#define RP_BACKBONE_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "backbone/weights.h"

/* ---- folded network description (resnet_fold.c) ------------------------------------------ */

/* One convolution with its BatchNorm folded in: y = conv(x, weight) + bias. */
typedef struct rp__resnet_conv {
    uint32_t in_channels, out_channels;
    uint32_t kernel, stride, pad;
    float *weight; /* out x in x k x k (OIHW), owned */
    float *bias;   /* out, owned */
} rp__resnet_conv;

/* One bottleneck block: conv1 (1x1) -> conv2 (3x3) -> conv3 (1x1) + identity or downsample. */
typedef struct rp__resnet_block {
    rp__resnet_conv conv1, conv2, conv3;
    rp__resnet_conv downsample; /* weight NULL when the identity is the block input */
} rp__resnet_block;

#define RP_RESNET_STAGES 4
#define RP_RESNET_MAX_BLOCKS 6 /* blocks per stage: 3, 4, 6, 3 */

typedef struct rp__resnet_spec {
    int32_t arch, layout;
    rp__resnet_conv stem; /* conv1 7x7 stride 2 + bn1 */
    uint32_t blocks[RP_RESNET_STAGES];
    rp__resnet_block stage[RP_RESNET_STAGES][RP_RESNET_MAX_BLOCKS];
    uint32_t num_stages;  /* stages actually folded: 3 for layer3 output, 4 for the classifier */
    uint32_t num_classes; /* fc rows (0 when the classifier is not used) */
    uint32_t fc_in;       /* fc columns = last stage's channels */
    float *fc_weight;     /* num_classes x fc_in, owned (copy) */
    float *fc_bias;       /* num_classes, owned */
} rp__resnet_spec;

/* Fold w's BatchNorms into its convolutions for the first num_stages stages (3 or 4; with 4 the fc
 * is copied too). Stride placement and BN epsilon come from w->layout. fn names the public
 * function for error messages. */
int rp__resnet_fold(const rp__weights *w, uint32_t num_stages, const char *fn, rp__resnet_spec *out);
void rp__resnet_spec_free(rp__resnet_spec *spec);

/* ---- oneDNN network (resnet_net.c) -------------------------------------------------------- */

typedef struct rp__resnet rp__resnet;

typedef struct rp__resnet_options {
    uint32_t input_size;       /* network input side, e.g. 224 */
    int32_t classifier;        /* non-zero: run layer4 + pool + fc + softmax too */
    int32_t bf16;              /* non-zero: bf16 weights and activations, fp32 accumulation */
    int32_t allow_bf16_emulation; /* tests only: accept bf16 on CPUs without native bf16 */
    /* Studies only (rp-tune cache --bf16-rounding): fp32 kernels, but in every unit whose bit is
     * set the values bf16 would store are rounded to bf16 (round to nearest even, as oneDNN
     * converts): the unit's weights, its input and each of its convolutions' outputs. Biases and
     * accumulation stay fp32, as in oneDNN's bf16 convolutions. Bit 0 is the stem, bit 1 + i the
     * i-th bottleneck block counted from layer1's first. 0: plain fp32. */
    uint32_t bf16_rounding_units;
    uint32_t num_threads;      /* OpenMP threads per call (>= 1) */
} rp__resnet_options;

typedef struct rp__resnet_shape {
    uint32_t input_size;
    uint32_t layer2_channels, layer2_size;
    uint32_t layer3_channels, layer3_size;
    uint32_t num_classes; /* 0 without the classifier */
} rp__resnet_shape;

/* Non-zero when oneDNN runs bf16 natively here (AVX512-BF16 or AMX), not emulated. */
int rp__resnet_bf16_native(void);

/* Build the primitives for batch 1 and reorder every weight once into the layout the primitives
 * chose. spec's arrays are only read (the caller frees spec afterwards). */
int rp__resnet_create(const rp__resnet_spec *spec, const rp__resnet_options *opt, const char *fn,
                      rp__resnet **out);
void rp__resnet_free(rp__resnet *net);

/* Bytes the network holds: its weights in their oneDNN layouts (with the copies a batch size's
 * plan needed in another layout, and the classifier's) and the activation arenas kept for reuse
 * (one per call that ran at once). Safe beside running calls. */
void rp__resnet_memory(const rp__resnet *net, uint64_t *weights_out, uint64_t *activations_out);
void rp__resnet_get_shape(const rp__resnet *net, rp__resnet_shape *shape);
/* Name of the oneDNN implementation chosen for the stem and the first 3x3 conv (for logs/docs). */
const char *rp__resnet_impl_name(const rp__resnet *net, int which);

/* Run batch images (batch x 3 x S x S, NCHW float). Any output may be NULL; layer2/layer3 are
 * NCHW float, probs is batch x num_classes. Safe to call from several threads at once: primitives
 * for a new batch size are built once under a mutex, activations and oneDNN scratchpads come from a
 * pool of per-call arenas. */
/* Build (or find) the plan for this batch size without running it; reports how many convs landed
 * on oneDNN's reference kernels (0 unless something is wrong). */
int rp__resnet_prepare(const rp__resnet *net, uint32_t batch, uint32_t *reference_kernels, const char *fn);

int rp__resnet_forward(const rp__resnet *net, const float *input, uint32_t batch, float *layer2,
                       float *layer3, float *probs, const char *fn);

#endif
