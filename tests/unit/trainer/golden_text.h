/* Reader for the text golden files written by tools/gen_trainer_goldens.py: for each array a line
 * "name count" then count numbers, one per line. Test helper: failures abort the test. */
#ifndef RP_TRAINER_GOLDEN_TEXT_H
#define RP_TRAINER_GOLDEN_TEXT_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct golden_array {
    char name[64];
    size_t count;
    double *v;
} golden_array;

typedef struct golden_file {
    golden_array a[64];
    size_t n;
} golden_file;

/* Load tests/data/trainer/<name> under RP_SOURCE_DIR. The caller frees it with golden_free. */
static inline golden_file *golden_load(const char *name)
{
    const char *root = getenv("RP_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/trainer/%s", root ? root : ".", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "golden file %s is missing (run tools/gen_trainer_goldens.py)", path);
    golden_file *g = calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    char nm[64];
    size_t count;
    while (fscanf(f, "%63s %zu", nm, &count) == 2) {
        ck_assert_msg(g->n < 64, "too many arrays in %s", path);
        golden_array *a = &g->a[g->n++];
        snprintf(a->name, sizeof a->name, "%s", nm);
        a->count = count;
        a->v = malloc((count ? count : 1) * sizeof(double));
        ck_assert_ptr_nonnull(a->v);
        for (size_t i = 0; i < count; i++) ck_assert_msg(fscanf(f, "%lf", &a->v[i]) == 1, "%s: short array %s", path, nm);
    }
    fclose(f);
    return g;
}

static inline void golden_free(golden_file *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) free(g->a[i].v);
    free(g);
}

/* The array called name; expect_count 0 accepts any length. */
static inline const double *golden_get(const golden_file *g, const char *name, size_t expect_count)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->a[i].name, name) == 0) {
            ck_assert_msg(!expect_count || g->a[i].count == expect_count, "golden %s has %zu values, expected %zu",
                          name, g->a[i].count, expect_count);
            return g->a[i].v;
        }
    ck_abort_msg("golden array %s is missing", name);
    return NULL;
}

static inline double golden_scalar(const golden_file *g, const char *name) { return golden_get(g, name, 1)[0]; }

/* got[i] within rel * max(|want[i]|, floor * max_j |want[j]|) of want[i]: relative where values are
 * large, scaled to the array where they are near zero (cancellation makes those noisy). */
static inline void assert_close(const char *what, const double *got, const double *want, size_t n, double rel,
                                double floor)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double tol = rel * fmax(fabs(want[i]), floor * scale);
        ck_assert_msg(fabs(got[i] - want[i]) <= tol, "%s[%zu]: got %.10g, want %.10g (tol %.3g)", what, i, got[i],
                      want[i], tol);
    }
}

static inline void assert_close_f(const char *what, const float *got, const double *want, size_t n, double rel,
                                  double floor)
{
    double *tmp = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(tmp);
    for (size_t i = 0; i < n; i++) tmp[i] = got[i];
    assert_close(what, tmp, want, n, rel, floor);
    free(tmp);
}

#endif
