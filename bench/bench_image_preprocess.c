/* Timing of the preprocessing path on a 900x900 RGB image (the MVTec full-resolution size):
 * decode, resize 256 + centre crop 224 (the default network input), and resize to 256 without a
 * crop. Prints medians of repeated runs. Not a test: timings depend on the host's load.
 * Usage: bench_image_preprocess [image.png] (default: a synthetic 900x900 image) */
#include <reconpatch/reconpatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "image/preprocess.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define RUNS 41

static double median_preprocess(const rp_image *img, uint32_t resize, uint32_t crop, int no_crop, float *out)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ms();
        if (rp__image_preprocess(img, resize, crop, no_crop, 0, RP_NORM_TORCHVISION, out) != RP_OK) {
            fprintf(stderr, "%s\n", rp_last_error_message());
            exit(1);
        }
        t[r] = now_ms() - t0;
    }
    qsort(t, RUNS, sizeof *t, cmp_double);
    return t[RUNS / 2];
}

int main(int argc, char **argv)
{
    rp_image *img = NULL;
    double decode_ms = -1.0;
    if (argc > 1) {
        double t[RUNS];
        for (int r = 0; r < RUNS; r++) {
            rp_image_free(img);
            double t0 = now_ms();
            if (rp_image_load_file(argv[1], NULL, &img) != RP_OK) {
                fprintf(stderr, "%s\n", rp_last_error_message());
                return 1;
            }
            t[r] = now_ms() - t0;
        }
        qsort(t, RUNS, sizeof *t, cmp_double);
        decode_ms = t[RUNS / 2];
    } else {
        enum { N = 900 };
        uint8_t *px = malloc(N * N * 3);
        for (size_t i = 0; i < (size_t)N * N * 3; i++) px[i] = (uint8_t)(i * 2654435761u >> 13);
        rp_image_from_pixels(px, N, N, 0, RP_PIXEL_RGB8, &img);
        free(px);
    }
    static float out[3 * 256 * 256];
    printf("image %ux%ux%u\n", rp_image_width(img), rp_image_height(img), rp_image_channels(img));
    if (decode_ms >= 0) printf("decode                       %7.3f ms (median of %d)\n", decode_ms, RUNS);
    printf("resize 256 + crop 224        %7.3f ms (median of %d)\n", median_preprocess(img, 256, 224, 0, out), RUNS);
    printf("resize 256, no crop          %7.3f ms (median of %d)\n", median_preprocess(img, 256, 256, 1, out), RUNS);
    rp_image_free(img);
    return 0;
}
