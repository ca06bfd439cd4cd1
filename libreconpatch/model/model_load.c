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
    raw_section model, extractor, backbone, weights, head, bank, scorer, thresholds, categories;
    raw_section category_bank[RP__MAX_CATEGORIES]; /* CBNK, in file order */
    uint32_t n_category_banks;
    raw_section category_head[RP__MAX_CATEGORIES]; /* CHED, in file order */
    uint32_t n_category_heads;
} sections;

static raw_section *known_section(sections *s, const uint8_t id[4])
{
    static const struct { const char *id; size_t offset; } table[] = {
        {RP__SEC_MODEL, offsetof(sections, model)},       {RP__SEC_EXTRACTOR, offsetof(sections, extractor)},
        {RP__SEC_BACKBONE, offsetof(sections, backbone)}, {RP__SEC_WEIGHTS, offsetof(sections, weights)},
        {RP__SEC_HEAD, offsetof(sections, head)},         {RP__SEC_BANK, offsetof(sections, bank)},
        {RP__SEC_SCORER, offsetof(sections, scorer)},     {RP__SEC_THRESHOLDS, offsetof(sections, thresholds)},
        {RP__SEC_CATEGORIES, offsetof(sections, categories)},
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
        if (version >= 4 && memcmp(h, RP__SEC_CATEGORY_BANK, 4) == 0) { /* one per category after the first */
            if (out->n_category_banks == RP__MAX_CATEGORIES - 1)
                return BAD(src, "more than %u sections 'CBNK'", RP__MAX_CATEGORIES - 1);
            raw_section *b = &out->category_bank[out->n_category_banks++];
            b->payload = h + RP__MODEL_SECTION_HEAD;
            b->size = len;
            b->present = 1;
        } else if (version >= 5 && memcmp(h, RP__SEC_CATEGORY_HEAD, 4) == 0) { /* a category's own head */
            if (out->n_category_heads == RP__MAX_CATEGORIES - 1)
                return BAD(src, "more than %u sections 'CHED'", RP__MAX_CATEGORIES - 1);
            raw_section *b = &out->category_head[out->n_category_heads++];
            b->payload = h + RP__MODEL_SECTION_HEAD;
            b->size = len;
            b->present = 1;
        } else if (slot && slot == &out->categories && version < 4) {
            return BAD(src, "section 'CATS' in a format version %u file", version);
        } else if (slot) {
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

/* One category: where its bank's vectors are, and its thresholds and name. */
typedef struct decoded_category {
    uint32_t head_kind;                /* RP__HEAD_* (category 0: the model's) */
    uint32_t head_in, head_out;        /* its own head (RP__HEAD_OWN) */
    const uint8_t *head_floats;
    uint32_t bank_dim;
    uint64_t bank_count;
    uint32_t bank_flags;
    const uint8_t *bank_floats;
    rp_model_thresholds thresholds;
    const uint8_t *name; /* name_len bytes, not NUL-terminated; NULL without a section 'CATS' */
    uint32_t name_len;
} decoded_category;

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
    uint32_t reweight_neighbors;
    double map_sigma;
    uint32_t n_categories;
    decoded_category category[RP__MAX_CATEGORIES];
    uint32_t route_count, route_dim;
    const uint8_t *route_categories; /* route_count u32 */
    const uint8_t *route_floats;     /* route_count x route_dim f32 */
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

/* A bank's payload (BANK, or the tail of a CBNK): dim, flags, count, vectors; the dim must chain
 * from the features (through the head). what names the section for messages. */
static int decode_bank_payload(const uint8_t *payload, uint64_t size, uint32_t version, const source *src,
                               const decoded *d, const char *what, decoded_category *out)
{
    if (size < 16) return BAD(src, "%s is %llu bytes", what, (unsigned long long)size);
    out->bank_dim = rp__le_get_u32(payload);
    out->bank_count = rp__le_get_u64(payload + 8);
    out->bank_flags = rp__le_get_u32(payload + 4);
    const uint32_t known_flags = version >= 2 ? RP__BANK_FLAG_KNN_INT8 | RP__BANK_FLAG_KNN_BF16 : 0u;
    if (out->bank_flags & ~known_flags)
        return BAD(src, "%s has unknown flags 0x%x (format version %u)", what, out->bank_flags, version);
    if ((out->bank_flags & RP__BANK_FLAG_KNN_INT8) && (out->bank_flags & RP__BANK_FLAG_KNN_BF16))
        return BAD(src, "%s asks for both the int8 and the bf16 kNN (flags 0x%x)", what, out->bank_flags);
    if (!out->bank_dim || out->bank_dim > RP__MODEL_MAX_DIM || !out->bank_count)
        return BAD(src, "%s: bank of %llu vectors of dim %u (need at least one, dim 1..%u)", what,
                   (unsigned long long)out->bank_count, out->bank_dim, RP__MODEL_MAX_DIM);
    /* count is bounded by the section size before it is multiplied. */
    if (out->bank_count > (size - 16) / 4 / out->bank_dim || size - 16 != 4 * out->bank_count * out->bank_dim)
        return BAD(src, "%s has %llu bytes, %llu x %u floats need %llu", what, (unsigned long long)size,
                   (unsigned long long)out->bank_count, out->bank_dim,
                   (unsigned long long)(16 + 4 * out->bank_count * (uint64_t)out->bank_dim));
    out->bank_floats = payload + 16;
    const rp_extractor_params *ep = &d->ep;
    if (out->head_kind == RP__HEAD_OWN) { /* its in dim was checked with the section 'CHED' */
        if (out->bank_dim != out->head_out)
            return BAD(src, "%s: dims do not chain: the category's own head gives %u, bank %u", what, out->head_out,
                       out->bank_dim);
        return RP_OK;
    }
    if (out->head_kind == RP__HEAD_NONE) {
        if (out->bank_dim != ep->feature_dim)
            return BAD(src, "%s: a category without a head has a bank of dim %u, the features have %u", what,
                       out->bank_dim, ep->feature_dim);
        return RP_OK;
    }
    uint32_t want_dim = d->head_floats ? d->head_out : ep->feature_dim;
    if (out->bank_dim != want_dim || (d->head_floats && d->head_in != ep->feature_dim))
        return BAD(src, "dims do not chain: features %u, head %u -> %u, bank %u", ep->feature_dim, d->head_in,
                   d->head_out, out->bank_dim);
    return RP_OK;
}

/* BANK: the (first category's) memory bank. */
static int decode_bank(const sections *s, uint32_t version, const source *src, decoded *out)
{
    return decode_bank_payload(s->bank.payload, s->bank.size, version, src, out, "section 'BANK'", &out->category[0]);
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

/* Thresholds: RP__THRS_SIZE bytes (THRS, or inside a CBNK). */
static int decode_thresholds_payload(const uint8_t *t, const source *src, rp_model_thresholds *th)
{
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

/* THRS: the (first category's) thresholds. */
static int decode_thresholds(const sections *s, const source *src, decoded *out)
{
    if (s->thresholds.size != RP__THRS_SIZE)
        return BAD(src, "section 'THRS' has %llu bytes, not %u", (unsigned long long)s->thresholds.size,
                   RP__THRS_SIZE);
    return decode_thresholds_payload(s->thresholds.payload, src, &out->category[0].thresholds);
}

/* The CHEDs (format 5): the heads of their own of categories 1..n-1, each from the features. */
static int decode_category_heads(const sections *s, uint32_t n, const source *src, decoded *out)
{
    for (uint32_t b = 0; b < s->n_category_heads; b++) {
        const raw_section *r = &s->category_head[b];
        if (r->size < RP__CHED_FIXED_SIZE)
            return BAD(src, "section 'CHED' %u is %llu bytes", b, (unsigned long long)r->size);
        const uint32_t k = rp__le_get_u32(r->payload), in = rp__le_get_u32(r->payload + 8),
                       dim = rp__le_get_u32(r->payload + 12);
        if (k < 1 || k >= n || out->category[k].head_floats)
            return BAD(src, "section 'CHED' %u is for category %u (of %u, or twice)", b, k, n);
        if (rp__le_get_u32(r->payload + 4)) return BAD(src, "section 'CHED' of category %u: reserved field not 0", k);
        if (in != out->ep.feature_dim || !dim || dim > RP__MODEL_MAX_DIM)
            return BAD(src, "section 'CHED' of category %u: head %u -> %u, the features have %u (out 1..%u)", k, in,
                       dim, out->ep.feature_dim, RP__MODEL_MAX_DIM);
        const uint64_t floats = (uint64_t)in * dim + dim;
        if (r->size != RP__CHED_FIXED_SIZE + 4 * floats)
            return BAD(src, "section 'CHED' of category %u has %llu bytes, %u x %u weights and %u biases need %llu", k,
                       (unsigned long long)r->size, dim, in, dim, (unsigned long long)(RP__CHED_FIXED_SIZE + 4 * floats));
        out->category[k].head_in = in;
        out->category[k].head_out = dim;
        out->category[k].head_floats = r->payload + RP__CHED_FIXED_SIZE;
    }
    return RP_OK;
}

/* CATS and the CBNKs (format 4): names, router, and the banks of the categories after the first. */
static int decode_categories(const sections *s, uint32_t version, const source *src, decoded *out)
{
    out->n_categories = 1;
    if (!s->categories.present) {
        if (s->n_category_banks || s->n_category_heads)
            return BAD(src, "sections '%s' without a section 'CATS'", s->n_category_banks ? "CBNK" : "CHED");
        return RP_OK;
    }
    const uint8_t *c = s->categories.payload, *end = c + s->categories.size;
    if (s->categories.size < RP__CATS_FIXED_SIZE)
        return BAD(src, "section 'CATS' is %llu bytes", (unsigned long long)s->categories.size);
    const uint32_t n = rp__le_get_u32(c), dim = rp__le_get_u32(c + 4), count = rp__le_get_u32(c + 8);
    if (n < 1 || n > RP__MAX_CATEGORIES) return BAD(src, "section 'CATS': %u categories (1..%u)", n, RP__MAX_CATEGORIES);
    if (dim != out->ep.feature_dim)
        return BAD(src, "section 'CATS': descriptors of %u floats, the features have %u", dim, out->ep.feature_dim);
    if (count < n) return BAD(src, "section 'CATS': %u descriptors for %u categories", count, n);
    if (s->n_category_banks != n - 1)
        return BAD(src, "%u categories but %u sections 'CBNK' (need %u)", n, s->n_category_banks, n - 1);
    out->n_categories = n;
    const uint8_t *at = c + RP__CATS_FIXED_SIZE;
    for (uint32_t k = 0; k < n; k++) {
        if (end - at < 4) return BAD(src, "section 'CATS' is truncated in the name of category %u", k);
        const uint32_t len = rp__le_get_u32(at);
        at += 4;
        if (len > RP__MODEL_MAX_PATH || (uint64_t)(end - at) < len)
            return BAD(src, "section 'CATS': name of category %u is %u bytes", k, len);
        if (memchr(at, 0, len)) return BAD(src, "section 'CATS': name of category %u holds a NUL byte", k);
        out->category[k].name = at;
        out->category[k].name_len = len;
        at += len;
    }
    /* the descriptors' categories, then the descriptors: exactly what is left */
    if ((uint64_t)(end - at) != (uint64_t)count * 4u + (uint64_t)count * dim * 4u)
        return BAD(src, "section 'CATS': %llu bytes left for %u descriptors of %u floats", (unsigned long long)(end - at),
                   count, dim);
    out->route_count = count;
    out->route_dim = dim;
    out->route_categories = at;
    out->route_floats = at + (size_t)count * 4u;
    for (uint32_t i = 0; i < count; i++)
        if (rp__le_get_u32(at + 4 * (size_t)i) >= n)
            return BAD(src, "section 'CATS': descriptor %u is of category %u of %u", i, rp__le_get_u32(at + 4 * (size_t)i), n);
    int rc = decode_category_heads(s, n, src, out);
    if (rc) return rc;
    uint8_t seen[RP__MAX_CATEGORIES] = {0};
    for (uint32_t b = 0; b < s->n_category_banks; b++) {
        const raw_section *r = &s->category_bank[b];
        if (r->size < RP__CBNK_FIXED_SIZE) return BAD(src, "section 'CBNK' %u is %llu bytes", b, (unsigned long long)r->size);
        const uint32_t k = rp__le_get_u32(r->payload), kind = rp__le_get_u32(r->payload + 4);
        if (k < 1 || k >= n || seen[k]) return BAD(src, "section 'CBNK' %u is for category %u (of %u, or twice)", b, k, n);
        seen[k] = 1;
        /* version 4 wrote 0 (the model's head); 5 says which head, and a CHED goes with "own" */
        if ((version < 5 && kind != RP__HEAD_MODEL) || kind > RP__HEAD_NONE)
            return BAD(src, "section 'CBNK' of category %u: head kind %u (format version %u)", k, kind, version);
        if ((kind == RP__HEAD_OWN) != (out->category[k].head_floats != NULL))
            return BAD(src, "category %u: head kind %u but %s section 'CHED'", k, kind,
                       out->category[k].head_floats ? "a" : "no");
        if (kind == RP__HEAD_NONE && out->method == RP_METHOD_PATCHCORE)
            return BAD(src, "category %u of a PatchCore model says it has no head (PatchCore has none)", k);
        out->category[k].head_kind = kind;
        rc = decode_thresholds_payload(r->payload + 8, src, &out->category[k].thresholds);
        if (!rc)
            rc = decode_bank_payload(r->payload + 8 + RP__THRS_SIZE, r->size - 8 - RP__THRS_SIZE, version, src, out,
                                     "a section 'CBNK'", &out->category[k]);
        if (rc) return rc;
    }
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
    if (!rc) rc = decode_categories(s, version, src, out);
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

/* One category's frozen bank, thresholds and name. */
static int rebuild_category(const decoded *d, uint32_t c, const rp_model_load_params *lp, const source *src,
                            rp_model *m)
{
    const decoded_category *dc = &d->category[c];
    size_t bank_floats = (size_t)dc->bank_count * dc->bank_dim;
    float *v = decode_floats(dc->bank_floats, bank_floats);
    if (!v) return rp__fail(RP_E_NOMEM, "%s: out of memory for %zu bank floats", src->fn, bank_floats);
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.num_threads = lp->num_threads;
    bp.knn_int8 = (dc->bank_flags & RP__BANK_FLAG_KNN_INT8) != 0;
    if (bp.knn_int8 && !rp__knn_int8_supported()) {
        /* the model stays usable on CPUs without VNNI: the fp32 search is the more exact one */
        if (c == 0) rp__log(RP_LOG_WARN, "%s: the model asks for the int8 kNN, which needs AVX-512 VNNI; using fp32", src->fn);
        bp.knn_int8 = 0;
    }
    bp.knn_bf16 = (dc->bank_flags & RP__BANK_FLAG_KNN_BF16) != 0;
    if (bp.knn_bf16 && !rp__knn_bf16_supported()) {
        /* as for int8: the exact fp32 search finds the same neighbours, only slower */
        if (c == 0) rp__log(RP_LOG_WARN, "%s: the model asks for the bf16 kNN, which needs AVX512-BF16; using fp32", src->fn);
        bp.knn_bf16 = 0;
    }
    int rc = rp_bank_create_frozen(v, dc->bank_count, dc->bank_dim, &bp, &m->categories[c].bank);
    free(v);
    if (rc) return rebuild_failed(rc, src, "bank");
    m->categories[c].head_kind = dc->head_kind; /* checked: one of RP__HEAD_* */
    if (dc->head_kind == RP__HEAD_OWN) {
        const size_t wn = (size_t)dc->head_in * dc->head_out;
        float *f = decode_floats(dc->head_floats, wn + dc->head_out);
        if (!f) return rp__fail(RP_E_NOMEM, "%s: out of memory for the head of category %u", src->fn, c);
        rc = rp_embedding_create(dc->head_in, dc->head_out, f, f + wn, &m->categories[c].own_head);
        free(f);
        if (rc) return rebuild_failed(rc, src, "category head");
    }
    m->categories[c].thresholds = dc->thresholds;
    if (dc->name) {
        if (!(m->categories[c].name = rp__malloc(dc->name_len + 1u))) return rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
        memcpy(m->categories[c].name, dc->name, dc->name_len);
        m->categories[c].name[dc->name_len] = '\0';
    }
    return RP_OK;
}

static int rebuild_router(const decoded *d, const source *src, rp_model *m)
{
    rp__router *r = &m->router;
    r->descriptors = decode_floats(d->route_floats, (size_t)d->route_count * d->route_dim);
    r->category = rp__malloc((size_t)d->route_count * sizeof *r->category);
    if (!r->descriptors || !r->category) return rp__fail(RP_E_NOMEM, "%s: out of memory for the router", src->fn);
    for (uint32_t i = 0; i < d->route_count; i++) r->category[i] = rp__le_get_u32(d->route_categories + 4 * (size_t)i);
    r->count = r->capacity = d->route_count;
    r->dim = d->route_dim;
    for (uint32_t i = 0; i < r->count * (size_t)r->dim; i++)
        if (!isfinite(r->descriptors[i])) return BAD(src, "section 'CATS': descriptor value %u is not finite", i);
    return RP_OK;
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
        if (lp->precision) ep.precision = lp->precision; /* the caller's, checked by the extractor */
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
    for (uint32_t c = 0; c < d->n_categories; c++)
        if ((rc = rebuild_category(d, c, lp, src, m))) return rc;
    if (d->route_count && (rc = rebuild_router(d, src, m))) return rc;

    rp_scorer_params sp;
    rp_scorer_params_init(&sp, sizeof sp);
    sp.reweight_neighbors = d->reweight_neighbors;
    sp.map_sigma = d->map_sigma;
    sp.num_threads = lp->num_threads;
    if ((rc = rp__model_finish(m, &sp, src->fn))) return rebuild_failed(rc, src, "scorer");
    return RP_OK;
}

static int load_common(const uint8_t *data, size_t size, const rp_model_load_params *user, const source *src,
                       rp_model **out)
{
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    int rc = rp__params_copy(&lp, sizeof lp, user, src->fn);
    if (rc) return rc;
    if (lp.precision < 0 || lp.precision > RP_PRECISION_AUTO)
        return rp__fail(RP_E_INVALID_ARG, "%s: params.precision %d is not 0, RP_PRECISION_FP32 (1), RP_PRECISION_BF16 "
                                          "(2) or RP_PRECISION_AUTO (3)", src->fn, lp.precision);
    uint64_t max_bytes = lp.max_bytes ? lp.max_bytes : RP__MODEL_DEFAULT_MAX_BYTES;
    if (size > max_bytes)
        return rp__fail(RP_E_LIMIT, "%s: '%s' is %zu bytes, above the limit of %llu (params.max_bytes)", src->fn,
                        src->label, size, (unsigned long long)max_bytes);
    /* on the heap: a category table of each kind is ~100 KB */
    sections *s = rp__malloc(sizeof *s);
    decoded *d = rp__calloc(1, sizeof *d);
    uint32_t version = 0;
    if (!s || !d) rc = rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
    if (!rc) rc = split_sections(data, size, src, s, &version);
    if (!rc) rc = decode(s, version, src, d);
    rp_model *m = NULL;
    if (!rc && !(m = rp__model_alloc(d->n_categories))) rc = rp__fail(RP_E_NOMEM, "%s: out of memory", src->fn);
    if (!rc) rc = rebuild(d, s, &lp, src, m);
    if (d) free(d->recorded_path);
    free(s);
    free(d);
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
