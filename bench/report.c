#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5io.h"
#include "report_cifar.h"

/* How a published number is tested: the attribute of a results file that measures it, and which side of the
 * published value counts as reproducing the claim (+1: at least as high, -1: at most as high). */
typedef struct ClaimRule {
    const char *claim_id, *experiment, *path, *attr;
    int direction;
    double scale; /* subq value = attribute * scale */
    const char *measured; /* what subq's number is */
} ClaimRule;

static const ClaimRule rules[] = {
    {"hyena_runtime_64k_fig", "ops_scaling", "/", "speedup_at_longest", +1, 1.0,
     "forward+backward speedup of Hyena (order 2) over tiled attention at the longest length, D=768, batch 1"},
    {"hyena_runtime_64k_text", "ops_scaling", "/", "speedup_at_longest", +1, 1.0,
     "same measurement as the row above"},
    {"hyena_runtime_crossover_attn", "ops_scaling", "/", "crossover_seq_len_hyena_vs_tiled_attention", -1, 1.0,
     "shortest length from which Hyena's forward+backward beats tiled attention"},
    {"hyena_runtime_crossover_flash", "ops_scaling", "/", "crossover_seq_len_hyena_vs_tiled_attention", -1, 1.0,
     "subq's tiled attention is its FlashAttention-style kernel"},
    {"hyena_ar2048_v10", "assoc_recall", "runs/hyena_v10_L2046", "accuracy", +1, 1.0,
     "Hyena, 2 layers, width 64, CPU step budget; answer accuracy on held-out examples"},
    {"hyena_ar2048_v20", "assoc_recall", "runs/hyena_v20_L2046", "accuracy", +1, 1.0, "as above, vocab 20"},
    {"hyena_ar2048_v30", "assoc_recall", "runs/hyena_v30_L2046", "accuracy", +1, 1.0, "as above, vocab 30"},
    {"hyena_ar2048_v40", "assoc_recall", "runs/hyena_v40_L2046", "accuracy", +1, 1.0, "as above, vocab 40"},
    {"hyena_ar_30k", "assoc_recall", "runs/hyena_v30_L32766", "accuracy", +1, 1.0, "paper profile only"},
    {"hyena_ar_64k", "assoc_recall", "runs/hyena_v30_L65534", "accuracy", +1, 1.0, "paper profile only"},
    {"hyena_ar_131k", "assoc_recall", "runs/hyena_v30_L131070", "accuracy", +1, 1.0, "paper profile only"},
    {"hyena_flops_vs_gpt", "lm_shakespeare", "/", "hyena_over_gpt_flops_to_target", -1, 1.0,
     "tiny Shakespeare at matched parameters: training FLOPs Hyena needs to reach val loss 1.88 over those GPT needs"},
    {"nanogpt_cpu_shakespeare", "lm_shakespeare", "runs/gpt", "val_loss", -1, 1.0,
     "subq's GPT at nanoGPT's CPU configuration (bytes, 2000 steps); validation loss"},
    {"fff_speed_ff", "channel_speed", "/", "speedup_fff_leaf1_w4096_b1", +1, 1.0,
     "FFF depth 12, leaf width 1 vs dense ffn of width 4096, D=768, batch 1 (fair timing, see channel_speed)"},
    {"fff_speed_moe", "channel_speed", "/", "fff_over_moe_w4096_b1", +1, 1.0,
     "FFF depth 12, leaf width 1 vs top-1 MoE (16 experts) of the same training width 4096, D=768, batch 1"},
    {"ufb_cpu_speedup", "channel_speed", "/", "speedup_ufb_w4096_b1", +1, 1.0,
     "UltraFastBERT FFF depth 11 (4095 neurons) vs dense ffn width 4096, D=768, batch 1"},
    {"fff_vit_neurons", "cifar_vit", "/", "fff_accuracy_retained_pct", +1, 1.0,
     "small ViT on CIFAR-10 (patch 4): test accuracy of FFF channels (leaf 1, hard routing) over ffn channels of "
     "equal training width; the neuron fraction is in the CIFAR-10 section below"},
    {"hyena_vit_gap_p8", "cifar_vit", "/", "vit_minus_hyena_test_acc", -1, 1.0,
     "small ViT on CIFAR-10 (patch 4): attention minus Hyena mixer test accuracy, points"},
    {"hyena_scifar", "scifar", "runs/hyena", "test_acc", +1, 1.0,
     "Hyena blocks over the 1024-pixel sequence; test accuracy"},
    {"hyena_cifar2d", "cifar_2d", "runs/longconv2d", "test_acc", +1, 1.0,
     "isometric network with 2D long convolutions; test accuracy"},
    {"fff_cifar10_ff_repro", "cifar_fff", "/", "widest_ff_test_acc", +1, 1.0,
     "FF of the widest training width (128 in default), 5 epochs; test accuracy"},
    {"fff_cifar10_gap_repro", "cifar_fff", "/", "widest_fff_minus_ff_test_acc", -1, 1.0,
     "FFF (leaf 8, hard routing) minus FF test accuracy at the widest training width, 5 epochs, points"},
    {"fff_cifar10_fff_repro", "cifar_fff", "/", "widest_fff_test_acc_infer", +1, 1.0,
     "FFF of the same training width (leaf 8, hard routing), 5 epochs; test accuracy"},
};

static const ClaimRule *rule_for(const char *claim)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].claim_id, claim) == 0)
            return &rules[i];
    return NULL;
}

typedef struct PublishedRow {
    char claim[96], paper[32], table[64], setting[256], metric[48], value[48], note[256];
} PublishedRow;

/* Splits one TSV line into the seven columns; 0 on success. */
static int parse_row(char *line, PublishedRow *row)
{
    char *cols[7] = {0};
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < 7; n++) {
        cols[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab) {
            n++;
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (n < 6)
        return -1;
    snprintf(row->claim, sizeof row->claim, "%s", cols[0]);
    snprintf(row->paper, sizeof row->paper, "%s", cols[1]);
    snprintf(row->table, sizeof row->table, "%s", cols[2]);
    snprintf(row->setting, sizeof row->setting, "%s", cols[3]);
    snprintf(row->metric, sizeof row->metric, "%s", cols[4]);
    snprintf(row->value, sizeof row->value, "%s", cols[5]);
    snprintf(row->note, sizeof row->note, "%s", n > 6 && cols[6] ? cols[6] : "");
    return 0;
}

/* subq's number for a claim and the conditions it was measured under; 0 if measured. */
static int measure(const ClaimRule *rule, const char *results_dir, double *value, char *conditions, size_t len)
{
    char path[1024], err[256], profile[32] = "?", cpu[128] = "?", date[40] = "?";
    snprintf(path, sizeof path, "%s/%s.h5", results_dir, rule->experiment);
    H5File *f = h5io_open_read(path, err, sizeof err);
    if (!f)
        return -1;
    double threads = 0;
    int rc = h5io_read_attr_double(f, rule->path, rule->attr, value);
    h5io_read_attr_str(f, "/", "profile", profile, sizeof profile);
    h5io_read_attr_str(f, "/", "cpu_model", cpu, sizeof cpu);
    h5io_read_attr_str(f, "/", "date_utc", date, sizeof date);
    h5io_read_attr_double(f, "/", "threads", &threads);
    h5io_close(f);
    *value *= rule->scale;
    snprintf(conditions, len, "%s; `%s` profile %s, %s, %.0f threads, %s", rule->measured, rule->experiment, profile,
             cpu, threads, date);
    return rc;
}

static void write_row(FILE *out, const PublishedRow *row, const char *results_dir)
{
    const ClaimRule *rule = rule_for(row->claim);
    double ours = 0, published = atof(row->value);
    char conditions[768] = "", ours_text[48] = "-";
    const char *verdict = "not run at this scale";
    if (rule && measure(rule, results_dir, &ours, conditions, sizeof conditions) == 0) {
        snprintf(ours_text, sizeof ours_text, "%.4g", ours);
        int ok = rule->direction > 0 ? ours >= published : ours <= published;
        verdict = ok ? "**reproduced**" : "not reproduced";
    } else if (rule) {
        snprintf(conditions, sizeof conditions, "%s: not measured (run `make reproduce ONLY=%s`, or the `paper` "
                 "profile)", rule->measured, rule->experiment);
    } else {
        snprintf(conditions, sizeof conditions, "beyond a 2-core CPU budget or not yet measured by subq");
    }
    fprintf(out, "| %s | %s %s | %s | %s %s | %s | %s | %s |\n", row->claim, row->paper, row->table, row->setting,
            row->value, row->metric, ours_text, conditions, verdict);
}

/* The figures `make figures` rendered, each with a caption; figures of experiments not run are left out. */
static void write_figures(FILE *out, const char *results_dir)
{
    static const char *const figures[][2] = {
        {"ops_scaling", "runtime vs sequence length"},
        {"channel_speed", "channel mixers: speedup over the dense ffn"},
        {"peers", "subq vs PyTorch"},
        {"lm_shakespeare", "tiny Shakespeare validation loss"},
        {"lm_sotu", "State of the Union validation loss"},
        {"hyena_filters", "Hyena's learned long filters (tiny Shakespeare, layer 0)"},
        {"assoc_recall", "associative recall accuracy vs length"},
        {"cifar_fff", "flattened CIFAR-10: FF vs FFF vs MoE"},
        {"cifar_vit", "ViT on CIFAR-10: test accuracy during training"},
        {"scifar", "sequential CIFAR-10: test accuracy during training"},
        {"cifar_2d", "CIFAR-10 isometric networks: 3x3 vs 2D long convolutions"},
    };
    fprintf(out, "\n## Figures\n");
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/figures/%s.png", results_dir, figures[i][0]);
        if (access(path, R_OK) == 0)
            fprintf(out, "\n![%s](figures/%s.png)\n", figures[i][1], figures[i][0]);
    }
}

int report_write(const char *published_tsv, const char *results_dir, const char *out_path, char *err,
                 size_t errlen)
{
    FILE *in = fopen(published_tsv, "r");
    if (!in) {
        snprintf(err, errlen, "%s: cannot read the published numbers", published_tsv);
        return -1;
    }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        snprintf(err, errlen, "%s: cannot write", out_path);
        return -1;
    }
    fprintf(out, "# subq report\n\nGenerated by `subq report` from the results files in `%s/` and the published "
                 "numbers in `%s`. Every number comes from a results file; rerun `make figures` after "
                 "`make reproduce` to refresh it.\n\n"
                 "| claim | source | setting | published | subq | conditions | verdict |\n"
                 "| --- | --- | --- | --- | --- | --- | --- |\n",
            results_dir, published_tsv);
    char line[2048];
    PublishedRow row;
    while (fgets(line, sizeof line, in))
        if (line[0] != '#' && strncmp(line, "claim_id\t", 9) != 0 && parse_row(line, &row) == 0)
            write_row(out, &row, results_dir);
    report_cifar_sections(out, results_dir);
    write_figures(out, results_dir);
    fclose(in);
    if (fclose(out) != 0 || rename(tmp, out_path) != 0) {
        remove(tmp);
        snprintf(err, errlen, "%s: cannot write", out_path);
        return -1;
    }
    return 0;
}
