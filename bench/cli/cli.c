#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CliOption *find_option(CliOption *opts, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

int cli_parse(CliOption *opts, int count, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 0; i < count; i++)
        opts[i].value = NULL;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", arg);
            return -1;
        }
        CliOption *opt = find_option(opts, count, arg + 2);
        if (!opt) {
            snprintf(err, errlen, "unknown option '%s'", arg);
            return -1;
        }
        if (opt->value) {
            snprintf(err, errlen, "option '%s' given twice", arg);
            return -1;
        }
        if (!opt->takes_value) {
            opt->value = "1";
            continue;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "option '%s' needs a value", arg);
            return -1;
        }
        opt->value = argv[++i];
    }
    return 0;
}

const char *cli_value(const CliOption *opts, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(opts[i].name, name) == 0)
            return opts[i].value;
    return NULL;
}

int cli_long(const char *option, const char *text, long lo, long hi, long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < lo || v > hi) {
        snprintf(err, errlen, "--%s: '%s' is not an integer in [%ld, %ld]", option, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u64(const char *option, const char *text, uint64_t *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || text[0] == '-') {
        snprintf(err, errlen, "--%s: '%s' is not a non-negative integer", option, text);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_double(const char *option, const char *text, double lo, double hi, double *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        snprintf(err, errlen, "--%s: '%s' is not a number in [%g, %g]", option, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static void print_options(FILE *out, const CliOption *opts, int count)
{
    for (int i = 0; i < count; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", opts[i].name, opts[i].takes_value ? " VALUE" : "");
        fprintf(out, "  %-26s %s\n", flag, opts[i].help);
    }
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

int cli_help(const char *usage, const CliOption *opts, int count)
{
    printf("usage: %s\n", usage);
    if (count > 0) {
        printf("options:\n");
        print_options(stdout, opts, count);
    }
    return 0;
}
