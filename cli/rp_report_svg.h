/* rp-eval --report: the figures as inline SVG (no script, no external file): a curve in a unit
 * frame and a two-class score histogram with the threshold marked. */
#ifndef RP_CLI_REPORT_SVG_H
#define RP_CLI_REPORT_SVG_H

#include <stdio.h>

#include "rp_curves.h"

/* A curve on [0, x_max] x [0, 1]; diagonal draws the chance line; a marker at (mark_x, mark_y)
 * when mark_x >= 0 (the operating point). cls names the figure for the page and its tests. */
void svg_curve(FILE *f, const char *cls, const curve *c, double x_max, const char *x_label, const char *y_label,
               int diagonal, double mark_x, double mark_y);

/* Histogram of the good (label 0) and defective (label 1) image scores, one colour each, with a
 * vertical line at threshold (skipped when NaN). */
void svg_histogram(FILE *f, const float *scores, const uint8_t *labels, size_t count, double threshold);

#endif
