/* manifest: the two small files that make a cache directory trustworthy.
 *  - MANIFEST.sha256: "<sha256>  <name>" per file, sorted by name (the format of `sha256sum`, so
 *    `cd DIR && sha256sum -c MANIFEST.sha256` checks it without project code). The sha256 of this text is the
 *    directory's digest: one number that names a whole corpus of files (used for SOTU's 233 speeches).
 *  - SOURCE: "source: <kind>" and "origin: <where from, with its checksum>" lines: which source was used.
 * Written last when a cache directory is built, so a directory without them is incomplete. */
#ifndef SUBQ_MANIFEST_H
#define SUBQ_MANIFEST_H

#include <stddef.h>

#include "sha256.h"

#define MANIFEST_FILE "MANIFEST.sha256"
#define MANIFEST_SOURCE_FILE "SOURCE"
#define MANIFEST_MAX_ENTRIES 4096
#define MANIFEST_NAME_LEN 256

typedef struct ManifestEntry {
    char name[MANIFEST_NAME_LEN];
    char sha256[SHA256_HEX_LEN];
} ManifestEntry;

typedef struct Manifest {
    int count;
    ManifestEntry *entries; /* sorted by name */
} Manifest;

/* Parses the text of a manifest (path names it in messages); -1 naming the line that is not "<sha256>  <name>"
 * (lower-case hex, two spaces, a name without '/') in strictly increasing name order. */
int manifest_parse(const char *text, size_t len, const char *path, Manifest *out, char *err, size_t errlen);
/* The exact text of the file, NUL-terminated (malloc'd; NULL when out of memory). */
char *manifest_format(const Manifest *m, size_t *len);
/* The "source:" and "origin:" values of a SOURCE text (NUL-terminated); they keep their defaults when absent. */
void manifest_parse_source(const char *text, char *source, size_t source_len, char *origin, size_t origin_len);

/* Hashes dir/names[i] for every i and writes dir/MANIFEST.sha256 (names sorted in the file). */
int manifest_create(const char *dir, char *const names[], int count, Manifest *out, char *err, size_t errlen);
/* Reads dir/MANIFEST.sha256; -1 naming the file and line on a malformed one. A missing file: returns 1. */
int manifest_read(const char *dir, Manifest *out, char *err, size_t errlen);
void manifest_free(Manifest *m);
/* The sha256 recorded for name, or NULL. */
const char *manifest_lookup(const Manifest *m, const char *name);
/* Re-hashes every listed file; -1 naming the first missing or mismatching one, or an entry of dir that is not
 * listed (the manifest covers the whole directory: an extra file would be loaded with the corpus). */
int manifest_verify(const char *dir, const Manifest *m, char *err, size_t errlen);
/* sha256 of the manifest text as written to the file. */
void manifest_digest(const Manifest *m, char hex[SHA256_HEX_LEN]);

/* SOURCE: writes / reads the two lines. Reading a missing file gives source "unknown", origin "". */
int manifest_write_source(const char *dir, const char *source, const char *origin, char *err, size_t errlen);
void manifest_read_source(const char *dir, char *source, size_t source_len, char *origin, size_t origin_len);

#endif
