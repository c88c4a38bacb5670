/* linear: y = x weight^T + bias over rows, torch.nn.Linear semantics and names (`weight` (d_out, d_in),
 * `bias` (d_out)). Config: "d_in=64,d_out=64,bias=1". */
#ifndef SUBQ_LINEAR_H
#define SUBQ_LINEAR_H

#include "config.h"
#include "core.h"
#include "rng.h"

typedef struct LinearConfig {
    int d_in, d_out;
    int bias; /* 0 or 1 */
} LinearConfig;

extern const ConfigField linear_config_fields[];
extern const int linear_config_field_count;

int linear_validate(const LinearConfig *cfg, char *err, size_t errlen);
int linear_param_specs(const LinearConfig *cfg, ParamSpec *out);
size_t linear_num_params(const LinearConfig *cfg);
/* torch.nn.Linear's default: weight and bias U(-1/sqrt(d_in), 1/sqrt(d_in)). */
void linear_init(const LinearConfig *cfg, float *params, Rng *rng);
size_t linear_act_floats(const LinearConfig *cfg, int B, int L);       /* 0: backward reads x */
size_t linear_workspace_floats(const LinearConfig *cfg, int B, int L); /* 0 */
void linear_forward(const LinearConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                    Workspace *ws);
/* Writes dx, accumulates dparams. */
void linear_backward(const LinearConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                     float *dx, float *dparams, int B, int L, Workspace *ws);
OpFlops linear_flops(const LinearConfig *cfg, int B, int L);

/* Uniform(-bound, bound) fill, torch.nn.init's kaiming_uniform(a=sqrt(5)) for a Linear with fan_in. */
void linear_init_uniform(float *w, size_t n, int fan_in, Rng *rng);

#endif
