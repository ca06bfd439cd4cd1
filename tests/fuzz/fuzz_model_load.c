/* libFuzzer target: arbitrary bytes into the model file loader. Every input must end in RP_OK or a
 * clean RP_E_* code, with no crash, leak or sanitizer report. Referenced weights point at a path
 * that does not exist, so inputs cannot make the fuzzer read files; embedded weights go through
 * the safetensors parser and, when everything checks out, a real extractor build. */
#include <reconpatch/reconpatch.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    lp.weights_path = "/nonexistent/rp-fuzz-weights.safetensors";
    lp.num_threads = 1;
    lp.max_bytes = (uint64_t)64 << 20;
    rp_model *m = NULL;
    if (rp_model_load_memory(size ? data : (const uint8_t *)"", size, &lp, &m) == RP_OK) rp_model_free(m);
    return 0;
}
