/* Greedy k-centre coreset with PatchCore's ApproximateGreedyCoresetSampler semantics:
 *   1. project every vector with a seeded random linear map to projection_dim dims;
 *   2. start: each point's distance is its mean distance to 10 random start points
 *      (the start points are not selected themselves);
 *   3. m times: select the point with the largest distance (first one on ties, as torch.argmax),
 *      then lower every point's distance to min(distance, |point - selected|).
 * Distances use PatchCore's formula sqrt(max(-2 a.b + |a|^2 + |b|^2, 0)) (coreset_points.c).
 *
 * Speed: step 3 written plainly is m passes over all n points (the tests' plain loop,
 * tests/unit/bank/coreset_reference.c). Here every point remembers the pick it is closest to (its
 * cluster), and the triangle inequality skips whole clusters: if |c - s| >= 2 r (r the largest
 * distance in c's cluster), no member p of the cluster can get closer to the new pick s than to c,
 * because |p - s| >= |c - s| - |p - c| >= r >= d_p.
 * The tests run on computed distances with margins covering their rounding error, so a skipped
 * point is one whose recomputed distance could not have been smaller: the selection is the plain
 * loop's, index for index. Three more prunings of the same kind:
 *   - inside a checked cluster, members with d_p <= |c - s| / 2 (with margins) are skipped;
 *   - points still holding the starting mean distance form the "unassigned" group, pruned with
 *     the averaged bound mean_j |s - start_j| >= 2 d_p;
 *   - before reading a 512-byte row, a 64-byte sketch gives a lower bound on the distance
 *     (coreset_bound.h): most centres and members are ruled out by it alone.
 * Rows are re-ordered by cluster a few times so a cluster's members are read from consecutive
 * memory. docs/memory-bank.md has the margins and the figures. */
#include "common/alloc.h"
#include "bank/coreset.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bank/coreset_bound.h"
#include "bank/coreset_points.h"
#include "bank/prng.h"
#include "common/common.h"

/* Largest piece of member list one thread computes at once: keeps threads balanced when one
 * cluster (or the unassigned group) holds most points. */
#define SEGMENT 2048u
/* Below this many candidate distances per pass, waking a thread team costs more than it saves. */
#define PARALLEL_MIN_WORK 32768u
/* First re-ordering of the rows by cluster, then every time the pick count doubles. */
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

/* A piece of a member list to recheck. */
typedef struct {
    size_t start;
    uint32_t count;
} segment;

/* Sort record for a new cluster's members. */
typedef struct {
    uint64_t key; /* distance descending, then original index ascending */
    uint32_t slot;
    float dist;
} member_key;

/* The selection state. Every point sits in exactly one member list: the unassigned group or the
 * cluster of the pick it is closest to. Lists live in one arena (row slot + current distance
 * side by side); a cluster's list only grows in the pass that creates it and later only loses
 * members, so new clusters are appended at the end and the arena is compacted when it fills. */
typedef struct {
    rp__coreset_points P; /* rows in slot order (re-ordered by cluster now and then) */
    float *sketch;        /* n x RP__CORESET_SKETCH, slot order */
    double scale;         /* sqrt of the largest squared norm, for rp__coreset_sketch_below */
    uint32_t *orig;       /* slot -> original index: the output and the tie-breaks use it */
    rp__coreset_distance_fn distances;
    rp__coreset_filter_fn filter;
    rp__coreset_scan_fn scan;
    float filter_alpha, filter_beta; /* see rp__coreset_filter_fn */
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

    /* clusters, indexed by pick number; each list sorted by (d descending, original index), so
     * its first entry is its farthest member and the members a pick can take are a prefix */
    size_t *start;
    uint32_t *count;
    float *radius;         /* largest member distance, -inf when empty */
    uint32_t *farthest;    /* its member's slot */
    uint32_t *farthest_id; /* and original index (smallest on ties) */
    float *skip_above;     /* skip the cluster when |centre - new pick| (computed) is above this */
    float *sketch_skip;    /* ... or when the centre's sketch d^2 to the new pick is above this */
    float *to_new;         /* |centre_j - new pick| (computed), valid for the candidates */
    uint32_t *candidates;  /* clusters whose centre distance must be computed this pass */
    uint32_t *active;      /* clusters to check this pass */
    uint32_t *prefix;      /* and how many of their members */
    segment *segments;

    float *centre_rows;     /* picked rows, m x pd, in pick order */
    float *centre_norms;
    float *centre_sketch;   /* picked sketches in blocks of 16: [block][sketch dim][lane] */
    float *scratch;         /* m floats */
    member_key *keys;       /* n records, for sorting a new cluster */
    size_t *doubt_pos;      /* n: arena positions whose distance must be computed this pass */
    uint32_t *doubt_slot;   /* n: and their slots */

    /* tournament tree for the next pick: leaves are the clusters 0 .. m-1 and, as leaf m, the
     * unassigned group (its radius / farthest: its last entry); node i holds the winning leaf of
     * its subtree, node 1 the overall one. */
    uint32_t leaves; /* power of two > m */
    uint32_t *tree;  /* 2 * leaves */
    uint32_t group_leaf;

    float pick_value; /* d of the current pick: the largest distance of all points */
    rp__coreset_stats stats;
} greedy;

static _Thread_local rp__coreset_stats last_stats;

void rp__coreset_last_stats(rp__coreset_stats *out) { *out = last_stats; }

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

/* The same test on the sketch bound: skip when the float sketch d^2 is above this, because then
 * the exact |c - s| >= rp__coreset_sketch_below(...) > 2 exact_above(r). */
static float sketch_threshold(float r, double e, double scale)
{
    if (!(r >= 0.0f)) return -INFINITY;
    const double reach = 2.0 * exact_above(r, e) * (1.0 + 1e-6);
    const double t = (reach + 1e-6 * scale) / (1.0 - 1e-5);
    const double t2 = t * t * (1.0 + 1e-12);
    float f = (float)t2;
    if ((double)f < t2) f = nextafterf(f, INFINITY);
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

static inline uint32_t winner(const greedy *g, uint32_t a, uint32_t b)
{
    return better(g->radius[b], g->farthest_id[b], g->radius[a], g->farthest_id[a]) ? b : a;
}

/* Leaf `leaf` changed its radius / farthest: replay its matches up to the root. */
static void tree_update(greedy *g, uint32_t leaf)
{
    uint32_t i = (leaf + g->leaves) >> 1;
    for (; i >= 1; i >>= 1) g->tree[i] = winner(g, g->tree[2 * i], g->tree[2 * i + 1]);
}

/* The unassigned group's leaf: its last entry, or nothing. */
static void update_group_leaf(greedy *g)
{
    const uint32_t leaf = g->group_leaf;
    if (g->unassigned) {
        g->farthest[leaf] = g->member[g->unassigned - 1];
        g->farthest_id[leaf] = g->orig[g->farthest[leaf]];
        g->radius[leaf] = g->dist[g->unassigned - 1];
    } else {
        g->radius[leaf] = -INFINITY;
        g->farthest[leaf] = g->farthest_id[leaf] = UINT32_MAX;
    }
    tree_update(g, leaf);
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
 * cluster reads consecutive rows. The rows, norms, sketches and original indices are permuted in
 * place, cycle by cycle (one row of scratch, a bitmap and the slot map: 4.1 bytes per point, no
 * second copy of the rows). The caller's own rows (dim == projection_dim) are never moved: there
 * the order just stays. Returns whether the rows were re-ordered. */
static int reorder_rows(greedy *g, uint64_t clusters)
{
    if (!g->P.owned) return 0;
    const uint64_t n = g->P.n;
    const uint32_t pd = g->P.pd, sk = RP__CORESET_SKETCH;
    uint32_t *slot_of = rp__malloc(n * sizeof(uint32_t));
    uint64_t *moved = rp__calloc((n + 63) / 64, sizeof(uint64_t));
    float *tmp = rp__malloc(((size_t)pd + sk) * sizeof(float));
    const int done = slot_of && moved && tmp;
    if (done) {
        compact_arena(g, clusters); /* now the arena holds every slot exactly once, in [0, n) */
        float *rows = g->P.owned, *norms = g->P.norm, *sketch = g->sketch;
        uint32_t *orig = g->orig;
        const uint32_t *src = g->member; /* new slot i takes the point in old slot src[i] */
        for (uint64_t i = 0; i < n; i++) {
            slot_of[src[i]] = (uint32_t)i;
            if (moved[i / 64] >> (i % 64) & 1) continue;
            if (src[i] == i) {
                moved[i / 64] |= 1ull << (i % 64);
                continue;
            }
            memcpy(tmp, rows + (size_t)i * pd, pd * sizeof(float));
            memcpy(tmp + pd, sketch + (size_t)i * sk, sk * sizeof(float));
            const float tnorm = norms[i];
            const uint32_t torig = orig[i];
            uint64_t j = i;
            for (;;) {
                const uint64_t k = src[j];
                moved[j / 64] |= 1ull << (j % 64);
                if (k == i) {
                    memcpy(rows + (size_t)j * pd, tmp, pd * sizeof(float));
                    memcpy(sketch + (size_t)j * sk, tmp + pd, sk * sizeof(float));
                    norms[j] = tnorm;
                    orig[j] = torig;
                    break;
                }
                memcpy(rows + (size_t)j * pd, rows + (size_t)k * pd, pd * sizeof(float));
                memcpy(sketch + (size_t)j * sk, sketch + (size_t)k * sk, sk * sizeof(float));
                norms[j] = norms[k];
                orig[j] = orig[k];
                j = k;
            }
        }
        for (uint64_t i = 0; i < n; i++) g->member[i] = (uint32_t)i;
        for (uint64_t j = 0; j < clusters; j++)
            if (g->count[j]) g->farthest[j] = slot_of[g->farthest[j]];
        update_group_leaf(g);
    }
    free(slot_of);
    free(moved);
    free(tmp);
    return done;
}

/* Distances from the members in the segments to the new pick (slot s), into fresh[]; +inf for
 * the members the sketches prove cannot get closer. First the sketch filter collects the arena
 * positions still in doubt (segment by segment), then one kernel call per thread runs over all of
 * them, so the row prefetching spans cluster boundaries. */
static size_t compute_segments(greedy *g, uint32_t nseg, size_t work, uint32_t s, int threads)
{
    const rp__coreset_points *P = &g->P;
    const float *c = P->y + (size_t)s * P->pd, cn = P->norm[s];
    const float *cs = g->sketch + (size_t)s * RP__CORESET_SKETCH;
    const int team = threads > 1 && work >= PARALLEL_MIN_WORK ? threads : 1;
    size_t ndoubt = 0;
#pragma omp parallel num_threads(team)
    {
        uint32_t pos[SEGMENT];
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < (int64_t)nseg; i++) {
            const segment sg = g->segments[i];
            const uint32_t n = g->filter(g->sketch, g->member + sg.start, g->dist + sg.start, sg.count, cs,
                                         g->filter_alpha, g->filter_beta, pos);
            for (uint32_t q = 0; q < sg.count; q++) g->fresh[sg.start + q] = INFINITY;
            size_t at;
#pragma omp atomic capture
            {
                at = ndoubt;
                ndoubt += n;
            }
            for (uint32_t q = 0; q < n; q++) {
                g->doubt_pos[at + q] = sg.start + pos[q];
                g->doubt_slot[at + q] = g->member[sg.start + pos[q]];
            }
        }
        /* implicit barrier: ndoubt is final. The order of the doubtful list depends on the
         * thread timing, the distance of each (point, pick) pair does not. */
#pragma omp for schedule(static)
        for (int64_t q0 = 0; q0 < (int64_t)ndoubt; q0 += SEGMENT) {
            const uint32_t cnt = (uint32_t)(ndoubt - (size_t)q0 < SEGMENT ? ndoubt - (size_t)q0 : SEGMENT);
            float out[SEGMENT];
            g->distances(P->y, P->norm, P->pd, g->doubt_slot + q0, cnt, c, cn, out);
            for (uint32_t q = 0; q < cnt; q++) g->fresh[g->doubt_pos[q0 + q]] = out[q];
        }
    }
    return ndoubt;
}

static uint32_t add_segments(greedy *g, uint32_t nseg, size_t start, size_t count)
{
    for (size_t off = 0; off < count; off += SEGMENT) {
        g->segments[nseg].start = start + off;
        g->segments[nseg].count = (uint32_t)(count - off < SEGMENT ? count - off : SEGMENT);
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

/* Split the first `prefix` members of cluster j (the only ones the pick could take): movers to
 * the end of the arena, the rest stay in order, so the list stays sorted. */
static void split_cluster(greedy *g, uint32_t j, size_t prefix)
{
    /* walk the prefix backwards and close the kept members up against the untouched rest, so
     * only the (short) prefix moves; the freed front is reclaimed by compact_arena */
    const size_t from = g->start[j], to = from + prefix;
    size_t w = to;
    for (size_t i = to; i-- > from;) {
        if (g->fresh[i] < g->dist[i]) {
            g->member[g->used] = g->member[i];
            g->dist[g->used] = g->fresh[i];
            g->used++;
        } else {
            w--;
            g->member[w] = g->member[i];
            g->dist[w] = g->dist[i];
        }
    }
    g->start[j] = w;
    g->count[j] -= (uint32_t)(w - from);
    if (g->count[j]) {
        g->radius[j] = g->dist[w];
        g->farthest[j] = g->member[w];
        g->farthest_id[j] = g->orig[g->member[w]];
    } else {
        g->radius[j] = -INFINITY;
        g->farthest[j] = g->farthest_id[j] = UINT32_MAX;
    }
}

static int compare_member_keys(const void *a, const void *b)
{
    const uint64_t x = ((const member_key *)a)->key, y = ((const member_key *)b)->key;
    return (x > y) - (x < y);
}

/* Sort arena [from, to) by (d descending, original index ascending). */
static void sort_list(greedy *g, size_t from, size_t to)
{
    const size_t len = to - from;
    for (size_t i = 0; i < len; i++) {
        uint32_t bits;
        const float d = g->dist[from + i] > 0.0f ? g->dist[from + i] : 0.0f;
        memcpy(&bits, &d, sizeof bits);
        g->keys[i].key = (uint64_t)(UINT32_MAX - bits) << 32 | g->orig[g->member[from + i]];
        g->keys[i].slot = g->member[from + i];
        g->keys[i].dist = g->dist[from + i];
    }
    qsort(g->keys, len, sizeof *g->keys, compare_member_keys);
    for (size_t i = 0; i < len; i++) {
        g->member[from + i] = g->keys[i].slot;
        g->dist[from + i] = g->keys[i].dist;
    }
}

/* Queue cluster j for checking when its centre is not provably far enough from the new pick. */
static inline void consider(greedy *g, uint32_t j, uint32_t *nactive)
{
    if (!(g->to_new[j] > g->skip_above[j])) g->active[(*nactive)++] = j;
}

/* Which clusters can the new pick (slot s) take points from? Sketch bound first (64 bytes per
 * centre, all centres), then the computed distance for the centres it cannot rule out. Fills
 * g->active and g->to_new. */
static uint32_t scan_centres(greedy *g, uint64_t k, uint32_t s)
{
    const uint32_t pd = g->P.pd;
    const float *cs = g->sketch + (size_t)s * RP__CORESET_SKETCH;
    uint32_t nactive = 0;
    const uint32_t ncand = g->scan(g->centre_sketch, g->sketch_skip, k, cs, g->candidates);
    g->distances(g->centre_rows, g->centre_norms, pd, g->candidates, ncand, g->P.y + (size_t)s * pd,
                 g->P.norm[s], g->scratch);
    for (uint32_t i = 0; i < ncand; i++) {
        g->to_new[g->candidates[i]] = g->scratch[i];
        consider(g, g->candidates[i], &nactive);
    }
    g->stats.centre_candidates += ncand;
    g->stats.clusters_checked += nactive;
    return nactive;
}

/* Keep pick k's row, norm and sketch with the centres. */
static void file_centre(greedy *g, uint64_t k, uint32_t s)
{
    const uint32_t pd = g->P.pd;
    memcpy(g->centre_rows + k * pd, g->P.y + (size_t)s * pd, pd * sizeof(float));
    g->centre_norms[k] = g->P.norm[s];
    float *blk = g->centre_sketch + (k / 16) * 16 * RP__CORESET_SKETCH;
    for (uint32_t i = 0; i < RP__CORESET_SKETCH; i++)
        blk[i * 16 + k % 16] = g->sketch[(size_t)s * RP__CORESET_SKETCH + i];
}

/* One greedy pass: pick number k (slot s) becomes cluster k; every list the bounds cannot rule
 * out is rechecked against s. */
static void greedy_pass(greedy *g, uint64_t k, uint32_t s, int threads)
{
    const uint64_t n = g->P.n;
    if (g->cap - g->used < n) compact_arena(g, k);

    const uint32_t nactive = scan_centres(g, k, s);
    file_centre(g, k, s);

    uint32_t nseg = 0;
    size_t work = 0, first = g->unassigned;
    if (g->unassigned) {
        /* the unassigned list is sorted by distance: skip the prefix below the threshold */
        const double thr = unassigned_threshold(g, g->P.y + (size_t)s * g->P.pd);
        size_t lo = 0, hi = g->unassigned;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if ((double)g->dist[mid] < thr)
                lo = mid + 1;
            else
                hi = mid;
        }
        first = lo;
        nseg = add_segments(g, nseg, first, g->unassigned - first);
        work += g->unassigned - first;
    }
    for (uint32_t a = 0; a < nactive; a++) {
        /* members with d_p <= member_threshold provably stay: only the prefix above it is checked */
        const uint32_t j = g->active[a];
        const float keep_below = member_threshold(g->to_new[j], g->error);
        size_t lo = 0, hi = g->count[j];
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (g->dist[g->start[j] + mid] > keep_below)
                lo = mid + 1;
            else
                hi = mid;
        }
        g->prefix[a] = (uint32_t)lo;
        nseg = add_segments(g, nseg, g->start[j], lo);
        work += lo;
    }

    const size_t rows = compute_segments(g, nseg, work, s, threads);
    const uint64_t tenth = (k + 1) * RP__CORESET_STAT_BUCKETS / (g->stats.m ? g->stats.m : 1);
    const uint32_t b = tenth < RP__CORESET_STAT_BUCKETS ? (uint32_t)tenth : RP__CORESET_STAT_BUCKETS - 1;
    g->stats.passes++;
    g->stats.member_visits += work;
    g->stats.rows_computed += rows;
    g->stats.visits_by_tenth[b] += work;
    g->stats.rows_by_tenth[b] += rows;
    g->stats.radius_by_tenth[b] = g->pick_value;
    const uint32_t had_unassigned = g->unassigned;

    /* move the points that got closer to s into cluster k, in list order (deterministic) */
    const size_t new_start = g->used;
    if (g->unassigned) {
        float bv;
        uint32_t bs, bi;
        g->unassigned = (uint32_t)(first + split_list(g, first, g->unassigned, &bv, &bs, &bi));
        update_group_leaf(g);
    }
    if (had_unassigned && !g->unassigned) g->stats.unassigned_left_at = k + 1;
    for (uint32_t a = 0; a < nactive; a++) {
        const uint32_t j = g->active[a];
        split_cluster(g, j, g->prefix[a]);
        g->skip_above[j] = skip_threshold(g->radius[j], g->error);
        g->sketch_skip[j] = sketch_threshold(g->radius[j], g->error, g->scale);
        tree_update(g, j);
    }
    g->start[k] = new_start;
    g->count[k] = (uint32_t)(g->used - new_start);
    sort_list(g, new_start, g->used);
    const float bv = g->count[k] ? g->dist[new_start] : -INFINITY;
    g->radius[k] = bv;
    g->farthest[k] = g->count[k] ? g->member[new_start] : UINT32_MAX;
    g->farthest_id[k] = g->count[k] ? g->orig[g->member[new_start]] : UINT32_MAX;
    g->skip_above[k] = skip_threshold(bv, g->error);
    g->sketch_skip[k] = sketch_threshold(bv, g->error, g->scale);
    tree_update(g, (uint32_t)k);

    if (k + 1 == g->next_reorder) {
        g->stats.reorders += reorder_rows(g, k + 1);
        g->next_reorder *= 2;
    }
}

/* The next pick's slot: the largest distance over all lists, smallest original index on ties. */
static uint32_t next_pick(greedy *g)
{
    const uint32_t leaf = g->tree[1];
    g->pick_value = g->radius[leaf];
    return g->farthest[leaf];
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
    free(g->tree);
    free(g->skip_above);
    free(g->sketch_skip);
    free(g->to_new);
    free(g->candidates);
    free(g->active);
    free(g->prefix);
    free(g->keys);
    free(g->doubt_pos);
    free(g->doubt_slot);
    free(g->segments);
    free(g->sketch);
    free(g->centre_rows);
    free(g->centre_norms);
    free(g->centre_sketch);
    free(g->scratch);
}

static int greedy_alloc(greedy *g, uint64_t m, const char *fn)
{
    const uint64_t n = g->P.n, padded = (m + 15) / 16 * 16;
    const uint32_t pd = g->P.pd;
    g->cap = 2 * (size_t)n + 64; /* live lists never exceed n, a pass appends at most n */
    g->orig = rp__malloc(n * sizeof(uint32_t));
    g->sketch = rp__aligned_alloc(64, (size_t)n * RP__CORESET_SKETCH * sizeof(float));
    g->start_rows = rp__malloc((size_t)RP__CORESET_START_POINTS * pd * sizeof(float));
    g->member = rp__malloc(g->cap * sizeof(uint32_t));
    g->dist = rp__malloc(g->cap * sizeof(float));
    g->fresh = rp__malloc(g->cap * sizeof(float));
    g->start = rp__malloc(m * sizeof(size_t));
    g->count = rp__malloc(m * sizeof(uint32_t));
    for (g->leaves = 1; g->leaves <= m; g->leaves *= 2) {
    }
    g->group_leaf = (uint32_t)m;
    g->tree = rp__malloc(2 * (size_t)g->leaves * sizeof(uint32_t));
    g->radius = rp__malloc(g->leaves * sizeof(float));
    g->farthest = rp__malloc(g->leaves * sizeof(uint32_t));
    g->farthest_id = rp__malloc(g->leaves * sizeof(uint32_t));
    g->skip_above = rp__malloc(m * sizeof(float));
    g->sketch_skip = rp__malloc(m * sizeof(float));
    g->to_new = rp__malloc(m * sizeof(float));
    g->candidates = rp__malloc(m * sizeof(uint32_t));
    g->active = rp__malloc(m * sizeof(uint32_t));
    g->prefix = rp__malloc(m * sizeof(uint32_t));
    g->keys = rp__malloc(n * sizeof(member_key));
    g->doubt_pos = rp__malloc(n * sizeof(size_t));
    g->doubt_slot = rp__malloc(n * sizeof(uint32_t));
    g->segments = rp__malloc(((size_t)m + n / SEGMENT + 4) * sizeof(segment));
    g->centre_rows = rp__malloc((size_t)m * pd * sizeof(float));
    g->centre_norms = rp__malloc(m * sizeof(float));
    g->centre_sketch = rp__aligned_alloc(64, padded * RP__CORESET_SKETCH * sizeof(float));
    g->scratch = rp__malloc(m * sizeof(float));
    if (!g->tree || !g->orig || !g->sketch || !g->start_rows || !g->member || !g->dist || !g->fresh || !g->start || !g->count ||
        !g->radius || !g->farthest || !g->farthest_id || !g->skip_above || !g->sketch_skip || !g->to_new ||
        !g->candidates || !g->active || !g->prefix || !g->keys || !g->doubt_pos || !g->doubt_slot || !g->segments || !g->centre_rows || !g->centre_norms ||
        !g->centre_sketch || !g->scratch)
        return rp__fail(RP_E_NOMEM, "%s: out of memory for the coreset of %llu points", fn, (unsigned long long)n);
    for (uint64_t p = 0; p < n; p++) g->orig[p] = (uint32_t)p;
    memset(g->centre_sketch, 0, padded * RP__CORESET_SKETCH * sizeof(float));
    for (uint32_t j = 0; j < g->leaves; j++) {
        g->radius[j] = -INFINITY;
        g->farthest[j] = g->farthest_id[j] = UINT32_MAX;
        g->tree[g->leaves + j] = j;
    }
    for (uint32_t i = g->leaves - 1; i >= 1; i--) g->tree[i] = winner(g, g->tree[2 * i], g->tree[2 * i + 1]);
    g->next_reorder = FIRST_REORDER;
    g->stats.n = n;
    g->stats.m = m;
    g->stats.isa = rp__coreset_kernel_isa();
    return RP_OK;
}

/* Projection, start distances, the sorted unassigned group. */
static int greedy_start(greedy *g, uint64_t seed, int threads, const char *fn)
{
    const uint64_t n = g->P.n;
    const uint32_t pd = g->P.pd;
    uint64_t starts[RP__CORESET_START_POINTS];
    uint64_t *keys = rp__malloc(n * sizeof(uint64_t));
    if (!keys) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    g->nstart = rp__coreset_start_points(n, seed, starts);
    for (uint32_t j = 0; j < g->nstart; j++)
        memcpy(g->start_rows + (size_t)j * pd, g->P.y + starts[j] * pd, pd * sizeof(float));
    float *start_dist = g->fresh; /* borrowed: the scratch is unused until the first pass */
    rp__coreset_start_distances(&g->P, starts, g->nstart, start_dist);
    init_unassigned(g, start_dist, keys);
    free(keys);
    update_group_leaf(g);
    g->distances = rp__coreset_distance_kernel();
    g->error = rp__coreset_distance_error_bound(&g->P);
    float largest = 0.0f;
    for (uint64_t p = 0; p < n; p++)
        if (g->P.norm[p] > largest) largest = g->P.norm[p];
    g->scale = sqrt((double)largest);
    g->stats.largest_norm = g->scale;
    g->stats.rounding_slack = sqrt(g->error);
    g->filter = rp__coreset_filter_kernel();
    g->scan = rp__coreset_scan_kernel();
    g->filter_alpha = (float)((1.0 + 1e-6) / (1.0 - 1e-5) * (1.0 + 1e-7));
    g->filter_beta = (float)((sqrt(g->error) + 1e-6 * g->scale) / (1.0 - 1e-5) * (1.0 + 1e-7));
    return rp__coreset_sketches(&g->P, threads, fn, g->sketch);
}

uint64_t rp__coreset_partition_size(uint64_t n, uint64_t m)
{
    const char *v = getenv("RP_CORESET_PARTITION");
    if (!v || !v[0]) return 0;
    uint64_t size = strtoull(v, NULL, 10);
    if (size == 0) return 0;
    if (size < 1024) size = 1024;
    if (n <= size || m >= n || m < (n + size - 1) / size) return 0;
    return size;
}

uint64_t rp__coreset_partition_budgets(uint64_t n, uint64_t m, uint64_t size, uint64_t *n_out, uint64_t *m_out)
{
    const uint64_t parts = (n + size - 1) / size;
    uint64_t given = 0;
    for (uint64_t i = 0; i < parts; i++) {
        n_out[i] = n / parts + (i < n % parts);
        m_out[i] = (uint64_t)(((unsigned __int128)m * n_out[i]) / n);
        given += m_out[i];
    }
    /* the rest, one each, to the largest remainders m n_i mod n (lower partition first) */
    for (; given < m; given++) {
        uint64_t best = UINT64_MAX, best_rem = 0;
        for (uint64_t i = 0; i < parts; i++) {
            const uint64_t rem = (uint64_t)(((unsigned __int128)m * n_out[i]) % n);
            const int taken = m_out[i] != (uint64_t)(((unsigned __int128)m * n_out[i]) / n);
            if (!taken && (best == UINT64_MAX || rem > best_rem)) best = i, best_rem = rem;
        }
        m_out[best]++;
    }
    return parts;
}

/* A partition's rows are told to the whole input's release callback at their place in it. */
typedef struct {
    const rp__coreset_release *whole;
    uint64_t first;
} partition_release;

static void release_in_partition(void *ctx, uint64_t first, uint64_t count)
{
    const partition_release *r = ctx;
    r->whole->fn(r->whole->ctx, r->first + first, count);
}

/* The partitioned approximation (coreset.h): one thread per partition, `threads` at a time. */
static int select_partitioned(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                              uint64_t seed, uint32_t num_threads, const rp__coreset_release *release,
                              rp_progress_fn progress, void *user_data, const char *fn, uint64_t size,
                              uint64_t *indices_out)
{
    const uint64_t parts = (n + size - 1) / size;
    uint64_t *pn = rp__malloc(parts * sizeof(uint64_t)), *pm = rp__malloc(parts * sizeof(uint64_t));
    uint64_t *first = rp__malloc(parts * sizeof(uint64_t)), *out_at = rp__malloc(parts * sizeof(uint64_t));
    int *status = rp__malloc(parts * sizeof(int));
    rp__coreset_stats *st = rp__calloc(parts, sizeof(rp__coreset_stats));
    if (!pn || !pm || !first || !out_at || !status || !st) {
        free(pn), free(pm), free(first), free(out_at), free(status), free(st);
        return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    }
    rp__coreset_partition_budgets(n, m, size, pn, pm);
    for (uint64_t i = 0, row = 0, at = 0; i < parts; i++) {
        first[i] = row;
        out_at[i] = at;
        row += pn[i];
        at += pm[i];
        status[i] = RP_OK;
    }
    const int threads = (int)(num_threads ? num_threads : rp__cpu_count());
    int result = RP_OK, stop = report(progress, user_data, 0, m), failed = 0;
    uint64_t picked = 0;
    /* one team over all partitions (dynamic: partitions of compact data cost more); only the
     * calling thread (thread 0) calls the progress callback, after each of its partitions */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t i = 0; i < (int64_t)parts; i++) {
        int cancelled, broken;
#pragma omp atomic read
        cancelled = stop;
#pragma omp atomic read
        broken = failed;
        if (cancelled || broken || !pm[i]) continue;
        const partition_release own = {release, first[i]};
        const rp__coreset_release in_partition = {release_in_partition, (void *)&own};
        status[i] = rp__coreset_select_released(vectors + first[i] * dim, pn[i], dim, pm[i], projection_dim, seed, 1,
                                                release ? &in_partition : NULL, NULL, NULL, fn,
                                                indices_out + out_at[i]);
        rp__coreset_last_stats(&st[i]);
        for (uint64_t k = 0; k < pm[i]; k++) indices_out[out_at[i] + k] += first[i];
        if (status[i] != RP_OK) {
#pragma omp atomic write
            failed = 1;
        }
        uint64_t now;
#pragma omp atomic capture
        now = picked += pm[i];
        if (omp_get_thread_num() == 0 && report(progress, user_data, now, m)) {
#pragma omp atomic write
            stop = 1;
        }
    }
    for (uint64_t i = 0; i < parts && result == RP_OK; i++)
        if (status[i] != RP_OK)
            result = rp__fail(status[i], "%s: the coreset of partition %llu (rows %llu..%llu) failed with code %d", fn,
                              (unsigned long long)i, (unsigned long long)first[i],
                              (unsigned long long)(first[i] + pn[i]), status[i]);
    if (result == RP_OK && stop) result = rp__fail(RP_E_CANCELLED, "%s: cancelled by the progress callback", fn);
    rp__coreset_stats sum;
    memset(&sum, 0, sizeof sum);
    sum.n = n;
    sum.m = m;
    sum.partitions = parts;
    sum.isa = rp__coreset_kernel_isa();
    for (uint64_t i = 0; i < parts; i++) {
        sum.passes += st[i].passes;
        sum.member_visits += st[i].member_visits;
        sum.rows_computed += st[i].rows_computed;
        sum.centre_candidates += st[i].centre_candidates;
        sum.clusters_checked += st[i].clusters_checked;
        sum.reorders += st[i].reorders;
        if (st[i].largest_norm > sum.largest_norm) sum.largest_norm = st[i].largest_norm;
        if (st[i].rounding_slack > sum.rounding_slack) sum.rounding_slack = st[i].rounding_slack;
        for (int b = 0; b < RP__CORESET_STAT_BUCKETS; b++) {
            sum.visits_by_tenth[b] += st[i].visits_by_tenth[b];
            sum.rows_by_tenth[b] += st[i].rows_by_tenth[b];
            if (st[i].radius_by_tenth[b] > sum.radius_by_tenth[b]) sum.radius_by_tenth[b] = st[i].radius_by_tenth[b];
        }
    }
    last_stats = sum;
    free(pn), free(pm), free(first), free(out_at), free(status), free(st);
    return result;
}

int rp__coreset_select(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                       uint64_t seed, uint32_t num_threads, rp_progress_fn progress, void *user_data, const char *fn,
                       uint64_t *indices_out)
{
    return rp__coreset_select_released(vectors, n, dim, m, projection_dim, seed, num_threads, NULL, progress,
                                       user_data, fn, indices_out);
}

int rp__coreset_select_released(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                                uint64_t seed, uint32_t num_threads, const struct rp__coreset_release *release,
                                rp_progress_fn progress, void *user_data, const char *fn, uint64_t *indices_out)
{
    if (n == 0 || m == 0 || m > n)
        return rp__fail(RP_E_INVALID_ARG, "%s: cannot select %llu of %llu points", fn, (unsigned long long)m,
                        (unsigned long long)n);
    if (n > (uint64_t)UINT32_MAX - 1)
        return rp__fail(RP_E_LIMIT, "%s: the coreset handles at most %u points, got %llu", fn, UINT32_MAX - 1,
                        (unsigned long long)n);
    const uint64_t part = rp__coreset_partition_size(n, m);
    if (part)
        return select_partitioned(vectors, n, dim, m, projection_dim, seed, num_threads, release, progress, user_data,
                                  fn, part, indices_out);
    greedy g;
    memset(&g, 0, sizeof g);
    int status = rp__coreset_points_build_released(vectors, n, dim, projection_dim, seed, release, fn, &g.P);
    if (status == RP_OK) status = greedy_alloc(&g, m, fn);
    const int threads = (int)(num_threads ? num_threads : rp__cpu_count());
    if (status == RP_OK) status = greedy_start(&g, seed, threads, fn);
    if (status == RP_OK) {
        uint32_t selected = next_pick(&g);
        indices_out[0] = g.orig[selected];
        int stop = report(progress, user_data, 0, m);
        for (uint64_t it = 1; it < m && !stop; it++) {
            greedy_pass(&g, it - 1, selected, threads);
            selected = next_pick(&g);
            indices_out[it] = g.orig[selected];
            if ((it & 255) == 0 && report(progress, user_data, it, m)) stop = 1;
        }
        if (stop || report(progress, user_data, m, m))
            status = rp__fail(RP_E_CANCELLED, "%s: cancelled by the progress callback", fn);
    }
    last_stats = g.stats;
    greedy_free(&g);
    return status;
}
