#include "opbuf.h"

#include <stdio.h>
#include <string.h>

#include "timing.h"

typedef struct OpSizes {
    size_t x, y, params, act, ws;
} OpSizes;

static OpSizes op_sizes(const Op *op, int B, int L)
{
    OpSizes s;
    s.x = (size_t)B * L * op_d_in(op);
    s.y = (size_t)B * L * op_d_out(op);
    s.params = op_num_params(op);
    s.act = op_act_floats(op, B, L);
    s.ws = op_workspace_floats(op, B, L);
    return s;
}

size_t opbuf_bytes(const Op *op, int B, int L, int with_backward)
{
    OpSizes s = op_sizes(op, B, L);
    size_t floats = s.x + s.y + s.params + s.act + s.ws;
    if (with_backward)
        floats += s.x + s.y + s.params;
    return floats * sizeof(float);
}

/* core_alloc_floats returns NULL for n == 0; an empty tensor is not an error. */
static int alloc_zeroed(float **p, size_t n)
{
    *p = NULL;
    if (n == 0)
        return 0;
    *p = core_alloc_floats(n);
    if (!*p)
        return -1;
    memset(*p, 0, n * sizeof(float));
    return 0;
}

int opbuf_alloc(OpBuffers *buf, const Op *op, int B, int L, int with_backward, char *err, size_t errlen)
{
    memset(buf, 0, sizeof *buf);
    OpSizes s = op_sizes(op, B, L);
    buf->B = B, buf->L = L, buf->d_in = op_d_in(op), buf->d_out = op_d_out(op);
    buf->with_backward = with_backward;
    buf->n_x = s.x, buf->n_y = s.y, buf->n_params = s.params, buf->n_act = s.act, buf->n_ws = s.ws;
    char what[96];
    snprintf(what, sizeof what, "%s at B=%d L=%d", op->info->name, B, L);
    if (timing_check_memory(opbuf_bytes(op, B, L, with_backward), what, err, errlen) != 0)
        return -1;
    int rc = alloc_zeroed(&buf->x, s.x) | alloc_zeroed(&buf->y, s.y) | alloc_zeroed(&buf->params, s.params) |
             alloc_zeroed(&buf->act, s.act) | alloc_zeroed(&buf->ws_buf, s.ws);
    if (with_backward)
        rc |= alloc_zeroed(&buf->dy, s.y) | alloc_zeroed(&buf->dx, s.x) | alloc_zeroed(&buf->dparams, s.params);
    if (rc != 0) {
        snprintf(err, errlen, "%s: out of memory allocating %.2f GiB for B=%d L=%d", op->info->name,
                 (double)opbuf_bytes(op, B, L, with_backward) / (1u << 30), B, L);
        opbuf_free(buf);
        return -1;
    }
    ws_init(&buf->ws, buf->ws_buf, s.ws);
    return 0;
}

void opbuf_free(OpBuffers *buf)
{
    float **all[] = {&buf->x, &buf->y, &buf->params, &buf->act, &buf->ws_buf, &buf->dy, &buf->dx, &buf->dparams};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        core_free(*all[i]);
        *all[i] = NULL;
    }
}

void opbuf_forward(const Op *op, OpBuffers *buf)
{
    ws_reset(&buf->ws);
    op_forward(op, buf->params, buf->x, buf->y, buf->act, buf->B, buf->L, &buf->ws);
}

void opbuf_backward(const Op *op, OpBuffers *buf)
{
    ws_reset(&buf->ws);
    if (buf->n_params)
        memset(buf->dparams, 0, buf->n_params * sizeof(float));
    op_backward(op, buf->params, buf->x, buf->act, buf->dy, buf->dx, buf->dparams, buf->B, buf->L, &buf->ws);
}
