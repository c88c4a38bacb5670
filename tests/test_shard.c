/* exp_shard: the sharded reproduction inside an experiment (docs/DESIGN.md section 10), without MPI. Two
 * ranks' compute passes run one after the other in this process, then rank 0's merge pass; the merged file
 * must be the one a single process writes (compare --identical), and each rank must have trained only its
 * share of the units. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "exp_shard.h"
#include "testutil.h"

static char dir[64];
static void setup(void) { tmp_dir_make(dir, sizeof dir, "shard"); }
static void teardown(void) { tmp_dir_remove(dir); }
TestSuite(shard, .init = setup, .fini = teardown);

/* A toy experiment shaped like the real ones: two models over three seeds, each (model, seed) one unit of
 * different cost whose seed 0 writes the model's run group; after the units, a mean over seeds into the run
 * and a sum at the root, from the outcomes. */
static int toy_experiment(const ReproContext *ctx, Results *results, char *err, size_t errlen)
{
    static const char *const models[] = {"small", "large"};
    double total = 0;
    for (int m = 0; m < 2; m++) {
        double acc[3];
        for (int k = 0; k < 3; k++) {
            char key[64];
            snprintf(key, sizeof key, "%s.seed%d", models[m], k);
            const char *run = k == 0 ? models[m] : NULL;
            double v[2];
            int unit = exp_unit_begin(ctx, key, run, 10.0 * (m + 1), v, 2, err, errlen);
            if (unit < 0)
                return -1;
            if (unit == 1) { /* "training" */
                v[0] = 1.0 / (1 + m + 3 * k), v[1] = 100.0 * m + k;
                if (run) {
                    double curve[3] = {v[0], v[1], 0.5};
                    results_run(results, run, "toy");
                    results_series(results, run, "curve", curve, 3);
                    results_metric(results, run, "acc", v[0]);
                }
                if (exp_unit_end(ctx, key, run, v, 2, err, errlen) != 0)
                    return -1;
            }
            acc[k] = v[0] + v[1];
        }
        results_metric(results, models[m], "acc_mean", (acc[0] + acc[1] + acc[2]) / 3);
        total += acc[0] + acc[1] + acc[2];
    }
    results_root_metric(results, "total", total);
    return 0;
}

static void run_toy(const ReproContext *ctx, const char *path)
{
    char err[256];
    Results r;
    ResultsMeta meta = {"toy", "smoke", 0, 1};
    cr_assert_eq(results_create(&r, path, &meta, err, sizeof err), 0, "%s", err);
    if (ctx->shard)
        ctx->shard->results = &r;
    cr_assert_eq(toy_experiment(ctx, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(results_commit(&r, err, sizeof err), 0, "%s", err);
}

static int units_in(const char *path)
{
    char err[256], names[16][128];
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    int n = h5io_exists(f, "units") ? h5io_list_groups(f, "units", names, 16) : 0;
    h5io_close(f);
    return n;
}

Test(shard, two_ranks_each_train_a_share_and_the_merge_writes_the_file_of_one_process)
{
    char single[128], merged[128], part[2][1024], err[256];
    snprintf(single, sizeof single, "%s/single.h5", dir);
    snprintf(merged, sizeof merged, "%s/merged.h5", dir);
    ReproContext ctx = {.profile = PROFILE_SMOKE, .profile_name = "smoke", .results_dir = dir, .threads = 1};
    run_toy(&ctx, single);

    static struct ExpShard shard[2]; /* large: not on the stack */
    for (int r = 0; r < 2; r++) {
        shard[r] = (struct ExpShard){.pass = EXP_SHARD_COMPUTE, .rank = r, .ranks = 2};
        ctx.shard = &shard[r];
        exp_shard_part_path(&ctx, "toy", r, part[r], sizeof part[r]);
        run_toy(&ctx, part[r]);
    }
    const int n0 = units_in(part[0]), n1 = units_in(part[1]);
    cr_expect(n0 > 0 && n1 > 0 && n0 + n1 == 6, "units trained by rank 0: %d, rank 1: %d (6 in all)", n0, n1);
    /* Greedy by cost in meeting order: small (10) to rank 0, 1, 0; large (20) to rank 1, 0, 1. */
    cr_expect_eq(n0, 3);

    shard[0].pass = EXP_SHARD_MERGE;
    ctx.shard = &shard[0];
    cr_assert_eq(exp_shard_open_parts(&ctx, &shard[0], "toy", err, sizeof err), 0, "%s", err);
    run_toy(&ctx, merged);
    exp_shard_close_parts(&ctx, &shard[0], "toy", 1);
    cr_expect_neq(access(part[0], F_OK), 0, "the part files are removed after the merge");

    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    cr_expect_eq(compare_identical(single, merged, sink, err, sizeof err), 0, "merged differs from single: %s", err);
    fclose(sink);
}

Test(shard, a_unit_no_part_holds_is_an_error_naming_it)
{
    char part[1024], err[256];
    ReproContext ctx = {.profile = PROFILE_SMOKE, .profile_name = "smoke", .results_dir = dir, .threads = 1};
    static struct ExpShard shard;
    shard = (struct ExpShard){.pass = EXP_SHARD_COMPUTE, .rank = 0, .ranks = 2};
    ctx.shard = &shard;
    exp_shard_part_path(&ctx, "toy", 0, part, sizeof part);
    run_toy(&ctx, part); /* rank 1's part is never written */
    shard.pass = EXP_SHARD_MERGE;
    cr_expect_eq(exp_shard_open_parts(&ctx, &shard, "toy", err, sizeof err), -1);
    cr_expect(strstr(err, "rank 1") != NULL, "%s", err);
    shard.ranks = 1; /* rank 0's part alone lacks rank 1's units */
    cr_assert_eq(exp_shard_open_parts(&ctx, &shard, "toy", err, sizeof err), 0, "%s", err);
    Results r;
    char merged[128];
    snprintf(merged, sizeof merged, "%s/merged.h5", dir);
    ResultsMeta meta = {"toy", "smoke", 0, 1};
    cr_assert_eq(results_create(&r, merged, &meta, err, sizeof err), 0, "%s", err);
    shard.results = &r;
    cr_expect_eq(toy_experiment(&ctx, &r, err, sizeof err), -1);
    cr_expect(strstr(err, "no rank's part file holds it") != NULL, "%s", err);
    results_abort(&r);
    exp_shard_close_parts(&ctx, &shard, "toy", 1);
}
