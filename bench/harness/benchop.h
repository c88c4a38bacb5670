/* benchop: times one configured operator on B x L inputs with the timing policy: forward alone and
 * forward+backward, with analytic FLOPs, achieved GFLOP/s, the bytes of its buffers and the measured peak
 * resident memory. Used by `subq bench op` and by the experiments. */
#ifndef SUBQ_BENCHOP_H
#define SUBQ_BENCHOP_H

#include <stddef.h>
#include <stdint.h>

#include "opbuf.h"
#include "registry.h"
#include "timing.h"

typedef struct BenchOpResult {
    double flops_forward, flops_backward;
    TimingStats forward;   /* forward alone */
    TimingStats training;  /* forward then backward; reps == 0 when not measured */
    double gflops_forward; /* analytic FLOPs / median time */
    double gflops_training;
    size_t buffer_bytes; /* what opbuf allocated */
    size_t peak_bytes;   /* process peak RSS during this benchmark (VmHWM after a reset) */
} BenchOpResult;

typedef enum BenchOpStatus { BENCHOP_OK = 0, BENCHOP_TOO_BIG = 1, BENCHOP_ERROR = -1 } BenchOpStatus;

/* Runs the benchmark. with_backward selects whether forward+backward is timed too. If the buffers would
 * exceed mem_limit bytes (0: no limit) nothing is run and BENCHOP_TOO_BIG is returned with a message. */
/* A prepared benchmark: buffers allocated and filled once, then timed in as many batches of repetitions as the
 * caller wants (the side-by-side method of `peers` interleaves such batches with another implementation's). */
typedef enum BenchOpPhase { BENCHOP_FORWARD = 0, BENCHOP_TRAINING = 1 } BenchOpPhase;
typedef struct BenchOpSession {
    const Op *op;
    OpBuffers buf;
    int with_backward;
} BenchOpSession;
/* Checks the shape and the memory limit (as benchop_run) and allocates and fills the buffers. */
BenchOpStatus benchop_open(BenchOpSession *s, const Op *op, int B, int L, int with_backward, size_t mem_limit,
                           uint64_t seed, char *err, size_t errlen);
/* Times n back-to-back repetitions of a phase (no warm-up) into ms[0..n-1]. BENCHOP_TRAINING needs a session
 * opened with_backward. */
void benchop_sample(BenchOpSession *s, BenchOpPhase phase, int n, double *ms);
void benchop_close(BenchOpSession *s);

BenchOpStatus benchop_run(const Op *op, int B, int L, int with_backward, const TimingPolicy *policy,
                          size_t mem_limit, uint64_t seed, BenchOpResult *out, char *err, size_t errlen);

#endif
