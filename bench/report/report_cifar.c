#include "report_cifar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h5io.h"

#define MAX_RUNS 64
#define MAX_COLS 8

/* A run's attribute, NAN when absent. */
static double attr(H5File *f, const char *run, const char *name)
{
    char path[192];
    snprintf(path, sizeof path, "runs/%.120s", run);
    return h5io_attr_num(f, path, name);
}

/* Opens results/<experiment>.h5 and prints its section heading and conditions; NULL (and a "not run" line)
 * when there is no results file. runs receives the run names. */
static H5File *open_section(FILE *out, const char *results_dir, const char *experiment, const char *title,
                            char (*runs)[128], int *n_runs)
{
    char path[1024], err[256], profile[32] = "?", scale[1024] = "", source[1200] = "";
    snprintf(path, sizeof path, "%s/%s.h5", results_dir, experiment);
    fprintf(out, "\n### %s (`%s`)\n\n", title, experiment);
    H5File *f = h5io_open_read(path, err, sizeof err);
    if (!f) {
        fprintf(out, "Not run (`make reproduce ONLY=%s`).\n", experiment);
        return NULL;
    }
    h5io_read_attr_str(f, "/", "profile", profile, sizeof profile);
    h5io_read_attr_str(f, "/", "scale", scale, sizeof scale);
    h5io_read_attr_str(f, "/", "data_source", source, sizeof source);
    source[strcspn(source, " ")] = '\0'; /* the source's name; the archive and checksums stay in the file */
    fprintf(out, "Profile `%s` (%s). Data: CIFAR-10 from the %s source.\n\n", profile, scale, source);
    *n_runs = h5io_exists(f, "runs") ? h5io_list_groups(f, "runs", runs, MAX_RUNS) : 0;
    return f;
}

static void cell(FILE *out, double v, const char *fmt)
{
    if (isnan(v))
        fprintf(out, " - |");
    else {
        fprintf(out, " ");
        fprintf(out, fmt, v);
        fprintf(out, " |");
    }
}

/* ---- cifar_fff: the paper's layout ---- */

typedef struct FffLayout {
    int widths[MAX_COLS], n_widths;
    char rows[MAX_RUNS][32]; /* "ff", "fff_l8", "moe_l8" */
    int n_rows;
} FffLayout;

/* Splits "fff_w64_l8" into the row key "fff_l8" and the width 64; 0 on success. */
static int parse_fff_run(const char *run, char *row, size_t rowlen, int *width)
{
    char model[16];
    int w = 0, leaf = 0;
    int n = sscanf(run, "%15[a-z]_w%d_l%d", model, &w, &leaf);
    if (n < 2)
        return -1;
    *width = w;
    if (n == 3)
        snprintf(row, rowlen, "%s_l%d", model, leaf);
    else
        snprintf(row, rowlen, "%s", model);
    return 0;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void fff_layout(char (*runs)[128], int n_runs, FffLayout *l)
{
    memset(l, 0, sizeof *l);
    for (int i = 0; i < n_runs; i++) {
        char row[32];
        int w, seen = 0;
        if (parse_fff_run(runs[i], row, sizeof row, &w) != 0)
            continue;
        for (int c = 0; c < l->n_widths; c++)
            seen |= l->widths[c] == w;
        if (!seen && l->n_widths < MAX_COLS)
            l->widths[l->n_widths++] = w;
        seen = 0;
        for (int r = 0; r < l->n_rows; r++)
            seen |= strcmp(l->rows[r], row) == 0;
        if (!seen)
            snprintf(l->rows[l->n_rows++], sizeof l->rows[0], "%s", row);
    }
    qsort(l->widths, (size_t)l->n_widths, sizeof l->widths[0], cmp_int);
}

/* One table row: MA / GA per width, with the soft (mode=train) or hard (mode=infer) accuracies. */
static void fff_row(FILE *out, H5File *f, const FffLayout *l, const char *row, int hard)
{
    char model[16] = "", label[64];
    int leaf = 0;
    sscanf(row, "%15[a-z]_l%d", model, &leaf);
    if (leaf == 0)
        snprintf(label, sizeof label, "FF");
    else
        snprintf(label, sizeof label, "%s %d, %s", strcmp(model, "fff") == 0 ? "FFF, leaf" : "MoE, experts of width", leaf,
                 hard ? "hard routing" : strcmp(model, "fff") == 0 ? "soft mixture" : "noisy gating");
    fprintf(out, "| %s |", label);
    for (int c = 0; c < l->n_widths; c++) {
        char run[64];
        if (leaf)
            snprintf(run, sizeof run, "%s_w%d_l%d", model, l->widths[c], leaf);
        else
            snprintf(run, sizeof run, "ff_w%d", l->widths[c]);
        double ma = attr(f, run, hard ? "train_acc_infer" : "train_acc");
        double ga = attr(f, run, hard ? "test_acc_infer" : "test_acc");
        if (isnan(ma) || isnan(ga))
            fprintf(out, " - |");
        else
            fprintf(out, " %.1f / %.1f |", ma, ga);
    }
    char widest[64];
    const int w_max = l->widths[l->n_widths - 1];
    if (leaf)
        snprintf(widest, sizeof widest, "%s_w%d_l%d", model, w_max, leaf);
    else
        snprintf(widest, sizeof widest, "ff_w%d", w_max);
    cell(out, attr(f, widest, "flops_infer_per_image"), "%.3g");
    double used = attr(f, widest, "neurons_used"), total = attr(f, widest, "neurons_total");
    fprintf(out, " %.0f of %.0f |\n", used, total);
}

static void fff_section(FILE *out, const char *results_dir)
{
    char(*runs)[128] = malloc(sizeof(*runs) * MAX_RUNS);
    int n = 0;
    H5File *f = runs ? open_section(out, results_dir, "cifar_fff", "Flattened CIFAR-10: FF vs FFF vs MoE", runs, &n)
                     : NULL;
    if (f) {
        FffLayout l;
        fff_layout(runs, n, &l);
        fprintf(out, "Memorisation / generalisation accuracy (%%, MA / GA: training images / test set) at each "
                     "training width, laid out like the FFF paper's table; the last two columns are at the widest "
                     "width (inference FLOPs per image, channel neurons evaluated per image).\n\n| model |");
        for (int c = 0; c < l.n_widths; c++)
            fprintf(out, " w = %d |", l.widths[c]);
        fprintf(out, " inference FLOPs | neurons used |\n|---|");
        for (int c = 0; c < l.n_widths + 2; c++)
            fprintf(out, "---|");
        fprintf(out, "\n");
        for (int r = 0; r < l.n_rows && l.n_widths > 0; r++)
            for (int hard = 0; hard <= (strcmp(l.rows[r], "ff") != 0); hard++)
                fff_row(out, f, &l, l.rows[r], hard);
        h5io_close(f);
    }
    free(runs);
}

/* ---- one row per run: cifar_vit, scifar, cifar_2d ---- */

/* The experiment's comparisons (root attributes), those present, on one line. */
static void summary_line(FILE *out, H5File *f)
{
    static const struct {
        const char *attr, *what;
    } items[] = {
        {"fff_accuracy_retained_pct", "attention+FFF (hard) keeps %.1f%% of attention+ffn's test accuracy"},
        {"hyena_fff_accuracy_retained_pct", "hyena+FFF (hard) keeps %.1f%% of hyena+ffn's"},
        {"fff_neuron_fraction", "FFF evaluates a fraction %.3f of its channel neurons per token (the path's nodes "
                                "and one leaf over all nodes and leaves)"},
        {"vit_minus_hyena_test_acc", "ViT minus Hyena-ViT: %+.2f points"},
        {"hyena_minus_s4d_test_acc", "Hyena minus S4D: %+.2f points"},
        {"longconv_minus_conv_test_acc", "2D long convolutions minus depthwise 3x3: %+.2f points"},
        {"longconv_minus_dense_conv_test_acc", "minus dense 3x3: %+.2f points"},
        {"longconv_over_conv_seconds", "training time ratio long / depthwise 3x3: %.2f"},
        {"longconv_over_dense_conv_seconds", "long / dense 3x3: %.2f"},
    };
    int printed = 0;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        double v;
        if (h5io_read_attr_double(f, "/", items[i].attr, &v) != 0)
            continue;
        fprintf(out, "%s", printed++ ? "; " : "\nSummary: ");
        fprintf(out, items[i].what, v);
    }
    if (printed)
        fprintf(out, ".\n");
}

static void runs_section(FILE *out, const char *results_dir, const char *experiment, const char *title)
{
    char(*runs)[128] = malloc(sizeof(*runs) * MAX_RUNS);
    int n = 0;
    H5File *f = runs ? open_section(out, results_dir, experiment, title, runs, &n) : NULL;
    if (f) {
        fprintf(out, "| run | params | test acc %% | test acc, hard routing %% | memorisation acc %% | inference "
                     "FLOPs/image | channel neurons used | training s | s/epoch |\n"
                     "|---|---|---|---|---|---|---|---|---|\n");
        for (int i = 0; i < n; i++) {
            fprintf(out, "| %s |", runs[i]);
            cell(out, attr(f, runs[i], "params"), "%.0f");
            cell(out, attr(f, runs[i], "test_acc"), "%.2f");
            cell(out, attr(f, runs[i], "test_acc_infer"), "%.2f");
            cell(out, attr(f, runs[i], "train_acc"), "%.2f");
            cell(out, attr(f, runs[i], "flops_infer_per_image"), "%.3g");
            double used = attr(f, runs[i], "neurons_used"), total = attr(f, runs[i], "neurons_total");
            if (total > 0)
                fprintf(out, " %.0f of %.0f (%.1f%%) |", used, total, 100.0 * used / total);
            else
                fprintf(out, " - |");
            cell(out, attr(f, runs[i], "seconds"), "%.0f");
            cell(out, attr(f, runs[i], "seconds_per_epoch"), "%.0f");
            fprintf(out, "\n");
        }
        summary_line(out, f);
        h5io_close(f);
    }
    free(runs);
}

void report_cifar_sections(FILE *out, const char *results_dir)
{
    fprintf(out, "\n## CIFAR-10\n\nThe claims above that these experiments test are in the table at the top; here "
                 "are the full tables. Accuracies are percentages; `hard routing` evaluates FFF with one leaf per "
                 "image and MoE without gating noise, on the parameters trained in the soft / noisy mode.\n");
    fff_section(out, results_dir);
    runs_section(out, results_dir, "cifar_vit", "ViT on CIFAR-10, patch 4");
    runs_section(out, results_dir, "scifar", "Sequential CIFAR-10");
    runs_section(out, results_dir, "cifar_2d", "Isometric networks with 2D convolutions");
}
