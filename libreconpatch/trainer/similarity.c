/* Pseudo-labels for the relaxed contrastive loss, computed from the target network's outputs z':
 * the pairwise similarity (a Gaussian kernel on distances), the contextual similarity (shared
 * k-nearest neighbours, with query expansion) and their mix. Everything here is double precision:
 * it is O(n^2) work next to the O(n * 1024 * 512) of the heads, and the neighbour ranking must not
 * depend on float rounding. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/trainer_internal.h"

/* Use the caller's workspace, or make a temporary one in *tmp (freed with done_ws). */
static rp__trainer_ws *get_ws(rp__trainer_ws *ws, rp__trainer_ws *tmp, uint32_t n, uint32_t dim, uint32_t k)
{
    if (ws) return ws->n >= n && ws->dim >= dim && ws->k >= k ? ws : NULL;
    return rp__trainer_ws_init(tmp, n, dim, k) == RP_OK ? tmp : NULL;
}

static void done_ws(rp__trainer_ws *ws, rp__trainer_ws *tmp)
{
    if (ws == tmp) rp__trainer_ws_free(tmp);
}

int rp__trainer_sq_dists(const double *z, uint32_t n, uint32_t dim, double *d2, rp__trainer_ws *caller_ws)
{
    rp__trainer_ws tmp, *ws = get_ws(caller_ws, &tmp, n, dim, 1);
    if (!ws) return RP_E_NOMEM;
    double *norms = ws->norms;
    for (uint32_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (uint32_t c = 0; c < dim; c++) acc += z[(size_t)i * dim + c] * z[(size_t)i * dim + c];
        norms[i] = acc;
    }
    /* d2 = -2 Z Z^T, then add the norms: |a - b|^2 = |a|^2 + |b|^2 - 2 a.b */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)dim, -2.0, z, (int)dim, z, (int)dim,
                0.0, d2, (int)n);
    for (uint32_t i = 0; i < n; i++) {
        double *row = d2 + (size_t)i * n;
        for (uint32_t j = 0; j < n; j++) {
            double v = row[j] + norms[i] + norms[j];
            row[j] = v > 0.0 ? v : 0.0;
        }
        row[i] = 0.0;
    }
    /* Copy the upper triangle onto the lower one so the matrix is exactly symmetric. */
    for (uint32_t bi = 0; bi < n; bi += RP__TRAINER_TILE)
        for (uint32_t bj = bi; bj < n; bj += RP__TRAINER_TILE)
            for (uint32_t i = bi; i < bi + RP__TRAINER_TILE && i < n; i++)
                for (uint32_t j = bj > i + 1 ? bj : i + 1; j < bj + RP__TRAINER_TILE && j < n; j++)
                    d2[(size_t)j * n + i] = d2[(size_t)i * n + j];
    done_ws(ws, &tmp);
    return RP_OK;
}

void rp__trainer_l2_normalize(double *z, uint32_t n, uint32_t dim)
{
    for (uint32_t i = 0; i < n; i++) {
        double *row = z + (size_t)i * dim, acc = 0.0;
        for (uint32_t c = 0; c < dim; c++) acc += row[c] * row[c];
        if (acc <= 0.0) continue;
        double inv = 1.0 / sqrt(acc);
        for (uint32_t c = 0; c < dim; c++) row[c] *= inv;
    }
}

void rp__trainer_pairwise_sim(const double *d2, uint32_t n, double sigma, double *wp)
{
    size_t nn = (size_t)n * n;
    for (size_t i = 0; i < nn; i++) wp[i] = exp(-d2[i] / sigma);
}

int rp__trainer_knn(const double *d2, uint32_t n, uint32_t k, uint32_t *nbr)
{
    if (k < 1 || k > n) return RP_E_INVALID_ARG;
    for (uint32_t i = 0; i < n; i++) {
        const double *row = d2 + (size_t)i * n;
        uint32_t *list = nbr + (size_t)i * k;
        list[0] = i; /* i itself comes first, even when a duplicate sits at distance 0 */
        uint32_t len = 1;
        for (uint32_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dj = row[j];
            /* j only enters if strictly closer than the current last entry (or the list is short):
             * j runs upwards, so among equal distances the lower index stays ahead. */
            if (len == k && !(dj < row[list[k - 1]])) continue;
            uint32_t pos = len < k ? len : k - 1;
            while (pos > 1 && dj < row[list[pos - 1]]) {
                list[pos] = list[pos - 1];
                pos--;
            }
            list[pos] = j;
            if (len < k) len++;
        }
    }
    return RP_OK;
}

int rp__trainer_contextual_sim(const uint32_t *nbr, uint32_t n, uint32_t k, double *c_raw, double *c_qe,
                               double *wc, rp__trainer_ws *caller_ws)
{
    if (k < 2 || k > n) return RP_E_INVALID_ARG;
    rp__trainer_ws tmp, *ws = get_ws(caller_ws, &tmp, n, 1, k);
    if (!ws) return RP_E_NOMEM;
    size_t nn = (size_t)n * n;
    uint8_t *in_k = ws->in_k;       /* in_k[i][l] = l in N_k(i) */
    uint8_t *in_half = ws->in_half; /* in_half[i][l] = l in N_{k/2}(i) */
    double *raw = c_raw ? c_raw : ws->c_raw;
    double *qe = c_qe ? c_qe : ws->c_qe;
    uint32_t half = k / 2;
    memset(in_k, 0, nn);
    memset(in_half, 0, nn);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t a = 0; a < k; a++) {
            in_k[(size_t)i * n + nbr[(size_t)i * k + a]] = 1;
            if (a < half) in_half[(size_t)i * n + nbr[(size_t)i * k + a]] = 1;
        }

    /* c(i,j) = |N_k(i) & N_k(j)| / |N_k(i)| for j in N_k(i) */
    memset(raw, 0, nn * sizeof(double));
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t a = 0; a < k; a++) {
            uint32_t j = nbr[(size_t)i * k + a], shared = 0;
            for (uint32_t b = 0; b < k; b++) shared += in_k[(size_t)i * n + nbr[(size_t)j * k + b]];
            raw[(size_t)i * n + j] = (double)shared / (double)k;
        }

    /* Query expansion: average the rows of the mutual k/2-neighbours (i is always one of them). */
    for (uint32_t i = 0; i < n; i++) {
        double *out = qe + (size_t)i * n;
        memset(out, 0, n * sizeof(double));
        uint32_t count = 0;
        for (uint32_t a = 0; a < half; a++) {
            uint32_t l = nbr[(size_t)i * k + a];
            if (!in_half[(size_t)l * n + i]) continue;
            const double *src = raw + (size_t)l * n;
            for (uint32_t j = 0; j < n; j++) out[j] += src[j];
            count++;
        }
        double inv = 1.0 / (double)count;
        for (uint32_t j = 0; j < n; j++) out[j] *= inv;
    }

    /* w_c = (c_qe + c_qe^T) / 2, tile by tile */
    for (uint32_t bi = 0; bi < n; bi += RP__TRAINER_TILE)
        for (uint32_t bj = bi; bj < n; bj += RP__TRAINER_TILE)
            for (uint32_t i = bi; i < bi + RP__TRAINER_TILE && i < n; i++)
                for (uint32_t j = bj > i ? bj : i; j < bj + RP__TRAINER_TILE && j < n; j++) {
                    double v = 0.5 * (qe[(size_t)i * n + j] + qe[(size_t)j * n + i]);
                    wc[(size_t)i * n + j] = v;
                    wc[(size_t)j * n + i] = v;
                }
    done_ws(ws, &tmp);
    return RP_OK;
}

/* Subtract the mean row. The loss sees only differences z_i - z_j, so the labels should too: without
 * this, a shift common to all outputs (a bias the loss cannot see, or the mean of non-negative
 * features) changes the cosine of every pair after L2 normalisation. */
static void center_rows(double *z, uint32_t n, uint32_t dim)
{
    for (uint32_t c = 0; c < dim; c++) {
        double mean = 0.0;
        for (uint32_t i = 0; i < n; i++) mean += z[(size_t)i * dim + c];
        mean /= n;
        for (uint32_t i = 0; i < n; i++) z[(size_t)i * dim + c] -= mean;
    }
}

int rp__trainer_pseudo_labels(const float *zt, uint32_t n, uint32_t dim, const rp__trainer_label_cfg *cfg,
                              double *w, rp__trainer_ws *caller_ws)
{
    rp__trainer_ws tmp, *ws = get_ws(caller_ws, &tmp, n, dim, cfg->k);
    if (!ws) return RP_E_NOMEM;
    size_t nn = (size_t)n * n;
    double *z = ws->z;
    for (size_t i = 0; i < (size_t)n * dim; i++) z[i] = zt[i];
    if (cfg->center) center_rows(z, n, dim);
    if (cfg->normalize) rp__trainer_l2_normalize(z, n, dim);
    int rc = rp__trainer_sq_dists(z, n, dim, ws->d2, ws);
    if (rc == RP_OK) rc = rp__trainer_knn(ws->d2, n, cfg->k, ws->nbr);
    if (rc == RP_OK) rc = rp__trainer_contextual_sim(ws->nbr, n, cfg->k, NULL, NULL, ws->wc, ws);
    if (rc == RP_OK) {
        rp__trainer_pairwise_sim(ws->d2, n, cfg->sigma, w);
        for (size_t i = 0; i < nn; i++) w[i] = cfg->alpha * w[i] + (1.0 - cfg->alpha) * ws->wc[i];
    }
    done_ws(ws, &tmp);
    return rc;
}
