#include "fft2d.h"

#include <fftw3.h>
#include <pthread.h>

#include "core.h"
#include "fft.h"

#define FFT2D_MAX_PLANS 32

/* The global plan cache (see fft2d.h): entries are only appended, under the mutex; a published entry is
 * never modified, so a reader that found it may use it without the lock. */
static Fft2dPlan fft2d_cache[FFT2D_MAX_PLANS];
static int fft2d_cache_count;
static pthread_mutex_t fft2d_cache_lock = PTHREAD_MUTEX_INITIALIZER;

int fft2d_spectrum_stride(int rows, int cols)
{
    const int per_line = CORE_ALIGN_BYTES / (int)(2 * sizeof(float));
    int bins = rows * (cols / 2 + 1);
    return (bins + per_line - 1) / per_line * per_line;
}

static const Fft2dPlan *cache_find(int rows, int cols)
{
    for (int i = 0; i < __atomic_load_n(&fft2d_cache_count, __ATOMIC_ACQUIRE); i++)
        if (fft2d_cache[i].rows == rows && fft2d_cache[i].cols == cols)
            return &fft2d_cache[i];
    return NULL;
}

/* Plans on scratch arrays aligned like every buffer the plans will later run on. */
static int plan_create(Fft2dPlan *plan, int rows, int cols)
{
    int stride = fft2d_spectrum_stride(rows, cols);
    float *real = core_alloc_floats((size_t)rows * cols);
    float *spec = core_alloc_floats(2 * (size_t)stride);
    if (!real || !spec) {
        core_free(real);
        core_free(spec);
        return -1;
    }
    unsigned flags = fft_planner_begin((size_t)rows * cols);
    fftwf_plan fwd = fftwf_plan_dft_r2c_2d(rows, cols, real, (fftwf_complex *)spec, flags);
    fftwf_plan bwd = fftwf_plan_dft_c2r_2d(rows, cols, (fftwf_complex *)spec, real, flags);
    fft_planner_end(flags);
    core_free(real);
    core_free(spec);
    if (!fwd || !bwd) {
        if (fwd)
            fftwf_destroy_plan(fwd);
        if (bwd)
            fftwf_destroy_plan(bwd);
        return -1;
    }
    *plan = (Fft2dPlan){rows, cols, rows * (cols / 2 + 1), stride, fwd, bwd};
    return 0;
}

const Fft2dPlan *fft2d_plan(int rows, int cols)
{
    if (rows < 1 || cols < 1)
        return NULL;
    const Fft2dPlan *found = cache_find(rows, cols);
    if (found)
        return found;
    pthread_mutex_lock(&fft2d_cache_lock);
    found = cache_find(rows, cols);
    if (!found && fft2d_cache_count < FFT2D_MAX_PLANS &&
        plan_create(&fft2d_cache[fft2d_cache_count], rows, cols) == 0) {
        found = &fft2d_cache[fft2d_cache_count];
        __atomic_store_n(&fft2d_cache_count, fft2d_cache_count + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&fft2d_cache_lock);
    return found;
}

void fft2d_forward(const Fft2dPlan *plan, const float *in, float *out)
{
    fftwf_execute_dft_r2c((fftwf_plan)plan->forward, (float *)in, (fftwf_complex *)out);
}

void fft2d_backward(const Fft2dPlan *plan, float *in, float *out)
{
    fftwf_execute_dft_c2r((fftwf_plan)plan->backward, (fftwf_complex *)in, out);
}
