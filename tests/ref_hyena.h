/* ref_hyena: a plain-loop Hyena operator in double precision, written from the specification
 * (baselines/torch/SEMANTICS-hyena-s4d.md, sections 1 and 4), not from ops/hyena.c: row-major (B, L, .)
 * tensors throughout, the long convolutions as direct O(L^2) sums, the filter MLP, its modulation and the
 * short conv as loops, the buffers t and deltas in double (t_l = l / (l_max-1), deltas evenly spaced).
 * Parameters are located through hyena_param_specs (the naming contract), in named_parameters() order.
 *
 * It counts the floating-point operations it performs (multiply-add 2, other arithmetic and sin, cos, exp
 * 1, sign flips 0) for everything EXCEPT the long convolutions and their beta skip, whose cost is
 * fftconv_cm_flops by definition (the fast path uses FFTs, not the direct sums). */
#ifndef SUBQ_REF_HYENA_H
#define SUBQ_REF_HYENA_H

#include "hyena.h"

/* y (B, L, D) = Hyena(x); for the loss sum(y * dy): dx (B, L, D) and dparams (the parameter block's layout,
 * written, not accumulated). Returns 0, or -1 if out of memory. */
int ref_hyena(const HyenaConfig *cfg, const float *params, const float *x, const float *dy, int B, int L, double *y,
              double *dx, double *dparams, double *flops_forward, double *flops_backward);

#endif
