#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h5io.h"

#define MAX_NAMES 256
#define SUFFIX "_calibration_ratio"

typedef struct CompareCtx {
    H5File *base, *next[COMPARE_MAX_NEW];
    int n_next;
    double threshold;
    FILE *out;
    int compared, regressions;
} CompareCtx;

static int has_suffix(const char *s)
{
    size_t n = strlen(s), k = strlen(SUFFIX);
    return n > k && strcmp(s + n - k, SUFFIX) == 0;
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

/* The fastest of the new measurements of one attribute (the smallest ratio); -1 when none has it. */
static int best_new_attr(const CompareCtx *c, const char *run_path, const char *name, double *best)
{
    int found = 0;
    for (int k = 0; k < c->n_next; k++) {
        double v;
        if (h5io_read_attr_double(c->next[k], run_path, name, &v) == 0 && (!found || v < *best))
            *best = v, found = 1;
    }
    return found ? 0 : -1;
}

static void compare_attrs(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list_attrs(c->base, run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        double a, b = 0.0;
        if (has_suffix(names[i]) && h5io_read_attr_double(c->base, run_path, names[i], &a) == 0 &&
            best_new_attr(c, run_path, names[i], &b) == 0 && a > 0)
            report(c, run, names[i], -1, a, b);
    }
}

/* Point by point, the fastest of the new measurements of one series over the points all of them have. */
static void compare_series_points(CompareCtx *c, const char *run, const char *name, const char *path,
                                  const H5Tensor *a)
{
    size_t points = a->numel;
    double *best = malloc(sizeof(double) * (points ? points : 1));
    int found = 0;
    char err[256];
    for (int k = 0; k < c->n_next && best; k++) {
        H5Tensor b;
        if (h5io_read_tensor(c->next[k], path, &b, err, sizeof err) != 0)
            continue;
        points = b.numel < points ? b.numel : points;
        for (size_t p = 0; p < points; p++)
            best[p] = found && best[p] < b.data[p] ? best[p] : b.data[p];
        found = 1;
        h5io_tensor_free(&b);
    }
    for (size_t p = 0; found && p < points; p++)
        if (a->data[p] > 0)
            report(c, run, name, (int)p, a->data[p], best[p]);
    free(best);
}

static void compare_series(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list(c->base, run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        if (!has_suffix(names[i]))
            continue;
        char path[512], err[256];
        snprintf(path, sizeof path, "%.256s/%.127s", run_path, names[i]);
        H5Tensor a;
        if (h5io_read_tensor(c->base, path, &a, err, sizeof err) != 0)
            continue;
        compare_series_points(c, run, names[i], path, &a);
        h5io_tensor_free(&a);
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
    h5io_close(c->base);
    for (int k = 0; k < c->n_next; k++)
        h5io_close(c->next[k]);
}

int compare_results(const char *base_path, const char *const *new_paths, int n_new, double threshold, FILE *out,
                    char *err, size_t errlen)
{
    if (n_new < 1 || n_new > COMPARE_MAX_NEW) {
        snprintf(err, errlen, "compare: between 1 and %d new results files (got %d)", COMPARE_MAX_NEW, n_new);
        return -1;
    }
    CompareCtx c = {.threshold = threshold, .out = out};
    c.base = h5io_open_read(base_path, err, errlen);
    if (!c.base)
        return -1;
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
    fprintf(out, "%-70s %10s %10s %8s\n", "run/metric (time / calibration sgemm)", "base",
            n_new > 1 ? "new (best)" : "new", "change");
    int n = h5io_exists(c.base, "runs") ? h5io_list_groups(c.base, "runs", runs, MAX_NAMES) : 0;
    for (int r = 0; r < n; r++) {
        char run_path[256];
        snprintf(run_path, sizeof run_path, "runs/%.120s", runs[r]);
        if (!any_new_has(&c, run_path))
            continue;
        compare_attrs(&c, run_path, runs[r], names);
        compare_series(&c, run_path, runs[r], names);
    }
    fprintf(out, "%d comparisons, %d slower than %+.0f%%", c.compared, c.regressions, 100 * threshold);
    fprintf(out, n_new > 1 ? " (each the fastest of %d measurements)\n" : "\n", n_new);
    close_all(&c), free(runs), free(names);
    if (c.compared == 0) {
        snprintf(err, errlen, "%s and %s share no timed runs to compare", base_path, new_paths[0]);
        return -1;
    }
    return c.regressions;
}

/* ---- determinism: every non-timing number identical ---- */

/* Metrics that depend on the clock (or on another program's clock) and so differ between identical runs. */
static int is_timing_metric(const char *name)
{
    static const char *const clocky[] = {"_ms", "ms_", "seconds", "time", "tokens_per_s", "gflops", "calibration",
                                         "speedup", "reps", "rss", "torch", "load_average", "ratio_"};
    for (size_t i = 0; i < sizeof clocky / sizeof clocky[0]; i++)
        if (strstr(name, clocky[i]))
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
    int n = h5io_list_attrs(c->base, run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        double a, b;
        if (is_timing_metric(names[i]) || h5io_read_attr_double(c->base, run_path, names[i], &a) != 0)
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
    int n = h5io_list(c->base, run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        char path[512], err[256];
        snprintf(path, sizeof path, "%.256s/%.127s", run_path, names[i]);
        H5Tensor a, b;
        if (is_timing_metric(names[i]) || h5io_read_tensor(c->base, path, &a, err, sizeof err) != 0)
            continue;
        c->compared++;
        if (h5io_read_tensor(c->next[0], path, &b, err, sizeof err) != 0) {
            differs(c, run, names[i], -1, (double)a.numel, NAN);
        } else {
            if (a.numel != b.numel)
                differs(c, run, names[i], -1, (double)a.numel, (double)b.numel);
            for (size_t p = 0; p < a.numel && p < b.numel; p++)
                if (memcmp(&a.data[p], &b.data[p], sizeof a.data[p]) != 0) {
                    differs(c, run, names[i], (int)p, a.data[p], b.data[p]);
                    break; /* one line per series */
                }
            h5io_tensor_free(&b);
        }
        h5io_tensor_free(&a);
    }
}

int compare_identical(const char *base_path, const char *new_path, FILE *out, char *err, size_t errlen)
{
    CompareCtx c = {.out = out};
    c.base = h5io_open_read(base_path, err, errlen);
    if (!c.base)
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
    int n = h5io_exists(c.base, "runs") ? h5io_list_groups(c.base, "runs", runs, MAX_NAMES) : 0;
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
