/* Little-endian byte helpers, CRC-32 and a small growable buffer (see le_bytes.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "model/le_bytes.h"

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1u ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

uint32_t rp__crc32(uint32_t crc, const void *data, size_t size)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    uint32_t c = crc ^ 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) c = crc_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void rp__le_put_u32(uint8_t *dst, uint32_t v)
{
    for (int i = 0; i < 4; i++) dst[i] = (uint8_t)(v >> (8 * i));
}

void rp__le_put_u64(uint8_t *dst, uint64_t v)
{
    for (int i = 0; i < 8; i++) dst[i] = (uint8_t)(v >> (8 * i));
}

void rp__le_put_f32(uint8_t *dst, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    rp__le_put_u32(dst, bits);
}

void rp__le_put_f64(uint8_t *dst, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    rp__le_put_u64(dst, bits);
}

uint32_t rp__le_get_u32(const uint8_t *src)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | src[i];
    return v;
}

uint64_t rp__le_get_u64(const uint8_t *src)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | src[i];
    return v;
}

float rp__le_get_f32(const uint8_t *src)
{
    uint32_t bits = rp__le_get_u32(src);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

double rp__le_get_f64(const uint8_t *src)
{
    uint64_t bits = rp__le_get_u64(src);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static uint8_t *reserve(rp__bytes *b, size_t n)
{
    if (b->failed) return NULL;
    if (b->size + n > b->capacity) {
        size_t cap = b->capacity ? b->capacity : 64;
        while (cap < b->size + n) cap *= 2;
        uint8_t *d = rp__realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return NULL;
        }
        b->data = d;
        b->capacity = cap;
    }
    uint8_t *at = b->data + b->size;
    b->size += n;
    return at;
}

void rp__bytes_u32(rp__bytes *b, uint32_t v)
{
    uint8_t *at = reserve(b, 4);
    if (at) rp__le_put_u32(at, v);
}

void rp__bytes_i32(rp__bytes *b, int32_t v) { rp__bytes_u32(b, (uint32_t)v); }

void rp__bytes_u64(rp__bytes *b, uint64_t v)
{
    uint8_t *at = reserve(b, 8);
    if (at) rp__le_put_u64(at, v);
}

void rp__bytes_f64(rp__bytes *b, double v)
{
    uint8_t *at = reserve(b, 8);
    if (at) rp__le_put_f64(at, v);
}

void rp__bytes_raw(rp__bytes *b, const void *data, size_t size)
{
    uint8_t *at = reserve(b, size);
    if (at && size) memcpy(at, data, size);
}

void rp__bytes_free(rp__bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
