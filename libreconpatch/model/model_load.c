/* rp_model_load / rp_model_load_memory: check the whole file (header, every section's CRC and
 * size), decode the sections, then rebuild extractor, embedding, frozen bank and scorer.
 * Layout: docs/model-format.md. Nothing from the file is trusted before it is checked. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "backbone/weights_memory.h"
#include "bank/knn.h"
#include "extractor/extractor_internal.h"
#include "model/le_bytes.h"
#include "model/model_format.h"
#include "model/model_io.h"
#include "model/model_internal.h"

int rp_model_load_params_init(rp_model_load_params *params, size_t size)
{
    rp__clear_error();
    return rp__params_init(params, size, sizeof *params, "rp_model_load_params_init");
}

/* Where the file came from, for messages and for relative weights paths. */
typedef struct source {
    const char *fn;         /* the public function */
    const char *label;      /* the path, or "<memory>" */
    const char *model_path; /* NULL for memory */
} source;

#define BAD(src, ...) bad_file(src, __VA_ARGS__)

static int bad_file(const source *src, const char *fmt, ...) RP_PRINTF(2, 3);
static int bad_file(const source *src, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rp__fail(RP_E_FORMAT, "%s: '%s': %s", src->fn, src->label, what);
}

typedef struct raw_section {
    const uint8_t *payload;
    uint64_t size;
    int present;
} raw_section;

typedef struct sections {
    raw_section model, extractor, backbone, weights, head, bank, scorer, thresholds;
} sections;

static raw_section *known_section(sections *s, const uint8_t id[4])
{
    static const struct { const char *id; size_t offset; } table[] = {
        {RP__SEC_MODEL, offsetof(sections, model)},       {RP__SEC_EXTRACTOR, offsetof(sections, extractor)},
        {RP__SEC_BACKBONE, offsetof(sections, backbone)}, {RP__SEC_WEIGHTS, offsetof(sections, weights)},
        {RP__SEC_HEAD, offsetof(sections, head)},         {RP__SEC_BANK, offsetof(sections, bank)},
        {RP__SEC_SCORER, offsetof(sections, scorer)},     {RP__SEC_THRESHOLDS, offsetof(sections, thresholds)},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (memcmp(id, table[i].id, 4) == 0) return (raw_section *)(void *)((char *)s + table[i].offset);
    return NULL;
}

/* Printable id for messages ("MODL", or hex for damaged bytes). */
static void id_text(const uint8_t id[4], char out[12])
{
    int printable = 1;
    for (int i = 0; i < 4; i++) printable &= id[i] >= 0x20 && id[i] < 0x7f;
    if (printable) snprintf(out, 12, "%c%c%c%c", id[0], id[1], id[2], id[3]);
    else snprintf(out, 12, "0x%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
}

/* Header and section framing: magic, header CRC, version, total size, every section's CRC. */
static int split_sections(const uint8_t *d, size_t size, const source *src, sections *out, uint32_t *version_out)
{
    memset(out, 0, sizeof *out);
    if (size < RP__MODEL_MAGIC_SIZE || memcmp(d, RP__MODEL_MAGIC, RP__MODEL_MAGIC_SIZE) != 0)
        return BAD(src, "not a libreconpatch model file (bad magic)");
    if (size < RP__MODEL_HEADER_SIZE)
        return BAD(src, "truncated: %zu bytes, the header alone is %u", size, RP__MODEL_HEADER_SIZE);
    if (rp__le_get_u32(d + 28) != rp__crc32(0, d, 28)) return BAD(src, "header checksum mismatch (damaged header)");
    uint32_t version = rp__le_get_u32(d + 8);
    if (version > RP_MODEL_FORMAT_VERSION)
        return rp__fail(RP_E_VERSION, "%s: '%s': model format version %u is newer than this library's %u: update "
                                      "libreconpatch (%s)", src->fn, src->label, version, RP_MODEL_FORMAT_VERSION,
                        rp_version_string());
    if (version == 0) return BAD(src, "model format version 0 does not exist");
    *version_out = version;
    uint32_t count = rp__le_get_u32(d + 12);
    uint64_t total = rp__le_get_u64(d + 16);
    if (rp__le_get_u32(d + 24) != 0) return BAD(src, "header flags 0x%x: none are defined", rp__le_get_u32(d + 24));
    if (total != size)
        return BAD(src, "%s: the header says %llu bytes, there are %zu", total > size ? "truncated" : "trailing bytes",
                   (unsigned long long)total, size);
    size_t pos = RP__MODEL_HEADER_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        if (size - pos < RP__MODEL_SECTION_HEAD + RP__MODEL_SECTION_CRC)
            return BAD(src, "truncated: section %u of %u starts at byte %zu of %zu", i, count, pos, size);
        const uint8_t *h = d + pos;
        uint32_t flags = rp__le_get_u32(h + 4);
        uint64_t len = rp__le_get_u64(h + 8);
        if (len > size - pos - RP__MODEL_SECTION_HEAD - RP__MODEL_SECTION_CRC)
            return BAD(src, "truncated: section %u claims %llu payload bytes at byte %zu of %zu", i,
                       (unsigned long long)len, pos, size);
        size_t body = RP__MODEL_SECTION_HEAD + (size_t)len;
        char name[12];
        id_text(h, name);
        if (rp__le_get_u32(h + body) != rp__crc32(0, h, body))
            return BAD(src, "section %u ('%s', %llu bytes at byte %zu): checksum mismatch (damaged data)", i, name,
                       (unsigned long long)len, pos);
        raw_section *slot = known_section(out, h);
        if (slot) {
            if (slot->present) return BAD(src, "section '%s' appears twice", name);
            slot->payload = h + RP__MODEL_SECTION_HEAD;
            slot->size = len;
            slot->present = 1;
        } else if (!(flags & RP__SECTION_OPTIONAL)) {
            return rp__fail(RP_E_VERSION, "%s: '%s': required section '%s' is unknown to this library (%s): it was "
                                          "written by a newer one", src->fn, src->label, name, rp_version_string());
        }
        pos += body + RP__MODEL_SECTION_CRC;
    }
    if (pos != size) return BAD(src, "%zu bytes after the last of %u sections", size - pos, count);
    const struct { const raw_section *s; const char *id; } required[] = {
        {&out->model, RP__SEC_MODEL},   {&out->extractor, RP__SEC_EXTRACTOR}, {&out->backbone, RP__SEC_BACKBONE},
        {&out->bank, RP__SEC_BANK},     {&out->scorer, RP__SEC_SCORER},       {&out->thresholds, RP__SEC_THRESHOLDS},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!required[i].s->present) return BAD(src, "section '%s' is missing", required[i].id);
    return RP_OK;
}

/* The decoded, checked content of the sections. */
typedef struct decoded {
    int32_t method;
    rp_extractor_params ep;
    uint32_t grid_size, input_size;
    int32_t arch, layout;
    char sha256[65];
    uint32_t storage;
    char *recorded_path; /* malloc'd, NUL-terminated */
    uint32_t head_in, head_out;
    const uint8_t *head_floats;
    uint32_t bank_dim;
    uint64_t bank_count;
    uint32_t bank_flags;
    const uint8_t *bank_floats;
    uint32_t reweight_neighbors;
    double map_sigma;
    rp_model_thresholds thresholds;
} decoded;

/* MODL: the method. */
static int decode_method(const sections *s, uint32_t version, const source *src, decoded *out)
{
    if (s->model.size != RP__MODL_SIZE) return BAD(src, "section 'MODL' has %llu bytes, not %u",
                                                   (unsigned long long)s->model.size, RP__MODL_SIZE);
    out->method = (int32_t)rp__le_get_u32(s->model.payload);
    if (out->method != RP_METHOD_RECONPATCH && out->method != RP_METHOD_PATCHCORE &&
        !(out->method == RP_METHOD_PCA && version >= 3))
        return BAD(src, "method %d is not RP_METHOD_RECONPATCH, RP_METHOD_PATCHCORE or (format 3) RP_METHOD_PCA",
                   out->method);
    return RP_OK;
}

/* EXTR: the resolved extractor params and the patch geometry. */
static int decode_extractor(const sections *s, uint32_t version, const source *src, decoded *out)
{
    const uint8_t *e = s->extractor.payload;
    /* Version 1 wrote 48 bytes (no keep_aspect); version 2 appends keep_aspect. */
    const uint32_t extr_size = version == 1 ? RP__EXTR_SIZE_V1 : RP__EXTR_SIZE;
    if (s->extractor.size != extr_size)
        return BAD(src, "section 'EXTR' has %llu bytes, not %u (format version %u)",
                   (unsigned long long)s->extractor.size, extr_size, version);
    rp_extractor_params *ep = &out->ep;
    rp_extractor_params_init(ep, sizeof *ep);
    ep->arch = (int32_t)rp__le_get_u32(e);
    ep->precision = (int32_t)rp__le_get_u32(e + 4);
    ep->resize = rp__le_get_u32(e + 8);
    ep->crop = rp__le_get_u32(e + 12);
    ep->no_crop = rp__le_get_u32(e + 16);
    ep->normalization = (int32_t)rp__le_get_u32(e + 20);
    ep->feature_dim = rp__le_get_u32(e + 24);
    ep->patch_size = rp__le_get_u32(e + 28);
    ep->max_pixels = rp__le_get_u64(e + 32);
    out->grid_size = rp__le_get_u32(e + 40);
    out->input_size = rp__le_get_u32(e + 44);
    ep->keep_aspect = version == 1 ? 0u : rp__le_get_u32(e + 48);
    ep->output = RP_OUTPUT_LAYER3;
    /* The file stores resolved values: a zero would silently become today's default. */
    if (!ep->precision || !ep->resize || !ep->crop || !ep->normalization || !ep->feature_dim || !ep->patch_size ||
        !ep->max_pixels || !out->grid_size || !out->input_size || ep->no_crop > 1 || ep->keep_aspect > 1)
        return BAD(src, "section 'EXTR' holds a zero (unresolved) or invalid setting");
    if (ep->keep_aspect && ep->no_crop) return BAD(src, "section 'EXTR' sets both keep_aspect and no_crop");
    return RP_OK;
}

/* BKBN: the weights the model was built with (sha256, referenced path or embedded). */
static int decode_backbone(const sections *s, const source *src, decoded *out)
{
    const uint8_t *b = s->backbone.payload;
    if (s->backbone.size < RP__BKBN_FIXED_SIZE)
        return BAD(src, "section 'BKBN' has %llu bytes, fewer than %u", (unsigned long long)s->backbone.size,
                   RP__BKBN_FIXED_SIZE);
    out->arch = (int32_t)rp__le_get_u32(b);
    out->layout = (int32_t)rp__le_get_u32(b + 4);
    for (int i = 0; i < 64; i++) {
        char c = (char)b[8 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return BAD(src, "backbone sha256 is not hex");
        out->sha256[i] = c;
    }
    out->storage = rp__le_get_u32(b + 72);
    uint32_t path_len = rp__le_get_u32(b + 76);
    if (path_len > RP__MODEL_MAX_PATH || s->backbone.size != RP__BKBN_FIXED_SIZE + (uint64_t)path_len)
        return BAD(src, "section 'BKBN' path length %u does not match its %llu bytes", path_len,
                   (unsigned long long)s->backbone.size);
    if (memchr(b + RP__BKBN_FIXED_SIZE, 0, path_len)) return BAD(src, "the weights path holds a NUL byte");
    if (out->layout != RP_LAYOUT_TORCHVISION && out->layout != RP_LAYOUT_KERAS)
        return BAD(src, "backbone layout %d is unknown", out->layout);
    if (out->storage != RP__WEIGHTS_REFERENCED && out->storage != RP__WEIGHTS_EMBEDDED)
        return BAD(src, "backbone storage %u is neither referenced (1) nor embedded (2)", out->storage);
    if ((out->storage == RP__WEIGHTS_EMBEDDED) != s->weights.present)
        return BAD(src, "backbone storage %u but section 'WGTS' is %s", out->storage,
                   s->weights.present ? "present" : "missing");
    if (out->storage == RP__WEIGHTS_REFERENCED && path_len == 0) return BAD(src, "referenced weights without a path");
    if (!(out->recorded_path = rp__malloc(path_len + 1u)))
        return rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
    memcpy(out->recorded_path, b + RP__BKBN_FIXED_SIZE, path_len);
    out->recorded_path[path_len] = '\0';
    return RP_OK;
}

/* HEAD: the embedding (present for every method but PatchCore: ReConPatch's trained f, PCA's projection). */
static int decode_head(const sections *s, const source *src, decoded *out)
{
    if ((out->method != RP_METHOD_PATCHCORE) != s->head.present)
        return BAD(src, "method %d but section 'HEAD' is %s", out->method, s->head.present ? "present" : "missing");
    if (s->head.present) {
        if (s->head.size < 8) return BAD(src, "section 'HEAD' is %llu bytes", (unsigned long long)s->head.size);
        out->head_in = rp__le_get_u32(s->head.payload);
        out->head_out = rp__le_get_u32(s->head.payload + 4);
        if (!out->head_in || !out->head_out || out->head_in > RP__MODEL_MAX_DIM || out->head_out > RP__MODEL_MAX_DIM)
            return BAD(src, "head dims %u -> %u outside 1..%u", out->head_in, out->head_out, RP__MODEL_MAX_DIM);
        uint64_t floats = (uint64_t)out->head_in * out->head_out + out->head_out;
        if (s->head.size != 8 + 4 * floats)
            return BAD(src, "section 'HEAD' has %llu bytes, %u x %u weights and %u biases need %llu",
                       (unsigned long long)s->head.size, out->head_out, out->head_in, out->head_out,
                       (unsigned long long)(8 + 4 * floats));
        out->head_floats = s->head.payload + 8;
    }
    return RP_OK;
}

/* BANK: the memory bank, whose dim must chain from the features (through the head). */
static int decode_bank(const sections *s, uint32_t version, const source *src, decoded *out)
{
    if (s->bank.size < 16) return BAD(src, "section 'BANK' is %llu bytes", (unsigned long long)s->bank.size);
    out->bank_dim = rp__le_get_u32(s->bank.payload);
    out->bank_count = rp__le_get_u64(s->bank.payload + 8);
    out->bank_flags = rp__le_get_u32(s->bank.payload + 4);
    const uint32_t known_flags = version >= 2 ? RP__BANK_FLAG_KNN_INT8 : 0u;
    if (out->bank_flags & ~known_flags)
        return BAD(src, "section 'BANK' has unknown flags 0x%x (format version %u)", out->bank_flags, version);
    if (!out->bank_dim || out->bank_dim > RP__MODEL_MAX_DIM || !out->bank_count)
        return BAD(src, "bank of %llu vectors of dim %u (need at least one, dim 1..%u)",
                   (unsigned long long)out->bank_count, out->bank_dim, RP__MODEL_MAX_DIM);
    /* count is bounded by the section size before it is multiplied. */
    if (out->bank_count > (s->bank.size - 16) / 4 / out->bank_dim ||
        s->bank.size - 16 != 4 * out->bank_count * out->bank_dim)
        return BAD(src, "section 'BANK' has %llu bytes, %llu x %u floats need %llu", (unsigned long long)s->bank.size,
                   (unsigned long long)out->bank_count, out->bank_dim,
                   (unsigned long long)(16 + 4 * out->bank_count * (uint64_t)out->bank_dim));
    out->bank_floats = s->bank.payload + 16;
    const rp_extractor_params *ep = &out->ep;
    uint32_t want_dim = s->head.present ? out->head_out : ep->feature_dim;
    if (out->bank_dim != want_dim || (s->head.present && out->head_in != ep->feature_dim))
        return BAD(src, "dims do not chain: features %u, head %u -> %u, bank %u", ep->feature_dim, out->head_in,
                   out->head_out, out->bank_dim);
    return RP_OK;
}

/* SCOR: the scorer params. */
static int decode_scorer(const sections *s, const source *src, decoded *out)
{
    if (s->scorer.size != RP__SCOR_SIZE)
        return BAD(src, "section 'SCOR' has %llu bytes, not %u", (unsigned long long)s->scorer.size, RP__SCOR_SIZE);
    out->reweight_neighbors = rp__le_get_u32(s->scorer.payload);
    out->map_sigma = rp__le_get_f64(s->scorer.payload + 8);
    if (!out->reweight_neighbors || !(out->map_sigma > 0.0) || !isfinite(out->map_sigma))
        return BAD(src, "scorer params b %u, sigma %g", out->reweight_neighbors, out->map_sigma);
    return RP_OK;
}

/* THRS: the thresholds. */
static int decode_thresholds(const sections *s, const source *src, decoded *out)
{
    const uint8_t *t = s->thresholds.payload;
    if (s->thresholds.size != RP__THRS_SIZE)
        return BAD(src, "section 'THRS' has %llu bytes, not %u", (unsigned long long)s->thresholds.size,
                   RP__THRS_SIZE);
    rp_model_thresholds *th = &out->thresholds;
    th->struct_size = sizeof *th;
    th->rule = (int32_t)rp__le_get_u32(t);
    th->calibration_images = rp__le_get_u32(t + 4);
    th->image_threshold = rp__le_get_f64(t + 8);
    th->pixel_threshold = rp__le_get_f64(t + 16);
    th->quantile = rp__le_get_f64(t + 24);
    th->f1 = rp__le_get_f64(t + 32);
    if (th->rule < RP_THRESHOLD_RULE_NONE || th->rule > RP_THRESHOLD_RULE_USER || isinf(th->image_threshold) ||
        isinf(th->pixel_threshold))
        return BAD(src, "thresholds: rule %d, image %g, pixel %g", th->rule, th->image_threshold, th->pixel_threshold);
    return RP_OK;
}

/* Every section, in the order the later ones depend on the earlier (the bank's dim on the
 * extractor's feature length and the head). The caller frees out->recorded_path, also on failure. */
static int decode(const sections *s, uint32_t version, const source *src, decoded *out)
{
    memset(out, 0, sizeof *out);
    int rc = decode_method(s, version, src, out);
    if (!rc) rc = decode_extractor(s, version, src, out);
    if (!rc) rc = decode_backbone(s, src, out);
    if (!rc) rc = decode_head(s, src, out);
    if (!rc) rc = decode_bank(s, version, src, out);
    if (!rc) rc = decode_scorer(s, src, out);
    if (!rc) rc = decode_thresholds(s, src, out);
    return rc;
}

static float *decode_floats(const uint8_t *src, size_t n)
{
    float *out = rp__malloc((n ? n : 1) * sizeof *out);
    if (out)
        for (size_t i = 0; i < n; i++) out[i] = rp__le_get_f32(src + 4 * i);
    return out;
}

/* A part the file describes could not be built: a value the builder rejects means a bad file. */
static int rebuild_failed(int rc, const source *src, const char *what)
{
    if (rc == RP_E_INVALID_ARG || rc == RP_E_SHAPE) rc = RP_E_FORMAT;
    return rp__fail_relay(rc, "%s: '%s': %s", src->fn, src->label, what);
}

/* The backbone weights: from the file, or from the referenced file after checking its sha256. */
static int load_weights(const decoded *d, const sections *s, const rp_model_load_params *lp, const source *src,
                        rp_model *m, rp__weights **w)
{
    rp__backbone_identity *id = &m->backbone;
    id->arch = d->arch;
    id->layout = d->layout;
    memcpy(id->sha256, d->sha256, sizeof id->sha256);
    int rc;
    if (d->storage == RP__WEIGHTS_EMBEDDED) {
        rc = rp__weights_load_safetensors_memory(s->weights.payload, (size_t)s->weights.size, src->label, w);
        if (rc) return rebuild_failed(rc, src, "embedded weights");
        if ((*w)->layout != d->layout || (*w)->arch != d->arch)
            return BAD(src, "embedded weights are layout %d arch %d, the backbone section says layout %d arch %d",
                       (*w)->layout, (*w)->arch, d->layout, d->arch);
        /* Kept so the model can be saved again with its weights. */
        if (!(id->embedded = rp__malloc((size_t)s->weights.size)))
            return rp__fail(RP_E_NOMEM, "%s: out of memory for the embedded weights", src->fn);
        memcpy(id->embedded, s->weights.payload, (size_t)s->weights.size);
        id->embedded_size = (size_t)s->weights.size;
        if (d->recorded_path[0] && !(id->weights_path = rp__strdup(d->recorded_path)))
            return rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
        return RP_OK;
    }
    char *path = lp->weights_path ? rp__strdup(lp->weights_path) : rp__model_resolve_path(d->recorded_path, src->model_path);
    if (!path) return rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
    rc = rp__model_weights_checked(path, d->sha256, src->fn, w);
    if (!rc) {
        char resolved[PATH_MAX];
        id->weights_path = rp__strdup(realpath(path, resolved) ? resolved : path);
        if (!id->weights_path) rc = rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
    }
    free(path);
    return rc;
}

static int rebuild(const decoded *d, const sections *s, const rp_model_load_params *lp, const source *src,
                   rp_model *m)
{
    m->method = d->method;
    rp__weights *w = NULL;
    int rc = load_weights(d, s, lp, src, m, &w);
    if (!rc) {
        rp_extractor_params ep = d->ep;
        ep.num_threads = lp->num_threads;
        rc = rp__extractor_create_from_weights(&ep, w, 0, &m->extractor);
        if (rc) rc = rebuild_failed(rc, src, "extractor");
    }
    rp__weights_free(w);
    if (rc) return rc;
    rp_extractor_info info;
    info.struct_size = sizeof info;
    if ((rc = rp_extractor_get_info(m->extractor, &info, sizeof info))) return rc;
    if (info.feature_dim != d->ep.feature_dim || info.grid_size != d->grid_size || info.input_size != d->input_size)
        return BAD(src, "the rebuilt extractor gives %u-dim features on a %u grid from %u px, the file says %u, %u, %u",
                   info.feature_dim, info.grid_size, info.input_size, d->ep.feature_dim, d->grid_size, d->input_size);

    if (d->head_floats) {
        size_t wn = (size_t)d->head_in * d->head_out;
        float *f = decode_floats(d->head_floats, wn + d->head_out);
        if (!f) return rp__fail(RP_E_NOMEM, "%s: out of memory for the head", src->fn);
        rc = rp_embedding_create(d->head_in, d->head_out, f, f + wn, &m->embedding);
        free(f);
        if (rc) return rebuild_failed(rc, src, "head");
    }
    size_t bank_floats = (size_t)d->bank_count * d->bank_dim;
    float *v = decode_floats(d->bank_floats, bank_floats);
    if (!v) return rp__fail(RP_E_NOMEM, "%s: out of memory for %zu bank floats", src->fn, bank_floats);
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.num_threads = lp->num_threads;
    bp.knn_int8 = (d->bank_flags & RP__BANK_FLAG_KNN_INT8) != 0;
    if (bp.knn_int8 && !rp__knn_int8_supported()) {
        /* the model stays usable on CPUs without VNNI: the fp32 search is the more exact one */
        rp__log(RP_LOG_WARN, "%s: the model asks for the int8 kNN, which needs AVX-512 VNNI; using fp32", src->fn);
        bp.knn_int8 = 0;
    }
    rc = rp_bank_create_frozen(v, d->bank_count, d->bank_dim, &bp, &m->bank);
    free(v);
    if (rc) return rebuild_failed(rc, src, "bank");

    rp_scorer_params sp;
    rp_scorer_params_init(&sp, sizeof sp);
    sp.reweight_neighbors = d->reweight_neighbors;
    sp.map_sigma = d->map_sigma;
    sp.num_threads = lp->num_threads;
    if ((rc = rp__model_finish(m, &sp, src->fn))) return rebuild_failed(rc, src, "scorer");
    m->thresholds = d->thresholds;
    return RP_OK;
}

static int load_common(const uint8_t *data, size_t size, const rp_model_load_params *user, const source *src,
                       rp_model **out)
{
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    int rc = rp__params_copy(&lp, sizeof lp, user, src->fn);
    if (rc) return rc;
    uint64_t max_bytes = lp.max_bytes ? lp.max_bytes : RP__MODEL_DEFAULT_MAX_BYTES;
    if (size > max_bytes)
        return rp__fail(RP_E_LIMIT, "%s: '%s' is %zu bytes, above the limit of %llu (params.max_bytes)", src->fn,
                        src->label, size, (unsigned long long)max_bytes);
    sections s;
    decoded d;
    uint32_t version = 0;
    memset(&d, 0, sizeof d);
    rc = split_sections(data, size, src, &s, &version);
    if (!rc) rc = decode(&s, version, src, &d);
    rp_model *m = NULL;
    if (!rc && !(m = rp__model_alloc())) rc = rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
    if (!rc) rc = rebuild(&d, &s, &lp, src, m);
    free(d.recorded_path);
    if (rc) {
        rp_model_free(m);
        return rc;
    }
    *out = m;
    return RP_OK;
}

int rp_model_load_memory(const void *data, size_t size, const rp_model_load_params *params, rp_model **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_model_load_memory: out is NULL");
    *out = NULL;
    if (!data) return rp__fail(RP_E_INVALID_ARG, "rp_model_load_memory: data is NULL");
    source src = {"rp_model_load_memory", "<memory>", NULL};
    return load_common(data, size, params, &src, out);
}

int rp_model_load(const char *path, const rp_model_load_params *params, rp_model **out)
{
    static const char fn[] = "rp_model_load";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!path) return rp__fail(RP_E_INVALID_ARG, "%s: path is NULL", fn);
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    int rc = rp__params_copy(&lp, sizeof lp, params, fn);
    if (rc) return rc;
    uint64_t max_bytes = lp.max_bytes ? lp.max_bytes : RP__MODEL_DEFAULT_MAX_BYTES;
    FILE *f = fopen(path, "rb");
    if (!f) return rp__fail(RP_E_IO, "%s: cannot open '%s'", fn, path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rp__fail(RP_E_IO, "%s: '%s' is not a regular file", fn, path);
    }
    if ((uint64_t)st.st_size > max_bytes || (uint64_t)st.st_size > SIZE_MAX) {
        fclose(f);
        return rp__fail(RP_E_LIMIT, "%s: '%s' is %llu bytes, above the limit of %llu (params.max_bytes)", fn, path,
                        (unsigned long long)st.st_size, (unsigned long long)max_bytes);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = rp__malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return rp__fail(RP_E_NOMEM, "%s: cannot allocate %zu bytes for '%s'", fn, size, path);
    }
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        free(buf);
        return rp__fail(RP_E_IO, "%s: '%s': read %zu of %zu bytes", fn, path, got, size);
    }
    source src = {fn, path, path};
    rc = load_common(buf, size, &lp, &src, out);
    free(buf);
    return rc;
}
