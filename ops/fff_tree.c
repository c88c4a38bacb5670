#include "fff_tree.h"

#include <stdbool.h>

#include "gelu.h"
#include "rng.h"

static bool is_ufb(const FffConfig *cfg) { return cfg->variant == FFF_VARIANT_UFB; }

int fff_n_nodes(const FffConfig *cfg) { return (1 << (cfg->depth + (is_ufb(cfg) ? 1 : 0))) - 1; }
int fff_n_leaves(const FffConfig *cfg) { return is_ufb(cfg) ? 0 : 1 << cfg->depth; }
size_t fff_ufb_neurons(const FffConfig *cfg) { return (size_t)cfg->parallel_size * fff_n_nodes(cfg); }
size_t fff_leaf_hidden(const FffConfig *cfg) { return (size_t)fff_n_leaves(cfg) * cfg->leaf_width; }

int fff_uses_gelu(const FffConfig *cfg)
{
    return cfg->activation == FFF_ACT_GELU || (cfg->activation == FFF_ACT_AUTO && is_ufb(cfg));
}

FffParams fff_params(const FffConfig *cfg, const float *block)
{
    const size_t D = (size_t)cfg->d_model;
    float *p = (float *)block;
    FffParams v = {0};
    if (is_ufb(cfg)) {
        const size_t R = fff_ufb_neurons(cfg);
        v.in_weight = p, v.in_bias = p + R * D, v.out_weight = p + R * D + R;
        return v;
    }
    const size_t K = (size_t)fff_n_nodes(cfg), LW = fff_leaf_hidden(cfg);
    v.node_weights = p;
    v.node_biases = v.node_weights + K * D;
    v.w1s = v.node_biases + K;
    v.b1s = v.w1s + LW * D;
    v.w2s = v.b1s + LW;
    v.b2s = v.w2s + LW * D;
    return v;
}

int fff_leak_swaps(const FffConfig *cfg, int64_t row, int node)
{
    if (!(cfg->region_leak > 0.0f) || is_ufb(cfg) || cfg->mode != FFF_MODE_TRAIN)
        return 0;
    uint64_t key = rng_mix64((uint64_t)(uint32_t)cfg->seed + 0x9E3779B97F4A7C15ULL) ^
                   ((uint64_t)row * (uint64_t)fff_n_nodes(cfg) + (uint64_t)node);
    float u = (float)(rng_mix64(key) >> 40) * (1.0f / 16777216.0f); /* 24 bits: uniform in [0, 1) */
    return u < cfg->region_leak;
}

void fff_activation(const FffConfig *cfg, const float *x, float *y, size_t n)
{
    if (fff_uses_gelu(cfg)) {
        gelu_apply(x, y, n);
        return;
    }
#pragma omp parallel for simd schedule(static) if (parallel : n > FFF_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void fff_activation_backward(const FffConfig *cfg, const float *x, const float *dy, float *dx, size_t n)
{
    if (fff_uses_gelu(cfg)) {
        gelu_backward_apply(x, dy, dx, n);
        return;
    }
#pragma omp parallel for simd schedule(static) if (parallel : n > FFF_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f; /* torch's ReLU gradient: 0 at x = 0 */
}

double fff_activation_flops(const FffConfig *cfg) { return fff_uses_gelu(cfg) ? GELU_FLOPS_FORWARD : 0.0; }
double fff_activation_backward_flops(const FffConfig *cfg) { return fff_uses_gelu(cfg) ? GELU_FLOPS_BACKWARD : 0.0; }
