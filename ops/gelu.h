/* gelu: exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))), like torch.nn.GELU() (approximate='none').
 * The element-wise kernels are shared by every block that uses GELU (ffn, s4d, ...). Config: "d_model=64". */
#ifndef SUBQ_GELU_H
#define SUBQ_GELU_H

#include "config.h"
#include "core.h"
#include "rng.h"

typedef struct GeluConfig {
    int d_model;
} GeluConfig;

#define GELU_FLOPS_FORWARD 5.0   /* per element: x/sqrt2, erf, 1+, 0.5x, product */
#define GELU_FLOPS_BACKWARD 11.0 /* per element: cdf 4, pdf 4, dy * (cdf + x pdf) 3 */

/* y[i] = gelu(x[i]); y may alias x. */
void gelu_apply(const float *x, float *y, size_t n);
/* dx[i] = dy[i] * gelu'(x[i]); dx may alias dy. */
void gelu_backward_apply(const float *x, const float *dy, float *dx, size_t n);

extern const ConfigField gelu_config_fields[];
extern const int gelu_config_field_count;

int gelu_validate(const GeluConfig *cfg, char *err, size_t errlen);
int gelu_param_specs(const GeluConfig *cfg, ParamSpec *out); /* 0 */
void gelu_init(const GeluConfig *cfg, float *params, Rng *rng);
size_t gelu_act_floats(const GeluConfig *cfg, int B, int L); /* 0: backward reads x */
size_t gelu_workspace_floats(const GeluConfig *cfg, int B, int L);
void gelu_forward(const GeluConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                  Workspace *ws);
void gelu_backward(const GeluConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                   float *dx, float *dparams, int B, int L, Workspace *ws);
OpFlops gelu_flops(const GeluConfig *cfg, int B, int L);

#endif
