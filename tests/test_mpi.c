/* Data-parallel training under an MPI launcher (docs/DESIGN.md section 10), run as a user runs it:
 * `mpirun --allow-run-as-root --oversubscribe -np 2 ./subq train ...`, each command bounded by a timeout.
 * 1 and 2 ranks train the same trajectory to float rounding; 2 ranks twice give identical bits; a rank that
 * dies ends the job with an error instead of a hang. Skipped where mpirun or ./subq is absent. The data is the
 * synthetic recall task, so nothing is read from disk. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5io.h"
#include "testutil.h"

#define MODEL "vocab=16,d_model=16,layers=2,context=32,mixer=attention,channel=ffn,mixer.n_heads=2,channel.d_hidden=32"
#define MPIRUN "timeout 120 mpirun --allow-run-as-root --oversubscribe -np "
/* After 40 AdamW steps the two trajectories differ only by the rounding of sums taken in another order (a
 * batch's gradient as one GEMM or as two halves added), about 1e-7 relative per step; AdamW's division by
 * sqrt(v) can amplify that for parameters with tiny gradients, so the bound is 1e-4 of the largest parameter. */
#define RANKS_TOL 1e-4

static char dir[64];
static void setup(void)
{
    if (access("./subq", X_OK) != 0)
        cr_skip_test("./subq is not built here (make test builds it)");
    if (system("command -v mpirun > /dev/null 2>&1") != 0)
        cr_skip_test("mpirun is not installed (make deps installs Open MPI)");
    tmp_dir_make(dir, sizeof dir, "mpi");
}
static void teardown(void) { tmp_dir_remove(dir); }

TestSuite(mpi, .init = setup, .fini = teardown);

/* Trains MODEL on `ranks` processes (0: plain ./subq, no launcher) to step `steps` into checkpoint `name`
 * (resume: continuing from it); returns the exit status and the combined output. */
static int train(int ranks, const char *name, int steps, int resume, char *out, size_t len)
{
    char cmd[1024], launcher[96] = "";
    if (ranks > 0)
        snprintf(launcher, sizeof launcher, MPIRUN "%d ", ranks);
    snprintf(cmd, sizeof cmd,
             "SUBQ_THREADS=1 %s./subq train --model " MODEL " --data recall:8:30 --steps %d --batch 6 --quiet "
             "--checkpoint %s/%s.h5%s 2>&1",
             launcher, steps, dir, name, resume ? " --resume" : "");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static H5Tensor read_params(const char *name, const char *tensor)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/%s.h5", dir, name);
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    H5Tensor t;
    cr_assert_eq(h5io_read_tensor(f, tensor, &t, err, sizeof err), 0, "%s", err);
    h5io_close(f);
    return t;
}

/* Every parameter tensor of the two checkpoints; returns the worst scaled difference. */
static double compare_checkpoints(const char *a, const char *b)
{
    char path[128], err[256], names[64][128];
    snprintf(path, sizeof path, "%s/%s.h5", dir, a);
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    int n = h5io_list(f, "params", names, 64);
    h5io_close(f);
    cr_assert_gt(n, 3, "%s has %d parameter tensors", path, n);
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        char tensor[160];
        snprintf(tensor, sizeof tensor, "params/%.127s", names[i]);
        H5Tensor x = read_params(a, tensor), y = read_params(b, tensor);
        cr_assert_eq(x.numel, y.numel);
        double d = max_scaled_diff(x.data, y.data, x.numel, 1e-6);
        worst = d > worst ? d : worst;
        h5io_tensor_free(&x), h5io_tensor_free(&y);
    }
    return worst;
}

Test(mpi, two_ranks_train_the_trajectory_of_one_to_float_rounding_and_repeat_it_bitwise)
{
    char out[4096];
    cr_assert_eq(train(0, "one", 40, 0, out, sizeof out), 0, "%s", out);
    cr_assert_eq(train(2, "two_a", 40, 0, out, sizeof out), 0, "%s", out);
    const char *first = strstr(out, "done:");
    cr_expect(first && !strstr(first + 1, "done:"), "only rank 0 prints the summary:\n%s", out);
    cr_assert_eq(train(2, "two_b", 40, 0, out, sizeof out), 0, "%s", out);
    double across = compare_checkpoints("one", "two_a");
    cr_expect_leq(across, RANKS_TOL, "1 vs 2 ranks: parameters differ by %.3g (scaled)", across);
    cr_expect_gt(across, 0.0, "1 vs 2 ranks are bitwise equal: the batch was not split (or the test proves nothing)");
    cr_expect_eq(compare_checkpoints("two_a", "two_b"), 0.0, "two 2-rank runs must be bitwise identical");
}

/* The checkpoint is the same whatever wrote it: 20 steps on 2 ranks, then 20 more on one process, follow the
 * 40 steps of one process to float rounding (the data order depends on the step alone). */
Test(mpi, a_checkpoint_of_two_ranks_resumes_on_one_process_on_the_same_trajectory)
{
    char out[4096];
    cr_assert_eq(train(0, "straight", 40, 0, out, sizeof out), 0, "%s", out);
    cr_assert_eq(train(2, "resumed", 20, 0, out, sizeof out), 0, "%s", out);
    cr_assert_eq(train(0, "resumed", 40, 1, out, sizeof out), 0, "%s", out);
    double d = compare_checkpoints("straight", "resumed");
    cr_expect_leq(d, RANKS_TOL, "resumed on another world size: parameters differ by %.3g (scaled)", d);
}

/* A rank killed in the middle of training ends the job: mpirun exits non-zero within the timeout, naming the
 * rank, and the checkpoint (written by rank 0 at the end) does not exist. */
Test(mpi, a_killed_rank_ends_the_job_with_an_error_not_a_hang)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && (SUBQ_THREADS=1 " MPIRUN "2 %s/subq train --model " MODEL " --data recall:8:30 "
             "--steps 100000 --batch 6 --quiet --checkpoint %s/killed.h5 > %s/log 2>&1; echo $? > %s/rc) & "
             "sleep 3; pkill -KILL -n -f '^[^ ]*/subq train .*killed.h5'; wait",
             dir, getcwd((char[512]){0}, 512), dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    char path[128], text[4096] = "";
    snprintf(path, sizeof path, "%s/rc", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "mpirun did not end");
    int rc = -1;
    cr_assert_eq(fscanf(f, "%d", &rc), 1);
    fclose(f);
    snprintf(path, sizeof path, "%s/log", dir);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_expect(rc != 0 && rc != 124, "mpirun should fail (not time out, 124): rc %d\n%s", rc, text);
    cr_expect(strstr(text, "rank") != NULL, "the error names the rank:\n%s", text);
    snprintf(path, sizeof path, "%s/killed.h5", dir);
    cr_expect_neq(access(path, F_OK), 0, "no checkpoint from a job that did not finish");
}

/* --spread-timing: two timing experiments on two ranks, one each, both written once; each rank says it ran its
 * own and warns that the two share this machine. */
Test(mpi, spread_timing_runs_each_timing_experiment_on_one_rank)
{
    char cmd[1024], text[8192] = "";
    snprintf(cmd, sizeof cmd,
             "SUBQ_THREADS=1 SUBQ_PEER_PYTHON=/nonexistent " MPIRUN "2 ./subq reproduce --profile smoke --only "
             "generation --results-dir %s --force --spread-timing 2>&1",
             dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", text);
    cr_expect(strstr(text, "[rank 0] == generation: wrote") != NULL, "rank 0 runs the only timing experiment:\n%s",
              text);
    cr_expect(strstr(text, "[rank 1] == generation") == NULL, "and rank 1 does not:\n%s", text);
    cr_expect(strstr(text, "share this machine") != NULL, "%s", text);
    char path[128];
    snprintf(path, sizeof path, "%s/generation.h5", dir);
    cr_expect_eq(access(path, F_OK), 0);
}
