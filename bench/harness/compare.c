#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h5io.h"

#define MAX_NAMES 256
#define DEFAULT_SUFFIX "_calibration_ratio"

typedef struct CompareCtx {
    H5File *base[COMPARE_MAX_NEW], *next[COMPARE_MAX_NEW];
    int n_base, n_next;
    double threshold;
    const char *suffix; /* the metrics compared: names ending so */
    FILE *out;
    int compared, regressions;
} CompareCtx;

static int has_suffix(const CompareCtx *c, const char *s)
{
    size_t n = strlen(s), k = strlen(c->suffix);
    return n > k && strcmp(s + n - k, c->suffix) == 0;
}

static void report(CompareCtx *c, const char *run, const char *metric, int point, double a, double b)
{
    double change = b / a - 1.0;
    int slow = change > c->threshold;
    c->compared++;
    c->regressions += slow;
    char where[192];
    if (point >= 0)
        snprintf(where, sizeof where, "%.80s/%.80s[%d]", run, metric, point);
    else
        snprintf(where, sizeof where, "%.80s/%.80s", run, metric);
    fprintf(c->out, "%-70.70s %10.4g %10.4g %+7.1f%%%s\n", where, a, b, 100.0 * change,
            slow ? "  SLOWER" : (change < -c->threshold ? "  faster" : ""));
}

/* The fastest of a set of measurements of one attribute (the smallest ratio); -1 when none has it. */
static int best_attr(H5File *const *files, int n_files, const char *run_path, const char *name, double *best)
{
    int found = 0;
    for (int k = 0; k < n_files; k++) {
        double v;
        if (h5io_read_attr_double(files[k], run_path, name, &v) == 0 && (!found || v < *best))
            *best = v, found = 1;
    }
    return found ? 0 : -1;
}

static void compare_attrs(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list_attrs(c->base[0], run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        double a = 0.0, b = 0.0;
        if (has_suffix(c, names[i]) && best_attr(c->base, c->n_base, run_path, names[i], &a) == 0 &&
            best_attr(c->next, c->n_next, run_path, names[i], &b) == 0 && a > 0)
            report(c, run, names[i], -1, a, b);
    }
}

/* Point by point, the fastest of a set of measurements of one series, over the points all of them have;
 * returns the number of points (0 when no file has the series; *best is then NULL). */
static size_t best_series(H5File *const *files, int n_files, const char *path, double **best)
{
    size_t points = 0;
    int found = 0;
    char err[256];
    *best = NULL;
    for (int k = 0; k < n_files; k++) {
        H5Tensor t;
        if (h5io_read_tensor(files[k], path, &t, err, sizeof err) != 0)
            continue;
        if (!found && !(*best = malloc(sizeof(double) * (t.numel ? t.numel : 1)))) {
            h5io_tensor_free(&t);
            return 0;
        }
        points = found && points < t.numel ? points : t.numel;
        for (size_t p = 0; p < points; p++)
            (*best)[p] = found && (*best)[p] < t.data[p] ? (*best)[p] : t.data[p];
        found = 1;
        h5io_tensor_free(&t);
    }
    return points;
}

static void compare_series(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list(c->base[0], run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        if (!has_suffix(c, names[i]))
            continue;
        char path[512];
        snprintf(path, sizeof path, "%.256s/%.127s", run_path, names[i]);
        double *a, *b;
        size_t na = best_series(c->base, c->n_base, path, &a), nb = best_series(c->next, c->n_next, path, &b);
        for (size_t p = 0; p < na && p < nb; p++)
            if (a[p] > 0)
                report(c, run, names[i], (int)p, a[p], b[p]);
        free(a);
        free(b);
    }
}

/* A run is compared when at least one new file has it. */
static int any_new_has(const CompareCtx *c, const char *run_path)
{
    for (int k = 0; k < c->n_next; k++)
        if (h5io_exists(c->next[k], run_path))
            return 1;
    return 0;
}

static void close_all(CompareCtx *c)
{
    for (int k = 0; k < c->n_base; k++)
        h5io_close(c->base[k]);
    for (int k = 0; k < c->n_next; k++)
        h5io_close(c->next[k]);
}

int compare_results(const char *const *base_paths, int n_base, const char *const *new_paths, int n_new,
                    double threshold, const char *metric_suffix, FILE *out, char *err, size_t errlen)
{
    if (n_new < 1 || n_new > COMPARE_MAX_NEW || n_base < 1 || n_base > COMPARE_MAX_NEW) {
        snprintf(err, errlen, "compare: between 1 and %d base and new results files (got %d and %d)",
                 COMPARE_MAX_NEW, n_base, n_new);
        return -1;
    }
    CompareCtx c = {.threshold = threshold, .suffix = metric_suffix ? metric_suffix : DEFAULT_SUFFIX, .out = out};
    for (; c.n_base < n_base; c.n_base++)
        if (!(c.base[c.n_base] = h5io_open_read(base_paths[c.n_base], err, errlen))) {
            close_all(&c);
            return -1;
        }
    for (; c.n_next < n_new; c.n_next++)
        if (!(c.next[c.n_next] = h5io_open_read(new_paths[c.n_next], err, errlen))) {
            close_all(&c);
            return -1;
        }
    char (*runs)[128] = malloc(sizeof(*runs) * MAX_NAMES), (*names)[128] = malloc(sizeof(*names) * MAX_NAMES);
    if (!runs || !names) {
        snprintf(err, errlen, "out of memory");
        close_all(&c), free(runs), free(names);
        return -1;
    }
    fprintf(out, "%-70s %10s %10s %8s\n", metric_suffix ? "run/metric" : "run/metric (time / calibration sgemm)",
            n_base > 1 ? "base (best)" : "base",
            n_new > 1 ? "new (best)" : "new", "change");
    int n = h5io_exists(c.base[0], "runs") ? h5io_list_groups(c.base[0], "runs", runs, MAX_NAMES) : 0;
    for (int r = 0; r < n; r++) {
        char run_path[256];
        snprintf(run_path, sizeof run_path, "runs/%.120s", runs[r]);
        if (!any_new_has(&c, run_path))
            continue;
        compare_attrs(&c, run_path, runs[r], names);
        compare_series(&c, run_path, runs[r], names);
    }
    fprintf(out, "%d comparisons, %d slower than %+.0f%%", c.compared, c.regressions, 100 * threshold);
    fprintf(out, n_base + n_new > 2 ? " (each side the fastest of its %d and %d measurements)\n" : "\n", n_base, n_new);
    close_all(&c), free(runs), free(names);
    if (c.compared == 0) {
        snprintf(err, errlen, "%s and %s share no timed runs to compare", base_paths[0], new_paths[0]);
        return -1;
    }
    return c.regressions;
}

/* ---- determinism: every non-timing number identical ---- */

/* Metrics that depend on the clock (or on another program's clock) and so differ between identical runs. */
static int is_timing_metric(const char *name)
{
    static const char *const clocky[] = {"_ms", "ms_", "seconds", "time", "tokens_per_s", "gflops", "calibration",
                                         "speedup", "reps", "rss", "torch", "load_average", "ratio_", "throughput"};
    for (size_t i = 0; i < sizeof clocky / sizeof clocky[0]; i++)
        if (strstr(name, clocky[i]))
            return 1;
    return 0;
}

/* Root attributes that describe how a run was made, not what it found. */
static int is_provenance(const char *name)
{
    static const char *const how[] = {"threads", "mpi_", "cores", "git_"};
    for (size_t i = 0; i < sizeof how / sizeof how[0]; i++)
        if (strncmp(name, how[i], strlen(how[i])) == 0)
            return 1;
    return 0;
}

static void differs(CompareCtx *c, const char *run, const char *what, int point, double a, double b)
{
    c->regressions++;
    if (point >= 0)
        fprintf(c->out, "%.80s/%.80s[%d]: %.17g vs %.17g\n", run, what, point, a, b);
    else
        fprintf(c->out, "%.80s/%.80s: %.17g vs %.17g\n", run, what, a, b);
}

static void identical_attrs(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list_attrs(c->base[0], run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        double a, b;
        if (is_timing_metric(names[i]) || (strcmp(run_path, "/") == 0 && is_provenance(names[i])) ||
            h5io_read_attr_double(c->base[0], run_path, names[i], &a) != 0)
            continue;
        c->compared++;
        if (h5io_read_attr_double(c->next[0], run_path, names[i], &b) != 0)
            differs(c, run, names[i], -1, a, NAN);
        else if (memcmp(&a, &b, sizeof a) != 0 && !(a != a && b != b))
            differs(c, run, names[i], -1, a, b);
    }
}

static void identical_series(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list(c->base[0], run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        char path[512], err[256];
        snprintf(path, sizeof path, "%.256s%s%.127s", run_path, strcmp(run_path, "/") == 0 ? "" : "/", names[i]);
        double *a, *b;
        size_t na, nb;
        if (is_timing_metric(names[i]) || h5io_read_doubles(c->base[0], path, &a, &na, err, sizeof err) != 0)
            continue;
        c->compared++;
        if (h5io_read_doubles(c->next[0], path, &b, &nb, err, sizeof err) != 0) {
            differs(c, run, names[i], -1, (double)na, NAN);
        } else {
            if (na != nb)
                differs(c, run, names[i], -1, (double)na, (double)nb);
            for (size_t p = 0; p < na && p < nb; p++)
                if (memcmp(&a[p], &b[p], sizeof a[p]) != 0 && !(a[p] != a[p] && b[p] != b[p])) {
                    differs(c, run, names[i], (int)p, a[p], b[p]);
                    break; /* one line per series */
                }
            free(b);
        }
        free(a);
    }
}

int compare_identical(const char *base_path, const char *new_path, FILE *out, char *err, size_t errlen)
{
    CompareCtx c = {.out = out};
    c.base[0] = h5io_open_read(base_path, err, errlen);
    c.n_base = c.base[0] != NULL;
    if (!c.base[0])
        return -1;
    if (!(c.next[0] = h5io_open_read(new_path, err, errlen))) {
        close_all(&c);
        return -1;
    }
    c.n_next = 1;
    char (*runs)[128] = malloc(sizeof(*runs) * MAX_NAMES), (*names)[128] = malloc(sizeof(*names) * MAX_NAMES);
    if (!runs || !names) {
        snprintf(err, errlen, "out of memory");
        close_all(&c), free(runs), free(names);
        return -1;
    }
    /* The root's numbers (the summaries over runs) and datasets (their values by seed); what differs by
     * construction between a single process and a sharded run (threads, the world) is not compared. */
    identical_attrs(&c, "/", "(root)", names);
    identical_series(&c, "/", "(root)", names);
    int n = h5io_exists(c.base[0], "runs") ? h5io_list_groups(c.base[0], "runs", runs, MAX_NAMES) : 0;
    for (int r = 0; r < n; r++) {
        char run_path[256];
        snprintf(run_path, sizeof run_path, "runs/%.120s", runs[r]);
        if (!h5io_exists(c.next[0], run_path)) {
            fprintf(out, "%.120s: missing from %s\n", runs[r], new_path);
            c.regressions++;
            continue;
        }
        identical_attrs(&c, run_path, runs[r], names);
        identical_series(&c, run_path, runs[r], names);
    }
    fprintf(out, "%d values compared, %d differ\n", c.compared, c.regressions);
    close_all(&c), free(runs), free(names);
    if (c.compared == 0) {
        snprintf(err, errlen, "%s holds no non-timing metrics to compare", base_path);
        return -1;
    }
    return c.regressions;
}
