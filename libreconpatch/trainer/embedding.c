/* The representation layer f, as used at scoring time: out = in * W^T + b, one sgemm.
 * Scoring runs it on every test image, so it uses oneDNN's sgemm (JIT AVX-512 kernels, about 4x
 * Debian OpenBLAS's auto-detected kernel on this CPU); training keeps OpenBLAS. */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/common.h"

struct rp_embedding {
    uint32_t in_dim, out_dim;
    float *weight; /* out_dim x in_dim */
    float *bias;   /* out_dim */
};

int rp_embedding_create(uint32_t in_dim, uint32_t out_dim, const float *weight, const float *bias,
                        rp_embedding **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_create: out is NULL");
    *out = NULL;
    if (!weight) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_create: weight is NULL");
    if (!in_dim || !out_dim || in_dim > (1u << 20) || out_dim > (1u << 20))
        return rp__fail(RP_E_INVALID_ARG, "rp_embedding_create: dims %u x %u out of range (1..2^20)", out_dim,
                        in_dim);
    rp_embedding *e = rp__calloc(1, sizeof *e);
    size_t nw = (size_t)in_dim * out_dim;
    if (e) {
        e->weight = rp__malloc(nw * sizeof(float));
        e->bias = rp__calloc(out_dim, sizeof(float));
    }
    if (!e || !e->weight || !e->bias) {
        rp_embedding_free(e);
        return rp__fail(RP_E_NOMEM, "rp_embedding_create: out of memory for %u x %u weights", out_dim, in_dim);
    }
    e->in_dim = in_dim;
    e->out_dim = out_dim;
    memcpy(e->weight, weight, nw * sizeof(float));
    if (bias) memcpy(e->bias, bias, out_dim * sizeof(float));
    *out = e;
    return RP_OK;
}

uint32_t rp_embedding_in_dim(const rp_embedding *e) { return e ? e->in_dim : 0; }
uint32_t rp_embedding_out_dim(const rp_embedding *e) { return e ? e->out_dim : 0; }

int rp_embedding_apply(const rp_embedding *e, const float *in, uint64_t count, float *out, size_t out_floats)
{
    rp__clear_error();
    if (!e || !in || !out) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_apply: NULL argument");
    if (count == 0) return RP_OK;
    if (count > (uint64_t)INT32_MAX || out_floats / e->out_dim < count)
        return rp__fail(RP_E_SHAPE, "rp_embedding_apply: output holds %zu floats, %llu x %u needed", out_floats,
                        (unsigned long long)count, e->out_dim);
    for (uint64_t i = 0; i < count; i++) memcpy(out + i * e->out_dim, e->bias, e->out_dim * sizeof(float));
    dnnl_status_t st = dnnl_sgemm('N', 'T', (dnnl_dim_t)count, e->out_dim, e->in_dim, 1.0f, in, e->in_dim,
                                  e->weight, e->in_dim, 1.0f, out, e->out_dim);
    if (st != dnnl_success)
        return rp__fail(RP_E_BACKEND, "rp_embedding_apply: dnnl_sgemm failed (status %d)", (int)st);
    return RP_OK;
}

int rp_embedding_get(const rp_embedding *e, float *weight_out, size_t weight_floats, float *bias_out,
                     size_t bias_floats)
{
    rp__clear_error();
    if (!e) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_get: embedding is NULL");
    size_t nw = (size_t)e->in_dim * e->out_dim;
    if (weight_out && weight_floats < nw)
        return rp__fail(RP_E_SHAPE, "rp_embedding_get: weight buffer holds %zu floats, %zu needed", weight_floats, nw);
    if (bias_out && bias_floats < e->out_dim)
        return rp__fail(RP_E_SHAPE, "rp_embedding_get: bias buffer holds %zu floats, %u needed", bias_floats,
                        e->out_dim);
    if (weight_out) memcpy(weight_out, e->weight, nw * sizeof(float));
    if (bias_out) memcpy(bias_out, e->bias, e->out_dim * sizeof(float));
    return RP_OK;
}

void rp_embedding_free(rp_embedding *e)
{
    if (!e) return;
    free(e->weight);
    free(e->bias);
    free(e);
}
