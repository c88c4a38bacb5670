/* The operator runner: a round trip through IN.h5/OUT.h5 that matches a direct run of the operator, and the
 * error paths (each must name the problem, return OPRUN_BAD_INPUT and write no output file). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5io.h"
#include "oprun.h"
#include "testutil.h"

#define FFN_CONFIG "d_model=6,d_hidden=10"
static char dir[64], in_path[128], out_path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/subq_oprun_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(in_path, sizeof in_path, "%s/in.h5", dir);
    snprintf(out_path, sizeof out_path, "%s/out.h5", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(oprun, .init = make_dir, .fini = remove_dir);

/* What the input file should contain; a test spoils one part of it. */
typedef struct InputPlan {
    int write_params, write_dy, skip_param, bad_shape_param, extra_dataset, nan_in_x, skip_x, huge_x;
} InputPlan;

static void write_input(const OpFixture *fx, const InputPlan *plan)
{
    char err[256];
    H5File *f = h5io_create_atomic(in_path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    int xs[3] = {fx->B, fx->L, fx->d_in}, ys[3] = {fx->B, fx->L, fx->d_out};
    if (plan->nan_in_x)
        fx->x[3] = 0.0f / 0.0f;
    if (plan->huge_x)
        for (int i = 0; i < fx->B * fx->L * fx->d_in; i++)
            fx->x[i] = 3e38f;
    if (!plan->skip_x)
        cr_assert_eq(h5io_write_floats(f, "x", fx->x, 3, xs, err, sizeof err), 0, "%s", err);
    if (plan->write_dy)
        cr_assert_eq(h5io_write_floats(f, "dy", fx->dy, 3, ys, err, sizeof err), 0, "%s", err);
    if (plan->extra_dataset)
        cr_assert_eq(h5io_write_floats(f, "mask", fx->x, 3, xs, err, sizeof err), 0, "%s", err);
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = plan->write_params ? op_param_specs(&fx->op, specs) : 0;
    for (int t = 0; t < count; t++) {
        if (plan->skip_param && t == 1)
            continue;
        int shape[CORE_MAX_DIMS];
        memcpy(shape, specs[t].shape, sizeof shape);
        int ndim = specs[t].ndim;
        if (plan->bad_shape_param && t == 0)
            shape[0] += 1;
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "params/%.*s", CORE_NAME_LEN, specs[t].name);
        cr_assert_eq(h5io_write_floats(f, path, fx->params + specs[t].offset, ndim, shape, err, sizeof err), 0,
                     "%s", err);
    }
    cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
}

Test(oprun, absent_params_are_initialised_from_the_seed_and_written_out)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "ffn", FFN_CONFIG, 1, 4, 3, 0.0f), 0);
    Rng rng;
    rng_init(&rng, 42);
    op_init(&fx.op, fx.params, &rng);
    write_input(&fx, &(InputPlan){0});
    char err[512];
    cr_assert_eq(oprun_run("ffn", FFN_CONFIG, in_path, out_path, 42, err, sizeof err), OPRUN_OK, "%s", err);
    fixture_forward(&fx);
    H5File *f = h5io_open_read(out_path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    expect_h5_dataset(f, "ffn", "y", fx.y, (size_t)4 * 6);
    cr_expect_eq(h5io_exists(f, "dx"), 0, "no /dy given, so no /dx");
    h5io_close(f);
    fixture_teardown(&fx);
}

/* Runs with a spoiled input and checks the failure. */
static void expect_bad_input(const InputPlan *plan, const char *config, const char *needle)
{
    OpFixture fx;
    cr_assert_eq(fixture_setup(&fx, "ffn", FFN_CONFIG, 2, 3, 5, 0.1f), 0);
    write_input(&fx, plan);
    char err[512] = "";
    int rc = oprun_run("ffn", config, in_path, out_path, 0, err, sizeof err);
    cr_expect_eq(rc, OPRUN_BAD_INPUT, "expected exit code 2, got %d (%s)", rc, err);
    cr_expect(strstr(err, needle) != NULL, "message '%s' should mention '%s'", err, needle);
    cr_expect(strchr(err, '\n') == NULL, "one line");
    cr_expect_neq(access(out_path, F_OK), 0, "no output file on bad input");
    fixture_teardown(&fx);
}

Test(oprun, misshaped_parameter_is_named_with_its_expected_shape)
{
    expect_bad_input(&(InputPlan){.write_params = 1, .bad_shape_param = 1}, FFN_CONFIG,
                     "/params/fc1.weight has shape (11, 6), expected (10, 6)");
}

Test(oprun, missing_parameter_is_named)
{
    expect_bad_input(&(InputPlan){.write_params = 1, .skip_param = 1}, FFN_CONFIG,
                     "/params/fc1.bias is missing, expected shape (10,)");
}

Test(oprun, extra_dataset_is_refused) { expect_bad_input(&(InputPlan){.extra_dataset = 1}, FFN_CONFIG, "/mask"); }

Test(oprun, nan_in_input_is_refused) { expect_bad_input(&(InputPlan){.nan_in_x = 1}, FFN_CONFIG, "NaN"); }

/* Finite inputs that overflow float32 inside the operator: reported, nothing written. */
Test(oprun, overflow_to_non_finite_outputs_is_reported)
{
    expect_bad_input(&(InputPlan){.huge_x = 1, .write_params = 1}, FFN_CONFIG, "non-finite values");
}

Test(oprun, non_finite_config_values_are_refused)
{
    char err[512];
    const char *bad[] = {"w=inf", "shift=nan", "w=1e39", "w=-inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(oprun_run("hyena", bad[i], in_path, out_path, 0, err, sizeof err), OPRUN_BAD_INPUT, "%s",
                     bad[i]);
        cr_expect(strstr(err, "finite number") != NULL, "%s: %s", bad[i], err);
    }
    cr_expect_eq(oprun_run("s4d", "dt_max=inf", in_path, out_path, 0, err, sizeof err), OPRUN_BAD_INPUT);
}

Test(oprun, missing_x_is_refused) { expect_bad_input(&(InputPlan){.skip_x = 1}, FFN_CONFIG, "/x is missing"); }

Test(oprun, x_of_the_wrong_width_is_refused)
{
    expect_bad_input(&(InputPlan){0}, "d_model=5,d_hidden=10", "/x has shape (2, 3, 6), expected (B, L, 5)");
}

Test(oprun, unknown_operator_and_bad_config_are_refused)
{
    char err[512];
    cr_expect_eq(oprun_run("nope", "", in_path, out_path, 0, err, sizeof err), OPRUN_BAD_INPUT);
    cr_expect(strstr(err, "nope") != NULL, "%s", err);
    cr_expect_eq(oprun_run("ffn", "d_model=x", in_path, out_path, 0, err, sizeof err), OPRUN_BAD_INPUT);
    cr_expect_eq(oprun_run("ffn", FFN_CONFIG, "/nonexistent/in.h5", out_path, 0, err, sizeof err), OPRUN_BAD_INPUT);
    cr_expect(strstr(err, "/nonexistent/in.h5") != NULL, "%s", err);
}
