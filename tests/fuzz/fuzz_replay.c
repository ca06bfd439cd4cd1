/* A main() for compilers without libFuzzer (gcc): runs each file named on the command line
 * through LLVMFuzzerTestOneInput once, to replay a corpus or a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
        fclose(f);
        if (!buf || got != (size_t)n) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            free(buf);
            return 1;
        }
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        printf("%s: %ld bytes ok\n", argv[i], n);
    }
    return 0;
}
