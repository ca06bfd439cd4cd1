/* The trainer's per-run workspace for the O(n^2) pseudo-label and loss computations. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trainer/trainer_internal.h"

int rp__trainer_ws_init(rp__trainer_ws *ws, uint32_t n, uint32_t dim, uint32_t k)
{
    memset(ws, 0, sizeof *ws);
    size_t nn = (size_t)n * n;
    ws->n = n;
    ws->dim = dim;
    ws->k = k;
    ws->norms = rp__malloc(n * sizeof(double));
    ws->z = rp__malloc((size_t)n * dim * sizeof(double));
    ws->d2 = rp__malloc(nn * sizeof(double));
    ws->c_raw = rp__malloc(nn * sizeof(double));
    ws->c_qe = rp__malloc(nn * sizeof(double));
    ws->wc = rp__malloc(nn * sizeof(double));
    ws->dist = rp__malloc(nn * sizeof(double));
    ws->coef = rp__malloc(nn * sizeof(double));
    ws->mu = rp__malloc(n * sizeof(double));
    ws->s = rp__malloc(n * sizeof(double));
    ws->in_k = rp__malloc(nn);
    ws->in_half = rp__malloc(nn);
    ws->nbr = rp__malloc((size_t)n * (k ? k : 1) * sizeof(uint32_t));
    if (!ws->norms || !ws->z || !ws->d2 || !ws->c_raw || !ws->c_qe || !ws->wc || !ws->dist || !ws->coef ||
        !ws->mu || !ws->s || !ws->in_k || !ws->in_half || !ws->nbr) {
        rp__trainer_ws_free(ws);
        return RP_E_NOMEM;
    }
    return RP_OK;
}

void rp__trainer_ws_free(rp__trainer_ws *ws)
{
    free(ws->norms);
    free(ws->z);
    free(ws->d2);
    free(ws->c_raw);
    free(ws->c_qe);
    free(ws->wc);
    free(ws->dist);
    free(ws->coef);
    free(ws->mu);
    free(ws->s);
    free(ws->in_k);
    free(ws->in_half);
    free(ws->nbr);
    memset(ws, 0, sizeof *ws);
}
