/* generate_cli: `subq generate`, text from a trained byte-level language-model checkpoint (bench/train/generate.h). */
#ifndef SUBQ_GENERATE_CLI_H
#define SUBQ_GENERATE_CLI_H

/* Returns the process exit code (0, 1 a failed generation, 2 bad usage or input). */
int generate_cli(int argc, char **argv);

#endif
