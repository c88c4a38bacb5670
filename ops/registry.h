/* registry: the one table of sequence operators (x (B, L, D_in) -> y (B, L, D_out)) that the runner
 * (`subq op ...`), the benchmarks and the tests iterate over. Adding an operator means: its module, one
 * OpKind, one entry in the name table and in op_table (registry.c); a static_assert keeps them in step. */
#ifndef SUBQ_REGISTRY_H
#define SUBQ_REGISTRY_H

#include "attention.h"
#include "config.h"
#include "conv2d.h"
#include "core.h"
#include "fff.h"
#include "ffn.h"
#include "fftconv.h"
#include "gelu.h"
#include "hyena.h"
#include "layernorm.h"
#include "linear.h"
#include "longconv2d.h"
#include "moe.h"
#include "rng.h"
#include "s4d.h"

#define OP_MAX_PARAM_TENSORS 64

typedef enum OpKind { OP_LINEAR, OP_LAYERNORM, OP_GELU, OP_FFN, OP_ATTENTION, OP_FFTCONV, OP_HYENA, OP_S4D, OP_FFF, OP_MOE, OP_CONV2D, OP_LONGCONV2D, OP_COUNT } OpKind;

typedef union OpConfigUnion {
    LinearConfig linear;
    LayerNormConfig layernorm;
    GeluConfig gelu;
    FfnConfig ffn;
    AttentionConfig attention;
    FftconvConfig fftconv;
    HyenaConfig hyena;
    S4dConfig s4d;
    FffConfig fff;
    MoeConfig moe;
    Conv2dConfig conv2d;
    Longconv2dConfig longconv2d;
} OpConfigUnion;

typedef struct OpInfo {
    const char *name;
    const char *summary;
    const ConfigField *fields;
    const int *field_count;
    int (*validate)(const void *cfg, char *err, size_t errlen);
    int (*d_in)(const void *cfg);
    int (*d_out)(const void *cfg);
    int (*param_specs)(const void *cfg, ParamSpec *out);
    void (*init)(const void *cfg, float *params, Rng *rng);
    size_t (*act_floats)(const void *cfg, int B, int L);
    size_t (*workspace_floats)(const void *cfg, int B, int L);
    void (*forward)(const void *cfg, const float *params, const float *x, float *y, float *act, int B, int L,
                    Workspace *ws);
    void (*backward)(const void *cfg, const float *params, const float *x, const float *act, const float *dy,
                     float *dx, float *dparams, int B, int L, Workspace *ws);
    OpFlops (*flops)(const void *cfg, int B, int L);
    int (*max_len)(const void *cfg); /* longest sequence the configured operator accepts; NULL: no limit */
    /* Any further rule on L (image operators: L == height * width): 0, or -1 with a one-line message; NULL: none */
    int (*check_len)(const void *cfg, int L, char *err, size_t errlen);
} OpInfo;

/* A configured operator. */
typedef struct Op {
    const OpInfo *info;
    OpConfigUnion cfg;
} Op;

const OpInfo *op_info(OpKind kind);
const OpInfo *op_find(const char *name); /* NULL if unknown */
/* Parses and validates "k=v,..." for the named operator. Returns -1 with a one-line message. */
int op_configure(Op *op, const char *name, const char *config, char *err, size_t errlen);
int op_config_string(const Op *op, char *out, size_t outlen);

/* Convenience wrappers over op->info with op->cfg. */
int op_d_in(const Op *op);
int op_d_out(const Op *op);
int op_param_specs(const Op *op, ParamSpec *out);
size_t op_num_params(const Op *op);
void op_init(const Op *op, float *params, Rng *rng);
size_t op_act_floats(const Op *op, int B, int L);
size_t op_workspace_floats(const Op *op, int B, int L);
void op_forward(const Op *op, const float *params, const float *x, float *y, float *act, int B, int L,
                Workspace *ws);
void op_backward(const Op *op, const float *params, const float *x, const float *act, const float *dy, float *dx,
                 float *dparams, int B, int L, Workspace *ws);
OpFlops op_flops(const Op *op, int B, int L);
/* 0 if the operator accepts B x L inputs; else -1 with a one-line message (e.g. L > l_max, or an image operator's
 * L != height * width). */
int op_check_shape(const Op *op, int B, int L, char *err, size_t errlen);

/* ---- generation: one position at a time (docs/DESIGN.md section 11) ----
 * Position-wise operators (linear, layernorm, gelu, ffn, fff, moe) step by running their forward at L = 1;
 * attention (causal), fftconv, hyena and s4d carry a state of the earlier positions; the image operators and
 * bidirectional attention do not generate. */
typedef enum OpStepKind { OP_STEP_NONE, OP_STEP_POSITION_WISE, OP_STEP_STATEFUL } OpStepKind;
/* How the configured operator steps; OP_STEP_NONE with a one-line reason in err. */
OpStepKind op_step_kind(const Op *op, char *err, size_t errlen);
/* Floats of state for B sequences of at most T positions (0: position-wise), and of scratch for one step. */
size_t op_state_floats(const Op *op, int B, int T);
size_t op_step_workspace_floats(const Op *op, int B, int T);
/* Position t (0-based) of B sequences of at most T positions: x (B, D_in) -> y (B, D_out), equal to row t of
 * op_forward over the same prefix, to rounding. The caller zeroes state before t = 0 and keeps it between steps;
 * the steps of one sequence come in order t = 0, 1, ... The operator must step (op_step_kind). */
void op_step(const Op *op, const float *params, const float *x, float *y, float *state, int B, int t, int T,
             Workspace *ws);
/* Analytic FLOPs of that step. */
double op_step_flops(const Op *op, int B, int t);

#endif
