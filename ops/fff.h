/* fff: Fast FeedForward networks (Belcak & Wattenhofer 2023), a drop-in channel mixer x (N, D) -> y (N, D)
 * over the N = B L tokens, in two variants and two modes.
 *
 * variant=fff: the authors' `fastfeedforward` package, class FFF (pbelcak/fastfeedforward, fastfeedforward/
 * fff.py). A binary tree of depth d: K = 2^d - 1 nodes stored level by level (node i has children 2i+1 and
 * 2i+2), Lf = 2^d leaves, each leaf a small two-layer network of width W = leaf_width:
 *     leaf_i(x) = act(x w1s[i] + b1s[i]) w2s[i] + b2s[i]
 *   mode=train (FFF.training_forward): at node j, p_j = sigmoid(x . node_weights[j] + node_biases[j]); with
 *     region_leak > 0 the node's children swap (b_j = 1 - p_j) with probability region_leak, else b_j = p_j;
 *     the left child gets weight 1 - b_j, the right b_j; leaf i's weight M_i is the product along its path
 *     (the root decision is the most significant bit of i) and y = sum_i M_i leaf_i(x). The mean decision
 *     entropy, (1 / (N K)) sum_{n,j} H(b_nj) with H(b) = -b log b - (1-b) log(1-b), b and 1-b each clamped to
 *     [1e-6, 1 - 1e-6] (fff.py compute_entropy_safe), is kept in act for the hardening loss h * entropy.
 *     The official module returns the per-node batch means (K,); their mean is the value kept here.
 *   mode=infer (FFF.eval_forward): hard descent, node = 2 node + 1 + (x . node_weights[node] +
 *     node_biases[node] >= 0) for d steps, then only that leaf runs, WITH b2s. The official eval_forward omits
 *     b2s (a known bug of its main branch), so it disagrees with the training mixture in the saturated limit;
 *     we do not copy that: infer equals the train mixture when every decision saturates.
 *   Parameters (named_parameters() order of the official module, PyTorch names and shapes):
 *     node_weights (K, D), node_biases (K, 1), w1s (Lf, D, W), b1s (Lf, W), w2s (Lf, W, D), b2s (Lf, D).
 *     The official module also registers `depth` as a non-trainable long Parameter first; it is not a float
 *     tensor and lives in the config here. Dropout, train_hardened and usage tracking are not implemented
 *     (their defaults: off).
 *   Init (official): node_weights, node_biases, w1s, b1s ~ U(-1/sqrt(D), 1/sqrt(D)); w2s, b2s ~
 *     U(-1/sqrt(W), 1/sqrt(W)), drawn in parameter order.
 *   Activation: ReLU (the official default) or GELU (exact).
 *
 * variant=ufb: UltraFastBERT's FFF (pbelcak/UltraFastBERT, training/cramming/architectures/fff.py). P =
 * parallel_size trees of depth d, each with Nn = 2^(d+1) - 1 single-neuron nodes, R = P Nn neurons:
 *     z = linear_in(x) (R, with bias); a = act(z) (GELU by default); per tree the path starts at node 0 and
 *     descends d times, node = 2 node + 1 + (z_node > 0); y = linear_out(a * path_mask) (no bias).
 *   Every node on the path contributes, so d = 11 uses 12 of 4095 neurons per token. mode=train computes all
 *     R neurons and masks them, as the official module does (its forward is the same in training and
 *     evaluation); mode=infer evaluates only the d + 1 path neurons per tree (same function, fewer FLOPs).
 *   Parameters: linear_in.weight (R, D), linear_in.bias (R), linear_out.weight (D, R); neuron (tree t, node c)
 *     is row t Nn + c. Init (official): linear_in ~ U(-sqrt(1/D), sqrt(1/D)) (weight and bias), linear_out ~
 *     U(-sqrt(1/((d+1) P)), +). leaf_width and region_leak do not apply (leaf_width is ignored; region_leak
 *     must be 0).
 *
 * Config: "d_model=64,depth=3,leaf_width=8,activation=auto,variant=fff,mode=train,region_leak=0,seed=0,
 * parallel_size=1". activation=auto is ReLU for fff and GELU for ufb (each module's default). region_leak
 * (fff, mode=train only) draws its swaps from a hash of (seed, token row, node), so forward is a pure
 * function of its inputs; a trainer that wants fresh swaps changes `seed` between steps.
 * Limits: depth 1..20 (fff) or 0..20 (ufb); at most INT_MAX parameters.
 *
 * API as every operator (DESIGN.md section 2): backward writes dx (=) and accumulates dparams (+=).
 *   mode=train backward is the exact gradient of sum(y dy); fff_backward_hardening adds the gradient of
 *     h * fff_mean_entropy (the registry's backward is h = 0).
 *   mode=infer backward is the gradient of the hard-routed function: dx and the chosen leaf's (fff) or the
 *     path neurons' (ufb) parameters; the routing is piecewise constant, so node parameters get no gradient.
 * act: FFF_ACT_HEADER floats (act[0] = mean entropy, 0 when not in fff training mode), then
 *   fff train: p (N, K), M (N, Lf), leaf pre-activations and activations (N, Lf W) each;
 *   ufb train: z and masked activations (N, R) each;  infer: see fff_infer.h.
 * Module layout (no cycle): ops/fff_tree.h holds the configuration, the tree geometry, the parameter views
 *   and the activation, used by this operator (ops/fff.c: configuration, training mode, dispatch) and by its
 *   inference paths (ops/fff_infer.c), neither of which it calls.
 * FLOPs (core.h convention; sigmoid 3, entropy 5 + 1 to sum per node, ReLU 0, GELU per gelu.h):
 *   fff train fwd per token: K(2D+1) + 3K + K + 6K + d Lf + Lf W (2D+1) + act Lf W + Lf W + 2 Lf W D + 2 Lf D,
 *     plus 1 division for the mean entropy;
 *   fff train bwd per token: 8 Lf W D + 4 Lf D + (5 + act') Lf W + 7K + 3(2^(d-1) - 1) + 4KD + K
 *     (the hardening term, when h != 0, is extra and not counted);
 *   fff infer fwd per token: d(2D+1) + W(2D+1) + act W + D(2W+1); bwd: 8 W D + D + W + act' W;
 *   ufb train fwd per token: R(2D+1) + act R + R + 2RD; bwd: 8RD + 2R + act' R;
 *   ufb infer fwd per token: P(d+1)(4D + 1 + act); bwd: P(d+1)(8D + 1 + act').
 *   Train mode computes y = (M * A) w2s_flat + M b2s (two GEMMs) instead of the official per-leaf outputs
 *   weighted afterwards: the same function, and the counts above are those of this algorithm. */
#ifndef SUBQ_FFF_H
#define SUBQ_FFF_H

#include "config.h"
#include "core.h"
#include "fff_tree.h"
#include "rng.h"

extern const ConfigField fff_config_fields[];
extern const int fff_config_field_count;

int fff_validate(const FffConfig *cfg, char *err, size_t errlen);
int fff_param_specs(const FffConfig *cfg, ParamSpec *out);
size_t fff_num_params(const FffConfig *cfg);
void fff_init(const FffConfig *cfg, float *params, Rng *rng);
size_t fff_act_floats(const FffConfig *cfg, int B, int L);
size_t fff_workspace_floats(const FffConfig *cfg, int B, int L);
void fff_forward(const FffConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws);
void fff_backward(const FffConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws);
/* backward of sum(y dy) + h * fff_mean_entropy(cfg, act); h applies to variant=fff, mode=train only. */
void fff_backward_hardening(const FffConfig *cfg, const float *params, const float *x, const float *act,
                            const float *dy, float *dx, float *dparams, int B, int L, float h, Workspace *ws);
OpFlops fff_flops(const FffConfig *cfg, int B, int L);

/* Mean decision entropy of the last forward that wrote act (fff, mode=train; 0 otherwise). */
float fff_mean_entropy(const FffConfig *cfg, const float *act);

#endif
