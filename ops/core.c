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
