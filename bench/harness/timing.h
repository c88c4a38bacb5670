/* timing: the one timing routine every benchmark uses (DESIGN.md section 5), the calibration sgemm that
 * makes times comparable across machines (section 6), and peak-memory measurement.
 *
 * A measurement runs the body `warmup` times untimed, then repeats it until both `min_reps` repetitions and
 * `min_seconds` of timed work are reached (capped by `max_reps`), and reports the median, minimum and
 * interquartile range of the per-repetition wall times. */
#ifndef SUBQ_TIMING_H
#define SUBQ_TIMING_H

#include <stddef.h>

typedef struct TimingPolicy {
    int warmup;
    int min_reps;
    int max_reps;
    double min_seconds;
} TimingPolicy;

typedef struct TimingStats {
    double median_ms, min_ms, iqr_ms, mean_ms;
    int reps;
} TimingStats;

typedef void (*TimingBody)(void *ctx);

/* Defaults: 1 warm-up, at least 5 repetitions and 0.5 s, at most 1000 repetitions. */
TimingPolicy timing_default_policy(void);
/* One timed repetition, no warm-up: for runs that take minutes (plans and pages are warm from the
 * forward measurement that precedes them; benchop_run gives that forward one warm-up call). */
TimingPolicy timing_single_policy(void);

double timing_now_seconds(void); /* monotonic clock */
void timing_measure(TimingBody body, void *ctx, const TimingPolicy *policy, TimingStats *out);
/* Order statistics of n samples (sorted in place). */
void timing_summarise(double *samples_ms, int n, TimingStats *out);

/* The calibration kernel: C = A B with A, B, C n x n (n = TIMING_CALIBRATION_N), all threads. Returns
 * GFLOP/s at the median time, or a negative value if the buffers cannot be allocated. */
#define TIMING_CALIBRATION_N 2048
double timing_calibration_gflops(const TimingPolicy *policy, TimingStats *stats);

/* Peak resident memory of the process since the last reset, in bytes (Linux VmHWM; 0 if unknown). The reset
 * writes "5" to /proc/self/clear_refs, which resets VmHWM to the current RSS. */
void timing_reset_peak_memory(void);
size_t timing_peak_memory_bytes(void);
/* The process's address-space size (VmSize), in bytes (0 if unknown). */
size_t timing_current_memory_bytes(void);
/* Checks before a large allocation that `bytes` fit in available memory and under RLIMIT_AS: with Linux's
 * overcommit a request that does not fit succeeds and the process is killed later, with no message. -1 with
 * "<what> needs X GiB, more than the Y GiB of ..." otherwise. */
int timing_check_memory(size_t bytes, const char *what, char *err, size_t errlen);

/* Threads used by OpenMP and BLAS: SUBQ_THREADS if set (validated), else the cores shared among the ranks on
 * this machine (all cores without MPI). Applies it and returns it, or -1 with a message for a bad value. */
int timing_setup_threads(char *err, size_t errlen);
/* The threads for a run that has the machine to itself: SUBQ_THREADS if set, else all cores. */
int timing_machine_threads(void);
/* Sets OpenMP's and BLAS's thread counts. */
void timing_set_threads(int threads);

#endif
