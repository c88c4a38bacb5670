#include "linear.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "gemm.h"

const ConfigField linear_config_fields[] = {
    {"d_in", CONFIG_INT, offsetof(LinearConfig, d_in), "64", NULL, "input features"},
    {"d_out", CONFIG_INT, offsetof(LinearConfig, d_out), "64", NULL, "output features"},
    {"bias", CONFIG_INT, offsetof(LinearConfig, bias), "1", NULL, "1 to add a bias"},
};
const int linear_config_field_count = sizeof linear_config_fields / sizeof linear_config_fields[0];

int linear_validate(const LinearConfig *cfg, char *err, size_t errlen)
{
    if (cfg->d_in < 1 || cfg->d_out < 1 || (cfg->bias != 0 && cfg->bias != 1)) {
        snprintf(err, errlen, "linear: need d_in >= 1, d_out >= 1, bias 0 or 1");
        return -1;
    }
    return 0;
}

int linear_param_specs(const LinearConfig *cfg, ParamSpec *out)
{
    size_t off = core_spec(&out[0], "weight", 0, 2, (int[]){cfg->d_out, cfg->d_in});
    if (!cfg->bias)
        return 1;
    core_spec(&out[1], "bias", off, 1, (int[]){cfg->d_out});
    return 2;
}

size_t linear_num_params(const LinearConfig *cfg)
{
    return (size_t)cfg->d_out * cfg->d_in + (cfg->bias ? (size_t)cfg->d_out : 0);
}

void linear_init_uniform(float *w, size_t n, int fan_in, Rng *rng)
{
    float bound = 1.0f / sqrtf((float)fan_in);
    rng_fill_uniform(rng, w, n, -bound, bound);
}

void linear_init(const LinearConfig *cfg, float *params, Rng *rng)
{
    linear_init_uniform(params, linear_num_params(cfg), cfg->d_in, rng);
}

size_t linear_act_floats(const LinearConfig *cfg, int B, int L)
{
    (void)cfg, (void)B, (void)L;
    return 0;
}

size_t linear_workspace_floats(const LinearConfig *cfg, int B, int L)
{
    (void)cfg, (void)B, (void)L;
    return 0;
}

void linear_forward(const LinearConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                    Workspace *ws)
{
    (void)act, (void)ws;
    const float *bias = cfg->bias ? params + (size_t)cfg->d_out * cfg->d_in : NULL;
    gemm_linear_forward(x, params, bias, y, B * L, cfg->d_in, cfg->d_out);
}

void linear_backward(const LinearConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                     float *dx, float *dparams, int B, int L, Workspace *ws)
{
    (void)act, (void)ws;
    float *dbias = cfg->bias ? dparams + (size_t)cfg->d_out * cfg->d_in : NULL;
    gemm_linear_backward_input(dy, params, dx, B * L, cfg->d_in, cfg->d_out, 0.0f);
    gemm_linear_backward_params(dy, x, dparams, dbias, B * L, cfg->d_in, cfg->d_out);
}

OpFlops linear_flops(const LinearConfig *cfg, int B, int L)
{
    double rows = (double)B * L;
    return (OpFlops){gemm_linear_flops_forward(rows, cfg->d_in, cfg->d_out, cfg->bias),
                     gemm_linear_flops_backward(rows, cfg->d_in, cfg->d_out, cfg->bias)};
}
