#include "timing.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "comm.h"
#include "core.h"
#include "gemm.h"

TimingPolicy timing_default_policy(void) { return (TimingPolicy){.warmup = 1, .min_reps = 5, .max_reps = 1000, .min_seconds = 0.5}; }

TimingPolicy timing_single_policy(void) { return (TimingPolicy){.warmup = 0, .min_reps = 1, .max_reps = 1, .min_seconds = 0.0}; }

double timing_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (numpy's default percentile). */
static double percentile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

void timing_summarise(double *samples_ms, int n, TimingStats *out)
{
    memset(out, 0, sizeof *out);
    if (n <= 0)
        return;
    qsort(samples_ms, (size_t)n, sizeof *samples_ms, compare_doubles);
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += samples_ms[i];
    out->reps = n;
    out->min_ms = samples_ms[0];
    out->median_ms = percentile(samples_ms, n, 0.5);
    out->iqr_ms = percentile(samples_ms, n, 0.75) - percentile(samples_ms, n, 0.25);
    out->mean_ms = sum / n;
}

void timing_measure(TimingBody body, void *ctx, const TimingPolicy *policy, TimingStats *out)
{
    for (int i = 0; i < policy->warmup; i++)
        body(ctx);
    int cap = policy->max_reps > 0 ? policy->max_reps : 1;
    double stack_samples[64];
    double *samples = cap <= 64 ? stack_samples : malloc((size_t)cap * sizeof *samples);
    if (!samples) { /* fall back to the fixed buffer: fewer repetitions, never a crash */
        samples = stack_samples;
        cap = 64;
    }
    int n = 0;
    double total = 0.0;
    while (n < cap && (n < policy->min_reps || total < policy->min_seconds)) {
        double t0 = timing_now_seconds();
        body(ctx);
        double dt = timing_now_seconds() - t0;
        samples[n++] = 1e3 * dt;
        total += dt;
    }
    timing_summarise(samples, n, out);
    if (samples != stack_samples)
        free(samples);
}

typedef struct CalibrationCtx {
    const float *a, *b;
    float *c;
} CalibrationCtx;

static void calibration_body(void *ctx)
{
    CalibrationCtx *k = ctx;
    const int n = TIMING_CALIBRATION_N;
    gemm(false, false, n, n, n, 1.0f, k->a, n, k->b, n, 0.0f, k->c, n);
}

double timing_calibration_gflops(const TimingPolicy *policy, TimingStats *stats)
{
    const size_t n2 = (size_t)TIMING_CALIBRATION_N * TIMING_CALIBRATION_N;
    float *a = core_alloc_floats(n2), *b = core_alloc_floats(n2), *c = core_alloc_floats(n2);
    double gflops = -1.0;
    if (a && b && c) {
        for (size_t i = 0; i < n2; i++) {
            a[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
            b[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
        }
        CalibrationCtx ctx = {a, b, c};
        timing_measure(calibration_body, &ctx, policy, stats);
        double flops = 2.0 * TIMING_CALIBRATION_N * (double)TIMING_CALIBRATION_N * TIMING_CALIBRATION_N;
        gflops = flops / (stats->median_ms * 1e6);
    }
    core_free(a), core_free(b), core_free(c);
    return gflops;
}

void timing_reset_peak_memory(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

/* A "Key: N kB" line of /proc/self/status, in bytes (0 if unknown). */
static size_t status_kib_field(const char *format)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, format, &kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
}

size_t timing_peak_memory_bytes(void) { return status_kib_field("VmHWM: %zu kB"); }

size_t timing_current_memory_bytes(void) { return status_kib_field("VmSize: %zu kB"); }

/* MemAvailable (what can be allocated without swapping out others) and the address-space limit. Linux
 * overcommits: malloc succeeds beyond both, and the kernel kills the process when the pages are touched. */
int timing_check_memory(size_t bytes, const char *what, char *err, size_t errlen)
{
    size_t available = (size_t)-1;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        size_t kib;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %zu kB", &kib) == 1) {
                available = kib * 1024;
                break;
            }
        fclose(f);
    }
    struct rlimit lim;
    const char *which = "available memory (MemAvailable)";
    if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < available) {
        size_t used = timing_current_memory_bytes();
        available = lim.rlim_cur > used ? lim.rlim_cur - used : 0;
        which = "the address-space limit (ulimit -v)";
    }
    if (bytes <= available)
        return 0;
    snprintf(err, errlen, "%s needs %.2f GiB, more than the %.2f GiB of %s", what, (double)bytes / (1u << 30),
             (double)available / (1u << 30), which);
    return -1;
}

/* SUBQ_THREADS: 0 when unset, -1 when not a thread count (set but empty is a mistake too, a script's unset
 * variable, not "all cores"). */
static int env_threads(void)
{
    const char *env = getenv("SUBQ_THREADS");
    if (!env)
        return 0;
    char *end;
    long v = strtol(env, &end, 10);
    return *end != '\0' || v < 1 || v > 1024 ? -1 : (int)v;
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int timing_machine_threads(void)
{
    int v = env_threads();
    return v > 0 ? v : cores();
}

void timing_set_threads(int threads)
{
    omp_set_num_threads(threads);
    gemm_set_threads(threads);
}

int timing_setup_threads(char *err, size_t errlen)
{
    const int v = env_threads(), local = comm_local_size();
    if (v < 0) {
        snprintf(err, errlen, "SUBQ_THREADS='%s' is not a thread count (1..1024)", getenv("SUBQ_THREADS"));
        return -1;
    }
    const int threads = v > 0 ? v : cores() > local ? cores() / local : 1;
    timing_set_threads(threads);
    return threads;
}
