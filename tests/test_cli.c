/* The command line, run as a user runs it (./subq, built by `make test` beside the tests): --help everywhere,
 * unknown subcommands named, every option checked before anything runs, and bad environment refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `./subq ARGS` through the shell (env assignments may lead); returns its exit status and its combined
 * output's first 4 KiB. */
static int run_subq(const char *args, char *out, size_t len)
{
    if (access("./subq", X_OK) != 0)
        cr_skip_test("./subq is not built here (make test builds it)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s 2>&1", args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    char drain[4096];
    while (fread(drain, 1, sizeof drain, p) > 0) /* the rest, so the child never blocks on a full pipe */
        ;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(cli, every_command_prints_its_usage_on_help_and_exits_0)
{
    const char *commands[] = {"op", "op run", "bench op", "reproduce", "train", "generate", "data", "report",
                              "results", "compare", "version"};
    char out[4096], args[128];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        snprintf(args, sizeof args, "./subq %s --help", commands[i]);
        cr_expect_eq(run_subq(args, out, sizeof out), 0, "%s", args);
        cr_expect(strncmp(out, "usage: subq ", 12) == 0, "%s printed: %.200s", args, out);
    }
    run_subq("./subq train --help", out, sizeof out);
    const char *train_options[] = {"--model", "--data", "--steps", "--batch", "--lr", "--seed", "--checkpoint ",
                                   "--checkpoint-every", "--resume", "--quiet"};
    for (size_t i = 0; i < sizeof train_options / sizeof train_options[0]; i++)
        cr_expect(strstr(out, train_options[i]) != NULL, "train's usage lacks %s", train_options[i]);
}

Test(cli, mistakes_are_one_line_errors_with_exit_2)
{
    char out[4096];
    cr_expect_eq(run_subq("./subq op bogus", out, sizeof out), 2);
    cr_expect(strstr(out, "unknown subcommand 'bogus'") != NULL, "%s", out);
    cr_expect_eq(run_subq("./subq reproduce --profile bogus --list", out, sizeof out), 2, "%s", out);
    cr_expect_eq(run_subq("SUBQ_THREADS= ./subq version", out, sizeof out), 2, "%s", out);
    cr_expect(strstr(out, "SUBQ_THREADS") != NULL, "%s", out);
    cr_expect_eq(run_subq("./subq train --model vocab=16,d_model=8,layers=1,context=16 --data recall:10:16junk", out,
                          sizeof out),
                 2, "%s", out);
    cr_expect(strstr(out, "recall:10:16junk") != NULL, "%s", out);
    /* A shape the operator cannot take fails before the calibration sgemm spends its seconds. */
    cr_expect_eq(run_subq("./subq bench op --op fftconv --config l_max=64 --seq-len 128", out, sizeof out), 2);
    cr_expect(strstr(out, "exceeds l_max") != NULL && strstr(out, "calibration") == NULL, "%s", out);
    cr_expect_eq(run_subq("./subq reproduce --points ffn", out, sizeof out), 2, "%s", out);
    cr_expect(strstr(out, "--points needs --only peers") != NULL, "%s", out);
    cr_expect_eq(run_subq("./subq op run --op hyena --config w=inf --in x.h5 --out y.h5", out, sizeof out), 2);
    cr_expect(strstr(out, "finite number") != NULL, "%s", out);
}

/* Out of memory is an error with the size and exit 1, checked before anything is touched: with Linux's
 * overcommit the allocation itself would succeed and the kernel would kill the process without a word. */
Test(cli, out_of_memory_is_a_one_line_error_with_exit_1)
{
    char out[4096];
    cr_expect_eq(run_subq("./subq bench op --op ffn --config d_model=8,d_hidden=200000000", out, sizeof out), 1);
    cr_expect(strstr(out, "needs") != NULL && strstr(out, "GiB") != NULL && strstr(out, "calibration") == NULL, "%s",
              out);
    cr_expect_eq(run_subq("(ulimit -v 3000000; ./subq bench op --op ffn --config d_model=64,d_hidden=1000000)", out,
                          sizeof out),
                 1);
    cr_expect(strstr(out, "address-space limit") != NULL, "%s", out);
}

/* `subq generate` from a checkpoint trained here (a byte-level Hyena of 2 layers, 60 steps on tiny Shakespeare's
 * cached copy or the mirror): the prompt and the requested number of bytes on stdout, the rate on stderr; greedy
 * decoding repeats itself exactly; a checkpoint of a non-byte model and bad options are one-line errors. */
Test(cli, generate_prints_text_from_a_trained_checkpoint_and_refuses_bad_input)
{
    char out[4096], again[4096], dir[] = "/tmp/subq_gen_XXXXXX", cmd[1024];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "./subq train --model vocab=256,d_model=16,layers=2,context=32,mixer=hyena,channel=ffn,pos_emb=0,"
             "channel.d_hidden=32 --data tinyshakespeare --steps 60 --batch 4 --quiet --checkpoint %s/lm.h5",
             dir);
    if (run_subq(cmd, out, sizeof out) != 0)
        cr_skip_test("no tiny Shakespeare here to train on: %.200s", out);
    snprintf(cmd, sizeof cmd, "(./subq generate --checkpoint %s/lm.h5 --prompt 'KING:' --tokens 100 --temperature 0 "
                              "2>/dev/null)", dir);
    cr_assert_eq(run_subq(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strncmp(out, "KING:", 5) == 0 && strlen(out) == 5 + 100 + 1, "%zu bytes: %s", strlen(out), out);
    cr_assert_eq(run_subq(cmd, again, sizeof again), 0);
    cr_expect_str_eq(out, again, "greedy decoding is deterministic");
    snprintf(cmd, sizeof cmd, "(./subq generate --checkpoint %s/lm.h5 --prompt 'KING:' --tokens 100 --temperature 0 "
                              "--hyena-step fft 2>/dev/null)", dir);
    cr_assert_eq(run_subq(cmd, again, sizeof again), 0, "%s", again);
    cr_expect_str_eq(out, again, "the FFT tiles generate what the cached convolution does");
    snprintf(cmd, sizeof cmd, "(./subq generate --checkpoint %s/lm.h5 --prompt a --tokens 5 --seed 3 >/dev/null)",
             dir);
    cr_expect_eq(run_subq(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "tokens/s") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "./subq generate --checkpoint %s/lm.h5 --prompt '' --tokens 5", dir);
    cr_expect_eq(run_subq(cmd, out, sizeof out), 2, "%s", out);
    cr_expect_eq(run_subq("./subq generate --checkpoint /nonexistent.h5 --prompt a --tokens 5", out, sizeof out), 2);
    snprintf(cmd, sizeof cmd,
             "./subq train --model vocab=16,d_model=16,layers=1,context=32,mixer=attention,channel=ffn,"
             "mixer.n_heads=2,channel.d_hidden=32 --data recall:8:30 --steps 2 --quiet --checkpoint %s/rc.h5 && "
             "./subq generate --checkpoint %s/rc.h5 --prompt a --tokens 2",
             dir, dir);
    cr_expect_eq(run_subq(cmd, out, sizeof out), 2, "%s", out);
    cr_expect(strstr(out, "byte-level") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}
