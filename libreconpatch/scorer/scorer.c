/* The scorer handle: resolves params, checks that the extractor, embedding and bank fit together,
 * and keeps borrowed pointers to them. Immutable after rp_scorer_create. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bank/bank_internal.h"
#include "common/alloc.h"
#include "common/common.h"
#include "image/preprocess.h"
#include "scorer/scorer_internal.h"

#define DEFAULT_RESIZE 256u
#define MAX_SIDE 16384u   /* geometry sanity bound, as the preprocessing's */
#define MAX_SIGMA 64.0    /* keeps the kernel (radius 4 sigma) within the filter's stack buffer */
#define MAX_NEIGHBORS 1024u /* the bank's largest k */

int rp_scorer_params_init(rp_scorer_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_scorer_params_init");
}

/* Patch grid, input size and feature length: from the extractor (its info, ex), or from params
 * without one. */
static int resolve_shapes(rp_scorer *s, const rp_extractor_info *ex, const rp_scorer_params *p, const char *fn)
{
    if (!ex) {
        if (!p->grid_size || !p->input_size)
            return rp__fail(RP_E_INVALID_ARG,
                            "%s: without an extractor params.grid_size (%u) and params.input_size (%u) are required",
                            fn, p->grid_size, p->input_size);
        s->geometry.grid_size = p->grid_size;
        s->geometry.input_size = p->input_size;
        s->feature_dim = s->embedding ? rp_embedding_in_dim(s->embedding) : rp_bank_dim(s->bank);
        return RP_OK;
    }
    if ((p->grid_size && p->grid_size != ex->grid_size) || (p->input_size && p->input_size != ex->input_size))
        return rp__fail(RP_E_SHAPE,
                        "%s: params.grid_size %u / input_size %u differ from the extractor's %u / %u (leave them 0)",
                        fn, p->grid_size, p->input_size, ex->grid_size, ex->input_size);
    s->geometry.grid_size = ex->grid_size;
    s->geometry.input_size = ex->input_size;
    s->feature_dim = ex->feature_dim;
    return RP_OK;
}

static int resolve_geometry(rp_scorer *s, const rp_scorer_params *p, const char *fn)
{
    rp__scorer_geometry *g = &s->geometry;
    if (g->grid_size == 0 || g->grid_size > MAX_SIDE || g->input_size == 0 || g->input_size > MAX_SIDE)
        return rp__fail(RP_E_INVALID_ARG, "%s: grid_size %u / input_size %u outside 1..%u", fn, g->grid_size,
                        g->input_size, MAX_SIDE);
    int rc = rp__image_check_crop_mode((int)p->no_crop, (int)p->keep_aspect, 1, fn);
    if (rc) return rc;
    s->no_crop = p->no_crop ? 1u : 0u;
    g->keep_aspect = p->keep_aspect ? 1u : 0u;
    if (s->no_crop) {
        g->resize = g->input_size;
        g->crop_offset = 0;
        return RP_OK;
    }
    g->resize = p->resize ? p->resize : DEFAULT_RESIZE;
    if (g->resize < g->input_size || g->resize > MAX_SIDE)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.resize %u must be in input_size %u..%u (or set no_crop)", fn,
                        g->resize, g->input_size, MAX_SIDE);
    g->crop_offset = rp__image_crop_offset(g->resize, g->input_size); /* keep_aspect: the shorter side's */
    return RP_OK;
}

/* With an extractor, zero geometry fields take the extractor's values: the defaults follow the
 * handle the scorer sits on (an extractor at resize 320 needs no repeated params). */
static void inherit_extractor_geometry(rp_scorer_params *p, const rp_extractor_info *ex)
{
    if (!ex) return;
    if (!p->resize) p->resize = ex->resize;
    if (!p->no_crop) p->no_crop = ex->no_crop;
    if (!p->keep_aspect) p->keep_aspect = ex->keep_aspect;
}

/* With an extractor, the scorer's resize / no_crop / keep_aspect must be the extractor's: otherwise
 * the maps would be put back onto the image with another geometry than the patches came from. */
static int check_extractor_geometry(const rp_scorer *s, const rp_extractor_info *ex, const char *fn)
{
    if (!ex) return RP_OK;
    const rp__scorer_geometry *g = &s->geometry;
    const int same = s->no_crop == ex->no_crop && g->keep_aspect == ex->keep_aspect &&
                     (s->no_crop || g->resize == ex->resize);
    if (!same)
        return rp__fail(RP_E_SHAPE,
                        "%s: params.resize %u / no_crop %u / keep_aspect %u differ from the extractor's %u / %u / %u "
                        "(leave them 0 to take the extractor's)",
                        fn, g->resize, s->no_crop, g->keep_aspect, ex->resize, ex->no_crop, ex->keep_aspect);
    return RP_OK;
}

/* Feature length -> (embedding) -> bank dim must chain. */
static int check_dims(const rp_scorer *s, const char *fn)
{
    const uint32_t bank_dim = rp_bank_dim(s->bank);
    if (s->embedding) {
        const uint32_t in = rp_embedding_in_dim(s->embedding), out = rp_embedding_out_dim(s->embedding);
        if (in != s->feature_dim)
            return rp__fail(RP_E_SHAPE, "%s: embedding in_dim %u != patch feature length %u", fn, in, s->feature_dim);
        if (out != bank_dim)
            return rp__fail(RP_E_SHAPE, "%s: embedding out_dim %u != bank dim %u", fn, out, bank_dim);
    } else if (s->feature_dim != bank_dim) {
        return rp__fail(RP_E_SHAPE, "%s: patch feature length %u != bank dim %u (and no embedding)", fn,
                        s->feature_dim, bank_dim);
    }
    return RP_OK;
}

/* The reweighting needs distances to a few bank vectors: the frozen bank's own, or (a bank that
 * exposes none) a copy. */
static int load_bank_vectors(rp_scorer *s, const char *fn)
{
    if ((s->bank_vectors = rp__bank_frozen_vectors(s->bank))) return RP_OK;
    size_t floats, bytes;
    if (s->bank_size > SIZE_MAX || rp__mul_size((size_t)s->bank_size, s->bank_dim, &floats) ||
        rp__mul_size(floats, sizeof(float), &bytes))
        return rp__fail(RP_E_LIMIT, "%s: bank of %llu x %u is too large", fn, (unsigned long long)s->bank_size,
                        s->bank_dim);
    s->bank_vectors_owned = rp__malloc(bytes);
    if (!s->bank_vectors_owned)
        return rp__fail(RP_E_NOMEM, "%s: out of memory for a copy of the bank (%zu bytes)", fn, bytes);
    int rc = rp_bank_get_vectors(s->bank, s->bank_vectors_owned, floats);
    if (rc) return rp__fail(rc, "%s: rp_bank_get_vectors failed", fn);
    s->bank_vectors = s->bank_vectors_owned;
    return RP_OK;
}

int rp_scorer_create(const rp_extractor *extractor, const rp_embedding *embedding, const rp_bank *bank,
                     const rp_scorer_params *params, rp_scorer **out)
{
    static const char fn[] = "rp_scorer_create";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!bank) return rp__fail(RP_E_INVALID_ARG, "%s: bank is NULL", fn);
    if (!rp_bank_is_frozen(bank))
        return rp__fail(RP_E_STATE, "%s: the bank is not frozen (call rp_bank_freeze first)", fn);
    if (rp_bank_size(bank) == 0) return rp__fail(RP_E_STATE, "%s: the bank is empty", fn);
    rp_scorer_params p;
    rp_scorer_params_init(&p, sizeof p);
    int rc = rp__params_copy(&p, sizeof p, params, fn);
    if (rc) return rc;
    if (p.map_sigma == 0.0) p.map_sigma = RP_SCORER_DEFAULT_MAP_SIGMA;
    if (!(p.map_sigma > 0.0 && p.map_sigma <= MAX_SIGMA))
        return rp__fail(RP_E_INVALID_ARG, "%s: params.map_sigma %g is outside (0, %g]", fn, p.map_sigma, MAX_SIGMA);

    rp_scorer *s = rp__calloc(1, sizeof *s);
    if (!s) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    s->extractor = extractor;
    s->embedding = embedding;
    s->bank = bank;
    s->bank_dim = rp_bank_dim(bank);
    s->bank_size = rp_bank_size(bank);
    s->map_sigma = p.map_sigma;
    s->num_threads = p.num_threads ? p.num_threads : rp__cpu_count();
    const uint32_t b = p.reweight_neighbors ? p.reweight_neighbors : RP_SCORER_DEFAULT_REWEIGHT_NEIGHBORS;
    if (b > MAX_NEIGHBORS) {
        rp_scorer_free(s);
        return rp__fail(RP_E_INVALID_ARG, "%s: params.reweight_neighbors %u is over %u", fn, b, MAX_NEIGHBORS);
    }
    s->reweight_neighbors = (uint64_t)b > s->bank_size ? (uint32_t)s->bank_size : b;

    rp_extractor_info info = {.struct_size = sizeof info};
    const rp_extractor_info *ex = NULL;
    if (extractor) {
        rc = rp_extractor_get_info(extractor, &info, sizeof info);
        if (rc) rc = rp__fail(rc, "%s: rp_extractor_get_info failed", fn);
        ex = &info;
    }
    if (!rc) rc = resolve_shapes(s, ex, &p, fn);
    inherit_extractor_geometry(&p, ex);
    if (!rc) rc = resolve_geometry(s, &p, fn);
    if (!rc) rc = check_extractor_geometry(s, ex, fn);
    if (!rc) rc = check_dims(s, fn);
    if (!rc) rc = load_bank_vectors(s, fn);
    if (rc) {
        rp_scorer_free(s);
        return rc;
    }
    rp__log(RP_LOG_DEBUG, "%s: grid %u, input %u, resize %u%s (offset %u), features %u -> bank %llu x %u, b %u", fn,
            s->geometry.grid_size, s->geometry.input_size, s->geometry.resize,
            s->geometry.keep_aspect ? " (shorter side, aspect kept)" : "", s->geometry.crop_offset,
            s->feature_dim, (unsigned long long)s->bank_size, s->bank_dim, s->reweight_neighbors);
    *out = s;
    return RP_OK;
}

void rp_scorer_free(rp_scorer *scorer)
{
    if (!scorer) return;
    free(scorer->bank_vectors_owned);
    free(scorer);
}

int rp_scorer_get_info(const rp_scorer *s, rp_scorer_info *info, size_t size)
{
    static const char fn[] = "rp_scorer_get_info";
    rp__clear_error();
    if (!s || !info) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !s ? "scorer" : "info");
    if (size < sizeof(uint32_t)) return rp__fail(RP_E_INVALID_ARG, "%s: size %zu is too small", fn, size);
    rp_scorer_info full = {
        .struct_size = (uint32_t)(size < sizeof full ? size : sizeof full),
        .grid_size = s->geometry.grid_size,
        .input_size = s->geometry.input_size,
        .feature_dim = s->feature_dim,
        .bank_dim = s->bank_dim,
        .reweight_neighbors = s->reweight_neighbors,
        .bank_size = s->bank_size,
        .map_sigma = s->map_sigma,
        .resize = s->geometry.resize,
        .crop_offset = s->geometry.crop_offset,
        .no_crop = s->no_crop,
        .num_threads = s->num_threads,
        .has_extractor = s->extractor != NULL,
        .has_embedding = s->embedding != NULL,
        .keep_aspect = s->geometry.keep_aspect,
    };
    memset(info, 0, size);
    memcpy(info, &full, full.struct_size);
    return RP_OK;
}
