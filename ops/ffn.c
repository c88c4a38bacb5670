#include "ffn.h"

#include <stddef.h>
#include <stdio.h>

#include "gelu.h"
#include "gemm.h"
#include "linear.h"

const ConfigField ffn_config_fields[] = {
    {"d_model", CONFIG_INT, offsetof(FfnConfig, d_model), "64", NULL, "model width D"},
    {"d_hidden", CONFIG_INT, offsetof(FfnConfig, d_hidden), "256", NULL, "hidden width H"},
};
const int ffn_config_field_count = 2;

/* Views of the parameter (or gradient) block. */
typedef struct FfnParams {
    float *fc1_w; /* (H, D) */
    float *fc1_b; /* (H) */
    float *fc2_w; /* (D, H) */
    float *fc2_b; /* (D) */
} FfnParams;

static FfnParams ffn_views(const FfnConfig *cfg, const float *block)
{
    size_t D = (size_t)cfg->d_model, H = (size_t)cfg->d_hidden;
    float *p = (float *)block;
    return (FfnParams){p, p + H * D, p + H * D + H, p + 2 * H * D + H};
}

int ffn_validate(const FfnConfig *cfg, char *err, size_t errlen)
{
    if (cfg->d_model < 1 || cfg->d_hidden < 1) {
        snprintf(err, errlen, "ffn: need d_model >= 1 and d_hidden >= 1");
        return -1;
    }
    return 0;
}

int ffn_param_specs(const FfnConfig *cfg, ParamSpec *out)
{
    int D = cfg->d_model, H = cfg->d_hidden;
    size_t off = core_spec(&out[0], "fc1.weight", 0, 2, (int[]){H, D});
    off = core_spec(&out[1], "fc1.bias", off, 1, (int[]){H});
    off = core_spec(&out[2], "fc2.weight", off, 2, (int[]){D, H});
    core_spec(&out[3], "fc2.bias", off, 1, (int[]){D});
    return 4;
}

void ffn_init(const FfnConfig *cfg, float *params, Rng *rng)
{
    size_t D = (size_t)cfg->d_model, H = (size_t)cfg->d_hidden;
    FfnParams p = ffn_views(cfg, params);
    linear_init_uniform(p.fc1_w, H * D + H, cfg->d_model, rng); /* fc1 weight and bias share fan_in D */
    linear_init_uniform(p.fc2_w, D * H + D, cfg->d_hidden, rng);
}

size_t ffn_act_floats(const FfnConfig *cfg, int B, int L) { return 2 * (size_t)B * L * cfg->d_hidden; }

size_t ffn_workspace_floats(const FfnConfig *cfg, int B, int L)
{
    return ws_floats_for((size_t)B * L * cfg->d_hidden);
}

void ffn_forward(const FfnConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws)
{
    (void)ws;
    const int rows = B * L, D = cfg->d_model, H = cfg->d_hidden;
    FfnParams p = ffn_views(cfg, params);
    float *pre = act;                        /* (rows, H) fc1 output */
    float *hidden = act + (size_t)rows * H;  /* (rows, H) gelu(pre) */
    gemm_linear_forward(x, p.fc1_w, p.fc1_b, pre, rows, D, H);
    gelu_apply(pre, hidden, (size_t)rows * H);
    gemm_linear_forward(hidden, p.fc2_w, p.fc2_b, y, rows, H, D);
}

void ffn_backward(const FfnConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws)
{
    const int rows = B * L, D = cfg->d_model, H = cfg->d_hidden;
    FfnParams p = ffn_views(cfg, params), g = ffn_views(cfg, dparams);
    const float *pre = act, *hidden = act + (size_t)rows * H;
    float *dhidden = ws_take(ws, (size_t)rows * H); /* (rows, H) */
    gemm_linear_backward_params(dy, hidden, g.fc2_w, g.fc2_b, rows, H, D);
    gemm_linear_backward_input(dy, p.fc2_w, dhidden, rows, H, D, 0.0f);
    gelu_backward_apply(pre, dhidden, dhidden, (size_t)rows * H);
    gemm_linear_backward_params(dhidden, x, g.fc1_w, g.fc1_b, rows, D, H);
    gemm_linear_backward_input(dhidden, p.fc1_w, dx, rows, D, H, 0.0f);
}

OpFlops ffn_flops(const FfnConfig *cfg, int B, int L)
{
    double rows = (double)B * L, H = cfg->d_hidden;
    double fwd = gemm_linear_flops_forward(rows, cfg->d_model, cfg->d_hidden, 1) + GELU_FLOPS_FORWARD * rows * H +
                 gemm_linear_flops_forward(rows, cfg->d_hidden, cfg->d_model, 1);
    double bwd = gemm_linear_flops_backward(rows, cfg->d_hidden, cfg->d_model, 1) + GELU_FLOPS_BACKWARD * rows * H +
                 gemm_linear_flops_backward(rows, cfg->d_model, cfg->d_hidden, 1);
    return (OpFlops){fwd, bwd};
}
