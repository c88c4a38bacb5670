/* hyena: the Hyena operator exactly as the official safari `standalone_hyena.py` HyenaOperator computes it
 * (see baselines/torch/SEMANTICS-hyena-s4d.md, sections 1 and 4). x (B, L, D) -> y (B, L, D), o = order,
 * F = filter_order, C = (o-1) D filter channels, K = short_filter_order, n = num_inner_mlps:
 *
 *   X      = in_proj(x)                                           (B, L, (o+1)D)
 *   uc     = causal depthwise conv of X, kernel K, padding K-1, first L outputs  (B, (o+1)D, L)
 *   ch_0 .. ch_o = uc split into chunks of D channels;  v = ch_o
 *   for x_i in ch_{o-1}, ..., ch_1 (j = 0 .. o-2):
 *       a = v * x_i;  v = h_j (*) a + beta_j * a                  causal long conv (ops/fftconv.h) + skip
 *   y      = out_proj(v * ch_0)
 *
 * The implicit filter h (computed once per forward, it depends only on L and the parameters):
 *   z = pos_emb.z[:L] (L, emb_dim) -> Linear(emb_dim, F) -> sin(freq .) -> n x [Linear(F, F) -> sin(freq .)]
 *     -> Linear(F, C, no bias) = hf (L, C);   h[l, c] = hf[l, c] * (exp(-t_l |deltas_c|) + shift)
 * with ONE freq vector (1, F) shared by every Sin (the official module reuses a single Sin instance), and
 * filter channel layout `(o d)`: filter j, channel d is column j*D + d; beta = filter_fn.bias, same layout.
 *
 * Official defaults (HyenaOperator / HyenaFilter / ExponentialModulation):
 *   order=2, filter_order=64, emb_dim=3, num_inner_mlps=2, w=1 (Sin freq init), short filter kernel 3
 *   (padding 2), fast_decay_pct=0.3, slow_decay_pct=1.5, target=1e-2, shift=0.0, modulate=True,
 *   dropout=0 and filter_dropout=0 (dropout is not implemented here: p = 0, as in the defaults).
 *   short_filter_order generalises the official hard-coded 3 (padding K-1 keeps it causal, as in safari's
 *   full hyena.py); the default 3 is the official operator.
 *
 * Parameters, named_parameters() order (PyTorch names and shapes):
 *   in_proj.weight                         ((o+1)D, D)
 *   in_proj.bias                           ((o+1)D)
 *   out_proj.weight                        (D, D)
 *   out_proj.bias                          (D)
 *   short_filter.weight                    ((o+1)D, 1, K)
 *   short_filter.bias                      ((o+1)D)
 *   filter_fn.bias                         (C)            the long-conv skip beta, (o d) layout
 *   filter_fn.pos_emb.z                    (1, l_max, emb_dim)
 *   filter_fn.implicit_filter.0.weight     (F, emb_dim)
 *   filter_fn.implicit_filter.0.bias       (F)
 *   filter_fn.implicit_filter.1.freq       (1, F)         shared by all Sin layers (indices 1, 3, ..., 2n+1)
 *   filter_fn.implicit_filter.{2i}.weight  (F, F)         i = 1 .. n (Sequential index 2i)
 *   filter_fn.implicit_filter.{2i}.bias    (F)
 *   filter_fn.implicit_filter.{2n+2}.weight (C, F)        last Linear, no bias
 * Buffers (not parameters; computed here, never stored): pos_emb.t (1, l_max, 1) = linspace(0, 1, l_max) and
 * modulation.deltas (1, 1, C) = linspace(log(target)/slow_decay_pct, log(target)/fast_decay_pct, C), both
 * built in float32 like torch.linspace: start + step*i for i < n/2, end - step*(n-1-i) otherwise.
 * Both live on the l_max grid: for L < l_max the filter is the first L taps of the l_max filter.
 *
 * Sequence length: the official module silently truncates its output to l_max when L > l_max; we refuse
 * such inputs instead (the registry's max_len hook returns l_max, op_check_shape reports it), so y always
 * has the shape of x.
 *
 * backward writes dx (=) and accumulates (+=) into every parameter gradient, including pos_emb.z (its
 * first L rows) and the shared freq (summed over all Sin layers). act holds what backward needs
 * (hyena_act_floats: (4o+1) B L D floats for the projections, short conv output, gated inputs and outputs
 * of the long convolutions and the out_proj input, plus 2 (n+1) L F + 2 C L + L for the filter); scratch
 * comes from the Workspace (hyena_workspace_floats: (2o+5) B L D + C L floats plus the FFT engine's).
 * Config: "d_model=64,l_max=1024,order=2,filter_order=64,...". */
#ifndef SUBQ_HYENA_H
#define SUBQ_HYENA_H

#include "config.h"
#include "core.h"
#include "hyena_config.h"
#include "rng.h"


extern const ConfigField hyena_config_fields[];
extern const int hyena_config_field_count;

int hyena_validate(const HyenaConfig *cfg, char *err, size_t errlen);
int hyena_param_specs(const HyenaConfig *cfg, ParamSpec *out);
size_t hyena_num_params(const HyenaConfig *cfg);
/* PyTorch defaults, in the official RNG draw order: in_proj, out_proj (Linear: weight and bias
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in))), short_filter (fan_in K), filter_fn.bias ~ N(0, 1), the MLP Linears
 * (fan_in emb_dim, then F); deterministic: freq = w, z as PositionalEmbedding builds it. */
void hyena_init(const HyenaConfig *cfg, float *params, Rng *rng);
size_t hyena_act_floats(const HyenaConfig *cfg, int B, int L);
size_t hyena_workspace_floats(const HyenaConfig *cfg, int B, int L);
/* Requires 1 <= L <= l_max. */
void hyena_forward(const HyenaConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                   Workspace *ws);
void hyena_backward(const HyenaConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                    float *dx, float *dparams, int B, int L, Workspace *ws);
/* Analytic FLOPs; the terms are listed in hyena.c. */
OpFlops hyena_flops(const HyenaConfig *cfg, int B, int L);
int hyena_max_len(const HyenaConfig *cfg); /* l_max */

/* The implicit long filter h (C, L), C = (order-1) d_model, as forward computes it: for inspection and figures.
 * scratch holds hyena_filter_scratch_floats(cfg, L) floats. */
size_t hyena_filter_scratch_floats(const HyenaConfig *cfg, int L);
void hyena_filter_values(const HyenaConfig *cfg, const float *params, int L, float *scratch, float *h);

/* ---- generation: exact cached convolution (docs/DESIGN.md section 11) ----
 * Hyena has no recurrence of its own (safari leaves step-by-step inference unimplemented). hyena_step at position
 * t computes the position's projections, its short convolution from the last K - 1 projections, and each long
 * convolution as the exact sum over every earlier gated input (fftconv_cached_step): O(t D) per position and
 * long convolution, equal to row t of hyena_forward over the same prefix, to rounding. state
 * (hyena_state_floats): the filter time-major (T, C), computed at t = 0 on the l_max grid (so the taps are those
 * of any forward of length <= T); the last K - 1 projections (B, K - 1, (o+1)D); the gated inputs of the o - 1
 * long convolutions so far, (o - 1, B, T, D). T <= l_max. */
size_t hyena_state_floats(const HyenaConfig *cfg, int B, int T);
size_t hyena_step_workspace_floats(const HyenaConfig *cfg, int B, int T);
void hyena_step(const HyenaConfig *cfg, const float *params, const float *x, float *y, float *state, int B, int t,
                int T, Workspace *ws);
/* step=fft (HYENA_STEP_FFT): each long convolution by exact FFT tiles instead (fftconv_online_step, Oncescu et al.
 * 2024): O(log^2 T) per position and channel amortised, the state the filter's spectra at every tile size and
 * each sequence's inputs and pending outputs (C, T). */
/* step=modal (HYENA_STEP_MODAL): each filter channel distilled at t = 0 into at most modal_order damped modes
 * (ops/modal_fit.h, Laughing Hyena), generated as their recurrence: O(modal_order) per position and channel, an
 * approximation of the forward whose error the fit's relative L2 error measures. */
/* FLOPs of one step at position t of T (the filter, computed once at t = 0, not included). */
double hyena_step_flops(const HyenaConfig *cfg, int B, int t, int T);

#endif
