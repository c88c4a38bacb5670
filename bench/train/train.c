#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adamw.h"
#include "comm.h"
#include "h5io.h"
#include "timing.h"

TrainConfig train_defaults(void)
{
    return (TrainConfig){.steps = 2000, .batch = 12, .context = 64, .lr = 1e-3f, .min_lr = 1e-4f, .warmup = 100,
                         .decay_steps = 2000, .weight_decay = 0.1f, .beta1 = 0.9f, .beta2 = 0.99f,
                         .grad_clip = 1.0f, .eval_every = 250, .eval_batches = 20, .seed = 1337};
}

int train_state_alloc_floats(TrainState *s, size_t n_params, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (timing_check_memory(3 * n_params * sizeof(float), "the parameters and AdamW moments", err, errlen) != 0)
        return -1;
    s->params = core_alloc_floats(n_params);
    s->m = core_alloc_floats(n_params);
    s->v = core_alloc_floats(n_params);
    if (!s->params || !s->m || !s->v) {
        train_state_free(s);
        snprintf(err, errlen, "train: out of memory for %zu parameters", n_params);
        return -1;
    }
    memset(s->m, 0, n_params * sizeof(float));
    memset(s->v, 0, n_params * sizeof(float));
    return 0;
}

int train_state_alloc(TrainState *s, const LmModel *m, uint64_t seed, char *err, size_t errlen)
{
    if (train_state_alloc_floats(s, m->n_params, err, errlen) != 0)
        return -1;
    lm_init(m, s->params, seed);
    return 0;
}

void train_state_free(TrainState *s)
{
    core_free(s->params), core_free(s->m), core_free(s->v);
    s->params = s->m = s->v = NULL;
}

int train_columns_alloc(double **const cols[], int n_cols, int cap)
{
    int ok = 1;
    for (int c = 0; c < n_cols; c++)
        ok &= (*cols[c] = calloc((size_t)cap, sizeof(double))) != NULL;
    if (!ok)
        train_columns_free(cols, n_cols);
    return ok ? 0 : -1;
}

void train_columns_free(double **const cols[], int n_cols)
{
    for (int c = 0; c < n_cols; c++) {
        free(*cols[c]);
        *cols[c] = NULL;
    }
}

void train_columns_append(double **const cols[], int n_cols, int *n, int cap, const double *row)
{
    if (*n >= cap)
        return;
    for (int c = 0; c < n_cols; c++)
        (*cols[c])[*n] = row[c];
    (*n)++;
}

#define LM_STEP_COLS(log) {&(log)->step, &(log)->train_loss, &(log)->lr}
#define LM_EVAL_COLS(log) {&(log)->eval_step, &(log)->val_loss, &(log)->eval_time_s, &(log)->eval_tokens}

int train_log_alloc(TrainLog *log, int steps, int evals)
{
    memset(log, 0, sizeof *log);
    log->cap_train = steps > 0 ? steps : 1;
    log->cap_eval = evals > 0 ? evals : 1;
    double **train[] = LM_STEP_COLS(log), **eval[] = LM_EVAL_COLS(log);
    if (train_columns_alloc(train, 3, log->cap_train) != 0 || train_columns_alloc(eval, 4, log->cap_eval) != 0) {
        train_log_free(log);
        return -1;
    }
    return 0;
}

void train_log_free(TrainLog *log)
{
    double **train[] = LM_STEP_COLS(log), **eval[] = LM_EVAL_COLS(log);
    train_columns_free(train, 3);
    train_columns_free(eval, 4);
    memset(log, 0, sizeof *log);
}

/* nanoGPT's get_lr with it = t - 1: linear warm-up, cosine decay to min_lr at decay_steps, then min_lr. */
float train_lr_at(const TrainConfig *cfg, long t)
{
    long it = t - 1;
    if (it < cfg->warmup)
        return cfg->lr * (float)(it + 1) / (float)(cfg->warmup + 1);
    if (it > cfg->decay_steps)
        return cfg->min_lr;
    double ratio = (double)(it - cfg->warmup) / (double)(cfg->decay_steps - cfg->warmup > 0 ? cfg->decay_steps - cfg->warmup : 1);
    double coeff = 0.5 * (1.0 + cos(M_PI * ratio));
    return (float)(cfg->min_lr + coeff * (cfg->lr - cfg->min_lr));
}

/* Buffers for one batch: ids, targets, activations, workspace and gradients. */
typedef struct TrainBuffers {
    int *ids, *targets;
    float *act, *ws, *grads;
} TrainBuffers;

static void buffers_free(TrainBuffers *b)
{
    free(b->ids), free(b->targets);
    core_free(b->act), core_free(b->ws), core_free(b->grads);
    memset(b, 0, sizeof *b);
}

static int buffers_alloc(TrainBuffers *b, const LmModel *m, int B, int T, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    size_t floats = lm_act_floats(m, B, T) + lm_workspace_floats(m, B, T) + m->n_params;
    char what[64];
    snprintf(what, sizeof what, "training at batch %d x %d", B, T);
    if (timing_check_memory(floats * sizeof(float) + 2 * sizeof(int) * (size_t)B * T, what, err, errlen) != 0)
        return -1;
    b->ids = malloc(sizeof(int) * (size_t)B * T);
    b->targets = malloc(sizeof(int) * (size_t)B * T);
    b->act = core_alloc_floats(lm_act_floats(m, B, T));
    b->ws = core_alloc_floats(lm_workspace_floats(m, B, T));
    b->grads = core_alloc_floats(m->n_params);
    if (!b->ids || !b->targets || !b->act || !b->ws || !b->grads) {
        buffers_free(b);
        snprintf(err, errlen, "train: out of memory for batch %d x %d", B, T);
        return -1;
    }
    return 0;
}

int train_evaluate(const LmModel *m, const TrainConfig *cfg, const TrainData *data, const float *params,
                   double *loss, char *err, size_t errlen)
{
    TrainBuffers b;
    if (buffers_alloc(&b, m, cfg->batch, cfg->context, err, errlen) != 0)
        return -1;
    double sum = 0.0;
    int rc = 0;
    /* Under MPI each rank evaluates every comm_size()-th batch and the sums are added (section 10). */
    for (int i = comm_rank(); i < cfg->eval_batches && rc == 0; i += comm_size()) {
        rc = data->batch(data->ctx, 1, (uint64_t)i, b.ids, b.targets, cfg->batch, cfg->context, err, errlen);
        if (rc == 0)
            sum += lm_forward_backward(m, params, b.ids, b.targets, cfg->batch, cfg->context, b.act, b.ws, NULL, 0, 0);
    }
    buffers_free(&b);
    if (rc == 0)
        rc = comm_sum_doubles(&sum, 1, err, errlen);
    *loss = cfg->eval_batches > 0 ? sum / cfg->eval_batches : NAN;
    return rc;
}

/* Global L2 norm of the gradient (double accumulation); scales it down to clip when above. */
static double clip_gradients(float *grads, size_t n, float clip)
{
    double sq = 0.0;
#pragma omp parallel for simd reduction(+ : sq) schedule(static) if (parallel : n > 65536)
    for (size_t i = 0; i < n; i++)
        sq += (double)grads[i] * grads[i];
    double norm = sqrt(sq);
    if (clip > 0 && norm > clip) {
        float scale = (float)(clip / (norm + 1e-6));
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536)
        for (size_t i = 0; i < n; i++)
            grads[i] *= scale;
    }
    return norm;
}

/* One AdamW step per tensor with its group's rate: cfg->lr scaled by the schedule factor lr / cfg->lr, or its own
 * rate (lr_override, or min(cfg->lr, lr_override) scaled, when a cap); weight decay only on decayed tensors. */
static void adamw_step_tensors(const LmTensor *tensors, int n_tensors, const TrainConfig *cfg, TrainState *s,
                               const float *grads, float lr)
{
    float schedule = cfg->lr > 0 ? lr / cfg->lr : 0.0f;
    for (int t = 0; t < n_tensors; t++) {
        const LmTensor *ten = &tensors[t];
        float group_lr = lr;
        if (ten->lr_override > 0)
            group_lr = ten->lr_is_cap ? fminf(cfg->lr, ten->lr_override) * schedule : ten->lr_override * schedule;
        AdamWConfig opt = {.lr = group_lr, .beta1 = cfg->beta1, .beta2 = cfg->beta2, .eps = 1e-8f,
                           .weight_decay = ten->weight_decay ? cfg->weight_decay : 0.0f};
        size_t off = ten->spec.offset;
        adamw_step(&opt, s->params + off, grads + off, s->m + off, s->v + off, ten->spec.numel, s->step);
    }
}

TrainStepStatus train_apply_gradients(const LmTensor *tensors, int n_tensors, const TrainConfig *cfg, TrainState *s,
                                      float *grads, size_t n_params, double loss, float *lr_out, char *err,
                                      size_t errlen)
{
    double norm = clip_gradients(grads, n_params, cfg->grad_clip);
    if (!isfinite(loss) || !isfinite(norm)) {
        snprintf(err, errlen, "step %ld: %s is %s; training stopped (parameters left at step %ld)", s->step + 1,
                 isfinite(loss) ? "gradient norm" : "loss", isnan(isfinite(loss) ? norm : loss) ? "NaN" : "Inf",
                 s->step);
        return TRAIN_STEP_NONFINITE;
    }
    s->step++;
    *lr_out = train_lr_at(cfg, s->step);
    adamw_step_tensors(tensors, n_tensors, cfg, s, grads, *lr_out);
    return TRAIN_STEP_OK;
}

static void progress(const TrainConfig *cfg, long step, double loss, double val, double tok_s, double elapsed)
{
    if (cfg->quiet || !comm_is_root())
        return;
    double eta = step > 0 ? elapsed / step * (cfg->steps - step) : 0;
    int tty = isatty(STDOUT_FILENO);
    printf("%sstep %5ld/%d  loss %.4f  val %.4f  %8.0f tok/s  ETA %4.0fs%s", tty ? "\r" : "", step, cfg->steps, loss,
           val, tok_s, eta, tty ? "   " : "\n");
    fflush(stdout);
}

static void log_eval(TrainLog *log, long step, double val, double seconds, double tokens)
{
    if (log)
        train_columns_append((double **[])LM_EVAL_COLS(log), 4, &log->n_eval, log->cap_eval,
                             (double[]){(double)step, val, seconds, tokens});
}

static void log_step(TrainLog *log, long step, double loss, double lr)
{
    if (log)
        train_columns_append((double **[])LM_STEP_COLS(log), 3, &log->n_train, log->cap_train,
                             (double[]){(double)step, loss, lr});
}

/* Data parallelism (docs/DESIGN.md section 10): every rank reads the whole global batch (the same for any
 * number of ranks) and takes rows [B r / N, B (r+1) / N); its mean loss and gradient are weighted by its share
 * of the rows and summed over the ranks, which gives every rank the gradient of the global batch's mean loss. */
static int data_parallel_forward_backward(const LmModel *m, const TrainConfig *cfg, const TrainState *s,
                                          TrainBuffers *b, double *loss, char *err, size_t errlen)
{
    const int N = comm_size(), r = comm_rank(), B = cfg->batch, T = cfg->context;
    const int lo = (int)((long)B * r / N), hi = (int)((long)B * (r + 1) / N);
    *loss = 0.0;
    if (hi > lo)
        *loss = lm_forward_backward(m, s->params, b->ids + (size_t)lo * T, b->targets + (size_t)lo * T, hi - lo, T,
                                    b->act, b->ws, b->grads, 1, (uint64_t)s->step);
    if (N == 1)
        return 0;
    const float share = (float)(hi - lo) / (float)B;
#pragma omp parallel for simd schedule(static) if (parallel : m->n_params > 65536)
    for (size_t i = 0; i < m->n_params; i++)
        b->grads[i] *= share;
    *loss *= share;
    return comm_sum_floats(b->grads, m->n_params, err, errlen) || comm_sum_doubles(loss, 1, err, errlen) ? -1 : 0;
}

/* One optimisation step: batch, forward+backward, guard, clip, AdamW; the loss into *loss. */
static TrainStepStatus train_step(const LmModel *m, const TrainConfig *cfg, const TrainData *data, TrainState *s,
                                  TrainBuffers *b, double *loss, float *lr_out, char *err, size_t errlen)
{
    if (data->batch(data->ctx, 0, (uint64_t)s->step, b->ids, b->targets, cfg->batch, cfg->context, err, errlen) != 0)
        return TRAIN_STEP_FAILED;
    memset(b->grads, 0, m->n_params * sizeof(float));
    if (data_parallel_forward_backward(m, cfg, s, b, loss, err, errlen) != 0)
        return TRAIN_STEP_FAILED;
    return train_apply_gradients(m->tensors, m->n_tensors, cfg, s, b->grads, m->n_params, *loss, lr_out, err, errlen);
}

/* FNV-1a over the parameter bytes: equal on every rank unless the ranks drifted apart. */
static unsigned long long params_checksum(const float *params, size_t n)
{
    unsigned long long h = 1469598103934665603ULL;
    const unsigned char *p = (const unsigned char *)params;
    for (size_t i = 0; i < n * sizeof(float); i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

int train_run(const LmModel *m, const TrainConfig *cfg, const TrainData *data, TrainState *state, TrainLog *log,
              TrainResult *result, char *err, size_t errlen)
{
    memset(result, 0, sizeof *result);
    TrainBuffers b;
    if (buffers_alloc(&b, m, cfg->batch, cfg->context, err, errlen) != 0)
        return -1;
    OpFlops f = lm_flops(m, cfg->batch, cfg->context);
    result->flops_per_step = f.forward + f.backward + adamw_flops(m->n_params);
    const double tokens_per_step = (double)cfg->batch * cfg->context, t0 = timing_now_seconds();
    const long first = state->step;
    double loss = NAN, val = NAN;
    int rc = 0, tty = isatty(STDOUT_FILENO);
    result->best_val_loss = INFINITY;
    while (state->step < cfg->steps) {
        float lr = 0;
        const double step_t0 = timing_now_seconds();
        TrainStepStatus status = train_step(m, cfg, data, state, &b, &loss, &lr, err, errlen);
        result->train_seconds += timing_now_seconds() - step_t0;
        if (status != TRAIN_STEP_OK) {
            result->stopped_nan = status == TRAIN_STEP_NONFINITE;
            rc = -1;
            break;
        }
        log_step(log, state->step, loss, lr);
        double elapsed = timing_now_seconds() - t0;
        int eval_now = (cfg->eval_every > 0 && state->step % cfg->eval_every == 0) || state->step == cfg->steps;
        if (eval_now) {
            if ((rc = train_evaluate(m, cfg, data, state->params, &val, err, errlen)) != 0)
                break;
            if (comm_size() > 1 && !comm_all_equal_u64(params_checksum(state->params, m->n_params))) {
                snprintf(err, errlen, "step %ld: the ranks' parameters differ (rank %d)", state->step, comm_rank());
                rc = -1;
                break;
            }
            result->best_val_loss = fmin(result->best_val_loss, val);
            log_eval(log, state->step, val, elapsed, tokens_per_step * (double)state->step);
        }
        if (tty || eval_now)
            progress(cfg, state->step, loss, val, tokens_per_step * (double)(state->step - first) / result->train_seconds,
                     elapsed);
        int save = cfg->checkpoint && ((cfg->checkpoint_every > 0 && state->step % cfg->checkpoint_every == 0) ||
                                       state->step == cfg->steps);
        if (save && comm_is_root() &&
            (rc = train_save_checkpoint(m, state, cfg->seed, cfg->checkpoint, err, errlen)) != 0)
            break;
    }
    if (tty && !cfg->quiet && comm_is_root())
        printf("\n");
    result->seconds = timing_now_seconds() - t0;
    result->steps_done = state->step;
    result->tokens = tokens_per_step * (double)(state->step - first);
    result->tokens_per_s = result->train_seconds > 0 ? result->tokens / result->train_seconds : 0;
    result->final_train_loss = loss;
    result->final_val_loss = val;
    buffers_free(&b);
    return rc;
}

struct TrainStepper {
    const LmModel *m;
    TrainConfig cfg;
    TrainData data;
    TrainState state;
    TrainBuffers b;
};

TrainStepper *train_stepper_open(const LmModel *m, const TrainConfig *cfg, const TrainData *data, uint64_t seed,
                                 char *err, size_t errlen)
{
    TrainStepper *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "train: out of memory");
        return NULL;
    }
    t->m = m, t->cfg = *cfg, t->data = *data;
    if (train_state_alloc(&t->state, m, seed, err, errlen) != 0) {
        free(t);
        return NULL;
    }
    if (buffers_alloc(&t->b, m, cfg->batch, cfg->context, err, errlen) != 0) {
        train_state_free(&t->state);
        free(t);
        return NULL;
    }
    return t;
}

int train_stepper_time(TrainStepper *t, int n, double *ms, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        float lr;
        double loss, t0 = timing_now_seconds();
        TrainStepStatus status = train_step(t->m, &t->cfg, &t->data, &t->state, &t->b, &loss, &lr, err, errlen);
        ms[i] = 1e3 * (timing_now_seconds() - t0);
        if (status != TRAIN_STEP_OK)
            return -1;
    }
    return 0;
}

void train_stepper_close(TrainStepper *t)
{
    if (!t)
        return;
    buffers_free(&t->b);
    train_state_free(&t->state);
    free(t);
}

static int write_block(H5File *f, const char *group, const LmModel *m, const float *block, char *err, size_t errlen)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const ParamSpec *s = &m->tensors[t].spec;
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "%.8s/%.*s", group, CORE_NAME_LEN, s->name);
        if (h5io_write_floats(f, path, block + s->offset, s->ndim, s->shape, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int train_save_checkpoint(const LmModel *m, const TrainState *s, uint64_t seed, const char *path, char *err,
                          size_t errlen)
{
    char config[4 * LM_CONFIG_LEN];
    if (lm_config_string(m, config, sizeof config) != 0) {
        snprintf(err, errlen, "checkpoint: model config too long");
        return -1;
    }
    H5File *f = h5io_create_atomic(path, err, errlen);
    if (!f)
        return -1;
    if (write_block(f, "params", m, s->params, err, errlen) != 0 || write_block(f, "adam_m", m, s->m, err, errlen) != 0 ||
        write_block(f, "adam_v", m, s->v, err, errlen) != 0 ||
        h5io_attr_str(f, "/", "model_config", config, err, errlen) != 0 ||
        h5io_attr_int(f, "/", "step", s->step, err, errlen) != 0 ||
        h5io_attr_int(f, "/", "seed", (long long)seed, err, errlen) != 0) {
        h5io_abort(f);
        return -1;
    }
    return h5io_commit(f, err, errlen);
}

static int read_block(H5File *f, const char *group, const LmModel *m, float *block, char *err, size_t errlen)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const ParamSpec *s = &m->tensors[t].spec;
        char path[CORE_NAME_LEN + 16];
        snprintf(path, sizeof path, "%.8s/%.*s", group, CORE_NAME_LEN, s->name);
        H5Tensor ten;
        if (h5io_read_tensor(f, path, &ten, err, errlen) != 0)
            return -1;
        int ok = ten.numel == s->numel && ten.ndim == s->ndim;
        if (ok)
            memcpy(block + s->offset, ten.data, s->numel * sizeof(float));
        else
            snprintf(err, errlen, "/%s has the wrong shape for this model", path);
        h5io_tensor_free(&ten);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Every value of a block finite: a checkpoint with NaN in it would train NaN. */
static int block_finite(const LmModel *m, const char *group, const float *block, char *err, size_t errlen)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const ParamSpec *sp = &m->tensors[t].spec;
        for (size_t i = 0; i < sp->numel; i++)
            if (!isfinite(block[sp->offset + i])) {
                snprintf(err, errlen, "/%s/%s has a non-finite value (NaN or Inf) at element %zu", group, sp->name, i);
                return -1;
            }
    }
    return 0;
}

int train_load_checkpoint(const LmModel *m, TrainState *s, uint64_t seed, long steps, const char *path, char *err,
                          size_t errlen)
{
    char msg[512], stored[4 * LM_CONFIG_LEN], mine[4 * LM_CONFIG_LEN];
    H5File *f = h5io_open_read(path, err, errlen);
    if (!f)
        return -1;
    double step = 0, stored_seed = 0;
    int rc = -1;
    lm_config_string(m, mine, sizeof mine);
    if (h5io_read_attr_str(f, "/", "model_config", stored, sizeof stored) != 0 ||
        h5io_read_attr_double(f, "/", "step", &step) != 0 || h5io_read_attr_double(f, "/", "seed", &stored_seed) != 0)
        snprintf(err, errlen, "%s: not a subq checkpoint (no model_config, step or seed)", path);
    else if (strcmp(stored, mine) != 0)
        snprintf(err, errlen, "%s: written for model '%s', not '%s'", path, stored, mine);
    else if (!(step >= 0 && step <= 1e9) || step != floor(step)) /* NaN fails too; a cast would be undefined */
        snprintf(err, errlen, "%s: step %g is not a step count (a whole number from 0 to 1e9)", path, step);
    else if (steps > 0 && step >= (double)steps)
        snprintf(err, errlen, "%s: already at step %.0f, so %ld steps leave nothing to train (raise --steps)", path,
                 step, steps);
    else if (stored_seed != (double)seed)
        snprintf(err, errlen, "%s: trained with seed %.0f, this run has seed %llu (resume with the same --seed)",
                 path, stored_seed, (unsigned long long)seed);
    else if (read_block(f, "params", m, s->params, msg, sizeof msg) != 0 ||
             read_block(f, "adam_m", m, s->m, msg, sizeof msg) != 0 ||
             read_block(f, "adam_v", m, s->v, msg, sizeof msg) != 0 ||
             block_finite(m, "params", s->params, msg, sizeof msg) != 0 ||
             block_finite(m, "adam_m", s->m, msg, sizeof msg) != 0 ||
             block_finite(m, "adam_v", s->v, msg, sizeof msg) != 0)
        snprintf(err, errlen, "%s: %s", path, msg);
    else {
        s->step = (long)step;
        rc = 0;
    }
    h5io_close(f);
    return rc;
}

int train_load_model(const char *path, LmModel *m, float **params, char *err, size_t errlen)
{
    char config[4 * LM_CONFIG_LEN];
    *params = NULL;
    H5File *f = h5io_open_read(path, err, errlen);
    if (!f)
        return -1;
    if (h5io_read_attr_str(f, "/", "model_config", config, sizeof config) != 0) {
        snprintf(err, errlen, "%s: not a subq checkpoint (no model_config attribute)", path);
        h5io_close(f);
        return -1;
    }
    if (lm_create(m, config, err, errlen) != 0) {
        h5io_close(f);
        return -1;
    }
    int rc = (*params = core_alloc_floats(m->n_params)) ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "out of memory for %zu parameters", m->n_params);
    if (rc == 0)
        rc = read_block(f, "params", m, *params, err, errlen);
    if (rc == 0)
        rc = block_finite(m, "params", *params, err, errlen);
    h5io_close(f);
    if (rc != 0) {
        core_free(*params);
        *params = NULL;
        lm_destroy(m);
    }
    return rc;
}
