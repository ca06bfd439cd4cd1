/* rp-eval --calibrate 4,10,20: how the threshold rule fares with fewer calibration images, from
 * one trained model. The largest count is held out of training (rp_train's calibration share);
 * each smaller count calibrates on an evenly spaced subset of those held-out images. */
#ifndef RP_CLI_CALIBRATION_SUBSETS_H
#define RP_CLI_CALIBRATION_SUBSETS_H

#include <stdint.h>

#include <reconpatch/reconpatch.h>

/* model was trained by rp_train on paths[0..count) with held_out images held out. For each
 * sizes[j] (each <= held_out), calibrate on that many of the held-out images and copy the
 * thresholds to out[j]. The model ends calibrated on all held-out images again, and its
 * thresholds must equal rp_train's (to 1e-4) (a check that the held-out images are the ones rp_train held
 * out); a mismatch fails with RP_E_STATE. Returns 0 or an RP_E_* code with its message. */
int calibration_subsets(rp_model *model, const char *const *paths, uint32_t count, uint32_t held_out,
                        const uint32_t *sizes, uint32_t n_sizes, rp_model_thresholds *out);

#endif
