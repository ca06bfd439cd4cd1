/* libFuzzer target: the TF.js model.json + shards reader, from memory. Framing of the input (all
 * lengths little-endian u32, each clamped to what is left):
 *   json length, model.json bytes, then up to FUZZ_TFJS_SHARDS times: shard length, shard bytes.
 * Shard k is named "s<k>.bin", the names the seeds' "paths" use. Every input must end in RP_OK or
 * a clean RP_E_* code, with no crash, leak or sanitizer report. */
#include <reconpatch/reconpatch.h>
#include <stdint.h>
#include <stdlib.h>

#include "backbone/weights_memory.h"

#define FUZZ_TFJS_SHARDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t take(const uint8_t **p, size_t *left)
{
    if (*left < 4) {
        *left = 0;
        return 0;
    }
    size_t n = (size_t)(*p)[0] | (size_t)(*p)[1] << 8 | (size_t)(*p)[2] << 16 | (size_t)(*p)[3] << 24;
    *p += 4;
    *left -= 4;
    return n < *left ? n : *left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[FUZZ_TFJS_SHARDS] = {"s0.bin", "s1.bin", "s2.bin", "s3.bin",
                                                        "s4.bin", "s5.bin", "s6.bin", "s7.bin"};
    const uint8_t *p = data;
    size_t left = size;
    size_t json_size = take(&p, &left);
    const uint8_t *json = p;
    p += json_size;
    left -= json_size;
    rp__tfjs_shard shards[FUZZ_TFJS_SHARDS];
    size_t n = 0;
    while (left >= 4 && n < FUZZ_TFJS_SHARDS) {
        size_t len = take(&p, &left);
        shards[n] = (rp__tfjs_shard){names[n], p, len};
        p += len;
        left -= len;
        n++;
    }
    rp__weights *w = NULL;
    int rc = rp__weights_load_tfjs_memory("fuzz/model.json", json_size ? json : (const uint8_t *)"", json_size,
                                          shards, n, &w);
    if (rc == RP_OK) {
        if (!w || w->layout != RP_LAYOUT_KERAS) abort();
        rp__weights_free(w);
    } else if (w) {
        abort();
    }
    return 0;
}
