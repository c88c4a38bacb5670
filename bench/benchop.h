/* benchop: times one configured operator on B x L inputs with the timing policy: forward alone and
 * forward+backward, with analytic FLOPs, achieved GFLOP/s, the bytes of its buffers and the measured peak
 * resident memory. Used by `subq bench op` and by the experiments. */
#ifndef SUBQ_BENCHOP_H
#define SUBQ_BENCHOP_H

#include <stddef.h>
#include <stdint.h>

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
BenchOpStatus benchop_run(const Op *op, int B, int L, int with_backward, const TimingPolicy *policy,
                          size_t mem_limit, uint64_t seed, BenchOpResult *out, char *err, size_t errlen);

#endif
