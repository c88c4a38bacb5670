/* h5io: the only code that touches HDF5 (results, operator runner files, checkpoints, golden vectors).
 * Files are written as output files (dataio.h): created under a temporary name beside the final one and put in
 * place by h5io_commit (renamed; written through into a character device such as /dev/null; a directory, FIFO
 * or socket at the final name is refused); h5io_abort (or a crash) never leaves a file under the final name. Datasets are created with
 * object time tracking off so identical content gives identical bytes. Paths like "params/fc1.weight"
 * create intermediate groups; a dataset name may contain dots. Errors: -1 / NULL with a one-line message. */
#ifndef SUBQ_H5IO_H
#define SUBQ_H5IO_H

#include <stddef.h>

#define H5IO_MAX_DIMS 4

typedef struct H5File H5File;

typedef struct H5Tensor {
    float *data; /* owned; free with h5io_tensor_free */
    int ndim;
    int shape[H5IO_MAX_DIMS];
    size_t numel;
} H5Tensor;

H5File *h5io_open_read(const char *path, char *err, size_t errlen);
H5File *h5io_create_atomic(const char *final_path, char *err, size_t errlen);
int h5io_commit(H5File *f, char *err, size_t errlen); /* closes, renames; frees f */
void h5io_abort(H5File *f);                           /* closes, removes the temporary; frees f */
void h5io_close(H5File *f);                           /* for files opened with h5io_open_read */

int h5io_exists(H5File *f, const char *path); /* 1 if a dataset or group exists at path */
/* Names (not paths) of the datasets directly under group, sorted; returns the count or -1. At most max. */
int h5io_list(H5File *f, const char *group, char (*names)[128], int max);

/* Names of the groups directly under group, sorted; count or -1. */
int h5io_list_groups(H5File *f, const char *group, char (*names)[128], int max);
/* Names of the attributes of the object at path, sorted; count or -1. */
int h5io_list_attrs(H5File *f, const char *path, char (*names)[128], int max);

/* Reads a float32 dataset (any stored float type is converted). */
int h5io_read_tensor(H5File *f, const char *path, H5Tensor *out, char *err, size_t errlen);
/* Reads a float dataset of any shape as doubles (the values exactly as stored, for float64); free(*data). */
int h5io_read_doubles(H5File *f, const char *path, double **data, size_t *numel, char *err, size_t errlen);
/* Reads an integer dataset into int32. */
int h5io_read_ints(H5File *f, const char *path, int **data, int *ndim, int shape[H5IO_MAX_DIMS], char *err,
                   size_t errlen);
void h5io_tensor_free(H5Tensor *t);

int h5io_write_floats(H5File *f, const char *path, const float *data, int ndim, const int *shape, char *err,
                      size_t errlen);
int h5io_write_doubles(H5File *f, const char *path, const double *data, int ndim, const int *shape, char *err,
                       size_t errlen);
int h5io_write_ints(H5File *f, const char *path, const int *data, int ndim, const int *shape, char *err,
                    size_t errlen);

/* Copies the group or dataset src_path of src (its attributes and everything under it) to dst_path of dst,
 * creating dst_path's parents; -1 if dst_path exists. */
int h5io_copy(H5File *src, const char *src_path, H5File *dst, const char *dst_path, char *err, size_t errlen);

/* Attributes on the object at path ("/" for the root); the object must exist (groups: see h5io_group). */
int h5io_group(H5File *f, const char *path, char *err, size_t errlen); /* creates it and its parents */
int h5io_attr_str(H5File *f, const char *path, const char *name, const char *value, char *err, size_t errlen);
int h5io_attr_double(H5File *f, const char *path, const char *name, double value, char *err, size_t errlen);
int h5io_attr_int(H5File *f, const char *path, const char *name, long long value, char *err, size_t errlen);
/* Reads a string attribute into out (truncated to outlen); -1 if absent. */
int h5io_read_attr_str(H5File *f, const char *path, const char *name, char *out, size_t outlen);
int h5io_read_attr_double(H5File *f, const char *path, const char *name, double *out);
/* The attribute, or NaN when it is absent (the report's cells print NaN as "-" or skip it). */
double h5io_attr_num(H5File *f, const char *path, const char *name);

#endif
