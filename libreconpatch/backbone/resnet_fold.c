/* Weights -> folded convolutions. Inference BatchNorm is an affine map per channel,
 *   bn(y) = gamma * (y - mean) / sqrt(var + eps) + beta,
 * so it folds into the preceding convolution: w' = w * s, b' = (b - mean) * s + beta with
 * s = gamma / sqrt(var + eps). The network then runs convolutions only (plus fused ReLU / sum).
 * Channel widths come from the tensors' shapes, so reduced-width test networks fold the same way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "backbone/resnet.h"
#include "common/common.h"

static const rp__tensor *need(const rp__weights *w, const char *name, int ndim, const char *fn)
{
    const rp__tensor *t = rp__weights_find(w, name);
    if (!t) {
        rp__fail(RP_E_FORMAT, "%s: weights have no tensor '%s'", fn, name);
        return NULL;
    }
    if (t->ndim != ndim) {
        rp__fail(RP_E_SHAPE, "%s: tensor '%s' has %d dims, expected %d", fn, name, (int)t->ndim, ndim);
        return NULL;
    }
    return t;
}

/* Fold conv `conv` (prefix, e.g. "layer1.0.conv1") and BN `bn` (e.g. "layer1.0.bn1"). */
static int fold_conv(const rp__weights *w, const char *conv, const char *bn, uint32_t stride, double eps,
                     uint32_t expect_in, const char *fn, rp__resnet_conv *out)
{
    char name[128];
    snprintf(name, sizeof name, "%s.weight", conv);
    const rp__tensor *k = need(w, name, 4, fn);
    if (!k) return rp_last_error_code();
    if (k->shape[2] != k->shape[3] || k->shape[0] <= 0 || k->shape[1] <= 0 || k->shape[2] <= 0 ||
        k->shape[0] > 65536 || k->shape[1] > 65536 || k->shape[2] > 15)
        return rp__fail(RP_E_SHAPE, "%s: tensor '%s' has unusable shape [%lld, %lld, %lld, %lld]", fn, name,
                        (long long)k->shape[0], (long long)k->shape[1], (long long)k->shape[2],
                        (long long)k->shape[3]);
    if (expect_in && (uint32_t)k->shape[1] != expect_in)
        return rp__fail(RP_E_SHAPE, "%s: tensor '%s' expects %lld input channels, the previous layer gives %u",
                        fn, name, (long long)k->shape[1], expect_in);
    uint32_t oc = (uint32_t)k->shape[0], ic = (uint32_t)k->shape[1], ks = (uint32_t)k->shape[2];

    const char *parts[4] = {"weight", "bias", "running_mean", "running_var"};
    const rp__tensor *bnt[4];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", bn, parts[i]);
        bnt[i] = need(w, name, 1, fn);
        if (!bnt[i]) return rp_last_error_code();
        if ((uint32_t)bnt[i]->shape[0] != oc)
            return rp__fail(RP_E_SHAPE, "%s: tensor '%s' has %lld entries, conv '%s' has %u outputs", fn, name,
                            (long long)bnt[i]->shape[0], conv, oc);
    }
    /* Keras convolutions carry a bias; torchvision ones do not. */
    const rp__tensor *cb = NULL;
    snprintf(name, sizeof name, "%s.bias", conv);
    cb = rp__weights_find(w, name);
    if (cb && (cb->ndim != 1 || (uint32_t)cb->shape[0] != oc))
        return rp__fail(RP_E_SHAPE, "%s: tensor '%s' should have %u entries", fn, name, oc);

    size_t per_out = (size_t)ic * ks * ks;
    out->weight = rp__malloc((size_t)oc * per_out * sizeof(float));
    out->bias = rp__malloc((size_t)oc * sizeof(float));
    if (!out->weight || !out->bias) return rp__fail(RP_E_NOMEM, "%s: out of memory folding '%s'", fn, conv);
    for (uint32_t o = 0; o < oc; o++) {
        double s = (double)bnt[0]->data[o] / sqrt((double)bnt[3]->data[o] + eps);
        const float *src = k->data + (size_t)o * per_out;
        float *dst = out->weight + (size_t)o * per_out;
        for (size_t i = 0; i < per_out; i++) dst[i] = (float)((double)src[i] * s);
        double b = cb ? (double)cb->data[o] : 0.0;
        out->bias[o] = (float)((b - (double)bnt[2]->data[o]) * s + (double)bnt[1]->data[o]);
    }
    out->in_channels = ic;
    out->out_channels = oc;
    out->kernel = ks;
    out->stride = stride;
    out->pad = ks / 2;
    return RP_OK;
}

static void conv_free(rp__resnet_conv *c)
{
    free(c->weight);
    free(c->bias);
    c->weight = c->bias = NULL;
}

void rp__resnet_spec_free(rp__resnet_spec *spec)
{
    if (!spec) return;
    conv_free(&spec->stem);
    for (int s = 0; s < RP_RESNET_STAGES; s++)
        for (int b = 0; b < RP_RESNET_MAX_BLOCKS; b++) {
            rp__resnet_block *blk = &spec->stage[s][b];
            conv_free(&blk->conv1);
            conv_free(&blk->conv2);
            conv_free(&blk->conv3);
            conv_free(&blk->downsample);
        }
    free(spec->fc_weight);
    free(spec->fc_bias);
    memset(spec, 0, sizeof *spec);
}

int rp__resnet_fold(const rp__weights *w, uint32_t num_stages, const char *fn, rp__resnet_spec *out)
{
    static const uint32_t blocks[RP_RESNET_STAGES] = {3, 4, 6, 3};
    memset(out, 0, sizeof *out);
    if (w->layout != RP_LAYOUT_TORCHVISION && w->layout != RP_LAYOUT_KERAS)
        return rp__fail(RP_E_UNSUPPORTED, "%s: weights layout %d is neither torchvision (1) nor Keras (2)", fn,
                        (int)w->layout);
    if (num_stages < 3 || num_stages > 4) return rp__fail(RP_E_INTERNAL, "%s: num_stages %u", fn, num_stages);
    const int keras = w->layout == RP_LAYOUT_KERAS;
    const double eps = keras ? 1e-3 : 1e-5;
    out->arch = w->arch;
    out->layout = w->layout;
    out->num_stages = num_stages;
    int rc = fold_conv(w, "conv1", "bn1", 2, eps, 3, fn, &out->stem);
    if (rc) goto fail;
    uint32_t channels = out->stem.out_channels;
    for (uint32_t s = 0; s < num_stages; s++) {
        out->blocks[s] = blocks[s];
        for (uint32_t b = 0; b < blocks[s]; b++) {
            rp__resnet_block *blk = &out->stage[s][b];
            /* Down-sampling blocks: the first of stages 2..4. Torchvision (v1.5) strides the 3x3
             * conv, Keras / Caffe (v1) the first 1x1 conv. */
            uint32_t stride = (b == 0 && s > 0) ? 2 : 1;
            char conv[64], bn[64];
#define FOLD(field, cname, bname, st, in)                                                             \
    snprintf(conv, sizeof conv, "layer%u.%u.%s", s + 1, b, cname);                                   \
    snprintf(bn, sizeof bn, "layer%u.%u.%s", s + 1, b, bname);                                       \
    if ((rc = fold_conv(w, conv, bn, st, eps, in, fn, &blk->field))) goto fail;
            FOLD(conv1, "conv1", "bn1", keras ? stride : 1, channels)
            FOLD(conv2, "conv2", "bn2", keras ? 1 : stride, blk->conv1.out_channels)
            FOLD(conv3, "conv3", "bn3", 1, blk->conv2.out_channels)
            char probe[96];
            snprintf(probe, sizeof probe, "layer%u.%u.downsample.0.weight", s + 1, b);
            if (rp__weights_find(w, probe)) {
                FOLD(downsample, "downsample.0", "downsample.1", stride, channels)
                if (blk->downsample.out_channels != blk->conv3.out_channels) {
                    rc = rp__fail(RP_E_SHAPE, "%s: %s has %u outputs but conv3 has %u", fn, conv,
                                  blk->downsample.out_channels, blk->conv3.out_channels);
                    goto fail;
                }
            } else if (stride != 1 || channels != blk->conv3.out_channels) {
                rc = rp__fail(RP_E_FORMAT, "%s: block layer%u.%u changes shape but has no downsample weights", fn,
                              s + 1, b);
                goto fail;
            }
#undef FOLD
            channels = blk->conv3.out_channels;
        }
    }
    if (num_stages == 4) {
        const rp__tensor *fw = need(w, "fc.weight", 2, fn), *fb = fw ? need(w, "fc.bias", 1, fn) : NULL;
        if (!fw || !fb) {
            rc = rp_last_error_code();
            goto fail;
        }
        if ((uint32_t)fw->shape[1] != channels || fb->shape[0] != fw->shape[0] || fw->shape[0] <= 0) {
            rc = rp__fail(RP_E_SHAPE, "%s: fc.weight [%lld, %lld] / fc.bias [%lld] do not fit %u features", fn,
                          (long long)fw->shape[0], (long long)fw->shape[1], (long long)fb->shape[0], channels);
            goto fail;
        }
        out->num_classes = (uint32_t)fw->shape[0];
        out->fc_in = channels;
        size_t n = (size_t)out->num_classes * channels;
        out->fc_weight = rp__malloc(n * sizeof(float));
        out->fc_bias = rp__malloc(out->num_classes * sizeof(float));
        if (!out->fc_weight || !out->fc_bias) {
            rc = rp__fail(RP_E_NOMEM, "%s: out of memory copying fc", fn);
            goto fail;
        }
        memcpy(out->fc_weight, fw->data, n * sizeof(float));
        memcpy(out->fc_bias, fb->data, out->num_classes * sizeof(float));
    }
    return RP_OK;
fail:
    rp__resnet_spec_free(out);
    return rc;
}
