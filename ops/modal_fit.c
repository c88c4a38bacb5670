/* Modal distillation of a long filter (modal_fit.h). */
#include "modal_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (Fortran, column-major), as OpenBLAS exports it. */
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *info);
void dgels_(const char *trans, const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, double *work, const int *lwork, int *info);
void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda, double *wr, double *wi,
            double *vl, const int *ldvl, double *vr, const int *ldvr, double *work, const int *lwork, int *info);

#define PENCIL_WINDOW 4096 /* taps the poles are found from: the filters decay, and the SVD grows with it */
#define POLE_MAX 0.99999   /* |lambda| at most: a pole on or outside the unit circle would grow in generation */

/* Least squares A x = b (A m x n column-major, m >= n, overwritten); x in b[0 .. n). 0 or -1. */
static int least_squares(double *A, int m, int n, double *b, int nrhs, int ldb)
{
    int info, lwork = -1;
    double query;
    dgels_("N", &m, &n, &nrhs, A, &m, b, &ldb, &query, &lwork, &info);
    lwork = (int)query;
    double *work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work)
        return -1;
    dgels_("N", &m, &n, &nrhs, A, &m, b, &ldb, work, &lwork, &info);
    free(work);
    return info == 0 ? 0 : -1;
}

/* The poles of g[0 .. W) by the matrix pencil: up to `order` of them into wr, wi; returns their count or -1. */
static int pencil_poles(const double *g, int W, int order, double *wr, double *wi)
{
    int P = 4 * order > 64 ? 4 * order : 64;
    P = P < W / 2 ? P : W / 2;
    const int rows = W - P, cols = P + 1, k = rows < cols ? rows : cols;
    int d = order < k ? order : k, info, lwork = -1, one = 1;
    if (d < 1 || P < 1)
        return 0;
    double *Y = malloc(sizeof(double) * (size_t)rows * cols), *s = malloc(sizeof(double) * (size_t)k);
    double *vt = malloc(sizeof(double) * (size_t)k * cols), query;
    double *V1 = malloc(sizeof(double) * (size_t)P * d), *V2 = malloc(sizeof(double) * (size_t)P * d);
    int rc = Y && s && vt && V1 && V2 ? 0 : -1;
    for (int j = 0; rc == 0 && j < cols; j++)
        for (int i = 0; i < rows; i++)
            Y[i + (size_t)j * rows] = g[i + j];
    if (rc == 0) {
        dgesvd_("N", "S", &rows, &cols, Y, &rows, s, NULL, &one, vt, &k, &query, &lwork, &info);
        lwork = (int)query;
        double *work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
        rc = work ? 0 : -1;
        if (rc == 0)
            dgesvd_("N", "S", &rows, &cols, Y, &rows, s, NULL, &one, vt, &k, work, &lwork, &info);
        free(work);
        rc = rc == 0 && info == 0 ? 0 : -1;
    }
    /* Modes below the float noise of the taps are not fitted: they would only fit rounding. */
    while (rc == 0 && d > 1 && s[d - 1] < 1e-7 * s[0])
        d--;
    if (rc == 0 && s[0] == 0.0)
        d = 0;
    /* V (cols x d): column r is row r of vt. V1 = rows 0 .. P-1, V2 = rows 1 .. P; V1 X = V2. */
    for (int r = 0; rc == 0 && r < d; r++)
        for (int i = 0; i < P; i++) {
            V1[i + (size_t)r * P] = vt[r + (size_t)i * k];
            V2[i + (size_t)r * P] = vt[r + (size_t)(i + 1) * k];
        }
    if (rc == 0 && d > 0)
        rc = least_squares(V1, P, d, V2, d, P);
    if (rc == 0 && d > 0) {
        double *X = malloc(sizeof(double) * (size_t)d * d);
        rc = X ? 0 : -1;
        for (int c = 0; rc == 0 && c < d; c++)
            memcpy(X + (size_t)c * d, V2 + (size_t)c * P, sizeof(double) * (size_t)d);
        lwork = -1;
        if (rc == 0)
            dgeev_("N", "N", &d, X, &d, wr, wi, NULL, &one, NULL, &one, &query, &lwork, &info);
        double *work = rc == 0 ? malloc(sizeof(double) * (size_t)((int)query > 1 ? (int)query : 1)) : NULL;
        lwork = (int)query;
        rc = work ? 0 : -1;
        if (rc == 0)
            dgeev_("N", "N", &d, X, &d, wr, wi, NULL, &one, NULL, &one, work, &lwork, &info);
        rc = rc == 0 && info == 0 ? 0 : -1;
        free(work), free(X);
    }
    free(Y), free(s), free(vt), free(V1), free(V2);
    return rc == 0 ? d : -1;
}

/* The basis columns of the residue fit over g[0 .. N): one per real pole, two (cos, sin) per conjugate pair
 * (the pair's partner with wi < 0 is skipped). Returns the column count; modes into out (residues not yet). */
static int mode_basis(const double *wr, const double *wi, int d, int N, double *A, ModalFilter *out)
{
    int col = 0;
    out->modes = 0;
    for (int n = 0; n < d; n++) {
        if (wi[n] < 0)
            continue;
        double mag = hypot(wr[n], wi[n]), theta = atan2(wi[n], wr[n]);
        mag = mag > POLE_MAX ? POLE_MAX : mag;
        const int m = out->modes++;
        out->lambda_re[m] = mag * cos(theta), out->lambda_im[m] = wi[n] > 0 ? mag * sin(theta) : 0.0;
        double pr = 1.0, pi = 0.0; /* lambda^i */
        for (int i = 0; i < N; i++) {
            A[i + (size_t)col * N] = pr;
            if (wi[n] > 0)
                A[i + (size_t)(col + 1) * N] = pi;
            const double nr = pr * out->lambda_re[m] - pi * out->lambda_im[m];
            pi = pr * out->lambda_im[m] + pi * out->lambda_re[m], pr = nr;
        }
        col += wi[n] > 0 ? 2 : 1;
    }
    return col;
}

void modal_taps(const ModalFilter *f, float h0, int L, float *taps)
{
    taps[0] = h0;
    for (int l = 1; l < L; l++)
        taps[l] = 0.0f;
    for (int m = 0; m < f->modes; m++) {
        double pr = 1.0, pi = 0.0;
        for (int l = 1; l < L; l++) {
            taps[l] += (float)(2.0 * (f->r_re[m] * pr - f->r_im[m] * pi));
            const double nr = pr * f->lambda_re[m] - pi * f->lambda_im[m];
            pi = pr * f->lambda_im[m] + pi * f->lambda_re[m], pr = nr;
        }
    }
}

double modal_fit(const float *h, int L, int order, ModalFilter *out)
{
    const int N = L - 1, W = N < PENCIL_WINDOW ? N : PENCIL_WINDOW;
    out->modes = 0;
    for (int m = 0; m < order; m++)
        out->lambda_re[m] = out->lambda_im[m] = out->r_re[m] = out->r_im[m] = 0.0;
    double *g = malloc(sizeof(double) * (size_t)(N > 0 ? N : 1)), *wr = malloc(sizeof(double) * (size_t)order);
    double *wi = malloc(sizeof(double) * (size_t)order);
    double *A = malloc(sizeof(double) * (size_t)(N > 0 ? N : 1) * order), *b = malloc(sizeof(double) * (N > 0 ? N : 1));
    double norm = 0.0, err = -1.0;
    if (!g || !wr || !wi || !A || !b || N < 1)
        goto done;
    for (int i = 0; i < N; i++)
        g[i] = h[i + 1], norm += g[i] * g[i];
    if (norm == 0.0) {
        err = 0.0;
        goto done;
    }
    const int d = pencil_poles(g, W, order, wr, wi);
    if (d < 0)
        goto done;
    const int cols = mode_basis(wr, wi, d, N, A, out);
    if (cols > N)
        goto done;
    memcpy(b, g, sizeof(double) * (size_t)N);
    if (cols > 0 && least_squares(A, N, cols, b, 1, N) != 0)
        goto done;
    /* Coefficients (a for a real pole; a, b for cos and sin of a pair) as residues: 2 Re(R lambda^i). */
    for (int m = 0, col = 0; m < out->modes; m++) {
        if (out->lambda_im[m] != 0.0) {
            out->r_re[m] = b[col] / 2, out->r_im[m] = -b[col + 1] / 2;
            col += 2;
        } else {
            out->r_re[m] = b[col] / 2, out->r_im[m] = 0.0;
            col += 1;
        }
    }
    {
        float *taps = malloc(sizeof(float) * (size_t)L);
        if (!taps)
            goto done;
        modal_taps(out, h[0], L, taps);
        double diff = 0.0;
        for (int i = 0; i < N; i++)
            diff += (taps[i + 1] - g[i]) * (taps[i + 1] - g[i]);
        err = sqrt(diff / norm);
        free(taps);
    }
done:
    free(g), free(wr), free(wi), free(A), free(b);
    return err;
}
