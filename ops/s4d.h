/* s4d: the S4D layer of state-spaces/s4 `models/s4/s4d.py`, as S4D(d_model, d_state, dropout=0,
 * transposed=False) computes it (baselines/torch/SEMANTICS-hyena-s4d.md, section 2). x (B, L, H) -> y (B, L, H),
 * M = d_state / 2 complex modes per channel:
 *
 *   dt = exp(log_dt);  A = -exp(log_A_real) + i A_imag;  dtA = dt A                    (H, M)
 *   K[h, l] = 2 Re sum_n C_n (exp(dtA_n) - 1) / A_n exp(dtA_n l),   l < L              (H, L)  ZOH, B = 1
 *   y1 = causal conv(x, K) + D x          (ops/fftconv.h, channel-major)
 *   g  = GELU(y1)                          exact erf form
 *   z  = Conv1d(H, 2H, 1)(g) = g W^T + b   (B, L, 2H)
 *   y  = z[:, :, :H] * sigmoid(z[:, :, H:])   GLU over channels: first half the value, second the gate
 *
 * Parameters, named_parameters() order (PyTorch names and shapes):
 *   D                       (H)
 *   kernel.C                (H, M, 2)   real and imaginary parts
 *   kernel.log_dt           (H)
 *   kernel.log_A_real       (H, M)
 *   kernel.A_imag           (H, M)
 *   output_linear.0.weight  (2H, H, 1)
 *   output_linear.0.bias    (2H)
 * Init (S4D-Lin, the reference's order of draws): D ~ N(0, 1); log_dt ~ U[log dt_min, log dt_max);
 * C real and imaginary parts ~ N(0, 1/2); log_A_real = log 0.5; A_imag = pi n; the Conv1d weight and bias
 * ~ U(-1/sqrt(H), 1/sqrt(H)). The kernel is recomputed at the input's L on every forward (no l_max).
 * The kernel's powers exp(dtA l) are computed in double by a recurrence re-anchored with an exact complex exp
 * every S4D_ANCHOR steps, so the kernel stays accurate to float round-off at L = 65536.
 *
 * backward writes dx (=) and accumulates (+=) into every parameter gradient, including through the kernel
 * (log_dt, C, log_A_real, A_imag). act (s4d_act_floats) holds x channel-major, y1, the GELU output
 * row-major, z and the kernel: 5 B L H + H L floats; scratch from the Workspace.
 * Config: "d_model=64,d_state=64,dt_min=0.001,dt_max=0.1". */
#ifndef SUBQ_S4D_H
#define SUBQ_S4D_H

#include "config.h"
#include "core.h"
#include "rng.h"

#define S4D_ANCHOR 64

typedef struct S4dConfig {
    int d_model; /* H */
    int d_state; /* N; M = N / 2 complex modes */
    float dt_min, dt_max;
} S4dConfig;

extern const ConfigField s4d_config_fields[];
extern const int s4d_config_field_count;

int s4d_validate(const S4dConfig *cfg, char *err, size_t errlen);
int s4d_param_specs(const S4dConfig *cfg, ParamSpec *out); /* 7 */
size_t s4d_num_params(const S4dConfig *cfg);
void s4d_init(const S4dConfig *cfg, float *params, Rng *rng);
size_t s4d_act_floats(const S4dConfig *cfg, int B, int L);
size_t s4d_workspace_floats(const S4dConfig *cfg, int B, int L);
void s4d_forward(const S4dConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws);
void s4d_backward(const S4dConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws);
OpFlops s4d_flops(const S4dConfig *cfg, int B, int L);

/* The kernel alone, K (H, L), for tests and interop. */
void s4d_kernel(const S4dConfig *cfg, const float *params, float *K, int L);

#endif
