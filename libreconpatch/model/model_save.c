/* rp_model_save: the model -> sections (docs/model-format.md) -> an atomically replaced file. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "backbone/weights_memory.h"
#include "bank/bank_internal.h"
#include "model/le_bytes.h"
#include "model/model_format.h"
#include "model/model_io.h"
#include "model/model_internal.h"

#define FN "rp_model_save"

int rp_model_save_params_init(rp_model_save_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_model_save_params_init");
}

/* One section: its small fields, then optionally an array of floats and raw bytes. */
typedef struct section {
    const char *id;
    uint32_t flags;
    rp__bytes fields;
    const float *floats;
    size_t n_floats;
    const uint8_t *raw;
    size_t raw_size;
} section;

static uint64_t payload_size(const section *s)
{
    return (uint64_t)s->fields.size + 4u * (uint64_t)s->n_floats + s->raw_size;
}

/* Everything the file holds, gathered before the first byte is written. */
typedef struct plan {
    section sec[9 + 2 * RP__MAX_CATEGORIES];
    int n;
    float *bank_vectors[RP__MAX_CATEGORIES]; /* owned copies, one per category */
    float *head;                 /* owned copy */
    float *category_head[RP__MAX_CATEGORIES]; /* owned copies of the categories' own heads */
    uint8_t *weights_blob;       /* owned when serialised here */
    uint32_t version;            /* the file's format version */
} plan;

static section *add_section(plan *p, const char *id)
{
    section *s = &p->sec[p->n++];
    memset(s, 0, sizeof *s);
    s->id = id;
    return s;
}

static void plan_free(plan *p)
{
    for (int i = 0; i < p->n; i++) rp__bytes_free(&p->sec[i].fields);
    for (uint32_t c = 0; c < RP__MAX_CATEGORIES; c++) {
        free(p->bank_vectors[c]);
        free(p->category_head[c]);
    }
    free(p->head);
    free(p->weights_blob);
}

/* The embedded weights: the blob the model was loaded with, or the weights file serialised as
 * safetensors after checking it is still the file the model was built from. */
static int embedded_weights(const rp_model *m, plan *p, const uint8_t **blob, size_t *size)
{
    const rp__backbone_identity *id = &m->backbone;
    if (id->embedded) {
        *blob = id->embedded;
        *size = id->embedded_size;
        return RP_OK;
    }
    rp__weights *w = NULL;
    int rc = rp__model_weights_checked(id->weights_path, id->sha256, FN, &w);
    if (rc) return rc;
    rc = rp__weights_to_safetensors(w, &p->weights_blob, size);
    rp__weights_free(w);
    *blob = p->weights_blob;
    return rc;
}

/* BANK's fields (dim, flags, count) and a copy of the vectors (*floats_out, owned by the caller). */
static int bank_fields(const rp_bank *bank, rp__bytes *fields, float **floats_out, size_t *n_floats)
{
    uint64_t count = rp_bank_size(bank);
    uint32_t dim = rp_bank_dim(bank);
    size_t bank_floats = (size_t)count * dim;
    if (!(*floats_out = rp__malloc((bank_floats ? bank_floats : 1) * sizeof(float))))
        return rp__fail(RP_E_NOMEM, FN ": out of memory for %llu x %u bank vectors", (unsigned long long)count, dim);
    int rc = rp_bank_get_vectors(bank, *floats_out, bank_floats);
    if (rc) return rc;
    rp__bytes_u32(fields, dim);
    rp__bytes_u32(fields, (rp__bank_knn_int8(bank) ? RP__BANK_FLAG_KNN_INT8 : 0u) |
                              (rp__bank_knn_bf16(bank) ? RP__BANK_FLAG_KNN_BF16 : 0u)); /* reserved, 0, in version 1 */
    rp__bytes_u64(fields, count);
    *n_floats = bank_floats;
    return RP_OK;
}

/* A head's in and out dims (into fields) and a copy of its weights then biases (*floats_out,
 * owned by the caller): the payload of HEAD, and the tail of a CHED. */
static int head_fields(const rp_embedding *f, rp__bytes *fields, float **floats_out, size_t *n_floats)
{
    const uint32_t in = rp_embedding_in_dim(f), out = rp_embedding_out_dim(f);
    const size_t wn = (size_t)in * out;
    if (!(*floats_out = rp__malloc((wn + out) * sizeof(float)))) return rp__fail(RP_E_NOMEM, FN ": out of memory");
    int rc = rp_embedding_get(f, *floats_out, wn, *floats_out + wn, out);
    if (rc) return rc;
    rp__bytes_u32(fields, in);
    rp__bytes_u32(fields, out);
    *n_floats = wn + out;
    return RP_OK;
}

static void thresholds_fields(const rp_model_thresholds *t, rp__bytes *fields)
{
    rp__bytes_i32(fields, t->rule);
    rp__bytes_u32(fields, t->calibration_images);
    rp__bytes_f64(fields, t->image_threshold);
    rp__bytes_f64(fields, t->pixel_threshold);
    rp__bytes_f64(fields, t->quantile);
    rp__bytes_f64(fields, t->f1);
}

/* Format 4: CATS (names, router) and one CBNK per category after the first, whose bank and
 * thresholds are in BANK and THRS. */
static int category_sections(const rp_model *m, plan *p)
{
    const rp__router *r = &m->router;
    section *s = add_section(p, RP__SEC_CATEGORIES);
    rp__bytes_u32(&s->fields, m->n_categories);
    rp__bytes_u32(&s->fields, r->dim);
    rp__bytes_u32(&s->fields, r->count);
    rp__bytes_u32(&s->fields, 0);
    for (uint32_t c = 0; c < m->n_categories; c++) {
        const char *name = m->categories[c].name ? m->categories[c].name : "";
        const size_t len = strlen(name);
        if (len > RP__MODEL_MAX_PATH)
            return rp__fail(RP_E_INVALID_ARG, FN ": category name %u is %zu bytes (at most %u)", c, len,
                            RP__MODEL_MAX_PATH);
        rp__bytes_u32(&s->fields, (uint32_t)len);
        rp__bytes_raw(&s->fields, name, len);
    }
    for (uint32_t i = 0; i < r->count; i++) rp__bytes_u32(&s->fields, r->category[i]);
    s->floats = r->descriptors;
    s->n_floats = (size_t)r->count * r->dim;
    for (uint32_t c = 1; c < m->n_categories; c++) {
        const rp__category *k = &m->categories[c];
        s = add_section(p, RP__SEC_CATEGORY_BANK);
        rp__bytes_u32(&s->fields, c);
        rp__bytes_u32(&s->fields, k->head_kind); /* RP__HEAD_*, the file's values */
        thresholds_fields(&k->thresholds, &s->fields);
        int rc = bank_fields(k->bank, &s->fields, &p->bank_vectors[c], &s->n_floats);
        if (rc) return rc;
        s->floats = p->bank_vectors[c];
        if (k->head_kind == RP__HEAD_OWN) {
            s = add_section(p, RP__SEC_CATEGORY_HEAD);
            rp__bytes_u32(&s->fields, c);
            rp__bytes_u32(&s->fields, 0);
            if ((rc = head_fields(k->own_head, &s->fields, &p->category_head[c], &s->n_floats))) return rc;
            s->floats = p->category_head[c];
        }
    }
    return RP_OK;
}

static int build_plan(const rp_model *m, const rp_model_save_params *sp, const char *model_path, plan *p)
{
    const rp_extractor_params *ep = &m->extractor_params;
    rp_extractor_info info;
    info.struct_size = sizeof info;
    int rc = rp_extractor_get_info(m->extractor, &info, sizeof info);
    if (rc) return rc;
    /* The oldest format that holds everything this model uses, so that libraries from before
     * keep_aspect and the int8 / bf16 kNN still read the models that use neither. */
    const int reduced_knn = rp__bank_knn_int8(m->categories[0].bank) || rp__bank_knn_bf16(m->categories[0].bank);
    int own_heads = 0;
    for (uint32_t c = 1; c < m->n_categories; c++) own_heads |= m->categories[c].head_kind != RP__HEAD_MODEL;
    p->version = own_heads          ? 5u
                 : m->router.count  ? 4u
                 : m->method == RP_METHOD_PCA ? 3u
                 : ep->keep_aspect || reduced_knn ? 2u
                                                : 1u;

    section *s = add_section(p, RP__SEC_MODEL);
    rp__bytes_i32(&s->fields, m->method);
    rp__bytes_u32(&s->fields, 0);

    s = add_section(p, RP__SEC_EXTRACTOR);
    rp__bytes_i32(&s->fields, ep->arch);
    rp__bytes_i32(&s->fields, ep->precision);
    rp__bytes_u32(&s->fields, ep->resize);
    rp__bytes_u32(&s->fields, ep->crop);
    rp__bytes_u32(&s->fields, ep->no_crop ? 1u : 0u);
    rp__bytes_i32(&s->fields, ep->normalization);
    rp__bytes_u32(&s->fields, ep->feature_dim);
    rp__bytes_u32(&s->fields, ep->patch_size);
    rp__bytes_u64(&s->fields, ep->max_pixels);
    rp__bytes_u32(&s->fields, info.grid_size);
    rp__bytes_u32(&s->fields, info.input_size);
    if (p->version >= 2) rp__bytes_u32(&s->fields, ep->keep_aspect ? 1u : 0u);

    /* Backbone: identity and either the weights or the path to find them. */
    const char *recorded = NULL;
    const uint8_t *blob = NULL;
    size_t blob_size = 0;
    if (sp->embed_weights) {
        if ((rc = embedded_weights(m, p, &blob, &blob_size))) return rc;
        recorded = m->backbone.weights_path; /* a hint only: embedded weights need no file */
    } else {
        recorded = sp->weights_path ? sp->weights_path : m->backbone.weights_path;
        if (!recorded)
            return rp__fail(RP_E_STATE, FN ": the model was loaded with embedded weights and knows no weights file: "
                                        "set params.weights_path or params.embed_weights");
        /* Check now, not at load time, that the recorded file is the model's backbone. */
        char *resolved = rp__model_resolve_path(recorded, model_path);
        if (!resolved) return rp__fail(RP_E_NOMEM, FN ": out of memory");
        rp__weights *w = NULL;
        rc = rp__model_weights_checked(resolved, m->backbone.sha256, FN, &w);
        rp__weights_free(w);
        free(resolved);
        if (rc) return rc;
    }
    size_t path_len = recorded ? strlen(recorded) : 0;
    if (path_len > RP__MODEL_MAX_PATH)
        return rp__fail(RP_E_INVALID_ARG, FN ": weights path is %zu bytes (at most %u)", path_len, RP__MODEL_MAX_PATH);
    s = add_section(p, RP__SEC_BACKBONE);
    rp__bytes_i32(&s->fields, m->backbone.arch);
    rp__bytes_i32(&s->fields, m->backbone.layout);
    char sha[64];
    memset(sha, '0', sizeof sha);
    memcpy(sha, m->backbone.sha256, strnlen(m->backbone.sha256, sizeof sha));
    rp__bytes_raw(&s->fields, sha, sizeof sha);
    rp__bytes_u32(&s->fields, blob ? RP__WEIGHTS_EMBEDDED : RP__WEIGHTS_REFERENCED);
    rp__bytes_u32(&s->fields, (uint32_t)path_len);
    rp__bytes_raw(&s->fields, recorded, path_len);
    if (blob) {
        s = add_section(p, RP__SEC_WEIGHTS);
        s->raw = blob;
        s->raw_size = blob_size;
    }

    if (m->embedding) {
        s = add_section(p, RP__SEC_HEAD);
        if ((rc = head_fields(m->embedding, &s->fields, &p->head, &s->n_floats))) return rc;
        s->floats = p->head;
    }

    s = add_section(p, RP__SEC_BANK);
    if ((rc = bank_fields(m->categories[0].bank, &s->fields, &p->bank_vectors[0], &s->n_floats))) return rc;
    s->floats = p->bank_vectors[0];
    rp_scorer_info si;
    si.struct_size = sizeof si;
    if ((rc = rp_scorer_get_info(m->categories[0].scorer, &si, sizeof si))) return rc;
    s = add_section(p, RP__SEC_SCORER);
    rp__bytes_u32(&s->fields, si.reweight_neighbors);
    rp__bytes_u32(&s->fields, 0);
    rp__bytes_f64(&s->fields, si.map_sigma);

    s = add_section(p, RP__SEC_THRESHOLDS);
    thresholds_fields(&m->categories[0].thresholds, &s->fields);
    if (m->router.count && (rc = category_sections(m, p))) return rc;

    for (int i = 0; i < p->n; i++)
        if (p->sec[i].fields.failed) return rp__fail(RP_E_NOMEM, FN ": out of memory");
    return RP_OK;
}

/* Streams the sections to the file, a CRC running over each. */
static int write_piece(rp__file_writer *fw, uint32_t *crc, const void *data, size_t size)
{
    *crc = rp__crc32(*crc, data, size);
    return rp__file_writer_write(fw, data, size);
}

static int write_section(rp__file_writer *fw, const section *s)
{
    uint8_t head[RP__MODEL_SECTION_HEAD];
    memcpy(head, s->id, 4);
    rp__le_put_u32(head + 4, s->flags);
    rp__le_put_u64(head + 8, payload_size(s));
    uint32_t crc = 0;
    int rc = write_piece(fw, &crc, head, sizeof head);
    if (!rc && s->fields.size) rc = write_piece(fw, &crc, s->fields.data, s->fields.size);
    /* Floats go through a small buffer, one little-endian value at a time. */
    uint8_t chunk[4 * 4096];
    for (size_t i = 0; !rc && i < s->n_floats; i += 4096) {
        size_t n = s->n_floats - i < 4096 ? s->n_floats - i : 4096;
        for (size_t k = 0; k < n; k++) rp__le_put_f32(chunk + 4 * k, s->floats[i + k]);
        rc = write_piece(fw, &crc, chunk, 4 * n);
    }
    if (!rc && s->raw_size) rc = write_piece(fw, &crc, s->raw, s->raw_size);
    uint8_t tail[4];
    rp__le_put_u32(tail, crc);
    if (!rc) rc = rp__file_writer_write(fw, tail, sizeof tail);
    return rc;
}

static int write_plan(rp__file_writer *fw, const plan *p)
{
    uint64_t total = RP__MODEL_HEADER_SIZE;
    for (int i = 0; i < p->n; i++) total += RP__MODEL_SECTION_HEAD + payload_size(&p->sec[i]) + RP__MODEL_SECTION_CRC;
    uint8_t header[RP__MODEL_HEADER_SIZE];
    memcpy(header, RP__MODEL_MAGIC, RP__MODEL_MAGIC_SIZE);
    rp__le_put_u32(header + 8, p->version);
    rp__le_put_u32(header + 12, (uint32_t)p->n);
    rp__le_put_u64(header + 16, total);
    rp__le_put_u32(header + 24, 0); /* flags: none defined */
    rp__le_put_u32(header + 28, rp__crc32(0, header, 28));
    int rc = rp__file_writer_write(fw, header, sizeof header);
    for (int i = 0; !rc && i < p->n; i++) rc = write_section(fw, &p->sec[i]);
    return rc;
}

int rp_model_save(const rp_model *model, const char *path, const rp_model_save_params *params)
{
    rp__clear_error();
    if (!model) return rp__fail(RP_E_INVALID_ARG, FN ": model is NULL");
    if (!path || !*path) return rp__fail(RP_E_INVALID_ARG, FN ": path is NULL or empty");
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    int rc = rp__params_copy(&sp, sizeof sp, params, FN);
    if (rc) return rc;
    /* on the heap: with room for every category's section the plan is ~90 KB, too much for the
     * stack of a host thread */
    plan *p = rp__calloc(1, sizeof *p);
    if (!p) return rp__fail(RP_E_NOMEM, FN ": out of memory");
    rc = build_plan(model, &sp, path, p);
    rp__file_writer fw;
    if (!rc) rc = rp__file_writer_open(&fw, path, FN);
    if (!rc) {
        rc = write_plan(&fw, p);
        rc = rc ? rp__file_writer_abort(&fw), rc : rp__file_writer_commit(&fw);
    }
    plan_free(p);
    free(p);
    return rc;
}
