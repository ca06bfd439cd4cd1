/* Seeded random numbers for the trainer: xoshiro256** (fast, good quality, tiny state), seeded
 * with splitmix64 as its authors recommend. Same seed -> same sequence on every platform. */
#include "trainer/trainer_internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rp__trainer_rng_seed(rp__trainer_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

uint64_t rp__trainer_rng_next(rp__trainer_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rp__trainer_rng_below(rp__trainer_rng *rng, uint32_t n)
{
    /* Multiply-shift (Lemire): the bias for n < 2^32 is below 2^-32, irrelevant for shuffling. */
    return (uint32_t)(((rp__trainer_rng_next(rng) >> 32) * (uint64_t)n) >> 32);
}

double rp__trainer_rng_uniform(rp__trainer_rng *rng)
{
    return (double)(rp__trainer_rng_next(rng) >> 11) * 0x1.0p-53;
}

void rp__trainer_shuffle(rp__trainer_rng *rng, uint32_t *v, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = rp__trainer_rng_below(rng, i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
