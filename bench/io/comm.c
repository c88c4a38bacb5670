#include "comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The world after comm_init (documented in comm.h): whether this process initialised MPI, and its place. */
static struct {
    int initialised, rank, size, solo;
} world = {0, 0, 1, 0};

/* Variables a launcher sets in every rank it starts. */
static int launched_by_mpi(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    const char *tasks = getenv("SLURM_STEP_NUM_TASKS");
    return tasks && atoi(tasks) > 1 && getenv("SLURM_PROCID");
}

int comm_init(int *argc, char ***argv, char *err, size_t errlen)
{
    if (world.initialised || !launched_by_mpi())
        return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(err, errlen, "MPI_Init_thread failed");
        return -1;
    }
    /* A failing rank ends the job with its own message (comm_abort), not MPI's default handler's. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    world.initialised = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    return 0;
}

void comm_finalize(void)
{
    if (world.initialised)
        MPI_Finalize();
    world.initialised = 0;
}

int comm_rank(void) { return world.solo ? 0 : world.rank; }
int comm_size(void) { return world.solo ? 1 : world.size; }
int comm_is_root(void) { return comm_rank() == 0; }
void comm_solo(int on) { world.solo = on; }
int comm_world_rank(void) { return world.rank; }
int comm_world_size(void) { return world.size; }

/* MPI counts are ints: large buffers go in chunks. */
static int sum_chunks(void *values, size_t n, size_t elem, MPI_Datatype type, char *err, size_t errlen)
{
    if (!world.initialised || comm_size() == 1)
        return 0;
    for (size_t done = 0; done < n;) {
        size_t count = n - done < (size_t)INT_MAX ? n - done : (size_t)INT_MAX;
        if (MPI_Allreduce(MPI_IN_PLACE, (char *)values + done * elem, (int)count, type, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS) {
            snprintf(err, errlen, "rank %d: MPI_Allreduce failed (a rank of the job has gone)", world.rank);
            return -1;
        }
        done += count;
    }
    return 0;
}

int comm_sum_floats(float *values, size_t n, char *err, size_t errlen)
{
    return sum_chunks(values, n, sizeof *values, MPI_FLOAT, err, errlen);
}

int comm_sum_doubles(double *values, size_t n, char *err, size_t errlen)
{
    return sum_chunks(values, n, sizeof *values, MPI_DOUBLE, err, errlen);
}

int comm_wait_all(char *err, size_t errlen)
{
    if (!world.initialised || world.size == 1)
        return 0;
    MPI_Request request;
    int done = 0;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &request) != MPI_SUCCESS) {
        snprintf(err, errlen, "rank %d: MPI_Ibarrier failed", world.rank);
        return -1;
    }
    while (!done) {
        if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
            snprintf(err, errlen, "rank %d: waiting for the other ranks failed (a rank of the job has gone)",
                     world.rank);
            return -1;
        }
        if (!done)
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    return 0;
}

int comm_local_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"};
    for (size_t i = 0; world.initialised && i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    return world.initialised ? world.size : 1;
}

int comm_all_equal_u64(unsigned long long value)
{
    if (!world.initialised || comm_size() == 1)
        return 1;
    unsigned long long lo = value, hi = value;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

void comm_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    if (world.initialised && world.size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

const char *comm_library_version(char *buf, size_t len)
{
    if (!world.initialised) {
        snprintf(buf, len, "none (a world of one)");
        return buf;
    }
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(version, &n);
    version[strcspn(version, "\n,")] = '\0';
    snprintf(buf, len, "%s", version);
    return buf;
}
