/* hyena_filter: the implicit long filter of the Hyena operator (safari HyenaFilter.filter(L)), and the
 * views of the Hyena parameter block that it shares with hyena.c. Internal to the hyena module: the
 * contract for users is ops/hyena.h.
 *
 *   z (L, E) -> s_0 = z W_0^T + b_0 -> a_0 = sin(freq s_0) -> s_i = a_{i-1} W_i^T + b_i, a_i = sin(freq s_i)
 *   (i = 1 .. n) -> hf = a_n W_out^T (L, C) -> h[c, l] = hf[l, c] * decay[c, l],
 *   decay[c, l] = exp(-t_l |delta_c|) + shift   (1 when modulate = 0)
 * E = emb_dim, F = filter_order, n = num_inner_mlps, C = (order-1) d_model. h is stored channel-major
 * (C, L) so that its rows are the kernels fftconv_cm_* read (k_stride = L). */
#ifndef SUBQ_HYENA_FILTER_H
#define SUBQ_HYENA_FILTER_H

#include "core.h"
#include "hyena_config.h"

/* Pointers into a parameter (or gradient) block, in named_parameters() order. */
typedef struct HyenaParams {
    float *in_w, *in_b;         /* in_proj ((o+1)D, D), ((o+1)D) */
    float *out_w, *out_b;       /* out_proj (D, D), (D) */
    float *short_w, *short_b;   /* short_filter ((o+1)D, 1, K), ((o+1)D) */
    float *filter_bias;         /* filter_fn.bias (C): the long convolutions' skip beta, (o d) layout */
    float *z;                   /* pos_emb.z (l_max, E) */
    float *mlp_in_w, *mlp_in_b; /* implicit_filter.0 (F, E), (F) */
    float *freq;                /* implicit_filter.1.freq (F), shared by every Sin */
    float *mlp_inner;           /* n x [weight (F, F), bias (F)], contiguous (indices 2, 4, ..., 2n) */
    float *mlp_out_w;           /* implicit_filter.{2n+2}.weight (C, F) */
} HyenaParams;

HyenaParams hyena_params_view(const HyenaConfig *cfg, const float *block);
/* Points the filter MLP's views (mlp_in_w, mlp_in_b, freq, mlp_inner, mlp_out_w) at p, in that order: the
 * layout of the MLP's parameters in both the Hyena and the longconv2d blocks. */
void hyena_filter_mlp_view(HyenaParams *v, float *p, int emb_dim, int filter_order, int num_inner_mlps);
int hyena_filter_channels(const HyenaConfig *cfg); /* C = (order-1) d_model */

/* What the filter keeps for backward, for one sequence length L. */
typedef struct HyenaFilterActs {
    float *t;     /* (L) the buffer pos_emb.t, first L entries */
    float *pre;   /* (n+1) x (L, F): s_i, layer i at pre + i L F */
    float *post;  /* (n+1) x (L, F): a_i = sin(freq s_i) */
    float *decay; /* (C, L) exp(-t |delta|) + shift (unused when modulate = 0) */
    float *h;     /* (C, L) the filter */
} HyenaFilterActs;

size_t hyena_filter_act_floats(const HyenaConfig *cfg, int L);
HyenaFilterActs hyena_filter_acts(const HyenaConfig *cfg, float *base, int L);
size_t hyena_filter_workspace_floats(const HyenaConfig *cfg, int L);

void hyena_filter_forward(const HyenaConfig *cfg, const HyenaParams *p, const HyenaFilterActs *a, int L);
/* dh (C, L): the loss gradient w.r.t. h (destroyed). Accumulates into the filter gradients of g: z (first L
 * rows), the MLP weights and biases, freq. */
void hyena_filter_backward(const HyenaConfig *cfg, const HyenaParams *p, const HyenaFilterActs *a, float *dh,
                           const HyenaParams *g, int L, Workspace *ws);
OpFlops hyena_filter_flops(const HyenaConfig *cfg, int L);

/* The deterministic buffers, exposed for tests and interop (float32 as torch builds them):
 * element i of torch.linspace(start, end, n); t_l = hyena_linspace(0, 1, l_max, l);
 * deltas_c = hyena_delta(cfg, c) for c < C. */
float hyena_linspace(float start, float end, int n, int i);
float hyena_delta(const HyenaConfig *cfg, int c);
/* pos_emb.z default (l_max, emb_dim) into z. */
void hyena_init_pos_emb(const HyenaConfig *cfg, float *z);

#endif
