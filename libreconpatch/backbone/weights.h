/* Backbone weights in memory: a flat list of named float32 tensors, always under torchvision
 * state_dict names and in torchvision shapes (conv OIHW, fc [1000, in]), whatever the file held.
 * Loaders: safetensors (weights_safetensors.c) and TF.js layers model.json + shards
 * (weights_tfjs.c, Keras names mapped and kernels transposed). See docs/weights.md. Internal. */
#ifndef RP_BACKBONE_WEIGHTS_H
#define RP_BACKBONE_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "reconpatch/extractor.h"

/* Largest ndim a tensor may have (conv kernels are 4-D). */
#define RP_WEIGHTS_MAX_NDIM 4

typedef struct rp__tensor {
    char *name;       /* torchvision name, e.g. "layer1.0.conv1.weight" */
    int32_t ndim;     /* 0..4 */
    int64_t shape[4]; /* shape[0..ndim-1]; unused trailing entries are 1 */
    float *data;      /* row-major float32, owned by the rp__weights */
} rp__tensor;

typedef struct rp__weights {
    rp__tensor *tensors;
    size_t count;
    int32_t layout;  /* RP_LAYOUT_TORCHVISION or RP_LAYOUT_KERAS */
    int32_t arch;    /* RP_ARCH_RESNET50 / RP_ARCH_WIDE_RESNET50_2 / 0 if unknown (from shapes) */
    char sha256[65]; /* hex sha256 of the bytes read (safetensors file; TF.js: model.json then the
                        shards in manifest order); "" for random weights */
    /* Private storage the tensors point into; released by rp__weights_free. */
    void *storage_[2];
    /* The tensors sorted by name (rp__weights_index), so that lookups are binary searches; code
     * that renames a tensor afterwards (tests) indexes again. */
    const rp__tensor **by_name_;
} rp__weights;

/* Load a .safetensors file or a TF.js layers model.json (recognised by content, not by name).
 * On failure *out is NULL and the thread's last error names the file and the problem. */
int rp__weights_load(const char *path, rp__weights **out);

/* The tensor with this torchvision name, or NULL: a binary search in w->by_name_. Every loader
 * indexes its weights before anything looks a tensor up; unindexed weights find nothing. */
const rp__tensor *rp__weights_find(const rp__weights *w, const char *name);

/* Sort the tensors by name into w->by_name_ (every loader's last step, before any check looks
 * tensors up: a ResNet check is ~320 lookups). This is also where every loader finds a name given
 * twice: RP_E_FORMAT, with dup[0] < dup[1] (if dup is not NULL) the two tensors' indices and a
 * message naming the tensor, which a loader replaces with one naming its file. Or RP_E_NOMEM. */
int rp__weights_index(rp__weights *w, size_t dup[2]);

/* Seeded random torchvision-layout (or Keras-layout: adds conv biases) ResNet weights: kaiming-like
 * conv init, BN gamma ~ U(0.5,1.5), beta and mean small, var ~ U(0.5,1.5). width_divisor 1 is the
 * full network; 2, 4, ... divide every channel count (stem included) for small test nets.
 * Same (arch, layout, width_divisor, seed) gives the same bytes on every machine. */
int rp__weights_random(int32_t arch, int32_t layout, uint32_t width_divisor, uint64_t seed, rp__weights **out);

void rp__weights_free(rp__weights *w);

/* Number of elements of a tensor (product of its shape). */
size_t rp__weights_numel(const rp__tensor *t);

/* Check that w holds every tensor a ResNet-50-family network needs, with consistent shapes
 * (4 stages of 3/4/6/3 bottleneck blocks, conv biases iff layout is Keras, fc optional when
 * need_fc is 0). Fails with RP_E_FORMAT (missing tensor) or RP_E_SHAPE naming the tensor. */
int rp__weights_check_resnet(const rp__weights *w, int need_fc);

/* ---- helpers shared by the loaders (weights_common.c) ---- */

/* The two formats' loaders, after rp__weights_load has recognised the content. */
int rp__weights_load_safetensors(const char *path, rp__weights **out);
int rp__weights_load_tfjs(const char *path, rp__weights **out);

/* Arch from shapes: conv1 out 64 and layer1.0.conv1 out 64 -> resnet50, 128 -> wide, else 0. */
int32_t rp__weights_infer_arch(const rp__weights *w);

/* Incremental SHA-256 (weights_sha256.c, OpenSSL). init and update cannot fail by themselves: a
 * failure (no memory for OpenSSL's context) is kept and returned by hex, which finalises and frees.
 * A path that gives up before hex calls discard; both are safe to call more than once. */
typedef struct rp__sha256 {
    struct evp_md_ctx_st *ctx; /* OpenSSL's EVP_MD_CTX */
    int failed;
} rp__sha256;
void rp__weights_sha256_init(rp__sha256 *s);
void rp__weights_sha256_update(rp__sha256 *s, const void *data, size_t n);
int rp__weights_sha256_hex(rp__sha256 *s, char hex[65]); /* RP_OK, or RP_E_NOMEM / RP_E_INTERNAL (recorded) */
void rp__weights_sha256_discard(rp__sha256 *s);

#endif
