#include "h5io.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataio.h"

#define H5IO_PATH_LEN 4096

struct H5File {
    hid_t id;
    int writable;
    DataioOutput out; /* for files being written: the temporary and where it goes */
};

/* HDF5 prints a stack of diagnostics for every failed call by default; our callers report one line. */
static void h5io_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static H5File *h5io_wrap(hid_t id, int writable)
{
    H5File *f = calloc(1, sizeof *f);
    if (!f) {
        H5Fclose(id);
        return NULL;
    }
    f->id = id;
    f->writable = writable;
    return f;
}

H5File *h5io_open_read(const char *path, char *err, size_t errlen)
{
    h5io_silence();
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: cannot read file", path);
        return NULL;
    }
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, errlen, "%s: not an HDF5 file", path);
        return NULL;
    }
    hid_t id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) {
        snprintf(err, errlen, "%s: cannot open as HDF5", path);
        return NULL;
    }
    H5File *f = h5io_wrap(id, 0);
    if (!f)
        snprintf(err, errlen, "%s: out of memory", path);
    return f;
}

H5File *h5io_create_atomic(const char *final_path, char *err, size_t errlen)
{
    h5io_silence();
    DataioOutput out;
    if (dataio_output_begin(&out, final_path, err, errlen) != 0)
        return NULL;
    hid_t id = H5Fcreate(out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) {
        snprintf(err, errlen, "%s: cannot create (does the directory exist and is it writable?)", final_path);
        dataio_output_abort(&out);
        return NULL;
    }
    H5File *f = h5io_wrap(id, 1);
    if (!f) {
        dataio_output_abort(&out);
        snprintf(err, errlen, "%s: out of memory", final_path);
        return NULL;
    }
    f->out = out;
    return f;
}

int h5io_commit(H5File *f, char *err, size_t errlen)
{
    int rc = 0;
    if (H5Fclose(f->id) < 0) {
        snprintf(err, errlen, "%s: cannot finish writing", f->out.dest);
        dataio_output_abort(&f->out);
        rc = -1;
    } else
        rc = dataio_output_commit(&f->out, err, errlen);
    free(f);
    return rc;
}

void h5io_abort(H5File *f)
{
    if (!f)
        return;
    H5Fclose(f->id);
    if (f->writable)
        dataio_output_abort(&f->out);
    free(f);
}

void h5io_close(H5File *f)
{
    if (!f)
        return;
    H5Fclose(f->id);
    free(f);
}

/* H5Lexists fails (rather than returning 0) when an intermediate group is missing, so walk the path. */
int h5io_exists(H5File *f, const char *path)
{
    if (strcmp(path, "/") == 0 || path[0] == '\0')
        return 1;
    char buf[H5IO_PATH_LEN];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + (buf[0] == '/'); ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (H5Lexists(f->id, buf, H5P_DEFAULT) <= 0)
                return 0;
            if (saved == '\0')
                return 1;
            *p = saved;
        }
    }
}

typedef struct ListState {
    char (*names)[128];
    int max, count;
    H5O_type_t type;
} ListState;

static herr_t list_one(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    ListState *st = data;
    H5O_info_t oinfo; /* HDF5 1.10 API (Debian 12) */
    if (H5Oget_info_by_name2(group, name, &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return -1;
    if (oinfo.type != st->type)
        return 0;
    if (st->count >= st->max)
        return 1;
    snprintf(st->names[st->count++], 128, "%s", name);
    return 0;
}

static int compare_names(const void *a, const void *b) { return strcmp(a, b); }

static int list_children(H5File *f, const char *group, H5O_type_t type, char (*names)[128], int max)
{
    if (!h5io_exists(f, group))
        return -1;
    hid_t g = H5Gopen2(f->id, group, H5P_DEFAULT);
    if (g < 0)
        return -1;
    ListState st = {names, max, 0, type};
    hsize_t idx = 0;
    herr_t rc = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, list_one, &st);
    H5Gclose(g);
    if (rc < 0)
        return -1;
    qsort(names, (size_t)st.count, sizeof names[0], compare_names);
    return st.count;
}

int h5io_list(H5File *f, const char *group, char (*names)[128], int max)
{
    return list_children(f, group, H5O_TYPE_DATASET, names, max);
}

int h5io_list_groups(H5File *f, const char *group, char (*names)[128], int max)
{
    return list_children(f, group, H5O_TYPE_GROUP, names, max);
}

typedef struct AttrState {
    char (*names)[128];
    int max, count;
} AttrState;

static herr_t attr_one(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    AttrState *st = data;
    if (st->count >= st->max)
        return 1;
    snprintf(st->names[st->count++], 128, "%s", name);
    return 0;
}

int h5io_list_attrs(H5File *f, const char *path, char (*names)[128], int max)
{
    if (!h5io_exists(f, path))
        return -1;
    hid_t obj = H5Oopen(f->id, path, H5P_DEFAULT);
    if (obj < 0)
        return -1;
    AttrState st = {names, max, 0};
    hsize_t idx = 0;
    herr_t rc = H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_one, &st);
    H5Oclose(obj);
    if (rc < 0)
        return -1;
    qsort(names, (size_t)st.count, sizeof names[0], compare_names);
    return st.count;
}

/* Opens a dataset and reads its shape; -1 with a message naming the path. */
static hid_t open_dataset(H5File *f, const char *path, int *ndim, int shape[H5IO_MAX_DIMS], size_t *numel,
                          char *err, size_t errlen)
{
    if (!h5io_exists(f, path)) {
        snprintf(err, errlen, "dataset /%s is missing", path);
        return -1;
    }
    hid_t ds = H5Dopen2(f->id, path, H5P_DEFAULT);
    if (ds < 0) {
        snprintf(err, errlen, "/%s is not a dataset", path);
        return -1;
    }
    hid_t space = H5Dget_space(ds);
    int nd = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (nd < 0 || nd > H5IO_MAX_DIMS || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        H5Sclose(space), H5Dclose(ds);
        snprintf(err, errlen, "/%s has %d dimensions (at most %d supported)", path, nd, H5IO_MAX_DIMS);
        return -1;
    }
    H5Sclose(space);
    *ndim = nd;
    *numel = 1;
    for (int d = 0; d < nd; d++) {
        if (dims[d] > (hsize_t)0x7fffffff) {
            H5Dclose(ds);
            snprintf(err, errlen, "/%s dimension %d is too large", path, d);
            return -1;
        }
        shape[d] = (int)dims[d];
        *numel *= dims[d];
    }
    return ds;
}

static int read_dataset(H5File *f, const char *path, hid_t memtype, H5T_class_t want_class, size_t elem,
                        void **data, int *ndim, int shape[H5IO_MAX_DIMS], size_t *numel, char *err, size_t errlen)
{
    hid_t ds = open_dataset(f, path, ndim, shape, numel, err, errlen);
    if (ds < 0)
        return -1;
    hid_t ftype = H5Dget_type(ds);
    H5T_class_t cls = H5Tget_class(ftype);
    H5Tclose(ftype);
    int ok_class = cls == want_class || (want_class == H5T_FLOAT && cls == H5T_INTEGER);
    if (!ok_class) {
        H5Dclose(ds);
        snprintf(err, errlen, "/%s has the wrong element type (expected %s)", path,
                 want_class == H5T_FLOAT ? "float" : "integer");
        return -1;
    }
    *data = malloc((*numel ? *numel : 1) * elem);
    if (!*data) {
        H5Dclose(ds);
        snprintf(err, errlen, "/%s: out of memory", path);
        return -1;
    }
    if (*numel && H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0) {
        free(*data);
        *data = NULL;
        H5Dclose(ds);
        snprintf(err, errlen, "/%s: read failed (corrupt file?)", path);
        return -1;
    }
    H5Dclose(ds);
    return 0;
}

int h5io_read_tensor(H5File *f, const char *path, H5Tensor *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    void *data = NULL;
    if (read_dataset(f, path, H5T_NATIVE_FLOAT, H5T_FLOAT, sizeof(float), &data, &out->ndim, out->shape, &out->numel,
                     err, errlen) != 0)
        return -1;
    out->data = data;
    return 0;
}

int h5io_read_ints(H5File *f, const char *path, int **data, int *ndim, int shape[H5IO_MAX_DIMS], char *err,
                   size_t errlen)
{
    size_t numel;
    void *buf = NULL;
    if (read_dataset(f, path, H5T_NATIVE_INT, H5T_INTEGER, sizeof(int), &buf, ndim, shape, &numel, err, errlen) != 0)
        return -1;
    *data = buf;
    return 0;
}

int h5io_read_doubles(H5File *f, const char *path, double **data, size_t *numel, char *err, size_t errlen)
{
    int ndim, shape[H5IO_MAX_DIMS];
    void *buf = NULL;
    if (read_dataset(f, path, H5T_NATIVE_DOUBLE, H5T_FLOAT, sizeof(double), &buf, &ndim, shape, numel, err,
                     errlen) != 0)
        return -1;
    *data = buf;
    return 0;
}

void h5io_tensor_free(H5Tensor *t)
{
    free(t->data);
    t->data = NULL;
}

/* Creates every missing group along path (a "/"-separated prefix), with time tracking off. */
static int ensure_groups(H5File *f, const char *path, char *err, size_t errlen)
{
    char buf[H5IO_PATH_LEN];
    snprintf(buf, sizeof buf, "%s", path);
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    int rc = 0;
    for (char *p = buf + (buf[0] == '/'); rc == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (buf[0] && H5Lexists(f->id, buf, H5P_DEFAULT) <= 0) {
            hid_t g = H5Gcreate2(f->id, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            if (g < 0) {
                snprintf(err, errlen, "cannot create group /%s", buf);
                rc = -1;
            } else {
                H5Gclose(g);
            }
        }
        if (saved == '\0')
            break;
        *p = saved;
    }
    H5Pclose(gcpl);
    return rc;
}

int h5io_group(H5File *f, const char *path, char *err, size_t errlen) { return ensure_groups(f, path, err, errlen); }

int h5io_copy(H5File *src, const char *src_path, H5File *dst, const char *dst_path, char *err, size_t errlen)
{
    if (!h5io_exists(src, src_path)) {
        snprintf(err, errlen, "cannot copy /%s: no such object", src_path);
        return -1;
    }
    if (h5io_exists(dst, dst_path)) {
        snprintf(err, errlen, "cannot copy to /%s: it exists", dst_path);
        return -1;
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    int rc = H5Ocopy(src->id, src_path, dst->id, dst_path, H5P_DEFAULT, lcpl) < 0 ? -1 : 0;
    H5Pclose(lcpl);
    if (rc != 0)
        snprintf(err, errlen, "cannot copy /%s to /%s", src_path, dst_path);
    return rc;
}

static int write_dataset(H5File *f, const char *path, hid_t filetype, hid_t memtype, const void *data, int ndim,
                         const int *shape, char *err, size_t errlen)
{
    char parent[H5IO_PATH_LEN];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        if (parent[0] && ensure_groups(f, parent, err, errlen) != 0)
            return -1;
    }
    hsize_t dims[H5IO_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        dims[d] = (hsize_t)shape[d];
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ds = H5Dcreate2(f->id, path, filetype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = 0;
    if (ds < 0 || H5Dwrite(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        snprintf(err, errlen, "cannot write dataset /%s", path);
        rc = -1;
    }
    if (ds >= 0)
        H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

int h5io_write_floats(H5File *f, const char *path, const float *data, int ndim, const int *shape, char *err,
                      size_t errlen)
{
    return write_dataset(f, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, ndim, shape, err, errlen);
}

int h5io_write_doubles(H5File *f, const char *path, const double *data, int ndim, const int *shape, char *err,
                       size_t errlen)
{
    return write_dataset(f, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data, ndim, shape, err, errlen);
}

int h5io_write_ints(H5File *f, const char *path, const int *data, int ndim, const int *shape, char *err,
                    size_t errlen)
{
    return write_dataset(f, path, H5T_STD_I32LE, H5T_NATIVE_INT, data, ndim, shape, err, errlen);
}

/* Writes (replacing) a scalar attribute of the given types on the object at path. */
static int write_attr(H5File *f, const char *path, const char *name, hid_t type, hid_t memtype, const void *value,
                      char *err, size_t errlen)
{
    if (!h5io_exists(f, path)) {
        snprintf(err, errlen, "cannot set attribute %s: no object /%s", name, path);
        return -1;
    }
    if (H5Aexists_by_name(f->id, path, name, H5P_DEFAULT) > 0)
        H5Adelete_by_name(f->id, path, name, H5P_DEFAULT);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate_by_name(f->id, path, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (attr < 0 || H5Awrite(attr, memtype, value) < 0) {
        snprintf(err, errlen, "cannot write attribute %s on /%s", name, path);
        rc = -1;
    }
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return rc;
}

int h5io_attr_str(H5File *f, const char *path, const char *name, const char *value, char *err, size_t errlen)
{
    /* Fixed-length UTF-8 strings: h5py returns them as bytes/str and h5dump prints them plainly. */
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    H5Tset_cset(type, H5T_CSET_UTF8);
    int rc = write_attr(f, path, name, type, type, value, err, errlen);
    H5Tclose(type);
    return rc;
}

int h5io_attr_double(H5File *f, const char *path, const char *name, double value, char *err, size_t errlen)
{
    return write_attr(f, path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, err, errlen);
}

int h5io_attr_int(H5File *f, const char *path, const char *name, long long value, char *err, size_t errlen)
{
    return write_attr(f, path, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value, err, errlen);
}

static hid_t open_attr(H5File *f, const char *path, const char *name)
{
    if (!h5io_exists(f, path) || H5Aexists_by_name(f->id, path, name, H5P_DEFAULT) <= 0)
        return -1;
    return H5Aopen_by_name(f->id, path, name, H5P_DEFAULT, H5P_DEFAULT);
}

/* Reads fixed or variable length string attributes (h5py writes variable length by default). */
int h5io_read_attr_str(H5File *f, const char *path, const char *name, char *out, size_t outlen)
{
    hid_t attr = open_attr(f, path, name);
    if (attr < 0)
        return -1;
    hid_t ftype = H5Aget_type(attr);
    int rc = -1;
    if (H5Tget_class(ftype) == H5T_STRING) {
        if (H5Tis_variable_str(ftype) > 0) {
            hid_t mtype = H5Tcopy(H5T_C_S1);
            H5Tset_size(mtype, H5T_VARIABLE);
            H5Tset_cset(mtype, H5Tget_cset(ftype));
            char *value = NULL;
            if (H5Aread(attr, mtype, &value) >= 0 && value) {
                snprintf(out, outlen, "%s", value);
                H5free_memory(value);
                rc = 0;
            }
            H5Tclose(mtype);
        } else {
            size_t size = H5Tget_size(ftype);
            char *buf = calloc(size + 1, 1);
            if (buf && H5Aread(attr, ftype, buf) >= 0) {
                snprintf(out, outlen, "%s", buf);
                rc = 0;
            }
            free(buf);
        }
    }
    H5Tclose(ftype);
    H5Aclose(attr);
    return rc;
}

int h5io_read_attr_double(H5File *f, const char *path, const char *name, double *out)
{
    hid_t attr = open_attr(f, path, name);
    if (attr < 0)
        return -1;
    hid_t ftype = H5Aget_type(attr);
    H5T_class_t cls = H5Tget_class(ftype);
    int rc = -1;
    if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && H5Aread(attr, H5T_NATIVE_DOUBLE, out) >= 0)
        rc = 0;
    H5Tclose(ftype);
    H5Aclose(attr);
    return rc;
}

double h5io_attr_num(H5File *f, const char *path, const char *name)
{
    double v = NAN;
    return h5io_read_attr_double(f, path, name, &v) == 0 ? v : NAN;
}
