/* layernorm: torch.nn.LayerNorm(d_model, eps=1e-5) over the last dimension, names `weight`, `bias` (D).
 * act keeps the per-row mean and 1/std (2 floats a row); backward recomputes the normalised input.
 * Config: "d_model=64,eps=1e-5". */
#ifndef SUBQ_LAYERNORM_H
#define SUBQ_LAYERNORM_H

#include "config.h"
#include "core.h"
#include "rng.h"

typedef struct LayerNormConfig {
    int d_model;
    float eps;
} LayerNormConfig;

extern const ConfigField layernorm_config_fields[];
extern const int layernorm_config_field_count;

int layernorm_validate(const LayerNormConfig *cfg, char *err, size_t errlen);
int layernorm_param_specs(const LayerNormConfig *cfg, ParamSpec *out);
void layernorm_init(const LayerNormConfig *cfg, float *params, Rng *rng); /* weight 1, bias 0 */
size_t layernorm_act_floats(const LayerNormConfig *cfg, int B, int L);    /* 2 B L */
size_t layernorm_workspace_floats(const LayerNormConfig *cfg, int B, int L);
void layernorm_forward(const LayerNormConfig *cfg, const float *params, const float *x, float *y, float *act, int B,
                       int L, Workspace *ws);
void layernorm_backward(const LayerNormConfig *cfg, const float *params, const float *x, const float *act,
                        const float *dy, float *dx, float *dparams, int B, int L, Workspace *ws);
/* Per row of D: forward 8D + 5, backward 13D + 2 (see layernorm.c). */
OpFlops layernorm_flops(const LayerNormConfig *cfg, int B, int L);

#endif
