/* safetensors bytes already in memory (a model file's embedded backbone) -> rp__weights. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "backbone/weights_memory.h"
#include "common/common.h"

int rp__weights_load_safetensors_memory(const void *data, size_t size, const char *label, rp__weights **out)
{
    if (out) *out = NULL;
    if (!data || !out || !label)
        return rp__fail(RP_E_INVALID_ARG, "rp__weights_load_safetensors_memory: data, label or out is NULL");
    /* A private, malloc-aligned copy: the parser uses aligned F32 tensors in place and keeps the
     * buffer as the weights' storage, so the caller's bytes may go away afterwards. */
    uint8_t *buf = rp__malloc(size ? size : 1);
    if (!buf)
        return rp__fail(RP_E_NOMEM, "rp__weights_load: '%s': cannot allocate %zu bytes", label, size);
    memcpy(buf, data, size);
    rp__sha256 h;
    char sha[65];
    rp__weights_sha256_init(&h);
    rp__weights_sha256_update(&h, buf, size);
    int rc = rp__weights_sha256_hex(&h, sha);
    if (rc) {
        free(buf);
        return rc;
    }
    return rp__weights_parse_safetensors(label, buf, size, sha, out);
}
