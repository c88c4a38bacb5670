#include "fft.h"

#include <fftw3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

#define FFT_MAX_PLANS 64
/* Below this length FFTW_ESTIMATE plans are as fast as measured ones and measuring is not worth it. */
#define FFT_MEASURE_MIN_N 256

/* The global plan cache (see fft.h): entries are only ever appended, under the mutex; a published entry
 * is never modified, so readers that found it may use it without the lock. */
static FftPlan fft_cache[FFT_MAX_PLANS];
static int fft_cache_count;
static pthread_mutex_t fft_cache_lock = PTHREAD_MUTEX_INITIALIZER;
/* FFTW's planner (and its wisdom) is process-global and not thread-safe: every plan of every module is made
 * under this one lock (taken after a module's own cache lock, never before it). */
static pthread_mutex_t fft_planner_mutex = PTHREAD_MUTEX_INITIALIZER;

int fft_spectrum_stride(int n)
{
    const int per_line = CORE_ALIGN_BYTES / (int)(2 * sizeof(float));
    int bins = n / 2 + 1;
    return (bins + per_line - 1) / per_line * per_line;
}

int fft_uses_measure(void)
{
    const char *env = getenv("SUBQ_FFTW_MEASURE");
    return !(env && strcmp(env, "0") == 0);
}

/* The wisdom file: SUBQ_FFTW_WISDOM, else $XDG_CACHE_HOME/subq/fftwf.wisdom, else ~/.cache/subq/...;
 * "" or "none" disables it. Creates the parent directory on demand. Returns 0 if there is no file to use. */
static int wisdom_path(char *out, size_t len)
{
    const char *env = getenv("SUBQ_FFTW_WISDOM");
    if (env)
        return *env && strcmp(env, "none") != 0 && snprintf(out, len, "%s", env) < (int)len;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[1024];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/subq", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/subq", home);
    else
        return 0;
    char parent[1024];
    snprintf(parent, sizeof parent, "%.*s", (int)(strrchr(dir, '/') - dir), dir);
    mkdir(parent, 0755);
    mkdir(dir, 0755);
    return snprintf(out, len, "%s/fftwf.wisdom", dir) < (int)len;
}

static char planner_desc[1100];
static pthread_once_t planner_desc_once = PTHREAD_ONCE_INIT;

static void describe_planner(void)
{
    char path[1024];
    if (!fft_uses_measure())
        snprintf(planner_desc, sizeof planner_desc, "FFTW_ESTIMATE");
    else
        snprintf(planner_desc, sizeof planner_desc, "FFTW_MEASURE for n >= %d, wisdom %s", FFT_MEASURE_MIN_N,
                 wisdom_path(path, sizeof path) ? path : "off");
}

const char *fft_planner(void)
{
    pthread_once(&planner_desc_once, describe_planner);
    return planner_desc;
}

/* Reads the wisdom file once (under the planner lock): measured plans are then the same from run to run on
 * this machine, which keeps results bitwise repeatable across processes. A missing or stale file is fine. */
static void wisdom_load_once(void)
{
    static int loaded;
    char path[1024];
    if (loaded || !fft_uses_measure())
        return;
    loaded = 1;
    if (wisdom_path(path, sizeof path))
        fftwf_import_wisdom_from_filename(path);
}

/* Writes the accumulated wisdom atomically (temporary name, then rename), so concurrent processes never
 * read a half-written file. Failure only costs the next process a re-measurement. */
static void wisdom_save(void)
{
    char path[1024], tmp[1100];
    if (!wisdom_path(path, sizeof path))
        return;
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    if (fftwf_export_wisdom_to_filename(tmp))
        rename(tmp, path);
    else
        remove(tmp);
}

unsigned fft_planner_begin(size_t points)
{
    pthread_mutex_lock(&fft_planner_mutex);
    wisdom_load_once();
    return fft_uses_measure() && points >= FFT_MEASURE_MIN_N ? FFTW_MEASURE : FFTW_ESTIMATE;
}

void fft_planner_end(unsigned flags)
{
    if (!(flags & FFTW_ESTIMATE))
        wisdom_save();
    pthread_mutex_unlock(&fft_planner_mutex);
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
    unsigned flags = fft_planner_begin((size_t)n);
    fftwf_plan fwd = fftwf_plan_dft_r2c_1d(n, real, (fftwf_complex *)spec, flags);
    fftwf_plan bwd = fftwf_plan_dft_c2r_1d(n, (fftwf_complex *)spec, real, flags);
    fft_planner_end(flags);
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

void fft_spectrum_product(const float *a, const float *b, float *out, int bins, int conj_b)
{
    const float sign = conj_b ? -1.0f : 1.0f;
    for (int f = 0; f < bins; f++) {
        float ar = a[2 * f], ai = a[2 * f + 1], br = b[2 * f], bi = sign * b[2 * f + 1];
        out[2 * f] = ar * br - ai * bi;
        out[2 * f + 1] = ar * bi + ai * br;
    }
}

void fft_spectrum_accumulate_conj(float *acc, const float *a, const float *b, int bins)
{
    for (int f = 0; f < bins; f++) {
        float ar = a[2 * f], ai = a[2 * f + 1], br = b[2 * f], bi = b[2 * f + 1];
        acc[2 * f] += ar * br + ai * bi;
        acc[2 * f + 1] += ai * br - ar * bi;
    }
}
