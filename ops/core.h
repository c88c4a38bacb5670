/* core: the types every operator shares (parameter specs, FLOP counts, scratch arena).
 *
 * Conventions (DESIGN.md section 2):
 *  - tensors are row-major (B, L, D), D fastest; a "row" is one token's D values;
 *  - an operator's parameters are one contiguous float block; *_param_specs lists the tensors in it
 *    (PyTorch names, shapes, offsets) in the order PyTorch's named_parameters() yields them;
 *  - forward/backward never allocate: scratch comes from a caller-owned Workspace sized by the
 *    operator's *_workspace_floats();
 *  - backward writes dx (=) and accumulates parameter gradients (+=);
 *  - FLOPs are analytic: a multiply-add counts 2, any other arithmetic operation or transcendental call
 *    (exp, erf, sqrt, division) counts 1, comparisons and copies count 0.
 */
#ifndef SUBQ_CORE_H
#define SUBQ_CORE_H

#include <stddef.h>
#include <stdint.h>

#define CORE_MAX_DIMS 4
#define CORE_NAME_LEN 64
#define CORE_ALIGN_BYTES 64 /* AVX-512 line; FFTW new-array execution also needs it */

typedef struct ParamSpec {
    char name[CORE_NAME_LEN]; /* PyTorch name, e.g. "fc1.weight" */
    int ndim;
    int shape[CORE_MAX_DIMS];
    size_t offset;            /* in floats, from the start of the operator's parameter block */
    size_t numel;
} ParamSpec;

typedef struct OpFlops {
    double forward;
    double backward;
} OpFlops;

/* A bump allocator over a caller-owned float buffer. Operators take their scratch from it in
 * forward/backward; the caller resets it between calls. Every region is CORE_ALIGN_BYTES aligned. */
typedef struct Workspace {
    float *base;
    size_t cap;  /* floats */
    size_t used; /* floats */
} Workspace;

/* Floats to reserve for n floats taken through ws_take (rounding to the alignment). */
size_t ws_floats_for(size_t n);
void ws_init(Workspace *ws, float *base, size_t cap);
void ws_reset(Workspace *ws);
/* Returns NULL when the operator asked for more than its *_workspace_floats() promised: a bug in
 * that operator, which callers treat as fatal. */
float *ws_take(Workspace *ws, size_t n);

/* Aligned allocation for tensors (freed with core_free). Returns NULL on failure or n == 0. */
float *core_alloc_floats(size_t n);
void core_free(void *p);

/* Fill a ParamSpec; returns the offset just past it so specs can be chained. */
size_t core_spec(ParamSpec *spec, const char *name, size_t offset, int ndim, const int *shape);
size_t core_spec_total(const ParamSpec *specs, int count);

/* out (batch, cols, rows) = in (batch, rows, cols) transposed per batch entry; blocked for cache use and
 * parallel over blocks. Used to switch between (B, L, D) and channel-major (B, D, L). */
void core_transpose(const float *in, float *out, int batch, int rows, int cols);

/* y = a + b and y += a over n floats (residual connections of the models), threaded above 64K elements. */
void core_add(float *restrict y, const float *restrict a, const float *restrict b, size_t n);
void core_accumulate(float *restrict y, const float *restrict a, size_t n);

#endif
