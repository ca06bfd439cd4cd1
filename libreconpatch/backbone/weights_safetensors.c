/* safetensors reader: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}},
 * then the data section. Every size in the file is checked before it is trusted; F32 tensors that
 * are 4-byte aligned are used in place (no copy), F16 / BF16 / F64 are converted to float32. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "backbone/weights.h"
#include "common/common.h"
#include "backbone/weights_memory.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weights_safetensors.c reads little-endian floats in place: port needed for big-endian hosts"
#endif

#define FN "rp__weights_load"
/* A ResNet header is ~30 KB; anything near this is not a weights file we can use. */
#define MAX_HEADER_BYTES ((uint64_t)64 << 20)
/* Largest file read into memory (WRN-50-2 float32 is 275 MB). */
#define MAX_FILE_BYTES ((uint64_t)8 << 30)

enum { DT_F32, DT_F16, DT_BF16, DT_F64, DT_OTHER };

typedef struct entry {
    const char *name; /* points into the cJSON tree */
    int dtype;
    const char *dtype_name;
    size_t elem_size;
    int32_t ndim;
    int64_t shape[RP_WEIGHTS_MAX_NDIM];
    uint64_t begin, end; /* relative to the data section */
} entry;

static int parse_dtype(const char *s, int *dtype, size_t *size)
{
    static const struct { const char *name; int dtype; size_t size; } table[] = {
        {"F32", DT_F32, 4},   {"F16", DT_F16, 2},   {"BF16", DT_BF16, 2}, {"F64", DT_F64, 8},
        {"I64", DT_OTHER, 8}, {"I32", DT_OTHER, 4}, {"I16", DT_OTHER, 2}, {"I8", DT_OTHER, 1},
        {"U64", DT_OTHER, 8}, {"U32", DT_OTHER, 4}, {"U16", DT_OTHER, 2}, {"U8", DT_OTHER, 1},
        {"BOOL", DT_OTHER, 1}, {"F8_E4M3", DT_OTHER, 1}, {"F8_E5M2", DT_OTHER, 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(s, table[i].name) == 0) {
            *dtype = table[i].dtype;
            *size = table[i].size;
            return 0;
        }
    return -1;
}

/* A JSON number that is a non-negative integer exactly representable as a double. */
static int json_uint(const cJSON *j, uint64_t *v)
{
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return -1;
    *v = (uint64_t)d;
    return 0;
}

static int parse_entry(const char *path, const cJSON *item, uint64_t data_len, entry *e)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return rp__fail(RP_E_FORMAT, FN ": '%s': header entry '%s' is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return rp__fail(RP_E_FORMAT, FN ": '%s': tensor '%s' lacks dtype, shape or data_offsets", path, name);
    e->name = name;
    e->dtype_name = dt->valuestring;
    if (parse_dtype(dt->valuestring, &e->dtype, &e->elem_size) != 0)
        return rp__fail(RP_E_FORMAT, FN ": '%s': tensor '%s' has unknown dtype '%s'", path, name, dt->valuestring);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > RP_WEIGHTS_MAX_NDIM)
        return rp__fail(RP_E_SHAPE, FN ": '%s': tensor '%s' has %d dimensions (at most %d)", path, name, ndim,
                        RP_WEIGHTS_MAX_NDIM);
    e->ndim = ndim;
    size_t numel = 1;
    for (int d = 0; d < RP_WEIGHTS_MAX_NDIM; d++) e->shape[d] = 1;
    for (int d = 0; d < ndim; d++) {
        uint64_t v;
        if (json_uint(cJSON_GetArrayItem(sh, d), &v) != 0 || v > (uint64_t)INT64_MAX)
            return rp__fail(RP_E_FORMAT, FN ": '%s': tensor '%s' shape[%d] is not a non-negative integer", path,
                            name, d);
        e->shape[d] = (int64_t)v;
        if (v > SIZE_MAX || rp__mul_size(numel, (size_t)v, &numel) != 0)
            return rp__fail(RP_E_FORMAT, FN ": '%s': tensor '%s' shape overflows", path, name);
    }
    size_t bytes;
    if (rp__mul_size(numel, e->elem_size, &bytes) != 0)
        return rp__fail(RP_E_FORMAT, FN ": '%s': tensor '%s' byte size overflows", path, name);
    if (cJSON_GetArraySize(off) != 2 || json_uint(cJSON_GetArrayItem(off, 0), &e->begin) != 0 ||
        json_uint(cJSON_GetArrayItem(off, 1), &e->end) != 0)
        return rp__fail(RP_E_FORMAT, FN ": '%s': tensor '%s' data_offsets is not [begin, end]", path, name);
    if (e->begin > e->end || e->end > data_len)
        return rp__fail(RP_E_FORMAT,
                        FN ": '%s': tensor '%s' data_offsets [%llu, %llu] out of range (data section %llu bytes)",
                        path, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)data_len);
    if (e->end - e->begin != (uint64_t)bytes)
        return rp__fail(RP_E_SHAPE,
                        FN ": '%s': tensor '%s' has %llu bytes but shape x %s needs %zu", path, name,
                        (unsigned long long)(e->end - e->begin), e->dtype_name, bytes);
    return RP_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The spec (and the reference implementation) require the tensors to tile the data section:
 * no overlap, no hole, nothing after the last one. */
static int check_layout(const char *path, entry *entries, size_t n, uint64_t data_len)
{
    entry **order = rp__malloc((n ? n : 1) * sizeof *order);
    if (!order) return rp__fail(RP_E_NOMEM, FN ": '%s': out of memory", path);
    for (size_t i = 0; i < n; i++) order[i] = &entries[i];
    int rc = RP_OK;
    qsort(order, n, sizeof *order, cmp_begin);
    uint64_t pos = 0;
    for (size_t i = 0; i < n && rc == RP_OK; i++) {
        if (order[i]->begin < pos)
            rc = rp__fail(RP_E_FORMAT, FN ": '%s': tensors '%s' and '%s' overlap (byte %llu < %llu)", path,
                          order[i - 1]->name, order[i]->name, (unsigned long long)order[i]->begin,
                          (unsigned long long)pos);
        else if (order[i]->begin > pos)
            rc = rp__fail(RP_E_FORMAT, FN ": '%s': unused bytes [%llu, %llu) before tensor '%s'", path,
                          (unsigned long long)pos, (unsigned long long)order[i]->begin, order[i]->name);
        pos = order[i]->end;
    }
    if (rc == RP_OK && pos != data_len)
        rc = rp__fail(RP_E_FORMAT, FN ": '%s': tensors end at byte %llu of a %llu-byte data section", path,
                      (unsigned long long)pos, (unsigned long long)data_len);
    free(order);
    return rc;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023u, bits;
    if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13; /* inf / nan */
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 1024u));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 1023u) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void convert(const entry *e, const uint8_t *src, float *dst, size_t numel)
{
    for (size_t i = 0; i < numel; i++) {
        if (e->dtype == DT_F32) {
            memcpy(&dst[i], src + 4 * i, 4);
        } else if (e->dtype == DT_F64) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        } else {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            if (e->dtype == DT_F16) {
                dst[i] = half_to_float(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&dst[i], &bits, 4);
            }
        }
    }
}

static int is_ignored(const entry *e)
{
    size_t n = strlen(e->name);
    static const char suffix[] = "num_batches_tracked";
    return n >= sizeof suffix - 1 && strcmp(e->name + n - (sizeof suffix - 1), suffix) == 0;
}

/* Read the whole file (hashing it on the way) into one malloc'd buffer. */
static int read_file(const char *path, uint8_t **buf_out, uint64_t *size_out, char sha[65])
{
    *buf_out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return rp__fail(RP_E_IO, FN ": cannot open '%s'", path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rp__fail(RP_E_IO, FN ": '%s' is not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > MAX_FILE_BYTES || size > SIZE_MAX) {
        fclose(f);
        return rp__fail(RP_E_LIMIT, FN ": '%s' is %llu bytes (limit %llu)", path, (unsigned long long)size,
                        (unsigned long long)MAX_FILE_BYTES);
    }
    uint8_t *buf = rp__malloc(size ? (size_t)size : 1);
    if (!buf) {
        fclose(f);
        return rp__fail(RP_E_NOMEM, FN ": cannot allocate %llu bytes for '%s'", (unsigned long long)size, path);
    }
    rp__sha256 h;
    rp__weights_sha256_init(&h);
    size_t done = 0;
    while (done < size) {
        size_t chunk = size - done < ((size_t)16 << 20) ? (size_t)(size - done) : ((size_t)16 << 20);
        size_t got = fread(buf + done, 1, chunk, f);
        if (got == 0) break;
        rp__weights_sha256_update(&h, buf + done, got);
        done += got;
    }
    fclose(f);
    if (done != size) {
        free(buf);
        rp__weights_sha256_discard(&h);
        return rp__fail(RP_E_IO, FN ": '%s': read %zu of %llu bytes", path, done, (unsigned long long)size);
    }
    int rc = rp__weights_sha256_hex(&h, sha);
    if (rc) {
        free(buf);
        return rc;
    }
    *buf_out = buf;
    *size_out = size;
    return RP_OK;
}

static int apply_metadata(const char *path, const cJSON *meta, rp__weights *w)
{
    w->layout = RP_LAYOUT_TORCHVISION;
    if (!meta) return RP_OK;
    if (!cJSON_IsObject(meta)) return rp__fail(RP_E_FORMAT, FN ": '%s': __metadata__ is not an object", path);
    const cJSON *layout = cJSON_GetObjectItemCaseSensitive(meta, "reconpatch.layout");
    if (layout) {
        if (cJSON_IsString(layout) && strcmp(layout->valuestring, "keras") == 0)
            w->layout = RP_LAYOUT_KERAS;
        else if (cJSON_IsString(layout) && strcmp(layout->valuestring, "torchvision") == 0)
            w->layout = RP_LAYOUT_TORCHVISION;
        else
            return rp__fail(RP_E_FORMAT, FN ": '%s': reconpatch.layout must be \"keras\" or \"torchvision\"", path);
    }
    /* The arch comes from the shapes; a declared one must agree when the shapes are a full network. */
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(meta, "reconpatch.arch");
    if (arch) {
        int32_t declared;
        if (cJSON_IsString(arch) && strcmp(arch->valuestring, "resnet50") == 0)
            declared = RP_ARCH_RESNET50;
        else if (cJSON_IsString(arch) && strcmp(arch->valuestring, "wide_resnet50_2") == 0)
            declared = RP_ARCH_WIDE_RESNET50_2;
        else
            declared = 0; /* reduced test nets carry free-form names */
        if (declared && w->arch && declared != w->arch)
            return rp__fail(RP_E_FORMAT, FN ": '%s': metadata says arch '%s' but the shapes are %s", path,
                            arch->valuestring, w->arch == RP_ARCH_RESNET50 ? "resnet50" : "wide_resnet50_2");
    }
    return RP_OK;
}

int rp__weights_load_safetensors(const char *path, rp__weights **out)
{
    *out = NULL;
    uint8_t *buf = NULL;
    uint64_t size = 0;
    char sha[65];
    int rc = read_file(path, &buf, &size, sha);
    if (rc) return rc;
    return rp__weights_parse_safetensors(path, buf, size, sha, out);
}

/* The parser shared with rp__weights_load_safetensors_memory (weights_memory.c). */
int rp__weights_parse_safetensors(const char *path, uint8_t *buf, uint64_t size, const char sha[65],
                                  rp__weights **out)
{
    *out = NULL;
    int rc = RP_OK;
    cJSON *root = NULL;
    entry *entries = NULL;
    rp__weights *w = NULL;
    if (size < 8) {
        rc = rp__fail(RP_E_FORMAT, FN ": '%s': %llu bytes, too short for a safetensors header", path,
                      (unsigned long long)size);
        goto done;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > size - 8 || hlen > MAX_HEADER_BYTES) {
        rc = rp__fail(RP_E_FORMAT, FN ": '%s': header length %llu does not fit the %llu-byte file", path,
                      (unsigned long long)hlen, (unsigned long long)size);
        goto done;
    }
    root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        rc = rp__fail(RP_E_FORMAT, FN ": '%s': header (%llu bytes) is not a JSON object", path,
                      (unsigned long long)hlen);
        goto done;
    }
    const uint8_t *data = buf + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;

    /* Entries are bounded by the header length already read, so this count is safe to allocate. */
    size_t n = 0;
    const cJSON *meta = NULL, *item;
    cJSON_ArrayForEach(item, root) n++;
    entries = rp__calloc(n ? n : 1, sizeof *entries);
    w = rp__calloc(1, sizeof *w);
    if (!entries || !w) {
        rc = rp__fail(RP_E_NOMEM, FN ": '%s': out of memory", path);
        goto done;
    }
    size_t ne = 0;
    cJSON_ArrayForEach(item, root)
    {
        if (strcmp(item->string, "__metadata__") == 0) {
            meta = item;
            continue;
        }
        if ((rc = parse_entry(path, item, data_len, &entries[ne]))) goto done;
        ne++;
    }
    if ((rc = check_layout(path, entries, ne, data_len))) goto done;

    /* Count kept tensors and the floats that need a converted copy. */
    size_t kept = 0, convert_floats = 0;
    for (size_t i = 0; i < ne; i++) {
        const entry *e = &entries[i];
        if (is_ignored(e)) continue;
        if (e->dtype == DT_OTHER) {
            rc = rp__fail(RP_E_SHAPE, FN ": '%s': tensor '%s' has dtype %s; weights must be F32, F16, BF16 or F64",
                          path, e->name, e->dtype_name);
            goto done;
        }
        kept++;
        if (e->dtype != DT_F32 || ((uintptr_t)(data + e->begin) & 3u)) convert_floats += (e->end - e->begin) / e->elem_size;
    }
    w->tensors = rp__calloc(kept ? kept : 1, sizeof *w->tensors);
    float *converted = convert_floats ? rp__malloc(convert_floats * sizeof(float)) : NULL;
    w->storage_[1] = converted;
    if (!w->tensors || (convert_floats && !converted)) {
        rc = rp__fail(RP_E_NOMEM, FN ": '%s': out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < ne; i++) {
        const entry *e = &entries[i];
        if (is_ignored(e)) continue;
        rp__tensor *t = &w->tensors[w->count];
        t->name = rp__strdup(e->name);
        if (!t->name) {
            rc = rp__fail(RP_E_NOMEM, FN ": '%s': out of memory", path);
            goto done;
        }
        w->count++;
        t->ndim = e->ndim;
        memcpy(t->shape, e->shape, sizeof t->shape);
        size_t numel = (e->end - e->begin) / e->elem_size;
        const uint8_t *src = data + e->begin;
        if (e->dtype == DT_F32 && !((uintptr_t)src & 3u)) {
            t->data = (float *)(void *)(uintptr_t)src; /* in place: buf is kept as storage */
        } else {
            t->data = converted;
            convert(e, src, converted, numel);
            converted += numel;
        }
    }
    size_t dup[2];
    if ((rc = rp__weights_index(w, dup))) {
        if (rc == RP_E_FORMAT)
            rc = rp__fail(RP_E_FORMAT, FN ": '%s': tensor name '%s' appears twice", path, w->tensors[dup[1]].name);
        goto done;
    }
    w->arch = rp__weights_infer_arch(w);
    if ((rc = apply_metadata(path, meta, w))) goto done;
    memcpy(w->sha256, sha, sizeof w->sha256);
    w->storage_[0] = buf;
    buf = NULL;
    *out = w;
    w = NULL;
    rc = RP_OK;
done:
    rp__weights_free(w);
    free(entries);
    cJSON_Delete(root);
    free(buf);
    return rc;
}
