/* libFuzzer target: arbitrary bytes into the safetensors weights parser, from memory (the path an
 * embedded model backbone takes). Weights that parse are checked for being a ResNet-50 (the next
 * step of every real load). Every input must end in RP_OK or a clean RP_E_* code, with no crash,
 * leak or sanitizer report. */
#include <reconpatch/reconpatch.h>
#include <stdint.h>
#include <stdlib.h>

#include "backbone/weights_memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp__weights *w = NULL;
    int rc = rp__weights_load_safetensors_memory(size ? data : (const uint8_t *)"", size, "fuzz.safetensors", &w);
    if (rc == RP_OK) {
        if (!w) abort();
        for (size_t i = 0; i < w->count; i++)
            if (!w->tensors[i].name || w->tensors[i].ndim < 0 || w->tensors[i].ndim > RP_WEIGHTS_MAX_NDIM) abort();
        (void)rp__weights_check_resnet(w, 0);
        rp__weights_free(w);
    } else if (w) {
        abort();
    }
    return 0;
}
