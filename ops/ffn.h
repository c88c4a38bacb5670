/* ffn: the dense feed-forward block y = fc2(gelu(fc1(x))), the baseline channel mixer.
 * Parameters (PyTorch names, named_parameters() order):
 *   fc1.weight (H, D), fc1.bias (H), fc2.weight (D, H), fc2.bias (D)
 * act keeps the fc1 output before and after GELU (2 B L H floats). Config: "d_model=64,d_hidden=256". */
#ifndef SUBQ_FFN_H
#define SUBQ_FFN_H

#include "config.h"
#include "core.h"
#include "rng.h"

typedef struct FfnConfig {
    int d_model;
    int d_hidden;
} FfnConfig;

extern const ConfigField ffn_config_fields[];
extern const int ffn_config_field_count;

int ffn_validate(const FfnConfig *cfg, char *err, size_t errlen);
int ffn_param_specs(const FfnConfig *cfg, ParamSpec *out);
void ffn_init(const FfnConfig *cfg, float *params, Rng *rng); /* torch.nn.Linear defaults for both layers */
size_t ffn_act_floats(const FfnConfig *cfg, int B, int L);
size_t ffn_workspace_floats(const FfnConfig *cfg, int B, int L); /* B L H for the hidden gradient */
void ffn_forward(const FfnConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws);
void ffn_backward(const FfnConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws);
OpFlops ffn_flops(const FfnConfig *cfg, int B, int L);

#endif
