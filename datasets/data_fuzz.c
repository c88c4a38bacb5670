#include "data_fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cifar.h"
#include "cifar_jpeg.h"
#include "manifest.h"
#include "text.h"

#define FUZZ_NAME "fuzz-input"
#define FUZZ_MAX_DOCS 64

/* A refusal must say what was refused: the message starts with the input's name. */
static int refused_properly(const char *err) { return strncmp(err, FUZZ_NAME ":", strlen(FUZZ_NAME) + 1) == 0; }

int data_fuzz_cifar_records(const uint8_t *data, size_t len)
{
    CifarSet set;
    char err[512] = "";
    memset(&set, 0, sizeof set);
    if (cifar_parse_records(data, len, FUZZ_NAME, &set, err, sizeof err) != 0)
        return set.n == 0 && refused_properly(err) ? 0 : -1;
    int ok = (size_t)set.n * CIFAR_RECORD_BYTES == len;
    for (int i = 0; ok && i < set.n; i++)
        ok = set.labels[i] < CIFAR_CLASSES;
    float image[CIFAR_IMAGE_BYTES];
    CifarNorm norm = cifar_norm_default();
    CifarNorm measured = cifar_compute_norm(&set);
    for (int c = 0; c < CIFAR_CHANNELS; c++)
        ok = ok && measured.mean[c] >= 0 && measured.mean[c] <= 1 && measured.std[c] >= 0 && measured.std[c] <= 1;
    /* Crop offsets and flip from the input itself, over the whole legal range, both padding modes. */
    for (int i = 0; ok && i < set.n && i < 4; i++) {
        int pad = data[len - 1 - (size_t)i] % 9, crop_x = pad ? data[i] % (2 * pad + 1) : 0;
        int crop_y = pad ? data[(size_t)i * 7 % len] % (2 * pad + 1) : 0;
        cifar_transform(set.pixels + (size_t)i * CIFAR_IMAGE_BYTES, &norm, pad, i % 2, crop_x, crop_y, i / 2 % 2,
                        image);
        for (int k = 0; ok && k < CIFAR_IMAGE_BYTES; k++)
            ok = image[k] > -2.0f && image[k] < 2.3f; /* (0 - 0.4914) / 0.247 .. (1 - 0.4465) / 0.243 */
    }
    cifar_free(&set);
    return ok ? 0 : -1;
}

int data_fuzz_cifar_jpeg(const uint8_t *data, size_t len)
{
    uint8_t *chw = malloc(CIFAR_IMAGE_BYTES); /* heap, so the sanitizer sees any write past the image */
    char err[512] = "";
    if (!chw)
        return 0;
    int rc = cifar_jpeg_decode(data, len, FUZZ_NAME, chw, err, sizeof err);
    free(chw);
    return rc == 0 || refused_properly(err) ? 0 : -1;
}

/* Splits data at 0xFF bytes into at most FUZZ_MAX_DOCS documents (the last one takes the rest). */
static int split_documents(const uint8_t *data, size_t len, const uint8_t *docs[], size_t lens[])
{
    int count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && count < FUZZ_MAX_DOCS; i++) {
        if (i < len && (data[i] != 0xFF || count == FUZZ_MAX_DOCS - 1))
            continue;
        docs[count] = data + start, lens[count] = i - start;
        count++, start = i + 1;
    }
    return count;
}

/* A batch of every split that can hold one: ids and targets must be the split's bytes, shifted by one. */
static int check_batches(const TextDataset *ds)
{
    int ids[2 * 8], targets[2 * 8];
    char err[256];
    for (int s = 0; s < TEXT_SPLITS; s++) {
        int T = ds->len[s] > 8 ? 8 : (int)ds->len[s] - 1;
        if (T < 1)
            continue;
        if (text_batch(ds, s, 1, 2, ids, targets, 2, T, err, sizeof err) != 0)
            return -1;
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < T; t++)
                if (ids[b * T + t] < 0 || ids[b * T + t] >= TEXT_VOCAB || (t + 1 < T && targets[b * T + t] !=
                                                                                           ids[b * T + t + 1]))
                    return -1;
    }
    return 0;
}

int data_fuzz_text(const uint8_t *data, size_t len)
{
    TextDataset ds;
    char err[512] = "";
    int checked = text_check(data, len, FUZZ_NAME, err, sizeof err);
    if (checked != 0 && !refused_properly(err))
        return -1;
    int rc = text_from_buffer_90_10(data, len, FUZZ_NAME, &ds, err, sizeof err);
    if ((rc == 0) != (checked == 0))
        return -1;
    if (rc == 0) {
        rc = ds.len[TEXT_TRAIN] + ds.len[TEXT_VALID] == len && ds.len[TEXT_VALID] * 10 >= len ? check_batches(&ds)
                                                                                              : -1;
        text_free(&ds);
        if (rc != 0)
            return -1;
    }
    const uint8_t *docs[FUZZ_MAX_DOCS];
    size_t lens[FUZZ_MAX_DOCS], total = 0;
    const char *names[FUZZ_MAX_DOCS];
    int count = split_documents(data, len, docs, lens);
    for (int i = 0; i < count; i++)
        names[i] = FUZZ_NAME, total += lens[i];
    if (text_from_documents(docs, lens, names, count, FUZZ_NAME, &ds, err, sizeof err) != 0)
        return refused_properly(err) ? 0 : -1;
    rc = ds.len[TEXT_TRAIN] + ds.len[TEXT_VALID] + ds.len[TEXT_TEST] == total ? check_batches(&ds) : -1;
    text_free(&ds);
    return rc;
}

int data_fuzz_manifest(const uint8_t *data, size_t len)
{
    Manifest m;
    char err[512] = "", source[64], origin[64];
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    snprintf(source, sizeof source, "unknown"), snprintf(origin, sizeof origin, "%s", "");
    manifest_parse_source(text, source, sizeof source, origin, sizeof origin);
    int ok = strlen(source) < sizeof source && !strchr(source, '\n') && !strchr(origin, '\n');
    if (manifest_parse(text, len, FUZZ_NAME, &m, err, sizeof err) != 0) {
        free(text);
        return ok && m.count == 0 && refused_properly(err) ? 0 : -1;
    }
    size_t back_len = 0;
    char *back = manifest_format(&m, &back_len);
    ok = ok && back && back_len == len && memcmp(back, data, len) == 0; /* parse then format is the identity */
    for (int i = 0; ok && i < m.count; i++)
        ok = manifest_lookup(&m, m.entries[i].name) == m.entries[i].sha256 && strlen(m.entries[i].sha256) == 64;
    free(back), free(text);
    manifest_free(&m);
    return ok ? 0 : -1;
}
