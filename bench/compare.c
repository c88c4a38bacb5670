#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h5io.h"

#define MAX_NAMES 256
#define SUFFIX "_calibration_ratio"

typedef struct CompareCtx {
    H5File *base, *next;
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

static void compare_attrs(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list_attrs(c->base, run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        double a, b;
        if (has_suffix(names[i]) && h5io_read_attr_double(c->base, run_path, names[i], &a) == 0 &&
            h5io_read_attr_double(c->next, run_path, names[i], &b) == 0 && a > 0)
            report(c, run, names[i], -1, a, b);
    }
}

static void compare_series(CompareCtx *c, const char *run_path, const char *run, char (*names)[128])
{
    int n = h5io_list(c->base, run_path, names, MAX_NAMES);
    for (int i = 0; i < n; i++) {
        if (!has_suffix(names[i]))
            continue;
        char path[512], err[256];
        snprintf(path, sizeof path, "%.256s/%.127s", run_path, names[i]);
        H5Tensor a, b;
        if (h5io_read_tensor(c->base, path, &a, err, sizeof err) != 0)
            continue;
        if (h5io_read_tensor(c->next, path, &b, err, sizeof err) == 0) {
            size_t points = a.numel < b.numel ? a.numel : b.numel;
            for (size_t p = 0; p < points; p++)
                if (a.data[p] > 0)
                    report(c, run, names[i], (int)p, a.data[p], b.data[p]);
            h5io_tensor_free(&b);
        }
        h5io_tensor_free(&a);
    }
}

int compare_results(const char *base_path, const char *new_path, double threshold, FILE *out, char *err,
                    size_t errlen)
{
    CompareCtx c = {.threshold = threshold, .out = out};
    c.base = h5io_open_read(base_path, err, errlen);
    if (!c.base)
        return -1;
    c.next = h5io_open_read(new_path, err, errlen);
    char (*runs)[128] = malloc(sizeof(*runs) * MAX_NAMES), (*names)[128] = malloc(sizeof(*names) * MAX_NAMES);
    if (!c.next || !runs || !names) {
        if (c.next && (!runs || !names))
            snprintf(err, errlen, "out of memory");
        h5io_close(c.base), h5io_close(c.next), free(runs), free(names);
        return -1;
    }
    fprintf(out, "%-70s %10s %10s %8s\n", "run/metric (time / calibration sgemm)", "base", "new", "change");
    int n = h5io_exists(c.base, "runs") ? h5io_list_groups(c.base, "runs", runs, MAX_NAMES) : 0;
    for (int r = 0; r < n; r++) {
        char run_path[256];
        snprintf(run_path, sizeof run_path, "runs/%.120s", runs[r]);
        if (!h5io_exists(c.next, run_path))
            continue;
        compare_attrs(&c, run_path, runs[r], names);
        compare_series(&c, run_path, runs[r], names);
    }
    fprintf(out, "%d comparisons, %d slower than %+.0f%%\n", c.compared, c.regressions, 100 * threshold);
    h5io_close(c.base), h5io_close(c.next), free(runs), free(names);
    if (c.compared == 0) {
        snprintf(err, errlen, "%s and %s share no timed runs to compare", base_path, new_path);
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
        if (h5io_read_attr_double(c->next, run_path, names[i], &b) != 0)
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
        if (h5io_read_tensor(c->next, path, &b, err, sizeof err) != 0) {
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
    c.next = h5io_open_read(new_path, err, errlen);
    char (*runs)[128] = malloc(sizeof(*runs) * MAX_NAMES), (*names)[128] = malloc(sizeof(*names) * MAX_NAMES);
    if (!c.next || !runs || !names) {
        if (c.next && (!runs || !names))
            snprintf(err, errlen, "out of memory");
        h5io_close(c.base), h5io_close(c.next), free(runs), free(names);
        return -1;
    }
    int n = h5io_exists(c.base, "runs") ? h5io_list_groups(c.base, "runs", runs, MAX_NAMES) : 0;
    for (int r = 0; r < n; r++) {
        char run_path[256];
        snprintf(run_path, sizeof run_path, "runs/%.120s", runs[r]);
        if (!h5io_exists(c.next, run_path)) {
            fprintf(out, "%.120s: missing from %s\n", runs[r], new_path);
            c.regressions++;
            continue;
        }
        identical_attrs(&c, run_path, runs[r], names);
        identical_series(&c, run_path, runs[r], names);
    }
    fprintf(out, "%d values compared, %d differ\n", c.compared, c.regressions);
    h5io_close(c.base), h5io_close(c.next), free(runs), free(names);
    if (c.compared == 0) {
        snprintf(err, errlen, "%s holds no non-timing metrics to compare", base_path);
        return -1;
    }
    return c.regressions;
}
