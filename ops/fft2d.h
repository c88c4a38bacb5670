/* fft2d: cached FFTW single-precision plans for 2D real transforms (rows x cols, row-major), used by the 2D
 * long convolution (ops/longconv2d.h). The 2D counterpart of ops/fft.h, with the same rules:
 *
 *  - plans are created once per (rows, cols) under this module's mutex and cached for the life of the
 *    process (the documented global cache of this module); executing a cached plan is thread-safe and uses
 *    FFTW's new-array interface, so OpenMP threads run one plan on their own buffers;
 *  - new-array execution needs the alignment of planning time: every buffer must be CORE_ALIGN_BYTES
 *    aligned, and each spectrum is stored in fft2d_spectrum_stride() complex entries (rows * (cols/2 + 1)
 *    rounded up to a multiple of 64 bytes), so the next channel's spectrum stays aligned too;
 *  - plan flags follow fft_uses_measure() (FFTW_ESTIMATE unless SUBQ_FFTW_MEASURE=1).
 *
 * Planner caveat: FFTW's planner is global and not thread-safe. This mutex serialises 2D planning only;
 * ops/fft.c has its own for 1D plans, so do not plan 1D and 2D transforms from two threads at the same time
 * (plan ahead, e.g. with longconv2d_prepare, from the main thread before any parallel region). */
#ifndef SUBQ_FFT2D_H
#define SUBQ_FFT2D_H

typedef struct Fft2dPlan {
    int rows, cols; /* real transform size; the real array is (rows, cols) row-major */
    int bins;       /* rows * (cols / 2 + 1) complex outputs, (rows, cols/2 + 1) row-major */
    int stride;     /* complex entries reserved per spectrum (>= bins, 64-byte multiple) */
    void *forward;  /* fftwf_plan r2c */
    void *backward; /* fftwf_plan c2r: destroys its input, unnormalised */
} Fft2dPlan;

/* The cached plan for (rows, cols), both >= 1, created on first use (which allocates: call it before any
 * timed region). NULL if FFTW cannot plan it or the cache is full. */
const Fft2dPlan *fft2d_plan(int rows, int cols);
/* Complex entries to reserve per spectrum of a rows x cols real transform. */
int fft2d_spectrum_stride(int rows, int cols);
/* out (bins complex, interleaved re/im) = FFT2(in (rows x cols floats)). */
void fft2d_forward(const Fft2dPlan *plan, const float *in, float *out);
/* out (rows x cols floats) = unnormalised inverse FFT2(in); in is destroyed. */
void fft2d_backward(const Fft2dPlan *plan, float *in, float *out);

#endif
