#include "cifar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataio.h"
#include "manifest.h"
#include "rng.h"

/* A batch file far larger than the official 30.7 MB is not a CIFAR batch; refuse before reading it. */
#define CIFAR_MAX_FILE_BYTES ((size_t)1 << 31)

static const char *const CLASS_NAMES[CIFAR_CLASSES] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                       "dog",      "frog",       "horse", "ship", "truck"};
static const char *const FILE_NAMES[CIFAR_TRAIN_FILES + 1] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
    "test_batch.bin"};

const char *cifar_class_name(int label) { return label >= 0 && label < CIFAR_CLASSES ? CLASS_NAMES[label] : "?"; }

const char *cifar_file_name(CifarSplit split, int i)
{
    if (split == CIFAR_TEST)
        return FILE_NAMES[CIFAR_TRAIN_FILES];
    return i >= 0 && i < CIFAR_TRAIN_FILES ? FILE_NAMES[i] : "?";
}

int cifar_parse_records(const uint8_t *buf, size_t len, const char *name, CifarSet *out, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "%s: empty CIFAR batch (0 bytes)", name);
        return -1;
    }
    if (len % CIFAR_RECORD_BYTES != 0) {
        snprintf(err, errlen,
                 "%s: truncated CIFAR batch: %zu bytes is %zu whole records of %d bytes and %zu bytes left over",
                 name, len, len / CIFAR_RECORD_BYTES, CIFAR_RECORD_BYTES, len % CIFAR_RECORD_BYTES);
        return -1;
    }
    size_t records = len / CIFAR_RECORD_BYTES;
    for (size_t r = 0; r < records; r++) {
        uint8_t label = buf[r * CIFAR_RECORD_BYTES];
        if (label >= CIFAR_CLASSES) {
            snprintf(err, errlen, "%s: record %zu (byte offset %zu) has label %u; CIFAR-10 labels are 0..9", name, r,
                     r * CIFAR_RECORD_BYTES, (unsigned)label);
            return -1;
        }
    }
    if (records > (size_t)(INT32_MAX / CIFAR_IMAGE_BYTES) - (size_t)out->n) {
        snprintf(err, errlen, "%s: too many records (%zu)", name, records);
        return -1;
    }
    size_t total = (size_t)out->n + records;
    uint8_t *labels = realloc(out->labels, total);
    if (labels)
        out->labels = labels;
    uint8_t *pixels = labels ? realloc(out->pixels, total * CIFAR_IMAGE_BYTES) : NULL;
    if (!pixels) {
        snprintf(err, errlen, "%s: out of memory for %zu images", name, total);
        return -1;
    }
    out->pixels = pixels;
    for (size_t r = 0; r < records; r++) {
        const uint8_t *rec = buf + r * CIFAR_RECORD_BYTES;
        out->labels[(size_t)out->n + r] = rec[0];
        memcpy(out->pixels + ((size_t)out->n + r) * CIFAR_IMAGE_BYTES, rec + 1, CIFAR_IMAGE_BYTES);
    }
    out->n = (int)total;
    return 0;
}

/* A file whose bytes disagree with the cache manifest is corrupt: refuse it rather than train on it. */
static int check_against_manifest(const Manifest *m, const char *path, const char *name, const uint8_t *buf,
                                  size_t len, char *err, size_t errlen)
{
    const char *expected = manifest_lookup(m, name);
    char hex[SHA256_HEX_LEN];
    if (!expected) {
        snprintf(err, errlen, "%s: not listed in the cache's %s; rebuild the cache (make datasets)", path,
                 MANIFEST_FILE);
        return -1;
    }
    sha256_hex(buf, len, hex);
    if (strcmp(hex, expected) != 0) {
        snprintf(err, errlen, "%s: sha256 %s differs from %s recorded in %s: the cache is corrupt; rebuild it (make "
                 "datasets)", path, hex, expected, MANIFEST_FILE);
        return -1;
    }
    return 0;
}

static int load_file(const char *dir, const char *name, const Manifest *m, int have_manifest, CifarSet *out,
                     char *err, size_t errlen)
{
    char path[DATAIO_PATH_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    if (dataio_join(path, sizeof path, dir, name, err, errlen) != 0)
        return -1;
    if (!dataio_is_file(path)) {
        snprintf(err, errlen, "%s: missing CIFAR-10 batch file (expected %s ... %s and %s in %s)", path,
                 FILE_NAMES[0], FILE_NAMES[CIFAR_TRAIN_FILES - 1], FILE_NAMES[CIFAR_TRAIN_FILES], dir);
        return -1;
    }
    if (dataio_read_file(path, CIFAR_MAX_FILE_BYTES, &buf, &len, err, errlen) != 0)
        return -1;
    int rc = have_manifest ? check_against_manifest(m, path, name, buf, len, err, errlen) : 0;
    if (rc == 0)
        rc = cifar_parse_records(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

int cifar_load(const char *dir, CifarSplit split, CifarSet *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (split != CIFAR_TRAIN && split != CIFAR_TEST) {
        snprintf(err, errlen, "cifar_load: split %d is neither train (0) nor test (1)", (int)split);
        return -1;
    }
    if (!dataio_is_dir(dir)) {
        snprintf(err, errlen, "%s: CIFAR-10 directory not found; run `make datasets` (or `subq data fetch cifar10`)",
                 dir);
        return -1;
    }
    Manifest m;
    int mrc = manifest_read(dir, &m, err, errlen);
    if (mrc < 0)
        return -1;
    int files = split == CIFAR_TRAIN ? CIFAR_TRAIN_FILES : 1, rc = 0;
    for (int i = 0; i < files && rc == 0; i++)
        rc = load_file(dir, cifar_file_name(split, i), &m, mrc == 0, out, err, errlen);
    manifest_free(&m);
    if (rc != 0) {
        cifar_free(out);
        return -1;
    }
    manifest_read_source(dir, out->source, sizeof out->source, out->origin, sizeof out->origin);
    return 0;
}

void cifar_free(CifarSet *set)
{
    free(set->labels);
    free(set->pixels);
    set->labels = NULL, set->pixels = NULL, set->n = 0;
}

void cifar_class_counts(const CifarSet *set, int counts[CIFAR_CLASSES])
{
    memset(counts, 0, CIFAR_CLASSES * sizeof counts[0]);
    for (int i = 0; i < set->n; i++)
        if (set->labels[i] < CIFAR_CLASSES)
            counts[set->labels[i]]++;
}

static int alloc_set(CifarSet *s, int n, const CifarSet *like)
{
    memset(s, 0, sizeof *s);
    memcpy(s->source, like->source, sizeof s->source);
    memcpy(s->origin, like->origin, sizeof s->origin);
    s->labels = malloc((size_t)(n ? n : 1));
    s->pixels = malloc((size_t)(n ? n : 1) * CIFAR_IMAGE_BYTES);
    return s->labels && s->pixels ? 0 : -1;
}

static void append_image(CifarSet *dst, const CifarSet *src, int i)
{
    dst->labels[dst->n] = src->labels[i];
    memcpy(dst->pixels + (size_t)dst->n * CIFAR_IMAGE_BYTES, src->pixels + (size_t)i * CIFAR_IMAGE_BYTES,
           CIFAR_IMAGE_BYTES);
    dst->n++;
}

int cifar_split_validation(const CifarSet *all, int n_val, uint64_t seed, CifarSet *train, CifarSet *val, char *err,
                           size_t errlen)
{
    if (n_val < 0 || n_val > all->n) {
        snprintf(err, errlen, "cifar_split_validation: %d validation images asked of a set of %d", n_val, all->n);
        return -1;
    }
    uint8_t *in_val = calloc((size_t)(all->n ? all->n : 1), 1);
    int *order = malloc((size_t)(all->n ? all->n : 1) * sizeof *order);
    if (!in_val || !order || alloc_set(train, all->n - n_val, all) != 0 || alloc_set(val, n_val, all) != 0) {
        free(in_val), free(order), cifar_free(train), cifar_free(val);
        snprintf(err, errlen, "cifar_split_validation: out of memory for %d images", all->n);
        return -1;
    }
    /* A seeded Fisher-Yates shuffle; its first n_val entries choose the validation images. */
    Rng rng;
    rng_init(&rng, dataio_mix_seed(seed, 0x7661, 0));
    for (int i = 0; i < all->n; i++)
        order[i] = i;
    for (int i = all->n - 1; i > 0; i--) {
        int j = (int)rng_below(&rng, (uint32_t)i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (int i = 0; i < n_val; i++)
        in_val[order[i]] = 1;
    for (int i = 0; i < all->n; i++)
        append_image(in_val[i] ? val : train, all, i);
    free(in_val), free(order);
    return 0;
}
