/* ref_attention: a plain-loop causal multi-head self-attention in double precision, written from the
 * semantics of torch.nn.MultiheadAttention (batch_first, causal mask unless cfg->causal == 0, no dropout), not from
 * ops/attention.c: in-projection, per (b, h, t) a softmax over the keys s <= t, out-projection, and the
 * backward of all three for the loss sum(y * dy). Parameters are located through attention_param_specs.
 *
 * It counts every floating-point operation it performs (multiply-add 2, other arithmetic and exp 1,
 * comparisons 0; constants such as 1/sqrt(hd) are free), so tests can check attention_flops exactly. */
#ifndef SUBQ_REF_ATTENTION_H
#define SUBQ_REF_ATTENTION_H

#include "attention.h"

/* y (B, L, D) = attention(x); for the loss sum(y * dy): dx (B, L, D) and dparams (the parameter block's
 * layout, written, not accumulated). The flop counters are added to. Returns 0, or -1 if out of memory. */
int ref_attention(const AttentionConfig *cfg, const float *params, const float *x, const float *dy, int B, int L,
                  double *y, double *dx, double *dparams, double *flops_forward, double *flops_backward);

#endif
