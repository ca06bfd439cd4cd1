/* libFuzzer target: arbitrary bytes into rp_image_load_memory, seeded with PNG files (the loader
 * tells the format by its magic, so a mutated seed may reach the other decoder too). A loaded
 * image then goes through preprocessing. Every input must end in RP_OK or a clean RP_E_* code,
 * with no crash, leak or sanitizer report. */
#include "fuzz_image_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_image_bytes(data, size); }
