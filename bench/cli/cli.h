/* cli: the `--name value` option parsing shared by every `subq` subcommand. Unknown options, missing
 * values, repeated options and stray arguments are errors with a one-line message. */
#ifndef SUBQ_CLI_H
#define SUBQ_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct CliOption {
    const char *name; /* without the leading "--" */
    int takes_value;  /* 0: a flag */
    const char *help;
    const char *value; /* set by cli_parse (flags: "1") */
} CliOption;

int cli_parse(CliOption *opts, int count, int argc, char **argv, char *err, size_t errlen);
const char *cli_value(const CliOption *opts, int count, const char *name); /* NULL if absent */
/* Parses a whole decimal integer in [lo, hi]; -1 with a message naming the option otherwise. */
int cli_long(const char *option, const char *text, long lo, long hi, long *out, char *err, size_t errlen);
int cli_u64(const char *option, const char *text, uint64_t *out, char *err, size_t errlen);
int cli_double(const char *option, const char *text, double lo, double hi, double *out, char *err, size_t errlen);
/* 1 if --help or -h is among the arguments: every subcommand then prints its usage and options and exits 0. */
int cli_wants_help(int argc, char **argv);
/* Prints "usage: <usage>" and the options to stdout; returns 0 (the exit status). */
int cli_help(const char *usage, const CliOption *opts, int count);

#endif
