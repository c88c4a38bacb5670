#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataio.h"
#include "rng.h"

/* WikiText-103's training file is about 540 MB; anything beyond this is not one of our corpora. */
#define TEXT_MAX_FILE_BYTES ((size_t)4 << 30)
#define STREAM_TEXT_BATCH 0x74657874ULL

static const char *const SPLIT_NAMES[TEXT_SPLITS] = {"train", "valid", "test"};
static const char *const WIKITEXT_FILES[TEXT_SPLITS] = {"wiki.train.raw", "wiki.valid.raw", "wiki.test.raw"};

const char *text_split_name(int split) { return split >= 0 && split < TEXT_SPLITS ? SPLIT_NAMES[split] : "?"; }

/* Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or len if there is none. */
static size_t utf8_error_offset(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
        if (need == 0 || len - i <= (size_t)need)
            return i;
        uint32_t cp = c & (0x3Fu >> need);
        for (int k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += (size_t)need + 1;
    }
    return len;
}

int text_check(const uint8_t *data, size_t len, const char *name, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "%s: empty corpus (0 bytes)", name);
        return -1;
    }
    const uint8_t *nul = memchr(data, 0, len);
    if (nul) {
        snprintf(err, errlen, "%s: not a text file: NUL byte at offset %zu", name, (size_t)(nul - data));
        return -1;
    }
    size_t bad = utf8_error_offset(data, len);
    if (bad < len) {
        snprintf(err, errlen, "%s: not a text file: invalid UTF-8 at byte offset %zu (byte 0x%02x)", name, bad,
                 data[bad]);
        return -1;
    }
    /* Valid UTF-8 made mostly of control bytes is binary data all the same; real corpora have a handful. */
    size_t control = 0;
    for (size_t i = 0; i < len; i++)
        control += (data[i] < 0x20 && !(data[i] >= '\t' && data[i] <= '\r')) || data[i] == 0x7F;
    if (control * 100 > len) {
        snprintf(err, errlen, "%s: not a text file: %zu of %zu bytes are control characters", name, control, len);
        return -1;
    }
    return 0;
}

static int set_split(TextDataset *ds, int split, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (!(ds->tokens[split] = malloc(len ? len : 1))) {
        snprintf(err, errlen, "%s: out of memory for %zu tokens", ds->name, len);
        return -1;
    }
    if (len)
        memcpy(ds->tokens[split], data, len);
    ds->len[split] = len;
    return 0;
}

int text_from_buffer_90_10(const uint8_t *data, size_t len, const char *name, TextDataset *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->source, sizeof out->source, "%s", name);
    if (text_check(data, len, name, err, errlen) != 0)
        return -1;
    size_t n_train = len / 10 * 9 + len % 10 * 9 / 10; /* floor(0.9 len) without overflow */
    if (set_split(out, TEXT_TRAIN, data, n_train, err, errlen) != 0 ||
        set_split(out, TEXT_VALID, data + n_train, len - n_train, err, errlen) != 0) {
        text_free(out);
        return -1;
    }
    out->docs[TEXT_TRAIN] = out->docs[TEXT_VALID] = 1;
    return 0;
}

static int speech_split(int i) { return i % 10 == 9 ? TEXT_TEST : (i % 10 == 0 && i > 0) ? TEXT_VALID : TEXT_TRAIN; }

int text_from_documents(const uint8_t *const docs[], const size_t lens[], const char *const names[], int count,
                        const char *name, TextDataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->source, sizeof out->source, "%s", name);
    if (count <= 0) {
        snprintf(err, errlen, "%s: no documents", name);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        if (text_check(docs[i], lens[i], names[i], err, errlen) != 0)
            return -1;
        out->len[speech_split(i)] += lens[i];
        out->docs[speech_split(i)]++;
    }
    for (int s = 0; s < TEXT_SPLITS; s++) {
        if (!(out->tokens[s] = malloc(out->len[s] ? out->len[s] : 1))) {
            snprintf(err, errlen, "%s: out of memory for %zu tokens", name, out->len[s]);
            text_free(out);
            return -1;
        }
    }
    size_t used[TEXT_SPLITS] = {0};
    for (int i = 0; i < count; i++) {
        int s = speech_split(i);
        memcpy(out->tokens[s] + used[s], docs[i], lens[i]);
        used[s] += lens[i];
    }
    return 0;
}

int text_load_shakespeare(const char *path, TextDataset *out, char *err, size_t errlen)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    if (dataio_read_file(path, TEXT_MAX_FILE_BYTES, &data, &len, err, errlen) != 0)
        return -1;
    int rc = text_from_buffer_90_10(data, len, path, out, err, errlen);
    if (rc == 0)
        snprintf(out->name, sizeof out->name, "tinyshakespeare");
    free(data);
    return rc;
}

/* Reads the speeches of dir (sorted by name) into parallel arrays; the caller frees them. */
static int read_speeches(const char *dir, char **names, int count, uint8_t **docs, size_t *lens, char **paths,
                         char *err, size_t errlen)
{
    for (int i = 0; i < count; i++) {
        size_t plen = strlen(dir) + strlen(names[i]) + 2;
        if (!(paths[i] = malloc(plen))) {
            snprintf(err, errlen, "%s: out of memory", dir);
            return -1;
        }
        snprintf(paths[i], plen, "%s/%s", dir, names[i]);
        if (dataio_read_file(paths[i], TEXT_MAX_FILE_BYTES, &docs[i], &lens[i], err, errlen) != 0)
            return -1;
    }
    return 0;
}

int text_load_sotu(const char *dir, TextDataset *out, char *err, size_t errlen)
{
    char **names = NULL;
    int count = 0;
    memset(out, 0, sizeof *out);
    if (dataio_list_dir(dir, DATAIO_LIST_FILES, ".txt", &names, &count, err, errlen) != 0)
        return -1;
    if (count == 0) {
        snprintf(err, errlen, "%s: no .txt speeches in this folder", dir);
        dataio_free_list(names, count);
        return -1;
    }
    uint8_t **docs = calloc((size_t)count, sizeof *docs);
    size_t *lens = calloc((size_t)count, sizeof *lens);
    char **paths = calloc((size_t)count, sizeof *paths);
    int rc = -1;
    if (!docs || !lens || !paths)
        snprintf(err, errlen, "%s: out of memory for %d speeches", dir, count);
    else if (read_speeches(dir, names, count, docs, lens, paths, err, errlen) == 0)
        rc = text_from_documents((const uint8_t *const *)docs, lens, (const char *const *)paths, count, "sotu", out,
                                 err, errlen);
    for (int i = 0; docs && paths && i < count; i++)
        free(docs[i]), free(paths[i]);
    free(docs), free(lens), free(paths);
    dataio_free_list(names, count);
    if (rc == 0)
        snprintf(out->source, sizeof out->source, "%s", dir);
    return rc;
}

int text_load_wikitext(const char *dir, TextDataset *out, char *err, size_t errlen)
{
    char path[DATAIO_PATH_LEN];
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "wikitext103");
    snprintf(out->source, sizeof out->source, "%s", dir);
    for (int s = 0; s < TEXT_SPLITS; s++) { /* name every missing file before reading 500 MB of the others */
        if (dataio_join(path, sizeof path, dir, WIKITEXT_FILES[s], err, errlen) != 0)
            return -1;
        if (!dataio_is_file(path)) {
            snprintf(err, errlen, "%s: missing WikiText file (the folder must hold %s, %s and %s)", path,
                     WIKITEXT_FILES[0], WIKITEXT_FILES[1], WIKITEXT_FILES[2]);
            return -1;
        }
    }
    for (int s = 0; s < TEXT_SPLITS; s++) {
        /* the file buffer becomes the split: no second copy of half a gigabyte */
        if (dataio_join(path, sizeof path, dir, WIKITEXT_FILES[s], err, errlen) != 0 ||
            dataio_read_file(path, TEXT_MAX_FILE_BYTES, &out->tokens[s], &out->len[s], err, errlen) != 0 ||
            text_check(out->tokens[s], out->len[s], path, err, errlen) != 0) {
            text_free(out);
            return -1;
        }
        out->docs[s] = 1;
    }
    return 0;
}

void text_free(TextDataset *ds)
{
    for (int s = 0; s < TEXT_SPLITS; s++) {
        free(ds->tokens[s]);
        ds->tokens[s] = NULL, ds->len[s] = 0, ds->docs[s] = 0;
    }
}

static int check_batch_args(const TextDataset *ds, int split, int B, int T, char *err, size_t errlen)
{
    if (split < 0 || split >= TEXT_SPLITS || B <= 0 || T <= 0) {
        snprintf(err, errlen, "%s: bad batch request (split %d, B %d, T %d)", ds->name, split, B, T);
        return -1;
    }
    if (!ds->tokens[split] || ds->len[split] < (size_t)T + 1) {
        snprintf(err, errlen, "%s: the %s split has %zu tokens, fewer than the %d a window of %d needs", ds->name,
                 text_split_name(split), ds->len[split], T + 1, T);
        return -1;
    }
    return 0;
}

static void copy_window(const uint8_t *tokens, size_t start, int T, int *ids, int *targets)
{
    for (int t = 0; t < T; t++) {
        ids[t] = tokens[start + (size_t)t];
        targets[t] = tokens[start + (size_t)t + 1];
    }
}

int text_batch(const TextDataset *ds, int split, uint64_t seed, uint64_t index, int *ids, int *targets, int B,
               int T, char *err, size_t errlen)
{
    if (check_batch_args(ds, split, B, T, err, errlen) != 0)
        return -1;
    uint64_t starts = ds->len[split] - (size_t)T; /* window starts 0 .. len - T - 1 */
    Rng rng;
    rng_init(&rng, dataio_mix_seed(seed ^ STREAM_TEXT_BATCH, (uint64_t)split, index));
    for (int b = 0; b < B; b++) {
        uint64_t start = starts <= UINT32_MAX ? rng_below(&rng, (uint32_t)starts) : rng_next(&rng) % starts;
        copy_window(ds->tokens[split], (size_t)start, T, ids + (size_t)b * T, targets + (size_t)b * T);
    }
    return 0;
}

size_t text_sequential_windows(const TextDataset *ds, int split, int T)
{
    if (split < 0 || split >= TEXT_SPLITS || T <= 0 || ds->len[split] < 1)
        return 0;
    return (ds->len[split] - 1) / (size_t)T;
}

int text_sequential_batch(const TextDataset *ds, int split, size_t first_window, int *ids, int *targets, int B,
                          int T, char *err, size_t errlen)
{
    if (check_batch_args(ds, split, B, T, err, errlen) != 0)
        return -1;
    size_t windows = text_sequential_windows(ds, split, T);
    int count = 0;
    for (size_t w = first_window; w < windows && count < B; w++, count++)
        copy_window(ds->tokens[split], w * (size_t)T, T, ids + (size_t)count * T, targets + (size_t)count * T);
    return count;
}

int text_dataset_batch(void *ctx, int split, uint64_t index, int *ids, int *targets, int B, int T, char *err,
                       size_t errlen)
{
    const TextDataset *ds = ctx;
    return text_batch(ds, split, ds->seed, index, ids, targets, B, T, err, errlen);
}
