#include "results.h"

#include <fftw3.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"
#include "fft.h"
#include "gemm.h"

#ifndef SUBQ_BUILD_FLAGS
#define SUBQ_BUILD_FLAGS "unknown"
#endif

/* Runs a shell command and keeps the first line of its output; "" on failure. */
static void first_line_of(const char *command, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *p = popen(command, "r");
    if (!p)
        return;
    if (fgets(out, (int)outlen, p))
        out[strcspn(out, "\n")] = '\0';
    else
        out[0] = '\0';
    pclose(p);
}

void results_git_commit(char *out, size_t outlen, int *dirty)
{
    first_line_of("git rev-parse HEAD 2>/dev/null", out, outlen);
    if (!out[0])
        snprintf(out, outlen, "unknown");
    char status[256];
    first_line_of("git status --porcelain --untracked-files=no 2>/dev/null | head -1", status, sizeof status);
    *dirty = status[0] != '\0';
}

void results_cpu_model(char *out, size_t outlen)
{
    snprintf(out, outlen, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += 1 + (colon[1] == ' ');
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, outlen, "%s", colon);
            break;
        }
    }
    fclose(f);
}

double results_load_average(void)
{
    double load = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1.0;
        fclose(f);
    }
    return load;
}

void results_utc_now(char *out, size_t outlen)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void record(Results *r, int rc, const char *err)
{
    if (rc != 0 && !r->failed) {
        r->failed = 1;
        snprintf(r->err, sizeof r->err, "%s", err);
    }
}

void results_root_str(Results *r, const char *name, const char *value)
{
    if (r->failed)
        return;
    char err[256];
    record(r, h5io_attr_str(r->file, "/", name, value, err, sizeof err), err);
}

void results_root_metric(Results *r, const char *name, double value)
{
    if (r->failed)
        return;
    char err[256];
    record(r, h5io_attr_double(r->file, "/", name, value, err, sizeof err), err);
}

static void write_provenance(Results *r, const ResultsMeta *meta)
{
    char text[512], err[256];
    int dirty;
    results_root_str(r, "experiment", meta->experiment);
    results_root_str(r, "profile", meta->profile);
    record(r, h5io_attr_int(r->file, "/", "seed", (long long)meta->seed, err, sizeof err), err);
    record(r, h5io_attr_int(r->file, "/", "threads", meta->threads, err, sizeof err), err);
    record(r, h5io_attr_int(r->file, "/", "cores", sysconf(_SC_NPROCESSORS_ONLN), err, sizeof err), err);
    results_git_commit(text, sizeof text, &dirty);
    results_root_str(r, "git_commit", text);
    record(r, h5io_attr_int(r->file, "/", "git_dirty", dirty, err, sizeof err), err);
    results_utc_now(text, sizeof text);
    results_root_str(r, "date_utc", text);
    results_cpu_model(text, sizeof text);
    results_root_str(r, "cpu_model", text);
    results_root_str(r, "compiler", "gcc " __VERSION__);
    results_root_str(r, "compiler_flags", SUBQ_BUILD_FLAGS);
    results_root_str(r, "fftw_version", fftwf_version);
    results_root_str(r, "fftw_planner", fft_planner());
    results_root_str(r, "openblas_config", gemm_blas_config());
    results_root_str(r, "mpi_library", comm_library_version(text, sizeof text));
    record(r, h5io_attr_int(r->file, "/", "mpi_world_size", comm_size(), err, sizeof err), err);
    unsigned major, minor, release;
    H5get_libversion(&major, &minor, &release);
    snprintf(text, sizeof text, "%u.%u.%u", major, minor, release);
    results_root_str(r, "hdf5_version", text);
    results_root_metric(r, "load_average_1min_at_start", results_load_average());
}

int results_create(Results *r, const char *path, const ResultsMeta *meta, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->file = h5io_create_atomic(path, err, errlen);
    if (!r->file)
        return -1;
    write_provenance(r, meta);
    if (r->failed) {
        snprintf(err, errlen, "%s: %s", path, r->err);
        results_abort(r);
        return -1;
    }
    return 0;
}

static void run_path(char *out, size_t outlen, const char *run, const char *name)
{
    snprintf(out, outlen, "runs/%s%s%s", run, name ? "/" : "", name ? name : "");
}

void results_run(Results *r, const char *run, const char *config)
{
    if (r->failed)
        return;
    char path[512], err[256];
    run_path(path, sizeof path, run, NULL);
    record(r, h5io_group(r->file, path, err, sizeof err), err);
    if (!r->failed)
        record(r, h5io_attr_str(r->file, path, "config", config, err, sizeof err), err);
}

void results_metric(Results *r, const char *run, const char *name, double value)
{
    if (r->failed)
        return;
    char path[512], err[256];
    run_path(path, sizeof path, run, NULL);
    record(r, h5io_attr_double(r->file, path, name, value, err, sizeof err), err);
}

void results_metric_str(Results *r, const char *run, const char *name, const char *value)
{
    if (r->failed)
        return;
    char path[512], err[256];
    run_path(path, sizeof path, run, NULL);
    record(r, h5io_attr_str(r->file, path, name, value, err, sizeof err), err);
}

void results_series(Results *r, const char *run, const char *name, const double *values, int n)
{
    if (r->failed)
        return;
    char path[512], err[256];
    run_path(path, sizeof path, run, name);
    int shape[1] = {n};
    record(r, h5io_write_doubles(r->file, path, values, 1, shape, err, sizeof err), err);
}

void results_root_series(Results *r, const char *name, const double *values, int n)
{
    if (r->failed)
        return;
    char err[256];
    int shape[1] = {n};
    record(r, h5io_write_doubles(r->file, name, values, 1, shape, err, sizeof err), err);
}

void results_matrix(Results *r, const char *run, const char *name, const float *values, int rows, int cols)
{
    if (r->failed)
        return;
    char path[512], err[256];
    run_path(path, sizeof path, run, name);
    int shape[2] = {rows, cols};
    record(r, h5io_write_floats(r->file, path, values, 2, shape, err, sizeof err), err);
}

int results_commit(Results *r, char *err, size_t errlen)
{
    if (r->failed) {
        snprintf(err, errlen, "%s: %s (file not written)", r->path, r->err);
        results_abort(r);
        return -1;
    }
    int rc = h5io_commit(r->file, err, errlen);
    r->file = NULL;
    return rc;
}

void results_abort(Results *r)
{
    h5io_abort(r->file);
    r->file = NULL;
}
