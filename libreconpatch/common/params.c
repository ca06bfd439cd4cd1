/* Versioned params structs: the caller's struct_size says which fields it knows about. */
#include <string.h>
#include <unistd.h>

#include "common.h"

int rp__params_init(void *params, size_t caller_size, size_t own_size, const char *fn)
{
    if (!params) return rp__fail(RP_E_INVALID_ARG, "%s: params is NULL", fn);
    if (caller_size < sizeof(uint32_t))
        return rp__fail(RP_E_INVALID_ARG, "%s: size %zu is too small", fn, caller_size);
    memset(params, 0, caller_size);
    *(uint32_t *)params = (uint32_t)(caller_size < own_size ? caller_size : own_size);
    return RP_OK;
}

int rp__params_copy(void *dst, size_t dst_size, const void *src, const char *fn)
{
    if (!src) return RP_OK; /* NULL params: keep the defaults already in dst */
    uint32_t size = *(const uint32_t *)src;
    if (size < sizeof(uint32_t))
        return rp__fail(RP_E_INVALID_ARG, "%s: params.struct_size %u is not set (use the _params_init function)",
                        fn, size);
    if (size > dst_size) {
        const unsigned char *tail = (const unsigned char *)src + dst_size;
        for (size_t i = 0; i < size - dst_size; i++)
            if (tail[i])
                return rp__fail(RP_E_VERSION,
                                "%s: params.struct_size %u is larger than this library's %zu and the extra "
                                "fields are set: the program needs a newer libreconpatch",
                                fn, size, dst_size);
    }
    size_t n = size < dst_size ? size : dst_size;
    /* Copy what both sides know; each module then resolves zero fields to its defaults. */
    memcpy((unsigned char *)dst + sizeof(uint32_t), (const unsigned char *)src + sizeof(uint32_t),
           n - sizeof(uint32_t));
    *(uint32_t *)dst = (uint32_t)dst_size;
    return RP_OK;
}

int rp__params_check_reserved(uint32_t value, const char *field, const char *fn)
{
    if (!value) return RP_OK;
    return rp__fail(RP_E_VERSION, "%s: params.%s is %u: a field this library does not know is set (the program "
                                  "needs a newer libreconpatch)", fn, field, value);
}

uint32_t rp__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1u;
}

int rp__mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}
