#include "fft.h"

#include <fftw3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define FFT_MAX_PLANS 64

/* The global plan cache (see fft.h): entries are only ever appended, under the mutex; a published entry
 * is never modified, so readers that found it may use it without the lock. */
static FftPlan fft_cache[FFT_MAX_PLANS];
static int fft_cache_count;
static pthread_mutex_t fft_cache_lock = PTHREAD_MUTEX_INITIALIZER;

int fft_spectrum_stride(int n)
{
    const int per_line = CORE_ALIGN_BYTES / (int)(2 * sizeof(float));
    int bins = n / 2 + 1;
    return (bins + per_line - 1) / per_line * per_line;
}

int fft_uses_measure(void)
{
    const char *env = getenv("SUBQ_FFTW_MEASURE");
    return env && strcmp(env, "1") == 0;
}

static const FftPlan *cache_find(int n)
{
    for (int i = 0; i < __atomic_load_n(&fft_cache_count, __ATOMIC_ACQUIRE); i++)
        if (fft_cache[i].n == n)
            return &fft_cache[i];
    return NULL;
}

/* Plans on scratch arrays aligned like every buffer the plans will later run on. */
static int plan_create(FftPlan *plan, int n)
{
    int stride = fft_spectrum_stride(n);
    float *real = core_alloc_floats((size_t)n);
    float *spec = core_alloc_floats(2 * (size_t)stride);
    if (!real || !spec) {
        core_free(real);
        core_free(spec);
        return -1;
    }
    unsigned flags = fft_uses_measure() ? FFTW_MEASURE : FFTW_ESTIMATE;
    fftwf_plan fwd = fftwf_plan_dft_r2c_1d(n, real, (fftwf_complex *)spec, flags);
    fftwf_plan bwd = fftwf_plan_dft_c2r_1d(n, (fftwf_complex *)spec, real, flags);
    core_free(real);
    core_free(spec);
    if (!fwd || !bwd)
        return -1;
    *plan = (FftPlan){n, n / 2 + 1, stride, fwd, bwd};
    return 0;
}

const FftPlan *fft_plan(int n)
{
    if (n < 1)
        return NULL;
    const FftPlan *found = cache_find(n);
    if (found)
        return found;
    pthread_mutex_lock(&fft_cache_lock);
    found = cache_find(n);
    if (!found && fft_cache_count < FFT_MAX_PLANS && plan_create(&fft_cache[fft_cache_count], n) == 0) {
        found = &fft_cache[fft_cache_count];
        __atomic_store_n(&fft_cache_count, fft_cache_count + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&fft_cache_lock);
    return found;
}

void fft_forward(const FftPlan *plan, const float *in, float *out)
{
    fftwf_execute_dft_r2c((fftwf_plan)plan->forward, (float *)in, (fftwf_complex *)out);
}

void fft_backward(const FftPlan *plan, float *in, float *out)
{
    fftwf_execute_dft_c2r((fftwf_plan)plan->backward, (fftwf_complex *)in, out);
}

const char *fft_version(void) { return fftwf_version; }
