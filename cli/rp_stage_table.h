/* Where each image's time went, from the library's stage clocks (rp_timing_*, core.h): per image
 * the stages' times, the time the library spent outside them, and the caller's own time, printed
 * as one table whose mean column adds up to the whole time per image (medians beside it, which
 * do not add up). Shared by rp-eval --timing and rp-bench-pipeline; docs/scoring.md. */
#ifndef RP_STAGE_TABLE_H
#define RP_STAGE_TABLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reconpatch/reconpatch.h>

enum {
    RP_STAGE_TABLE_OUTSIDE = RP_TIMING_COUNT, /* in library calls, outside every stage */
    RP_STAGE_TABLE_CALLER,                    /* the caller's own work between the calls */
    RP_STAGE_TABLE_WHOLE,
    RP_STAGE_TABLE_COLUMNS
};

typedef struct rp_stage_table {
    size_t n, capacity;
    double *ms; /* n rows of RP_STAGE_TABLE_COLUMNS milliseconds */
} rp_stage_table;

/* One image: stage_seconds from rp_timing_take, calls_seconds the time spent inside library calls,
 * whole_seconds the image's whole time. Exits on out of memory (a tool, not the library). */
static inline void rp_stage_table_add(rp_stage_table *t, const double *stage_seconds, double calls_seconds,
                                      double whole_seconds)
{
    if (t->n == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 64;
        t->ms = realloc(t->ms, t->capacity * RP_STAGE_TABLE_COLUMNS * sizeof *t->ms);
        if (!t->ms) {
            fprintf(stderr, "out of memory for the stage table\n");
            exit(1);
        }
    }
    double *row = t->ms + t->n++ * RP_STAGE_TABLE_COLUMNS, staged = 0;
    for (int s = 0; s < RP_TIMING_COUNT; s++) {
        row[s] = stage_seconds[s] * 1000.0;
        staged += stage_seconds[s];
    }
    row[RP_STAGE_TABLE_OUTSIDE] = (calls_seconds - staged) * 1000.0;
    row[RP_STAGE_TABLE_CALLER] = (whole_seconds - calls_seconds) * 1000.0;
    row[RP_STAGE_TABLE_WHOLE] = whole_seconds * 1000.0;
}

static inline int rp_stage_table_cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean and median of column c. */
static inline void rp_stage_table_column(const rp_stage_table *t, int c, double *mean, double *median)
{
    *mean = *median = 0;
    if (!t->n) return;
    double *v = malloc(t->n * sizeof *v);
    if (!v) exit(1);
    for (size_t i = 0; i < t->n; i++) {
        v[i] = t->ms[i * RP_STAGE_TABLE_COLUMNS + c];
        *mean += v[i];
    }
    *mean /= (double)t->n;
    qsort(v, t->n, sizeof *v, rp_stage_table_cmp);
    *median = t->n % 2 ? v[t->n / 2] : 0.5 * (v[t->n / 2 - 1] + v[t->n / 2]);
    free(v);
}

/* Column c's name in the printed table (json 0) or as a JSON key (json 1). */
static inline const char *rp_stage_table_name(int c, int json)
{
    static const char *const extra[][2] = {{"library, outside the stages", "library_outside_stages"},
                                           {"caller's own work", "caller"},
                                           {"whole, per image", "whole"}};
    return c < RP_TIMING_COUNT ? rp_timing_stage_name(c) : extra[c - RP_TIMING_COUNT][json];
}

/* The table, with `caller` naming what the caller's own column holds. */
static inline void rp_stage_table_print(const rp_stage_table *t, FILE *f, const char *title, const char *caller)
{
    fprintf(f, "%s: where the time went, %zu images (ms per image)\n", title, t->n);
    fprintf(f, "  %-30s %9s %9s\n", "stage", "mean", "median");
    for (int c = 0; c < RP_STAGE_TABLE_COLUMNS; c++) {
        double mean, median;
        rp_stage_table_column(t, c, &mean, &median);
        fprintf(f, "  %-30s %9.2f %9.2f%s%s\n", rp_stage_table_name(c, 0), mean, median,
                c == RP_STAGE_TABLE_CALLER ? "   " : "", c == RP_STAGE_TABLE_CALLER ? caller : "");
    }
    fprintf(f, "  (the means add up to the whole; the medians need not)\n");
}

/* "name": mean, ... as a JSON object body, for the tools' JSON output. */
static inline void rp_stage_table_json(const rp_stage_table *t, FILE *f)
{
    fprintf(f, "{");
    for (int c = 0; c < RP_STAGE_TABLE_COLUMNS; c++) {
        double mean, median;
        rp_stage_table_column(t, c, &mean, &median);
        fprintf(f, "%s\"%s\": %.3f", c ? ", " : "", rp_stage_table_name(c, 1), mean);
    }
    fprintf(f, "}");
}

static inline void rp_stage_table_free(rp_stage_table *t)
{
    free(t->ms);
    memset(t, 0, sizeof *t);
}

#endif
