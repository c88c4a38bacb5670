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

void core_transpose(const float *in, float *out, int batch, int rows, int cols)
{
    const int row_blocks = (rows + TRANSPOSE_BLOCK - 1) / TRANSPOSE_BLOCK;
    const int col_blocks = (cols + TRANSPOSE_BLOCK - 1) / TRANSPOSE_BLOCK;
    const long tiles = (long)batch * row_blocks * col_blocks;
#pragma omp parallel for schedule(static) if ((long)batch * rows * cols > 65536)
    for (long tile = 0; tile < tiles; tile++) {
        int b = (int)(tile / ((long)row_blocks * col_blocks));
        int rb = (int)(tile / col_blocks % row_blocks), cb = (int)(tile % col_blocks);
        const float *src = in + (size_t)b * rows * cols;
        float *dst = out + (size_t)b * rows * cols;
        int r1 = rb * TRANSPOSE_BLOCK + TRANSPOSE_BLOCK, c1 = cb * TRANSPOSE_BLOCK + TRANSPOSE_BLOCK;
        r1 = r1 < rows ? r1 : rows;
        c1 = c1 < cols ? c1 : cols;
        for (int r = rb * TRANSPOSE_BLOCK; r < r1; r++)
            for (int c = cb * TRANSPOSE_BLOCK; c < c1; c++)
                dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
    }
}
