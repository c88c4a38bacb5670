/* comm: the MPI world subq runs in (docs/DESIGN.md section 10). Launched by an MPI launcher (`mpirun -np N
 * ./subq ...`, Slurm's `srun`), subq is N ranks of MPI_COMM_WORLD; launched plainly (`./subq ...`) it is a world
 * of one rank and MPI is never initialised, so a plain run neither pays MPI's start-up nor needs a launcher.
 *
 * The module keeps the world's rank and size after comm_init: the one global state, a cache of what MPI
 * would answer. Every function works in a world of one without MPI (the tests call them so). */
#ifndef SUBQ_COMM_H
#define SUBQ_COMM_H

#include <stddef.h>

/* Initialises MPI (thread level funneled: only the main thread calls MPI) when the environment shows an MPI
 * launch (Open MPI's OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK, PMI's PMI_SIZE, Slurm's SLURM_STEP_NUM_TASKS > 1
 * under srun). Returns 0, or -1 with a one-line message. */
int comm_init(int *argc, char ***argv, char *err, size_t errlen);
/* Finalises MPI if comm_init initialised it. */
void comm_finalize(void);

int comm_rank(void);    /* 0 .. comm_size() - 1 */
int comm_size(void);    /* 1 without MPI */
int comm_is_root(void); /* rank 0: the only rank that writes results, checkpoints and logs */

/* Between comm_solo(1) and comm_solo(0) this rank acts as a world of one: comm_size() is 1, comm_rank() 0,
 * and the collectives do nothing. A sharded reproduction runs each experiment whole on one rank this way.
 * comm_world_rank and comm_world_size always give the launcher's world. */
void comm_solo(int on);
int comm_world_rank(void);
int comm_world_size(void);

/* Sums n floats (or doubles) over the ranks, in place, every rank getting the same values. In a world of one,
 * nothing. Returns 0, or -1 with a one-line message. */
int comm_sum_floats(float *values, size_t n, char *err, size_t errlen);
int comm_sum_doubles(double *values, size_t n, char *err, size_t errlen);

/* A barrier of the whole world (comm_solo does not shrink it) that sleeps instead of spinning (MPI_Ibarrier
 * polled every 20 ms), so ranks waiting for a timing run on another rank leave the cores to it. Returns 0, or
 * -1 with a one-line message. */
int comm_wait_all(char *err, size_t errlen);

/* How many ranks share this machine (the launcher's local size; 1 without MPI). */
int comm_local_size(void);

/* 1 if every rank passed the same value (a checksum of the parameters, to catch ranks that drifted apart). */
int comm_all_equal_u64(unsigned long long value);

/* Ends every rank of the job at once (MPI_Abort) after a failure on this one; exit(code) without MPI. */
void comm_abort(int code) __attribute__((noreturn));

/* "Open MPI v4.1.4, ..." or "none (a world of one)". */
const char *comm_library_version(char *buf, size_t len);

#endif
