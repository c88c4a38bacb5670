/* fft: cached FFTW single-precision plans for the real transforms of the long convolutions.
 *
 * The FFTW planner is not thread-safe, so plans are created under a mutex and cached per length for the
 * life of the process (the documented global cache of this module); executing a plan is thread-safe and
 * uses the new-array interface, so any thread may run a cached plan on its own buffers. New-array
 * execution needs the buffers aligned as at planning time: every buffer must be CORE_ALIGN_BYTES aligned
 * and every spectrum is stored with fft_spectrum_stride() complex entries (n/2 + 1 rounded up to a
 * multiple of 64 bytes), which also keeps the next channel's spectrum aligned. */
#ifndef SUBQ_FFT_H
#define SUBQ_FFT_H

#include <stddef.h>

typedef struct FftPlan {
    int n;          /* real transform length */
    int bins;       /* n / 2 + 1 complex outputs */
    int stride;     /* complex entries reserved per spectrum (>= bins, 64-byte multiple) */
    void *forward;  /* fftwf_plan r2c: n floats -> bins complex */
    void *backward; /* fftwf_plan c2r: bins complex -> n floats (destroys its input), unnormalised */
} FftPlan;

/* The cached plan for length n (n >= 1), creating it on first use (which allocates: call it once before
 * any timed region, e.g. through fftconv_prepare). NULL if FFTW cannot plan it. */
const FftPlan *fft_plan(int n);
/* Complex entries to reserve per spectrum of an n-point real transform. */
int fft_spectrum_stride(int n);
/* out (bins complex, interleaved re/im floats) = FFT(in (n floats)). */
void fft_forward(const FftPlan *plan, const float *in, float *out);
/* out (n floats) = unnormalised inverse FFT(in); in is destroyed. */
void fft_backward(const FftPlan *plan, float *in, float *out);
/* Pointwise products of spectra (interleaved re/im, `bins` complex entries), shared by the 1D and 2D long
 * convolutions: out = a * b, or a * conj(b) when conj_b (out may alias a or b); acc += a * conj(b) (the
 * correlation that gives a kernel's gradient). */
void fft_spectrum_product(const float *a, const float *b, float *out, int bins, int conj_b);
void fft_spectrum_accumulate_conj(float *acc, const float *a, const float *b, int bins);
/* FFTW's version string, for provenance. */
const char *fft_version(void);
/* Plan flags: FFTW_MEASURE for lengths >= 256 by default (1.4x faster than FFTW_ESTIMATE at n = 8192 on
 * the reference machine); SUBQ_FFTW_MEASURE=0 selects FFTW_ESTIMATE everywhere. Measured plans depend on
 * timings, so the accumulated wisdom is kept in a file (SUBQ_FFTW_WISDOM, default
 * $XDG_CACHE_HOME/subq/fftwf.wisdom or ~/.cache/subq/fftwf.wisdom; "none" turns it off) and reused: once
 * a length has been measured on a machine, every later process gets the same plan and bitwise the same
 * results. The first plan of a new long length costs up to a few seconds (call fftconv_prepare before
 * timing). */
int fft_uses_measure(void);
/* Every FFTW plan of the process is made between these two calls: begin takes the one planner lock (FFTW's
 * planner is not thread-safe), reads the wisdom file on first use and returns the flags for a transform of
 * `points` real points (FFTW_MEASURE or FFTW_ESTIMATE as above); end saves new wisdom and unlocks. */
unsigned fft_planner_begin(size_t points);
void fft_planner_end(unsigned flags);
/* The planner in use, for provenance: "FFTW_ESTIMATE" or "FFTW_MEASURE for n >= 256, wisdom PATH". */
const char *fft_planner(void);

#endif
