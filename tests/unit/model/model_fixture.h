/* Shared by the model unit tests: a small random backbone written as a .safetensors file in a
 * private temporary folder, the committed bottle images, and small models trained on them, so the
 * tests need neither the cached weights nor ../shared/data. */
#ifndef RP_TEST_MODEL_FIXTURE_H
#define RP_TEST_MODEL_FIXTURE_H

#include <reconpatch/reconpatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backbone/weights.h"
#include "backbone/weights_memory.h"
#include "rp_test.h"

/* A reduced-width (1/8) Keras-layout ResNet-50 with seeded random weights, written to path. */
static inline int fixture_write_weights(const char *path, uint64_t seed)
{
    rp__weights *w = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 8, seed, &w)) return -1;
    int rc = rp__weights_to_safetensors(w, &bytes, &size);
    rp__weights_free(w);
    if (rc) return -1;
    FILE *f = fopen(path, "wb");
    rc = f && fwrite(bytes, 1, size, f) == size ? 0 : -1;
    if (f) fclose(f);
    free(bytes);
    return rc;
}

/* examples/data/bottle (committed in the repository). */
static inline rp_image *fixture_image(const char *relative)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/data/bottle/%s", rp_test_source_dir(), relative);
    rp_image *img = NULL;
    if (rp_image_load_file(path, NULL, &img)) {
        fprintf(stderr, "cannot load %s: %s\n", path, rp_last_error_message());
        exit(1);
    }
    return img;
}

/* train/good/000.png, 010.png, ... (count of them). */
static inline void fixture_train_images(rp_image **out, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "train/good/%03u.png", i * 10);
        out[i] = fixture_image(rel);
    }
}

/* The image with its colours inverted: the second "product" of the tests of several categories
 * (a different appearance, the same sizes). */
static inline rp_image *fixture_inverted(const rp_image *img)
{
    const size_t n = (size_t)rp_image_width(img) * rp_image_height(img) * rp_image_channels(img);
    uint8_t *px = malloc(n);
    for (size_t i = 0; i < n; i++) px[i] = (uint8_t)(255 - rp_image_pixels(img)[i]);
    rp_image *out = NULL;
    if (rp_image_from_pixels(px, rp_image_width(img), rp_image_height(img), 0,
                             rp_image_channels(img) == 3 ? RP_PIXEL_RGB8 : RP_PIXEL_GRAY8, &out)) {
        fprintf(stderr, "rp_image_from_pixels: %s\n", rp_last_error_message());
        exit(1);
    }
    free(px);
    return out;
}

/* A private temporary folder (removed by fixture_remove_dir). */
static inline void fixture_make_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/rp-model-test-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline void fixture_remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* The small training settings of the model tests: the weights file, a short patch feature, a
 * few trainer steps; the caller sets the rest of p (method, categories...). */
typedef struct fixture_params {
    rp_extractor_params ep;
    rp_trainer_params tp;
    rp_bank_params bp;
    rp_train_params p;
} fixture_params;

static inline void fixture_params_init(fixture_params *f, const char *weights_path, int32_t method,
                                       uint32_t feature_dim, double coreset_ratio)
{
    rp_extractor_params_init(&f->ep, sizeof f->ep);
    f->ep.weights_path = weights_path;
    f->ep.feature_dim = feature_dim;
    rp_trainer_params_init(&f->tp, sizeof f->tp);
    f->tp.repr_dim = 32;
    f->tp.proj_dim = 16;
    f->tp.batch_size = 128;
    f->tp.epochs = 2;
    f->tp.steps_per_epoch = 3;
    rp_bank_params_init(&f->bp, sizeof f->bp);
    f->bp.coreset_ratio = coreset_ratio;
    rp_train_params_init(&f->p, sizeof f->p);
    f->p.method = method;
    f->p.extractor = &f->ep;
    f->p.trainer = &f->tp;
    f->p.bank = &f->bp;
}

static inline rp_model *fixture_train_params(fixture_params *f, const rp_image *const *images, uint32_t count)
{
    rp_model *m = NULL;
    if (rp_train_images(images, count, &f->p, NULL, NULL, &m)) {
        fprintf(stderr, "rp_train_images: %s\n", rp_last_error_message());
        exit(1);
    }
    return m;
}

/* Train a small model: PatchCore or ReConPatch (a few trainer steps) on the given images.
 * feature_dim small keeps the files small. */
static inline rp_model *fixture_train_with(const char *weights_path, int32_t method, const rp_image *const *images,
                                           uint32_t count, uint32_t feature_dim, double coreset_ratio,
                                           double calibration_fraction, uint32_t keep_aspect)
{
    fixture_params f;
    fixture_params_init(&f, weights_path, method, feature_dim, coreset_ratio);
    f.ep.keep_aspect = keep_aspect;
    f.p.calibration_fraction = calibration_fraction;
    return fixture_train_params(&f, images, count);
}

/* A model of count categories, image i in category i (docs/unified.md), names optional. */
static inline rp_model *fixture_train_categories(const char *weights_path, int32_t method,
                                                 const rp_image *const *images, uint32_t count,
                                                 const char *const *names, double coreset_ratio)
{
    uint32_t cats[16];
    if (count > 16) exit(1);
    for (uint32_t i = 0; i < count; i++) cats[i] = i;
    fixture_params f;
    fixture_params_init(&f, weights_path, method, 16, coreset_ratio);
    f.tp.val_fraction = -1; /* one image per category, each with its own head: none to validate on */
    f.p.category_count = count;
    f.p.image_categories = cats;
    f.p.category_names = names;
    return fixture_train_params(&f, images, count);
}

static inline rp_model *fixture_train(const char *weights_path, int32_t method, const rp_image *const *images,
                                      uint32_t count, uint32_t feature_dim, double coreset_ratio,
                                      double calibration_fraction)
{
    return fixture_train_with(weights_path, method, images, count, feature_dim, coreset_ratio, calibration_fraction,
                              0);
}

/* PatchCore with the aspect-keeping resize (extractor params keep_aspect = 1). */
static inline rp_model *fixture_train_keep_aspect(const char *weights_path, const rp_image *const *images,
                                                  uint32_t count, uint32_t feature_dim)
{
    return fixture_train_with(weights_path, RP_METHOD_PATCHCORE, images, count, feature_dim, 0.1, 0, 1);
}

/* An RGB image of w x h pixels sampled (nearest) from a square RGB one: a non-square test image. */
static inline rp_image *fixture_non_square(const rp_image *square, uint32_t w, uint32_t h)
{
    const uint32_t side = rp_image_width(square);
    const uint8_t *src = rp_image_pixels(square);
    uint8_t *px = malloc((size_t)w * h * 3);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                px[((size_t)y * w + x) * 3 + c] = src[((size_t)(y * side / h) * side + x * side / w) * 3 + c];
    rp_image *img = NULL;
    if (rp_image_from_pixels(px, w, h, 0, RP_PIXEL_RGB8, &img)) {
        fprintf(stderr, "rp_image_from_pixels: %s\n", rp_last_error_message());
        exit(1);
    }
    free(px);
    return img;
}

static inline int fixture_read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(*data, 1, (size_t)n, f);
    fclose(f);
    return *size == (size_t)n ? 0 : -1;
}

static inline int fixture_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int rc = fwrite(data, 1, size, f) == size ? 0 : -1;
    fclose(f);
    return rc;
}

/* Run the suite in this process: the models are built once, before, and OpenMP thread pools do
 * not survive fork. */
static inline int fixture_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
