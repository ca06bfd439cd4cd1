/* Greedy k-centre coreset with PatchCore's ApproximateGreedyCoresetSampler semantics:
 *   1. project every vector with a seeded random linear map to projection_dim dims;
 *   2. start: each point's distance is its mean distance to 10 random start points
 *      (the start points are not selected themselves);
 *   3. m times: select the point with the largest distance (first one on ties, as torch.argmax),
 *      then lower every point's distance to min(distance, |point - selected|).
 * Distances use PatchCore's formula sqrt(max(-2 a.b + |a|^2 + |b|^2, 0)) (coreset_points.c).
 *
 * Speed: step 3 written plainly is m passes over all n points (coreset_reference.c). Here every
 * point remembers the pick it is closest to (its cluster), and the triangle inequality skips whole
 * clusters: if |c - s| >= 2 r (r the largest distance in c's cluster), no member p of the cluster
 * can get closer to the new pick s than to c, because |p - s| >= |c - s| - |p - c| >= r >= d_p.
 * The tests run on computed distances with margins covering their rounding error, so a skipped
 * point is one whose recomputed distance could not have been smaller: the selection is the plain
 * loop's, index for index. Three more prunings of the same kind:
 *   - inside a checked cluster, members with d_p <= |c - s| / 2 (with margins) are skipped;
 *   - points still holding the starting mean distance form the "unassigned" group, pruned with
 *     the averaged bound mean_j |s - start_j| >= 2 d_p;
 *   - the cluster centres are grouped under the first picks ("heads"); a group whose head is far
 *     enough from s is skipped without reading its centres.
 * Rows are re-ordered by cluster a few times so a cluster's members are read from consecutive
 * memory. docs/memory-bank.md has the margins and the figures. */
#include "bank/coreset.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bank/coreset_points.h"
#include "bank/prng.h"
#include "common/common.h"

/* Largest piece of member list one thread computes at once: keeps threads balanced when one
 * cluster (or the unassigned group) holds most points. */
#define SEGMENT 2048u
/* Below this many candidate distances per pass, waking a thread team costs more than it saves. */
#define PARALLEL_MIN_WORK 8192u
/* First re-ordering of the rows by cluster, then every time the pick count is 4x larger. */
#define FIRST_REORDER 256u

void rp__coreset_projection(uint32_t projection_dim, uint32_t dim, uint64_t seed, float *out)
{
    uint64_t state = seed;
    const float bound = (float)(1.0 / sqrt((double)dim));
    for (size_t i = 0; i < (size_t)projection_dim * dim; i++)
        out[i] = (rp__prng_uniform(&state) * 2.0f - 1.0f) * bound;
}

uint32_t rp__coreset_start_points(uint64_t n, uint64_t seed, uint64_t *out)
{
    uint64_t state = seed ^ RP__CORESET_START_SALT;
    uint32_t count = n < RP__CORESET_START_POINTS ? (uint32_t)n : RP__CORESET_START_POINTS;
    for (uint32_t i = 0; i < count;) {
        uint64_t candidate = rp__prng_next(&state) % n, j;
        for (j = 0; j < i && out[j] != candidate; j++) {
        }
        if (j == i) out[i++] = candidate;
    }
    return count;
}

/* A piece of a member list to recheck; members with d_p <= keep_below provably cannot move and
 * are not recomputed. */
typedef struct {
    size_t start;
    uint32_t count;
    float keep_below;
} segment;

/* The centres of the picks after the first `heads`, filed under their nearest head. */
typedef struct {
    uint32_t *ids;  /* cluster (pick) numbers */
    float *rows;    /* their rows, len x pd */
    float *norms;
    uint32_t len, cap;
    double radius; /* upper bound on the exact distance from the head to any of them */
} centre_group;

/* The selection state. Every point sits in exactly one member list: the unassigned group or the
 * cluster of the pick it is closest to. Lists live in one arena (row slot + current distance
 * side by side); a cluster's list only grows in the pass that creates it and later only loses
 * members, so new clusters are appended at the end and the arena is compacted when it fills. */
typedef struct {
    rp__coreset_points P; /* rows in slot order (re-ordered by cluster now and then) */
    uint32_t *orig;       /* slot -> original index: the output and the tie-breaks use it */
    rp__coreset_distance_fn distances;
    double error; /* bound on |computed d^2 - exact d^2|: rp__coreset_distance_error_bound */
    uint32_t nstart;
    float *start_rows; /* nstart x pd */
    uint64_t next_reorder;

    uint32_t *member; /* arena: slots */
    float *dist;      /* arena: their current distance d_p */
    float *fresh;     /* arena-aligned scratch: distance to the newest pick */
    size_t used, cap;

    /* unassigned group: arena [0, unassigned), sorted by (d ascending, index descending), so its
     * largest distance (first index on ties) is the last entry and the prunable ones a prefix */
    uint32_t unassigned;

    /* clusters, indexed by pick number */
    size_t *start;
    uint32_t *count;
    float *radius;         /* largest member distance, -inf when empty */
    uint32_t *farthest;    /* its member's slot */
    uint32_t *farthest_id; /* and original index (smallest on ties) */
    float *skip_above;     /* skip the cluster when |centre - new pick| (computed) is above this */
    float *to_new;         /* |centre_j - new pick| (computed), valid for the clusters scanned */
    uint32_t *active;      /* clusters to check this pass */
    segment *segments;

    uint32_t heads;         /* the first `heads` picks head a group of centres each */
    float *head_rows;       /* heads x pd */
    float *head_norms;
    centre_group *group;    /* [heads] */
    float *group_scratch;   /* distances of one group's centres */
    uint32_t *identity;     /* 0, 1, 2, ... for reading consecutive rows */

    float pick_value; /* d of the current pick: the largest distance of all points */
} greedy;

/* Upper bound on the exact distance between two points whose computed distance is f: computed
 * d^2 is off by at most e, and f^2 = fl(d^2)(1 +- 3u); 1e-6 stands in for the 3u's. */
static inline double exact_above(float f, double e)
{
    return sqrt((double)f * (double)f * (1.0 + 1e-6) + e);
}

/* Lower bound on the exact distance between two points whose computed distance is f. */
static inline double exact_below(float f, double e)
{
    const double l2 = (double)f * (double)f / (1.0 + 1e-6) - e;
    return l2 > 0.0 ? sqrt(l2) : 0.0;
}

/* Smallest float T such that any cluster of radius r may be skipped when the computed distance
 * from its centre to the new pick is above T. The exact |c - s| >= L = exact_below(F), the exact
 * |p - c| <= H = exact_above(r) for every member, and a member's recomputed distance to s stays
 * >= its d_p when |p - s| >= H (the same bounds read the other way). The triangle inequality gives
 * that when L >= 2 H, i.e. F^2 >= (1 + 3u) (4 r^2 / (1 - 3u) + 5 e). */
static float skip_threshold(float r, double e)
{
    if (!(r >= 0.0f)) return -INFINITY; /* empty: always skip */
    const double t = sqrt((1.0 + 1e-6) * (4.0 * (double)r * (double)r * (1.0 + 1e-6) + 5.0 * e));
    float f = (float)t;
    if ((double)f < t) f = nextafterf(f, INFINITY);
    return f;
}

/* Members p of a checked cluster whose d_p is at most this cannot get closer to s: with L the
 * lower bound on the exact |c - s|, |p - s| >= L - H_p and H_p = exact_above(d_p), so L >= 2 H_p
 * suffices: d_p^2 <= (L^2 / 4 - e)(1 - 3u). -1 when no member is safe. */
static float member_threshold(float to_new, double e)
{
    const double l = exact_below(to_new, e);
    const double t2 = (l * l / 4.0 - e) * (1.0 - 1e-6);
    if (!(t2 > 0.0)) return -1.0f;
    const double t = sqrt(t2);
    float f = (float)t;
    if ((double)f > t) f = nextafterf(f, -INFINITY);
    return f;
}

/* Unassigned points p with d_p below this cannot get closer to s. Their d_p is the mean computed
 * distance to the start points t_j, so the exact mean_j |p - t_j| <= d_p (1 + 15u) + sqrt(e), and
 * |p - s| >= mean_j |s - t_j| - mean_j |p - t_j|; the recomputed distance stays >= d_p when
 * |p - s| >= d_p (1 + 2u) + sqrt(e). mean_j |s - t_j| is computed directly in double. */
static double unassigned_threshold(const greedy *g, const float *ys)
{
    const uint32_t pd = g->P.pd;
    double mean = 0.0;
    for (uint32_t j = 0; j < g->nstart; j++) {
        const float *yt = g->start_rows + (size_t)j * pd;
        double sq = 0.0;
        for (uint32_t d = 0; d < pd; d++) {
            const double diff = (double)ys[d] - (double)yt[d];
            sq += diff * diff;
        }
        mean += sqrt(sq);
    }
    mean = mean / g->nstart * (1.0 - 1e-12);
    return (mean - 2.0 * sqrt(g->error)) / (2.0 * (1.0 + 1e-6));
}

/* (value, index) order of torch.argmax: larger value first, then smaller index. */
static inline int better(float v, uint32_t id, float best_v, uint32_t best_id)
{
    return v > best_v || (v == best_v && id < best_id);
}

static int compare_keys(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The unassigned group at the start: every point, sorted by (distance, -index). Distances are
 * non-negative floats, whose bit patterns sort like their values. */
static void init_unassigned(greedy *g, const float *start_dist, uint64_t *keys)
{
    const uint64_t n = g->P.n;
    for (uint64_t p = 0; p < n; p++) {
        uint32_t bits;
        float v = start_dist[p] > 0.0f ? start_dist[p] : 0.0f; /* -0.0 sorts as 0 */
        memcpy(&bits, &v, sizeof bits);
        keys[p] = (uint64_t)bits << 32 | (uint32_t)(UINT32_MAX - (uint32_t)p);
    }
    qsort(keys, n, sizeof *keys, compare_keys);
    for (uint64_t i = 0; i < n; i++) {
        const uint32_t p = UINT32_MAX - (uint32_t)keys[i];
        g->member[i] = p;
        g->dist[i] = start_dist[p];
    }
    g->unassigned = (uint32_t)n;
    g->used = n;
}

/* Move every live list to the front of the arena (lists keep their order). */
static void compact_arena(greedy *g, uint64_t clusters)
{
    size_t w = g->unassigned;
    for (uint64_t j = 0; j < clusters; j++) {
        memmove(g->member + w, g->member + g->start[j], g->count[j] * sizeof(uint32_t));
        memmove(g->dist + w, g->dist + g->start[j], g->count[j] * sizeof(float));
        g->start[j] = w;
        w += g->count[j];
    }
    g->used = w;
}

/* Store the rows in list order (unassigned first, then cluster by cluster), so checking a
 * cluster reads consecutive rows. Needs a second n x pd buffer for a moment; without one (or
 * when the rows are the caller's own, unprojected input) the order just stays. */
static void reorder_rows(greedy *g, uint64_t clusters, int threads)
{
    if (!g->P.owned) return;
    const uint64_t n = g->P.n;
    const uint32_t pd = g->P.pd;
    float *rows = malloc((size_t)n * pd * sizeof(float)), *norms = malloc(n * sizeof(float));
    uint32_t *orig = malloc(n * sizeof(uint32_t)), *slot_of = malloc(n * sizeof(uint32_t));
    if (rows && norms && orig && slot_of) {
        compact_arena(g, clusters); /* now the arena holds every slot exactly once, in [0, n) */
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t i = 0; i < (int64_t)n; i++) {
            const uint32_t p = g->member[i];
            memcpy(rows + (size_t)i * pd, g->P.y + (size_t)p * pd, pd * sizeof(float));
            norms[i] = g->P.norm[p];
            orig[i] = g->orig[p];
            slot_of[p] = (uint32_t)i;
            g->member[i] = (uint32_t)i;
        }
        for (uint64_t j = 0; j < clusters; j++)
            if (g->count[j]) g->farthest[j] = slot_of[g->farthest[j]];
        free(g->P.owned);
        free(g->P.norm);
        free(g->orig);
        g->P.owned = rows;
        g->P.y = rows;
        g->P.norm = norms;
        g->orig = orig;
        rows = NULL;
        norms = NULL;
        orig = NULL;
    }
    free(rows);
    free(norms);
    free(orig);
    free(slot_of);
}

/* Distances from the members in the segments to the new pick c, into fresh[] (+inf for the
 * members that provably keep their distance). */
static void compute_segments(greedy *g, uint32_t nseg, size_t work, const float *c, float cn, int threads)
{
    const rp__coreset_points *P = &g->P;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && work >= PARALLEL_MIN_WORK)
    for (int64_t i = 0; i < (int64_t)nseg; i++) {
        const segment sg = g->segments[i];
        uint32_t todo[SEGMENT], pos[SEGMENT], ntodo = 0;
        float out[SEGMENT];
        for (uint32_t q = 0; q < sg.count; q++) {
            if (g->dist[sg.start + q] <= sg.keep_below) {
                g->fresh[sg.start + q] = INFINITY;
            } else {
                todo[ntodo] = g->member[sg.start + q];
                pos[ntodo++] = q;
            }
        }
        g->distances(P->y, P->norm, P->pd, todo, ntodo, c, cn, out);
        for (uint32_t q = 0; q < ntodo; q++) g->fresh[sg.start + pos[q]] = out[q];
    }
}

static uint32_t add_segments(greedy *g, uint32_t nseg, size_t start, size_t count, float keep_below)
{
    for (size_t off = 0; off < count; off += SEGMENT) {
        g->segments[nseg].start = start + off;
        g->segments[nseg].count = (uint32_t)(count - off < SEGMENT ? count - off : SEGMENT);
        g->segments[nseg].keep_below = keep_below;
        nseg++;
    }
    return nseg;
}

/* Keep the members of [from, to) whose distance did not drop (compacted to the front, in order),
 * append the others with their new distance to the end of the arena. Returns the kept count and
 * the kept maximum in *best_v / *best_slot / *best_id. */
static size_t split_list(greedy *g, size_t from, size_t to, float *best_v, uint32_t *best_slot, uint32_t *best_id)
{
    size_t w = from;
    float bv = -INFINITY;
    uint32_t bs = UINT32_MAX, bi = UINT32_MAX;
    for (size_t i = from; i < to; i++) {
        const uint32_t p = g->member[i];
        if (g->fresh[i] < g->dist[i]) {
            g->member[g->used] = p;
            g->dist[g->used] = g->fresh[i];
            g->used++;
        } else {
            const float v = g->dist[i];
            g->member[w] = p;
            g->dist[w] = v;
            w++;
            if (better(v, g->orig[p], bv, bi)) bv = v, bs = p, bi = g->orig[p];
        }
    }
    *best_v = bv;
    *best_slot = bs;
    *best_id = bi;
    return w - from;
}

/* Append a centre to a group; RP_E_NOMEM when it cannot grow. */
static int group_add(centre_group *grp, uint32_t id, const float *row, float norm, uint32_t pd, double dist)
{
    if (grp->len == grp->cap) {
        const uint32_t cap = grp->cap ? grp->cap * 2 : 16;
        uint32_t *ids = realloc(grp->ids, cap * sizeof(uint32_t));
        if (ids) grp->ids = ids;
        float *rows = realloc(grp->rows, (size_t)cap * pd * sizeof(float));
        if (rows) grp->rows = rows;
        float *norms = realloc(grp->norms, cap * sizeof(float));
        if (norms) grp->norms = norms;
        if (!ids || !rows || !norms) return RP_E_NOMEM;
        grp->cap = cap;
    }
    grp->ids[grp->len] = id;
    memcpy(grp->rows + (size_t)grp->len * pd, row, pd * sizeof(float));
    grp->norms[grp->len] = norm;
    grp->len++;
    if (dist > grp->radius) grp->radius = dist;
    return RP_OK;
}

/* Queue cluster j for checking when its centre is not provably far enough from the new pick. */
static inline void consider(greedy *g, uint32_t j, uint32_t *nactive)
{
    if (!(g->to_new[j] > g->skip_above[j])) g->active[(*nactive)++] = j;
}

/* Which clusters can the new pick (row c) take points from? Fills g->active and g->to_new. */
static uint32_t scan_centres(greedy *g, uint64_t k, const float *c, float cn)
{
    const uint32_t pd = g->P.pd;
    const uint32_t nheads = k < g->heads ? (uint32_t)k : g->heads;
    uint32_t nactive = 0;
    if (nheads == 0) return 0;
    g->distances(g->head_rows, g->head_norms, pd, g->identity, nheads, c, cn, g->to_new);
    /* every cluster has r <= pick_value, so a centre at (exact) distance >= reach from s is
     * skipped by its own cluster test: reach >= 2 exact_above(r) for all r <= pick_value */
    const double reach = 2.0 * exact_above(g->pick_value, g->error) * (1.0 + 1e-6);
    for (uint32_t h = 0; h < nheads; h++) {
        consider(g, h, &nactive);
        const centre_group *grp = &g->group[h];
        if (grp->len == 0 || exact_below(g->to_new[h], g->error) - grp->radius > reach) continue;
        g->distances(grp->rows, grp->norms, pd, g->identity, grp->len, c, cn, g->group_scratch);
        for (uint32_t i = 0; i < grp->len; i++) {
            g->to_new[grp->ids[i]] = g->group_scratch[i];
            consider(g, grp->ids[i], &nactive);
        }
    }
    return nactive;
}

/* File centre k (row c) as a head or under its nearest head (to_new holds the head distances). */
static int file_centre(greedy *g, uint64_t k, const float *c, float cn)
{
    const uint32_t pd = g->P.pd;
    if (k < g->heads) {
        memcpy(g->head_rows + k * pd, c, pd * sizeof(float));
        g->head_norms[k] = cn;
        return RP_OK;
    }
    uint32_t nearest = 0;
    for (uint32_t h = 1; h < g->heads; h++)
        if (g->to_new[h] < g->to_new[nearest]) nearest = h;
    return group_add(&g->group[nearest], (uint32_t)k, c, cn, pd, exact_above(g->to_new[nearest], g->error));
}

/* One greedy pass: pick number k (slot s) becomes cluster k; every list the bounds cannot rule
 * out is rechecked against s. */
static int greedy_pass(greedy *g, uint64_t k, uint32_t s, int threads, const char *fn)
{
    const uint32_t pd = g->P.pd;
    const uint64_t n = g->P.n;
    const float *c = g->P.y + (size_t)s * pd;
    const float cn = g->P.norm[s];
    if (g->cap - g->used < n) compact_arena(g, k);

    const uint32_t nactive = scan_centres(g, k, c, cn);
    if (file_centre(g, k, c, cn)) return rp__fail(RP_E_NOMEM, "%s: out of memory for the coreset centres", fn);

    uint32_t nseg = 0;
    size_t work = 0, first = g->unassigned;
    if (g->unassigned) {
        /* the unassigned list is sorted by distance: skip the prefix below the threshold */
        const double thr = unassigned_threshold(g, c);
        size_t lo = 0, hi = g->unassigned;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if ((double)g->dist[mid] < thr)
                lo = mid + 1;
            else
                hi = mid;
        }
        first = lo;
        nseg = add_segments(g, nseg, first, g->unassigned - first, -1.0f);
        work += g->unassigned - first;
    }
    for (uint32_t a = 0; a < nactive; a++) {
        const uint32_t j = g->active[a];
        nseg = add_segments(g, nseg, g->start[j], g->count[j], member_threshold(g->to_new[j], g->error));
        work += g->count[j];
    }

    compute_segments(g, nseg, work, c, cn, threads);

    /* move the points that got closer to s into cluster k, in list order (deterministic) */
    const size_t new_start = g->used;
    if (g->unassigned) {
        float bv;
        uint32_t bs, bi;
        g->unassigned = (uint32_t)(first + split_list(g, first, g->unassigned, &bv, &bs, &bi));
    }
    for (uint32_t a = 0; a < nactive; a++) {
        const uint32_t j = g->active[a];
        g->count[j] = (uint32_t)split_list(g, g->start[j], g->start[j] + g->count[j], &g->radius[j],
                                           &g->farthest[j], &g->farthest_id[j]);
        g->skip_above[j] = skip_threshold(g->radius[j], g->error);
    }
    g->start[k] = new_start;
    g->count[k] = (uint32_t)(g->used - new_start);
    float bv = -INFINITY;
    uint32_t bs = UINT32_MAX, bi = UINT32_MAX;
    for (size_t i = new_start; i < g->used; i++) {
        const uint32_t p = g->member[i];
        if (better(g->dist[i], g->orig[p], bv, bi)) bv = g->dist[i], bs = p, bi = g->orig[p];
    }
    g->radius[k] = bv;
    g->farthest[k] = bs;
    g->farthest_id[k] = bi;
    g->skip_above[k] = skip_threshold(bv, g->error);

    if (k + 1 == g->next_reorder) {
        reorder_rows(g, k + 1, threads);
        g->next_reorder *= 4;
    }
    return RP_OK;
}

/* The next pick's slot: the largest distance over all lists, smallest original index on ties. */
static uint32_t next_pick(greedy *g, uint64_t clusters)
{
    float bv = -INFINITY;
    uint32_t bs = UINT32_MAX, bi = UINT32_MAX;
    if (g->unassigned) {
        bs = g->member[g->unassigned - 1];
        bv = g->dist[g->unassigned - 1];
        bi = g->orig[bs];
    }
    for (uint64_t j = 0; j < clusters; j++)
        if (better(g->radius[j], g->farthest_id[j], bv, bi)) bv = g->radius[j], bs = g->farthest[j], bi = g->farthest_id[j];
    g->pick_value = bv;
    return bs;
}

static int report(rp_progress_fn progress, void *user_data, uint64_t done, uint64_t total)
{
    if (!progress) return 0;
    rp_progress pr = {sizeof pr, RP_STAGE_CORESET, (int64_t)done, (int64_t)total, -1, -1, NAN, NAN};
    return progress(&pr, user_data);
}

static void greedy_free(greedy *g)
{
    rp__coreset_points_free(&g->P);
    free(g->orig);
    free(g->start_rows);
    free(g->member);
    free(g->dist);
    free(g->fresh);
    free(g->start);
    free(g->count);
    free(g->radius);
    free(g->farthest);
    free(g->farthest_id);
    free(g->skip_above);
    free(g->to_new);
    free(g->active);
    free(g->segments);
    if (g->group)
        for (uint32_t h = 0; h < g->heads; h++) {
            free(g->group[h].ids);
            free(g->group[h].rows);
            free(g->group[h].norms);
        }
    free(g->group);
    free(g->head_rows);
    free(g->head_norms);
    free(g->group_scratch);
    free(g->identity);
}

static int greedy_alloc(greedy *g, uint64_t m, const char *fn)
{
    const uint64_t n = g->P.n;
    const uint32_t pd = g->P.pd;
    /* about 2 sqrt(m) heads: the head scan and the groups it cannot skip stay both small */
    g->heads = (uint32_t)(2.0 * sqrt((double)m));
    if (g->heads < 16) g->heads = 16;
    if (g->heads > 1024) g->heads = 1024;
    g->cap = 2 * (size_t)n + 64; /* live lists never exceed n, a pass appends at most n */
    g->orig = malloc(n * sizeof(uint32_t));
    g->start_rows = malloc((size_t)RP__CORESET_START_POINTS * pd * sizeof(float));
    g->member = malloc(g->cap * sizeof(uint32_t));
    g->dist = malloc(g->cap * sizeof(float));
    g->fresh = malloc(g->cap * sizeof(float));
    g->start = malloc(m * sizeof(size_t));
    g->count = malloc(m * sizeof(uint32_t));
    g->radius = malloc(m * sizeof(float));
    g->farthest = malloc(m * sizeof(uint32_t));
    g->farthest_id = malloc(m * sizeof(uint32_t));
    g->skip_above = malloc(m * sizeof(float));
    g->to_new = malloc(m * sizeof(float));
    g->active = malloc(m * sizeof(uint32_t));
    g->segments = malloc(((size_t)m + n / SEGMENT + 4) * sizeof(segment));
    g->group = calloc(g->heads, sizeof(centre_group));
    g->head_rows = malloc((size_t)g->heads * pd * sizeof(float));
    g->head_norms = malloc(g->heads * sizeof(float));
    g->group_scratch = malloc(m * sizeof(float));
    g->identity = malloc(m * sizeof(uint32_t));
    if (!g->orig || !g->start_rows || !g->member || !g->dist || !g->fresh || !g->start || !g->count || !g->radius ||
        !g->farthest || !g->farthest_id || !g->skip_above || !g->to_new || !g->active || !g->segments || !g->group ||
        !g->head_rows || !g->head_norms || !g->group_scratch || !g->identity)
        return rp__fail(RP_E_NOMEM, "%s: out of memory for the coreset of %llu points", fn, (unsigned long long)n);
    for (uint64_t p = 0; p < n; p++) g->orig[p] = (uint32_t)p;
    for (uint64_t j = 0; j < m; j++) g->identity[j] = (uint32_t)j;
    g->next_reorder = FIRST_REORDER;
    return RP_OK;
}

/* Projection, start distances, the sorted unassigned group. */
static int greedy_start(greedy *g, uint64_t seed, const char *fn)
{
    const uint64_t n = g->P.n;
    const uint32_t pd = g->P.pd;
    uint64_t starts[RP__CORESET_START_POINTS];
    uint64_t *keys = malloc(n * sizeof(uint64_t));
    if (!keys) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    g->nstart = rp__coreset_start_points(n, seed, starts);
    for (uint32_t j = 0; j < g->nstart; j++)
        memcpy(g->start_rows + (size_t)j * pd, g->P.y + starts[j] * pd, pd * sizeof(float));
    float *start_dist = g->fresh; /* borrowed: the scratch is unused until the first pass */
    rp__coreset_start_distances(&g->P, starts, g->nstart, start_dist);
    init_unassigned(g, start_dist, keys);
    free(keys);
    g->distances = rp__coreset_distance_kernel();
    g->error = rp__coreset_distance_error_bound(&g->P);
    return RP_OK;
}

int rp__coreset_select(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                       uint64_t seed, uint32_t num_threads, rp_progress_fn progress, void *user_data, const char *fn,
                       uint64_t *indices_out)
{
    if (n == 0 || m == 0 || m > n)
        return rp__fail(RP_E_INVALID_ARG, "%s: cannot select %llu of %llu points", fn, (unsigned long long)m,
                        (unsigned long long)n);
    if (n > (uint64_t)UINT32_MAX - 1)
        return rp__fail(RP_E_LIMIT, "%s: the coreset handles at most %u points, got %llu", fn, UINT32_MAX - 1,
                        (unsigned long long)n);
    greedy g;
    memset(&g, 0, sizeof g);
    int status = rp__coreset_points_build(vectors, n, dim, projection_dim, seed, fn, &g.P);
    if (status == RP_OK) status = greedy_alloc(&g, m, fn);
    if (status == RP_OK) status = greedy_start(&g, seed, fn);
    if (status == RP_OK) {
        const int threads = (int)(num_threads ? num_threads : rp__cpu_count());
        uint32_t selected = next_pick(&g, 0);
        indices_out[0] = g.orig[selected];
        int stop = report(progress, user_data, 0, m);
        for (uint64_t it = 1; it < m && !stop && status == RP_OK; it++) {
            status = greedy_pass(&g, it - 1, selected, threads, fn);
            selected = next_pick(&g, it);
            indices_out[it] = g.orig[selected];
            if ((it & 255) == 0 && report(progress, user_data, it, m)) stop = 1;
        }
        if (status == RP_OK && (stop || report(progress, user_data, m, m)))
            status = rp__fail(RP_E_CANCELLED, "%s: cancelled by the progress callback", fn);
    }
    greedy_free(&g);
    return status;
}
