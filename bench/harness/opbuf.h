/* opbuf: the buffers one configured operator needs to run forward and backward on B x L inputs (inputs,
 * outputs, parameters, gradients, saved activations, workspace), allocated together so callers (the runner,
 * the benchmarks, the tests) size and free them in one place and can check the total before allocating. */
#ifndef SUBQ_OPBUF_H
#define SUBQ_OPBUF_H

#include <stddef.h>

#include "registry.h"

typedef struct OpBuffers {
    int B, L, d_in, d_out, with_backward;
    size_t n_x, n_y, n_params, n_act, n_ws; /* floats */
    float *x, *y, *params, *act, *ws_buf;   /* x (B, L, d_in), y (B, L, d_out) */
    float *dy, *dx, *dparams;               /* NULL unless with_backward */
    Workspace ws;
} OpBuffers;

/* Bytes opbuf_alloc would allocate. */
size_t opbuf_bytes(const Op *op, int B, int L, int with_backward);
/* Allocates everything (zeroed) and initialises the workspace. -1 with a message naming the total size if
 * memory runs out; nothing stays allocated then. */
int opbuf_alloc(OpBuffers *buf, const Op *op, int B, int L, int with_backward, char *err, size_t errlen);
void opbuf_free(OpBuffers *buf);
/* Resets the workspace and runs forward (x -> y, act). */
void opbuf_forward(const Op *op, OpBuffers *buf);
/* Resets the workspace, zeroes dparams and runs backward (needs a forward first). */
void opbuf_backward(const Op *op, OpBuffers *buf);

#endif
