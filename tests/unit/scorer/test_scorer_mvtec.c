/* The scorer end to end on real data, through the public API only: the pretrained Keras
 * ResNet-50 (TF.js weights) extracts patch features of MVTec AD "bottle" train images, a 10 %
 * coreset bank is frozen, and test images (good and defective) are scored. Checks: the image path
 * gives exactly the features path's results, the image-geometry map is the input map mapped back,
 * and the scores separate defects (image AUROC, pixel AUROC against the ground-truth masks).
 * Skips (exit 77) without the weights ($RP_WEIGHTS_DIR) or the data ($RP_DATA_DIR). */
#include <reconpatch/reconpatch.h>

#include "rp_test.h"

#define TRAIN_IMAGES 20
#define TEST_PER_FOLDER 6

static char model_path[4096];

static rp_image *load(const char *path)
{
    rp_image *img = NULL;
    ck_assert_msg(rp_image_load_file(path, NULL, &img) == RP_OK, "%s: %s", path, rp_last_error_message());
    return img;
}

static rp_extractor *extractor;
static const char *data_dir;

START_TEST(score__real_bottle_images_separate_defects_and_match_features_path)
{
    rp_extractor_info info;
    ck_assert_int_eq(rp_extractor_get_info(extractor, &info, sizeof info), RP_OK);
    const uint32_t grid = info.grid_size, dim = info.feature_dim, side = info.input_size;
    const size_t per_image = (size_t)grid * grid * dim;

    /* bank: patch features of the first TRAIN_IMAGES normal images, 10 % coreset */
    char dir[2048], *paths[64];
    snprintf(dir, sizeof dir, "%s/mvtec_ad/bottle/train/good", data_dir);
    const int ntrain = (int)rp_test_list_pngs(dir, paths, TRAIN_IMAGES);
    ck_assert_int_eq(ntrain, TRAIN_IMAGES);
    rp_bank_params bp;
    rp_bank_params_init(&bp, sizeof bp);
    bp.dim = dim;
    rp_bank *bank;
    ck_assert_int_eq(rp_bank_create(&bp, &bank), RP_OK);
    float *feats = malloc(per_image * sizeof *feats);
    for (int i = 0; i < ntrain; i++) {
        rp_image *img = load(paths[i]);
        free(paths[i]);
        const rp_image *one = img;
        ck_assert_msg(rp_extractor_patch_features(extractor, &one, 1, feats, per_image) == RP_OK, "%s",
                      rp_last_error_message());
        ck_assert_int_eq(rp_bank_add(bank, feats, (uint64_t)grid * grid, dim), RP_OK);
        rp_image_free(img);
    }
    ck_assert_msg(rp_bank_freeze(bank, NULL, NULL) == RP_OK, "%s", rp_last_error_message());

    rp_scorer_params sp;
    rp_scorer_params_init(&sp, sizeof sp); /* resize 256, crop: the extractor's defaults */
    rp_scorer *scorer;
    ck_assert_msg(rp_scorer_create(extractor, NULL, bank, &sp, &scorer) == RP_OK, "%s", rp_last_error_message());

    static const char *folders[4] = {"good", "broken_large", "broken_small", "contamination"};
    enum { MAXN = 4 * TEST_PER_FOLDER };
    float scores[MAXN];
    uint8_t labels[MAXN];
    float *maps[MAXN];
    uint8_t *masks[MAXN];
    uint32_t width = 0, height = 0;
    int n = 0;
    float *map_input = malloc((size_t)side * side * sizeof *map_input);
    float *map_check = NULL;
    for (int f = 0; f < 4; f++) {
        snprintf(dir, sizeof dir, "%s/mvtec_ad/bottle/test/%s", data_dir, folders[f]);
        const int count = (int)rp_test_list_pngs(dir, paths, TEST_PER_FOLDER);
        for (int i = 0; i < count; i++, n++) {
            const char *path = paths[i];
            rp_image *img = load(path);
            width = rp_image_width(img);
            height = rp_image_height(img);
            const size_t pixels = (size_t)width * height;
            maps[n] = malloc(pixels * sizeof(float));
            rp_score_result r = {.struct_size = sizeof r};
            ck_assert_msg(rp_scorer_score(scorer, img, &r, map_input, (size_t)side * side, maps[n], pixels) == RP_OK,
                          "%s: %s", path, rp_last_error_message());
            scores[n] = (float)r.score;
            labels[n] = f > 0;
            ck_assert(r.score > 0 && r.score <= r.score_max);

            if (n % 7 == 0) { /* the image path equals the features path, bit for bit */
                const rp_image *one = img;
                ck_assert_int_eq(rp_extractor_patch_features(extractor, &one, 1, feats, per_image), RP_OK);
                rp_score_result r2 = {.struct_size = sizeof r2};
                float *map2 = malloc((size_t)side * side * sizeof *map2);
                ck_assert_int_eq(rp_scorer_score_features(scorer, feats, per_image, &r2, NULL, 0, map2,
                                                          (size_t)side * side),
                                 RP_OK);
                ck_assert_mem_eq(&r, &r2, sizeof r);
                ck_assert_mem_eq(map_input, map2, (size_t)side * side * sizeof *map2);
                map_check = realloc(map_check, pixels * sizeof *map_check);
                ck_assert_int_eq(rp_scorer_map_to_image(scorer, map2, (size_t)side * side, width, height, map_check,
                                                        pixels),
                                 RP_OK);
                ck_assert_mem_eq(map_check, maps[n], pixels * sizeof *map_check);
                free(map2);
            }
            masks[n] = NULL;
            if (f > 0) {
                char mask_path[4096 + 128], stem[64];
                const char *name = strrchr(path, '/') + 1;
                snprintf(stem, sizeof stem, "%.*s", (int)(strlen(name) - 4), name);
                snprintf(mask_path, sizeof mask_path, "%s/mvtec_ad/bottle/ground_truth/%s/%s_mask.png", data_dir,
                         folders[f], stem);
                rp_image *m = load(mask_path);
                ck_assert_uint_eq(rp_image_width(m), width);
                ck_assert_uint_eq(rp_image_channels(m), 1);
                masks[n] = malloc(pixels);
                memcpy(masks[n], rp_image_pixels(m), pixels);
                rp_image_free(m);
            }
            rp_image_free(img);
            free(paths[i]);
        }
    }
    double image_auroc, pixel_auroc, aupro;
    ck_assert_int_eq(rp_metric_auroc(scores, labels, (uint64_t)n, &image_auroc), RP_OK);
    ck_assert_int_eq(rp_metric_pixel_auroc((const float *const *)maps, (const uint8_t *const *)masks, (uint32_t)n,
                                           width, height, &pixel_auroc),
                     RP_OK);
    ck_assert_int_eq(rp_metric_aupro((const float *const *)maps, (const uint8_t *const *)masks, (uint32_t)n, width,
                                     height, 0.0, &aupro),
                     RP_OK);
    printf("bottle, %d train images, %d test images: image AUROC %.4f, pixel AUROC %.4f, AUPRO %.4f\n", ntrain, n,
           image_auroc, pixel_auroc, aupro);
    /* The pipeline is deterministic: measured here 1.0000 / 0.9905 / 0.9560 (ResNet-50, 20 train
     * images, 24 test images). The bounds sit just under those figures, so a broken step (the
     * map's smoothing, the reweighting, the crop geometry) fails instead of passing quietly. */
    ck_assert_double_ge(image_auroc, 0.999);
    ck_assert_double_ge(pixel_auroc, 0.985);
    ck_assert_double_ge(aupro, 0.950);
    for (int i = 0; i < n; i++) {
        free(maps[i]);
        free(masks[i]);
    }
    free(map_input);
    free(map_check);
    free(feats);
    rp_scorer_free(scorer);
    rp_bank_free(bank);
}
END_TEST

int main(void)
{
    /* No fork per test: libgomp's thread pool does not survive fork() once OpenMP has run. */
    setenv("CK_FORK", "no", 1);
    const char *model = rp_test_weights_path(model_path, sizeof model_path);
    if (!model) return RP_TEST_SKIP;
    data_dir = rp_test_data_dir();
    if (!data_dir) {
        printf("skip: no ../shared/data ($RP_DATA_DIR)\n");
        return RP_TEST_SKIP;
    }
    rp_extractor_params p;
    rp_extractor_params_init(&p, sizeof p);
    p.weights_path = model;
    if (rp_extractor_create(&p, &extractor) != RP_OK) {
        printf("rp_extractor_create(%s): %s\n", model, rp_last_error_message());
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("scorer_mvtec");
    TCase *tc = tcase_create("bottle");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, score__real_bottle_images_separate_defects_and_match_features_path);
    suite_add_tcase(s, tc);
    int rc = rp_test_run(s);
    rp_extractor_free(extractor);
    return rc;
}
