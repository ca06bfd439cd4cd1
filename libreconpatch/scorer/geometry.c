/* The map back on the original image: undo the centre crop and the (non-aspect-preserving)
 * resize of the extractor's preprocessing by bilinear sampling with pixel-centre alignment. The
 * map is extended past its borders with its border values: the crop has no information outside,
 * and the nearest observed value neither invents a defect nor hides one at the edge. */
#include "scorer/scorer_internal.h"

/* Crop coordinate of image pixel d (pixel centres aligned), clamped into the map. */
static void crop_index(uint32_t d, uint32_t image_side, const rp__scorer_geometry *g, uint32_t *i0, uint32_t *i1,
                       float *frac)
{
    const double s_resized = ((double)d + 0.5) * (double)g->resize / (double)image_side - 0.5;
    double s = s_resized - (double)g->crop_offset;
    const double last = (double)(g->input_size - 1);
    if (s < 0.0) s = 0.0;
    if (s > last) s = last;
    uint32_t lo = (uint32_t)s;
    if (lo > g->input_size - 1) lo = g->input_size - 1;
    *i0 = lo;
    *i1 = lo + 1 < g->input_size ? lo + 1 : g->input_size - 1;
    *frac = (float)(s - (double)lo);
}

void rp__scorer_map_to_image(const float *map, const rp__scorer_geometry *g, uint32_t width, uint32_t height,
                             float *out, uint32_t num_threads)
{
    const uint32_t n = g->input_size;
#pragma omp parallel for num_threads(num_threads) if ((size_t)width * height > 65536) schedule(static)
    for (uint32_t v = 0; v < height; v++) {
        uint32_t y0, y1;
        float fy;
        crop_index(v, height, g, &y0, &y1, &fy);
        for (uint32_t u = 0; u < width; u++) {
            uint32_t x0, x1;
            float fx;
            crop_index(u, width, g, &x0, &x1, &fx);
            /* a + f * (b - a): a flat neighbourhood gives back its value exactly */
            const float a = map[(size_t)y0 * n + x0], b = map[(size_t)y0 * n + x1];
            const float c = map[(size_t)y1 * n + x0], d = map[(size_t)y1 * n + x1];
            const float top = a + fx * (b - a), bottom = c + fx * (d - c);
            out[(size_t)v * width + u] = top + fy * (bottom - top);
        }
    }
}
