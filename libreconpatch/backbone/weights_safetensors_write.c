/* rp__weights -> safetensors bytes (the inverse of weights_safetensors.c for float32 weights).
 * Used to embed a backbone in a model file. Every number is written byte by byte, little-endian. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "backbone/weights_memory.h"
#include "common/common.h"

#define FN "rp__weights_to_safetensors"

static void put_f32_le(uint8_t *dst, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    dst[0] = (uint8_t)bits;
    dst[1] = (uint8_t)(bits >> 8);
    dst[2] = (uint8_t)(bits >> 16);
    dst[3] = (uint8_t)(bits >> 24);
}

static const char *arch_name(int32_t arch)
{
    return arch == RP_ARCH_RESNET50 ? "resnet50" : arch == RP_ARCH_WIDE_RESNET50_2 ? "wide_resnet50_2" : "reduced";
}

/* The JSON header: one entry per tensor with its byte range in the data section. */
static char *build_header(const rp__weights *w, uint64_t *data_bytes)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    if (!meta) goto fail;
    if (!cJSON_AddStringToObject(meta, "reconpatch.layout", w->layout == RP_LAYOUT_KERAS ? "keras" : "torchvision") ||
        !cJSON_AddStringToObject(meta, "reconpatch.arch", arch_name(w->arch)) ||
        !cJSON_AddStringToObject(meta, "reconpatch.source_sha256", w->sha256))
        goto fail;
    uint64_t offset = 0;
    for (size_t i = 0; i < w->count; i++) {
        const rp__tensor *t = &w->tensors[i];
        cJSON *entry = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = entry ? cJSON_AddArrayToObject(entry, "shape") : NULL;
        if (!shape || !cJSON_AddStringToObject(entry, "dtype", "F32")) goto fail;
        for (int32_t d = 0; d < t->ndim; d++)
            if (!cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]))) goto fail;
        uint64_t bytes = (uint64_t)rp__weights_numel(t) * 4u;
        cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
        if (!offsets || !cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset)) ||
            !cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(offset + bytes))))
            goto fail;
        offset += bytes;
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *data_bytes = offset;
    return text;
fail:
    cJSON_Delete(root);
    return NULL;
}

int rp__weights_to_safetensors(const rp__weights *w, uint8_t **bytes_out, size_t *size_out)
{
    if (bytes_out) *bytes_out = NULL;
    if (size_out) *size_out = 0;
    if (!w || !bytes_out || !size_out) return rp__fail(RP_E_INVALID_ARG, FN ": NULL argument");
    uint64_t data_bytes = 0;
    char *header = build_header(w, &data_bytes);
    if (!header) return rp__fail(RP_E_NOMEM, FN ": out of memory for the header of %zu tensors", w->count);
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) & ~(size_t)7; /* keeps the data section 8-byte aligned */
    size_t total = 8 + padded + (size_t)data_bytes;
    uint8_t *buf = rp__malloc(total);
    if (!buf) {
        free(header);
        return rp__fail(RP_E_NOMEM, FN ": cannot allocate %zu bytes", total);
    }
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, header, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    free(header);
    uint8_t *dst = buf + 8 + padded;
    for (size_t i = 0; i < w->count; i++) {
        const rp__tensor *t = &w->tensors[i];
        size_t n = rp__weights_numel(t);
        for (size_t k = 0; k < n; k++, dst += 4) put_f32_le(dst, t->data[k]);
    }
    *bytes_out = buf;
    *size_out = total;
    return RP_OK;
}
