/* The operator contract (ops/core.h, docs/DESIGN.md section 2), checked for every operator in the registry
 * from one table: gradients of x and of every parameter against finite differences; backward overwrites dx
 * and accumulates into the parameter gradients; the analytic FLOPs against an instrumented reference count;
 * `subq op run` round-trips through HDF5 to the same numbers as a direct call; a bad config is refused with
 * its one-line message. An operator added to the registry without a case here fails
 * contract.every_registered_operator_has_a_case. Operator-specific behaviour (values against the double
 * references, causality, memory, layouts) stays in the operator's own test file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5io.h"
#include "oprun.h"
#include "ref_attention.h"
#include "ref_fff.h"
#include "ref_hyena.h"
#include "ref_moe.h"
#include "ref_ops.h"
#include "ref_s4d.h"
#include "testutil.h"

/* Counts the operations of an instrumented reference on the fixture's data (the operations the reference
 * leaves to a formula, such as FFTs, are added from that formula). Returns 0, or -1 if out of memory. */
typedef int (*FlopCounter)(const OpFixture *fx, OpFlops *counted);

typedef struct ContractCase {
    const char *op, *config;
    int B, L;
    float eps;          /* finite-difference step */
    double grad_tol;    /* worst |analytic - numeric| / (|numeric| + 1e-2) over the sampled entries */
    float param_noise;  /* added to the initialised parameters so zero-initialised ones are exercised */
    FlopCounter count;  /* NULL only with flops_note saying why the count is a convention */
    const char *flops_note;
    const char *bad_config, *bad_message; /* a config the operator must refuse, and a part of its message */
} ContractCase;

#define GRAD_ATOL 1e-2
#define GRAD_SAMPLES 40

/* ---- instrumented FLOP counts ---- */

static double *doubles_of(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; d && i < n; i++)
        d[i] = x[i];
    return d;
}

static int count_linear(const OpFixture *fx, OpFlops *c)
{
    const LinearConfig *cfg = &fx->op.cfg.linear;
    const int rows = fx->B * fx->L, di = cfg->d_in, dout = cfg->d_out;
    const float *w = fx->params, *b = cfg->bias ? fx->params + (size_t)dout * di : NULL;
    double *y = calloc((size_t)rows * dout, sizeof *y), *dx = calloc((size_t)rows * di, sizeof *dx);
    double *dw = calloc((size_t)dout * di, sizeof *dw), *db = calloc((size_t)dout, sizeof *db);
    double *dy = doubles_of(fx->dy, (size_t)rows * dout);
    int rc = y && dx && dw && db && dy ? 0 : -1;
    if (rc == 0) {
        ref_linear_forward(fx->x, w, b, y, rows, di, dout, &c->forward);
        ref_linear_backward(fx->x, w, dy, dx, dw, b ? db : NULL, rows, di, dout, &c->backward);
    }
    free(y), free(dx), free(dw), free(db), free(dy);
    return rc;
}

static int count_layernorm(const OpFixture *fx, OpFlops *c)
{
    const LayerNormConfig *cfg = &fx->op.cfg.layernorm;
    const int rows = fx->B * fx->L, D = cfg->d_model;
    const size_t n = (size_t)rows * D;
    double *y = calloc(n, sizeof *y), *dx = calloc(n, sizeof *dx), *dw = calloc((size_t)D, sizeof *dw);
    double *db = calloc((size_t)D, sizeof *db), *dy = doubles_of(fx->dy, n);
    int rc = y && dx && dw && db && dy ? 0 : -1;
    if (rc == 0) {
        ref_layernorm_forward(fx->x, fx->params, fx->params + D, y, rows, D, cfg->eps, &c->forward);
        ref_layernorm_backward(fx->x, fx->params, dy, dx, dw, db, rows, D, cfg->eps, &c->backward);
    }
    free(y), free(dx), free(dw), free(db), free(dy);
    return rc;
}

static int count_gelu(const OpFixture *fx, OpFlops *c)
{
    const size_t n = (size_t)fx->B * fx->L * fx->d_in;
    double *x = doubles_of(fx->x, n), *dy = doubles_of(fx->dy, n), *y = calloc(n, sizeof *y);
    double *dx = calloc(n, sizeof *dx);
    int rc = x && dy && y && dx ? 0 : -1;
    if (rc == 0) {
        ref_gelu_forward(x, y, (long)n, &c->forward);
        ref_gelu_backward(x, dy, dx, (long)n, &c->backward);
    }
    free(x), free(dy), free(y), free(dx);
    return rc;
}

static int count_ffn(const OpFixture *fx, OpFlops *c)
{
    RefOutputs r;
    const FfnConfig *cfg = &fx->op.cfg.ffn;
    if (ref_ffn(fx->params, fx->x, fx->dy, fx->B * fx->L, cfg->d_model, cfg->d_hidden, &r) != 0)
        return -1;
    *c = (OpFlops){r.flops_forward, r.flops_backward};
    ref_outputs_free(&r);
    return 0;
}

static int count_conv2d(const OpFixture *fx, OpFlops *c)
{
    RefOutputs r;
    if (ref_conv2d(&fx->op.cfg.conv2d, fx->params, fx->x, fx->dy, fx->B, &r) != 0)
        return -1;
    *c = (OpFlops){r.flops_forward, r.flops_backward};
    ref_outputs_free(&r);
    return 0;
}

/* The references of the large operators write y, dx and dparams into caller buffers of these sizes. */
typedef struct RefBuffers {
    double *y, *dx, *dparams;
} RefBuffers;

static int ref_buffers_alloc(RefBuffers *b, const OpFixture *fx)
{
    b->y = calloc((size_t)fx->B * fx->L * fx->d_out, sizeof(double));
    b->dx = calloc((size_t)fx->B * fx->L * fx->d_in, sizeof(double));
    b->dparams = calloc(fx->n_params ? fx->n_params : 1, sizeof(double));
    return b->y && b->dx && b->dparams ? 0 : -1;
}

static void ref_buffers_free(RefBuffers *b) { free(b->y), free(b->dx), free(b->dparams); }

/* Runs the double reference of attention, hyena or s4d (they share one signature) on the fixture's data. */
static int run_sequence_reference(const OpFixture *fx, OpFlops *c)
{
    RefBuffers b;
    int rc = ref_buffers_alloc(&b, fx);
    if (rc == 0) {
        const OpConfigUnion *u = &fx->op.cfg;
#define REF_ARGS fx->params, fx->x, fx->dy, fx->B, fx->L, b.y, b.dx, b.dparams, &c->forward, &c->backward
        if (fx->op.info == op_info(OP_ATTENTION))
            rc = ref_attention(&u->attention, REF_ARGS);
        else if (fx->op.info == op_info(OP_HYENA))
            rc = ref_hyena(&u->hyena, REF_ARGS);
        else
            rc = ref_s4d(&u->s4d, REF_ARGS);
#undef REF_ARGS
    }
    ref_buffers_free(&b);
    return rc == 0 ? 0 : -1;
}

static int count_attention(const OpFixture *fx, OpFlops *c) { return run_sequence_reference(fx, c); }

/* The reference convolves directly; the FFT method's cost is fftconv_cm_flops by the convention in
 * ops/fftconv.h (2.5 n log2 n per real transform), added once per long convolution. */
static int count_hyena(const OpFixture *fx, OpFlops *c)
{
    const HyenaConfig *cfg = &fx->op.cfg.hyena;
    OpFlops conv = fftconv_cm_flops(fx->B, cfg->d_model, fx->L, 1);
    int rc = run_sequence_reference(fx, c); /* writes the counts */
    c->forward += (cfg->order - 1) * conv.forward;
    c->backward += (cfg->order - 1) * conv.backward;
    return rc;
}

/* The reference counts GELU, the output Conv1d and GLU; the kernel is s4d_kernel_flops and the convolution
 * fftconv_cm_flops (the FFT convention). */
static int count_s4d(const OpFixture *fx, OpFlops *c)
{
    const S4dConfig *cfg = &fx->op.cfg.s4d;
    OpFlops kernel = s4d_kernel_flops(cfg, fx->L), conv = fftconv_cm_flops(fx->B, cfg->d_model, fx->L, 1);
    int rc = run_sequence_reference(fx, c); /* writes the counts */
    c->forward += kernel.forward + conv.forward;
    c->backward += kernel.backward + conv.backward;
    return rc;
}

static int count_fff(const OpFixture *fx, OpFlops *c)
{
    RefBuffers b;
    int rc = ref_buffers_alloc(&b, fx);
    RefFffOut out = {.y = b.y, .dx = b.dx, .dparams = b.dparams};
    if (rc == 0)
        rc = ref_fff(&fx->op.cfg.fff, fx->params, fx->x, fx->dy, fx->B * fx->L, 0.0, &out);
    *c = (OpFlops){out.flops_forward, out.flops_backward};
    ref_buffers_free(&b);
    return rc;
}

static int count_moe(const OpFixture *fx, OpFlops *c)
{
    const MoeConfig *cfg = &fx->op.cfg.moe;
    const int N = fx->B * fx->L;
    RefMoe r;
    RefBuffers b;
    if (ref_moe_alloc(&r, cfg, N) != 0)
        return -1;
    int rc = ref_buffers_alloc(&b, fx);
    if (rc == 0) {
        ref_moe_forward(cfg, fx->params, fx->x, &r, &c->forward);
        ref_moe_backward(cfg, fx->params, fx->x, &r, fx->dy, b.dx, b.dparams, &c->backward);
    }
    ref_buffers_free(&b);
    ref_moe_free(&r);
    return rc;
}

/* ---- the table: at least one case per registered operator ---- */

static const ContractCase cases[] = {
    {.op = "linear", .config = "d_in=5,d_out=3", .B = 2, .L = 3, .eps = 1e-2f, .grad_tol = 1e-2, .param_noise = 0.1f,
     .count = count_linear, .bad_config = "d_in=0", .bad_message = "need d_in >= 1"},
    {.op = "linear", .config = "d_in=4,d_out=6,bias=0", .B = 1, .L = 5, .eps = 1e-2f, .grad_tol = 1e-2,
     .param_noise = 0.1f, .count = count_linear, .bad_config = "bias=2", .bad_message = "bias 0 or 1"},
    {.op = "layernorm", .config = "d_model=7", .B = 2, .L = 3, .eps = 1e-2f, .grad_tol = 1e-2, .param_noise = 0.3f,
     .count = count_layernorm, .bad_config = "eps=0", .bad_message = "eps > 0"},
    {.op = "gelu", .config = "d_model=6", .B = 2, .L = 4, .eps = 1e-2f, .grad_tol = 1e-2, .count = count_gelu,
     .bad_config = "d_model=0", .bad_message = "need d_model >= 1"},
    {.op = "ffn", .config = "d_model=5,d_hidden=9", .B = 2, .L = 3, .eps = 1e-2f, .grad_tol = 1e-2,
     .param_noise = 0.1f, .count = count_ffn, .bad_config = "d_hidden=0", .bad_message = "d_hidden >= 1"},
    {.op = "attention", .config = "d_model=8,n_heads=2,impl=naive", .B = 2, .L = 5, .eps = 1e-2f, .grad_tol = 1e-2,
     .param_noise = 0.1f, .count = count_attention, .bad_config = "d_model=10,n_heads=4",
     .bad_message = "d_model % n_heads == 0"},
    {.op = "attention", .config = "d_model=6,n_heads=2,impl=tiled", .B = 1, .L = 140, .eps = 1e-2f,
     .grad_tol = 1e-2, .param_noise = 0.1f, .count = count_attention, .bad_config = "impl=flash",
     .bad_message = "impl"},
    {.op = "fftconv", .config = "d_model=3,l_max=9", .B = 2, .L = 9, .eps = 1e-2f, .grad_tol = 1e-2,
     .flops_note = "the FFT method's cost is a convention (ops/fftconv.h: 2.5 n log2 n per real transform), not "
                   "a count of what FFTW performs",
     .bad_config = "l_max=0", .bad_message = "l_max >= 1"},
    {.op = "hyena", .config = "d_model=4,l_max=8,order=2,filter_order=4", .B = 2, .L = 8, .eps = 1e-2f,
     .grad_tol = 2e-2, .param_noise = 0.1f, .count = count_hyena, .bad_config = "order=1",
     .bad_message = "order >= 2"},
    {.op = "hyena", .config = "d_model=3,l_max=12,order=3,filter_order=4", .B = 1, .L = 11, .eps = 1e-2f,
     .grad_tol = 2e-2, .param_noise = 0.1f, .count = count_hyena, .bad_config = "emb_dim=4",
     .bad_message = "emb_dim"},
    {.op = "s4d", .config = "d_model=3,d_state=8", .B = 2, .L = 17, .eps = 3e-3f, .grad_tol = 2e-2,
     .param_noise = 0.1f, .count = count_s4d, .bad_config = "d_state=3", .bad_message = "d_state must be even"},
    {.op = "fff", .config = "d_model=5,depth=3,leaf_width=3,activation=gelu", .B = 2, .L = 3, .eps = 1e-2f,
     .grad_tol = 1e-2, .param_noise = 0.1f, .count = count_fff, .bad_config = "depth=-1",
     .bad_message = "depth must be in"},
    {.op = "fff", .config = "d_model=5,depth=2,leaf_width=3,mode=infer", .B = 2, .L = 3, .eps = 1e-3f,
     .grad_tol = 1e-2, .param_noise = 0.1f, .count = count_fff, .bad_config = "mode=eval", .bad_message = "mode"},
    {.op = "fff", .config = "d_model=6,depth=2,variant=ufb,parallel_size=2", .B = 1, .L = 4, .eps = 1e-3f,
     .grad_tol = 1e-2, .param_noise = 0.1f, .count = count_fff, .bad_config = "variant=ufb,parallel_size=0",
     .bad_message = "parallel_size"},
    {.op = "moe", .config = "d_model=4,n_experts=4,top_k=2,d_hidden=5,seed=3", .B = 2, .L = 3, .eps = 1e-3f,
     .grad_tol = 1e-2, .param_noise = 0.3f, .count = count_moe, .bad_config = "top_k=9,n_experts=8",
     .bad_message = "top_k must be in 1..n_experts"},
    {.op = "moe", .config = "d_model=4,n_experts=3,top_k=1,d_hidden=5,mode=infer,activation=gelu", .B = 1, .L = 5,
     .eps = 1e-3f, .grad_tol = 1e-2, .param_noise = 0.3f, .count = count_moe, .bad_config = "activation=tanh",
     .bad_message = "activation"},
    {.op = "conv2d", .config = "d_in=3,d_out=4,height=4,width=5,kernel=3", .B = 2, .L = 20, .eps = 1e-2f,
     .grad_tol = 1e-2, .param_noise = 0.1f, .count = count_conv2d, .bad_config = "kernel=4",
     .bad_message = "kernel must be odd"},
    {.op = "conv2d", .config = "d_in=4,d_out=4,height=3,width=3,kernel=3,groups=4,bias=0", .B = 1, .L = 9,
     .eps = 1e-2f, .grad_tol = 1e-2, .param_noise = 0.1f, .count = count_conv2d, .bad_config = "d_in=4,groups=3",
     .bad_message = "groups"},
    {.op = "longconv2d", .config = "d_model=3,height=4,width=4,filter_order=4", .B = 2, .L = 16, .eps = 1e-2f,
     .grad_tol = 2e-2, .param_noise = 0.1f,
     .flops_note = "no instrumented reference of the implicit 2D filter yet: the count is the filter MLP's, the "
                   "window's and the FFT convention's formulas (ops/longconv2d.h)",
     .bad_config = "emb_dim=3", .bad_message = "emb_dim must be 2 + 4 bands"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static void setup_case(OpFixture *fx, const ContractCase *c, uint64_t seed)
{
    cr_assert_eq(fixture_setup(fx, c->op, c->config, c->B, c->L, seed, c->param_noise), 0, "%s (%s): setup failed",
                 c->op, c->config);
}

Test(contract, every_registered_operator_has_a_case)
{
    for (int k = 0; k < OP_COUNT; k++) {
        const char *name = op_info((OpKind)k)->name;
        int found = 0;
        for (size_t i = 0; i < N_CASES; i++)
            found |= strcmp(cases[i].op, name) == 0;
        cr_expect(found, "operator '%s' has no case in tests/test_contract.c", name);
    }
}

Test(contract, gradients_of_x_and_every_parameter_match_finite_differences)
{
    for (size_t i = 0; i < N_CASES; i++) {
        OpFixture fx;
        setup_case(&fx, &cases[i], 7 + i);
        char worst[256];
        double err = gradcheck_op(&fx, cases[i].eps, GRAD_SAMPLES, GRAD_ATOL, worst, sizeof worst);
        cr_expect_leq(err, cases[i].grad_tol, "%s (%s): worst gradient error %.3g at %s", cases[i].op,
                      cases[i].config, err, worst);
        fixture_teardown(&fx);
    }
}

Test(contract, backward_overwrites_dx_and_accumulates_parameter_gradients)
{
    for (size_t i = 0; i < N_CASES; i++) {
        OpFixture fx;
        setup_case(&fx, &cases[i], 11 + i);
        expect_backward_overwrites_dx_and_accumulates(&fx);
        fixture_teardown(&fx);
    }
}

Test(contract, analytic_flops_equal_the_instrumented_count)
{
    for (size_t i = 0; i < N_CASES; i++) {
        const ContractCase *c = &cases[i];
        if (!c->count) {
            cr_expect(c->flops_note && *c->flops_note, "%s (%s): no FLOP counter and no note saying why", c->op,
                      c->config);
            continue;
        }
        OpFixture fx;
        setup_case(&fx, c, 13 + i);
        OpFlops counted = {0, 0}, formula = op_flops(&fx.op, c->B, c->L);
        cr_assert_eq(c->count(&fx, &counted), 0, "%s: out of memory", c->op);
        cr_expect_leq(fabs(formula.forward - counted.forward), 1e-12 * counted.forward,
                      "%s (%s) B=%d L=%d: forward flops %.17g, counted %.17g", c->op, c->config, c->B, c->L,
                      formula.forward, counted.forward);
        cr_expect_leq(fabs(formula.backward - counted.backward), 1e-12 * counted.backward,
                      "%s (%s) B=%d L=%d: backward flops %.17g, counted %.17g", c->op, c->config, c->B, c->L,
                      formula.backward, counted.backward);
        fixture_teardown(&fx);
    }
}

Test(contract, bad_config_is_refused_with_its_one_line_message)
{
    for (size_t i = 0; i < N_CASES; i++) {
        Op op;
        char err[CONFIG_ERR_LEN] = "";
        cr_expect_neq(op_configure(&op, cases[i].op, cases[i].bad_config, err, sizeof err), 0, "%s: '%s' accepted",
                      cases[i].op, cases[i].bad_config);
        cr_expect(strstr(err, cases[i].bad_message) != NULL, "%s '%s': message '%s' should say '%s'", cases[i].op,
                  cases[i].bad_config, err, cases[i].bad_message);
        cr_expect(strchr(err, '\n') == NULL, "%s: one line", cases[i].op);
    }
}

/* ---- `subq op run` round trip ---- */

static void write_run_input(const OpFixture *fx, const char *path)
{
    char err[256];
    H5File *f = h5io_create_atomic(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    int xs[3] = {fx->B, fx->L, fx->d_in}, ys[3] = {fx->B, fx->L, fx->d_out};
    cr_assert_eq(h5io_write_floats(f, "x", fx->x, 3, xs, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_write_floats(f, "dy", fx->dy, 3, ys, err, sizeof err), 0, "%s", err);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx->op, specs);
    for (int t = 0; t < count; t++) {
        char name[CORE_NAME_LEN + 16];
        snprintf(name, sizeof name, "params/%.*s", CORE_NAME_LEN, specs[t].name);
        cr_assert_eq(h5io_write_floats(f, name, fx->params + specs[t].offset, specs[t].ndim, specs[t].shape, err,
                                       sizeof err),
                     0, "%s", err);
    }
    cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
}

static void expect_round_trip(const ContractCase *c, const char *dir, uint64_t seed)
{
    char in_path[256], out_path[256], err[512];
    snprintf(in_path, sizeof in_path, "%s/%s_in.h5", dir, c->op);
    snprintf(out_path, sizeof out_path, "%s/%s_out.h5", dir, c->op);
    OpFixture fx;
    setup_case(&fx, c, seed);
    write_run_input(&fx, in_path);
    cr_assert_eq(oprun_run(c->op, c->config, in_path, out_path, 0, err, sizeof err), OPRUN_OK, "%s (%s): %s", c->op,
                 c->config, err);
    fixture_backward(&fx);
    H5File *f = h5io_open_read(out_path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    expect_h5_dataset(f, c->op, "y", fx.y, (size_t)c->B * c->L * fx.d_out);
    expect_h5_dataset(f, c->op, "dx", fx.dx, (size_t)c->B * c->L * fx.d_in);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx.op, specs);
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "grads/%.*s", CORE_NAME_LEN, specs[t].name);
        expect_h5_dataset(f, c->op, path, fx.dparams + specs[t].offset, specs[t].numel);
        snprintf(path, sizeof path, "params/%.*s", CORE_NAME_LEN, specs[t].name);
        expect_h5_dataset(f, c->op, path, fx.params + specs[t].offset, specs[t].numel);
    }
    char text[256];
    double flops;
    cr_assert_eq(h5io_read_attr_str(f, "/", "op", text, sizeof text), 0);
    cr_expect_str_eq(text, c->op);
    cr_assert_eq(h5io_read_attr_double(f, "/", "flops_backward", &flops), 0);
    cr_expect_eq(flops, op_flops(&fx.op, c->B, c->L).backward, "%s: flops_backward", c->op);
    cr_assert_eq(h5io_read_attr_str(f, "/", "params_source", text, sizeof text), 0);
    if (count > 0) /* an operator without parameters initialises nothing and reads nothing */
        cr_expect_str_eq(text, "file", "%s: params_source", c->op);
    h5io_close(f);
    fixture_teardown(&fx);
}

Test(contract, op_run_round_trip_matches_a_direct_forward_and_backward)
{
    char dir[64];
    tmp_dir_make(dir, sizeof dir, "contract");
    for (size_t i = 0; i < N_CASES; i++)
        expect_round_trip(&cases[i], dir, 17 + i);
    tmp_dir_remove(dir);
}
