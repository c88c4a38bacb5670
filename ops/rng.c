#include "rng.h"

#include <math.h>

uint64_t rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *state) { return rng_mix64(*state += 0x9E3779B97F4A7C15ULL); }

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_init(Rng *rng, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&sm);
}

uint64_t rng_next(Rng *rng)
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

float rng_uniform(Rng *rng) { return (float)(rng_next(rng) >> 40) * (1.0f / 16777216.0f); }

float rng_range(Rng *rng, float lo, float hi) { return lo + (hi - lo) * rng_uniform(rng); }

float rng_normal(Rng *rng)
{
    /* 53-bit uniforms in (0, 1] keep log() finite. */
    double u1 = ((double)(rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

uint32_t rng_below(Rng *rng, uint32_t n) { return (uint32_t)(((rng_next(rng) >> 32) * (uint64_t)n) >> 32); }

void rng_fill_uniform(Rng *rng, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rng_range(rng, lo, hi);
}

void rng_fill_normal(Rng *rng, float *x, size_t n, float mean, float std)
{
    for (size_t i = 0; i < n; i++)
        x[i] = mean + std * rng_normal(rng);
}
