/* modal_fit: a long filter distilled into a small modal recurrence (Massaroli et al. 2023, "Laughing Hyena
 * Distillery"), for generation at O(order) per token (docs/DESIGN.md section 11).
 *
 * The first tap is kept exactly; the rest is fitted as a sum of at most `order` real damped modes:
 *   h[l] ~ 2 Re sum_n R_n lambda_n^(l-1),  l = 1 .. L-1,
 * so the filter's output is y[t] = h[0] x[t] + 2 Re sum_n R_n z_n[t] with z_n[t] = lambda_n z_n[t-1] + x[t-1].
 * The poles come from the matrix pencil method (Hua and Sarkar 1990) on the first taps: the right singular
 * vectors of the Hankel matrix of h[1..], truncated to `order`, are shift-invariant, and the eigenvalues of the
 * shift (a least-squares solve) are the poles. Poles outside the unit disc are pulled inside (|lambda| < 1, so
 * generation never grows without bound); the residues are then the least-squares fit over all L - 1 taps. A
 * conjugate pair is one complex mode; a real pole a mode with a real residue. LAPACK (dgesvd, dgels, dgeev) comes
 * with OpenBLAS. */
#ifndef SUBQ_MODAL_FIT_H
#define SUBQ_MODAL_FIT_H

#include <stddef.h>

/* At most `order` modes (the fit's real degrees of freedom); unused modes have R = 0, lambda = 0. */
typedef struct ModalFilter {
    int modes;
    double *lambda_re, *lambda_im, *r_re, *r_im; /* caller-owned, `order` entries each */
} ModalFilter;

/* Fits taps h[0 .. L) (L >= 2) with at most order >= 1 degrees; writes the modes into out and returns the
 * relative L2 error of the fitted taps 1 .. L-1 (0 for a zero filter), or -1 if LAPACK failed or memory ran out. */
double modal_fit(const float *h, int L, int order, ModalFilter *out);
/* The fitted taps: taps[0] = h0, taps[l] = 2 Re sum R lambda^(l-1). */
void modal_taps(const ModalFilter *f, float h0, int L, float *taps);

#endif
