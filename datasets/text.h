/* text: byte-level language-modelling corpora (vocabulary 256: a token is a byte of the UTF-8 text) with
 * deterministic train/validation/test splits, and batches of contiguous windows.
 *
 *  - tiny Shakespeare: the first 90% of the bytes train, the last 10% validate (the char-level nanoGPT / char-rnn
 *    setup: n_train = floor(0.9 n)); no test split.
 *  - State of the Union: one file per speech, sorted by name (chronological: YYYY_name_party.txt); speech i
 *    (0-based) goes to test when i % 10 == 9 (every 10th speech), to validation when i % 10 == 0 and i > 0 (the
 *    speech after it), else to train. A split is its speeches concatenated in order.
 *  - WikiText-103 (or WikiText-2) raw: wiki.train.raw, wiki.valid.raw, wiki.test.raw from a directory the user
 *    names, used as they are.
 *
 * Every file is checked: it must be non-empty, free of NUL bytes, valid UTF-8, and not mostly control bytes;
 * errors name the file and the problem (with the byte offset). */
#ifndef SUBQ_TEXT_H
#define SUBQ_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_VOCAB 256
#define TEXT_NAME_LEN 64
#define TEXT_SOURCE_LEN 512

typedef enum TextSplit { TEXT_TRAIN = 0, TEXT_VALID = 1, TEXT_TEST = 2, TEXT_SPLITS = 3 } TextSplit;

typedef struct TextDataset {
    char name[TEXT_NAME_LEN];
    uint8_t *tokens[TEXT_SPLITS]; /* owned; byte values are the token ids; NULL for an absent split */
    size_t len[TEXT_SPLITS];      /* tokens per split */
    int docs[TEXT_SPLITS];        /* files or speeches per split */
    char source[TEXT_SOURCE_LEN]; /* which source was used (the cache's SOURCE file), or the path read */
    uint64_t seed;                /* used by text_dataset_batch */
} TextDataset;

const char *text_split_name(int split); /* "train", "valid", "test" */

/* 0 if data[0, len) is acceptable text; else -1 with "NAME: reason". */
int text_check(const uint8_t *data, size_t len, const char *name, char *err, size_t errlen);

/* Builds the 90/10 split of one text (copied; data is not kept). */
int text_from_buffer_90_10(const uint8_t *data, size_t len, const char *name, TextDataset *out, char *err,
                           size_t errlen);
/* Builds the by-speech split of count documents (copied). */
int text_from_documents(const uint8_t *const docs[], const size_t lens[], const char *const names[], int count,
                        const char *name, TextDataset *out, char *err, size_t errlen);

int text_load_shakespeare(const char *path, TextDataset *out, char *err, size_t errlen);
/* dir: the folder of YYYY_*.txt speeches. */
int text_load_sotu(const char *dir, TextDataset *out, char *err, size_t errlen);
/* dir: the folder with wiki.train.raw, wiki.valid.raw, wiki.test.raw. */
int text_load_wikitext(const char *dir, TextDataset *out, char *err, size_t errlen);
void text_free(TextDataset *ds);

/* ids, targets (B, T): B windows of T + 1 contiguous tokens of the split, ids = window[0, T),
 * targets = window[1, T] (the next token). Window starts are uniform over the split, drawn from
 * (seed, split, index): batch `index` is a pure function of them. -1 if the split has fewer than T + 1 tokens. */
int text_batch(const TextDataset *ds, int split, uint64_t seed, uint64_t index, int *ids, int *targets, int B,
               int T, char *err, size_t errlen);
/* Evaluation over the whole split: windows first_window, first_window + 1, ... at offsets w * T (non-overlapping,
 * in order). Returns how many windows were written (< B at the end, 0 past it); -1 on bad arguments. */
int text_sequential_batch(const TextDataset *ds, int split, size_t first_window, int *ids, int *targets, int B,
                          int T, char *err, size_t errlen);
/* Number of windows text_sequential_batch yields for the split. */
size_t text_sequential_windows(const TextDataset *ds, int split, int T);

/* The training loop's data callback (bench/train/train.h TrainData.batch): ctx is a TextDataset, split 0 train,
 * 1 validation, 2 test, random windows seeded with ds->seed. */
int text_dataset_batch(void *ctx, int split, uint64_t index, int *ids, int *targets, int B, int T, char *err,
                       size_t errlen);

#endif
