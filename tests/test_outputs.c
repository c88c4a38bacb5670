/* Output files (dataio_output_*, docs/DESIGN.md section 9), through every writer that uses them: what is already
 * at the destination is never clobbered (a FIFO, a directory, a symbolic link, a character device), temporaries
 * have short names, a killed writer's temporaries are cleaned up by the next one, and a signal removes the
 * process's own. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataio.h"
#include "h5io.h"
#include "testutil.h"

static int count_temporaries(const char *dir)
{
    char **names;
    int n, found = 0;
    char err[256];
    if (dataio_list_dir(dir, DATAIO_LIST_FILES, ".tmp", &names, &n, err, sizeof err) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        found += strncmp(names[i], ".subq-", 6) == 0;
    dataio_free_list(names, n);
    return found;
}

Test(outputs, what_is_at_the_destination_decides)
{
    char dir[128], path[400], link[256], err[512];
    tmp_dir_make(dir, sizeof dir, "subq_out");
    /* A FIFO and a directory are refused and left as they are. */
    snprintf(path, sizeof path, "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_expect_null(h5io_create_atomic(path, err, sizeof err));
    cr_expect(strstr(err, "is a FIFO; refusing to replace it") != NULL, "%s", err);
    struct stat st;
    cr_expect(stat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    cr_expect_eq(dataio_write_file(dir, "x", 1, err, sizeof err), -1);
    cr_expect(strstr(err, "is a directory") != NULL, "%s", err);

    /* A symbolic link is followed: its target gets the new content, the link stays a link. */
    snprintf(path, sizeof path, "%s/target.txt", dir);
    snprintf(link, sizeof link, "%s/link.txt", dir);
    cr_assert_eq(dataio_write_file(path, "old", 3, err, sizeof err), 0, "%s", err);
    cr_assert_eq(symlink("target.txt", link), 0);
    cr_assert_eq(dataio_write_file(link, "new!", 4, err, sizeof err), 0, "%s", err);
    cr_expect(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link is still a link");
    uint8_t *data;
    size_t len;
    cr_assert_eq(dataio_read_file(path, 64, &data, &len, err, sizeof err), 0);
    cr_expect(len == 4 && memcmp(data, "new!", 4) == 0);
    free(data);

    /* A link to a file not written yet: the file is written where the link points, the link stays. */
    char dangling[256], fresh[256];
    snprintf(dangling, sizeof dangling, "%s/later.txt", dir);
    snprintf(fresh, sizeof fresh, "%s/fresh.txt", dir);
    cr_assert_eq(symlink("fresh.txt", dangling), 0);
    cr_expect_eq(dataio_write_file(dangling, "hi", 2, err, sizeof err), 0, "%s", err);
    cr_expect(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode) && stat(fresh, &st) == 0 && st.st_size == 2);
    unlink(dangling), unlink(fresh);

    /* A character device is written through, never replaced: a null device of our own (major 1, minor 3, as
     * /dev/null), so a regression cannot turn the machine's /dev/null into a file. Needs root for mknod. */
    snprintf(path, sizeof path, "%s/null", dir);
    if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        H5File *f = h5io_create_atomic(path, err, sizeof err);
        cr_assert_not_null(f, "%s", err);
        cr_expect_eq(h5io_attr_int(f, "/", "x", 1, err, sizeof err), 0);
        cr_expect_eq(h5io_commit(f, err, sizeof err), 0, "%s", err);
        cr_expect(stat(path, &st) == 0 && S_ISCHR(st.st_mode), "the device is still a device");
        unlink(path);
    } else
        cr_log_warn("mknod: %s (not root?): the character-device case is not tested", strerror(errno));

    /* A long final name does not make the temporary's name too long; one past the limit says why. */
    char name[260];
    memset(name, 'n', 250);
    name[250] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_expect_eq(dataio_write_file(path, "x", 1, err, sizeof err), 0, "%s", err);
    unlink(path);
    memset(name, 'n', 259);
    name[259] = '\0';
    char longpath[400];
    snprintf(longpath, sizeof longpath, "%s/%s", dir, name);
    cr_expect_eq(dataio_write_file(longpath, "x", 1, err, sizeof err), -1);
    cr_expect(strstr(err, strerror(ENAMETOOLONG)) != NULL, "%s", err);
    cr_expect_eq(count_temporaries(dir), 0, "no temporary left behind");
    unlink(link);
    snprintf(path, sizeof path, "%s/target.txt", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/fifo", dir);
    unlink(path);
    tmp_dir_remove(dir);
}

Test(outputs, temporaries_of_dead_writers_are_removed_and_a_signal_removes_its_own)
{
    char dir[128], path[256], stale[256], err[512];
    tmp_dir_make(dir, sizeof dir, "subq_out");
    /* A temporary of a process that is gone (a child that has exited and been reaped). */
    pid_t dead = fork();
    cr_assert_geq(dead, 0);
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(stale, sizeof stale, "%s/.subq-%ld-0.tmp", dir, (long)dead);
    cr_assert_eq(dataio_write_file(stale, "half", 4, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/result.h5", dir);
    H5File *f = h5io_create_atomic(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_expect_neq(access(stale, F_OK), 0, "the dead writer's temporary is gone");
    cr_expect_eq(count_temporaries(dir), 1, "only this writer's own");
    h5io_abort(f);
    cr_expect_eq(count_temporaries(dir), 0);

    /* SIGTERM in the middle of a write removes the temporary before the process ends. */
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        H5File *g = h5io_create_atomic(path, err, sizeof err);
        if (g)
            raise(SIGTERM);
        _exit(3);
    }
    int status;
    waitpid(child, &status, 0);
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "the signal still ends the process");
    cr_expect_eq(count_temporaries(dir), 0, "and its temporary is gone");
    cr_expect_neq(access(path, F_OK), 0, "no file under the final name");
    tmp_dir_remove(dir);
}
