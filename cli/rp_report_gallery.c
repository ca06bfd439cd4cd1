/* The gallery's pictures (rp_report_gallery.h). */
#include "rp_report_gallery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVERLAY_ALPHA 0.5f

/* The mask (any size, gray or colour) resampled to w x h by nearest neighbour, 1 = defect. */
static uint8_t *mask_at(const rp_image *mask, uint32_t w, uint32_t h, unsigned threshold)
{
    uint32_t mw = rp_image_width(mask), mh = rp_image_height(mask), mc = rp_image_channels(mask);
    const uint8_t *mp = rp_image_pixels(mask);
    uint8_t *out = malloc((size_t)w * h);
    if (!out) return NULL;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            size_t sy = (size_t)y * mh / h, sx = (size_t)x * mw / w;
            out[(size_t)y * w + x] = mp[(sy * mw + sx) * mc] > threshold;
        }
    return out;
}

/* Paint the outline of mask (pixels on with a 4-neighbour off or on the border) into RGB pixels,
 * white (jet has none), thickened for large images so that it stays visible when the page shrinks them. */
static void draw_contour(uint8_t *rgb, const uint8_t *mask, uint32_t w, uint32_t h)
{
    int r = 1 + (int)(w > h ? w : h) / 400; /* extra pixels each side */
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!mask[i]) continue;
            int edge = x == 0 || y == 0 || x + 1 == w || y + 1 == h || !mask[i - 1] || !mask[i + 1] ||
                       !mask[i - w] || !mask[i + w];
            if (!edge) continue;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++) {
                    long yy = (long)y + dy, xx = (long)x + dx;
                    if (yy < 0 || xx < 0 || yy >= (long)h || xx >= (long)w) continue;
                    uint8_t *p = rgb + ((size_t)yy * w + (size_t)xx) * 3;
                    p[0] = p[1] = p[2] = 255;
                }
        }
}

int gallery_write(const char *dir, const char *stem, const char *image_path, const char *mask_path,
                  unsigned mask_threshold, const rp_scorer *scorer, double pixel_threshold)
{
    char path[4096];
    rp_image *img = NULL, *overlay = NULL, *mask = NULL, *outlined = NULL;
    float *map = NULL;
    uint8_t *inside = NULL, *rgb = NULL;
    int rc = rp_image_load_file(image_path, NULL, &img);
    if (rc) return rc;
    uint32_t w = rp_image_width(img), h = rp_image_height(img);
    size_t n = (size_t)w * h;
    snprintf(path, sizeof path, "%s/img/%s.png", dir, stem);
    rc = rp_image_save_png(img, path);
    if (!rc && !(map = malloc(n * sizeof *map))) rc = RP_E_NOMEM;
    if (!rc) rc = rp_scorer_score(scorer, img, NULL, NULL, 0, map, n);
    float lo = 0, hi = (float)(2 * pixel_threshold);
    if (!rc && !(pixel_threshold > 0)) { /* no usable threshold: the map's own range */
        lo = hi = map[0];
        for (size_t i = 1; i < n; i++) lo = fminf(lo, map[i]), hi = fmaxf(hi, map[i]);
        if (!(lo < hi)) hi = lo + 1;
    }
    if (!rc) rc = rp_image_overlay_heatmap(img, map, n, lo, hi, OVERLAY_ALPHA, &overlay);
    if (!rc && mask_path[0]) {
        rc = rp_image_load_file(mask_path, NULL, &mask);
        if (!rc && (!(inside = mask_at(mask, w, h, mask_threshold)) || !(rgb = malloc(n * 3)))) rc = RP_E_NOMEM;
        if (!rc) {
            memcpy(rgb, rp_image_pixels(overlay), n * 3); /* the overlay is RGB */
            draw_contour(rgb, inside, w, h);
            rc = rp_image_from_pixels(rgb, w, h, 0, RP_PIXEL_RGB8, &outlined);
        }
    }
    snprintf(path, sizeof path, "%s/img/%s_overlay.png", dir, stem);
    if (!rc) rc = rp_image_save_png(outlined ? outlined : overlay, path);
    rp_image_free(outlined);
    rp_image_free(mask);
    rp_image_free(overlay);
    rp_image_free(img);
    free(rgb);
    free(inside);
    free(map);
    return rc;
}
