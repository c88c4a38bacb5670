#include "oprun.h"

#include <math.h>
#include <string.h>

#include "h5io.h"
#include "opbuf.h"
#include "registry.h"

#define ERR_LEN 512

void oprun_list(FILE *out)
{
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *info = op_info((OpKind)k);
        fprintf(out, "%-12s %s\n", info->name, info->summary);
        for (int i = 0; i < *info->field_count; i++) {
            const ConfigField *fld = &info->fields[i];
            char value[160];
            if (fld->choices)
                snprintf(value, sizeof value, "%s=%s (%s)", fld->name, fld->fallback, fld->choices);
            else
                snprintf(value, sizeof value, "%s=%s", fld->name, fld->fallback);
            fprintf(out, "    %-36s %s\n", value, fld->help ? fld->help : "");
        }
    }
}

static void format_shape(char *out, size_t outlen, int ndim, const int *shape)
{
    size_t used = (size_t)snprintf(out, outlen, "(");
    for (int d = 0; d < ndim && used < outlen; d++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%d", d ? ", " : "", shape[d]);
    if (used < outlen)
        snprintf(out + used, outlen - used, "%s)", ndim == 1 ? "," : "");
}

int oprun_spec(const char *op_name, const char *config, FILE *out, char *err, size_t errlen)
{
    Op op;
    if (op_configure(&op, op_name, config, err, errlen) != 0)
        return OPRUN_BAD_INPUT;
    char canon[1024], shape[128];
    op_config_string(&op, canon, sizeof canon);
    fprintf(out, "op      %s\nconfig  %s\nx       (B, L, %d)\ny       (B, L, %d)\n", op.info->name, canon, op_d_in(&op),
            op_d_out(&op));
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(&op, specs);
    for (int t = 0; t < count; t++) {
        format_shape(shape, sizeof shape, specs[t].ndim, specs[t].shape);
        fprintf(out, "params/%-40s %-20s %zu\n", specs[t].name, shape, specs[t].numel);
    }
    fprintf(out, "total parameters %zu\n", op_num_params(&op));
    return OPRUN_OK;
}

/* Reads a float tensor at path and checks its shape against want (ndim dims). */
static int read_shaped(H5File *f, const char *path, int ndim, const int *want, H5Tensor *t, char *err, size_t errlen)
{
    if (h5io_read_tensor(f, path, t, err, errlen) != 0)
        return -1;
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = t->shape[d] == want[d];
    if (!ok) {
        char got[128], expected[128];
        format_shape(got, sizeof got, t->ndim, t->shape);
        format_shape(expected, sizeof expected, ndim, want);
        snprintf(err, errlen, "dataset /%s has shape %s, expected %s", path, got, expected);
        h5io_tensor_free(t);
        return -1;
    }
    for (size_t i = 0; i < t->numel; i++)
        if (!isfinite(t->data[i])) {
            snprintf(err, errlen, "dataset /%s contains NaN or Inf (element %zu)", path, i);
            h5io_tensor_free(t);
            return -1;
        }
    return 0;
}

/* How many of n values are NaN or infinite. */
static size_t count_non_finite(const float *x, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !isfinite(x[i]);
    return bad;
}

static int copy_tensor(H5File *f, const char *path, int ndim, const int *shape, float *dst, char *err, size_t errlen)
{
    H5Tensor t;
    if (read_shaped(f, path, ndim, shape, &t, err, errlen) != 0)
        return -1;
    memcpy(dst, t.data, t.numel * sizeof(float));
    h5io_tensor_free(&t);
    return 0;
}

/* Finite inputs whose outputs are not finite (x = 3e38 overflows float32 arithmetic): reported, not written. */
static int check_outputs_finite(const OpBuffers *buf, char *err, size_t errlen)
{
    const struct {
        const char *name;
        const float *x;
        size_t n;
    } outs[] = {{"y", buf->y, buf->n_y}, {"dx", buf->dy ? buf->dx : NULL, buf->n_x},
                {"grads", buf->dy ? buf->dparams : NULL, buf->n_params}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        size_t bad = outs[i].x ? count_non_finite(outs[i].x, outs[i].n) : 0;
        if (bad) {
            snprintf(err, errlen, "%s has %zu non-finite values of %zu from finite inputs: the computation "
                                  "overflows float32 (scale the inputs down); nothing written", outs[i].name, bad,
                     outs[i].n);
            return -1;
        }
    }
    return 0;
}

static int is_param(const ParamSpec *specs, int count, const char *name)
{
    for (int t = 0; t < count; t++)
        if (strcmp(specs[t].name, name) == 0)
            return 1;
    return 0;
}

/* The input file may hold x, dy and params only; params must be all or nothing, each with its exact shape. */
static int check_layout(H5File *f, const ParamSpec *specs, int count, char *err, size_t errlen)
{
    char names[OP_MAX_PARAM_TENSORS + 8][128];
    int n = h5io_list(f, "/", names, OP_MAX_PARAM_TENSORS + 8);
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], "x") != 0 && strcmp(names[i], "dy") != 0) {
            snprintf(err, errlen, "unexpected dataset /%.127s (allowed: /x, /dy, /params/<name>)", names[i]);
            return -1;
        }
    if (!h5io_exists(f, "params"))
        return 0;
    n = h5io_list(f, "params", names, OP_MAX_PARAM_TENSORS + 8);
    for (int i = 0; i < n; i++)
        if (!is_param(specs, count, names[i])) {
            snprintf(err, errlen, "unexpected dataset /params/%.127s (see `subq op spec` for the names)", names[i]);
            return -1;
        }
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "params/%.*s", CORE_NAME_LEN, specs[t].name);
        if (!h5io_exists(f, path)) {
            char shape[128];
            format_shape(shape, sizeof shape, specs[t].ndim, specs[t].shape);
            snprintf(err, errlen, "dataset /%s is missing, expected shape %s", path, shape);
            return -1;
        }
    }
    return 0;
}

/* Input tensors read into the operator's buffers. */
static int load_inputs(H5File *f, const Op *op, OpBuffers *buf, const ParamSpec *specs, int count, uint64_t seed,
                       int *params_from_file, char *err, size_t errlen)
{
    int xshape[3] = {buf->B, buf->L, buf->d_in}, yshape[3] = {buf->B, buf->L, buf->d_out};
    if (copy_tensor(f, "x", 3, xshape, buf->x, err, errlen) != 0)
        return -1;
    if (buf->dy && copy_tensor(f, "dy", 3, yshape, buf->dy, err, errlen) != 0)
        return -1;
    *params_from_file = h5io_exists(f, "params");
    if (!*params_from_file) {
        Rng rng;
        rng_init(&rng, seed);
        op_init(op, buf->params, &rng);
        return 0;
    }
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "params/%.*s", CORE_NAME_LEN, specs[t].name);
        if (copy_tensor(f, path, specs[t].ndim, specs[t].shape, buf->params + specs[t].offset, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* B and L come from /x, whose last dimension must be the operator's input width. */
static int input_shape(H5File *f, const Op *op, int *B, int *L, char *err, size_t errlen)
{
    H5Tensor x;
    if (!h5io_exists(f, "x")) {
        snprintf(err, errlen, "dataset /x is missing, expected (B, L, %d)", op_d_in(op));
        return -1;
    }
    if (h5io_read_tensor(f, "x", &x, err, errlen) != 0)
        return -1;
    int ok = x.ndim == 3 && x.shape[2] == op_d_in(op);
    if (ok) {
        *B = x.shape[0];
        *L = x.shape[1];
    } else {
        char got[128];
        format_shape(got, sizeof got, x.ndim, x.shape);
        snprintf(err, errlen, "dataset /x has shape %s, expected (B, L, %d)", got, op_d_in(op));
    }
    h5io_tensor_free(&x);
    return ok ? op_check_shape(op, *B, *L, err, errlen) : -1;
}

static int write_param_block(H5File *out, const char *group, const float *block, const ParamSpec *specs, int count,
                             char *err, size_t errlen)
{
    for (int t = 0; t < count; t++) {
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "%.8s/%.*s", group, CORE_NAME_LEN, specs[t].name);
        if (h5io_write_floats(out, path, block + specs[t].offset, specs[t].ndim, specs[t].shape, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int write_outputs(H5File *out, const Op *op, const OpBuffers *buf, const ParamSpec *specs, int count,
                         uint64_t seed, int params_from_file, char *err, size_t errlen)
{
    int xshape[3] = {buf->B, buf->L, buf->d_in}, yshape[3] = {buf->B, buf->L, buf->d_out};
    char canon[1024];
    op_config_string(op, canon, sizeof canon);
    OpFlops flops = op_flops(op, buf->B, buf->L);
    if (h5io_write_floats(out, "y", buf->y, 3, yshape, err, errlen) != 0 ||
        write_param_block(out, "params", buf->params, specs, count, err, errlen) != 0)
        return -1;
    if (buf->dy && (h5io_write_floats(out, "dx", buf->dx, 3, xshape, err, errlen) != 0 ||
                    write_param_block(out, "grads", buf->dparams, specs, count, err, errlen) != 0))
        return -1;
    if (h5io_attr_str(out, "/", "op", op->info->name, err, errlen) != 0 ||
        h5io_attr_str(out, "/", "config", canon, err, errlen) != 0 ||
        h5io_attr_double(out, "/", "flops_forward", flops.forward, err, errlen) != 0 ||
        h5io_attr_double(out, "/", "flops_backward", flops.backward, err, errlen) != 0 ||
        h5io_attr_int(out, "/", "seed", (long long)seed, err, errlen) != 0 ||
        h5io_attr_str(out, "/", "params_source", params_from_file ? "file" : "init", err, errlen) != 0)
        return -1;
    return 0;
}

/* Runs forward (and backward with /dy) and writes OUT.h5; the input file is already open. */
static int run_open(H5File *in, const Op *op, const char *in_path, const char *out_path, uint64_t seed, char *err,
                    size_t errlen)
{
    ParamSpec specs[OP_MAX_PARAM_TENSORS];
    int count = op_param_specs(op, specs), B, L, from_file;
    char msg[ERR_LEN];
    if (check_layout(in, specs, count, msg, sizeof msg) != 0 || input_shape(in, op, &B, &L, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s: %s", in_path, msg);
        return OPRUN_BAD_INPUT;
    }
    OpBuffers buf;
    if (opbuf_alloc(&buf, op, B, L, h5io_exists(in, "dy"), err, errlen) != 0)
        return OPRUN_FAILED;
    if (load_inputs(in, op, &buf, specs, count, seed, &from_file, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s: %s", in_path, msg);
        opbuf_free(&buf);
        return OPRUN_BAD_INPUT;
    }
    opbuf_forward(op, &buf);
    if (buf.dy)
        opbuf_backward(op, &buf);
    if (check_outputs_finite(&buf, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s: %s", in_path, msg);
        opbuf_free(&buf);
        return OPRUN_BAD_INPUT;
    }
    int rc = OPRUN_FAILED;
    H5File *out = h5io_create_atomic(out_path, err, errlen);
    if (out) {
        if (write_outputs(out, op, &buf, specs, count, seed, from_file, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s: %s", out_path, msg);
            h5io_abort(out);
        } else if (h5io_commit(out, err, errlen) == 0) {
            rc = OPRUN_OK;
        }
    }
    opbuf_free(&buf);
    return rc;
}

int oprun_run(const char *op_name, const char *config, const char *in_path, const char *out_path, uint64_t seed,
              char *err, size_t errlen)
{
    Op op;
    if (op_configure(&op, op_name, config, err, errlen) != 0)
        return OPRUN_BAD_INPUT;
    H5File *in = h5io_open_read(in_path, err, errlen);
    if (!in)
        return OPRUN_BAD_INPUT;
    int rc = run_open(in, &op, in_path, out_path, seed, err, errlen);
    h5io_close(in);
    return rc;
}
