/* moe: sparsely-gated Mixture-of-Experts with noisy top-k gating (Shazeer et al. 2017, "Outrageously Large
 * Neural Networks"), a drop-in channel mixer x (N, D) -> y (N, D) over the N = B L tokens.
 *
 * Semantics: those of the widely used PyTorch port davidmrau/mixture-of-experts (moe.py, class MoE), with
 * the experts replaced by this project's feed-forward blocks. For token n (x_n a row of D values):
 *   clean_n = x_n gate.weight^T                                         (E)
 *   mode=train, noise=1:  std_n = softplus(x_n noise.weight^T) + 0.01,  h_n = clean_n + z_n * std_n
 *   otherwise (mode=infer, or noise=0):                                 h_n = clean_n
 *   keep the top k of h_n (ties: the lower expert index first); g = softmax over the k kept logits;
 *   y_n = sum over the kept experts e of g_e * expert_e(x_n),  expert_e(x) = fc2_e(act(fc1_e(x))),
 *   act = ReLU (moe.py's MLP) or exact GELU (the `ffn` block's).
 * z_n,e is a standard normal drawn from a counter-based hash of (seed, n, e) (moe_noise): the forward is a
 * pure function of its inputs and the config, backward sees the same noise (it is also kept in act), and a
 * trainer draws fresh noise by changing `seed` every step.
 *
 * Differences from moe.py, all deliberate:
 *  - Gates are Softmax(KeepTopK(h, k)) as in the paper (eq. 3-5) and moe.py up to commit 7d8489a (2023-12).
 *    Commits 6def823/1d77a00 (2024-04) take a softmax over all E logits and renormalise the kept ones with a
 *    +1e-6 in the denominator (the same function up to that epsilon), and then also pass those probabilities,
 *    not the noisy logits, as thresholds to _prob_in_top_k while comparing them with logits: a unit mismatch
 *    that we do not copy. Thresholds here are noisy logits, as in the paper and tensor2tensor.
 *  - moe.py stores w_gate and w_noise as (D, E) and computes x @ w_gate. Here they are torch.nn.Linear(D, E,
 *    bias=False) weights, (E, D): gate.weight = w_gate^T, noise.weight = w_noise^T. Both start at zero.
 *  - moe.py's MLP experts end in a Softmax(1) (its classification example); ours are plain ffn blocks.
 *  - Experts are stored stacked, one tensor per layer: experts.fc1.weight (E, H, D) is the E fc1.weight
 *    matrices of torch.nn.Linear(D, H) one after another (expert e's is slice [e]), and likewise fc1.bias
 *    (E, H), fc2.weight (E, D, H), fc2.bias (E, D). A ModuleList checkpoint (experts.<e>.fc1.weight, ...)
 *    maps to this by torch.stack. Per-expert tensors would need 2 + 4E ParamSpecs, beyond the registry's
 *    OP_MAX_PARAM_TENSORS for E >= 16, while the FFF comparison needs thousands of experts.
 *  - Optional capacity (not in moe.py; Switch Transformer / GShard style): with capacity_factor c > 0 each
 *    expert takes at most C = ceil(c k N / E) assignments, first come first served in priority order (all
 *    first choices in token order, then all second choices, ...); a dropped assignment contributes nothing
 *    to y (its gate is not renormalised away). capacity_factor = 0: unlimited.
 *
 * Parameters (named_parameters() order of baselines/torch/ref_moe.py, class MoE):
 *   gate.weight (E, D), noise.weight (E, D), experts.fc1.weight (E, H, D), experts.fc1.bias (E, H),
 *   experts.fc2.weight (E, D, H), experts.fc2.bias (E, D).
 * Init: gate.weight = noise.weight = 0 (moe.py); experts as torch.nn.Linear's default (ffn_init's rule).
 * With zero gate weights and no noise every logit ties, so every token goes to experts 0..k-1.
 * With k = 1 the single gate is softmax of one logit = 1, so sum(y dy) gives the gate weights no gradient
 * (as in moe.py); the router then learns only from the smooth load loss (noisy training) or the Switch loss.
 *
 * Config: "d_model=64,n_experts=8,top_k=2,d_hidden=64,activation=relu,mode=train,noise=1,
 * capacity_factor=0,seed=0". Limits: 1 <= top_k <= n_experts <= MOE_MAX_EXPERTS; at most INT_MAX parameters.
 *
 * API as every operator (DESIGN.md section 2): backward writes dx (=) and accumulates dparams (+=). It is the
 * exact gradient of sum(y dy) for the fixed noise and the fixed top-k choice (piecewise constant): dx, the
 * chosen experts' parameters, and gate.weight / noise.weight through the softmax over the kept logits and
 * the noise term h = clean + z std. moe_backward_aux adds the gradients of weighted auxiliary losses.
 *
 * Auxiliary losses (moe_aux_losses, read from act after a forward), with cv2(v) = var(v) / (mean(v)^2 + 1e-10),
 * var unbiased (torch's Tensor.var()), cv2 = 0 when E = 1 (moe.py cv_squared):
 *   importance_cv2 = cv2(importance), importance_e = sum over tokens of the gate of e (0 when not kept);
 *   load_cv2 = cv2(load); mode=train with noise and k < E: the smooth estimate of moe.py _prob_in_top_k,
 *     load_e = sum_n Phi((clean_ne - t_ne) / std_ne), t_ne = the (k+1)-th largest h_n if e is kept, else the
 *     k-th largest (the thresholds are noisy logits, so their gradients reach the gate and noise weights of
 *     the experts that hold those ranks); otherwise load_e = number of tokens that keep e (no gradient);
 *   switch_loss = E sum_e f_e P_e (Switch Transformer), f_e = the fraction of the N k assignments that chose e
 *     (before capacity; no gradient), P_e = mean over tokens of softmax(h_n) over all E experts.
 *   moe.py's training loss is loss_coef * (importance_cv2 + load_cv2), loss_coef = 1e-2.
 *   Importance and load count assignments before capacity drops.
 *
 * act: MOE_ACT_HEADER floats holding int32 counters (tokens, kept rows, dropped assignments, dropped tokens,
 *   capacity), then clean (N, E), [noisy: raw = x noise.weight^T (N, E), z (N, E), h (N, E)], gates (N, k),
 *   experts (N, k) int32, grouped row of each assignment (N, k) int32, assignment of each row (N k) int32,
 *   first row of each expert (E + 1) int32, fc1 outputs before and after the activation (N k, H) each,
 *   expert outputs (N k, D). Rows are grouped by expert (a counting sort), one GEMM per expert.
 *
 * FLOPs (core.h convention; multiply-add 2, other arithmetic and exp/log/sqrt/cos/erf 1, ReLU 0, GELU per
 * gelu.h; A = N k assignments, all assumed kept: capacity drops make the true count smaller):
 *   forward  = 2NED [clean]  + noisy ? N E (2D + 11) : 0   [noise: x Wn^T 2D, normal draw 6 (log, *, sqrt, *,
 *              cos, *), softplus 2, +0.01 1, clean + z std 2]
 *            + 4Nk [softmax over the kept: subtract max, exp, sum, divide]
 *            + A ((2D+1)H + act H + (2H+1)D) [experts] + 2AD [y += g out]
 *   backward = A 3D [dg = dy . out, dout = g dy] + A (D(4H+1) + act' H + H(4D+1)) [experts] + AD [dx sum]
 *            + 4Nk [softmax backward] + 4NED [gate.weight: dW and dx, dense over (N, E)]
 *            + noisy ? N E (5 + 4D) : 0 [dstd = dh z, sigmoid 3, * ; noise.weight dW and dx].
 *   The auxiliary losses and their gradients (O(N E) work) are not counted. Top-k selection, the counting
 *   sort, gathers and copies are free (comparisons and copies count 0). */
#ifndef SUBQ_MOE_H
#define SUBQ_MOE_H

#include <stdint.h>

#include "config.h"
#include "core.h"
#include "rng.h"

typedef enum MoeActivation { MOE_ACT_RELU = 0, MOE_ACT_GELU = 1 } MoeActivation;
typedef enum MoeMode { MOE_MODE_TRAIN = 0, MOE_MODE_INFER = 1 } MoeMode;

#define MOE_MAX_EXPERTS (1 << 20)
#define MOE_NOISE_EPSILON 0.01f   /* moe.py noisy_top_k_gating(noise_epsilon=1e-2) */
#define MOE_SOFTPLUS_THRESHOLD 20 /* torch.nn.Softplus(threshold=20): softplus(x) = x above it */
#define MOE_CV2_EPSILON 1e-10     /* moe.py cv_squared */
#define MOE_ACT_HEADER 16         /* floats before the saved tensors; keeps them 64-byte aligned */

typedef struct MoeConfig {
    int d_model;           /* D */
    int n_experts;         /* E */
    int top_k;             /* k */
    int d_hidden;          /* H: width of each expert */
    int activation;        /* MoeActivation */
    int mode;              /* MoeMode */
    int noise;             /* 1: noisy gating in mode=train */
    float capacity_factor; /* 0: unlimited */
    int seed;              /* selects the noise draw */
} MoeConfig;

/* What the last forward routed; see the auxiliary losses above. */
typedef struct MoeAux {
    double importance_cv2;
    double load_cv2;
    double switch_loss;
    int capacity;             /* per expert, in assignments (N when unlimited) */
    int dropped_assignments;  /* (token, rank) pairs over capacity */
    int dropped_tokens;       /* tokens all of whose k assignments were dropped (their y row is 0) */
} MoeAux;

extern const ConfigField moe_config_fields[];
extern const int moe_config_field_count;

int moe_validate(const MoeConfig *cfg, char *err, size_t errlen);
int moe_param_specs(const MoeConfig *cfg, ParamSpec *out); /* 6 tensors */
size_t moe_num_params(const MoeConfig *cfg);
void moe_init(const MoeConfig *cfg, float *params, Rng *rng);
size_t moe_act_floats(const MoeConfig *cfg, int B, int L);
size_t moe_workspace_floats(const MoeConfig *cfg, int B, int L); /* also covers moe_aux_losses */
void moe_forward(const MoeConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws);
void moe_backward(const MoeConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws);
/* Backward of sum(y dy) + w_importance importance_cv2 + w_load load_cv2 + w_switch switch_loss. */
void moe_backward_aux(const MoeConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                      float *dx, float *dparams, int B, int L, float w_importance, float w_load, float w_switch,
                      Workspace *ws);
OpFlops moe_flops(const MoeConfig *cfg, int B, int L);

/* Auxiliary losses and capacity counts of the forward that wrote act (same B, L). Returns -1 if ws is short. */
int moe_aux_losses(const MoeConfig *cfg, const float *act, int B, int L, MoeAux *out, Workspace *ws);

/* 1 when the gating adds noise (mode=train and noise=1). */
int moe_is_noisy(const MoeConfig *cfg);
/* Per-expert capacity for N tokens: ceil(capacity_factor k N / E), or N when capacity_factor = 0. */
int moe_capacity(const MoeConfig *cfg, int N);
/* The standard normal z for token row `token` (b L + l) and expert `expert` under cfg->seed. */
float moe_noise(const MoeConfig *cfg, int64_t token, int expert);

/* The FFF paper's MoE comparison (Belcak & Wattenhofer 2023): 2^depth experts, k = 1, each expert as wide as
 * an FFF leaf, ReLU (FFF's default), noisy gating in training, no capacity limit. */
MoeConfig moe_config_matching_fff(int depth, int leaf_width, int d_model);

#endif
