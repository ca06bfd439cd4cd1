/* rp_extractor: the public face of the backbone. Checks and resolves the params, loads the weights,
 * folds them into a oneDNN network (backbone/resnet_*.c), and chains image preprocessing, the
 * network and PatchCore's patch aggregation. Immutable after creation: every call taking a const
 * rp_extractor * may run on several threads at once (docs/threading.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "backbone/resnet.h"
#include "common/common.h"
#include "common/threads.h"
#include "common/timing.h"
#include "extractor/extractor_internal.h"
#include "features/aggregate.h"
#include "image/preprocess.h"

#define DEFAULT_RESIZE 256u
#define DEFAULT_CROP 224u
#define DEFAULT_FEATURE_DIM 1024u
#define DEFAULT_PATCH_SIZE 3u
#define MIN_CROP 32u    /* smallest input that still leaves layer3 a 2x2 map */
#define MAX_CROP 2048u  /* activations grow with the square of the side: keep them bounded */
#define MAX_THREADS 1024u
#define MAX_FEATURE_DIM 65536u
#define MAX_PATCH_SIZE 15u
#define MAX_BATCH 4096u
/* patch_features runs the network on this many images at a time: large enough for oneDNN's
 * batched kernels, small enough to keep the activations (tens of MB) modest. */
#define PATCH_BATCH 8u

struct rp_extractor {
    rp_extractor_params params; /* resolved: no zero defaults left; weights_path not kept */
    int32_t arch, layout;
    rp__resnet *net;
    rp__resnet_shape shape;
};

int rp_extractor_params_init(rp_extractor_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_extractor_params_init");
}

/* Resolve zero fields to defaults and check every value. */
static int resolve_params(rp_extractor_params *p, const rp__weights *w, const char *fn)
{
    if (p->arch < 0 || p->arch > RP_ARCH_WIDE_RESNET50_2)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.arch %d is not 0, RP_ARCH_RESNET50 (1) or "
                                          "RP_ARCH_WIDE_RESNET50_2 (2)", fn, p->arch);
    if (p->output < 0 || p->output > RP_OUTPUT_CLASSIFIER)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.output %d is not 0, RP_OUTPUT_LAYER3 (1) or "
                                          "RP_OUTPUT_CLASSIFIER (2)", fn, p->output);
    if (p->precision < 0 || p->precision > RP_PRECISION_AUTO)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.precision %d is not 0, RP_PRECISION_FP32 (1), "
                                          "RP_PRECISION_BF16 (2) or RP_PRECISION_AUTO (3)", fn, p->precision);
    if (p->normalization < 0 || p->normalization > RP_NORM_CAFFE)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.normalization %d is not 0, RP_NORM_TORCHVISION (1) or "
                                          "RP_NORM_CAFFE (2)", fn, p->normalization);
    if (!p->output) p->output = RP_OUTPUT_LAYER3;
    if (!p->precision) p->precision = RP_PRECISION_FP32;
    if (p->precision == RP_PRECISION_AUTO) p->precision = rp__resnet_bf16_native() ? RP_PRECISION_BF16 : RP_PRECISION_FP32;
    if (!p->num_threads) p->num_threads = rp__cpu_count();
    if (p->num_threads > MAX_THREADS)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.num_threads %u is above %u", fn, p->num_threads, MAX_THREADS);
    int rc = rp__image_check_crop_mode((int)p->no_crop, (int)p->keep_aspect, 1, fn);
    if (rc) return rc;
    p->keep_aspect = p->keep_aspect ? 1u : 0u;
    p->no_crop = p->no_crop ? 1u : 0u;
    if (!p->crop) p->crop = DEFAULT_CROP;
    if (!p->resize) p->resize = DEFAULT_RESIZE;
    if (p->no_crop) p->resize = p->crop;
    if (p->crop < MIN_CROP || p->crop > MAX_CROP)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.crop %u is outside %u..%u", fn, p->crop, MIN_CROP, MAX_CROP);
    if (p->crop > p->resize)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.crop %u is larger than params.resize %u (set no_crop to "
                                          "resize straight to the crop size)", fn, p->crop, p->resize);
    if (p->resize > RP_PREPROCESS_MAX_SIDE)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.resize %u is above %u", fn, p->resize, RP_PREPROCESS_MAX_SIDE);
    if (!p->feature_dim) p->feature_dim = DEFAULT_FEATURE_DIM;
    if (p->feature_dim > MAX_FEATURE_DIM)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.feature_dim %u is above %u", fn, p->feature_dim,
                        MAX_FEATURE_DIM);
    if (!p->patch_size) p->patch_size = DEFAULT_PATCH_SIZE;
    if (p->patch_size % 2 == 0 || p->patch_size > MAX_PATCH_SIZE)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.patch_size %u must be odd and at most %u", fn, p->patch_size,
                        MAX_PATCH_SIZE);
    if (!p->max_pixels) p->max_pixels = RP_IMAGE_DEFAULT_MAX_PIXELS;
    if (w->layout != RP_LAYOUT_TORCHVISION && w->layout != RP_LAYOUT_KERAS)
        return rp__fail(RP_E_UNSUPPORTED, "%s: weights layout %d is not supported", fn, w->layout);
    if (!p->normalization) p->normalization = w->layout == RP_LAYOUT_KERAS ? RP_NORM_CAFFE : RP_NORM_TORCHVISION;
    /* Reduced-width test networks have no named arch (w->arch 0): then any params.arch is taken. */
    if (p->arch && w->arch && p->arch != w->arch)
        return rp__fail(RP_E_SHAPE, "%s: params.arch %d but the weights are %s (arch %d)", fn, p->arch,
                        w->arch == RP_ARCH_RESNET50 ? "resnet50" : "wide_resnet50_2", w->arch);
    if (!p->arch) p->arch = w->arch;
    return RP_OK;
}

static int create_common(const rp_extractor_params *params, const rp__weights *w, int allow_emulation,
                         uint32_t bf16_rounding_units, rp_extractor **out, const char *fn)
{
    rp_extractor_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    int rc = rp__params_copy(&p, sizeof p, params, fn);
    if (rc) return rc;
    p.weights_path = NULL; /* not kept: the weights are loaded once, here */
    if ((rc = rp__params_check_reserved(p.reserved0, "reserved0", fn))) return rc;
    if ((rc = resolve_params(&p, w, fn))) return rc;
    int classifier = p.output == RP_OUTPUT_CLASSIFIER;
    if ((rc = rp__weights_check_resnet(w, classifier)))
        return rp__fail_relay(rc, "%s: the weights do not form a ResNet-50 family network", fn);

    /* libgomp fixed its wait policy when it was loaded; we can only tell (docs/threading.md). */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        rp__log(RP_LOG_INFO, "%s: OMP_WAIT_POLICY is not set, so idle OpenMP threads spin; on a shared CPU export "
                             "OMP_WAIT_POLICY=passive before the program starts", fn);
    rp__resnet_spec spec;
    if ((rc = rp__resnet_fold(w, classifier ? 4 : 3, fn, &spec))) return rc;
    rp__resnet_options opt = {.input_size = p.crop,
                              .classifier = classifier,
                              .bf16 = p.precision == RP_PRECISION_BF16,
                              .allow_bf16_emulation = allow_emulation,
                              .bf16_rounding_units = bf16_rounding_units,
                              .num_threads = p.num_threads};
    if (opt.bf16 && bf16_rounding_units) {
        rp__resnet_spec_free(&spec);
        return rp__fail(RP_E_INVALID_ARG, "%s: bf16 rounding is a study of fp32 kernels; precision must be fp32", fn);
    }
    rp__resnet *net = NULL;
    rc = rp__resnet_create(&spec, &opt, fn, &net);
    rp__resnet_spec_free(&spec);
    if (rc) return rc;
    rp_extractor *e = rp__calloc(1, sizeof *e);
    if (!e) {
        rp__resnet_free(net);
        return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    }
    e->params = p;
    e->arch = p.arch;
    e->layout = w->layout;
    e->net = net;
    rp__resnet_get_shape(net, &e->shape);
    rp__log(RP_LOG_INFO, "%s: %s layout, input %u, layer2 %ux%u^2, layer3 %ux%u^2, %s, %u threads, stem conv '%s'",
            fn, w->layout == RP_LAYOUT_KERAS ? "Keras" : "torchvision", p.crop, e->shape.layer2_channels,
            e->shape.layer2_size, e->shape.layer3_channels, e->shape.layer3_size,
            opt.bf16 ? "bf16" : "fp32", p.num_threads, rp__resnet_impl_name(net, 0));
    *out = e;
    return RP_OK;
}

int rp_extractor_create(const rp_extractor_params *params, rp_extractor **out)
{
    static const char *fn = "rp_extractor_create";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    /* Check the params (struct size, unknown fields) before the slow weights load. */
    rp_extractor_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    int rc = rp__params_copy(&p, sizeof p, params, fn);
    if (!rc) rc = rp__params_check_reserved(p.reserved0, "reserved0", fn);
    if (rc) return rc;
    /* NULL params or weights_path: the weights `make weights` caches */
    char default_path[4096];
    const char *path = p.weights_path;
    if (!path) {
        if ((rc = rp_default_weights_path(default_path, sizeof default_path)))
            return rp__fail_relay(rc, "%s: params.weights_path is NULL and the default weights are missing", fn);
        path = default_path;
    }
    rp__weights *w = NULL;
    rc = rp__weights_load(path, &w);
    if (rc) return rc; /* the loader's message names the file and the problem */
    rc = create_common(params, w, 0, 0, out, fn);
    rp__weights_free(w);
    return rc;
}

int rp__extractor_create_from_weights(const rp_extractor_params *params, const rp__weights *weights,
                                      int allow_bf16_emulation, rp_extractor **out)
{
    static const char *fn = "rp_extractor_create";
    rp__clear_error();
    if (!out || !weights) return rp__fail(RP_E_INVALID_ARG, "%s: out or weights is NULL", fn);
    *out = NULL;
    return create_common(params, weights, allow_bf16_emulation, 0, out, fn);
}

int rp__extractor_create_bf16_rounded(const rp_extractor_params *params, const rp__weights *weights,
                                      uint32_t bf16_rounding_units, rp_extractor **out)
{
    static const char *fn = "rp_extractor_create";
    rp__clear_error();
    if (!out || !weights) return rp__fail(RP_E_INVALID_ARG, "%s: out or weights is NULL", fn);
    *out = NULL;
    return create_common(params, weights, 0, bf16_rounding_units, out, fn);
}

int rp__extractor_prepare_batch(const rp_extractor *e, uint32_t batch, uint32_t *reference_kernels)
{
    static const char *fn = "rp__extractor_prepare_batch";
    if (!e || batch == 0 || batch > MAX_BATCH) return rp__fail(RP_E_INVALID_ARG, "%s: bad extractor or batch %u", fn, batch);
    return rp__resnet_prepare(e->net, batch, reference_kernels, fn);
}

const char *rp__extractor_impl_name(const rp_extractor *e, int which)
{
    return e ? rp__resnet_impl_name(e->net, which) : "";
}

void rp_extractor_free(rp_extractor *extractor)
{
    if (!extractor) return;
    rp__resnet_free(extractor->net);
    free(extractor);
}

int rp_extractor_get_info(const rp_extractor *e, rp_extractor_info *info, size_t size)
{
    static const char *fn = "rp_extractor_get_info";
    rp__clear_error();
    if (!e || !info) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !e ? "extractor" : "info");
    if (size < sizeof(uint32_t)) return rp__fail(RP_E_INVALID_ARG, "%s: size %zu is too small", fn, size);
    rp_extractor_info full = {
        .struct_size = (uint32_t)(size < sizeof full ? size : sizeof full),
        .arch = e->arch,
        .layout = e->layout,
        .precision = e->params.precision,
        .input_size = e->shape.input_size,
        .layer2_channels = e->shape.layer2_channels,
        .layer2_size = e->shape.layer2_size,
        .layer3_channels = e->shape.layer3_channels,
        .layer3_size = e->shape.layer3_size,
        .feature_dim = e->params.feature_dim,
        .grid_size = e->shape.layer2_size,
        .num_threads = e->params.num_threads,
        .resize = e->params.resize,
        .no_crop = e->params.no_crop ? 1u : 0u,
        .keep_aspect = e->params.keep_aspect ? 1u : 0u,
    };
    memset(info, 0, size);
    memcpy(info, &full, full.struct_size);
    return RP_OK;
}

static size_t input_floats(const rp_extractor *e) { return (size_t)3 * e->shape.input_size * e->shape.input_size; }

static int check_image(const rp_extractor *e, const rp_image *img, const char *fn, uint32_t index)
{
    if (!img) return rp__fail(RP_E_INVALID_ARG, "%s: image %u is NULL", fn, index);
    uint64_t px = (uint64_t)rp_image_width(img) * rp_image_height(img);
    if (px == 0) return rp__fail(RP_E_INVALID_ARG, "%s: image %u is empty", fn, index);
    if (px > e->params.max_pixels)
        return rp__fail(RP_E_LIMIT, "%s: image %u has %ux%u pixels, above params.max_pixels %llu", fn, index,
                        rp_image_width(img), rp_image_height(img), (unsigned long long)e->params.max_pixels);
    /* keep_aspect: a very elongated image can need a frame above the size limit; say so now,
     * before any image of a batch is processed. */
    uint32_t fw, fh, ox, oy;
    const uint32_t w = rp_image_width(img), h = rp_image_height(img);
    int rc = rp__image_resize_frame(w, h, e->params.resize, e->params.crop, (int)e->params.no_crop,
                                    (int)e->params.keep_aspect, &fw, &fh, &ox, &oy, fn);
    if (rc) return rc;
    /* A side magnified more than RP_PREPROCESS_MAX_UPSCALE times holds too little to score (a 1x1
     * image would become a flat 256 x 256 frame): refused, naming the smallest size accepted. */
    if ((uint64_t)w * RP_PREPROCESS_MAX_UPSCALE < fw || (uint64_t)h * RP_PREPROCESS_MAX_UPSCALE < fh) {
        const uint32_t min_w = (fw + RP_PREPROCESS_MAX_UPSCALE - 1) / RP_PREPROCESS_MAX_UPSCALE;
        const uint32_t min_h = (fh + RP_PREPROCESS_MAX_UPSCALE - 1) / RP_PREPROCESS_MAX_UPSCALE;
        return rp__fail(RP_E_SHAPE,
                        "%s: image %u is %ux%u pixels: resizing it to %ux%u would magnify it more than %ux; "
                        "the smallest image accepted is %ux%u pixels",
                        fn, index, w, h, fw, fh, RP_PREPROCESS_MAX_UPSCALE, min_w, min_h);
    }
    return RP_OK;
}

int rp_extractor_preprocess(const rp_extractor *e, const rp_image *image, float *input_out, size_t input_out_floats)
{
    static const char *fn = "rp_extractor_preprocess";
    rp__clear_error();
    if (!e || !input_out)
        return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !e ? "extractor" : "input_out");
    size_t need = input_floats(e);
    if (input_out_floats < need)
        return rp__fail(RP_E_SHAPE, "%s: input_out holds %zu floats, needs 3 x %u x %u = %zu", fn, input_out_floats,
                        e->shape.input_size, e->shape.input_size, need);
    int rc = check_image(e, image, fn, 0);
    if (rc) return rc;
    /* Preprocess into scratch so that a failure part-way leaves the caller's buffer untouched. */
    float *scratch = rp__malloc(need * sizeof(float));
    if (!scratch) return rp__fail(RP_E_NOMEM, "%s: out of memory for %zu floats", fn, need);
    rc = rp__image_preprocess(image, e->params.resize, e->params.crop, (int)e->params.no_crop,
                              (int)e->params.keep_aspect, e->params.normalization, scratch);
    if (!rc) memcpy(input_out, scratch, need * sizeof(float));
    free(scratch);
    return rc;
}

/* Element counts of one image's layer2 / layer3 maps. */
static size_t layer_floats(const rp_extractor *e, int layer)
{
    return layer == 2 ? (size_t)e->shape.layer2_channels * e->shape.layer2_size * e->shape.layer2_size
                      : (size_t)e->shape.layer3_channels * e->shape.layer3_size * e->shape.layer3_size;
}

/* The network input must hold exactly batch x 3 x S x S floats: fewer would be over-read, more
 * means the caller's batch and buffer disagree. */
static int check_batch(const rp_extractor *e, const float *input, size_t input_count, uint32_t batch, const char *fn)
{
    if (!e || !input) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !e ? "extractor" : "input");
    if (batch == 0 || batch > MAX_BATCH)
        return rp__fail(RP_E_INVALID_ARG, "%s: batch %u is outside 1..%u", fn, batch, MAX_BATCH);
    const size_t need = batch * input_floats(e);
    if (input_count != need)
        return rp__fail(RP_E_SHAPE, "%s: input holds %zu floats, batch %u needs %u x 3 x %u x %u = %zu", fn,
                        input_count, batch, batch, e->shape.input_size, e->shape.input_size, need);
    return RP_OK;
}

int rp_extractor_forward(const rp_extractor *e, const float *input, size_t input_count, uint32_t batch,
                         float *layer2_out, size_t layer2_floats, float *layer3_out, size_t layer3_floats)
{
    static const char *fn = "rp_extractor_forward";
    rp__clear_error();
    int rc = check_batch(e, input, input_count, batch, fn);
    if (rc) return rc;
    if (!layer2_out && !layer3_out)
        return rp__fail(RP_E_INVALID_ARG, "%s: layer2_out and layer3_out are both NULL", fn);
    size_t n2 = batch * layer_floats(e, 2), n3 = batch * layer_floats(e, 3);
    if (layer2_out && layer2_floats < n2)
        return rp__fail(RP_E_SHAPE, "%s: layer2_out holds %zu floats, batch %u needs %u x %u x %u x %u = %zu", fn,
                        layer2_floats, batch, batch, e->shape.layer2_channels, e->shape.layer2_size,
                        e->shape.layer2_size, n2);
    if (layer3_out && layer3_floats < n3)
        return rp__fail(RP_E_SHAPE, "%s: layer3_out holds %zu floats, batch %u needs %u x %u x %u x %u = %zu", fn,
                        layer3_floats, batch, batch, e->shape.layer3_channels, e->shape.layer3_size,
                        e->shape.layer3_size, n3);
    /* The network writes its layer outputs as it goes: run it into scratch and copy on success, so
     * that a failure part-way (oneDNN, memory) leaves the caller's buffers untouched. The copy is a
     * few MB per image, small beside the network's run. */
    float *l2 = layer2_out ? rp__malloc(n2 * sizeof(float)) : NULL;
    float *l3 = layer3_out ? rp__malloc(n3 * sizeof(float)) : NULL;
    if ((layer2_out && !l2) || (layer3_out && !l3)) {
        free(l2);
        free(l3);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for the outputs of a batch of %u", fn, batch);
    }
    rc = rp__resnet_forward(e->net, input, batch, l2, l3, NULL, fn);
    if (!rc && l2) memcpy(layer2_out, l2, n2 * sizeof(float));
    if (!rc && l3) memcpy(layer3_out, l3, n3 * sizeof(float));
    free(l2);
    free(l3);
    return rc;
}

int rp_extractor_classify(const rp_extractor *e, const float *input, size_t input_count, uint32_t batch,
                          float *probs_out, size_t probs_floats)
{
    static const char *fn = "rp_extractor_classify";
    rp__clear_error();
    int rc = check_batch(e, input, input_count, batch, fn);
    if (rc) return rc;
    if (!probs_out) return rp__fail(RP_E_INVALID_ARG, "%s: probs_out is NULL", fn);
    if (e->params.output != RP_OUTPUT_CLASSIFIER)
        return rp__fail(RP_E_STATE, "%s: the extractor was created without params.output = RP_OUTPUT_CLASSIFIER", fn);
    size_t need = (size_t)batch * e->shape.num_classes;
    if (probs_floats < need)
        return rp__fail(RP_E_SHAPE, "%s: probs_out holds %zu floats, batch %u needs %zu", fn, probs_floats, batch,
                        need);
    /* probs_out is written only by the final softmax, after everything that can fail */
    return rp__resnet_forward(e->net, input, batch, NULL, NULL, probs_out, fn);
}

int rp_extractor_patch_features(const rp_extractor *e, const rp_image *const *images, uint32_t count,
                                float *features_out, size_t features_floats)
{
    static const char *fn = "rp_extractor_patch_features";
    rp__clear_error();
    if (!e || !images || !features_out)
        return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn,
                        !e ? "extractor" : !images ? "images" : "features_out");
    if (count == 0) return rp__fail(RP_E_INVALID_ARG, "%s: count is 0", fn);
    size_t per_image = (size_t)e->shape.layer2_size * e->shape.layer2_size * e->params.feature_dim, need;
    if (rp__mul_size(per_image, count, &need))
        return rp__fail(RP_E_LIMIT, "%s: %u images of %zu floats overflow size_t", fn, count, per_image);
    if (features_floats < need)
        return rp__fail(RP_E_SHAPE, "%s: features_out holds %zu floats, %u images x %u^2 patches x %u needs %zu",
                        fn, features_floats, count, e->shape.layer2_size, e->params.feature_dim, need);
    /* Check every image before writing anything. */
    for (uint32_t i = 0; i < count; i++) {
        int rc = check_image(e, images[i], fn, i);
        if (rc) return rc;
    }
    uint32_t chunk = count < PATCH_BATCH ? count : PATCH_BATCH;
    size_t in1 = input_floats(e), l2 = layer_floats(e, 2), l3 = layer_floats(e, 3);
    float *input = rp__malloc(chunk * in1 * sizeof(float));
    float *layer2 = rp__malloc(chunk * l2 * sizeof(float));
    float *layer3 = rp__malloc(chunk * l3 * sizeof(float));
    int rc = RP_OK;
    if (!input || !layer2 || !layer3) rc = rp__fail(RP_E_NOMEM, "%s: out of memory for a batch of %u", fn, chunk);
    for (uint32_t start = 0; start < count && !rc; start += chunk) {
        uint32_t n = count - start < chunk ? count - start : chunk;
        double started = rp__timing_start();
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = rp__image_preprocess(images[start + i], e->params.resize, e->params.crop, (int)e->params.no_crop,
                                      (int)e->params.keep_aspect, e->params.normalization, input + i * in1);
        rp__timing_stop(RP_TIMING_PREPROCESS, started);
        started = rp__timing_start();
        if (!rc) rc = rp__resnet_forward(e->net, input, n, layer2, layer3, NULL, fn);
        rp__timing_stop(RP_TIMING_BACKBONE, started);
        started = rp__timing_start();
        /* the aggregation's team is the extractor's num_threads, as the backbone's is */
        const int saved = rp__threads_enter(e->params.num_threads);
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = rp__features_aggregate(layer2 + i * l2, e->shape.layer2_channels, e->shape.layer2_size,
                                        layer3 + i * l3, e->shape.layer3_channels, e->shape.layer3_size,
                                        e->params.patch_size, e->params.feature_dim,
                                        features_out + (size_t)(start + i) * per_image);
        rp__threads_leave(saved);
        rp__timing_stop(RP_TIMING_AGGREGATE, started);
    }
    free(input);
    free(layer2);
    free(layer3);
    return rc; /* a failure part-way leaves the earlier images written (extractor.h says so) */
}

void rp__extractor_memory(const rp_extractor *e, uint64_t *weights_out, uint64_t *activations_out)
{
    rp__resnet_memory(e->net, weights_out, activations_out);
}

/* The resolved params (every default filled in, weights_path NULL), for saving a model. */
void rp__extractor_get_params(const rp_extractor *e, rp_extractor_params *out)
{
    *out = e->params;
}
