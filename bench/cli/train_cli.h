/* train_cli: `subq train`, one training run of a decoder LM on a text corpus or the associative recall task,
 * with checkpoints and exact resume (bench/train/train.h). */
#ifndef SUBQ_TRAIN_CLI_H
#define SUBQ_TRAIN_CLI_H

/* Returns the process exit code (0, 1 a run failure such as a NaN stop, 2 bad usage or input). */
int train_cli(int argc, char **argv);

#endif
