#include "report_scaling.h"

#include <math.h>
#include <stdlib.h>

#include "h5io.h"

void report_scaling_section(FILE *out, const char *results_dir)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/lm_flops.h5", results_dir);
    fprintf(out, "\n## Data-parallel scaling (model)\n\n");
    H5File *f = h5io_open_read(path, err, sizeof err);
    if (!f || isnan(h5io_attr_num(f, "/", "dp_batch_tokens"))) {
        fprintf(out, "No modelled scaling: `make reproduce ONLY=lm_flops` writes it (no training, seconds).\n");
        if (f)
            h5io_close(f);
        return;
    }
    fprintf(out, "Predicted efficiency of data-parallel training (`mpirun -np N ./subq train`) with the global batch "
                 "fixed at %.0f tokens: per step, the analytic training FLOPs on N ranks, then a ring all-reduce of "
                 "the float32 gradient at %.1f GB/s and %.0f us per step, not overlapped with the backward. A `vm` "
                 "rank is one 2-core machine like the one this ran on (%.0f GFLOP/s sustained: 0.7 of this run's "
                 "calibration sgemm, the share a training step reached here); a `node64` rank is a 64-core node "
                 "taken as 32 of them (%.0f GFLOP/s). A model, not a measurement.\n\n",
            h5io_attr_num(f, "/", "dp_batch_tokens"), h5io_attr_num(f, "/", "dp_bandwidth_bytes_per_s") / 1e9,
            h5io_attr_num(f, "/", "dp_latency_s") * 1e6, h5io_attr_num(f, "/", "dp_rank_flops_vm") / 1e9,
            h5io_attr_num(f, "/", "dp_rank_flops_node64") / 1e9);
    fprintf(out, "| model | parameters | rank | N = 8 | N = 64 | N = 512 | all-reduce at N = 512 |\n"
                 "| --- | --- | --- | --- | --- | --- | --- |\n");
    const char *models[] = {"gpt_125m", "hyena_153m", "gpt_355m", "hyena_355m"}, *kinds[] = {"vm", "node64"};
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char run[64];
        snprintf(run, sizeof run, "runs/%s", models[m]);
        if (!h5io_exists(f, run))
            continue;
        for (size_t k = 0; k < 2; k++) {
            fprintf(out, "| %s | %.1fM | %s |", models[m], h5io_attr_num(f, run, "params") / 1e6, kinds[k]);
            const int ranks[] = {8, 64, 512};
            for (int i = 0; i < 3; i++) {
                char name[64], step[64];
                snprintf(name, sizeof name, "dp_efficiency_%s_N%d", kinds[k], ranks[i]);
                snprintf(step, sizeof step, "dp_step_s_%s_N%d", kinds[k], ranks[i]);
                fprintf(out, " %.1f%% (step %.3g s) |", 100 * h5io_attr_num(f, run, name), h5io_attr_num(f, run, step));
            }
            fprintf(out, " %.3g s |\n", h5io_attr_num(f, run, "dp_allreduce_s_N512"));
        }
    }
    h5io_close(f);
}

/* A run's series (n values, NULL if absent; free it). */
static double *run_series(H5File *f, const char *run, const char *name, size_t *n)
{
    char path[256], err[256];
    double *v = NULL;
    snprintf(path, sizeof path, "runs/%.120s/%.120s", run, name);
    if (h5io_read_doubles(f, path, &v, n, err, sizeof err) != 0)
        *n = 0;
    return v;
}

/* One row of the generation table: tokens/s at each context, the state at 64K, the step's error. */
static void generation_row(FILE *out, H5File *f, const char *name, const double *contexts, int n_contexts)
{
    char run[160];
    size_t n_ctx, n_rate, n_state;
    double *ctx = run_series(f, name, "context", &n_ctx), *rate = run_series(f, name, "tokens_per_s", &n_rate);
    double *state = run_series(f, name, "state_mib", &n_state), mib = NAN;
    snprintf(run, sizeof run, "runs/%.120s", name);
    fprintf(out, "| %s | %.0f |", name, h5io_attr_num(f, run, "batch"));
    for (int c = 0; c < n_contexts; c++) {
        double v = NAN;
        for (size_t i = 0; i < n_ctx; i++) {
            v = ctx[i] == contexts[c] && i < n_rate ? rate[i] : v;
            mib = ctx[i] == 65536 && i < n_state ? state[i] : mib;
        }
        if (isnan(v))
            fprintf(out, " - |");
        else
            fprintf(out, " %.3g tok/s |", v);
    }
    if (isnan(mib))
        fprintf(out, " - |");
    else
        fprintf(out, " %.0f MiB |", mib);
    fprintf(out, " %.1e |\n", h5io_attr_num(f, run, "step_vs_forward_max_error"));
    free(ctx), free(rate), free(state);
}

void report_generation_section(FILE *out, const char *results_dir)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/generation.h5", results_dir);
    fprintf(out, "\n## Generation (one token at a time)\n\n");
    H5File *f = h5io_open_read(path, err, sizeof err);
    if (!f) {
        fprintf(out, "Not measured: `make reproduce ONLY=generation` writes it (about 2 minutes).\n");
        return;
    }
    fprintf(out, "Tokens per second of one sequence mixer at D = %.0f when generating T tokens from an empty context "
                 "(the mean per token), and the state it keeps at T (docs/DESIGN.md section 11). Every method but "
                 "hyena_modal is exact: its steps equal the forward's rows (worst error over 96 tokens in the last "
                 "column). hyena_modal generates from each filter distilled into a 16-degree modal recurrence "
                 "(Laughing Hyena), an approximation: the last column is its error, and `hyena_distill` measures "
                 "what distillation costs a trained model.\n\n",
            h5io_attr_num(f, "/", "d_model"));
    char names[16][128];
    int n = h5io_list_groups(f, "runs", names, 16);
    const double contexts[] = {1024, 4096, 16384, 65536};
    fprintf(out, "| method | batch | T = 1K | T = 4K | T = 16K | T = 64K | state at 64K | step vs forward |\n"
                 "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int r = 0; r < n; r++)
        generation_row(out, f, names[r], contexts, 4);
    h5io_close(f);
}
