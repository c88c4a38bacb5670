/* fff_tree: what the FFF operator's training mode (ops/fff.c) and inference paths (ops/fff_infer.c) share:
 * the configuration, the tree's geometry, views of the parameter block, the region_leak swaps and the leaf
 * activation. It calls neither of them; its semantics are documented in ops/fff.h. Internal to ops/fff*.c and
 * the tests: a user of the operator includes ops/fff.h. */
#ifndef SUBQ_FFF_TREE_H
#define SUBQ_FFF_TREE_H

#include <stddef.h>
#include <stdint.h>

typedef enum FffVariant { FFF_VARIANT_FFF = 0, FFF_VARIANT_UFB = 1 } FffVariant;
typedef enum FffActivation { FFF_ACT_AUTO = 0, FFF_ACT_RELU = 1, FFF_ACT_GELU = 2 } FffActivation;
typedef enum FffMode { FFF_MODE_TRAIN = 0, FFF_MODE_INFER = 1 } FffMode;

#define FFF_MAX_DEPTH 20
#define FFF_PARALLEL_MIN 262144 /* element operations below which a parallel region costs more than the work */
#define FFF_ACT_HEADER 16         /* floats before the saved tensors; keeps them 64-byte aligned */
#define FFF_ENTROPY_EPSILON 1e-6  /* compute_entropy_safe's clamp: [eps, 1 - eps], as float32 */
#define FFF_SIGMOID_FLOPS 3.0     /* exp(-z), 1 +, 1 / */
#define FFF_ENTROPY_FLOPS 5.0     /* two logs, two products, one difference */

typedef struct FffConfig {
    int d_model;
    int depth;
    int leaf_width;    /* W (fff) */
    int activation;    /* FffActivation */
    int variant;       /* FffVariant */
    int mode;          /* FffMode */
    float region_leak; /* fff training only */
    int seed;          /* region_leak's swaps */
    int parallel_size; /* P (ufb) */
} FffConfig;

/* Views of a parameter (or gradient) block; the other variant's pointers are NULL. */
typedef struct FffParams {
    float *node_weights, *node_biases, *w1s, *b1s, *w2s, *b2s; /* fff */
    float *in_weight, *in_bias, *out_weight;                   /* ufb: linear_in.weight, .bias, linear_out */
} FffParams;

FffParams fff_params(const FffConfig *cfg, const float *block);
int fff_n_nodes(const FffConfig *cfg);  /* fff: K = 2^d - 1; ufb: Nn = 2^(d+1) - 1 (per tree) */
int fff_n_leaves(const FffConfig *cfg); /* fff: 2^d; ufb: 0 */
size_t fff_ufb_neurons(const FffConfig *cfg); /* ufb: R = P Nn */
size_t fff_leaf_hidden(const FffConfig *cfg); /* fff: Lf W, the leaves' hidden units together */
int fff_uses_gelu(const FffConfig *cfg);
/* 1 if region_leak swaps node `node` for token `row` (fff training): hash(seed, row, node) < region_leak. */
int fff_leak_swaps(const FffConfig *cfg, int64_t row, int node);
/* Element-wise leaf activation (ReLU or GELU, per cfg) and its backward (dx may alias dy). */
void fff_activation(const FffConfig *cfg, const float *x, float *y, size_t n);
void fff_activation_backward(const FffConfig *cfg, const float *x, const float *dy, float *dx, size_t n);
double fff_activation_flops(const FffConfig *cfg);          /* per element, forward */
double fff_activation_backward_flops(const FffConfig *cfg); /* per element, backward */

#endif
