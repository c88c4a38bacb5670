/* ref_moe: a plain-loop MoE in double precision with the semantics documented in ops/moe.h (noisy top-k
 * gating, softmax over the kept logits, capacity, auxiliary losses), counting the floating-point operations
 * it performs (core.h convention), so tests can check moe_forward/moe_backward values, moe_aux_losses and
 * the analytic moe_flops. It shares nothing with ops/moe.c but the noise draw moe_noise (the noise is
 * defined by that hash) and the parameter layout moe_param_specs. Experts run once per assignment. */
#ifndef SUBQ_REF_MOE_H
#define SUBQ_REF_MOE_H

#include "moe.h"

typedef struct RefMoe {
    int N;                      /* tokens */
    double *clean, *raw, *z, *h; /* (N, E): x Wg^T, x Wn^T, noise, routing logits */
    int *expert;                /* (N, k) kept experts, best first */
    int *kept;                  /* (N, k) 1 if within capacity */
    double *gates;              /* (N, k) */
    double *pre, *hid, *out;    /* (N, k, H), (N, k, H), (N, k, D): each assignment's expert pass */
    double *y;                  /* (N, D) */
    int dropped_assignments, dropped_tokens;
} RefMoe;

/* Returns 0, or -1 if an allocation failed (then nothing is left allocated). */
int ref_moe_alloc(RefMoe *r, const MoeConfig *cfg, int N);
void ref_moe_free(RefMoe *r);
/* Adds the operations performed to *flops. */
void ref_moe_forward(const MoeConfig *cfg, const float *params, const float *x, RefMoe *r, double *flops);
/* Gradients of sum(y dy): writes dx (N, D), accumulates dparams (moe_num_params doubles). */
void ref_moe_backward(const MoeConfig *cfg, const float *params, const float *x, const RefMoe *r, const float *dy,
                      double *dx, double *dparams, double *flops);
void ref_moe_aux(const MoeConfig *cfg, const RefMoe *r, double *importance_cv2, double *load_cv2,
                 double *switch_loss);

#endif
