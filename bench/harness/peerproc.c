#define _POSIX_C_SOURCE 200809L
#include "peerproc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct PeerProc {
    pid_t pid;
    FILE *to;   /* the peer's stdin */
    FILE *from; /* the peer's stdout */
};

PeerProc *peerproc_start(const char *python, const char *script, int threads, char *err, size_t errlen)
{
    int in[2], out[2];
    if (pipe(in) != 0) {
        snprintf(err, errlen, "peer: pipe: %s", strerror(errno));
        return NULL;
    }
    if (pipe(out) != 0) {
        snprintf(err, errlen, "peer: pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    PeerProc *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "peer: out of memory");
        goto fail_pipes;
    }
    fflush(NULL); /* buffered output must not be written twice by the child */
    p->pid = fork();
    if (p->pid < 0) {
        snprintf(err, errlen, "peer: fork: %s", strerror(errno));
        free(p);
        goto fail_pipes;
    }
    if (p->pid == 0) {
        char nthreads[16];
        snprintf(nthreads, sizeof nthreads, "%d", threads);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(python, python, script, "--serve", "--threads", nthreads, (char *)NULL);
        fprintf(stderr, "peer: cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    if (!p->to || !p->from) {
        snprintf(err, errlen, "peer: fdopen: %s", strerror(errno));
        if (!p->to)
            close(in[1]);
        if (!p->from)
            close(out[0]);
        peerproc_stop(p);
        return NULL;
    }
    return p;
fail_pipes:
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    return NULL;
}

int peerproc_request(PeerProc *p, const char *request, char *reply, size_t len, char *err, size_t errlen)
{
    /* A peer that died would turn the write into SIGPIPE and end subq; ignore it for the write and report. */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old);
    int wrote = fprintf(p->to, "%s\n", request) >= 0 && fflush(p->to) == 0;
    sigaction(SIGPIPE, &old, NULL);
    if (!wrote) {
        snprintf(err, errlen, "peer: cannot send '%s' (the PyTorch peer exited)", request);
        return -1;
    }
    if (!fgets(reply, (int)len, p->from)) {
        snprintf(err, errlen, "peer: no reply to '%s' (the PyTorch peer exited; its message is above)", request);
        return -1;
    }
    size_t n = strlen(reply);
    if (n == 0 || reply[n - 1] != '\n') {
        snprintf(err, errlen, "peer: the reply to '%s' is longer than %zu bytes", request, len - 1);
        return -1;
    }
    reply[n - 1] = '\0';
    if (strncmp(reply, "error ", 6) == 0) {
        snprintf(err, errlen, "peer: %s", reply + 6);
        return -1;
    }
    return 0;
}

void peerproc_stop(PeerProc *p)
{
    if (!p)
        return;
    if (p->to)
        fclose(p->to); /* EOF on its stdin: the peer exits */
    if (p->from)
        fclose(p->from);
    int status;
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
        ;
    free(p);
}
