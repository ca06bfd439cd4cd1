/* Patch scores and image scores. A patch's score is the Euclidean distance of its vector (after
 * the embedding f, if any) to the nearest memory-bank entry. The image score is PatchCore's
 * reweighted maximum (Roth et al. 2022, eq. 7): with m_test the highest-scoring patch, m* its
 * nearest bank entry and N_b(m*) the b nearest bank entries of m* (m* itself included, at
 * distance 0), s = (1 - exp|m_test - m*| / sum_{m in N_b(m*)} exp|m_test - m|) * s*, where
 * s* = |m_test - m*| is the plain maximum. This is the formula as anomalib implements it
 * (1 - softmax(distances)[0]); the official PatchCore code returns the plain maximum instead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/bank_internal.h"
#include "common/alloc.h"
#include "common/common.h"
#include "common/timing.h"
#include "scorer/scorer_internal.h"

/* A callee's failure re-reported under the public function's name (the message buffer is the
 * callee's, so copy it before formatting). */
static int relay_failure(int rc, const char *fn, const char *what)
{
    return rp__fail_relay(rc, "%s: %s failed", fn, what);
}

static double distance(const float *a, const float *b, uint32_t dim)
{
    double sum = 0.0;
    for (uint32_t i = 0; i < dim; i++) {
        const double d = (double)a[i] - (double)b[i];
        sum += d * d;
    }
    return sqrt(sum);
}

int rp__scorer_patch_scores(const rp_scorer *s, const float *features, float *patch_scores,
                            rp_score_result *result, const char *fn)
{
    const uint32_t n = s->geometry.grid_size * s->geometry.grid_size;
    const uint32_t dim = s->bank_dim;
    const uint32_t b = s->reweight_neighbors;
    float *embedded = NULL, *support_dist = rp__malloc(b * sizeof *support_dist);
    uint64_t *nearest = rp__malloc(n * sizeof *nearest), *support = rp__malloc(b * sizeof *support);
    int rc = RP_OK;
    if (!support_dist || !nearest || !support) {
        rc = rp__fail(RP_E_NOMEM, "%s: out of memory for %u patch neighbours", fn, n);
        goto done;
    }

    const float *vectors = features;
    if (s->embedding) {
        embedded = rp__malloc((size_t)n * dim * sizeof *embedded);
        if (!embedded) {
            rc = rp__fail(RP_E_NOMEM, "%s: out of memory for %u embedded patches of %u", fn, n, dim);
            goto done;
        }
        const double started = rp__timing_start();
        rc = rp_embedding_apply(s->embedding, features, n, embedded, (size_t)n * dim);
        rp__timing_stop(RP_TIMING_HEAD, started);
        if (rc) {
            rc = relay_failure(rc, fn, "rp_embedding_apply");
            goto done;
        }
        vectors = embedded;
    }

    double started = rp__timing_start();
    rc = rp__bank_search(s->bank, vectors, (size_t)n * dim, n, 1, patch_scores, n, nearest, n);
    rp__timing_stop(RP_TIMING_KNN, started);
    if (rc) {
        rc = relay_failure(rc, fn, "rp_bank_search of the patches");
        goto done;
    }
    uint32_t best = 0; /* first index of the maximum, as torch.argmax */
    for (uint32_t i = 1; i < n; i++)
        if (patch_scores[i] > patch_scores[best]) best = i;

    /* The support N_b(m*): the b nearest bank entries of m* itself. */
    started = rp__timing_start();
    const uint64_t m_star = nearest[best];
    const float *m_star_vec = s->bank_vectors + m_star * dim;
    rc = rp__bank_search(s->bank, m_star_vec, dim, 1, b, support_dist, b, support, b);
    if (rc) {
        rc = relay_failure(rc, fn, "rp_bank_search of the nearest bank entry");
        goto done;
    }
    const float *m_test = vectors + (size_t)best * dim;
    const double d_star = distance(m_test, m_star_vec, dim);
    /* exp(d*) / sum exp(d_b) computed as 1 / sum exp(d_b - d*): no overflow, as softmax does. */
    double sum = 0.0;
    for (uint32_t j = 0; j < b; j++) sum += exp(distance(m_test, s->bank_vectors + support[j] * dim, dim) - d_star);
    const double reweight = 1.0 - 1.0 / sum;
    rp__timing_stop(RP_TIMING_REWEIGHT, started);

    result->max_patch = best;
    result->max_patch_neighbor = m_star;
    result->score_max = patch_scores[best];
    result->reweight = reweight;
    result->score = reweight * (double)patch_scores[best];

done:
    free(embedded);
    free(support_dist);
    free(nearest);
    free(support);
    return rc;
}
