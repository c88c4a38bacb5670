/* fftconv: causal long convolution of every channel with its own kernel, through FFTs of length 2L.
 *
 *   y[b, t, c] = sum_{s <= t} k[c, s] x[b, t - s, c] + bias[c] x[b, t, c]
 *
 * The engine (fftconv_cm_*) works channel-major, u (B, C, L), so each channel's sequence is contiguous for
 * the FFT; Hyena and S4D call it directly on their channel-major tensors. The registered operator
 * `fftconv` applies it to (B, L, D) tensors (gathering 16 channels at a time into contiguous rows, no
 * whole-tensor transposes) with parameters `k` (D, l_max) and `bias` (D), using the first L taps of k
 * (L <= l_max). Config: "d_model=64,l_max=1024".
 *
 * Zero-padding to 2L makes the circular convolution causal and exact: no output sees the future, and the
 * backward correlations (dx from dy and k, dk from dy and x) come from the same transforms. */
#ifndef SUBQ_FFTCONV_H
#define SUBQ_FFTCONV_H

#include "config.h"
#include "core.h"
#include "rng.h"

/* Scratch for the engine at sequence length L, for all threads. */
size_t fftconv_cm_workspace_floats(int L);
/* Plans the transforms for length L ahead of time (the only allocation; idempotent). 0 or -1. */
int fftconv_prepare(int L);
/* Floats of the spectra a forward can keep for its backward: the kernels' and the inputs' (B + 1) C. */
size_t fftconv_cm_spectra_floats(int B, int C, int L);
/* y (B, C, L) = causal conv of u (B, C, L) with k (C, k_stride) first L taps, + bias (C, or NULL) * u.
 * spectra: NULL, or fftconv_cm_spectra_floats(B, C, L) floats that receive the spectra for
 * fftconv_cm_backward_from_spectra. */
void fftconv_cm_forward(const float *k, int k_stride, const float *bias, const float *u, float *y, int B, int C,
                        int L, float *spectra, Workspace *ws);
/* du (B, C, L) = (written); dk (C, k_stride) first L taps += ; dbias (C) += (skipped when bias is NULL). */
void fftconv_cm_backward(const float *k, int k_stride, const float *bias, const float *u, const float *dy, float *du,
                         float *dk, float *dbias, int B, int C, int L, Workspace *ws);
/* The backward of a forward that kept its spectra: needs neither u nor k (two transforms fewer per channel,
 * and the skip gradient sum_t dy u from the spectra by Parseval). Same outputs as fftconv_cm_backward. */
void fftconv_cm_backward_from_spectra(float *spectra, const float *bias, const float *dy, float *du, float *dk,
                                      int k_stride, float *dbias, int B, int C, int L, Workspace *ws);
/* FLOPs of the FFT method (real FFT of n points counted as 2.5 n log2 n, the usual estimate for split-radix
 * real transforms); forward: B C + C transforms, products and the skip; backward: see fftconv.c. */
OpFlops fftconv_cm_flops(int B, int C, int L, int has_bias);

typedef struct FftconvConfig {
    int d_model;
    int l_max;
} FftconvConfig;

extern const ConfigField fftconv_config_fields[];
extern const int fftconv_config_field_count;

int fftconv_validate(const FftconvConfig *cfg, char *err, size_t errlen);
int fftconv_param_specs(const FftconvConfig *cfg, ParamSpec *out);
void fftconv_init(const FftconvConfig *cfg, float *params, Rng *rng); /* k ~ N(0, 1/l_max), bias ~ N(0, 1) */
size_t fftconv_act_floats(const FftconvConfig *cfg, int B, int L);       /* the forward's spectra */
size_t fftconv_workspace_floats(const FftconvConfig *cfg, int B, int L); /* engine + gathered rows */
void fftconv_forward(const FftconvConfig *cfg, const float *params, const float *x, float *y, float *act, int B,
                     int L, Workspace *ws);
void fftconv_backward(const FftconvConfig *cfg, const float *params, const float *x, const float *act,
                      const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws);
OpFlops fftconv_flops(const FftconvConfig *cfg, int B, int L);

/* ---- generation: one position at a time (docs/DESIGN.md section 11) ----
 * The exact cached convolution at position t of C channels:
 *   y[c] = sum_{s <= t} kT[t - s, c] hist[s, c] + bias[c] hist[t, c]      (bias may be NULL)
 * kT: the kernel time-major, rows of k_stride floats; hist: the inputs so far, rows of h_stride floats, row t the
 * current one. O(t C) per position: the sum the forward takes by FFT, in another order (equal to rounding).
 * Parallel over blocks of channels. */
void fftconv_cached_step(const float *kT, size_t k_stride, const float *hist, size_t h_stride, const float *bias,
                         float *y, int C, int t);
/* The registered operator's step: state (fftconv_state_floats) holds the kernel time-major (T, D), filled at
 * t = 0, and every sequence's inputs so far (B, T, D). T <= l_max. */
size_t fftconv_state_floats(const FftconvConfig *cfg, int B, int T);
void fftconv_step(const FftconvConfig *cfg, const float *params, const float *x, float *y, float *state, int B,
                  int t, int T);
/* FLOPs of one step at position t (the multiply-adds over t + 1 positions and the skip). */
double fftconv_step_flops(int B, int C, int t);

/* The exact online convolution by FFT tiles (Oncescu et al. 2024, "Flash Inference"): after position i, the
 * inputs i + 1 - b .. i (b the largest power of two dividing i + 1) are convolved with the kernel's taps
 * 0 .. 2b - 1 by one FFT of 2b points, and the results added to the pending outputs i + 1 .. i + b; together
 * these tiles cover every pair s < t exactly once, so position t's output is its pending sum plus
 * k[0] u[t] (+ the skip): exact to rounding, O(log^2 T) per position and channel amortised instead of O(t).
 * spectra (fftconv_online_spectra_floats, shared by all sequences): the kernel's spectrum at every tile size,
 * made by fftconv_online_prepare from k (C, k_stride) channel-major, which also makes the FFT plans. history
 * (fftconv_online_history_floats per sequence, zeroed before t = 0): the inputs and the pending outputs,
 * (C, T) each. fftconv_online_step at position t: u (C) in, y (C) out. */
size_t fftconv_online_spectra_floats(int C, int T);
size_t fftconv_online_history_floats(int C, int T);
size_t fftconv_online_workspace_floats(int T);
void fftconv_online_prepare(const float *k, size_t k_stride, int C, int T, float *spectra, Workspace *ws);
void fftconv_online_step(const float *spectra, const float *k, size_t k_stride, const float *bias, const float *u,
                         float *history, float *y, int C, int t, int T, Workspace *ws);
/* FLOPs of the online step at position t: the direct term and skip, and the tile that follows position t. */
double fftconv_online_step_flops(int C, int t, int T);

#endif
