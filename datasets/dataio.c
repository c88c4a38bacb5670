#include "dataio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

int dataio_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[DATAIO_PATH_LEN];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    int failed = put != len; /* every step runs even after a failure, so the file is always closed */
    failed |= fflush(f) != 0;
    failed |= fsync(fileno(f)) != 0;
    failed |= fclose(f) != 0;
    if (failed || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
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
