/* Inline SVG figures of the report (rp_report_svg.h). Coordinates: a W x H viewBox, the plot area
 * inset by margins for the axis labels. */
#include "rp_report_svg.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define W 360
#define H 280
#define LEFT 52
#define RIGHT 14
#define TOP 14
#define BOTTOM 44
#define PLOT_W (W - LEFT - RIGHT)
#define PLOT_H (H - TOP - BOTTOM)
#define BINS 24

static double px(double x, double x_max) { return LEFT + PLOT_W * x / x_max; }
static double py(double y, double y_max) { return TOP + PLOT_H * (1.0 - y / y_max); }

/* Frame, ticks at fifths, axis labels. */
static void axes(FILE *f, double x_min, double x_max, double y_max, const char *x_label, const char *y_label,
                 int y_integer)
{
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" stroke=\"#444\"/>\n", LEFT, TOP,
            PLOT_W, PLOT_H);
    for (int i = 0; i <= 5; i++) {
        double gx = LEFT + PLOT_W * i / 5.0, gy = TOP + PLOT_H * (1.0 - i / 5.0);
        double xv = x_min + (x_max - x_min) * i / 5.0, yv = y_max * i / 5.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>", gx, TOP, gx, TOP + PLOT_H);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", LEFT, gy, LEFT + PLOT_W, gy);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%.3g</text>", gx,
                TOP + PLOT_H + 13, xv);
        if (y_integer) fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.0f</text>\n",
                               LEFT - 4, gy + 3, yv);
        else fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.1f</text>\n", LEFT - 4,
                     gy + 3, yv);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n", LEFT + PLOT_W / 2,
            H - 12, x_label);
    fprintf(f, "<text x=\"12\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 12 %d)\">%s"
               "</text>\n", TOP + PLOT_H / 2, TOP + PLOT_H / 2, y_label);
}

void svg_curve(FILE *f, const char *cls, const curve *c, double x_max, const char *x_label, const char *y_label,
               int diagonal, double mark_x, double mark_y)
{
    fprintf(f, "<svg class=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\">\n", cls, W, H, W, H);
    axes(f, 0, x_max, 1.0, x_label, y_label, 0);
    if (diagonal)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n",
                px(0, x_max), py(0, 1), px(x_max, x_max), py(x_max, 1));
    fprintf(f, "<polyline class=\"curve\" fill=\"none\" stroke=\"#1d4ed8\" stroke-width=\"2\" points=\"");
    for (size_t i = 0; i < c->count; i++)
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(c->points[i].x, x_max), py(c->points[i].y, 1));
    fprintf(f, "\"/>\n");
    if (mark_x >= 0)
        fprintf(f, "<circle class=\"operating-point\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#dc2626\"/>\n",
                px(mark_x, x_max), py(mark_y, 1));
    fprintf(f, "</svg>\n");
}

void svg_histogram(FILE *f, const float *scores, const uint8_t *labels, size_t count, double threshold)
{
    /* The range covers every score and the threshold, so the line is always inside the plot. */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < count; i++) {
        lo = fmin(lo, scores[i]);
        hi = fmax(hi, scores[i]);
    }
    if (!isnan(threshold)) lo = fmin(lo, threshold), hi = fmax(hi, threshold);
    if (!(hi > lo)) hi = lo + 1;
    unsigned bins[2][BINS] = {{0}};
    unsigned tallest = 1;
    for (size_t i = 0; i < count; i++) {
        int b = (int)((scores[i] - lo) / (hi - lo) * BINS);
        b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
        unsigned v = ++bins[labels[i] ? 1 : 0][b];
        if (v > tallest) tallest = v;
    }
    tallest = (tallest + 4) / 5 * 5; /* whole-number ticks at fifths */
    fprintf(f, "<svg class=\"histogram\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\">\n", W, H, W, H);
    /* x ticks in score units: axes() takes a [x_min, x_max] range for the labels. */
    axes(f, lo, hi, tallest, "image score", "images", 1);
    static const char *colour[2] = {"#16a34a", "#dc2626"};
    static const char *cls[2] = {"good", "defective"};
    double bw = (double)PLOT_W / BINS;
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < BINS; b++) {
            if (!bins[k][b]) continue;
            double top = py(bins[k][b], tallest);
            fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                       "fill-opacity=\"0.55\"/>\n", cls[k], LEFT + b * bw, top, bw, TOP + PLOT_H - top, colour[k]);
        }
    if (!isnan(threshold)) {
        double x = LEFT + PLOT_W * (threshold - lo) / (hi - lo);
        fprintf(f, "<line class=\"threshold\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#111\" "
                   "stroke-width=\"2\" stroke-dasharray=\"6 3\"/>\n", x, TOP, x, TOP + PLOT_H);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"%s\">threshold %.4g</text>\n",
                x + (x > LEFT + PLOT_W / 2 ? -4 : 4), TOP + 12, x > LEFT + PLOT_W / 2 ? "end" : "start", threshold);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\" fill-opacity=\"0.55\"/>"
               "<text x=\"%d\" y=\"%d\" font-size=\"10\">good</text>", LEFT + 8, TOP + 20, colour[0], LEFT + 22,
            TOP + 29);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\" fill-opacity=\"0.55\"/>"
               "<text x=\"%d\" y=\"%d\" font-size=\"10\">defective</text>\n", LEFT + 8, TOP + 34, colour[1],
            LEFT + 22, TOP + 43);
    fprintf(f, "</svg>\n");
}
