/* PatchCore's approximate greedy coreset (sampler.py ApproximateGreedyCoresetSampler), exact
 * semantics, fast: see coreset.c and docs/memory-bank.md. Files: coreset.c (generators and the
 * pruned greedy loop), coreset_points.c (projection, start distances, distance kernel). The plain
 * loop the tests compare against is tests/unit/bank/coreset_reference.c (not in the library). */
#ifndef RP_BANK_CORESET_H
#define RP_BANK_CORESET_H

#include <stdint.h>

#include "reconpatch/core.h"

/* PatchCore's number_of_starting_points. */
#define RP__CORESET_START_POINTS 10u

/* The random projection (projection_dim x dim, row-major, torch.nn.Linear weight layout):
 * uniform in [-1/sqrt(dim), 1/sqrt(dim)) like torch.nn.Linear's default init, drawn row by row
 * from the splitmix64 stream seeded with seed. */
void rp__coreset_projection(uint32_t projection_dim, uint32_t dim, uint64_t seed, float *out);

/* min(10, n) distinct start points: splitmix64 stream seeded with seed ^ RP__CORESET_START_SALT,
 * each next() % n, skipping repeats. Returns how many were written. */
#define RP__CORESET_START_SALT 0x5354415254ull /* "START" */
uint32_t rp__coreset_start_points(uint64_t n, uint64_t seed, uint64_t *out);

/* Pick m of the n row-major vectors (n x dim): indices_out[m] in the order the greedy picks them.
 * The vectors are projected to projection_dim dims (skipped when dim == projection_dim, as in
 * PatchCore). progress may be NULL. Returns RP_OK, RP_E_NOMEM, RP_E_BACKEND, RP_E_LIMIT (n above
 * 2^32 - 2) or RP_E_CANCELLED (message set, prefixed with fn). Same indices as the plain loop of
 * the tests (rp__coreset_select_reference), for any num_threads. */
int rp__coreset_select(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                       uint64_t seed, uint32_t num_threads, rp_progress_fn progress, void *user_data, const char *fn,
                       uint64_t *indices_out);

/* The same for input that is read once and let go (a spilled feature store): release (may be
 * NULL) is told after each block of rows has been projected or copied (coreset_points.h). */
struct rp__coreset_release;
int rp__coreset_select_released(const float *vectors, uint64_t n, uint32_t dim, uint64_t m, uint32_t projection_dim,
                                uint64_t seed, uint32_t num_threads, const struct rp__coreset_release *release,
                                rp_progress_fn progress, void *user_data, const char *fn, uint64_t *indices_out);

/* Selection in partitions (an approximation, docs/memory-bank.md "The coreset at scale"): the n
 * points are cut into P = ceil(n / size) runs of consecutive rows (sizes differing by at most 1),
 * each gets the budget m_i = floor(m n_i / n), the remaining picks going to the largest remainders
 * (lower partition first on ties), and each run is selected exactly on its own (same seed, its own
 * start points); the output is partition 0's picks in greedy order, then partition 1's, ... with
 * their indices in the whole set. Opt-in, used when rp__coreset_partition_size(n, m) is non-zero:
 * RP_CORESET_PARTITION = N (>= 1024; smaller values count as 1024) partitions of at most N points
 * whenever n > N; unset, empty or "0": never (the exact selection). Never when m == n or m < P.
 * docs/memory-bank.md gives the size measured at 3.1M points. */
uint64_t rp__coreset_partition_size(uint64_t n, uint64_t m);
/* The budgets above: m_out[i] for the P partitions (P = ceil(n / size)); returns P. */
uint64_t rp__coreset_partition_budgets(uint64_t n, uint64_t m, uint64_t size, uint64_t *n_out, uint64_t *m_out);

/* What the pruning left to do in the last rp__coreset_select call of this thread (for benchmarks;
 * cumulative over the passes, and per tenth of the picks in the arrays). */
#define RP__CORESET_STAT_BUCKETS 10
typedef struct {
    uint64_t n, m, passes;
    uint64_t member_visits;     /* members the list-level bounds could not rule out (sketch-screened) */
    uint64_t rows_computed;     /* of those, distances computed with the full row */
    uint64_t centre_candidates; /* centre distances computed (centres the sketch scan kept) */
    uint64_t clusters_checked;  /* clusters whose member lists were opened */
    uint64_t unassigned_left_at; /* pick at which the unassigned group emptied (0: never) */
    uint64_t reorders;
    uint64_t partitions; /* 0 for an exact selection, else how many partitions were selected */
    uint64_t visits_by_tenth[RP__CORESET_STAT_BUCKETS], rows_by_tenth[RP__CORESET_STAT_BUCKETS];
    float radius_by_tenth[RP__CORESET_STAT_BUCKETS]; /* the pick's distance at the end of each tenth */
    double largest_norm;  /* sqrt of the largest squared norm (the bounds' scale) */
    double rounding_slack; /* sqrt(e): the margin the bounds give the formula's rounding */
    const char *isa; /* rp__coreset_kernel_isa() */
} rp__coreset_stats;
void rp__coreset_last_stats(rp__coreset_stats *out);

#endif
