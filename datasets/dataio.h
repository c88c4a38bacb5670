/* dataio: the file-system plumbing the loaders, the fetch step and every output share (whole-file reads with a
 * size cap, safe atomic output files, sorted directory listings, recursive create/remove, running an external tool) and the seed
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
/* An output file in the making (docs/DESIGN.md section 9). Every output is written to a temporary file beside
 * its destination and only then put in place, so a reader never sees half a file. What is already at the
 * destination decides how:
 *   - nothing, or a regular file: the temporary is fsync'ed and renamed over it;
 *   - a symbolic link: it is followed, and its target is replaced (the link stays);
 *   - a character device (/dev/null, a terminal): the finished file is written through into it, never
 *     renamed over it (the device stays a device);
 *   - anything else (a directory, FIFO, socket or block device): refused with a one-line error.
 * The temporary is "<dir>/.subq-<pid>-<n>.tmp", whatever the destination's name, so a long name cannot push it
 * past the file-name limit. begin removes such temporaries of dead processes from the same directory, and
 * SIGINT, SIGTERM or SIGHUP remove the process's own before it ends (the one documented global state of this
 * module: the table of temporaries in the making). */
typedef struct DataioOutput {
    char dest[DATAIO_PATH_LEN]; /* where the bytes end up: the path, or the target of the link at it */
    char tmp[DATAIO_PATH_LEN];  /* write here */
    int through;                /* 1: dest is a character device, written through */
    int slot;                   /* its entry in the signal-cleanup table, -1 if none */
} DataioOutput;
int dataio_output_begin(DataioOutput *o, const char *path, char *err, size_t errlen);
/* Puts the finished temporary in place (fsync, then rename or write-through); removes it on failure. */
int dataio_output_commit(DataioOutput *o, char *err, size_t errlen);
/* Removes the temporary (an abandoned output). */
void dataio_output_abort(DataioOutput *o);

/* Writes data to path as an output file (dataio_output_begin / commit), so a crash never leaves a partial
 * file and a device or directory at path is never replaced. */
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
