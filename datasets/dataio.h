/* dataio: the file-system plumbing the loaders and the fetch step share (whole-file reads with a size cap,
 * atomic writes, sorted directory listings, recursive create/remove, running an external tool) and the seed
 * mixing that makes every batch a pure function of (seed, split, index).
 * Errors: -1 with "PATH: reason" in err. */
#ifndef SUBQ_DATAIO_H
#define SUBQ_DATAIO_H

#include <stddef.h>
#include <stdint.h>

#define DATAIO_PATH_LEN 4096

/* Reads the whole file into *data (malloc'd, one extra NUL byte so text can be searched safely).
 * Files larger than max_bytes are refused rather than read. */
int dataio_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, char *err, size_t errlen);
/* Writes under "<path>.tmp.<pid>" and renames onto path, so a crash never leaves a partial file. */
int dataio_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* 1 if path is an existing directory / regular file, else 0. */
int dataio_is_dir(const char *path);
int dataio_is_file(const char *path);
/* mkdir -p. */
int dataio_make_dirs(const char *path, char *err, size_t errlen);
/* rm -r (does not follow symbolic links); a missing path is not an error. */
int dataio_remove_tree(const char *path, char *err, size_t errlen);

/* Entries of dir, sorted bytewise (the C locale, so results do not depend on the user's locale), without
 * "." and "..". want: DATAIO_LIST_DIRS, DATAIO_LIST_FILES; suffix (e.g. ".jpg", NULL for any) filters files. */
enum { DATAIO_LIST_FILES = 1, DATAIO_LIST_DIRS = 2 };
int dataio_list_dir(const char *dir, int want, const char *suffix, char ***names, int *count, char *err,
                    size_t errlen);
void dataio_free_list(char **names, int count);

/* out = a "/" b; -1 (err set) if it does not fit. */
int dataio_join(char *out, size_t outlen, const char *a, const char *b, char *err, size_t errlen);

/* Runs argv (searched on PATH) in directory cwd (NULL: the current one) with stdout discarded; returns its
 * exit status (0 success), or -1 if it could not be started. On failure err gets the tool's last stderr line. */
int dataio_run(const char *const argv[], const char *cwd, char *err, size_t errlen);

/* A well-mixed 64-bit seed for stream (seed, a, b): distinct streams for each split and batch index. */
uint64_t dataio_mix_seed(uint64_t seed, uint64_t a, uint64_t b);

#endif
