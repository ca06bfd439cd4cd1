/* quickstart: the README's C example. Train on normal images, score one image.
 *   rp-quickstart TEST_IMAGE NORMAL_IMAGE... */
#include <reconpatch/reconpatch.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) return fprintf(stderr, "usage: %s TEST_IMAGE NORMAL_IMAGE...\n", argv[0]), 2;
    rp_model *model;
    /* NULL params: ReConPatch, the cached Keras ResNet-50, 10% coreset. */
    if (rp_train((const char *const *)argv + 2, (uint32_t)(argc - 2), NULL, NULL, NULL, &model))
        return fprintf(stderr, "train: %s\n", rp_last_error_message()), 1;
    rp_image *image;
    if (rp_image_load_file(argv[1], NULL, &image))
        return fprintf(stderr, "load: %s\n", rp_last_error_message()), 1;
    size_t n = (size_t)rp_image_width(image) * rp_image_height(image);
    float *map = malloc(n * sizeof *map); /* the heat map, in the image's own geometry */
    rp_score_result result = {.struct_size = sizeof result};
    if (rp_score_image(model, image, &result, map, n, NULL, 0))
        return fprintf(stderr, "score: %s\n", rp_last_error_message()), 1;
    printf("%s: anomaly score %.3f\n", argv[1], result.score);
    free(map);
    rp_image_free(image);
    rp_model_free(model);
    return 0;
}
