/* Golden vectors from PyTorch: every operator against the reference modules of baselines/torch/, on the
 * committed files tests/golden/<op>_<case>.h5 (regenerate with `make golden`; reading them needs no PyTorch).
 * The expected values were computed in float64 from the stored float32 inputs, so the tolerance bounds the
 * C operators' own float32 round-off. Paths are relative to the repository root, where the tests run. */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "embedding.h"
#include "h5io.h"
#include "softmax_ce.h"
#include "testutil.h"

#define GOLDEN_DIR "tests/golden"
#define GOLDEN_TOL 1e-5   /* max |c - torch| / (max |torch| + GOLDEN_FLOOR), per tensor */
#define GOLDEN_FLOOR 1e-6
#define ATTR_LEN 256

static H5File *open_golden(const char *path)
{
    char err[256];
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    return f;
}

static H5Tensor read_tensor(H5File *f, const char *path)
{
    char err[256];
    H5Tensor t;
    cr_assert_eq(h5io_read_tensor(f, path, &t, err, sizeof err), 0, "%s", err);
    return t;
}

static void read_attr(H5File *f, const char *name, char *out)
{
    cr_assert_eq(h5io_read_attr_str(f, "/", name, out, ATTR_LEN), 0, "missing root attribute '%s'", name);
}

/* Compares n computed floats with the golden tensor at path, which must hold exactly n values. */
static void expect_matches(H5File *f, const char *file, const char *path, const float *got, size_t n)
{
    H5Tensor want = read_tensor(f, path);
    cr_assert_eq(want.numel, n, "%s: /%s has %zu values, the operator produced %zu", file, path, want.numel, n);
    double err = max_scaled_diff(got, want.data, n, GOLDEN_FLOOR);
    cr_expect_leq(err, GOLDEN_TOL, "%s: /%s differs from PyTorch by %.3g (scaled)", file, path, err);
    h5io_tensor_free(&want);
}

/* Copies /params/<name> into the fixture's block at each ParamSpec offset, checking the shapes, and checks
 * that the file holds no parameter the operator does not have. */
static void load_params(H5File *f, const char *file, OpFixture *fx, const ParamSpec *specs, int count)
{
    char names[OP_MAX_PARAM_TENSORS][128];
    int stored = count ? h5io_list(f, "params", names, OP_MAX_PARAM_TENSORS) : 0;
    cr_assert_eq(stored, count, "%s: %d tensors under /params, the operator has %d", file, stored, count);
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "params/%.*s", CORE_NAME_LEN, specs[t].name);
        H5Tensor p = read_tensor(f, path);
        cr_assert_eq(p.ndim, specs[t].ndim, "%s: /%s has %d dims, spec %d", file, path, p.ndim, specs[t].ndim);
        for (int d = 0; d < p.ndim; d++)
            cr_assert_eq(p.shape[d], specs[t].shape[d], "%s: /%s dim %d is %d, spec %d", file, path, d, p.shape[d],
                         specs[t].shape[d]);
        memcpy(fx->params + specs[t].offset, p.data, p.numel * sizeof(float));
        h5io_tensor_free(&p);
    }
}

/* Copies the golden tensor at path into dst, which holds n floats of the given (B, L, D) shape. */
static void load_activation(H5File *f, const char *file, const char *path, float *dst, int B, int L, int D)
{
    H5Tensor t = read_tensor(f, path);
    cr_assert(t.ndim == 3 && t.shape[0] == B && t.shape[1] == L && t.shape[2] == D,
              "%s: /%s is not (%d, %d, %d)", file, path, B, L, D);
    memcpy(dst, t.data, t.numel * sizeof(float));
    h5io_tensor_free(&t);
}

/* A registry operator's golden file: configure it from the file's attributes, load x, params and dy, run
 * forward and backward, and compare y, dx and every parameter gradient. */
static void check_registry_golden(const char *file)
{
    H5File *f = open_golden(file);
    char op_name[ATTR_LEN], config[ATTR_LEN];
    read_attr(f, "op", op_name);
    read_attr(f, "config", config);

    H5Tensor x = read_tensor(f, "x");
    cr_assert_eq(x.ndim, 3, "%s: /x must be (B, L, D_in)", file);
    const int B = x.shape[0], L = x.shape[1];
    h5io_tensor_free(&x);

    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, op_name, config, B, L, 1, 0.0f), 0, "%s: cannot set up %s (%s)", file, op_name,
                 config);
    load_activation(f, file, "x", fx.x, B, L, fx.d_in);
    load_activation(f, file, "dy", fx.dy, B, L, fx.d_out);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&fx.op, specs);
    load_params(f, file, &fx, specs, count);

    fixture_backward(&fx);
    expect_matches(f, file, "y", fx.y, (size_t)B * L * fx.d_out);
    expect_matches(f, file, "dx", fx.dx, (size_t)B * L * fx.d_in);
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "grads/%.*s", CORE_NAME_LEN, specs[t].name);
        expect_matches(f, file, path, fx.dparams + specs[t].offset, specs[t].numel);
    }
    fixture_teardown(&fx);
    h5io_close(f);
}

/* The files of operators outside the registry, each checked by its own test below. */
static const char *const non_registry_golden_ops[] = {"embedding", "cross_entropy", "adamw"};

static int is_non_registry_golden_op(const char *name)
{
    for (size_t i = 0; i < sizeof non_registry_golden_ops / sizeof non_registry_golden_ops[0]; i++)
        if (strcmp(name, non_registry_golden_ops[i]) == 0)
            return 1;
    return 0;
}

/* Every committed golden file is checked: its `op` attribute names a registry operator (run here) or one
 * of the non-registry operators above. A file of an unknown operator fails instead of being skipped. */
Test(golden, every_golden_file_matches_pytorch)
{
    glob_t found;
    cr_assert_eq(glob(GOLDEN_DIR "/*.h5", 0, NULL, &found), 0, "no golden files under " GOLDEN_DIR);
    int registry_files = 0;
    for (size_t i = 0; i < found.gl_pathc; i++) {
        const char *file = found.gl_pathv[i];
        H5File *f = open_golden(file);
        char op_name[ATTR_LEN];
        read_attr(f, "op", op_name);
        h5io_close(f);
        if (is_non_registry_golden_op(op_name))
            continue;
        cr_expect_not_null(op_find(op_name), "%s: op '%s' is neither a registry operator nor one of the others",
                           file, op_name);
        if (op_find(op_name)) {
            check_registry_golden(file);
            registry_files++;
        }
    }
    cr_expect_geq(registry_files, OP_COUNT, "fewer golden files (%d) than registry operators (%d)", registry_files,
                  OP_COUNT);
    globfree(&found);
}

/* Adding an operator to the registry without a golden file (and a GOLDEN_TEST line) fails here. */
Test(golden, every_registry_operator_has_a_golden_file)
{
    for (int k = 0; k < OP_COUNT; k++) {
        const char *name = op_info((OpKind)k)->name;
        char pattern[256];
        snprintf(pattern, sizeof pattern, GOLDEN_DIR "/%s_*.h5", name);
        glob_t found;
        int rc = glob(pattern, 0, NULL, &found);
        cr_expect_eq(rc, 0, "no golden file %s: add a case to baselines/torch/make_golden.py", pattern);
        if (rc == 0)
            globfree(&found);
    }
}

Test(golden, embedding_matches_torch_embedding)
{
    const char *file = GOLDEN_DIR "/embedding_v11d4.h5";
    H5File *f = open_golden(file);
    char config[ATTR_LEN], err[256];
    read_attr(f, "config", config);
    EmbeddingConfig cfg;
    cr_assert_eq(sscanf(config, "vocab=%d,d_model=%d", &cfg.vocab, &cfg.d_model), 2, "%s: config '%s'", file,
                 config);

    int *ids = NULL, ndim, shape[H5IO_MAX_DIMS];
    cr_assert_eq(h5io_read_ints(f, "ids", &ids, &ndim, shape, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ndim, 2, "%s: /ids must be (B, L)", file);
    const size_t n = (size_t)shape[0] * shape[1], D = (size_t)cfg.d_model;
    size_t bad;
    cr_assert_eq(embedding_check_ids(&cfg, ids, n, &bad), 0, "%s: id out of range", file);

    ParamSpec spec;
    cr_assert_eq(embedding_param_specs(&cfg, &spec), 1);
    H5Tensor weight = read_tensor(f, "params/weight"), dy = read_tensor(f, "dy");
    cr_assert(weight.ndim == 2 && weight.shape[0] == spec.shape[0] && weight.shape[1] == spec.shape[1],
              "%s: /params/weight is not (%d, %d)", file, spec.shape[0], spec.shape[1]);
    cr_assert_eq(dy.numel, n * D, "%s: /dy is not (B, L, D)", file);

    float *y = calloc(n * D, sizeof *y), *dweight = calloc(weight.numel, sizeof *dweight);
    cr_assert(y && dweight);
    embedding_forward(&cfg, weight.data, ids, y, n);
    embedding_backward(&cfg, ids, dy.data, dweight, n);
    expect_matches(f, file, "y", y, n * D);
    expect_matches(f, file, "grads/weight", dweight, weight.numel);

    free(y), free(dweight), free(ids);
    h5io_tensor_free(&weight), h5io_tensor_free(&dy);
    h5io_close(f);
}

/* The loss and its gradient, written to a separate buffer or (in_place) over the logits. */
static void check_cross_entropy(int in_place)
{
    const char *file = GOLDEN_DIR "/cross_entropy_n7v9.h5";
    H5File *f = open_golden(file);
    char err[256];
    H5Tensor logits = read_tensor(f, "logits"), loss = read_tensor(f, "loss");
    cr_assert_eq(logits.ndim, 2, "%s: /logits must be (N, V)", file);
    cr_assert_eq(loss.numel, 1, "%s: /loss must hold one value", file);
    const int rows = logits.shape[0], vocab = logits.shape[1];
    int *targets = NULL, ndim, shape[H5IO_MAX_DIMS], bad;
    cr_assert_eq(h5io_read_ints(f, "targets", &targets, &ndim, shape, err, sizeof err), 0, "%s", err);
    cr_assert(ndim == 1 && shape[0] == rows, "%s: /targets must be (N,)", file);
    cr_assert_eq(softmax_ce_check_targets(targets, rows, vocab, &bad), 0, "%s: target out of range", file);

    float *dlogits = in_place ? logits.data : calloc(logits.numel, sizeof *dlogits);
    cr_assert_not_null(dlogits);
    double got = softmax_ce_loss(logits.data, targets, rows, vocab, dlogits);
    double want = loss.data[0];
    cr_expect_leq(fabs(got - want), GOLDEN_TOL * fabs(want), "%s: loss %.9g, PyTorch %.9g", file, got, want);
    expect_matches(f, file, "dlogits", dlogits, logits.numel);

    if (!in_place)
        free(dlogits);
    free(targets);
    h5io_tensor_free(&logits), h5io_tensor_free(&loss);
    h5io_close(f);
}

Test(golden, cross_entropy_matches_torch_with_ignored_row) { check_cross_entropy(0); }
Test(golden, cross_entropy_in_place_gradient_matches_torch) { check_cross_entropy(1); }

static double read_attr_double(H5File *f, const char *name)
{
    double value;
    cr_assert_eq(h5io_read_attr_double(f, "/", name, &value), 0, "missing root attribute '%s'", name);
    return value;
}

/* torch.optim.AdamW ran in float32; the C step follows the same float32 operations, so the only
 * differences are rounding-order ulps, well inside the tolerance over five steps. */
Test(golden, adamw_five_steps_match_torch_adamw)
{
    const char *file = GOLDEN_DIR "/adamw_n24.h5";
    H5File *f = open_golden(file);
    AdamWConfig cfg = {
        .lr = (float)read_attr_double(f, "lr"),
        .beta1 = (float)read_attr_double(f, "beta1"),
        .beta2 = (float)read_attr_double(f, "beta2"),
        .eps = (float)read_attr_double(f, "eps"),
        .weight_decay = (float)read_attr_double(f, "weight_decay"),
    };
    H5Tensor p0 = read_tensor(f, "p0"), grads = read_tensor(f, "grads"), expected = read_tensor(f, "expected");
    cr_assert_eq(p0.ndim, 1, "%s: /p0 must be (n,)", file);
    const size_t n = p0.numel;
    cr_assert(grads.ndim == 2 && (size_t)grads.shape[1] == n, "%s: /grads must be (steps, n)", file);
    cr_assert(expected.ndim == 2 && expected.shape[0] == grads.shape[0] && (size_t)expected.shape[1] == n,
              "%s: /expected must be (steps, n)", file);

    float *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    cr_assert(m && v);
    for (int t = 0; t < grads.shape[0]; t++) {
        adamw_step(&cfg, p0.data, grads.data + (size_t)t * n, m, v, n, t + 1);
        const float *want = expected.data + (size_t)t * n;
        double err = max_scaled_diff(p0.data, want, n, GOLDEN_FLOOR);
        cr_expect_leq(err, GOLDEN_TOL, "%s: step %d differs from torch.optim.AdamW by %.3g (scaled)", file, t + 1,
                      err);
    }
    free(m), free(v);
    h5io_tensor_free(&p0), h5io_tensor_free(&grads), h5io_tensor_free(&expected);
    h5io_close(f);
}
