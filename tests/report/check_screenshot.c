/* check_screenshot PNG WIDTH HEIGHT: the browser's screenshot of the report has the window's size
 * and is not blank: a page that failed to render is one colour (white), while the report's
 * figures, tables and heat maps give many colours and a good share of non-white pixels. Decoded
 * with the library's own PNG reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reconpatch/reconpatch.h>

#define MIN_NON_WHITE 0.05   /* share of pixels that are not (near) white */
#define MIN_COLOURS 500      /* distinct colours (the heat maps alone have thousands) */

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: check_screenshot PNG WIDTH HEIGHT\n");
        return 2;
    }
    rp_image *img;
    if (rp_image_load_file(argv[1], NULL, &img)) {
        fprintf(stderr, "check_screenshot: %s\n", rp_last_error_message());
        return 1;
    }
    uint32_t w = rp_image_width(img), h = rp_image_height(img), c = rp_image_channels(img);
    if (w != (uint32_t)atoi(argv[2]) || h != (uint32_t)atoi(argv[3])) {
        fprintf(stderr, "check_screenshot: %s is %u x %u, expected %s x %s\n", argv[1], w, h, argv[2], argv[3]);
        return 1;
    }
    const uint8_t *p = rp_image_pixels(img);
    size_t n = (size_t)w * h, non_white = 0, colours = 0;
    uint8_t *seen = calloc(1u << 21, 1); /* a bit per 24-bit colour */
    if (!seen) return 1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = p + i * c;
        uint32_t r = q[0], g = c == 3 ? q[1] : q[0], b = c == 3 ? q[2] : q[0];
        non_white += r < 240 || g < 240 || b < 240;
        uint32_t key = r << 16 | g << 8 | b;
        if (!(seen[key >> 3] & (1u << (key & 7)))) {
            seen[key >> 3] |= (uint8_t)(1u << (key & 7));
            colours++;
        }
    }
    free(seen);
    rp_image_free(img);
    double share = (double)non_white / (double)n;
    printf("check_screenshot: %u x %u, %.1f%% non-white pixels, %zu colours\n", w, h, 100 * share, colours);
    if (share < MIN_NON_WHITE || colours < MIN_COLOURS) {
        fprintf(stderr, "check_screenshot: the page looks blank (needs %.0f%% non-white, %d colours)\n",
                100 * MIN_NON_WHITE, MIN_COLOURS);
        return 1;
    }
    return 0;
}
