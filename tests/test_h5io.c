/* h5io: round trips, atomic writes, error messages and byte-identical output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5io.h"
#include "testutil.h"

static char dir[64];

static void make_dir(void) { tmp_dir_make(dir, sizeof dir, "h5io"); }
static void remove_dir(void) { tmp_dir_remove(dir); }

TestSuite(h5io, .init = make_dir, .fini = remove_dir);

static void write_sample(const char *path)
{
    char err[256];
    H5File *f = h5io_create_atomic(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    float x[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
    int shape[2] = {2, 3}, ishape[1] = {3}, ids[3] = {4, -1, 9};
    double d[2] = {0.1, 1e300};
    int dshape[1] = {2};
    cr_assert_eq(h5io_write_floats(f, "x", x, 2, shape, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_write_floats(f, "params/fc1.weight", x, 2, shape, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_write_ints(f, "ids", ids, 1, ishape, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_write_doubles(f, "runs/a/series", d, 1, dshape, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_attr_str(f, "/", "op", "ffn", err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_attr_double(f, "runs/a", "loss", 2.5, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_attr_int(f, "/", "seed", 1234567890123LL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
}

Test(h5io, tensors_ints_and_attributes_round_trip_exactly)
{
    char path[128], err[256], text[64];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    write_sample(path);
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    H5Tensor t;
    cr_assert_eq(h5io_read_tensor(f, "params/fc1.weight", &t, err, sizeof err), 0, "%s", err);
    cr_assert(t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3 && t.numel == 6);
    cr_expect(t.data[2] == 3.25f && t.data[4] == 1e-30f && t.data[5] == -7.0f);
    h5io_tensor_free(&t);
    int *ids, ndim, shape[H5IO_MAX_DIMS];
    cr_assert_eq(h5io_read_ints(f, "ids", &ids, &ndim, shape, err, sizeof err), 0, "%s", err);
    cr_expect(ndim == 1 && shape[0] == 3 && ids[0] == 4 && ids[1] == -1 && ids[2] == 9);
    free(ids);
    double v;
    cr_assert_eq(h5io_read_attr_str(f, "/", "op", text, sizeof text), 0);
    cr_expect_str_eq(text, "ffn");
    cr_assert_eq(h5io_read_attr_double(f, "runs/a", "loss", &v), 0);
    cr_expect_eq(v, 2.5);
    cr_assert_eq(h5io_read_attr_double(f, "/", "seed", &v), 0);
    cr_expect_eq(v, 1234567890123.0);
    cr_expect_eq(h5io_read_attr_str(f, "/", "absent", text, sizeof text), -1);
    h5io_close(f);
}

Test(h5io, list_returns_sorted_dataset_names_and_exists_walks_paths)
{
    char path[128], err[256], names[8][128];
    snprintf(path, sizeof path, "%s/b.h5", dir);
    write_sample(path);
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    int n = h5io_list(f, "/", names, 8);
    cr_assert_eq(n, 2, "root holds datasets ids and x (groups are not listed), got %d", n);
    cr_expect_str_eq(names[0], "ids");
    cr_expect_str_eq(names[1], "x");
    cr_expect_eq(h5io_exists(f, "params/fc1.weight"), 1);
    cr_expect_eq(h5io_exists(f, "params/fc2.weight"), 0);
    cr_expect_eq(h5io_exists(f, "nothing/below/here"), 0);
    cr_expect_eq(h5io_list(f, "missing", names, 8), -1);
    h5io_close(f);
}

Test(h5io, missing_dataset_and_wrong_type_give_messages_naming_the_path)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/c.h5", dir);
    write_sample(path);
    H5File *f = h5io_open_read(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    H5Tensor t;
    cr_expect_eq(h5io_read_tensor(f, "params/fc9.weight", &t, err, sizeof err), -1);
    cr_expect(strstr(err, "/params/fc9.weight") != NULL, "message was: %s", err);
    int *ids, ndim, shape[H5IO_MAX_DIMS];
    cr_expect_eq(h5io_read_ints(f, "x", &ids, &ndim, shape, err, sizeof err), -1, "floats are not ints");
    cr_expect(strstr(err, "/x") != NULL, "message was: %s", err);
    h5io_close(f);
}

Test(h5io, non_hdf5_and_missing_files_are_refused_with_a_message)
{
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/not.h5", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("plain text, not HDF5\n", fp);
    fclose(fp);
    cr_expect_null(h5io_open_read(path, err, sizeof err));
    cr_expect(strstr(err, "not an HDF5 file") != NULL, "message was: %s", err);
    snprintf(path, sizeof path, "%s/absent.h5", dir);
    cr_expect_null(h5io_open_read(path, err, sizeof err));
    cr_expect(strstr(err, "absent.h5") != NULL, "message was: %s", err);
}

Test(h5io, aborted_write_leaves_no_file_and_commit_is_the_only_way_to_the_final_name)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/atomic.h5", dir);
    H5File *f = h5io_create_atomic(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    float x = 1.0f;
    int shape[1] = {1};
    cr_assert_eq(h5io_write_floats(f, "x", &x, 1, shape, err, sizeof err), 0, "%s", err);
    cr_expect_neq(access(path, F_OK), 0, "the final name must not exist before commit");
    h5io_abort(f);
    cr_expect_neq(access(path, F_OK), 0, "abort must not create the final file");
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls %s | grep tmp)\"", dir);
    cr_expect_eq(system(cmd), 0, "abort must remove the temporary file");
}

Test(h5io, identical_content_gives_identical_bytes)
{
    char a[128], b[128], cmd[300];
    snprintf(a, sizeof a, "%s/same1.h5", dir);
    snprintf(b, sizeof b, "%s/same2.h5", dir);
    write_sample(a);
    sleep(1); /* a timestamp, if one were stored, would now differ */
    write_sample(b);
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    cr_expect_eq(system(cmd), 0, "two writes of the same content differ byte-wise");
}

Test(h5io, create_in_missing_directory_fails_with_a_message)
{
    char err[256] = "";
    cr_expect_null(h5io_create_atomic("/nonexistent-dir-subq/x.h5", err, sizeof err));
    cr_expect(strstr(err, "/nonexistent-dir-subq/x.h5") != NULL, "message was: %s", err);
}

Test(h5io, a_writer_killed_before_commit_leaves_no_file_under_the_final_name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/killed.h5", dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char err[256];
        H5File *f = h5io_create_atomic(path, err, sizeof err);
        float x[4] = {1, 2, 3, 4};
        int shape[1] = {4};
        if (f)
            h5io_write_floats(f, "x", x, 1, shape, err, sizeof err);
        raise(SIGKILL); /* dies mid-write, before commit */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    cr_expect_neq(access(path, F_OK), 0, "a killed writer must not leave %s", path);
}
