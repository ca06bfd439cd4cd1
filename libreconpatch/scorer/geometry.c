/* The map back on the original image: undo the centre crop and the resize of the extractor's
 * preprocessing (both axes to resize, or the shorter side with keep_aspect) by bilinear sampling
 * with pixel-centre alignment. The map is extended past its borders with its border values: the
 * crop has no information outside, and the nearest observed value neither invents a defect nor
 * hides one at the edge. */
#include "image/preprocess.h"
#include "scorer/scorer_internal.h"

/* One axis: image side -> resized frame side, and the crop's offset in that frame. */
typedef struct axis_map {
    uint32_t image_side, frame_side, offset;
} axis_map;

/* Crop coordinate of image pixel d (pixel centres aligned), clamped into the map. */
static void crop_index(uint32_t d, const axis_map *a, uint32_t input_size, uint32_t *i0, uint32_t *i1, float *frac)
{
    const double s_resized = ((double)d + 0.5) * (double)a->frame_side / (double)a->image_side - 0.5;
    double s = s_resized - (double)a->offset;
    const double last = (double)(input_size - 1);
    if (s < 0.0) s = 0.0;
    if (s > last) s = last;
    uint32_t lo = (uint32_t)s;
    if (lo > input_size - 1) lo = input_size - 1;
    *i0 = lo;
    *i1 = lo + 1 < input_size ? lo + 1 : input_size - 1;
    *frac = (float)(s - (double)lo);
}

int rp__scorer_map_to_image(const float *map, const rp__scorer_geometry *g, uint32_t width, uint32_t height,
                            float *out, uint32_t num_threads, const char *fn)
{
    const uint32_t n = g->input_size;
    /* The resolved geometry already folds no_crop into resize == input_size (offset 0). */
    uint32_t fw, fh, ox, oy;
    int rc = rp__image_resize_frame(width, height, g->resize, n, 0, (int)g->keep_aspect, &fw, &fh, &ox, &oy, fn);
    if (rc) return rc;
    const axis_map ax = {width, fw, ox}, ay = {height, fh, oy};
#pragma omp parallel for num_threads(num_threads) if ((size_t)width * height > 65536) schedule(static)
    for (uint32_t v = 0; v < height; v++) {
        uint32_t y0, y1;
        float fy;
        crop_index(v, &ay, n, &y0, &y1, &fy);
        for (uint32_t u = 0; u < width; u++) {
            uint32_t x0, x1;
            float fx;
            crop_index(u, &ax, n, &x0, &x1, &fx);
            /* a + f * (b - a): a flat neighbourhood gives back its value exactly */
            const float a = map[(size_t)y0 * n + x0], b = map[(size_t)y0 * n + x1];
            const float c = map[(size_t)y1 * n + x0], d = map[(size_t)y1 * n + x1];
            const float top = a + fx * (b - a), bottom = c + fx * (d - c);
            out[(size_t)v * width + u] = top + fy * (bottom - top);
        }
    }
    return RP_OK;
}
