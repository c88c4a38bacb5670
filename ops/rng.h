/* rng: a small seeded generator (xoshiro256**, seeded through splitmix64) so that every initialisation,
 * data order and noise draw is reproducible from one integer seed, independent of the C library. */
#ifndef SUBQ_RNG_H
#define SUBQ_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void rng_init(Rng *rng, uint64_t seed);
/* splitmix64's finaliser: a well-mixed 64-bit hash of z. Stateless, so counter-based draws (MoE gate noise, FFF
 * region leaks, dropout masks) can be recomputed from (key, index) in any order and on any thread. */
uint64_t rng_mix64(uint64_t z);
uint64_t rng_next(Rng *rng);
/* Uniform in [0, 1). */
float rng_uniform(Rng *rng);
/* Uniform in [lo, hi). */
float rng_range(Rng *rng, float lo, float hi);
/* Standard normal (Box-Muller; uses two uniforms per call, keeps no cached second value). */
float rng_normal(Rng *rng);
/* Uniform integer in [0, n). */
uint32_t rng_below(Rng *rng, uint32_t n);

void rng_fill_uniform(Rng *rng, float *x, size_t n, float lo, float hi);
void rng_fill_normal(Rng *rng, float *x, size_t n, float mean, float std);

#endif
