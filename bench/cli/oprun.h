/* oprun: `subq op list|spec|run`, running one registry operator on tensors from an HDF5 file, for interop
 * with PyTorch and for independent verification.
 *
 * IN.h5:  /x (B, L, D_in) float32; optional /params/<name> for every parameter (all or none; names and shapes
 *         as `subq op spec` prints them); optional /dy (B, L, D_out). No other datasets.
 * OUT.h5: /y, /params/<name> (the values used), and with /dy: /dx and /grads/<name> (gradients of sum(y*dy));
 *         root attributes op, config (canonical form), flops_forward, flops_backward, seed, params_source.
 * OUT.h5 is written atomically. Errors in the input are reported in one line naming the dataset and the
 * expected shape. */
#ifndef SUBQ_OPRUN_H
#define SUBQ_OPRUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of the runner (and of the CLI). */
#define OPRUN_OK 0
#define OPRUN_FAILED 1    /* the machine failed us: out of memory, cannot write */
#define OPRUN_BAD_INPUT 2 /* the user's input or configuration is wrong */

void oprun_list(FILE *out);
int oprun_spec(const char *op_name, const char *config, FILE *out, char *err, size_t errlen);
int oprun_run(const char *op_name, const char *config, const char *in_path, const char *out_path, uint64_t seed,
              char *err, size_t errlen);

#endif
