/* conv2d: 2D convolution with "same" zero padding and stride 1, torch.nn.Conv2d semantics (cross-correlation)
 * on channels-last images stored as sequences, so that it fits the registry's (B, L, D) contract:
 *
 *   x (B, L = H W, C_in), pixel (p, q) at sequence position p W + q  ->  y (B, L, C_out)
 *   y[b, p, q, o] = bias[o] + sum_{j < C_in/G} sum_{a, c < k} weight[o, j, a, c] x[b, p + a - r, q + c - r, i(o, j)]
 *
 * with r = (k - 1) / 2 (k odd), x = 0 outside the image, G = groups, i(o, j) = g(o) C_in/G + j and
 * g(o) = o / (C_out / G) the group of output channel o (torch's grouping: G = 1 dense, G = C_in depthwise,
 * C_out = m C_in for a depth multiplier m).
 * Parameters, as torch.nn.Conv2d(C_in, C_out, k, padding=r, groups=G, bias=bias): `weight` (C_out, C_in/G, k, k),
 * `bias` (C_out) when bias = 1. Config: "d_in=64,d_out=64,height=32,width=32,kernel=3,groups=1,bias=1".
 *
 * Dense (G = 1): im2col + one GEMM (ops/gemm.h) per chunk of images (the column buffer is bounded, see
 * conv2d.c); grouped/depthwise (G > 1): a direct loop, OpenMP over image rows. The operator accepts only
 * L = height * width (conv2d_check_len; the registry reports it through op_check_shape).
 * backward writes dx (=) and accumulates dweight, dbias (+=). act: none (backward reads x). */
#ifndef SUBQ_CONV2D_H
#define SUBQ_CONV2D_H

#include <stddef.h>

#include "config.h"
#include "core.h"
#include "rng.h"

typedef struct Conv2dConfig {
    int d_in, d_out;   /* C_in, C_out */
    int height, width; /* H, W of every image; L = H W */
    int kernel;        /* k, odd: "same" padding (k - 1) / 2 on every side */
    int groups;        /* G, divides C_in and C_out */
    int bias;          /* 0 or 1 */
} Conv2dConfig;

extern const ConfigField conv2d_config_fields[];
extern const int conv2d_config_field_count;

int conv2d_validate(const Conv2dConfig *cfg, char *err, size_t errlen);
/* 0 if L == height * width, else -1 with a one-line message. */
int conv2d_check_len(const Conv2dConfig *cfg, int L, char *err, size_t errlen);
int conv2d_param_specs(const Conv2dConfig *cfg, ParamSpec *out);
size_t conv2d_num_params(const Conv2dConfig *cfg);
/* torch.nn.Conv2d's default (kaiming_uniform a = sqrt(5)): weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * fan_in = (C_in / G) k k; weight drawn first. */
void conv2d_init(const Conv2dConfig *cfg, float *params, Rng *rng);
size_t conv2d_act_floats(const Conv2dConfig *cfg, int B, int L); /* 0 */
size_t conv2d_workspace_floats(const Conv2dConfig *cfg, int B, int L);
/* Requires L == height * width. */
void conv2d_forward(const Conv2dConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                    Workspace *ws);
void conv2d_backward(const Conv2dConfig *cfg, const float *params, const float *x, const float *act,
                     const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws);
/* N = B L output pixels, T = (C_in / G) k k taps per output: forward 2 N C_out T (+ N C_out with bias);
 * backward 4 N C_out T (dx and dweight) (+ N C_out for dbias). Padded taps are counted: the GEMM multiplies
 * them by zero, and the count stays a closed formula. */
OpFlops conv2d_flops(const Conv2dConfig *cfg, int B, int L);

#endif
