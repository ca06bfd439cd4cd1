/* The HTML report of rp-eval (rp_report.h): the page, its summary table and one section per
 * category. Figures come from rp_report_svg.c, gallery pictures from rp_report_gallery.c. The page
 * holds no script and loads nothing from the network: it opens from a copied folder or a USB stick
 * on a machine beside the line. */
#include "rp_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rp_curves.h"
#include "rp_report_gallery.h"
#include "rp_report_svg.h"

#define GALLERY_MAX 4 /* pictures per gallery row: the worst cases are what an engineer looks at */

struct rp_report {
    char dir[4096];
    char *summary, *sections; /* HTML built in memory, written out by report_close */
    size_t summary_size, sections_size;
    FILE *summary_f, *sections_f;
    int categories;
};

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "rp-eval: report: %s: %s\n", what, detail);
    exit(1);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) && errno != EEXIST) fail(path, strerror(errno));
}

rp_report *report_open(const char *dir)
{
    rp_report *r = calloc(1, sizeof *r);
    if (!r) fail(dir, "out of memory");
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    make_dir(r->dir);
    char img[4200];
    snprintf(img, sizeof img, "%s/img", r->dir);
    make_dir(img);
    r->summary_f = open_memstream(&r->summary, &r->summary_size);
    r->sections_f = open_memstream(&r->sections, &r->sections_size);
    if (!r->summary_f || !r->sections_f) fail(dir, "out of memory");
    return r;
}

/* Text into HTML: the five characters that could break the markup. */
static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A file name safe in a URL and on disk: letters, digits, '-' and '_' kept, the rest '_'. */
static void safe_name(char *out, size_t n, const char *s)
{
    size_t i = 0;
    for (; *s && i + 1 < n; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        out[i++] = ok ? c : '_';
    }
    out[i] = 0;
}

/* "test/<type>/<file>" of a path, as the gallery captions show it. */
static const char *short_name(const char *path)
{
    const char *p = path + strlen(path);
    int slashes = 0;
    while (p > path && slashes < 2)
        if (*--p == '/') slashes++;
    return slashes == 2 ? p + 1 : p;
}

static void rate_cell(FILE *f, double v)
{
    if (v < 0) fprintf(f, "<td>n/a</td>");
    else fprintf(f, "<td>%.1f%%</td>", 100 * v);
}

static void metric_cell(FILE *f, double v)
{
    if (v < 0) fprintf(f, "<td>n/a</td>");
    else fprintf(f, "<td>%.4f</td>", v);
}

typedef struct ranked_image {
    size_t index;
    float score;
} ranked_image;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const ranked_image *)a)->score, y = ((const ranked_image *)b)->score;
    return (x < y) - (x > y);
}

/* One gallery row: the images of one label ordered from the worst case (good: highest score;
 * defective: lowest), at most GALLERY_MAX. Those on the wrong side of the threshold are the false
 * rejects / escapes; when there are none the row still shows the closest calls, captioned so. */
static void gallery(rp_report *r, FILE *f, const report_category *c, const rp_scorer *scorer, int defective,
                    const char *cat_id)
{
    const double t = c->thresholds->image_threshold;
    ranked_image *list = malloc((c->count ? c->count : 1) * sizeof *list);
    if (!list) fail(c->name, "out of memory");
    size_t n = 0, wrong = 0;
    for (size_t i = 0; i < c->count; i++) {
        if (c->labels[i] != defective) continue;
        list[n++] = (ranked_image){i, defective ? -c->scores[i] : c->scores[i]};
        wrong += defective ? !(c->scores[i] > t) : c->scores[i] > t;
    }
    qsort(list, n, sizeof *list, by_score_desc);
    size_t shown = n < GALLERY_MAX ? n : GALLERY_MAX;
    fprintf(f, "<h3>%s</h3>\n<p>", defective ? "Missed defects (escapes)" : "Worst false rejects (good parts flagged)");
    if (wrong)
        fprintf(f, "%zu of %zu %s images %s; the %zu worst shown.", wrong, n, defective ? "defective" : "good",
                defective ? "scored at or below the threshold" : "scored above the threshold",
                wrong < shown ? wrong : shown);
    else
        fprintf(f, "None: every %s image is on the right side of the threshold. Shown: the %zu closest calls.",
                defective ? "defective" : "good", shown);
    fprintf(f, "</p>\n<div class=\"gallery %s\">\n", defective ? "escapes" : "false-rejects");
    for (size_t k = 0; k < shown; k++) {
        size_t i = list[k].index;
        int is_wrong = defective ? !(c->scores[i] > t) : c->scores[i] > t;
        if (wrong && !is_wrong) break; /* only the real mistakes when there are some */
        char stem[512];
        snprintf(stem, sizeof stem, "%s_%s_%zu", cat_id, defective ? "defective" : "good", k);
        int rc = gallery_write(r->dir, stem, c->paths[i], c->mask_paths[i], c->mask_threshold, scorer,
                               c->thresholds->pixel_threshold);
        if (rc) fail(c->paths[i], rp_last_error_message());
        fprintf(f, "<figure class=\"%s\"><div class=\"pair\"><img src=\"img/%s.png\" alt=\"image\">"
                   "<img src=\"img/%s_overlay.png\" alt=\"heat map\"></div><figcaption>",
                is_wrong ? "wrong" : "right", stem, stem);
        html_text(f, short_name(c->paths[i]));
        fprintf(f, "<br>score %.4g (threshold %.4g): %s</figcaption></figure>\n", c->scores[i], t,
                is_wrong ? (defective ? "escape" : "false reject") : (defective ? "caught" : "passed"));
    }
    fprintf(f, "</div>\n");
    free(list);
}

void report_add_category(rp_report *r, const report_category *c, const rp_scorer *scorer)
{
    const decision_counts *d = c->decisions;
    const rp_model_thresholds *t = c->thresholds;
    char id[300];
    safe_name(id, sizeof id, c->name);
    size_t good = 0;
    for (size_t i = 0; i < c->count; i++) good += !c->labels[i];
    double frr = decisions_false_reject_rate(d), esc = decisions_escape_rate(d);

    FILE *s = r->summary_f;
    fprintf(s, "<tr><td><a href=\"#cat-%s\">", id);
    html_text(s, c->name);
    fprintf(s, "</a></td><td>%zu / %zu</td>", good, c->count - good);
    metric_cell(s, c->image_auroc);
    metric_cell(s, c->pixel_auroc);
    metric_cell(s, c->aupro);
    fprintf(s, "<td>%u</td><td>%.4g</td>", t->calibration_images, t->image_threshold);
    rate_cell(s, frr);
    rate_cell(s, c->nominal_false_reject_rate);
    rate_cell(s, esc);
    fprintf(s, "</tr>\n");

    FILE *f = r->sections_f;
    fprintf(f, "<section class=\"category\" id=\"cat-%s\">\n<h2>", id);
    html_text(f, c->name);
    fprintf(f, "</h2>\n<p>%zu test images (%zu good, %zu defective). Thresholds calibrated on %u held-out normal "
               "training images (quantile rule, q = %g): image score &gt; %.4g is flagged; a map pixel &gt; %.4g is a "
               "defect pixel.</p>\n",
            c->count, good, c->count - good, t->calibration_images, t->quantile, t->image_threshold,
            t->pixel_threshold);
    fprintf(f, "<div class=\"figures\">\n<figure><figcaption>ROC, image scores (AUROC %.4f); red: the threshold"
               "</figcaption>\n", c->image_auroc);
    curve roc;
    if (curve_roc(c->scores, c->labels, c->count, &roc)) fail(c->name, "the ROC needs good and defective images");
    svg_curve(f, "roc", &roc, 1.0, "false-positive rate (good flagged)", "true-positive rate", 1, frr, 1 - esc);
    curve_free(&roc);
    fprintf(f, "</figure>\n");
    if (c->has_masks && c->aupro >= 0) {
        curve pro;
        int rc = curve_pro(c->maps, c->masks, c->count, c->side, 0.3, 400, &pro);
        if (rc) fail(c->name, rc == -2 ? "out of memory for the PRO curve" : "the PRO curve needs defect pixels");
        fprintf(f, "<figure><figcaption>PRO to FPR 0.3, pixels (AUPRO %.4f)</figcaption>\n", c->aupro);
        svg_curve(f, "pro", &pro, 0.3, "pixel false-positive rate", "per-region overlap", 0, -1, 0);
        curve_free(&pro);
        fprintf(f, "</figure>\n");
    }
    fprintf(f, "<figure><figcaption>Image scores; dashed: the calibrated threshold</figcaption>\n");
    svg_histogram(f, c->scores, c->labels, c->count, t->image_threshold);
    fprintf(f, "</figure>\n</div>\n");

    fprintf(f, "<table class=\"confusion\"><caption>At the threshold</caption>\n"
               "<tr><th></th><th>flagged</th><th>passed</th><th>rate</th></tr>\n"
               "<tr><th>defective</th><td>%llu</td><td class=\"bad\">%llu</td><td>escape %.1f%%</td></tr>\n"
               "<tr><th>good</th><td class=\"bad\">%llu</td><td>%llu</td><td>false reject %.1f%% (nominal %.1f%%)"
               "</td></tr>\n</table>\n",
            (unsigned long long)d->tp, (unsigned long long)d->fn, 100 * esc, (unsigned long long)d->fp,
            (unsigned long long)d->tn, 100 * frr, 100 * c->nominal_false_reject_rate);
    fprintf(f, "<p>Defect mask (map &gt; pixel threshold): good images with any defect pixel %.1f%%, defective "
               "images with none %.1f%%, defect pixels among all pixels of good images %.4f%%.</p>\n",
            100 * decisions_mask_false_reject_rate(d), 100 * decisions_mask_escape_rate(d),
            100 * decisions_pixel_false_positive_rate(d));
    gallery(r, f, c, scorer, 0, id);
    gallery(r, f, c, scorer, 1, id);
    fprintf(f, "</section>\n");
    r->categories++;
}

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#111;max-width:1200px}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
    "th{background:#f0f0f0}td:first-child{text-align:left}.bad{background:#fde2e2}"
    ".figures{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0.3em}figcaption{font-size:0.85em}"
    ".gallery{display:flex;flex-wrap:wrap;gap:0.8em}.gallery figure{border:1px solid #ccc;padding:4px}"
    ".gallery figure.wrong{border-color:#dc2626}.pair img{width:160px;height:auto;margin-right:2px}"
    "section{border-top:2px solid #444;margin-top:1.5em}";

void report_close(rp_report *r)
{
    fclose(r->summary_f);
    fclose(r->sections_f);
    char path[4200];
    snprintf(path, sizeof path, "%s/index.html", r->dir);
    FILE *f = fopen(path, "w");
    if (!f) fail(path, strerror(errno));
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>libreconpatch evaluation report</title>\n<style>%s</style></head><body>\n"
               "<h1>Evaluation report</h1>\n<p>libreconpatch %s. Good parts flagged are false rejects; defective "
               "parts passed are escapes. The nominal false-reject rate is the rate the threshold rule aims at "
               "(docs/pipeline.md).</p>\n"
               "<table id=\"summary\"><tr><th>category</th><th>good / defective</th><th>image AUROC</th>"
               "<th>pixel AUROC</th><th>AUPRO</th><th>calibration images</th><th>image threshold</th>"
               "<th>false-reject rate</th><th>nominal</th><th>escape rate</th></tr>\n%s</table>\n%s"
               "</body></html>\n",
            style, rp_version_string(), r->summary, r->sections);
    if (fclose(f)) fail(path, strerror(errno));
    fprintf(stderr, "rp-eval: report written to %s (%d categor%s)\n", path, r->categories,
            r->categories == 1 ? "y" : "ies");
    free(r->summary);
    free(r->sections);
    free(r);
}
