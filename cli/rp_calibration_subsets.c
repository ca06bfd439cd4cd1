/* Calibrating one model on subsets of its held-out images (rp_calibration_subsets.h). */
#include "rp_calibration_subsets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* k of n evenly spaced, the rule rp_train uses for its held-out share (docs/pipeline.md): item i
 * is taken when floor((i + 1) k / n) > floor(i k / n). */
static int taken(uint64_t i, uint64_t k, uint64_t n) { return (i + 1) * k / n > i * k / n; }

/* Decode the chosen held-out images and calibrate on them. */
static int calibrate_on(rp_model *model, const char *const *held, uint32_t h, uint32_t size)
{
    rp_image **images = calloc(size ? size : 1, sizeof *images);
    if (!images) return RP_E_NOMEM;
    uint32_t n = 0;
    int rc = 0;
    for (uint32_t i = 0; i < h && !rc; i++)
        if (taken(i, size, h)) rc = rp_image_load_file(held[i], NULL, &images[n++]);
    if (!rc) rc = rp_model_calibrate(model, (const rp_image *const *)images, n, NULL, NULL, NULL);
    for (uint32_t i = 0; i < n; i++) rp_image_free(images[i]);
    free(images);
    return rc;
}

static rp_model_thresholds thresholds_of(const rp_model *model)
{
    rp_model_thresholds t;
    t.struct_size = sizeof t;
    rp_model_get_thresholds(model, &t, sizeof t);
    return t;
}

int calibration_subsets(rp_model *model, const char *const *paths, uint32_t count, uint32_t held_out,
                        const uint32_t *sizes, uint32_t n_sizes, rp_model_thresholds *out)
{
    const rp_model_thresholds trained = thresholds_of(model);
    const char **held = malloc((held_out ? held_out : 1) * sizeof *held);
    if (!held) return RP_E_NOMEM;
    uint32_t h = 0;
    for (uint32_t i = 0; i < count; i++)
        if (taken(i, held_out, count)) held[h++] = paths[i];
    int rc = h == held_out ? 0 : RP_E_STATE;
    for (uint32_t j = 0; j < n_sizes && !rc; j++) {
        rc = calibrate_on(model, held, h, sizes[j]);
        if (!rc) out[j] = thresholds_of(model);
    }
    if (!rc) rc = calibrate_on(model, held, h, h);
    free(held);
    if (rc) return rc;
    const rp_model_thresholds again = thresholds_of(model);
    /* The same images give the same thresholds up to the backbone's batch-size rounding. */
    if (fabs(again.image_threshold - trained.image_threshold) > 1e-4 * fabs(trained.image_threshold) ||
        fabs(again.pixel_threshold - trained.pixel_threshold) > 1e-4 * fabs(trained.pixel_threshold)) {
        fprintf(stderr, "rp-eval: recalibrating on the %u held-out images gave image threshold %.9g (rp_train: "
                        "%.9g): these are not the images rp_train held out\n",
                h, again.image_threshold, trained.image_threshold);
        return RP_E_STATE;
    }
    return 0;
}
