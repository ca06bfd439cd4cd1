/* The ResNet-50 family's tensor list (names and shapes, torchvision naming), used to build seeded
 * random weights and to check that loaded weights are complete before a network is built. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "backbone/weights.h"
#include "common/common.h"

enum kind { CONV_W, CONV_B, BN_GAMMA, BN_BETA, BN_MEAN, BN_VAR, FC_W, FC_B };

typedef struct spec {
    char name[48];
    int32_t ndim;
    int64_t shape[4];
    enum kind kind;
} spec;

/* Geometry of one ResNet-50-family member. */
typedef struct geometry {
    int64_t stem;       /* conv1 output channels (64 / divisor) */
    int64_t planes[4];  /* bottleneck "planes" per stage (64,128,256,512 / divisor) */
    int64_t width_mult; /* 1 for resnet50, 2 for wide_resnet50_2 */
    int keras;          /* conv biases */
    int64_t classes;    /* fc outputs; 0 = no fc expected */
} geometry;

static const int BLOCKS[4] = {3, 4, 6, 3};
#define MAX_SPECS 400

static void add(spec *s, size_t *n, enum kind k, int32_t ndim, int64_t a, int64_t b, int64_t c, int64_t d,
                const char *fmt, const char *prefix, const char *leaf)
{
    spec *x = &s[(*n)++];
    snprintf(x->name, sizeof x->name, fmt, prefix, leaf);
    x->ndim = ndim;
    x->shape[0] = a; x->shape[1] = b; x->shape[2] = c; x->shape[3] = d;
    x->kind = k;
}

static void add_conv(spec *s, size_t *n, const geometry *g, const char *conv, int64_t o, int64_t i, int64_t k)
{
    add(s, n, CONV_W, 4, o, i, k, k, "%s.%s", conv, "weight");
    if (g->keras) add(s, n, CONV_B, 1, o, 1, 1, 1, "%s.%s", conv, "bias");
}

static void add_bn(spec *s, size_t *n, const char *bn, int64_t c)
{
    add(s, n, BN_GAMMA, 1, c, 1, 1, 1, "%s.%s", bn, "weight");
    add(s, n, BN_BETA, 1, c, 1, 1, 1, "%s.%s", bn, "bias");
    add(s, n, BN_MEAN, 1, c, 1, 1, 1, "%s.%s", bn, "running_mean");
    add(s, n, BN_VAR, 1, c, 1, 1, 1, "%s.%s", bn, "running_var");
}

/* Fills s (MAX_SPECS entries) in torchvision state_dict order; returns the count. */
static size_t enumerate(const geometry *g, spec *s)
{
    size_t n = 0;
    char p[48];
    add_conv(s, &n, g, "conv1", g->stem, 3, 7);
    add_bn(s, &n, "bn1", g->stem);
    int64_t in = g->stem;
    for (int st = 0; st < 4; st++) {
        int64_t width = g->planes[st] * g->width_mult, out = g->planes[st] * 4;
        for (int b = 0; b < BLOCKS[st]; b++) {
            snprintf(p, sizeof p, "layer%d.%d.conv1", st + 1, b);
            add_conv(s, &n, g, p, width, in, 1);
            snprintf(p, sizeof p, "layer%d.%d.bn1", st + 1, b);
            add_bn(s, &n, p, width);
            snprintf(p, sizeof p, "layer%d.%d.conv2", st + 1, b);
            add_conv(s, &n, g, p, width, width, 3);
            snprintf(p, sizeof p, "layer%d.%d.bn2", st + 1, b);
            add_bn(s, &n, p, width);
            snprintf(p, sizeof p, "layer%d.%d.conv3", st + 1, b);
            add_conv(s, &n, g, p, out, width, 1);
            snprintf(p, sizeof p, "layer%d.%d.bn3", st + 1, b);
            add_bn(s, &n, p, out);
            if (b == 0) {
                snprintf(p, sizeof p, "layer%d.0.downsample.0", st + 1);
                add_conv(s, &n, g, p, out, in, 1);
                snprintf(p, sizeof p, "layer%d.0.downsample.1", st + 1);
                add_bn(s, &n, p, out);
            }
            in = out;
        }
    }
    if (g->classes) {
        add(s, &n, FC_W, 2, g->classes, in, 1, 1, "%s.%s", "fc", "weight");
        add(s, &n, FC_B, 1, g->classes, 1, 1, 1, "%s.%s", "fc", "bias");
    }
    return n;
}

/* splitmix64: tiny, seedable, identical on every platform (tools/gen_weight_fixtures.py mirrors it). */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi) from the top 24 bits: exact in float32, so C and Python agree bit for bit. */
static float uniform(uint64_t *state, float lo, float hi)
{
    float u = (float)(next_u64(state) >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

int rp__weights_random(int32_t arch, int32_t layout, uint32_t width_divisor, uint64_t seed, rp__weights **out)
{
    static const char *fn = "rp__weights_random";
    if (out) *out = NULL;
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    if (arch != RP_ARCH_RESNET50 && arch != RP_ARCH_WIDE_RESNET50_2)
        return rp__fail(RP_E_INVALID_ARG, "%s: arch %d is not RP_ARCH_RESNET50 or RP_ARCH_WIDE_RESNET50_2", fn, arch);
    if (layout != RP_LAYOUT_TORCHVISION && layout != RP_LAYOUT_KERAS)
        return rp__fail(RP_E_INVALID_ARG, "%s: layout %d is not torchvision or keras", fn, layout);
    if (width_divisor == 0 || width_divisor > 64 || 64 % width_divisor != 0)
        return rp__fail(RP_E_INVALID_ARG, "%s: width_divisor %u must divide 64", fn, width_divisor);
    geometry g = {.stem = 64 / width_divisor, .width_mult = arch == RP_ARCH_WIDE_RESNET50_2 ? 2 : 1,
                  .keras = layout == RP_LAYOUT_KERAS, .classes = 1000};
    for (int st = 0; st < 4; st++) g.planes[st] = ((int64_t)64 << st) / width_divisor;
    spec *specs = rp__malloc(MAX_SPECS * sizeof *specs);
    rp__weights *w = rp__calloc(1, sizeof *w);
    if (!specs || !w) goto nomem;
    size_t n = enumerate(&g, specs), total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < specs[i].ndim; d++) numel *= (size_t)specs[i].shape[d];
        total += numel;
    }
    w->tensors = rp__calloc(n, sizeof *w->tensors);
    float *arena = rp__malloc(total * sizeof(float));
    w->storage_[0] = arena;
    if (!w->tensors || !arena) goto nomem;
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++) {
        const spec *sp = &specs[i];
        rp__tensor *t = &w->tensors[i];
        if (!(t->name = rp__strdup(sp->name))) goto nomem;
        w->count++;
        t->ndim = sp->ndim;
        memcpy(t->shape, sp->shape, sizeof t->shape);
        t->data = arena;
        size_t numel = rp__weights_numel(t);
        arena += numel;
        float lo = -0.1f, hi = 0.1f; /* biases, BN beta and running mean */
        if (sp->kind == CONV_W || sp->kind == FC_W) {
            /* Kaiming (fan_in, ReLU gain): U(-b, b) has std sqrt(2 / fan_in) for b = sqrt(6 / fan_in). */
            float fan_in = (float)(numel / (size_t)sp->shape[0]);
            hi = sp->kind == CONV_W ? sqrtf(6.0f / fan_in) : 1.0f / sqrtf(fan_in);
            lo = -hi;
        } else if (sp->kind == BN_GAMMA || sp->kind == BN_VAR) {
            lo = 0.5f, hi = 1.5f;
        }
        for (size_t k = 0; k < numel; k++) t->data[k] = uniform(&state, lo, hi);
    }
    w->layout = layout;
    if (rp__weights_index(w, NULL)) goto nomem; /* the names are distinct: only memory can fail */
    w->arch = rp__weights_infer_arch(w);
    free(specs);
    *out = w;
    return RP_OK;
nomem:
    free(specs);
    rp__weights_free(w);
    return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
}

int rp__weights_check_resnet(const rp__weights *w, int need_fc)
{
    static const char *fn = "rp__weights_check_resnet";
    if (!w) return rp__fail(RP_E_INVALID_ARG, "%s: weights are NULL", fn);
    const rp__tensor *stem = rp__weights_find(w, "conv1.weight");
    const rp__tensor *l1 = rp__weights_find(w, "layer1.0.conv1.weight");
    if (!stem) return rp__fail(RP_E_FORMAT, "%s: tensor 'conv1.weight' missing", fn);
    if (!l1) return rp__fail(RP_E_FORMAT, "%s: tensor 'layer1.0.conv1.weight' missing", fn);
    if (stem->ndim != 4 || stem->shape[0] < 1 || 64 % stem->shape[0] != 0 || l1->ndim != 4 ||
        (l1->shape[0] != stem->shape[0] && l1->shape[0] != 2 * stem->shape[0]))
        return rp__fail(RP_E_SHAPE, "%s: conv1.weight / layer1.0.conv1.weight shapes do not match a ResNet-50", fn);
    geometry g = {.stem = stem->shape[0], .width_mult = l1->shape[0] / stem->shape[0],
                  .keras = w->layout == RP_LAYOUT_KERAS};
    for (int st = 0; st < 4; st++) g.planes[st] = g.stem << st;
    const rp__tensor *fc = rp__weights_find(w, "fc.weight");
    if (fc && fc->ndim == 2) g.classes = fc->shape[0];
    else if (need_fc) return rp__fail(RP_E_FORMAT, "%s: tensor 'fc.weight' missing or not 2-D", fn);
    spec *specs = rp__malloc(MAX_SPECS * sizeof *specs);
    if (!specs) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    size_t n = enumerate(&g, specs);
    int rc = RP_OK;
    for (size_t i = 0; i < n && rc == RP_OK; i++) {
        const rp__tensor *t = rp__weights_find(w, specs[i].name);
        if (!t) {
            rc = rp__fail(RP_E_FORMAT, "%s: tensor '%s' missing", fn, specs[i].name);
            break;
        }
        int same = t->ndim == specs[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == specs[i].shape[d];
        if (!same) {
            char got[80], want[80];
            snprintf(got, sizeof got, "[%lld,%lld,%lld,%lld]/%d", (long long)t->shape[0], (long long)t->shape[1],
                     (long long)t->shape[2], (long long)t->shape[3], t->ndim);
            snprintf(want, sizeof want, "[%lld,%lld,%lld,%lld]/%d", (long long)specs[i].shape[0],
                     (long long)specs[i].shape[1], (long long)specs[i].shape[2], (long long)specs[i].shape[3],
                     specs[i].ndim);
            rc = rp__fail(RP_E_SHAPE, "%s: tensor '%s' has shape %s, expected %s (shape/ndim)", fn, specs[i].name,
                          got, want);
        }
    }
    free(specs);
    return rc;
}
