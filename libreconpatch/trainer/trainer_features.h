/* The trainer as the rest of the library may use it: the public handle (include/reconpatch/trainer.h)
 * plus one read-only view of the patch features it stores, so that rp_train (pipeline/train.c) can
 * map every training patch with the trained f into the memory bank without extracting the
 * features a second time. The struct and the training internals stay in trainer_internal.h, which
 * only the trainer's own files (and its unit tests and benchmarks) include. Not installed. */
#ifndef RP_TRAINER_FEATURES_H
#define RP_TRAINER_FEATURES_H

#include <stdint.h>

#include "reconpatch/trainer.h"

/* Image i's stored patch features, in the order the images were added (0 <= i <
 * rp_trainer_image_count): patches x in_dim floats, row-major, in_dim being the dim every image was
 * added with; *patches_out gets the patch count. The block is owned by the trainer and stays valid,
 * unchanged, until rp_trainer_free (adding images or training does not move it). NULL, with
 * *patches_out 0, for a NULL trainer or i out of range; no error message is set. */
const float *rp__trainer_image_features(const rp_trainer *trainer, uint32_t i, uint32_t *patches_out);

#endif
