/* Heat-map overlays (an anomaly map coloured with "jet" and alpha-blended over its image) and
 * saving an rp_image as PNG, for tools that show where a model sees a defect. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "image/image_internal.h"
#include "image/png_write.h"

/* matplotlib's "jet": piecewise-linear (x, value) knots per channel (its _jet_data). */
typedef struct knot {
    double x, v;
} knot;

static const knot jet_red[] = {{0, 0}, {0.35, 0}, {0.66, 1}, {0.89, 1}, {1, 0.5}};
static const knot jet_green[] = {{0, 0}, {0.125, 0}, {0.375, 1}, {0.64, 1}, {0.91, 0}, {1, 0}};
static const knot jet_blue[] = {{0, 0.5}, {0.11, 1}, {0.34, 1}, {0.65, 0}, {1, 0}};

#define JET_ENTRIES 256 /* matplotlib's default lookup-table length */

/* Value at position x (in table-entry units, 0 .. 255). The knots are scaled to entry units
 * before interpolating, in the same order of operations as matplotlib's _create_lookup_table, so
 * the table is bit-identical to matplotlib's and colours that land exactly on a rounding tie
 * (4.5 / 255) round the same way. */
static double interpolate(const knot *k, size_t n, double x)
{
    const double last = JET_ENTRIES - 1;
    for (size_t j = 1; j < n; j++) {
        double x0 = k[j - 1].x * last, x1 = k[j].x * last;
        if (x <= x1) return (x - x0) / (x1 - x0) * (k[j].v - k[j - 1].v) + k[j - 1].v;
    }
    return k[n - 1].v;
}

/* Entry i of the table: the colour map at i / 255. matplotlib samples at 255 * linspace(0, 1, 256),
 * i.e. 255 * (i * (1 / 255)), which is not always exactly i. */
static void jet_entry(int i, double rgb[3])
{
    const double step = 1.0 / (JET_ENTRIES - 1);
    double x = i == JET_ENTRIES - 1 ? (double)i : (i * step) * (JET_ENTRIES - 1);
    rgb[0] = interpolate(jet_red, sizeof jet_red / sizeof *jet_red, x);
    rgb[1] = interpolate(jet_green, sizeof jet_green / sizeof *jet_green, x);
    rgb[2] = interpolate(jet_blue, sizeof jet_blue / sizeof *jet_blue, x);
}

/* Table index of a normalised value t in [0, 1]: floor(t * 256), 1.0 mapped to the last entry
 * (matplotlib's Colormap.__call__ for floats). */
static int jet_index(double t)
{
    int i = (int)(t * JET_ENTRIES);
    return i < 0 ? 0 : i >= JET_ENTRIES ? JET_ENTRIES - 1 : i;
}

static uint8_t to_byte(double v)
{
    double r = floor(v + 0.5);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

int rp_image_overlay_heatmap(const rp_image *image, const float *map, size_t map_floats, float lo, float hi,
                             float alpha, rp_image **out)
{
    static const char fn[] = "rp_image_overlay_heatmap";
    rp__clear_error();
    if (!out) return rp__fail(RP_E_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!image || !map) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !image ? "image" : "map");
    size_t pixels = (size_t)image->width * image->height;
    if (map_floats != pixels)
        return rp__fail(RP_E_SHAPE, "%s: map_floats %zu != image width %u x height %u = %zu", fn, map_floats,
                        image->width, image->height, pixels);
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return rp__fail(RP_E_INVALID_ARG, "%s: range lo %g .. hi %g must be finite with lo < hi", fn, (double)lo,
                        (double)hi);
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return rp__fail(RP_E_INVALID_ARG, "%s: alpha %g must be in [0, 1]", fn, (double)alpha);
    for (size_t i = 0; i < pixels; i++)
        if (isnan(map[i]))
            return rp__fail(RP_E_INVALID_ARG, "%s: map[%zu] (x %zu, y %zu) is NaN", fn, i, i % image->width,
                            i / image->width);

    double lut[JET_ENTRIES][3];
    for (int i = 0; i < JET_ENTRIES; i++) jet_entry(i, lut[i]);

    rp_image *res;
    int rc = rp__image_alloc(image->width, image->height, 3, fn, &res);
    if (rc) return rc;
    const double a = alpha, range = (double)hi - (double)lo;
    const uint32_t ch = image->channels;
    for (size_t i = 0; i < pixels; i++) {
        double t = ((double)map[i] - lo) / range; /* +-inf clamp to the ends like any out-of-range value */
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const double *c = lut[jet_index(t)];
        const uint8_t *src = image->pixels + i * ch;
        for (int k = 0; k < 3; k++) {
            double base = src[ch == 3 ? k : 0]; /* gray images are shown as gray RGB */
            res->pixels[i * 3 + k] = to_byte((1.0 - a) * base + a * 255.0 * c[k]);
        }
    }
    *out = res;
    return RP_OK;
}

int rp_image_save_png(const rp_image *image, const char *path)
{
    static const char fn[] = "rp_image_save_png";
    rp__clear_error();
    if (!image || !path) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !image ? "image" : "path");
    int rc = rp__png_write(path, image->pixels, image->width, image->height, image->channels);
    if (rc) return rp__fail_relay(rc, "%s", fn); /* name the public function; the writer's text follows */
    return RP_OK;
}
