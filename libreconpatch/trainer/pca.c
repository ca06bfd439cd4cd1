/* PCA as a representation layer: f(x) = V^T (x - mean), V the top principal directions of the
 * training patches. This is the untrained baseline a learned head of the same output size has to
 * beat (docs/reconpatch.md, compression): both give an rp_embedding, so the bank and the scorer
 * treat them alike.
 *
 * The covariance is accumulated in double precision (dsyrk over blocks of centred rows), then
 * LAPACK's dsyevd (OpenBLAS ships it) gives all eigenpairs. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

/* LAPACK, Fortran calling convention (OpenBLAS exports it; no LAPACKE header needed). */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

#define PCA_BLOCK_ROWS 2048u

/* Upper triangle of sum_r (x_r - mean)(x_r - mean)^T into cov (dim x dim, row-major). */
static int covariance(const float *x, uint64_t count, uint32_t dim, const double *mean, double *cov)
{
    double *block = malloc((size_t)PCA_BLOCK_ROWS * dim * sizeof(double));
    if (!block) return RP_E_NOMEM;
    memset(cov, 0, (size_t)dim * dim * sizeof(double));
    for (uint64_t r0 = 0; r0 < count; r0 += PCA_BLOCK_ROWS) {
        uint32_t rows = count - r0 < PCA_BLOCK_ROWS ? (uint32_t)(count - r0) : PCA_BLOCK_ROWS;
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < dim; c++)
                block[(size_t)r * dim + c] = (double)x[(r0 + r) * dim + c] - mean[c];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)dim, (int)rows, 1.0, block, (int)dim, 1.0, cov,
                    (int)dim);
    }
    free(block);
    return RP_OK;
}

/* All eigenpairs of the symmetric a (dim x dim, upper triangle set, row-major): ascending
 * eigenvalues in w; a is overwritten with the eigenvectors. Row-major upper = column-major lower,
 * and the eigenvectors come back as the columns of the column-major result = rows of a. */
static int eigen(double *a, uint32_t dim, double *w)
{
    const int n = (int)dim;
    int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    double work_query = 0.0;
    dsyevd_("V", "L", &n, a, &n, w, &work_query, &lwork, &iwork_query, &liwork, &info);
    if (info) return RP_E_BACKEND;
    lwork = (int)work_query + 1;
    liwork = iwork_query;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return RP_E_NOMEM;
    }
    dsyevd_("V", "L", &n, a, &n, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    return info ? RP_E_BACKEND : RP_OK;
}

int rp_embedding_fit_pca(const float *features, uint64_t count, uint32_t dim, uint32_t out_dim, rp_embedding **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_fit_pca: out is NULL");
    *out = NULL;
    if (!features) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_fit_pca: features is NULL");
    if (!dim || dim > 16384 || !out_dim || out_dim > dim)
        return rp__fail(RP_E_INVALID_ARG, "rp_embedding_fit_pca: out_dim %u must be in 1..dim (%u), dim <= 16384",
                        out_dim, dim);
    if (count < 2) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_fit_pca: %llu rows, need at least 2",
                                   (unsigned long long)count);
    double *mean = calloc(dim, sizeof(double));
    double *cov = malloc((size_t)dim * dim * sizeof(double));
    double *eigval = malloc(dim * sizeof(double));
    float *weight = malloc((size_t)out_dim * dim * sizeof(float));
    float *bias = malloc(out_dim * sizeof(float));
    int rc = mean && cov && eigval && weight && bias ? RP_OK : RP_E_NOMEM;
    if (rc == RP_OK) {
        for (uint64_t r = 0; r < count; r++)
            for (uint32_t c = 0; c < dim; c++) mean[c] += features[r * dim + c];
        for (uint32_t c = 0; c < dim; c++) mean[c] /= (double)count;
        rc = covariance(features, count, dim, mean, cov);
    }
    if (rc == RP_OK) rc = eigen(cov, dim, eigval);
    if (rc == RP_OK) {
        /* Component i is the eigenvector of the i-th largest eigenvalue (dsyevd sorts ascending).
         * Its sign is fixed so that its largest-magnitude entry is positive (lowest index on ties):
         * the fit is then deterministic and comparable with other implementations. */
        for (uint32_t i = 0; i < out_dim; i++) {
            const double *v = cov + (size_t)(dim - 1 - i) * dim;
            uint32_t arg = 0;
            for (uint32_t c = 1; c < dim; c++)
                if (fabs(v[c]) > fabs(v[arg])) arg = c;
            const double sign = v[arg] < 0.0 ? -1.0 : 1.0;
            double b = 0.0;
            for (uint32_t c = 0; c < dim; c++) {
                weight[(size_t)i * dim + c] = (float)(sign * v[c]);
                b -= sign * v[c] * mean[c];
            }
            bias[i] = (float)b;
        }
        rc = rp_embedding_create(dim, out_dim, weight, bias, out);
    }
    free(mean);
    free(cov);
    free(eigval);
    free(weight);
    free(bias);
    if (rc == RP_E_NOMEM) return rp__fail(rc, "rp_embedding_fit_pca: out of memory for a %u x %u covariance", dim, dim);
    if (rc == RP_E_BACKEND) return rp__fail(rc, "rp_embedding_fit_pca: LAPACK dsyevd failed");
    return rc;
}
