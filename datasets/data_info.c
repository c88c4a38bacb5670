/* data_info: `subq data info NAME`: sizes, splits, checksums and source of one data set. */
#include <string.h>
#include <sys/stat.h>

#include "data.h"
#include "data_known.h"
#include "data_private.h"
#include "manifest.h"
#include "recall.h"

/* The manifest's files with their sizes, and the digest that names the whole entry. */
static void print_files(FILE *out, const char *dir)
{
    Manifest m;
    char err[256], path[DATAIO_PATH_LEN], digest[SHA256_HEX_LEN];
    if (manifest_read(dir, &m, err, sizeof err) != 0)
        return;
    int shown = m.count <= 8 ? m.count : 3; /* 233 speeches: the first few are enough */
    for (int i = 0; i < shown; i++) {
        struct stat st;
        long long size = dataio_join(path, sizeof path, dir, m.entries[i].name, err, sizeof err) == 0 &&
                                 stat(path, &st) == 0
                             ? (long long)st.st_size
                             : -1;
        fprintf(out, "  file     %-28s %11lld bytes  sha256 %s\n", m.entries[i].name, size, m.entries[i].sha256);
    }
    if (shown < m.count)
        fprintf(out, "  file     ... and %d more (all in %s/%s)\n", m.count - shown, dir, MANIFEST_FILE);
    manifest_digest(&m, digest);
    fprintf(out, "  digest   %s (sha256 of %s: %d file%s)\n", digest, MANIFEST_FILE, m.count, m.count == 1 ? "" : "s");
    manifest_free(&m);
}

static void print_cifar_split(FILE *out, const char *label, const CifarSet *set)
{
    int counts[CIFAR_CLASSES];
    cifar_class_counts(set, counts);
    fprintf(out, "  %-8s %d images:", label, set->n);
    for (int c = 0; c < CIFAR_CLASSES; c++)
        fprintf(out, " %s %d%s", cifar_class_name(c), counts[c], c + 1 < CIFAR_CLASSES ? "," : "\n");
}

static int info_cifar(const char *cache_dir, FILE *out, char *err, size_t errlen)
{
    CifarSet train, test;
    char dir[DATAIO_PATH_LEN];
    if (dataio_join(dir, sizeof dir, cache_dir, KNOWN_CIFAR_DIR, err, errlen) != 0 ||
        data_load_cifar(cache_dir, CIFAR_TRAIN, &train, err, errlen) != 0)
        return 1;
    if (data_load_cifar(cache_dir, CIFAR_TEST, &test, err, errlen) != 0) {
        cifar_free(&train);
        return 1;
    }
    CifarNorm used = cifar_norm_default(), measured = cifar_compute_norm(&train);
    fprintf(out, "cifar10: CIFAR-10 (Krizhevsky 2009), 32x32 RGB images in 10 classes\n"
                 "  cache    %s (every batch file verified against %s)\n  source   %s\n  origin   %s\n",
            dir, MANIFEST_FILE, train.source, train.origin);
    print_files(out, dir);
    print_cifar_split(out, "train", &train);
    print_cifar_split(out, "test", &test);
    fprintf(out, "  norm     mean (%.4f, %.4f, %.4f) std (%.3f, %.3f, %.3f) as safari; measured on this train set: "
                 "mean (%.4f, %.4f, %.4f) std (%.4f, %.4f, %.4f)\n",
            used.mean[0], used.mean[1], used.mean[2], used.std[0], used.std[1], used.std[2], measured.mean[0],
            measured.mean[1], measured.mean[2], measured.std[0], measured.std[1], measured.std[2]);
    cifar_free(&train);
    cifar_free(&test);
    return 0;
}

static void print_text_splits(FILE *out, const TextDataset *ds)
{
    for (int s = 0; s < TEXT_SPLITS; s++) {
        if (!ds->tokens[s] || ds->docs[s] == 0) {
            fprintf(out, "  %-8s none\n", text_split_name(s));
            continue;
        }
        char hex[SHA256_HEX_LEN];
        sha256_hex(ds->tokens[s], ds->len[s], hex);
        fprintf(out, "  %-8s %zu tokens (bytes) from %d document%s, sha256 %s\n", text_split_name(s), ds->len[s],
                ds->docs[s], ds->docs[s] == 1 ? "" : "s", hex);
    }
}

static int info_text(const char *name, const char *cache_dir, FILE *out, char *err, size_t errlen)
{
    TextDataset ds;
    char dir[DATAIO_PATH_LEN];
    if (data_load_text(name, cache_dir, &ds, err, errlen) != 0)
        return 1;
    int wiki = strncmp(name, "wikitext103", 11) == 0, sotu = strcmp(name, KNOWN_SOTU_DIR) == 0;
    const char *title = wiki   ? "WikiText-103 raw (Merity et al. 2016), from the folder named"
                        : sotu ? "State of the Union addresses 1790-2021, one file per speech; split by speech: "
                                 "every 10th to test, the next to validation"
                               : "tiny Shakespeare (char-rnn), split 90/10 by position";
    fprintf(out, "%s: %s; byte-level tokens, vocab %d\n", wiki ? "wikitext103" : name, title, TEXT_VOCAB);
    if (wiki) {
        fprintf(out, "  folder   %s (not cached: read where it is)\n", ds.source);
    } else {
        if (dataio_join(dir, sizeof dir, cache_dir, name, err, errlen) != 0) {
            text_free(&ds);
            return 1;
        }
        fprintf(out, "  cache    %s (verified against %s and the known checksum)\n  source   %s\n", dir,
                MANIFEST_FILE, ds.source);
        print_files(out, dir);
    }
    print_text_splits(out, &ds);
    text_free(&ds);
    return 0;
}

static int info_recall(FILE *out)
{
    RecallConfig cfg = {30, 16, 1, RECALL_TARGETS_ALL};
    int ids[64], targets[64], T = recall_example_len(&cfg);
    recall_example(&cfg, 0, 0, 0, ids, targets);
    fprintf(out, "recall: associative recall (Hyena paper, safari's generate_assoc_recall); generated, nothing to "
                 "fetch\n  tokens   vocab V: 0 no-op, keys 1..K, values K+1..V-2 (K = (V-2)/2), V-1 the query "
                 "marker\n  layout   k v k v ... k v  =>  q a [q a ...]  (seq_len/2 pairs, then the queries)\n"
                 "  example  V=%d seq_len=%d queries=%d seed 0, example 0, model input (T=%d):", cfg.vocab,
            cfg.seq_len, cfg.n_queries, T);
    for (int t = 0; t < T; t++)
        fprintf(out, " %d", ids[t]);
    fprintf(out, " -> answer %d\n", targets[T - 1]);
    return 0;
}

int data_info(const char *name, const char *cache_dir, FILE *out, char *err, size_t errlen)
{
    if (strcmp(name, KNOWN_CIFAR_DIR) == 0)
        return info_cifar(cache_dir, out, err, errlen);
    if (strcmp(name, KNOWN_SHAKESPEARE_DIR) == 0 || strcmp(name, KNOWN_SOTU_DIR) == 0 ||
        strncmp(name, "wikitext103", 11) == 0)
        return info_text(name, cache_dir, out, err, errlen);
    if (strcmp(name, "recall") == 0)
        return info_recall(out);
    snprintf(err, errlen, "%s: unknown data set (known: %s)", name, DATA_NAMES);
    return 2;
}
