/* ref_fff: plain-loop references of ops/fff.h in double precision, written from the semantics documented there
 * (the official fastfeedforward FFF and UltraFastBERT FFF), not from ops/fff.c: one token at a time, every
 * sum a loop. Parameters are located by name through fff_param_specs (the naming contract); region_leak's
 * swaps come from fff_leak_swaps (part of that contract).
 *
 * Each counts the floating-point operations it performs (multiply-add 2, other arithmetic, exp, log, erf 1;
 * comparisons, selects and sign flips 0) so tests can check fff_flops. The hardening term's gradient
 * (h != 0) is not counted, as documented in fff.h. */
#ifndef SUBQ_REF_FFF_H
#define SUBQ_REF_FFF_H

#include "fff.h"

typedef struct RefFffOut {
    double *y;            /* (N, D) */
    double *dx;           /* (N, D): gradient of sum(y dy) + h mean_entropy */
    double *dparams;      /* (fff_num_params): written, not accumulated */
    double mean_entropy;  /* fff, mode=train; else 0 */
    double flops_forward;
    double flops_backward;
} RefFffOut;

/* Runs forward and backward of the configured variant and mode on N tokens. The caller allocates y, dx and
 * dparams. Returns 0, or -1 if out of memory. */
int ref_fff(const FffConfig *cfg, const float *params, const float *x, const float *dy, int N, double h,
            RefFffOut *out);

#endif
