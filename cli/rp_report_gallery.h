/* rp-eval --report: the gallery's pictures of one test image: the image itself and its heat-map
 * overlay with the ground-truth defect contour drawn in white. */
#ifndef RP_CLI_REPORT_GALLERY_H
#define RP_CLI_REPORT_GALLERY_H

#include <reconpatch/reconpatch.h>

/* Score image_path with scorer and write DIR/img/STEM.png (the image as PNG) and
 * DIR/img/STEM_overlay.png: the map in the image's own geometry coloured over [0, 2 x
 * pixel_threshold] (the threshold mid-scale; the map's range when there is none) and, when
 * mask_path is not "", the outline of the mask's pixels above mask_threshold. Returns 0, or an
 * RP_E_* code with the library's message. */
int gallery_write(const char *dir, const char *stem, const char *image_path, const char *mask_path,
                  unsigned mask_threshold, const rp_scorer *scorer, double pixel_threshold);

#endif
