#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS (CORE_ALIGN_BYTES / sizeof(float))

size_t ws_floats_for(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

void ws_init(Workspace *ws, float *base, size_t cap)
{
    ws->base = base;
    ws->cap = cap;
    ws->used = 0;
}

void ws_reset(Workspace *ws) { ws->used = 0; }

float *ws_take(Workspace *ws, size_t n)
{
    size_t need = ws_floats_for(n);
    if (ws->base == NULL || ws->used + need > ws->cap) {
        fprintf(stderr, "subq: internal error: workspace overflow (%zu + %zu > %zu floats)\n", ws->used, need,
                ws->cap);
        return NULL;
    }
    float *p = ws->base + ws->used;
    ws->used += need;
    return p;
}

float *core_alloc_floats(size_t n)
{
    if (n == 0)
        return NULL;
    size_t bytes = ws_floats_for(n) * sizeof(float);
    void *p = NULL;
    if (posix_memalign(&p, CORE_ALIGN_BYTES, bytes) != 0)
        return NULL;
    return p;
}

void core_free(void *p) { free(p); }

size_t core_spec(ParamSpec *spec, const char *name, size_t offset, int ndim, const int *shape)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->name, sizeof spec->name, "%s", name);
    spec->ndim = ndim;
    spec->offset = offset;
    spec->numel = 1;
    for (int i = 0; i < ndim; i++) {
        spec->shape[i] = shape[i];
        spec->numel *= (size_t)shape[i];
    }
    return offset + spec->numel;
}

size_t core_spec_total(const ParamSpec *specs, int count)
{
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += specs[i].numel;
    return total;
}

#define TRANSPOSE_BLOCK 32

/* One tile through a local buffer: the source rows are read contiguously and the destination rows are
 * written contiguously. Writing straight to the destination would touch TRANSPOSE_BLOCK lines a
 * power-of-two stride apart for every source row, which all fall in one cache set and thrash it. */
static void transpose_tile(const float *src, float *dst, int rows, int cols, int r0, int r1, int c0, int c1)
{
    float tile[TRANSPOSE_BLOCK][TRANSPOSE_BLOCK];
    for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++)
            tile[c - c0][r - r0] = src[(size_t)r * cols + c];
    for (int c = c0; c < c1; c++)
        for (int r = r0; r < r1; r++)
            dst[(size_t)c * rows + r] = tile[c - c0][r - r0];
}

void core_transpose(const float *in, float *out, int batch, int rows, int cols)
{
    const int row_blocks = (rows + TRANSPOSE_BLOCK - 1) / TRANSPOSE_BLOCK;
    const int col_blocks = (cols + TRANSPOSE_BLOCK - 1) / TRANSPOSE_BLOCK;
    const long tiles = (long)batch * row_blocks * col_blocks;
#pragma omp parallel for schedule(static) if ((long)batch * rows * cols > 65536)
    for (long tile = 0; tile < tiles; tile++) {
        int b = (int)(tile / ((long)row_blocks * col_blocks));
        int rb = (int)(tile / col_blocks % row_blocks), cb = (int)(tile % col_blocks);
        int r0 = rb * TRANSPOSE_BLOCK, c0 = cb * TRANSPOSE_BLOCK;
        int r1 = r0 + TRANSPOSE_BLOCK < rows ? r0 + TRANSPOSE_BLOCK : rows;
        int c1 = c0 + TRANSPOSE_BLOCK < cols ? c0 + TRANSPOSE_BLOCK : cols;
        size_t offset = (size_t)b * rows * cols;
        transpose_tile(in + offset, out + offset, rows, cols, r0, r1, c0, c1);
    }
}

void core_add(float *restrict y, const float *restrict a, const float *restrict b, size_t n)
{
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void core_accumulate(float *restrict y, const float *restrict a, size_t n)
{
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++)
        y[i] += a[i];
}
