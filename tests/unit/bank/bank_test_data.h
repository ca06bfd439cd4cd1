/* Shared by the bank tests: the splitmix64 vectors tools/gen_bank_goldens.py also builds. */
#ifndef BANK_TEST_DATA_H
#define BANK_TEST_DATA_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bank/prng.h"

/* n x dim floats: uniform in [-1, 1); "clustered": 8 centres (first 8 rows x 4) plus rows x 0.25. */
static inline float *bank_test_vectors(uint64_t n, uint32_t dim, uint64_t seed, int clustered)
{
    float *v = malloc((size_t)n * dim * sizeof(float));
    uint64_t state = seed;
    for (size_t i = 0; i < (size_t)n * dim; i++) v[i] = rp__prng_uniform(&state) * 2.0f - 1.0f;
    if (clustered) {
        float *centres = malloc((size_t)8 * dim * sizeof(float));
        for (size_t i = 0; i < (size_t)8 * dim; i++) centres[i] = v[i] * 4.0f;
        for (uint64_t r = 0; r < n; r++)
            for (uint32_t d = 0; d < dim; d++)
                v[r * dim + d] = centres[(r % 8) * dim + d] + v[r * dim + d] * 0.25f;
        free(centres);
    }
    return v;
}

#endif
