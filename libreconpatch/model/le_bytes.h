/* Little-endian byte helpers and CRC-32 for the model file: every number goes through these one
 * byte at a time, so the file layout never depends on the host's struct layout or byte order. */
#ifndef RP_MODEL_LE_BYTES_H
#define RP_MODEL_LE_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3 / zlib / PNG: reflected polynomial 0xEDB88320, initial value and final xor
 * 0xFFFFFFFF). Start with crc = 0, feed pieces in order: rp__crc32(rp__crc32(0, a), b). */
uint32_t rp__crc32(uint32_t crc, const void *data, size_t size);

void rp__le_put_u32(uint8_t *dst, uint32_t v);
void rp__le_put_u64(uint8_t *dst, uint64_t v);
void rp__le_put_f32(uint8_t *dst, float v);  /* IEEE-754 binary32 bit pattern */
void rp__le_put_f64(uint8_t *dst, double v); /* IEEE-754 binary64 bit pattern */
uint32_t rp__le_get_u32(const uint8_t *src);
uint64_t rp__le_get_u64(const uint8_t *src);
float rp__le_get_f32(const uint8_t *src);
double rp__le_get_f64(const uint8_t *src);

/* A growable byte buffer for the small fields of a section. A failed allocation sets failed and
 * ignores further appends, so callers check once at the end. */
typedef struct rp__bytes {
    uint8_t *data;
    size_t size, capacity;
    int failed;
} rp__bytes;

void rp__bytes_u32(rp__bytes *b, uint32_t v);
void rp__bytes_i32(rp__bytes *b, int32_t v);
void rp__bytes_u64(rp__bytes *b, uint64_t v);
void rp__bytes_f64(rp__bytes *b, double v);
void rp__bytes_raw(rp__bytes *b, const void *data, size_t size);
void rp__bytes_free(rp__bytes *b);

#endif
