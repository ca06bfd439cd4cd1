/* The greedy coreset as the plain loop PatchCore writes it: m passes, each recomputing every
 * point's distance to the newest pick. Slow (n x m distances); the tests compare the pruned
 * selection in libreconpatch/bank/coreset.c against it. Same projection, start points and distance
 * kernel. Built into the tests that use it, not into the library. */
#include <math.h>
#include <stdlib.h>

#include "bank/coreset.h"
#include "bank/coreset_points.h"
#include "common/common.h"
#include "coreset_reference.h"

static uint64_t first_argmax(const float *v, uint64_t n)
{
    uint64_t best = 0;
    for (uint64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

int rp__coreset_select_reference(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                                 uint64_t seed, const char *fn, uint64_t *indices_out)
{
    if (n == 0 || n > UINT32_MAX || m == 0 || m > n)
        return rp__fail(RP_E_INVALID_ARG, "%s: cannot select %llu of %llu points", fn, (unsigned long long)m,
                        (unsigned long long)n);
    rp__coreset_points P;
    int status = rp__coreset_points_build(vectors, n, dim, projection_dim, seed, fn, &P);
    if (status) return status;
    float *dist = malloc(n * sizeof(float)), *fresh = malloc(n * sizeof(float));
    uint32_t *all = malloc(n * sizeof(uint32_t));
    if (!dist || !fresh || !all) {
        status = rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    } else {
        for (uint64_t p = 0; p < n; p++) all[p] = (uint32_t)p;
        uint64_t starts[RP__CORESET_START_POINTS];
        const uint32_t nstart = rp__coreset_start_points(n, seed, starts);
        rp__coreset_start_distances(&P, starts, nstart, dist);
        const rp__coreset_distance_fn distances = rp__coreset_distance_kernel();
        uint64_t selected = first_argmax(dist, n);
        indices_out[0] = selected;
        for (uint64_t it = 1; it < m; it++) {
            const float *c = P.y + selected * P.pd;
            distances(P.y, P.norm, P.pd, all, (uint32_t)n, c, P.norm[selected], fresh);
            for (uint64_t p = 0; p < n; p++)
                if (fresh[p] < dist[p]) dist[p] = fresh[p];
            selected = first_argmax(dist, n);
            indices_out[it] = selected;
        }
    }
    free(dist);
    free(fresh);
    free(all);
    rp__coreset_points_free(&P);
    return status;
}
