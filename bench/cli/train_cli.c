#include "train_cli.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "comm.h"
#include "data.h"
#include "recall.h"
#include "train.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static CliOption train_options[] = {
    {"model", 1, "model config (baselines/lm.h), e.g. mixer=hyena,d_model=128,layers=4,context=64", NULL},
    {"data", 1, "tinyshakespeare | sotu | wikitext103:DIR | recall:VOCAB:SEQ_LEN[:QUERIES]", NULL},
    {"steps", 1, "optimisation steps (2000)", NULL},
    {"batch", 1, "sequences per step (12)", NULL},
    {"lr", 1, "peak learning rate (1e-3)", NULL},
    {"seed", 1, "initialisation seed (1337)", NULL},
    {"checkpoint", 1, "checkpoint file, written atomically at the end and every --checkpoint-every steps", NULL},
    {"checkpoint-every", 1, "steps between checkpoints (0: only at the end)", NULL},
    {"resume", 0, "continue from --checkpoint", NULL},
    {"quiet", 0, "no progress line", NULL},
};

static int parse_numbers(TrainConfig *tc, char *err, size_t errlen)
{
    const char *v;
    long n;
    double x;
    if ((v = cli_value(train_options, COUNT(train_options), "steps"))) {
        if (cli_long("steps", v, 1, 100000000, &n, err, errlen) != 0)
            return -1;
        tc->steps = (int)n, tc->decay_steps = (int)n;
    }
    if ((v = cli_value(train_options, COUNT(train_options), "batch"))) {
        if (cli_long("batch", v, 1, 1 << 16, &n, err, errlen) != 0)
            return -1;
        tc->batch = (int)n;
    }
    if ((v = cli_value(train_options, COUNT(train_options), "lr"))) {
        if (cli_double("lr", v, 1e-9, 10.0, &x, err, errlen) != 0)
            return -1;
        tc->lr = (float)x, tc->min_lr = (float)x / 10;
    }
    if ((v = cli_value(train_options, COUNT(train_options), "checkpoint-every"))) {
        if (cli_long("checkpoint-every", v, 0, 100000000, &n, err, errlen) != 0)
            return -1;
        tc->checkpoint_every = (int)n;
    }
    if ((v = cli_value(train_options, COUNT(train_options), "seed")) && cli_u64("seed", v, &tc->seed, err, errlen))
        return -1;
    return 0;
}

/* The data source named by --data; text datasets are loaded into *text (freed by the caller). */
static int open_data(const char *name, TextDataset *text, RecallDataset *recall, TrainData *out, char *err,
                     size_t errlen)
{
    memset(text, 0, sizeof *text);
    if (strncmp(name, "recall:", 7) == 0) {
        RecallConfig c = {0, 0, 1, RECALL_TARGETS_ALL};
        int used = 0, fields = sscanf(name + 7, "%d:%d%n:%d%n", &c.vocab, &c.seq_len, &used, &c.n_queries, &used);
        if (fields < 2 || name[7 + used] != '\0') { /* "recall:10:16junk" is a typo, not 16 */
            snprintf(err, errlen, "--data recall:VOCAB:SEQ_LEN[:QUERIES], got '%s'", name);
            return -1;
        }
        *recall = (RecallDataset){c, 11};
        *out = (TrainData){recall, recall_dataset_batch};
        return recall_check_config(&c, err, errlen);
    }
    if (strncmp(name, "wikitext103", 11) != 0 && data_fetch(name, DATA_CACHE_DIR, NULL, NULL, err, errlen) != 0)
        return -1;
    if (data_load_text(name, DATA_CACHE_DIR, text, err, errlen) != 0)
        return -1;
    text->seed = 7;
    *out = (TrainData){text, text_dataset_batch};
    return 0;
}

static int run_training(const LmModel *m, TrainConfig *tc, const TrainData *data, int resume, char *err,
                        size_t errlen)
{
    TrainState st;
    TrainResult r;
    if (train_state_alloc(&st, m, tc->seed, err, errlen) != 0)
        return 1;
    int rc = 0;
    if (resume && train_load_checkpoint(m, &st, tc->seed, tc->steps, tc->checkpoint, err, errlen) != 0)
        rc = 2;
    if (rc == 0 && train_run(m, tc, data, &st, NULL, &r, err, errlen) != 0)
        rc = 1;
    if (rc == 0 && comm_is_root())
        printf("done: %ld steps, train loss %.4f, val loss %.4f, %.0f tokens/s, %.1f s%s%s\n", r.steps_done,
               r.final_train_loss, r.final_val_loss, r.tokens_per_s, r.seconds, tc->checkpoint ? ", checkpoint " : "",
               tc->checkpoint ? tc->checkpoint : "");
    train_state_free(&st);
    return rc;
}

#define TRAIN_USAGE "subq train --model CONFIG --data NAME [options]  one language-model training run"

int train_cli(int argc, char **argv)
{
    char err[1024];
    if (cli_wants_help(argc, argv))
        return cli_help(TRAIN_USAGE, train_options, COUNT(train_options));
    if (cli_parse(train_options, COUNT(train_options), argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "subq train: %s\n", err);
        return 2;
    }
    const char *model = cli_value(train_options, COUNT(train_options), "model");
    const char *data_name = cli_value(train_options, COUNT(train_options), "data");
    TrainConfig tc = train_defaults();
    tc.checkpoint = cli_value(train_options, COUNT(train_options), "checkpoint");
    tc.quiet = cli_value(train_options, COUNT(train_options), "quiet") != NULL;
    int resume = cli_value(train_options, COUNT(train_options), "resume") != NULL;
    LmModel m;
    if (!model || !data_name) {
        fprintf(stderr, "subq train: --model and --data are required\n");
        return 2;
    }
    if ((resume && !tc.checkpoint) || parse_numbers(&tc, err, sizeof err) != 0 ||
        lm_create(&m, model, err, sizeof err) != 0) {
        fprintf(stderr, "subq train: %s\n", resume && !tc.checkpoint ? "--resume needs --checkpoint" : err);
        return 2;
    }
    tc.context = m.cfg.context;
    TextDataset text;
    RecallDataset recall;
    TrainData data;
    int rc = open_data(data_name, &text, &recall, &data, err, sizeof err) != 0 ? 2 : 0;
    if (rc == 0)
        rc = run_training(&m, &tc, &data, resume, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "subq train: %s\n", err);
    text_free(&text);
    lm_destroy(&m);
    return rc;
}
