#include "report_scaling.h"

#include <math.h>

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
