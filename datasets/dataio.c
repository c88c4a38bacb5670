#include "dataio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int dataio_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    *data = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        snprintf(err, errlen, "%s: %lld bytes, more than the %zu this loader accepts", path, (long long)st.st_size,
                 max_bytes);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory for %zu bytes", path, size);
        fclose(f);
        return -1;
    }
    size_t got = fread(buf, 1, size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != size) {
        snprintf(err, errlen, "%s: read %zu of %zu bytes (file changed or I/O error)", path, got, size);
        free(buf);
        return -1;
    }
    buf[size] = 0;
    *data = buf, *len = size;
    return 0;
}

/* ---- output files ---- */

#define TMP_PREFIX ".subq-"
#define TMP_SUFFIX ".tmp"
#define CLEANUP_SLOTS 32

/* The temporaries this process is writing, for the signal handler: a slot is claimed with an atomic
 * exchange, filled, then published by setting its flag; the handler only reads published slots and only
 * calls unlink (async-signal-safe). */
static char cleanup_paths[CLEANUP_SLOTS][DATAIO_PATH_LEN];
static volatile sig_atomic_t cleanup_used[CLEANUP_SLOTS];
static int cleanup_claimed[CLEANUP_SLOTS];
static unsigned long tmp_counter;

static void cleanup_on_signal(int sig)
{
    for (int i = 0; i < CLEANUP_SLOTS; i++)
        if (cleanup_used[i])
            unlink(cleanup_paths[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Checked at every output (three sigaction calls): a signal whose disposition is the default gets the
 * handler, also after a fork or after someone reset it. */
static void cleanup_install(void)
{
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa = {.sa_handler = cleanup_on_signal};
        sigemptyset(&sa.sa_mask);
        /* Only where the default (ending the process) is in force: a handler someone installed stays. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(sigs[i], &sa, NULL);
    }
}

static int cleanup_register(const char *tmp)
{
    cleanup_install();
    for (int i = 0; i < CLEANUP_SLOTS; i++)
        if (!__atomic_exchange_n(&cleanup_claimed[i], 1, __ATOMIC_ACQ_REL)) {
            snprintf(cleanup_paths[i], DATAIO_PATH_LEN, "%s", tmp);
            cleanup_used[i] = 1;
            return i;
        }
    return -1; /* more outputs in the making than slots: still written, just not cleaned on a signal */
}

static void cleanup_release(int slot)
{
    if (slot < 0)
        return;
    cleanup_used[slot] = 0;
    __atomic_store_n(&cleanup_claimed[slot], 0, __ATOMIC_RELEASE);
}

/* Removes "<dir>/.subq-<pid>-<n>.tmp" files whose process is gone (a killed run's leftovers). */
static void remove_stale_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        unsigned long n;
        char tail[8];
        if (sscanf(e->d_name, TMP_PREFIX "%ld-%lu%7s", &pid, &n, tail) != 3 || strcmp(tail, TMP_SUFFIX) != 0 ||
            pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[DATAIO_PATH_LEN];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* The target of a symbolic link whose target does not exist yet, relative to the link's directory; -1 unless
 * that target's directory exists and the target is not itself a link. */
static int dangling_target(const char *path, char *dest)
{
    char target[DATAIO_PATH_LEN];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0)
        return -1;
    target[n] = '\0';
    const char *slash = strrchr(path, '/');
    if (target[0] == '/' || !slash)
        snprintf(dest, DATAIO_PATH_LEN, "%s", target);
    else if ((size_t)snprintf(dest, DATAIO_PATH_LEN, "%.*s/%s", (int)(slash - path), path, target) >= DATAIO_PATH_LEN)
        return -1;
    struct stat st;
    if (lstat(dest, &st) == 0)
        return -1; /* exists after all (a loop, or another link): refuse rather than guess */
    char dir[DATAIO_PATH_LEN];
    snprintf(dir, sizeof dir, "%s", dest);
    char *end = strrchr(dir, '/');
    if (end)
        end == dir ? (void)(dir[1] = '\0') : (void)(*end = '\0');
    return !end || dataio_is_dir(dir) ? 0 : -1;
}

/* dest = path, or the target of the symbolic link at path; -1 with a message for what must not be replaced. */
static int output_destination(const char *path, char *dest, int *through, char *err, size_t errlen)
{
    struct stat st;
    *through = 0;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            return -1;
        }
        snprintf(dest, DATAIO_PATH_LEN, "%s", path);
        return 0;
    }
    if (S_ISLNK(st.st_mode)) {
        char resolved[PATH_MAX];
        if (realpath(path, resolved)) {
            if (stat(resolved, &st) != 0) {
                snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
                return -1;
            }
            snprintf(dest, DATAIO_PATH_LEN, "%s", resolved);
        } else if (errno == ENOENT && dangling_target(path, dest) == 0) {
            return 0; /* a link to a file yet to be written: write the file, keep the link */
        } else {
            snprintf(err, errlen, "%s: a symbolic link whose target cannot be resolved (%s)", path, strerror(errno));
            return -1;
        }
    } else
        snprintf(dest, DATAIO_PATH_LEN, "%s", path);
    if (S_ISCHR(st.st_mode))
        *through = 1;
    else if (!S_ISREG(st.st_mode)) {
        const char *what = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISSOCK(st.st_mode) ? "a socket" : S_ISBLK(st.st_mode) ? "a block device"
                                                                                      : "not a regular file";
        snprintf(err, errlen, "%s: exists and is %s; refusing to replace it", path, what);
        return -1;
    }
    return 0;
}

int dataio_output_begin(DataioOutput *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    if (strlen(path) >= DATAIO_PATH_LEN - 64) {
        snprintf(err, errlen, "%.200s...: output path longer than %d bytes", path, DATAIO_PATH_LEN - 64);
        return -1;
    }
    if (output_destination(path, o->dest, &o->through, err, errlen) != 0)
        return -1;
    char dir[DATAIO_PATH_LEN];
    snprintf(dir, sizeof dir, "%s", o->dest);
    char *slash = strrchr(dir, '/');
    if (o->through) /* a device's directory (/dev) is no place for a temporary */
        snprintf(dir, sizeof dir, "%s", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    else if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
    remove_stale_temporaries(dir);
    unsigned long n = __atomic_fetch_add(&tmp_counter, 1, __ATOMIC_RELAXED);
    if ((size_t)snprintf(o->tmp, sizeof o->tmp, "%s/" TMP_PREFIX "%ld-%lu" TMP_SUFFIX, dir, (long)getpid(), n) >=
        sizeof o->tmp) {
        snprintf(err, errlen, "%s: output path too long", path);
        return -1;
    }
    o->slot = cleanup_register(o->tmp);
    return 0;
}

/* Copies the finished temporary into the character device dest. */
static int write_through(const char *tmp, const char *dest, char *err, size_t errlen)
{
    int in = open(tmp, O_RDONLY), out = in < 0 ? -1 : open(dest, O_WRONLY);
    int rc = in < 0 || out < 0 ? -1 : 0;
    char buf[65536];
    while (rc == 0) {
        ssize_t got = read(in, buf, sizeof buf);
        if (got == 0)
            break;
        if (got < 0) {
            rc = errno == EINTR ? 0 : -1;
            continue;
        }
        for (ssize_t put = 0; rc == 0 && put < got;) {
            ssize_t w = write(out, buf + put, (size_t)(got - put));
            if (w >= 0)
                put += w;
            else if (errno != EINTR)
                rc = -1;
        }
    }
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot write: %s", dest, strerror(errno));
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int dataio_output_commit(DataioOutput *o, char *err, size_t errlen)
{
    int rc = 0;
    if (o->through)
        rc = write_through(o->tmp, o->dest, err, errlen);
    else if (fsync_path(o->tmp) != 0) { /* e.g. someone removed the temporary while it was being written */
        snprintf(err, errlen, "%s: cannot write: the temporary %s: %s", o->dest, o->tmp, strerror(errno));
        rc = -1;
    } else if (rename(o->tmp, o->dest) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", o->dest, strerror(errno));
        rc = -1;
    }
    if (rc != 0 || o->through)
        unlink(o->tmp);
    cleanup_release(o->slot);
    o->slot = -1;
    return rc;
}

void dataio_output_abort(DataioOutput *o)
{
    unlink(o->tmp);
    cleanup_release(o->slot);
    o->slot = -1;
}

int dataio_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    DataioOutput o;
    if (dataio_output_begin(&o, path, err, errlen) != 0)
        return -1;
    FILE *f = fopen(o.tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        dataio_output_abort(&o);
        return -1;
    }
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    int failed = put != len; /* every step runs even after a failure, so the file is always closed */
    failed |= fflush(f) != 0;
    failed |= fclose(f) != 0;
    if (failed) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        dataio_output_abort(&o);
        return -1;
    }
    return dataio_output_commit(&o, err, errlen);
}

int dataio_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int dataio_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int dataio_make_dirs(const char *path, char *err, size_t errlen)
{
    char buf[DATAIO_PATH_LEN];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create directory: %s", buf, strerror(errno));
            return -1;
        }
        if (saved == '\0')
            break;
        *p = saved;
    }
    if (!dataio_is_dir(path)) {
        snprintf(err, errlen, "%s: exists and is not a directory", path);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

int dataio_remove_tree(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int entry_wanted(const char *dir, const char *name, int want, const char *suffix)
{
    char path[DATAIO_PATH_LEN];
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return 0;
    if (dataio_is_dir(path))
        return (want & DATAIO_LIST_DIRS) != 0;
    if (!(want & DATAIO_LIST_FILES) || !dataio_is_file(path))
        return 0;
    size_t n = strlen(name), s = suffix ? strlen(suffix) : 0;
    return !suffix || (n > s && strcmp(name + n - s, suffix) == 0);
}

int dataio_list_dir(const char *dir, int want, const char *suffix, char ***names, int *count, char *err,
                    size_t errlen)
{
    *names = NULL, *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
        return -1;
    }
    int cap = 0, n = 0;
    char **list = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!entry_wanted(dir, e->d_name, want, suffix))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown)
                goto oom;
            list = grown;
        }
        if (!(list[n] = strdup(e->d_name)))
            goto oom;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(list, (size_t)n, sizeof *list, compare_names);
    *names = list, *count = n;
    return 0;
oom:
    closedir(d);
    dataio_free_list(list, n);
    snprintf(err, errlen, "%s: out of memory listing the directory", dir);
    return -1;
}

void dataio_free_list(char **names, int count)
{
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int dataio_join(char *out, size_t outlen, const char *a, const char *b, char *err, size_t errlen)
{
    if ((size_t)snprintf(out, outlen, "%s/%s", a, b) >= outlen) {
        snprintf(err, errlen, "%s/%s: path too long", a, b);
        return -1;
    }
    return 0;
}

/* The child: stdout to /dev/null, stderr into the pipe, then exec. Never returns. */
static void run_child(const char *const argv[], const char *cwd, int err_fd)
{
    int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0)
        dup2(null_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    if (cwd && chdir(cwd) != 0)
        _exit(126);
    execvp(argv[0], (char *const *)argv);
    dprintf(STDERR_FILENO, "%s: cannot run: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Keeps the last line of what the tool wrote to stderr: that is where tools put the reason they failed. */
static void last_line(char *text, char *err, size_t errlen)
{
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    char *start = strrchr(text, '\n');
    snprintf(err, errlen, "%s", start ? start + 1 : text);
}

int dataio_run(const char *const argv[], const char *cwd, char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errlen, "%s: cannot create a pipe: %s", argv[0], strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: cannot fork: %s", argv[0], strerror(errno));
        close(fds[0]), close(fds[1]);
        return -1;
    }
    if (pid == 0)
        run_child(argv, cwd, fds[1]);
    close(fds[1]);
    char tail[1024] = {0}, chunk[512];
    ssize_t got;
    while ((got = read(fds[0], chunk, sizeof chunk - 1)) > 0 || (got < 0 && errno == EINTR)) {
        if (got <= 0)
            continue;
        chunk[got] = '\0';
        size_t keep = strlen(tail), add = (size_t)got;
        if (keep + add >= sizeof tail) { /* drop the oldest bytes */
            size_t drop = keep + add - (sizeof tail - 1);
            drop = drop > keep ? keep : drop;
            memmove(tail, tail + drop, keep - drop + 1);
        }
        strncat(tail, chunk, sizeof tail - strlen(tail) - 1);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0)
        last_line(tail, err, errlen);
    return code;
}

static uint64_t splitmix_step(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t dataio_mix_seed(uint64_t seed, uint64_t a, uint64_t b)
{
    return splitmix_step(splitmix_step(splitmix_step(seed) ^ a) ^ b);
}
