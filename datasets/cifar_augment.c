/* cifar_augment: normalisation, random crop with padding, horizontal flip, and the seeded training order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cifar.h"
#include "dataio.h"
#include "rng.h"

/* Stream tags for dataio_mix_seed: the epoch permutations and the per-image augmentation draws must not share
 * random numbers. */
#define STREAM_EPOCH 0x65706f6368ULL
#define STREAM_AUGMENT 0x6175676dULL

CifarNorm cifar_norm_default(void)
{
    CifarNorm n = {{0.4914f, 0.4822f, 0.4465f}, {0.247f, 0.243f, 0.261f}};
    return n;
}

CifarAugment cifar_augment_default(void)
{
    CifarAugment a = {4, CIFAR_PAD_ZERO, 1};
    return a;
}

CifarNorm cifar_compute_norm(const CifarSet *set)
{
    CifarNorm norm;
    for (int c = 0; c < CIFAR_CHANNELS; c++) {
        double sum = 0, sum_sq = 0;
        for (int i = 0; i < set->n; i++) {
            const uint8_t *p = set->pixels + (size_t)i * CIFAR_IMAGE_BYTES + (size_t)c * CIFAR_PIXELS;
            uint64_t s = 0, sq = 0; /* exact per image */
            for (int k = 0; k < CIFAR_PIXELS; k++)
                s += p[k], sq += (uint64_t)p[k] * p[k];
            sum += (double)s, sum_sq += (double)sq;
        }
        double count = (double)set->n * CIFAR_PIXELS;
        double mean = count > 0 ? sum / count : 0, var = count > 0 ? sum_sq / count - mean * mean : 0;
        norm.mean[c] = (float)(mean / 255.0);
        norm.std[c] = (float)(sqrt(var > 0 ? var : 0) / 255.0);
    }
    return norm;
}

/* Maps a coordinate of the padded image back into [0, 32): -1 for a zero border, mirrored for symmetric
 * padding (numpy's "symmetric": ... 1 0 | 0 1 2 ... 31 | 31 30 ...). */
static int source_coord(int v, int pad_mode)
{
    if (v >= 0 && v < CIFAR_SIDE)
        return v;
    if (pad_mode != CIFAR_PAD_SYMMETRIC)
        return -1;
    return v < 0 ? -v - 1 : 2 * CIFAR_SIDE - 1 - v;
}

void cifar_transform(const uint8_t *chw, const CifarNorm *norm, int pad, int pad_mode, int crop_x, int crop_y,
                     int flip, float *out)
{
    float scale[CIFAR_CHANNELS], shift[CIFAR_CHANNELS], border[CIFAR_CHANNELS];
    for (int c = 0; c < CIFAR_CHANNELS; c++) {
        scale[c] = 1.0f / (255.0f * norm->std[c]);
        shift[c] = -norm->mean[c] / norm->std[c];
        border[c] = shift[c]; /* a zero pixel, normalised like any other (torchvision pads before Normalize) */
    }
    for (int y = 0; y < CIFAR_SIDE; y++) {
        int sy = source_coord(y + crop_y - pad, pad_mode);
        for (int x = 0; x < CIFAR_SIDE; x++) {
            int cx = flip ? CIFAR_SIDE - 1 - x : x; /* torchvision crops, then flips the crop */
            int sx = source_coord(cx + crop_x - pad, pad_mode);
            float *o = out + ((size_t)y * CIFAR_SIDE + x) * CIFAR_CHANNELS;
            for (int c = 0; c < CIFAR_CHANNELS; c++)
                o[c] = sy < 0 || sx < 0 ? border[c]
                                        : chw[(size_t)c * CIFAR_PIXELS + (size_t)sy * CIFAR_SIDE + sx] * scale[c] +
                                              shift[c];
        }
    }
}

int cifar_sampler_init(CifarSampler *s, const CifarSet *set, const CifarNorm *norm, const CifarAugment *augment,
                       uint64_t seed, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (set->n <= 0) {
        snprintf(err, errlen, "cifar_sampler_init: the set is empty");
        return -1;
    }
    if (augment->pad < 0 || augment->pad > CIFAR_SIDE) {
        snprintf(err, errlen, "cifar_sampler_init: padding %d is outside 0..%d", augment->pad, CIFAR_SIDE);
        return -1;
    }
    for (int c = 0; c < CIFAR_CHANNELS; c++)
        if (!(norm->std[c] > 0)) {
            snprintf(err, errlen, "cifar_sampler_init: std of channel %d is %g, must be > 0", c, norm->std[c]);
            return -1;
        }
    if (!(s->perm = malloc((size_t)set->n * sizeof *s->perm))) {
        snprintf(err, errlen, "cifar_sampler_init: out of memory for %d indices", set->n);
        return -1;
    }
    s->set = set, s->norm = *norm, s->augment = *augment, s->seed = seed, s->perm_epoch = -1;
    return 0;
}

void cifar_sampler_free(CifarSampler *s)
{
    free(s->perm);
    s->perm = NULL, s->perm_epoch = -1;
}

static void load_epoch(CifarSampler *s, long long epoch)
{
    Rng rng;
    int n = s->set->n;
    rng_init(&rng, dataio_mix_seed(s->seed, STREAM_EPOCH, (uint64_t)epoch));
    for (int i = 0; i < n; i++)
        s->perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&rng, (uint32_t)i + 1), t = s->perm[i];
        s->perm[i] = s->perm[j], s->perm[j] = t;
    }
    s->perm_epoch = epoch;
}

void cifar_train_batch(CifarSampler *s, uint64_t index, int B, float *x, int *labels)
{
    const CifarAugment *a = &s->augment;
    uint64_t n = (uint64_t)s->set->n;
    for (int b = 0; b < B; b++) {
        uint64_t position = index * (uint64_t)B + (uint64_t)b;
        long long epoch = (long long)(position / n);
        if (epoch != s->perm_epoch)
            load_epoch(s, epoch);
        int image = s->perm[position % n];
        Rng rng;
        rng_init(&rng, dataio_mix_seed(s->seed, STREAM_AUGMENT, position));
        int crop_x = a->pad > 0 ? (int)rng_below(&rng, 2u * (uint32_t)a->pad + 1) : 0;
        int crop_y = a->pad > 0 ? (int)rng_below(&rng, 2u * (uint32_t)a->pad + 1) : 0;
        int flip = a->flip ? (int)(rng_next(&rng) >> 63) : 0;
        cifar_transform(s->set->pixels + (size_t)image * CIFAR_IMAGE_BYTES, &s->norm, a->pad, a->pad_mode, crop_x,
                        crop_y, flip, x + (size_t)b * CIFAR_IMAGE_BYTES);
        labels[b] = s->set->labels[image];
    }
}

int cifar_eval_batch(const CifarSet *set, const CifarNorm *norm, int first, int B, float *x, int *labels)
{
    int count = 0;
    for (int i = first; i < set->n && count < B; i++, count++) {
        if (i < 0)
            return 0;
        cifar_transform(set->pixels + (size_t)i * CIFAR_IMAGE_BYTES, norm, 0, CIFAR_PAD_ZERO, 0, 0, 0,
                        x + (size_t)count * CIFAR_IMAGE_BYTES);
        labels[count] = set->labels[i];
    }
    return count;
}
