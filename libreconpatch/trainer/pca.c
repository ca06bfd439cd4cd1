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

#include "common/alloc.h"
#include "trainer/trainer_internal.h"

/* LAPACK, Fortran calling convention (OpenBLAS exports it; no LAPACKE header needed). */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

#define PCA_BLOCK_ROWS 2048u

/* The rows to fit: n_parts arrays of rows[i] x dim floats each (one per image, or one in all). */
typedef struct pca_rows {
    const float *const *parts;
    const uint32_t *rows;
    uint32_t n_parts;
    uint64_t count; /* sum of rows */
    const rp_trainer *release; /* non-NULL: the parts are its images, given back once read */
} pca_rows;

static void part_read(const pca_rows *x, uint32_t p)
{
    if (x->release) rp__feature_store_release(&x->release->features, x->release->image_start[p], x->rows[p]);
}

static void column_mean(const pca_rows *x, uint32_t dim, double *mean)
{
    for (uint32_t p = 0; p < x->n_parts; p++) {
        for (uint64_t r = 0; r < x->rows[p]; r++)
            for (uint32_t c = 0; c < dim; c++) mean[c] += x->parts[p][r * dim + c];
        part_read(x, p);
    }
    for (uint32_t c = 0; c < dim; c++) mean[c] /= (double)x->count;
}

/* Upper triangle of sum_r (x_r - mean)(x_r - mean)^T into cov (dim x dim, row-major). */
static int covariance(const pca_rows *x, uint32_t dim, const double *mean, double *cov)
{
    double *block = rp__malloc((size_t)PCA_BLOCK_ROWS * dim * sizeof(double));
    if (!block) return RP_E_NOMEM;
    memset(cov, 0, (size_t)dim * dim * sizeof(double));
    uint32_t filled = 0;
    for (uint32_t p = 0; p <= x->n_parts; p++) {
        const uint64_t rows = p < x->n_parts ? x->rows[p] : 0;
        for (uint64_t r = 0; r <= rows; r++) {
            const int last = p == x->n_parts;
            if (filled == PCA_BLOCK_ROWS || (last && filled)) {
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)dim, (int)filled, 1.0, block, (int)dim, 1.0,
                            cov, (int)dim);
                filled = 0;
            }
            if (r == rows) {
                if (p < x->n_parts) part_read(x, p);
                break;
            }
            for (uint32_t c = 0; c < dim; c++)
                block[(size_t)filled * dim + c] = (double)x->parts[p][r * dim + c] - mean[c];
            filled++;
        }
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
    double *work = rp__malloc((size_t)lwork * sizeof(double));
    int *iwork = rp__malloc((size_t)liwork * sizeof(int));
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

static int fit(const pca_rows *x, uint32_t dim, uint32_t out_dim, const char *fn, rp_embedding **out)
{
    if (!dim || dim > 16384 || !out_dim || out_dim > dim)
        return rp__fail(RP_E_INVALID_ARG, "%s: out_dim %u must be in 1..dim (%u), dim <= 16384", fn, out_dim, dim);
    if (x->count < 2)
        return rp__fail(RP_E_INVALID_ARG, "%s: %llu rows, need at least 2", fn, (unsigned long long)x->count);
    double *mean = rp__calloc(dim, sizeof(double));
    double *cov = rp__malloc((size_t)dim * dim * sizeof(double));
    double *eigval = rp__malloc(dim * sizeof(double));
    float *weight = rp__malloc((size_t)out_dim * dim * sizeof(float));
    float *bias = rp__malloc(out_dim * sizeof(float));
    int rc = mean && cov && eigval && weight && bias ? RP_OK : RP_E_NOMEM;
    if (rc == RP_OK) {
        column_mean(x, dim, mean);
        rc = covariance(x, dim, mean, cov);
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
    if (rc == RP_E_NOMEM) return rp__fail(rc, "%s: out of memory for a %u x %u covariance", fn, dim, dim);
    if (rc == RP_E_BACKEND) return rp__fail(rc, "%s: LAPACK dsyevd failed", fn);
    return rc;
}

int rp_embedding_fit_pca(const float *features, uint64_t count, uint32_t dim, uint32_t out_dim, rp_embedding **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_fit_pca: out is NULL");
    *out = NULL;
    if (!features) return rp__fail(RP_E_INVALID_ARG, "rp_embedding_fit_pca: features is NULL");
    /* Split into parts of at most UINT32_MAX rows so that any count fits the part layout. */
    const uint64_t part = UINT32_MAX;
    const uint64_t n_parts = count / part + 1;
    if (n_parts > 64) return rp__fail(RP_E_LIMIT, "rp_embedding_fit_pca: %llu rows", (unsigned long long)count);
    const float *parts[64];
    uint32_t rows[64];
    for (uint64_t i = 0; i < n_parts; i++) {
        parts[i] = features + i * part * dim;
        rows[i] = (uint32_t)(i + 1 < n_parts ? part : count - i * part);
    }
    pca_rows x = {parts, rows, (uint32_t)n_parts, count, NULL};
    return fit(&x, dim, out_dim, "rp_embedding_fit_pca", out);
}

int rp_trainer_fit_pca(const rp_trainer *t, uint32_t out_dim, rp_embedding **out)
{
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "rp_trainer_fit_pca: out is NULL");
    *out = NULL;
    if (!t) return rp__fail(RP_E_INVALID_ARG, "rp_trainer_fit_pca: trainer is NULL");
    if (!t->n_images) return rp__fail(RP_E_STATE, "rp_trainer_fit_pca: no features added");
    const float **parts = rp__malloc(t->n_images * sizeof *parts);
    if (!parts) return rp__fail(RP_E_NOMEM, "rp_trainer_fit_pca: out of memory");
    for (uint32_t i = 0; i < t->n_images; i++) parts[i] = rp__trainer_image_rows(t, i);
    pca_rows x = {parts, t->image_patches, t->n_images, t->n_patches, t};
    int rc = fit(&x, t->in_dim, out_dim ? out_dim : t->p.repr_dim, "rp_trainer_fit_pca", out);
    free(parts);
    return rc;
}
