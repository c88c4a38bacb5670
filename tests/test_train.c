/* The trainer: exact resume from a checkpoint, the NaN guard, the learning-rate schedule and checkpoint
 * compatibility checks, on a tiny model and a synthetic, index-determined data source. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5io.h"
#include "train.h"

#define MODEL "vocab=11,d_model=16,layers=2,context=8,mixer=hyena,channel=ffn,pos_emb=0,channel.d_hidden=32"

/* Batch `index` of a split: a repeating pattern with a seeded offset, so there is something to learn. */
static int synthetic_batch(void *ctx, int split, uint64_t index, int *ids, int *targets, int B, int T, char *err,
                           size_t errlen)
{
    Rng rng;
    rng_init(&rng, 1000 * (uint64_t)split + index);
    for (int b = 0; b < B; b++) {
        int start = (int)rng_below(&rng, 11);
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = (start + t) % 11;
            targets[b * T + t] = (start + t + 1) % 11;
        }
    }
    return 0;
}

static TrainConfig tiny_config(int steps)
{
    TrainConfig c = train_defaults();
    c.steps = steps, c.batch = 3, c.context = 8, c.warmup = 2, c.decay_steps = 10, c.eval_every = 5;
    c.eval_batches = 2, c.quiet = 1, c.lr = 1e-2f, c.min_lr = 1e-3f;
    return c;
}

static void make_model(LmModel *m)
{
    char err[256];
    cr_assert_eq(lm_create(m, MODEL, err, sizeof err), 0, "%s", err);
}

Test(train, resumed_run_reproduces_the_uninterrupted_losses_exactly)
{
    LmModel m;
    make_model(&m);
    TrainData data = {NULL, synthetic_batch};
    char err[512], ckpt[64];
    snprintf(ckpt, sizeof ckpt, "/tmp/subq_ckpt_%ld.h5", (long)getpid());
    TrainState full, part;
    TrainLog log_full, log_part;
    TrainResult r;
    TrainConfig c10 = tiny_config(10), c5 = tiny_config(5);
    c5.checkpoint = ckpt;
    cr_assert_eq(train_state_alloc(&full, &m, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_state_alloc(&part, &m, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_log_alloc(&log_full, 10, 4), 0);
    cr_assert_eq(train_log_alloc(&log_part, 10, 4), 0);
    cr_assert_eq(train_run(&m, &c10, &data, &full, &log_full, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_run(&m, &c5, &data, &part, &log_part, &r, err, sizeof err), 0, "%s", err);

    TrainState resumed;
    cr_assert_eq(train_state_alloc(&resumed, &m, 999, err, sizeof err), 0, "%s", err); /* other init */
    cr_assert_eq(train_load_checkpoint(&m, &resumed, c5.seed, 10, ckpt, err, sizeof err), 0, "%s", err);
    cr_expect_eq(resumed.step, 5);
    c10.checkpoint = NULL;
    cr_assert_eq(train_run(&m, &c10, &data, &resumed, &log_part, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(log_part.n_train, 10);
    for (int i = 0; i < 10; i++)
        cr_expect_eq(log_part.train_loss[i], log_full.train_loss[i], "step %d: %.9g resumed vs %.9g", i + 1,
                     log_part.train_loss[i], log_full.train_loss[i]);
    cr_expect_eq(memcmp(resumed.params, full.params, m.n_params * sizeof(float)), 0, "final parameters differ");
    cr_expect_lt(log_full.train_loss[9], log_full.train_loss[0], "the loss should fall on this easy pattern");
    unlink(ckpt);
    train_state_free(&full), train_state_free(&part), train_state_free(&resumed);
    train_log_free(&log_full), train_log_free(&log_part);
    lm_destroy(&m);
}

Test(train, nan_loss_stops_the_run_and_keeps_the_last_checkpoint)
{
    LmModel m;
    make_model(&m);
    TrainData data = {NULL, synthetic_batch};
    char err[512] = "", ckpt[64];
    snprintf(ckpt, sizeof ckpt, "/tmp/subq_nan_%ld.h5", (long)getpid());
    TrainState s;
    TrainResult r;
    TrainConfig c = tiny_config(3);
    c.checkpoint = ckpt;
    cr_assert_eq(train_state_alloc(&s, &m, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_run(&m, &c, &data, &s, NULL, &r, err, sizeof err), 0, "%s", err);
    s.params[m.tensors[0].spec.offset + 3] = NAN; /* poison the embedding of token 0 */
    c.steps = 6;
    cr_expect_eq(train_run(&m, &c, &data, &s, NULL, &r, err, sizeof err), -1);
    cr_expect_eq(r.stopped_nan, 1);
    cr_expect(strstr(err, "NaN") != NULL && strstr(err, "step 4") != NULL, "message: %s", err);
    TrainState back;
    cr_assert_eq(train_state_alloc(&back, &m, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_load_checkpoint(&m, &back, c.seed, 0, ckpt, err, sizeof err), 0, "%s", err);
    cr_expect_eq(back.step, 3, "the checkpoint from before the NaN is intact");
    cr_expect(isfinite(back.params[m.tensors[0].spec.offset + 3]));
    unlink(ckpt);
    train_state_free(&s), train_state_free(&back);
    lm_destroy(&m);
}

Test(train, schedule_warms_up_linearly_then_decays_by_cosine_to_min_lr)
{
    TrainConfig c = train_defaults(); /* lr 1e-3, min 1e-4, warm-up 100, decay 2000 */
    cr_expect_float_eq(train_lr_at(&c, 1), 1e-3f * 1 / 101, 1e-9);
    cr_expect_float_eq(train_lr_at(&c, 101), 1e-3f, 1e-9);
    cr_expect_float_eq(train_lr_at(&c, 1051), 0.5f * (1e-3f + 1e-4f), 1e-8);
    cr_expect_float_eq(train_lr_at(&c, 2001), 1e-4f, 1e-9);
    cr_expect_float_eq(train_lr_at(&c, 5000), 1e-4f, 1e-9);
}

Test(train, checkpoint_of_another_model_is_refused_with_both_configs_named)
{
    LmModel m, other;
    make_model(&m);
    char err[1024], ckpt[64];
    cr_assert_eq(lm_create(&other, "vocab=11,d_model=8,layers=1,context=8,mixer=hyena,pos_emb=0", err, sizeof err), 0,
                 "%s", err);
    snprintf(ckpt, sizeof ckpt, "/tmp/subq_other_%ld.h5", (long)getpid());
    TrainState s, t;
    cr_assert_eq(train_state_alloc(&s, &other, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_save_checkpoint(&other, &s, 1, ckpt, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_state_alloc(&t, &m, 1, err, sizeof err), 0, "%s", err);
    cr_expect_eq(train_load_checkpoint(&m, &t, 1, 0, ckpt, err, sizeof err), -1);
    cr_expect(strstr(err, "d_model=8") != NULL && strstr(err, "d_model=16") != NULL, "message: %s", err);
    unlink(ckpt);
    train_state_free(&s), train_state_free(&t);
    lm_destroy(&m), lm_destroy(&other);
}

/* A checkpoint is validated before it is trusted: its step, its seed against this run's, the steps still to
 * train, and every stored value finite. Each failure names what is wrong. */
Test(train, untrustworthy_checkpoints_are_refused_with_the_reason)
{
    LmModel m;
    make_model(&m);
    char err[1024], ckpt[64];
    snprintf(ckpt, sizeof ckpt, "/tmp/subq_badckpt_%ld.h5", (long)getpid());
    TrainState s, t;
    cr_assert_eq(train_state_alloc(&s, &m, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train_state_alloc(&t, &m, 1, err, sizeof err), 0, "%s", err);
    s.step = 5;
    cr_assert_eq(train_save_checkpoint(&m, &s, 42, ckpt, err, sizeof err), 0, "%s", err);
    cr_expect_eq(train_load_checkpoint(&m, &t, 42, 10, ckpt, err, sizeof err), 0, "%s", err);
    cr_expect_eq(train_load_checkpoint(&m, &t, 43, 10, ckpt, err, sizeof err), -1);
    cr_expect(strstr(err, "seed 42") && strstr(err, "seed 43"), "%s", err);
    cr_expect_eq(train_load_checkpoint(&m, &t, 42, 5, ckpt, err, sizeof err), -1);
    cr_expect(strstr(err, "already at step 5") != NULL, "%s", err);

    const double bad_steps[] = {NAN, 1e30, -5, 2.5};
    for (size_t i = 0; i < sizeof bad_steps / sizeof bad_steps[0]; i++) {
        H5File *f = h5io_create_atomic(ckpt, err, sizeof err);
        cr_assert_not_null(f, "%s", err);
        char config[4 * LM_CONFIG_LEN];
        lm_config_string(&m, config, sizeof config);
        cr_assert_eq(h5io_attr_str(f, "/", "model_config", config, err, sizeof err), 0);
        cr_assert_eq(h5io_attr_double(f, "/", "step", bad_steps[i], err, sizeof err), 0);
        cr_assert_eq(h5io_attr_int(f, "/", "seed", 42, err, sizeof err), 0);
        cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
        cr_expect_eq(train_load_checkpoint(&m, &t, 42, 0, ckpt, err, sizeof err), -1, "step %g", bad_steps[i]);
        cr_expect(strstr(err, "is not a step count") != NULL, "%s", err);
    }

    s.params[m.tensors[1].spec.offset] = NAN;
    cr_assert_eq(train_save_checkpoint(&m, &s, 42, ckpt, err, sizeof err), 0, "%s", err);
    cr_expect_eq(train_load_checkpoint(&m, &t, 42, 0, ckpt, err, sizeof err), -1);
    cr_expect(strstr(err, "non-finite") && strstr(err, m.tensors[1].spec.name), "%s", err);
    unlink(ckpt);
    train_state_free(&s), train_state_free(&t);
    lm_destroy(&m);
}
