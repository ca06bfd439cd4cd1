/* The greedy coreset against PatchCore's sampler (tools/gen_bank_goldens.py), against the plain
 * greedy loop (the pruned selection must be the same index for index), and its rules. */
#include <reconpatch/bank.h>

#include "bank/coreset.h"
#include "bank/coreset_bound.h"
#include "bank/coreset_points.h"
#include "bank_test_data.h"
#include "coreset_reference.h"
#include "rp_test.h"
#include "rp_test_cpu.h"

#include <math.h>

static rp_bank *make_bank(uint32_t dim, uint64_t count, double ratio, uint32_t pd, uint64_t seed, uint32_t threads)
{
    rp_bank_params p;
    ck_assert_int_eq(rp_bank_params_init(&p, sizeof p), RP_OK);
    p.dim = dim;
    p.coreset_count = count;
    p.coreset_ratio = ratio;
    p.projection_dim = pd;
    p.seed = seed;
    p.num_threads = threads;
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_OK);
    return bank;
}

/* Freeze a bank of v (n x dim, added in three uneven calls); returns the selection (caller frees). */
static uint64_t *select_from(const float *v, uint64_t n, uint32_t dim, uint64_t count, double ratio, uint32_t pd,
                             uint64_t seed, uint32_t threads, uint64_t *m_out)
{
    rp_bank *bank = make_bank(dim, count, ratio, pd, seed, threads);
    uint64_t a = n / 3, b = n / 2;
    ck_assert_int_eq(rp_bank_add(bank, v, a, dim), RP_OK);
    ck_assert_int_eq(rp_bank_add(bank, v + a * dim, b - a, dim), RP_OK);
    ck_assert_int_eq(rp_bank_add(bank, v + b * dim, n - b, dim), RP_OK);
    ck_assert_uint_eq(rp_bank_size(bank), n);
    ck_assert_int_eq(rp_bank_freeze(bank, NULL, NULL), RP_OK);
    uint64_t m = rp_bank_size(bank);
    uint64_t *sel = malloc(m * sizeof(uint64_t));
    ck_assert_int_eq(rp_bank_get_selection(bank, sel, m), RP_OK);
    /* the bank holds exactly the selected rows, in the order they were added */
    float *kept = malloc((size_t)m * dim * sizeof(float));
    ck_assert_int_eq(rp_bank_get_vectors(bank, kept, (size_t)m * dim), RP_OK);
    uint64_t prev = 0;
    for (uint64_t i = 0; i < m; i++) {
        uint64_t smallest = UINT64_MAX;
        for (uint64_t j = 0; j < m; j++)
            if (sel[j] < smallest && (i == 0 || sel[j] > prev)) smallest = sel[j];
        ck_assert_uint_lt(smallest, n);
        ck_assert_int_eq(memcmp(kept + i * dim, v + smallest * dim, dim * sizeof(float)), 0);
        prev = smallest;
    }
    free(kept);
    rp_bank_free(bank);
    *m_out = m;
    return sel;
}

START_TEST(coreset__matches_patchcore_sampler_goldens)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/bank/coreset_cases.txt", rp_test_source_dir());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char name[64], layout[32];
    unsigned long long n, seed, data_seed, count;
    unsigned dim, pd;
    int cases = 0;
    while (fscanf(f, "%63s %llu %u %u %llu %llu %llu %31s", name, &n, &dim, &pd, &seed, &data_seed, &count,
                  layout) == 8) {
        float *v = bank_test_vectors(n, dim, data_seed, strcmp(layout, "clustered") == 0);
        uint64_t m;
        uint64_t *sel = select_from(v, n, dim, count, 0.0, pd, seed, 0, &m);
        ck_assert_uint_eq(m, count);
        snprintf(path, sizeof path, "%s/tests/data/bank/coreset_%s.txt", rp_test_source_dir(), name);
        FILE *g = fopen(path, "r");
        ck_assert_msg(g != NULL, "cannot open %s", path);
        for (uint64_t i = 0; i < m; i++) {
            unsigned long long want;
            ck_assert_int_eq(fscanf(g, "%llu", &want), 1);
            ck_assert_msg(sel[i] == want, "%s: pick %llu is %llu, PatchCore picked %llu", name,
                          (unsigned long long)i, (unsigned long long)sel[i], want);
        }
        fclose(g);
        free(sel);
        free(v);
        cases++;
    }
    fclose(f);
    ck_assert_int_ge(cases, 6);
}
END_TEST

START_TEST(coreset__same_seed_same_selection_other_seed_differs)
{
    const uint64_t n = 3000;
    const uint32_t dim = 64;
    float *v = bank_test_vectors(n, dim, 7, 0);
    uint64_t m1, m2, m3;
    uint64_t *a = select_from(v, n, dim, 0, 0.05, 32, 42, 0, &m1);
    uint64_t *b = select_from(v, n, dim, 0, 0.05, 32, 42, 0, &m2);
    uint64_t *c = select_from(v, n, dim, 0, 0.05, 32, 43, 0, &m3);
    ck_assert_uint_eq(m1, 150);
    ck_assert_uint_eq(m2, 150);
    ck_assert_int_eq(memcmp(a, b, m1 * sizeof(uint64_t)), 0);
    ck_assert_int_ne(memcmp(a, c, m1 * sizeof(uint64_t)), 0);
    free(a);
    free(b);
    free(c);
    free(v);
}
END_TEST

START_TEST(coreset__thread_count_does_not_change_selection)
{
    const uint64_t n = 5003;
    const uint32_t dim = 48;
    float *v = bank_test_vectors(n, dim, 8, 1);
    uint64_t m1, m2, m3;
    uint64_t *a = select_from(v, n, dim, 400, 0.0, 128, 5, 1, &m1);
    uint64_t *b = select_from(v, n, dim, 400, 0.0, 128, 5, 2, &m2);
    uint64_t *c = select_from(v, n, dim, 400, 0.0, 128, 5, 3, &m3);
    ck_assert_int_eq(memcmp(a, b, m1 * sizeof(uint64_t)), 0);
    ck_assert_int_eq(memcmp(a, c, m1 * sizeof(uint64_t)), 0);
    free(a);
    free(b);
    free(c);
    free(v);
}
END_TEST

START_TEST(coreset__ratio_and_count_rules)
{
    float *v = bank_test_vectors(103, 8, 9, 0);
    uint64_t m;
    free(select_from(v, 103, 8, 0, 0.25, 4, 1, 0, &m));
    ck_assert_uint_eq(m, 25); /* floor(103 * 0.25) */
    free(select_from(v, 103, 8, 0, 0.0, 4, 1, 0, &m));
    ck_assert_uint_eq(m, 10); /* default ratio 0.1 */
    free(select_from(v, 103, 8, 7, 0.9, 4, 1, 0, &m));
    ck_assert_uint_eq(m, 7); /* count overrides ratio */
    free(select_from(v, 5, 8, 0, 0.1, 4, 1, 0, &m));
    ck_assert_uint_eq(m, 1); /* at least one */
    uint64_t *all = select_from(v, 103, 8, 500, 0.0, 4, 1, 0, &m);
    ck_assert_uint_eq(m, 103); /* count above the size keeps everything, in order */
    for (uint64_t i = 0; i < m; i++) ck_assert_uint_eq(all[i], i);
    free(all);
    all = select_from(v, 103, 8, 0, 1.0, 4, 1, 0, &m);
    ck_assert_uint_eq(m, 103);
    free(all);
    free(v);
}
END_TEST

/* Independent double-precision replay of the greedy rule (no projection: pd == dim): distances
 * start as the mean distance to the documented start points, and every pick must be (up to
 * rounding) the farthest point from everything picked before. */
static double dist_double(const float *a, const float *b, uint32_t dim)
{
    double s = 0;
    for (uint32_t d = 0; d < dim; d++) {
        double diff = (double)a[d] - b[d];
        s += diff * diff;
    }
    return sqrt(s);
}

START_TEST(coreset__each_pick_is_farthest_from_previous_picks)
{
    const uint64_t n = 600;
    const uint32_t dim = 32, pd = 32;
    float *v = bank_test_vectors(n, dim, 10, 0);
    uint64_t m, starts[RP__CORESET_START_POINTS];
    uint64_t *sel = select_from(v, n, dim, 40, 0.0, pd, 3, 0, &m);
    uint32_t ns = rp__coreset_start_points(n, 3, starts);
    double *mind = malloc(n * sizeof(double));
    for (uint64_t p = 0; p < n; p++) {
        double s = 0;
        for (uint32_t j = 0; j < ns; j++) s += dist_double(v + p * dim, v + starts[j] * dim, dim);
        mind[p] = s / ns;
    }
    for (uint64_t it = 0; it < m; it++) {
        double best = -1;
        for (uint64_t p = 0; p < n; p++)
            if (mind[p] > best) best = mind[p];
        ck_assert_msg(mind[sel[it]] >= best * (1 - 1e-5), "pick %llu not farthest: %g < %g", (unsigned long long)it,
                      mind[sel[it]], best);
        for (uint64_t p = 0; p < n; p++) {
            double d = dist_double(v + p * dim, v + sel[it] * dim, dim);
            if (d < mind[p]) mind[p] = d;
        }
    }
    free(mind);
    free(sel);
    free(v);
}
END_TEST

/* Data sets that stress the pruning: clusters, exact duplicates, near-duplicates far from the
 * origin (where PatchCore's |a|^2 + |b|^2 - 2ab formula loses most digits, so the rounding margins
 * decide), a constant set, and points on a few lines (many equal distances: tie-breaks). */
enum layout { UNIFORM, CLUSTERED, DUPLICATES, FAR_NEAR_DUPLICATES, CONSTANT, LINES, LAYOUTS };

static float *layout_vectors(enum layout kind, uint64_t n, uint32_t dim, uint64_t seed)
{
    float *v = bank_test_vectors(n, dim, seed, kind == CLUSTERED);
    uint64_t state = seed * 7 + 1;
    for (uint64_t r = 0; r < n; r++) {
        float *row = v + r * dim;
        switch (kind) {
        case DUPLICATES: /* every row copies one of the first n / 10 + 1 rows */
            memcpy(row, v + (rp__prng_next(&state) % (n / 10 + 1)) * dim, dim * sizeof(float));
            break;
        case FAR_NEAR_DUPLICATES:
            for (uint32_t d = 0; d < dim; d++) row[d] = 300.0f + 1e-3f * row[d];
            break;
        case CONSTANT:
            for (uint32_t d = 0; d < dim; d++) row[d] = 0.5f;
            break;
        case LINES: /* 4 directions, integer steps: many exactly equal distances */
            for (uint32_t d = 0; d < dim; d++) row[d] = (float)(r / 4 % 16) * (float)((d + r % 4) % 3);
            break;
        default:
            break;
        }
    }
    return v;
}

static const char *layout_name(enum layout kind)
{
    static const char *names[] = {"uniform", "clustered", "duplicates", "far near-duplicates", "constant", "lines"};
    return names[kind];
}

/* rp__coreset_select (with `threads`) == rp__coreset_select_reference, index for index. */
static void expect_same_as_plain_loop(enum layout kind, uint64_t n, uint32_t dim, uint64_t m, uint32_t pd,
                                      uint64_t seed, uint32_t threads)
{
    float *v = layout_vectors(kind, n, dim, seed);
    uint64_t *fast = malloc(m * sizeof(uint64_t)), *plain = malloc(m * sizeof(uint64_t));
    ck_assert_int_eq(rp__coreset_select(v, n, dim, m, pd, seed, threads, NULL, NULL, "test", fast), RP_OK);
    ck_assert_int_eq(rp__coreset_select_reference(v, n, dim, m, pd, seed, "test", plain), RP_OK);
    for (uint64_t i = 0; i < m; i++)
        ck_assert_msg(fast[i] == plain[i],
                      "%s n=%llu dim=%u pd=%u m=%llu seed=%llu threads=%u: pick %llu is %llu, plain loop %llu",
                      layout_name(kind), (unsigned long long)n, dim, pd, (unsigned long long)m,
                      (unsigned long long)seed, threads, (unsigned long long)i, (unsigned long long)fast[i],
                      (unsigned long long)plain[i]);
    free(fast);
    free(plain);
    free(v);
}

START_TEST(coreset__pruned_selection_equals_plain_loop_on_every_layout)
{
    /* sizes around the 16-row kernel groups, with and without projection (pd < dim, pd == dim,
     * pd > dim), more than 256 picks so the rows get re-ordered by cluster */
    for (int kind = 0; kind < LAYOUTS; kind++) {
        expect_same_as_plain_loop((enum layout)kind, 3001, 48, 400, 16, 11 + kind, 1);
        expect_same_as_plain_loop((enum layout)kind, 1200, 20, 300, 20, 21 + kind, 2);
        expect_same_as_plain_loop((enum layout)kind, 517, 6, 517, 9, 31 + kind, 1); /* every point */
        expect_same_as_plain_loop((enum layout)kind, 33, 130, 17, 128, 41 + kind, 3);
    }
}
END_TEST

START_TEST(coreset__pruned_selection_equals_plain_loop_random_shapes)
{
    /* shapes and seeds from a generator: odd dims (kernel tails), tiny n, m from 1 to n */
    uint64_t state = 2024;
    for (int trial = 0; trial < 40; trial++) {
        const enum layout kind = (enum layout)(rp__prng_next(&state) % LAYOUTS);
        const uint64_t n = 1 + rp__prng_next(&state) % 900;
        const uint32_t dim = 1 + (uint32_t)(rp__prng_next(&state) % 70);
        const uint32_t pd = rp__prng_next(&state) % 3 == 0 ? dim : 1 + (uint32_t)(rp__prng_next(&state) % 40);
        const uint64_t m = 1 + rp__prng_next(&state) % n;
        expect_same_as_plain_loop(kind, n, dim, m, pd, rp__prng_next(&state), 1 + trial % 3);
    }
}
END_TEST

START_TEST(coreset__thread_count_does_not_change_selection_on_parallel_passes)
{
    /* large enough that the early passes run on a thread team */
    const uint64_t n = 60000, m = 300;
    const uint32_t dim = 24;
    float *v = layout_vectors(CLUSTERED, n, dim, 77);
    uint64_t *a = malloc(m * sizeof(uint64_t)), *b = malloc(m * sizeof(uint64_t));
    uint64_t *c = malloc(m * sizeof(uint64_t)), *plain = malloc(m * sizeof(uint64_t));
    ck_assert_int_eq(rp__coreset_select(v, n, dim, m, 16, 5, 1, NULL, NULL, "test", a), RP_OK);
    ck_assert_int_eq(rp__coreset_select(v, n, dim, m, 16, 5, 2, NULL, NULL, "test", b), RP_OK);
    ck_assert_int_eq(rp__coreset_select(v, n, dim, m, 16, 5, 4, NULL, NULL, "test", c), RP_OK);
    ck_assert_int_eq(rp__coreset_select_reference(v, n, dim, m, 16, 5, "test", plain), RP_OK);
    ck_assert_int_eq(memcmp(a, plain, m * sizeof(uint64_t)), 0);
    ck_assert_int_eq(memcmp(b, plain, m * sizeof(uint64_t)), 0);
    ck_assert_int_eq(memcmp(c, plain, m * sizeof(uint64_t)), 0);
    free(a);
    free(b);
    free(c);
    free(plain);
    free(v);
}
END_TEST

START_TEST(coreset_sketch__is_a_lower_bound_on_every_layout)
{
    /* the pruning relies on it: sketch bound <= exact distance between the projected rows, also
     * for rank-deficient data (lines, constant) where most sketch directions do not exist */
    for (int kind = 0; kind < LAYOUTS; kind++)
        for (int shape = 0; shape < 2; shape++) {
            const uint64_t n = 700;
            const uint32_t dim = shape ? 40 : 20, pd = shape ? 24 : 20;
            float *v = layout_vectors((enum layout)kind, n, dim, 3 + kind);
            rp__coreset_points P;
            ck_assert_int_eq(rp__coreset_points_build(v, n, dim, pd, 9, "test", &P), RP_OK);
            float *sk = aligned_alloc(64, n * RP__CORESET_SKETCH * sizeof(float));
            ck_assert_int_eq(rp__coreset_sketches(&P, 2, "test", sk), RP_OK);
            float largest = 0.0f;
            for (uint64_t p = 0; p < n; p++)
                if (P.norm[p] > largest) largest = P.norm[p];
            int tight = 0;
            for (uint64_t p = 0; p < n; p += 3)
                for (uint64_t q = 1; q < n; q += 7) {
                    double exact = 0.0;
                    for (uint32_t d = 0; d < pd; d++) {
                        const double diff = (double)P.y[p * pd + d] - (double)P.y[q * pd + d];
                        exact += diff * diff;
                    }
                    exact = sqrt(exact);
                    const float d2 = rp__coreset_sketch_d2(sk + p * RP__CORESET_SKETCH, sk + q * RP__CORESET_SKETCH);
                    const double below = rp__coreset_sketch_below(d2, sqrt((double)largest));
                    ck_assert_msg(below <= exact, "%s pd=%u: sketch bound %.9g above the distance %.9g (%llu, %llu)",
                                  layout_name((enum layout)kind), pd, below, exact, (unsigned long long)p,
                                  (unsigned long long)q);
                    tight += below > 0.5 * exact;
                }
            if (kind == CLUSTERED) ck_assert_int_gt(tight, 0); /* and it is not trivially 0 */
            free(sk);
            rp__coreset_points_free(&P);
            free(v);
        }
}
END_TEST

START_TEST(coreset_kernels__every_distance_kernel_gives_the_same_bits)
{
    /* the fast selection and the plain loop share one kernel per run, but runs on CPUs with and
     * without AVX-512 / AVX2 must pick the same points: every kernel this CPU can run must give
     * bit-identical distances (odd dims exercise the leftover-dimension path, odd counts the
     * partial groups of 16) */
    rp__coreset_distance_fn fns[3];
    const char *names[3];
    const uint32_t nk = rp__coreset_distance_kernels(fns, names);
    ck_assert_uint_ge(nk, 1);
    const uint32_t pds[] = {128, 20, 23, 5, 1};
    for (int kind = 0; kind < LAYOUTS; kind++)
        for (uint32_t t = 0; t < sizeof pds / sizeof *pds; t++) {
            const uint64_t n = 301;
            const uint32_t pd = pds[t];
            float *v = layout_vectors((enum layout)kind, n, pd, 40 + kind);
            rp__coreset_points P;
            ck_assert_int_eq(rp__coreset_points_build(v, n, pd, pd, 9, "test", &P), RP_OK);
            uint32_t idx[301];
            for (uint32_t i = 0; i < n; i++) idx[i] = (uint32_t)((i * 97u + 13u) % n);
            float out[3][301];
            for (uint32_t c = 0; c < 5; c++) {
                const uint32_t centre = c * 61u % (uint32_t)n, count = (uint32_t)n - c * 7u;
                for (uint32_t k = 0; k < nk; k++)
                    fns[k](P.y, P.norm, pd, idx, count, P.y + (size_t)centre * pd, P.norm[centre], out[k]);
                for (uint32_t k = 1; k < nk; k++)
                    ck_assert_msg(!memcmp(out[0], out[k], count * sizeof(float)),
                                  "%s pd=%u: kernel %s differs from %s", layout_name((enum layout)kind), pd,
                                  names[k], names[0]);
            }
            rp__coreset_points_free(&P);
            free(v);
        }
}
END_TEST

static int stop_at_second_call(const rp_progress *pr, void *ud)
{
    ck_assert_int_eq(pr->stage, RP_STAGE_CORESET);
    return ++*(int *)ud >= 2;
}

START_TEST(coreset_partitioned__each_partition_is_the_plain_loop_on_its_rows)
{
    /* RP_CORESET_PARTITION=1024: 5000 points in 5 runs of 1000 rows, budgets by largest
     * remainder computed here independently, each run selected by the plain loop on its own rows */
    const uint64_t n = 5000;
    const uint32_t dim = 20, pd = 8;
    float *v = layout_vectors(CLUSTERED, n, dim, 21);
    ck_assert_int_eq(setenv("RP_CORESET_PARTITION", "1024", 1), 0);
    const uint64_t ms[] = {5, 333, 1234};
    for (int t = 0; t < 3; t++) {
        const uint64_t m = ms[t], parts = 5, rows = n / parts;
        ck_assert_uint_eq(rp__coreset_partition_size(n, m), 1024);
        /* equal runs: m * 1000 / 5000 each, the remainder to the lowest partitions */
        uint64_t budget[5], given = 0;
        for (uint64_t i = 0; i < parts; i++) given += budget[i] = m * rows / n;
        for (uint64_t i = 0; given < m; i++, given++) budget[i]++;
        uint64_t *got = malloc(m * sizeof(uint64_t)), nn[8], mm[8];
        ck_assert_uint_eq(rp__coreset_partition_budgets(n, m, 1024, nn, mm), parts);
        for (uint64_t i = 0; i < parts; i++) ck_assert_uint_eq(mm[i], budget[i]);
        for (uint32_t threads = 1; threads <= 3; threads += 2) {
            ck_assert_int_eq(rp__coreset_select(v, n, dim, m, pd, 7, threads, NULL, NULL, "test", got), RP_OK);
            uint64_t at = 0;
            for (uint64_t i = 0; i < parts; i++) {
                if (!budget[i]) continue;
                uint64_t *plain = malloc(budget[i] * sizeof(uint64_t));
                ck_assert_int_eq(
                    rp__coreset_select_reference(v + i * rows * dim, rows, dim, budget[i], pd, 7, "test", plain), RP_OK);
                for (uint64_t k = 0; k < budget[i]; k++) ck_assert_uint_eq(got[at + k], plain[k] + i * rows);
                at += budget[i];
                free(plain);
            }
            ck_assert_uint_eq(at, m);
        }
        free(got);
    }
    /* the progress callback still cancels */
    {
        int calls = 0;
        uint64_t *got = malloc(333 * sizeof(uint64_t));
        ck_assert_int_eq(rp__coreset_select(v, n, dim, 333, pd, 7, 2, stop_at_second_call, &calls, "test", got),
                         RP_E_CANCELLED);
        ck_assert_int_ge(calls, 2);
        free(got);
    }
    /* "0" turns it off: the whole set, exactly */
    ck_assert_int_eq(setenv("RP_CORESET_PARTITION", "0", 1), 0);
    ck_assert_uint_eq(rp__coreset_partition_size(n, 333), 0);
    /* unset or empty: always exact (opt-in only) */
    ck_assert_int_eq(setenv("RP_CORESET_PARTITION", "", 1), 0);
    ck_assert_uint_eq(rp__coreset_partition_size(n, 333), 0);
    ck_assert_int_eq(unsetenv("RP_CORESET_PARTITION"), 0);
    ck_assert_uint_eq(rp__coreset_partition_size(n, 333), 0);
    ck_assert_uint_eq(rp__coreset_partition_size(4000000, 40000), 0);
    free(v);
}
END_TEST

/* Rows a release callback was told about, each counted. */
static void count_released(void *ctx, uint64_t first, uint64_t count)
{
    uint32_t *seen = ctx;
#pragma omp critical
    for (uint64_t i = first; i < first + count; i++) seen[i]++;
}

START_TEST(coreset_released__tells_every_row_once_and_selects_the_same)
{
    /* Input read once and let go (a spilled bank): the release callback hears of every row
     * exactly once, projected or copied (dim == pd), whole or in partitions, and the picks are
     * those of the plain call. */
    const uint64_t n = 5000, m = 333;
    const uint32_t dim = 20;
    float *v = layout_vectors(CLUSTERED, n, dim, 21);
    uint32_t *seen = malloc(n * sizeof *seen);
    uint64_t *a = malloc(m * sizeof(uint64_t)), *b = malloc(m * sizeof(uint64_t));
    const char *partition[2] = {"0", "1024"};
    for (int p = 0; p < 2; p++)
        for (uint32_t pd = 8; pd <= dim; pd += dim - 8) {
            ck_assert_int_eq(setenv("RP_CORESET_PARTITION", partition[p], 1), 0);
            memset(seen, 0, n * sizeof *seen);
            const rp__coreset_release release = {count_released, seen};
            ck_assert_int_eq(rp__coreset_select_released(v, n, dim, m, pd, 7, 2, &release, NULL, NULL, "test", a),
                             RP_OK);
            ck_assert_int_eq(rp__coreset_select(v, n, dim, m, pd, 7, 2, NULL, NULL, "test", b), RP_OK);
            ck_assert_int_eq(memcmp(a, b, m * sizeof(uint64_t)), 0);
            for (uint64_t i = 0; i < n; i++) ck_assert_uint_eq(seen[i], 1);
        }
    ck_assert_int_eq(unsetenv("RP_CORESET_PARTITION"), 0);
    free(v);
    free(seen);
    free(a);
    free(b);
}
END_TEST

static int cancel_at_second_report(const rp_progress *pr, void *ud)
{
    ck_assert_int_eq(pr->stage, RP_STAGE_CORESET);
    return ++*(int *)ud >= 2;
}

START_TEST(coreset__progress_cancel_leaves_bank_open_and_unchanged)
{
    const uint64_t n = 4000;
    float *v = bank_test_vectors(n, 16, 11, 0);
    rp_bank *bank = make_bank(16, 1000, 0.0, 8, 1, 0);
    ck_assert_int_eq(rp_bank_add(bank, v, n, 16), RP_OK);
    int calls = 0;
    ck_assert_int_eq(rp_bank_freeze(bank, cancel_at_second_report, &calls), RP_E_CANCELLED);
    ck_assert_int_eq(rp_bank_is_frozen(bank), 0);
    ck_assert_uint_eq(rp_bank_size(bank), n);
    float *back = malloc(n * 16 * sizeof(float));
    ck_assert_int_eq(rp_bank_get_vectors(bank, back, n * 16), RP_OK);
    ck_assert_int_eq(memcmp(back, v, n * 16 * sizeof(float)), 0);
    ck_assert_int_eq(rp_bank_freeze(bank, NULL, NULL), RP_OK);
    ck_assert_uint_eq(rp_bank_size(bank), 1000);
    free(back);
    free(v);
    rp_bank_free(bank);
}
END_TEST

START_TEST(coreset__start_points_are_distinct)
{
    uint64_t s[RP__CORESET_START_POINTS];
    ck_assert_uint_eq(rp__coreset_start_points(12, 99, s), 10);
    for (int i = 0; i < 10; i++) {
        ck_assert_uint_lt(s[i], 12);
        for (int j = 0; j < i; j++) ck_assert_uint_ne(s[i], s[j]);
    }
    ck_assert_uint_eq(rp__coreset_start_points(4, 99, s), 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bank_coreset");
    TCase *tc = tcase_create("coreset");
    tcase_add_test(tc, coreset__matches_patchcore_sampler_goldens);
    tcase_add_test(tc, coreset__same_seed_same_selection_other_seed_differs);
    tcase_add_test(tc, coreset__thread_count_does_not_change_selection);
    tcase_add_test(tc, coreset__ratio_and_count_rules);
    tcase_add_test(tc, coreset__each_pick_is_farthest_from_previous_picks);
    tcase_add_test(tc, coreset__progress_cancel_leaves_bank_open_and_unchanged);
    tcase_add_test(tc, coreset__start_points_are_distinct);
    tcase_add_test(tc, coreset_sketch__is_a_lower_bound_on_every_layout);
    tcase_add_test(tc, coreset_kernels__every_distance_kernel_gives_the_same_bits);
    tcase_add_test(tc, coreset_partitioned__each_partition_is_the_plain_loop_on_its_rows);
    tcase_add_test(tc, coreset_released__tells_every_row_once_and_selects_the_same);
    tcase_add_test(tc, coreset__pruned_selection_equals_plain_loop_on_every_layout);
    tcase_add_test(tc, coreset__pruned_selection_equals_plain_loop_random_shapes);
    tcase_add_test(tc, coreset__thread_count_does_not_change_selection_on_parallel_passes);
    tcase_set_timeout(tc, 0);
    rp_test_add_cpu_switch_case(tc);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
