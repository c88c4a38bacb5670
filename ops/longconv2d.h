/* longconv2d: per-channel 2D long convolution with an implicit, image-sized filter (the 2D long-convolution
 * layer of the Hyena paper's CIFAR-10 experiments, after Fu et al. 2023 "Simple Hardware-Efficient Long
 * Convolutions"), on channels-last images stored as sequences so that it fits the registry's (B, L, D) contract:
 *
 *   x (B, L = H W, D), pixel (p, q) at sequence position p W + q  ->  y (B, L, D)
 *   y[b, p, q, c] = sum_{i < H, j < W} h[c, i, j] x[b, p + ci - i, q + cj - j, c]  +  bias[c] x[b, p, q, c]
 *
 * Alignment ("same", centred): a true convolution with a kernel of the image's size whose centre tap
 * (ci, cj) = (H / 2, W / 2) (integer division) multiplies the pixel itself; equivalently y is the full linear
 * convolution h * x, of size (2H - 1, 2W - 1), cropped to rows ci .. ci + H - 1 and columns cj .. cj + W - 1.
 * x is zero outside the image (no wrap-around): the FFTs are (2H, 2W) real transforms of the zero-padded
 * kernel and image (ops/fft2d.h), large enough that the circular convolution equals the linear one. For odd
 * sizes the window is symmetric; for even sizes an output sees rows p - H/2 + 1 .. p + H/2 (likewise columns).
 *
 * The filter h (D, H, W) is implicit (Hyena-style, ops/hyena_filter.h, whose MLP this module calls):
 *   tap coordinates  u_i = (i - ci) / (H / 2), v_j = (j - cj) / (W / 2), in [-1, 1]
 *   features z (H W, E) = [u, v, cos(pi f_b u), -sin(pi f_b u), cos(pi f_b v), -sin(pi f_b v)],
 *       f_b = b + 1 for the nb = (E - 2) / 4 bands per axis (E = emb_dim = 2 + 4 nb); fixed, not parameters
 *   hf (D, H W) = Linear(E, F) -> sin(freq .) -> n x [Linear(F, F) -> sin(freq .)] -> Linear(F, D, no bias),
 *       ONE freq (1, F) shared by every Sin, as in Hyena
 *   window h[c, i, j] = hf[c, i, j] (exp(-alpha_c r_ij) + shift),  r_ij = sqrt((u_i^2 + v_j^2) / 2) in [0, 1]
 *       (1 at the corner (0, 0) for even sizes), alpha_c = |delta_c| spread over the channels exactly as
 *       Hyena's ExponentialModulation deltas: linspace(log(target)/slow_decay_pct, log(target)/fast_decay_pct,
 *       D) (hyena_delta); modulate = 0 drops the window (h = hf).
 *
 * Parameters (PyTorch names, named_parameters() order of baselines/torch/ref_vision.py LongConv2d):
 *   bias                              (D)      skip coefficient, ~ N(0, 1) as Hyena's filter_fn.bias
 *   implicit_filter.0.weight          (F, E)   Linear inits: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), weight and bias
 *   implicit_filter.0.bias            (F)
 *   implicit_filter.1.freq            (1, F)   = w
 *   implicit_filter.{2i}.weight       (F, F)   i = 1 .. n
 *   implicit_filter.{2i}.bias         (F)
 *   implicit_filter.{2n+2}.weight     (D, F)
 * Config: "d_model=64,height=32,width=32,filter_order=64,emb_dim=10,num_inner_mlps=2,w=1,...".
 * The operator accepts only L = height * width (longconv2d_check_len, reported through op_check_shape).
 *
 * backward writes dx (=) and accumulates (+=) into bias and every MLP parameter (including the shared freq).
 * act: the features, the MLP activations, the window and h (longconv2d_act_floats, independent of B). */
#ifndef SUBQ_LONGCONV2D_H
#define SUBQ_LONGCONV2D_H

#include <stddef.h>

#include "config.h"
#include "core.h"
#include "rng.h"

#define LONGCONV2D_MAX_INNER_MLPS 16

typedef struct Longconv2dConfig {
    int d_model;          /* D channels */
    int height, width;    /* H, W: the kernel has the image's size */
    int filter_order;     /* F, width of the implicit filter MLP */
    int emb_dim;          /* E = 2 + 4 nb: coordinates and nb sin/cos bands per axis */
    int num_inner_mlps;   /* n */
    float w;              /* Sin frequency init */
    float fast_decay_pct; /* window spread, as Hyena's ExponentialModulation */
    float slow_decay_pct;
    float target;
    float shift;          /* added to the window */
    int modulate;         /* 1: decay window, 0: none */
} Longconv2dConfig;

extern const ConfigField longconv2d_config_fields[];
extern const int longconv2d_config_field_count;

int longconv2d_validate(const Longconv2dConfig *cfg, char *err, size_t errlen);
/* 0 if L == height * width, else -1 with a one-line message. */
int longconv2d_check_len(const Longconv2dConfig *cfg, int L, char *err, size_t errlen);
int longconv2d_param_specs(const Longconv2dConfig *cfg, ParamSpec *out);
size_t longconv2d_num_params(const Longconv2dConfig *cfg);
/* Draw order: bias, then the Linears in order (weight then bias each); freq = w. */
void longconv2d_init(const Longconv2dConfig *cfg, float *params, Rng *rng);
size_t longconv2d_act_floats(const Longconv2dConfig *cfg, int B, int L);
size_t longconv2d_workspace_floats(const Longconv2dConfig *cfg, int B, int L);
/* Plans the (2H, 2W) transforms ahead of time (the only allocation; idempotent). 0 or -1. forward plans on
 * first use too, and writes NaN into y if FFTW cannot plan. */
int longconv2d_prepare(const Longconv2dConfig *cfg);
/* Requires L == height * width. */
void longconv2d_forward(const Longconv2dConfig *cfg, const float *params, const float *x, float *y, float *act, int B,
                        int L, Workspace *ws);
void longconv2d_backward(const Longconv2dConfig *cfg, const float *params, const float *x, const float *act,
                         const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws);
/* The filter MLP (hyena_filter_flops), the features (4 + 6 nb per tap), the window (5 per tap for r, 4 per
 * tap and channel; backward 1 per tap and channel) and the FFT engine (longconv2d_cm_flops). */
OpFlops longconv2d_flops(const Longconv2dConfig *cfg, int B, int L);

/* The filter h (D, H W), channel-major, as forward computes it (for tests, inspection and figures); scratch
 * holds longconv2d_act_floats(cfg, 1, H W) floats. */
void longconv2d_filter_values(const Longconv2dConfig *cfg, const float *params, float *scratch, float *h);

/* The FFT engine, channel-major: u, y (B, C, H, W), kernels k (C, H, W), with the alignment above.
 * forward:  y = crop(k * u) + bias (C, or NULL) u;
 * backward: du (=), dk (C, H, W) (+=), dbias (C) (+=, skipped when bias is NULL).
 * Scratch for all threads: longconv2d_cm_workspace_floats. */
size_t longconv2d_cm_workspace_floats(int H, int W);
void longconv2d_cm_forward(const float *k, const float *bias, const float *u, float *y, int B, int C, int H, int W,
                           Workspace *ws);
void longconv2d_cm_backward(const float *k, const float *bias, const float *u, const float *dy, float *du, float *dk,
                            float *dbias, int B, int C, int H, int W, Workspace *ws);
/* Real 2D FFT of n = 4 H W points counted 2.5 n log2 n; bins = 2H (W + 1) complex; L = H W:
 *   forward  = C (fft + L) + B C (2 fft + 6 bins + 2 L)
 *   backward = C (fft + L) + B C (3 fft + 14 bins + 4 L) + C (fft + 2 L)
 * (kernel transform and 1/n scaling per channel; per image: transforms, complex products (6 per bin, 8 when
 * accumulating), the skip (2 L; backward 4 L: du skip and dbias; both 0 without has_bias); then the dk
 * inverse and its scaled sum). */
OpFlops longconv2d_cm_flops(int B, int C, int H, int W, int has_bias);

#endif
