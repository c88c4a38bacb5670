/* attention: causal multi-head self-attention with the semantics and parameter names of
 * torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True) called with a causal mask
 * (query t sees keys s <= t), no dropout. With causal=0 there is no mask: every query sees all L keys
 * (bidirectional, as in a ViT encoder).
 *
 * Parameters (PyTorch names, in named_parameters() order):
 *   in_proj_weight  (3D, D)  rows [0,D) make q, [D,2D) k, [2D,3D) v
 *   in_proj_bias    (3D)
 *   out_proj.weight (D, D)
 *   out_proj.bias   (D)
 * Head h uses channels [h*hd, (h+1)*hd) of q, k, v with hd = D / n_heads; scores are (q . k) / sqrt(hd).
 *
 * Two kernels behind one API, chosen by `impl`:
 *   naive: materialises every (b, h) L x L probability matrix and keeps it for backward (O(B H L^2) memory);
 *   tiled: FlashAttention's online softmax over key tiles, keeps only the output and the per-row
 *          log-sum-exp (O(B L D) memory), and recomputes the scores tile by tile in backward.
 * Both skip nothing observable: they agree to round-off, forward and backward.
 * Config string: "d_model=64,n_heads=4,impl=naive,causal=1" (impl: naive|tiled; causal: 1 (default) or 0).
 */
#ifndef SUBQ_ATTENTION_H
#define SUBQ_ATTENTION_H

#include "config.h"
#include "core.h"
#include "rng.h"

typedef enum AttentionImpl { ATTENTION_NAIVE = 0, ATTENTION_TILED = 1 } AttentionImpl;

typedef struct AttentionConfig {
    int d_model;
    int n_heads;
    int impl;   /* AttentionImpl */
    int causal; /* 1: query t sees keys s <= t; 0: all keys (bidirectional) */
} AttentionConfig;

extern const ConfigField attention_config_fields[];
extern const int attention_config_field_count;

int attention_validate(const AttentionConfig *cfg, char *err, size_t errlen);
int attention_param_specs(const AttentionConfig *cfg, ParamSpec *out); /* returns the tensor count (4) */
size_t attention_num_params(const AttentionConfig *cfg);
/* PyTorch's MultiheadAttention init: xavier_uniform in_proj_weight, zero biases, out_proj.weight
 * U(-1/sqrt(D), 1/sqrt(D)). */
void attention_init(const AttentionConfig *cfg, float *params, Rng *rng);
size_t attention_act_floats(const AttentionConfig *cfg, int B, int L);
size_t attention_workspace_floats(const AttentionConfig *cfg, int B, int L);
/* x, y: (B, L, D). act: attention_act_floats() floats, written by forward, read by backward. */
void attention_forward(const AttentionConfig *cfg, const float *params, const float *x, float *y, float *act, int B,
                       int L, Workspace *ws);
/* Writes dx (B, L, D); accumulates (+=) into dparams (laid out like params). */
void attention_backward(const AttentionConfig *cfg, const float *params, const float *x, const float *act,
                        const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws);
/* Analytic FLOPs: the useful work, identical for both kernels (neither the naive kernel's masked upper
 * triangle nor the tiled kernel's recomputation in backward is counted); L (L+1) / 2 query-key pairs per head
 * when causal, L^2 when not. */
OpFlops attention_flops(const AttentionConfig *cfg, int B, int L);

/* ---- generation: one position at a time with a key/value cache (docs/DESIGN.md section 11) ----
 * Causal only. state (attention_state_floats): the keys and values of every earlier position, (B, T, D) each,
 * after in_proj. attention_step at position t: x (B, D) -> y (B, D), appending this position's key and value;
 * y equals row t of attention_forward over the same prefix, to rounding. O(t D) per position: every step reads
 * the whole cache. Scratch: attention_step_workspace_floats(cfg, B, T). */
size_t attention_state_floats(const AttentionConfig *cfg, int B, int T);
size_t attention_step_workspace_floats(const AttentionConfig *cfg, int B, int T);
void attention_step(const AttentionConfig *cfg, const float *params, const float *x, float *y, float *state, int B,
                    int t, int T, Workspace *ws);
/* FLOPs of one step at position t: the projections and the (t + 1) query-key pairs per head. */
double attention_step_flops(const AttentionConfig *cfg, int B, int t);

#endif
