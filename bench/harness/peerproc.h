/* peerproc: a long-lived PyTorch peer process (baselines/torch/peer_bench.py, serving) driven over pipes: one
 * text line per request, one per reply. Keeping PyTorch alive between requests lets `peers` time subq and
 * PyTorch in alternating rounds of one run (pair.h) instead of one whole run after the other. */
#ifndef SUBQ_PEERPROC_H
#define SUBQ_PEERPROC_H

#include <stddef.h>

typedef struct PeerProc PeerProc;

/* Starts `python script --serve --threads N`; its stderr is the caller's. NULL with a message on failure. */
PeerProc *peerproc_start(const char *python, const char *script, int threads, char *err, size_t errlen);

/* Sends `request` (one line, no newline) and reads the reply line into reply (newline stripped). A reply
 * that starts with "error " becomes -1 with the peer's message; a dead or silent peer is -1 too. */
int peerproc_request(PeerProc *p, const char *request, char *reply, size_t len, char *err, size_t errlen);

/* Closes the pipes and waits for the peer to exit. NULL is accepted. */
void peerproc_stop(PeerProc *p);

#endif
