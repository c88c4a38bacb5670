/* peers: the same operators at the same shapes timed with PyTorch (baselines/torch/peer_bench.py, the PyPI
 * release in the project's virtual environment, `make peers`) and with subq in the same run; one run per
 * point with both sets of times and the ratios subq/PyTorch (below 1: subq is faster). Skipped, with a
 * message saying how to enable it, when the environment is absent. The fftconv point at B=1, D=768, L=4096
 * is the foundation's fftconv target (subq at least 4x faster than torch.fft); the sequence operators run at
 * L=4096, the ffn on 4096 tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiments.h"
#include "h5io.h"

#define PEER_SCRIPT "baselines/torch/peer_bench.py"

typedef struct PeerPoint {
    const char *run, *op, *config;
    int seq_len;
} PeerPoint;

/* Run names are the same in every profile (plots/peers.gp lists them); the sizes live in each run's config. */
static const PeerPoint default_points[] = {
    {"fftconv", "fftconv", "d_model=768,l_max=4096", 4096},
    {"attention_tiled", "attention", "d_model=768,n_heads=12,impl=tiled", 4096},
    {"hyena_order2", "hyena", "d_model=768,order=2,l_max=4096", 4096},
    {"s4d", "s4d", "d_model=768", 4096},
    {"ffn", "ffn", "d_model=768,d_hidden=3072", 4096},
};

static const PeerPoint smoke_points[] = {
    {"fftconv", "fftconv", "d_model=128,l_max=512", 512},
    {"attention_tiled", "attention", "d_model=128,n_heads=4,impl=tiled", 512},
    {"hyena_order2", "hyena", "d_model=128,order=2,l_max=512", 512},
    {"s4d", "s4d", "d_model=128", 512},
    {"ffn", "ffn", "d_model=128,d_hidden=512", 512},
};

static int write_points(const char *path, const PeerPoint *pts, int n, const ReproContext *ctx)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"threads\": %d, \"points\": [\n", ctx->threads);
    for (int i = 0; i < n; i++) {
        Op op;
        char err[256];
        if (exp_configure(&op, pts[i].op, pts[i].config, err, sizeof err) != 0)
            continue;
        OpFlops fl = op_flops(&op, 1, pts[i].seq_len);
        TimingPolicy pol = exp_policy_for(ctx, fl.forward + fl.backward);
        fprintf(f, "%s{\"run\": \"%s\", \"op\": \"%s\", \"config\": \"%s\", \"batch\": 1, \"seq_len\": %d, "
                   "\"single\": %d}\n",
                i ? "," : "", pts[i].run, pts[i].op, pts[i].config, pts[i].seq_len, pol.max_reps == 1);
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* Copies the PyTorch times of run into results and returns its fwd+bwd median (0 if absent). */
static void record_peer(H5File *torch, Results *results, const char *run, double *fwd, double *train)
{
    char path[256];
    snprintf(path, sizeof path, "runs/%s", run);
    *fwd = *train = 0;
    if (h5io_read_attr_double(torch, path, "forward_ms_median", fwd) != 0 ||
        h5io_read_attr_double(torch, path, "forward_backward_ms_median", train) != 0)
        return;
    results_metric(results, run, "torch_forward_ms_median", *fwd);
    results_metric(results, run, "torch_forward_backward_ms_median", *train);
}

static int time_subq(const ReproContext *ctx, Results *results, H5File *torch, const PeerPoint *p, char *err,
                     size_t errlen)
{
    Op op;
    if (exp_configure(&op, p->op, p->config, err, errlen) != 0)
        return -1;
    OpFlops fl = op_flops(&op, 1, p->seq_len);
    TimingPolicy pol = exp_policy_for(ctx, fl.forward + fl.backward);
    BenchOpResult r;
    if (benchop_run(&op, 1, p->seq_len, 1, &pol, 0, ctx->seed, &r, err, errlen) != BENCHOP_OK)
        return -1;
    exp_record_bench(ctx, results, p->run, &op, 1, p->seq_len, &r);
    double tf, tt;
    record_peer(torch, results, p->run, &tf, &tt);
    if (tf > 0) {
        /* Also as one-point series, so `subq results export` hands them to plots/peers.gp. */
        double rf = r.forward.median_ms / tf, rt = r.training.median_ms / tt;
        results_metric(results, p->run, "ratio_forward_subq_over_torch", rf);
        results_metric(results, p->run, "ratio_forward_backward_subq_over_torch", rt);
        results_series(results, p->run, "ratio_forward", &rf, 1);
        results_series(results, p->run, "ratio_forward_backward", &rt, 1);
    }
    repro_log(ctx, "  subq  %-28s fwd %10.2f ms  fwd+bwd %10.2f ms   torch/subq: fwd %.2fx  fwd+bwd %.2fx\n", p->run,
              r.forward.median_ms, r.training.median_ms, tf / r.forward.median_ms, tt / r.training.median_ms);
    return 0;
}

int exp_peers(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    if (!exp_peer_python_ready()) {
        repro_log(ctx, "  PyTorch peer environment not found (%s): peers skipped; `make peers` installs it\n",
                  EXP_PEER_PYTHON);
        results_root_str(results, "skipped", "PyTorch peer environment absent; run `make peers`");
        return 0;
    }
    int smoke = ctx->profile == PROFILE_SMOKE;
    const PeerPoint *pts = smoke ? smoke_points : default_points;
    int n = smoke ? (int)(sizeof smoke_points / sizeof smoke_points[0])
                  : (int)(sizeof default_points / sizeof default_points[0]);
    char json[1024], torch_path[1024], cmd[3200];
    snprintf(json, sizeof json, "%s/peers_points.json", ctx->results_dir);
    snprintf(torch_path, sizeof torch_path, "%s/peers_torch.h5", ctx->results_dir);
    if (write_points(json, pts, n, ctx) != 0) {
        snprintf(err, errlen, "cannot write %s", json);
        return -1;
    }
    snprintf(cmd, sizeof cmd, "%s %s %s %s", EXP_PEER_PYTHON, PEER_SCRIPT, json, torch_path);
    if (system(cmd) != 0) {
        snprintf(err, errlen, "the PyTorch peer benchmark failed (%s)", cmd);
        return -1;
    }
    H5File *torch = h5io_open_read(torch_path, err, errlen);
    if (!torch)
        return -1;
    char version[64] = "unknown";
    h5io_read_attr_str(torch, "/", "torch_version", version, sizeof version);
    results_root_str(results, "torch_version", version);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = time_subq(ctx, results, torch, &pts[i], err, errlen);
    h5io_close(torch);
    return rc;
}
