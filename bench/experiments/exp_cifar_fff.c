/* cifar_fff: the FFF paper's image-classification comparison (Belcak & Wattenhofer 2023, arXiv 2308.14711,
 * Table 2) on flattened CIFAR-10, in the paper's settings: a feedforward network (FF) of training width w against
 * a fast feedforward network (FFF) of the same training width with leaf width 32 (depth log2(w / 32), trained as
 * the soft mixture with hardening h = 3, evaluated with hard descent to one leaf) and a mixture of experts of
 * w / 16 experts of width 16 with k = 2 (balance losses 0.1, as the paper's w_importance = w_load = 0.1): FFF and
 * MoE both evaluate 32 neurons per image. Adam (no weight decay, no clipping) at a constant lr 1e-3, batch 4096,
 * no augmentation. The table is laid out like the paper's: memorisation accuracy (MA: training images) and
 * generalisation accuracy (GA: the test set) per model and width, with inference FLOPs and neurons per image.
 *
 * Differences, by design, each recorded in the file's `scale`:
 *   - a fixed number of epochs (default 50, paper profile 500) instead of up to 7000 with early stopping on a
 *     validation split; GA is the test accuracy after the last epoch. The paper's epochs-to-best (ETT) for GA
 *     are 9 to 55 for FF and FFF at every width, so 50 epochs reach their GA; MoE's are 315 to 4880, so its
 *     rows are comparable only in the paper profile;
 *   - no lr halving on 250-epoch plateaus (no plateau that long fits 50 epochs);
 *   - every model is image (3072) -> channel -> Linear(3072, 10) (ops/fff.c and ops/moe.c keep d_out = d_in)
 *     and uses GELU, so only the routing differs;
 *   - default widths 64 and 128 (the paper: 64 ... 1024, the paper profile).
 * Every run trains over exp_seed_count seeds (the accuracies are means, with _by_seed).
 *
 * Runs: ff_w<w>, fff_w<w>_l32, moe_w<w>_l16 (l: expert width); summary run `table` (series over width) for the
 * figure. Root: epochs, and per width fff_minus_ff_test_acc_w<w> and fff_minus_moe_test_acc_w<w> (hard-routed
 * FFF minus FF, minus hard-routed MoE; means of the per-seed gaps). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_cifar.h"

#define FFF_MAX_WIDTHS 5
#define FFF_MAX_LEAVES 2
#define FFF_HARDENING 3.0f /* the paper's h = 3.0: weight of the mean node entropy in the training objective */
#define MOE_LEAF 16        /* expert width of the MoE rows (k = 2: inference width 32, as FFF's leaf) */
#define MOE_TOP_K 2
#define MOE_BALANCE 0.1f
#define FFF_BATCH 4096

typedef struct FffGrid {
    int widths[FFF_MAX_WIDTHS], n_widths;
    int leaves[FFF_MAX_LEAVES], n_leaves;
    int train_images, test_images, eval_train_images, epochs;
} FffGrid;

static FffGrid fff_grid(ReproProfile p)
{
    if (p == PROFILE_SMOKE)
        return (FffGrid){{64}, 1, {32}, 1, 2000, 500, 500, 3};
    if (p == PROFILE_PAPER)
        return (FffGrid){{64, 128, 256, 512, 1024}, 5, {32}, 1, 0, 0, 0, 500};
    return (FffGrid){{64, 128}, 2, {32}, 1, 0, 0, 10000, 50};
}

static int log2_int(int v)
{
    int d = 0;
    while ((1 << (d + 1)) <= v)
        d++;
    return d;
}

/* Rows of the table: FF, one FFF per leaf width, MoE. */
typedef struct FffTable {
    ExpCifarOutcome cell[FFF_MAX_WIDTHS][FFF_MAX_LEAVES + 2];
    ExpCifarOutcome seeds[FFF_MAX_WIDTHS][FFF_MAX_LEAVES + 2][EXP_MAX_SEEDS];
    int rows;
} FffTable;

typedef enum FffRow { ROW_FF, ROW_FFF, ROW_MOE } FffRow;

static FffRow row_kind(const FffGrid *g, int r) { return r == 0 ? ROW_FF : r <= g->n_leaves ? ROW_FFF : ROW_MOE; }
static int row_leaf(const FffGrid *g, int r) { return r == 0 ? 0 : r <= g->n_leaves ? g->leaves[r - 1] : MOE_LEAF; }

/* Trains one cell of the table over the seeds: out the means, per_seed each seed's outcome. */
static int train_row(const ReproContext *ctx, Results *results, const ExpCifarData *d, const ClsTrainConfig *tc,
                     int w, FffRow kind, int leaf, ExpCifarOutcome *out, ExpCifarOutcome *per_seed, char *err,
                     size_t errlen)
{
    char name[64], config[512];
    int depth = leaf > 0 ? log2_int(w / leaf) : 0, n_seeds = exp_seed_count(ctx);
    if (kind == ROW_FF) {
        snprintf(name, sizeof name, "ff_w%d", w);
        snprintf(config, sizeof config, "arch=flat,channel=ffn,channel.d_hidden=%d", w);
    } else if (kind == ROW_FFF) {
        snprintf(name, sizeof name, "fff_w%d_l%d", w, leaf);
        snprintf(config, sizeof config, "arch=flat,channel=fff,hardening=%g,channel.depth=%d,channel.leaf_width=%d,"
                 "channel.activation=gelu", FFF_HARDENING, depth, leaf);
    } else {
        snprintf(name, sizeof name, "moe_w%d_l%d", w, leaf);
        snprintf(config, sizeof config, "arch=flat,channel=moe,balance=%g,channel.n_experts=%d,channel.top_k=%d,"
                 "channel.d_hidden=%d,channel.activation=gelu", MOE_BALANCE, w / leaf, MOE_TOP_K, leaf);
    }
    if (exp_cifar_train_seeds(ctx, results, name, config, d, tc, n_seeds, per_seed, out, err, errlen) != 0)
        return -1;
    if (kind == ROW_FFF)
        results_metric(results, name, "leaf_width", leaf);
    if (kind == ROW_MOE) {
        results_metric(results, name, "expert_width", leaf);
        results_metric(results, name, "top_k", MOE_TOP_K);
    }
    return 0;
}

static void print_table(const ReproContext *ctx, const FffGrid *g, const FffTable *t)
{
    repro_log(ctx, "\n  flattened CIFAR-10, MA / GA (%%): memorisation (training images) / generalisation (test)\n");
    repro_log(ctx, "  %-22s", "training width");
    for (int i = 0; i < g->n_widths; i++)
        repro_log(ctx, " %13d", g->widths[i]);
    repro_log(ctx, "\n");
    for (int r = 0; r < t->rows; r++) {
        const int leaf = row_leaf(g, r), fff = row_kind(g, r) == ROW_FFF;
        for (int hard = 0; hard <= (r > 0); hard++) {
            char label[64];
            if (r == 0)
                snprintf(label, sizeof label, "FF");
            else
                snprintf(label, sizeof label, "%s l=%d %s", fff ? "FFF" : "MoE k=2", leaf,
                         hard ? "(hard)" : fff ? "(soft)" : "(noisy)");
            repro_log(ctx, "  %-22s", label);
            for (int i = 0; i < g->n_widths; i++) {
                const ExpCifarOutcome *o = &t->cell[i][r];
                if (leaf > g->widths[i] / 2 && r > 0)
                    repro_log(ctx, " %13s", "-");
                else
                    repro_log(ctx, "   %5.1f/%5.1f", hard ? o->train_acc_infer : o->train_acc,
                              hard ? o->test_acc_infer : o->test_acc);
            }
            repro_log(ctx, "\n");
        }
    }
}

/* The summary run `table`: one series per model over the training widths (hard routing for FFF and MoE). */
static void write_summary(Results *results, const FffGrid *g, const FffTable *t)
{
    double widths[FFF_MAX_WIDTHS], test[FFF_MAX_WIDTHS], train[FFF_MAX_WIDTHS];
    results_run(results, "table", "summary of the runs: MA and GA (%) per model over the training width");
    for (int i = 0; i < g->n_widths; i++)
        widths[i] = g->widths[i];
    results_series(results, "table", "width", widths, g->n_widths);
    for (int r = 0; r < t->rows; r++) {
        char key[64];
        const int leaf = row_leaf(g, r);
        for (int i = 0; i < g->n_widths; i++) {
            int absent = r > 0 && leaf > g->widths[i] / 2;
            test[i] = absent ? NAN : t->cell[i][r].test_acc_infer;
            train[i] = absent ? NAN : t->cell[i][r].train_acc_infer;
        }
        const char *model = (const char *[]){"ff", "fff", "moe"}[row_kind(g, r)];
        snprintf(key, sizeof key, leaf ? "%s_l%d_test" : "%s_test", model, leaf);
        results_series(results, "table", key, test, g->n_widths);
        snprintf(key, sizeof key, leaf ? "%s_l%d_train" : "%s_train", model, leaf);
        results_series(results, "table", key, train, g->n_widths);
    }
}

/* Per width, hard-routed FFF (the first leaf width) minus FF and minus hard-routed MoE: means of the per-seed
 * gaps, with _by_seed. */
static void record_gaps(const ReproContext *ctx, Results *results, const FffGrid *g, const FffTable *t)
{
    const int n_seeds = exp_seed_count(ctx), fff = 1, moe = g->n_leaves + 1;
    for (int i = 0; i < g->n_widths; i++) {
        if (g->leaves[0] > g->widths[i] / 2)
            continue;
        double vs_ff[EXP_MAX_SEEDS], vs_moe[EXP_MAX_SEEDS];
        for (int k = 0; k < n_seeds; k++) {
            vs_ff[k] = t->seeds[i][fff][k].test_acc_infer - t->seeds[i][0][k].test_acc;
            vs_moe[k] = t->seeds[i][fff][k].test_acc_infer - t->seeds[i][moe][k].test_acc_infer;
        }
        char key[64];
        snprintf(key, sizeof key, "fff_minus_ff_test_acc_w%d", g->widths[i]);
        exp_record_over_seeds(results, NULL, key, vs_ff, n_seeds);
        snprintf(key, sizeof key, "fff_minus_moe_test_acc_w%d", g->widths[i]);
        exp_record_over_seeds(results, NULL, key, vs_moe, n_seeds);
    }
}

int exp_cifar_fff(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    const FffGrid g = fff_grid(ctx->profile);
    CifarAugment none = {0, CIFAR_PAD_ZERO, 0}; /* memorisation is measured on the images as given */
    ExpCifarData d;
    if (exp_cifar_load(ctx, results, &d, g.train_images, g.test_images, &none, err, errlen) != 0)
        return -1;
    const int steps = (int)ceil((double)g.epochs * d.train_view.n / FFF_BATCH);
    ClsTrainConfig tc = exp_cifar_recipe(steps, FFF_BATCH, 1e-3f, 0.0f, 1);
    tc.opt.min_lr = tc.opt.lr, tc.opt.warmup = 0, tc.opt.grad_clip = 0; /* Adam at a constant rate, no clipping */
    tc.eval_test_images = 0, tc.eval_train_images = g.eval_train_images;
    char what[512];
    snprintf(what, sizeof what, "flattened images, %d epochs (%d steps of batch %d) over %d training images, Adam lr "
             "1e-3 constant, no weight decay, no clipping, no augmentation; FFF leaf 32, hardening %g; MoE %d-wide "
             "experts, k=%d, balance %g; GELU in every model; GA = test accuracy after the last epoch (no validation "
             "split, no early stopping)", g.epochs, steps, FFF_BATCH, d.train_view.n, FFF_HARDENING, MOE_LEAF,
             MOE_TOP_K, MOE_BALANCE);
    exp_cifar_note_scale(ctx, results, what);
    results_root_metric(results, "epochs", (double)steps * FFF_BATCH / d.train_view.n);
    FffTable *t = calloc(1, sizeof *t);
    if (!t) {
        exp_cifar_free(&d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->rows = g.n_leaves + 2;
    int rc = 0;
    for (int i = 0; i < g.n_widths && rc == 0; i++)
        for (int r = 0; r < t->rows && rc == 0; r++) {
            const int leaf = row_leaf(&g, r);
            if (r > 0 && leaf > g.widths[i] / 2) /* depth >= 1 */
                continue;
            rc = train_row(ctx, results, &d, &tc, g.widths[i], row_kind(&g, r), leaf, &t->cell[i][r], t->seeds[i][r],
                           err, errlen);
        }
    if (rc == 0) {
        print_table(ctx, &g, t);
        write_summary(results, &g, t);
        record_gaps(ctx, results, &g, t);
    }
    free(t);
    exp_cifar_free(&d);
    return rc;
}
