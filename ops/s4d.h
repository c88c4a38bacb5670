/* s4d: the S4D layer of state-spaces/s4 `models/s4/s4d.py`, as S4D(d_model, d_state, dropout=0,
 * transposed=False) computes it (baselines/torch/SEMANTICS-hyena-s4d.md, section 2). x (B, L, H) -> y (B, L, H),
 * H = d_model, M = d_state / 2 complex modes per channel:
 *
 *   dt = exp(log_dt)                                                                   (H)
 *   A  = -exp(log_A_real) + i A_imag;  dtA = dt A;  C = C[..., 0] + i C[..., 1]        (H, M)
 *   K[h, l] = 2 Re sum_n C_n (exp(dtA_n) - 1) / A_n exp(dtA_n l),   l < L              (H, L)  ZOH, B = 1
 *   y1 = causal conv(x, K) + D x            ops/fftconv.h, channel-major (the D skip is the engine's bias)
 *   g  = GELU(y1)                            exact erf form
 *   z  = Conv1d(H, 2H, 1)(g) = g W^T + b     (B, L, 2H)
 *   y  = z[:, :, :H] * sigmoid(z[:, :, H:])  GLU over channels: first half the value, second half the gate
 *
 * Parameters, named_parameters() order (PyTorch names and shapes; spec section 2.2):
 *   D                       (H)
 *   kernel.C                (H, M, 2)   real and imaginary parts
 *   kernel.log_dt           (H)
 *   kernel.log_A_real       (H, M)
 *   kernel.A_imag           (H, M)
 *   output_linear.0.weight  (2H, H, 1)
 *   output_linear.0.bias    (2H)
 * Init (S4D-Lin, in the reference's order of draws): D ~ N(0, 1); log_dt ~ U[log dt_min, log dt_max);
 * C real and imaginary parts ~ N(0, 1/2) (complex standard normal); log_A_real = log 0.5; A_imag = pi n;
 * then the Conv1d weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)) (kaiming_uniform(a=sqrt 5), fan_in = H).
 * Dropout is not implemented (p = 0, the default). There is no l_max: the kernel is generated at the input's
 * L on every forward.
 *
 * Kernel generation (s4d_kernel) is in double: with l = l0 + j, l0 a multiple of S4D_BLOCK and j < S4D_BLOCK,
 *   exp(dtA l) = exp(dtA l0) exp(dtA j),
 * where the block starts' powers are products of two small tables of exact exponentials (exp(dtA l0) =
 * outer * inner, about sqrt(L / S4D_BLOCK) entries each) and the S4D_BLOCK powers exp(dtA j) products of two
 * tables of 8 exact exponentials. Every power is thus a product of at most four correctly rounded values: the
 * kernel keeps double accuracy at any L (no error growth from long repeated multiplication), and the bulk of the
 * work, K[l0 + j] = 2 Re sum_n (C'_n exp(dtA_n l0)) exp(dtA_n j), is a dense (block, mode) x (mode, j) product
 * that vectorises over j. Channels run in parallel (OpenMP); per-thread tables come from the Workspace.
 *
 * backward writes dx (=) and accumulates (+=) into every parameter gradient, including through the kernel
 * (kernel.C, log_dt, log_A_real, A_imag; the chain rule of spec section 4, summed per mode with the same
 * block tables); it reads x from act, not from its x argument. act (s4d_act_floats): x channel-major, y1 channel-major, g row-major (B L H each), z
 * (B L 2H) and K (H L): 5 B L H + H L floats. Scratch (s4d_workspace_floats): the FFT engine's or the kernel
 * tables' in forward; 4 B L H + H L plus the larger of those two in backward.
 * Config: "d_model=64,d_state=64,dt_min=0.001,dt_max=0.1". */
#ifndef SUBQ_S4D_H
#define SUBQ_S4D_H

#include "config.h"
#include "core.h"
#include "rng.h"

#define S4D_PARAM_TENSORS 7
#define S4D_BLOCK 64 /* kernel positions per block of the power table */

typedef struct S4dConfig {
    int d_model;    /* H */
    int d_state;    /* N, even; M = N / 2 complex modes */
    float dt_min;   /* log_dt init range */
    float dt_max;
} S4dConfig;

extern const ConfigField s4d_config_fields[];
extern const int s4d_config_field_count;

int s4d_validate(const S4dConfig *cfg, char *err, size_t errlen);
int s4d_param_specs(const S4dConfig *cfg, ParamSpec *out); /* S4D_PARAM_TENSORS */
size_t s4d_num_params(const S4dConfig *cfg);
void s4d_init(const S4dConfig *cfg, float *params, Rng *rng);
size_t s4d_act_floats(const S4dConfig *cfg, int B, int L);
size_t s4d_workspace_floats(const S4dConfig *cfg, int B, int L);
void s4d_forward(const S4dConfig *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                 Workspace *ws);
void s4d_backward(const S4dConfig *cfg, const float *params, const float *x, const float *act, const float *dy,
                  float *dx, float *dparams, int B, int L, Workspace *ws);
/* Analytic FLOPs (core.h convention); the terms are listed in s4d.c. */
OpFlops s4d_flops(const S4dConfig *cfg, int B, int L);

/* The kernel on its own, for tests, benchmarks and interop.
 * s4d_kernel: K (H, L) from the parameter block. s4d_kernel_backward: from dK (H, L), accumulates (+=) the
 * gradients of kernel.C, kernel.log_dt, kernel.log_A_real and kernel.A_imag into the gradient block dparams
 * (laid out like params). Both take s4d_kernel_workspace_floats(cfg, L) floats of scratch from ws. */
size_t s4d_kernel_workspace_floats(const S4dConfig *cfg, int L);
void s4d_kernel(const S4dConfig *cfg, const float *params, float *K, int L, Workspace *ws);
void s4d_kernel_backward(const S4dConfig *cfg, const float *params, const float *dK, float *dparams, int L,
                         Workspace *ws);
OpFlops s4d_kernel_flops(const S4dConfig *cfg, int L);

/* ---- generation: the recurrence (docs/DESIGN.md section 11) ----
 * The kernel is a sum of decaying modes, so the convolution is a linear recurrence per channel h and mode n:
 *   s_n[t] = exp(dtA_n) s_n[t-1] + x[t],    y1[t] = 2 Re sum_n C'_n s_n[t] + D x[t],
 * C'_n = C_n (exp(dtA_n) - 1) / A_n, which gives y1[t] = sum_l K[l] x[t - l] with K as s4d_kernel builds it.
 * O(H M) per position, whatever t. state (s4d_state_floats, independent of T): the coefficients exp(dtA) and C'
 * (computed at t = 0 from the parameters) and the modes' states (B, H, M), all complex double. s4d_step: x (B, H)
 * -> y (B, H), equal to row t of s4d_forward over the same prefix, to rounding. */
size_t s4d_state_floats(const S4dConfig *cfg, int B, int T);
size_t s4d_step_workspace_floats(const S4dConfig *cfg, int B, int T);
void s4d_step(const S4dConfig *cfg, const float *params, const float *x, float *y, float *state, int B, int t,
              int T, Workspace *ws);
/* FLOPs of one step: the recurrence (11 per mode), the skip, GELU, the output linear and the GLU. */
double s4d_step_flops(const S4dConfig *cfg, int B);

#endif
