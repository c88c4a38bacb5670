/* pool2d: pooling over channels-last images stored as sequences, x (B, L = H W, C), pixel (p, q) at sequence
 * position p W + q. Plain functions, not registry operators: pooling changes L.
 *
 *   max / average pooling, kernel k = stride k, no padding (torch.nn.MaxPool2d(k) / AvgPool2d(k)):
 *     y (B, Ho Wo, C), Ho = H / k, Wo = W / k (floor: trailing rows/columns that do not fill a window are
 *     dropped, as torch does); y[b, i, j, c] = max / mean over the window rows i k .. i k + k - 1,
 *     columns j k .. j k + k - 1.
 *   global average pooling: y (B, C) = mean over the L positions.
 *
 * Max pooling writes, per output, the sequence position (p W + q, within its image) of the window maximum
 * into a caller-owned int32 buffer `argmax` (B, Ho Wo, C); ties go to the first maximum in row-major window
 * order, and a NaN counts as the maximum (it propagates, as in torch). Backward routes dy to those positions.
 * Every backward writes dx (=) over the whole input, including dropped rows/columns (zero there).
 * Nothing here allocates; loops run OpenMP over output rows. */
#ifndef SUBQ_POOL2D_H
#define SUBQ_POOL2D_H

#include <stdint.h>

#include "core.h"

typedef struct Pool2dShape {
    int batch;    /* B */
    int height;   /* H */
    int width;    /* W */
    int channels; /* C */
    int kernel;   /* k: window and stride; 1 <= k <= min(H, W) */
} Pool2dShape;

int pool2d_out_height(const Pool2dShape *s); /* H / k */
int pool2d_out_width(const Pool2dShape *s);  /* W / k */

/* x (B, H W, C) -> y (B, Ho Wo, C), argmax (B, Ho Wo, C). */
void pool2d_max_forward(const Pool2dShape *s, const float *x, float *y, int32_t *argmax);
/* dx (B, H W, C) = dy (B, Ho Wo, C) at the argmax positions, 0 elsewhere. */
void pool2d_max_backward(const Pool2dShape *s, const float *dy, const int32_t *argmax, float *dx);
void pool2d_avg_forward(const Pool2dShape *s, const float *x, float *y);
/* dx = dy / k^2 over each window, 0 in dropped rows/columns. */
void pool2d_avg_backward(const Pool2dShape *s, const float *dy, float *dx);

/* x (B, L, C) -> y (B, C) = mean over L; dx (B, L, C) = dy / L broadcast over L. */
void pool2d_global_avg_forward(const float *x, float *y, int B, int L, int C);
void pool2d_global_avg_backward(const float *dy, float *dx, int B, int L, int C);

/* FLOPs (core.h convention: comparisons and copies are free). With N = B Ho Wo C outputs:
 *   max:        forward 0, backward 0 (comparisons; routing dy is a copy);
 *   avg:        forward N k^2 (k^2 - 1 adds and one multiply by 1/k^2 per output), backward N k^2 (dx = dy / k^2,
 *               one multiply per pooled input entry);
 *   global avg: forward B C L (L - 1 adds and one multiply by 1/L), backward B C L (dx = dy / L). */
OpFlops pool2d_max_flops(const Pool2dShape *s);
OpFlops pool2d_avg_flops(const Pool2dShape *s);
OpFlops pool2d_global_avg_flops(int B, int L, int C);

#endif
