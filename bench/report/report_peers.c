#include "report_peers.h"

#include <math.h>
#include <string.h>

#include "h5io.h"

#define MAX_POINTS 64

/* "1.23x [1.10, 1.31] subq faster; 45% / 38%" for one phase of one point, or "-" when not measured. */
static void phase_cell(FILE *out, H5File *f, const char *path, const char *phase)
{
    char name[128], outcome[64] = "";
    snprintf(name, sizeof name, "torch_over_subq_%s", phase);
    double r = h5io_attr_num(f, path, name);
    if (isnan(r)) {
        fprintf(out, " - |");
        return;
    }
    snprintf(name, sizeof name, "torch_over_subq_%s_low", phase);
    double lo = h5io_attr_num(f, path, name);
    snprintf(name, sizeof name, "torch_over_subq_%s_high", phase);
    double hi = h5io_attr_num(f, path, name);
    snprintf(name, sizeof name, "%s_outcome", phase);
    h5io_read_attr_str(f, path, name, outcome, sizeof outcome);
    snprintf(name, sizeof name, "subq_%s_gflops_fraction_of_calibration", phase);
    double fs = h5io_attr_num(f, path, name);
    snprintf(name, sizeof name, "torch_%s_gflops_fraction_of_calibration", phase);
    double ft = h5io_attr_num(f, path, name);
    fprintf(out, " %.2fx [%.2f, %.2f] %s; %.0f%% / %.0f%% |", r, lo, hi, outcome, 100 * fs, 100 * ft);
}

static int is_training_point(H5File *f, const char *run_path)
{
    char op[32] = "";
    h5io_read_attr_str(f, run_path, "op", op, sizeof op);
    return strcmp(op, "lm_training_step") == 0;
}

static void operator_row(FILE *out, H5File *f, const char *run)
{
    char run_path[160], config[512] = "", op[32] = "";
    snprintf(run_path, sizeof run_path, "runs/%.120s", run);
    if (!h5io_exists(f, run_path) || is_training_point(f, run_path))
        return;
    h5io_read_attr_str(f, run_path, "config", config, sizeof config);
    h5io_read_attr_str(f, run_path, "op", op, sizeof op);
    const char *peer = strcmp(op, "attention") == 0
                           ? (strstr(config, "impl=tiled") ? "`F.scaled_dot_product_attention`"
                                                           : "explicit softmax(QK^T)V")
                       : strcmp(op, "fftconv") == 0 ? "`torch.fft` (safari's fftconv)"
                       : strcmp(op, "hyena") == 0   ? "safari's HyenaOperator (reference port)"
                       : strcmp(op, "s4d") == 0     ? "S4D reference module"
                                                    : "`torch.nn`";
    fprintf(out, "| %s (`%s`) | %s | %.0f x %.0f |", run, config, peer, h5io_attr_num(f, run_path, "batch"),
            h5io_attr_num(f, run_path, "seq_len"));
    phase_cell(out, f, run_path, "forward");
    phase_cell(out, f, run_path, "forward_backward");
    fprintf(out, "\n");
}

static void training_row(FILE *out, H5File *f, const char *run)
{
    char run_path[160], attention[64] = "-", config[1024] = "";
    snprintf(run_path, sizeof run_path, "runs/%.120s", run);
    if (!h5io_exists(f, run_path) || !is_training_point(f, run_path))
        return;
    h5io_read_attr_str(f, run_path, "config", config, sizeof config);
    if (strstr(config, "mixer=attention"))
        h5io_read_attr_str(f, run_path, "torch_attention", attention, sizeof attention);
    fprintf(out, "| %s | %.0f | %s | %.0f x %.0f | %.0f | %.0f |", run, h5io_attr_num(f, run_path, "params"), attention,
            h5io_attr_num(f, run_path, "batch"), h5io_attr_num(f, run_path, "seq_len"),
            h5io_attr_num(f, run_path, "subq_tokens_per_s"), h5io_attr_num(f, run_path, "torch_tokens_per_s"));
    phase_cell(out, f, run_path, "train_step");
    fprintf(out, "\n");
}

/* The hyena_vs_sdpa_L<L> runs in order of length, then the crossover and the speedup at the longest length. */
static void hyena_sdpa_table(FILE *out, H5File *f)
{
    char runs[MAX_POINTS][128];
    int n = h5io_list_groups(f, "runs", runs, MAX_POINTS), idx[MAX_POINTS], m = 0;
    double len[MAX_POINTS];
    for (int i = 0; i < n; i++) {
        char path[160];
        snprintf(path, sizeof path, "runs/%.120s", runs[i]);
        if (strncmp(runs[i], "hyena_vs_sdpa_L", 15) != 0)
            continue;
        len[m] = h5io_attr_num(f, path, "seq_len");
        idx[m++] = i;
    }
    if (m == 0)
        return;
    for (int i = 1; i < m; i++) /* insertion sort by length: HDF5 lists groups by name */
        for (int j = i; j > 0 && len[j] < len[j - 1]; j--) {
            double tl = len[j];
            int ti = idx[j];
            len[j] = len[j - 1], idx[j] = idx[j - 1];
            len[j - 1] = tl, idx[j - 1] = ti;
        }
    char torch_config[128] = "";
    fprintf(out, "\nHyena (order 2, subq) against PyTorch's attention (`F.scaled_dot_product_attention`, causal) "
                 "by length, batch 1: the cell as above, PyTorch attention time / subq Hyena time, so above 1 "
                 "Hyena is faster (both at the width of the PyTorch config):\n\n"
                 "| L | PyTorch attention | forward | forward+backward |\n| --- | --- | --- | --- |\n");
    for (int k = 0; k < m; k++) {
        char path[160];
        snprintf(path, sizeof path, "runs/%.120s", runs[idx[k]]);
        h5io_read_attr_str(f, path, "torch_config", torch_config, sizeof torch_config);
        fprintf(out, "| %.0f | `%s` |", len[k], torch_config);
        phase_cell(out, f, path, "forward");
        phase_cell(out, f, path, "forward_backward");
        fprintf(out, "\n");
    }
    double cross = h5io_attr_num(f, "/", "crossover_seq_len_hyena_vs_sdpa");
    char why[160] = "";
    h5io_read_attr_str(f, "/", "crossover_seq_len_hyena_vs_sdpa_why", why, sizeof why);
    if (!isnan(cross))
        fprintf(out, "\nCrossover (forward+backward; Hyena faster, the whole spread above 1, at this and every longer "
                     "length measured): L = %.0f.", cross);
    else
        fprintf(out, "\nNo crossover: %s.", why[0] ? why : "not recorded");
    fprintf(out, " At the longest length, L = %.0f: %.2fx [%.2f, %.2f].\n",
            h5io_attr_num(f, "/", "hyena_vs_sdpa_longest_seq_len"),
            h5io_attr_num(f, "/", "speedup_hyena_vs_sdpa_at_longest"),
            h5io_attr_num(f, "/", "speedup_hyena_vs_sdpa_at_longest_low"),
            h5io_attr_num(f, "/", "speedup_hyena_vs_sdpa_at_longest_high"));
}

void report_peers_section(FILE *out, const char *results_dir)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/peers.h5", results_dir);
    fprintf(out, "\n## Baselines against PyTorch (`peers`)\n\n");
    H5File *f = h5io_open_read(path, err, sizeof err);
    char skipped[256] = "";
    if (f)
        h5io_read_attr_str(f, "/", "skipped", skipped, sizeof skipped);
    if (!f || skipped[0] || !h5io_exists(f, "runs")) {
        fprintf(out, "No PyTorch peer timings, so the speed rows above are ratios against subq's own baselines "
                     "with nothing to show how fast those are: `make peers` installs PyTorch into `.venv/`, then "
                     "`make reproduce ONLY=peers`.\n");
        if (f)
            h5io_close(f);
        return;
    }
    char version[64] = "?", mkl[64] = "?", onednn[64] = "?", cap[32] = "?", threads[16] = "?", profile[32] = "?",
         cpu[160] = "?", commit[48] = "?", date[40] = "?";
    h5io_read_attr_str(f, "/", "torch_version", version, sizeof version);
    h5io_read_attr_str(f, "/", "torch_mkl", mkl, sizeof mkl);
    h5io_read_attr_str(f, "/", "torch_onednn", onednn, sizeof onednn);
    h5io_read_attr_str(f, "/", "torch_cpu_capability", cap, sizeof cap);
    h5io_read_attr_str(f, "/", "torch_threads", threads, sizeof threads);
    h5io_read_attr_str(f, "/", "profile", profile, sizeof profile);
    h5io_read_attr_str(f, "/", "cpu_model", cpu, sizeof cpu);
    h5io_read_attr_str(f, "/", "git_commit", commit, sizeof commit);
    h5io_read_attr_str(f, "/", "date_utc", date, sizeof date);
    commit[strlen(commit) > 7 ? 7 : strlen(commit)] = '\0';
    fprintf(out, "PyTorch %s (MKL %s, oneDNN %s, %s kernels, %s threads) against subq at commit %s on %s, %s, "
                 "profile `%s`. Each cell: "
                 "PyTorch time / subq time of the fastest repetitions (above 1: subq is faster), the lowest and "
                 "highest per-round ratio in brackets, the outcome (a spread containing 1 is level), then subq's "
                 "and PyTorch's rates as fractions of the in-run calibration sgemm (analytic FLOPs / fastest "
                 "time).\n\n",
            version, mkl, onednn, cap, threads, commit, cpu, date, profile);
    char runs[MAX_POINTS][128], order[2048] = "";
    int n = 0;
    if (h5io_read_attr_str(f, "/", "point_order", order, sizeof order) == 0) {
        char *save = NULL;
        for (char *tok = strtok_r(order, ",", &save); tok && n < MAX_POINTS; tok = strtok_r(NULL, ",", &save))
            snprintf(runs[n++], sizeof runs[0], "%s", tok);
    } else
        n = h5io_list_groups(f, "runs", runs, MAX_POINTS);
    fprintf(out, "| point | PyTorch peer | B x L | forward | forward+backward |\n| --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < n; i++)
        operator_row(out, f, runs[i]);
    fprintf(out, "\nTraining throughput, one optimisation step (forward, backward, clip, AdamW) on random byte tokens; "
                 "the cell as above, with tokens/s from each side's fastest step:\n\n"
                 "| model | parameters | PyTorch attention | B x context | subq tokens/s | PyTorch tokens/s | "
                 "PyTorch time / subq time |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < n; i++)
        training_row(out, f, runs[i]);
    hyena_sdpa_table(out, f);
    h5io_close(f);
}
