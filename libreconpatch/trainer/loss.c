/* The relaxed contrastive loss of ReConPatch and its gradient with respect to the online outputs z.
 * Distances are divided by each row's mean distance, so the loss does not depend on the scale of z;
 * pairs with a high pseudo-label w are pulled together, pairs with a low one pushed beyond the margin.
 * Double precision throughout (the matrices are n x n, cheap next to the heads). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "trainer/trainer_internal.h"

int rp__trainer_loss(const double *z, uint32_t n, uint32_t dim, const double *w, double margin, double *loss_out,
                     double *dz, rp__trainer_ws *caller_ws)
{
    rp__trainer_ws tmp, *ws = caller_ws;
    if (!ws) {
        if (rp__trainer_ws_init(&tmp, n, dim, 1) != RP_OK) return RP_E_NOMEM;
        ws = &tmp;
    } else if (ws->n < n || ws->dim < dim) {
        return RP_E_INVALID_ARG;
    }
    double *d = ws->dist; /* distances */
    double *a = ws->coef; /* dloss/ddelta, then dL/dd as seen from each row */
    double *mu = ws->mu, *s = ws->s;
    int rc = rp__trainer_sq_dists(z, n, dim, d, ws);
    if (rc != RP_OK) goto done;

    /* d(i,j) = sqrt(|z_i - z_j|^2 + eps) off the diagonal, 0 on it; mu_i = (1/n) sum_l d(i,l) */
    for (uint32_t i = 0; i < n; i++) {
        double *row = d + (size_t)i * n, acc = 0.0;
        for (uint32_t j = 0; j < n; j++) {
            row[j] = sqrt(row[j] + RP__TRAINER_DIST_EPS);
            acc += j == i ? 0.0 : row[j];
        }
        row[i] = 0.0;
        mu[i] = acc / (double)n;
    }

    double loss = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        const double *drow = d + (size_t)i * n, *wrow = w + (size_t)i * n;
        double *arow = a + (size_t)i * n, si = 0.0, li = 0.0, inv_mu = 1.0 / mu[i];
        for (uint32_t j = 0; j < n; j++) {
            double delta = drow[j] * inv_mu, wij = wrow[j];
            double hinge = margin - delta > 0.0 ? margin - delta : 0.0;
            double term = wij * delta * delta + (1.0 - wij) * hinge * hinge;
            double g = 2.0 * wij * delta - 2.0 * (1.0 - wij) * hinge;
            if (j == i) term = g = 0.0;
            li += term;
            arow[j] = g;
            si += g * drow[j];
        }
        loss += li;
        s[i] = si * inv_mu * inv_mu;
    }
    *loss_out = loss / (double)n;
    if (!dz) goto done;

    /* dL/dd(i,j) seen from row i: A(i,j) = (1/n) (g(i,j)/mu_i - s_i/n), the second term through mu_i. */
    double inv_n = 1.0 / (double)n;
    for (uint32_t i = 0; i < n; i++) {
        double *arow = a + (size_t)i * n, inv_mu = 1.0 / mu[i], si = s[i] * inv_n;
        for (uint32_t j = 0; j < n; j++) arow[j] = inv_n * (arow[j] * inv_mu - si);
    }
    /* d(i,j) = d(j,i), so the pair's coefficient is A(i,j) + A(j,i), and
     * dL/dz_i = sum_j K(i,j) (z_i - z_j) with K(i,j) = (A(i,j) + A(j,i)) / d(i,j); K overwrites A. */
    for (uint32_t bi = 0; bi < n; bi += RP__TRAINER_TILE)
        for (uint32_t bj = bi; bj < n; bj += RP__TRAINER_TILE)
            for (uint32_t i = bi; i < bi + RP__TRAINER_TILE && i < n; i++)
                for (uint32_t j = bj > i + 1 ? bj : i + 1; j < bj + RP__TRAINER_TILE && j < n; j++) {
                    size_t ij = (size_t)i * n + j, ji = (size_t)j * n + i;
                    double kij = (a[ij] + a[ji]) / d[ij];
                    a[ij] = kij;
                    a[ji] = kij;
                }
    /* dz = diag(rowsum K) z - K z */
    for (uint32_t i = 0; i < n; i++) {
        double *krow = a + (size_t)i * n, rs = 0.0;
        krow[i] = 0.0;
        for (uint32_t j = 0; j < n; j++) rs += krow[j];
        for (uint32_t c = 0; c < dim; c++) dz[(size_t)i * dim + c] = rs * z[(size_t)i * dim + c];
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)dim, (int)n, -1.0, a, (int)n, z, (int)dim,
                1.0, dz, (int)dim);
done:
    if (ws == &tmp) rp__trainer_ws_free(&tmp);
    return rc;
}
