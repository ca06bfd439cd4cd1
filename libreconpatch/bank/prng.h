/* The bank's documented pseudo-random generator: splitmix64 (Steele, Lea, Flood 2014). Small,
 * seedable, identical in C and numpy (tools/gen_bank_goldens.py), so tests can rebuild the exact
 * projection matrix and start points PatchCore's sampler is then run with. docs/memory-bank.md. */
#ifndef RP_BANK_PRNG_H
#define RP_BANK_PRNG_H

#include <stdint.h>

static inline uint64_t rp__prng_next(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ull;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 bits: exactly representable as a float. */
static inline float rp__prng_uniform(uint64_t *state)
{
    return (float)(rp__prng_next(state) >> 40) * (1.0f / 16777216.0f);
}

#endif
