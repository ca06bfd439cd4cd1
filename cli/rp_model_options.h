/* The command-line options that shape a model's representation, shared by rp-train and rp-eval:
 *   --repr-dim N        output size of the learned head f (ReConPatch; default 64)
 *   --feature-dim N     patch feature length after the aggregation (PatchCore's own reduction by
 *                       adaptive average pooling; default 1024)
 *   --pca N             PCA onto N components instead of the learned head (RP_METHOD_PCA)
 *   --sampler uniform|aligned   how the head's training batches are drawn
 *   --precision fp32|bf16|auto  the backbone's arithmetic (auto: bf16 where the CPU runs it natively)
 *   --seed N            the head's training seed (ReConPatch; 0 = the library's default)
 *   --feature-memory-limit N[K|M|G]|none   patch features held in memory while training before
 *                       they go to a temporary file (rp_train_params.feature_memory_limit; 2G)
 *   --spill-dir DIR     where that file goes ($TMPDIR, else /tmp)
 *   --heads per-category|shared|none   which head makes each category's bank vectors in a model of
 *                       several categories (rp_train_params.heads; none: adding a category only)
 * Header-only; each tool keeps its own other options. */
#ifndef RP_MODEL_OPTIONS_H
#define RP_MODEL_OPTIONS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reconpatch/reconpatch.h>

typedef struct rp_model_options {
    unsigned repr_dim, feature_dim, pca_dim, sampler;
    int32_t precision; /* RP_PRECISION_*; 0 = the library's default (fp32) */
    unsigned long long seed; /* 0 = the trainer's default */
    uint64_t feature_memory_limit; /* 0 = the library's default; UINT64_MAX = never spill */
    const char *spill_dir;
    int32_t heads; /* RP_HEADS_*; 0 = the library's default */
} rp_model_options;

#define RP_MODEL_OPTIONS_USAGE \
    "[--repr-dim N] [--feature-dim N] [--pca N] [--sampler uniform|aligned] [--precision fp32|bf16|auto] [--seed N]\n" \
    "    [--feature-memory-limit N[K|M|G]|none] [--spill-dir DIR] [--heads per-category|shared|none]"

/* --feature-memory-limit's value: bytes with an optional K, M or G (powers of 1024), or none. */
static inline uint64_t rp_model_options_bytes(const char *program, const char *v)
{
    if (v && !strcmp(v, "none")) return UINT64_MAX;
    char *end = NULL;
    unsigned long long n = v ? strtoull(v, &end, 10) : 0;
    const int shift = end && *end == 'K' ? 10 : end && *end == 'M' ? 20 : end && *end == 'G' ? 30 : 0;
    if (!v || end == v || (shift ? end[1] != '\0' : *end != '\0') || n == 0 || n > (UINT64_MAX >> 30)) {
        fprintf(stderr, "%s: --feature-memory-limit %s: expected a positive number of bytes, with K, M or G, or none\n",
                program, v ? v : "(missing)");
        exit(2);
    }
    return (uint64_t)n << shift;
}

/* --precision's value, or exit(2) naming the choices. Shared with rp-score. */
static inline int32_t rp_model_options_precision(const char *program, const char *v)
{
    if (v && !strcmp(v, "fp32")) return RP_PRECISION_FP32;
    if (v && !strcmp(v, "bf16")) return RP_PRECISION_BF16;
    if (v && !strcmp(v, "auto")) return RP_PRECISION_AUTO;
    fprintf(stderr, "%s: --precision %s: expected fp32, bf16 or auto\n", program, v ? v : "(missing)");
    exit(2);
}

static inline unsigned rp_model_options_count(const char *program, const char *flag, const char *v)
{
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < 1 || n > 65536) {
        fprintf(stderr, "%s: %s %s: expected a whole number from 1 to 65536\n", program, flag, v ? v : "(missing)");
        exit(2);
    }
    return (unsigned)n;
}

/* If argv[*i] is one of these options, consume it (and its value) and return 1. */
static inline int rp_model_options_parse(const char *program, char **argv, int argc, int *i, rp_model_options *o)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(a, "--repr-dim")) o->repr_dim = rp_model_options_count(program, a, v);
    else if (!strcmp(a, "--feature-dim")) o->feature_dim = rp_model_options_count(program, a, v);
    else if (!strcmp(a, "--pca")) o->pca_dim = rp_model_options_count(program, a, v);
    else if (!strcmp(a, "--precision")) o->precision = rp_model_options_precision(program, v);
    else if (!strcmp(a, "--seed")) o->seed = rp_model_options_count(program, a, v);
    else if (!strcmp(a, "--feature-memory-limit")) o->feature_memory_limit = rp_model_options_bytes(program, v);
    else if (!strcmp(a, "--spill-dir") && v) o->spill_dir = v;
    else if (!strcmp(a, "--heads")) {
        if (v && !strcmp(v, "per-category")) o->heads = RP_HEADS_PER_CATEGORY;
        else if (v && !strcmp(v, "shared")) o->heads = RP_HEADS_SHARED;
        else if (v && !strcmp(v, "none")) o->heads = RP_HEADS_NONE;
        else {
            fprintf(stderr, "%s: --heads %s: expected per-category, shared or none\n", program, v ? v : "(missing)");
            exit(2);
        }
    }
    else if (!strcmp(a, "--sampler")) {
        if (v && !strcmp(v, "uniform")) o->sampler = RP_SAMPLER_UNIFORM;
        else if (v && !strcmp(v, "aligned")) o->sampler = RP_SAMPLER_ALIGNED;
        else {
            fprintf(stderr, "%s: --sampler %s: expected uniform or aligned\n", program, v ? v : "(missing)");
            exit(2);
        }
    } else return 0;
    (*i)++;
    return 1;
}

/* Apply the options to the training params; --pca turns the method into RP_METHOD_PCA. */
static inline void rp_model_options_apply(const rp_model_options *o, int32_t *method, rp_extractor_params *ep,
                                          rp_trainer_params *tp)
{
    if (o->feature_dim) ep->feature_dim = o->feature_dim;
    if (o->precision) ep->precision = o->precision;
    if (o->repr_dim) tp->repr_dim = o->repr_dim;
    if (o->sampler) tp->sampler = o->sampler;
    if (o->seed) tp->seed = o->seed;
    if (o->pca_dim) {
        *method = RP_METHOD_PCA;
        tp->repr_dim = o->pca_dim;
    }
}

/* The training-memory and heads options (also for rp_model_add_normals' params). */
static inline void rp_model_options_apply_train(const rp_model_options *o, rp_train_params *p)
{
    p->feature_memory_limit = o->feature_memory_limit;
    p->spill_dir = o->spill_dir;
    p->heads = o->heads;
}

static inline const char *rp_model_options_method_name(int32_t method)
{
    return method == RP_METHOD_PATCHCORE ? "patchcore" : method == RP_METHOD_PCA ? "pca" : "reconpatch";
}

#endif
