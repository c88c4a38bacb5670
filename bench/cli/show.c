#include "show.h"

#include <stdlib.h>
#include <string.h>

#include "h5io.h"

#define MAX_ITEMS 256
#define MAX_COLUMNS 24

/* Prints every attribute of the object at path as "name = value", indented. */
static void print_attrs(H5File *f, const char *path, FILE *out, const char *indent)
{
    char (*names)[128] = malloc(sizeof(*names) * MAX_ITEMS);
    if (!names)
        return;
    int n = h5io_list_attrs(f, path, names, MAX_ITEMS);
    for (int i = 0; i < n; i++) {
        char text[512];
        double v;
        if (h5io_read_attr_str(f, path, names[i], text, sizeof text) == 0)
            fprintf(out, "%s%-44s %s\n", indent, names[i], text);
        else if (h5io_read_attr_double(f, path, names[i], &v) == 0)
            fprintf(out, "%s%-44s %.6g\n", indent, names[i], v);
    }
    free(names);
}

/* A run's 1-D series, read side by side. */
typedef struct SeriesTable {
    char names[MAX_COLUMNS][128];
    H5Tensor cols[MAX_COLUMNS];
    int used, rows;
} SeriesTable;

static void table_read(H5File *f, const char *run_path, SeriesTable *t)
{
    char path[512], err[256];
    int n = h5io_list(f, run_path, t->names, MAX_COLUMNS);
    t->used = t->rows = 0;
    for (int c = 0; c < n; c++) {
        snprintf(path, sizeof path, "%.256s/%.127s", run_path, t->names[c]);
        H5Tensor *col = &t->cols[t->used];
        if (h5io_read_tensor(f, path, col, err, sizeof err) == 0 && col->ndim == 1) {
            t->rows = (int)col->numel > t->rows ? (int)col->numel : t->rows;
            if (t->used != c)
                memcpy(t->names[t->used], t->names[c], sizeof t->names[0]);
            t->used++;
        } else if (col->data) {
            h5io_tensor_free(col);
        }
    }
}

static void table_free(SeriesTable *t)
{
    for (int c = 0; c < t->used; c++)
        h5io_tensor_free(&t->cols[c]);
}

/* Rows of the table; "NaN" pads a shorter series (gnuplot skips it). */
static void table_print(const SeriesTable *t, FILE *out, const char *indent, int full_names)
{
    fprintf(out, "%s", indent);
    for (int c = 0; c < t->used; c++)
        if (full_names)
            fprintf(out, "%s%s", c ? " " : "", t->names[c]);
        else
            fprintf(out, "%12.12s ", t->names[c]);
    fprintf(out, "\n");
    for (int r = 0; r < t->rows; r++) {
        fprintf(out, "%s", full_names ? "" : indent);
        for (int c = 0; c < t->used; c++) {
            if ((size_t)r < t->cols[c].numel)
                fprintf(out, full_names ? "%s%.9g" : "%s%12.5g ", full_names && c ? " " : "",
                        (double)t->cols[c].data[r]);
            else
                fprintf(out, full_names ? "%sNaN" : "%s%12s ", full_names && c ? " " : "", "");
        }
        fprintf(out, "\n");
    }
}

/* Prints the run's 1-D series side by side (rows = points), at most MAX_COLUMNS of them. */
static void print_series(H5File *f, const char *run_path, FILE *out)
{
    SeriesTable *t = malloc(sizeof *t);
    if (!t)
        return;
    table_read(f, run_path, t);
    if (t->used > 0) {
        fprintf(out, "    series:\n");
        table_print(t, out, "      ", 0);
    }
    table_free(t);
    free(t);
}

int show_results(const char *path, FILE *out, char *err, size_t errlen)
{
    H5File *f = h5io_open_read(path, err, errlen);
    if (!f)
        return -1;
    fprintf(out, "%s\n", path);
    print_attrs(f, "/", out, "  ");
    char (*runs)[128] = malloc(sizeof(*runs) * MAX_ITEMS);
    if (!runs) {
        h5io_close(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int n = h5io_exists(f, "runs") ? h5io_list_groups(f, "runs", runs, MAX_ITEMS) : 0;
    for (int i = 0; i < n; i++) {
        char run_path[256];
        snprintf(run_path, sizeof run_path, "runs/%.120s", runs[i]);
        fprintf(out, "\n  run %s\n", runs[i]);
        print_attrs(f, run_path, out, "    ");
        print_series(f, run_path, out);
    }
    free(runs);
    h5io_close(f);
    return 0;
}

static int export_run(H5File *f, const char *run, const char *outdir, char *err, size_t errlen)
{
    char run_path[256], file[1024];
    snprintf(run_path, sizeof run_path, "runs/%.120s", run);
    snprintf(file, sizeof file, "%s/%s.dat", outdir, run);
    SeriesTable *t = malloc(sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    table_read(f, run_path, t);
    int rc = 0;
    if (t->used > 0) {
        FILE *out = fopen(file, "w");
        if (!out) {
            snprintf(err, errlen, "cannot write %s", file);
            rc = -1;
        } else {
            table_print(t, out, "", 1); /* header row without "#": gnuplot reads it as column names */
            rc = fclose(out) == 0 ? 1 : -1;
        }
    }
    table_free(t);
    free(t);
    return rc;
}

int show_export(const char *path, const char *outdir, char *err, size_t errlen)
{
    H5File *f = h5io_open_read(path, err, errlen);
    if (!f)
        return -1;
    char (*runs)[128] = malloc(sizeof(*runs) * MAX_ITEMS);
    int n = runs && h5io_exists(f, "runs") ? h5io_list_groups(f, "runs", runs, MAX_ITEMS) : 0, files = 0;
    for (int i = 0; i < n && files >= 0; i++) {
        int rc = export_run(f, runs[i], outdir, err, errlen);
        files = rc < 0 ? -1 : files + rc;
    }
    free(runs);
    h5io_close(f);
    return files;
}
