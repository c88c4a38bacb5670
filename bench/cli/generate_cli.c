#include "generate_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "generate.h"
#include "train.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define GENERATE_USAGE                                                                                             \
    "subq generate --checkpoint F --prompt TEXT --tokens N [--temperature T] [--seed S]  text from a trained "     \
    "byte-level LM"

static CliOption generate_options[] = {
    {"checkpoint", 1, "a checkpoint of `subq train` (a byte-level model: vocab 256)", NULL},
    {"prompt", 1, "the text the generation continues (at least one byte)", NULL},
    {"tokens", 1, "new tokens (bytes) to generate", NULL},
    {"temperature", 1, "0: the most probable byte each time; else sample softmax(logits / T) (0.8)", NULL},
    {"seed", 1, "the sampler's seed (1337)", NULL},
    {"hyena-step", 1,
     "Hyena mixers: cached (exact, O(t) per token) | fft (exact FFT tiles, O(log^2 t)) | modal (filters distilled "
     "into 16-degree recurrences, O(1), approximate) (cached)",
     NULL},
};

static void put_byte(int token, void *ctx)
{
    (void)ctx;
    putchar(token);
    fflush(stdout);
}

static int parse(GenConfig *g, const char **checkpoint, const char **prompt, char *err, size_t errlen)
{
    const char *v;
    long n;
    *checkpoint = cli_value(generate_options, COUNT(generate_options), "checkpoint");
    *prompt = cli_value(generate_options, COUNT(generate_options), "prompt");
    if (!*checkpoint || !*prompt || !(v = cli_value(generate_options, COUNT(generate_options), "tokens"))) {
        snprintf(err, errlen, "--checkpoint, --prompt and --tokens are required");
        return -1;
    }
    if (!**prompt) {
        snprintf(err, errlen, "--prompt needs at least one character");
        return -1;
    }
    if (cli_long("tokens", v, 1, 100000000, &n, err, errlen) != 0)
        return -1;
    g->tokens = (int)n;
    if ((v = cli_value(generate_options, COUNT(generate_options), "temperature")) &&
        cli_double("temperature", v, 0.0, 100.0, &g->temperature, err, errlen) != 0)
        return -1;
    if ((v = cli_value(generate_options, COUNT(generate_options), "seed")) && cli_u64("seed", v, &g->seed, err, errlen))
        return -1;
    return 0;
}

int generate_cli(int argc, char **argv)
{
    char err[1024];
    if (cli_wants_help(argc, argv))
        return cli_help(GENERATE_USAGE, generate_options, COUNT(generate_options));
    GenConfig g = {.temperature = 0.8, .seed = 1337};
    const char *checkpoint, *prompt;
    if (cli_parse(generate_options, COUNT(generate_options), argc, argv, err, sizeof err) != 0 ||
        parse(&g, &checkpoint, &prompt, err, sizeof err) != 0) {
        fprintf(stderr, "subq generate: %s\n", err);
        return 2;
    }
    LmModel m;
    float *params;
    const char *step = cli_value(generate_options, COUNT(generate_options), "hyena-step");
    if (step && strcmp(step, "cached") != 0 && strcmp(step, "fft") != 0 && strcmp(step, "modal") != 0) {
        fprintf(stderr, "subq generate: --hyena-step must be cached, fft or modal, got '%s'\n", step);
        return 2;
    }
    if (train_load_model(checkpoint, &m, &params, err, sizeof err) != 0) {
        fprintf(stderr, "subq generate: %s\n", err);
        return 2;
    }
    if (step && m.cfg.mixer != LM_MIXER_HYENA) {
        fprintf(stderr, "subq generate: --hyena-step applies to Hyena mixers; %s's mixer is not Hyena\n", checkpoint);
        lm_destroy(&m), core_free(params);
        return 2;
    }
    /* FFF and MoE channels generate with hard routing and no gating noise, their inference mode. Neither that
     * nor the Hyena step changes the parameters: the model is rebuilt on the loaded ones. */
    const int routed = m.cfg.channel == LM_CHANNEL_FFF || m.cfg.channel == LM_CHANNEL_MOE;
    if (routed || step) {
        char extra[128], config[4 * LM_CONFIG_LEN];
        snprintf(extra, sizeof extra, "%s%s%s%s", routed ? "channel.mode=infer" : "", routed && step ? "," : "",
                 step ? "mixer.step=" : "", step ? step : "");
        LmModel generating;
        snprintf(err, sizeof err, "%s: the model's config does not fit %zu bytes", checkpoint, sizeof config);
        int rc = lm_config_string(&m, config, sizeof config) == 0 &&
                         lm_create_overriding(&generating, config, extra, err, sizeof err) == 0
                     ? 0
                     : -1;
        lm_destroy(&m);
        if (rc != 0) {
            fprintf(stderr, "subq generate: %s\n", err);
            core_free(params);
            return 2;
        }
        m = generating;
    }
    const int n_prompt = (int)strlen(prompt);
    int *ids = malloc(sizeof(int) * (size_t)n_prompt), *out = malloc(sizeof(int) * (size_t)g.tokens), rc = 0;
    if (m.cfg.vocab != 256) {
        snprintf(err, sizeof err, "%s: a model of vocabulary %d, not a byte-level one (256): no text to print",
                 checkpoint, m.cfg.vocab);
        rc = 2;
    } else if (!ids || !out) {
        snprintf(err, sizeof err, "out of memory");
        rc = 1;
    }
    GenResult r;
    if (rc == 0) {
        for (int i = 0; i < n_prompt; i++)
            ids[i] = (unsigned char)prompt[i];
        fputs(prompt, stdout);
        rc = gen_run(&m, params, ids, n_prompt, &g, out, put_byte, NULL, &r, err, sizeof err) != 0 ? 1 : 0;
        putchar('\n');
    }
    if (rc == 0)
        fprintf(stderr, "subq generate: %d tokens in %.3f s (%.0f tokens/s; prompt %d tokens in %.3f s; context %d, "
                        "window restarts %d)\n",
                r.tokens, r.seconds, r.seconds > 0 ? r.tokens / r.seconds : 0.0, r.prompt_tokens, r.prompt_seconds,
                m.cfg.context, r.restarts);
    else
        fprintf(stderr, "subq generate: %s\n", err);
    free(ids), free(out), core_free(params);
    lm_destroy(&m);
    return rc;
}
