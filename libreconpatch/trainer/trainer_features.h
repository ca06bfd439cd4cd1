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
 * unchanged, until the next image is added or rp_trainer_free (training does not move it). NULL,
 * with *patches_out 0, for a NULL trainer or i out of range; no error message is set. */
const float *rp__trainer_image_features(const rp_trainer *trainer, uint32_t i, uint32_t *patches_out);

/* Done reading image i's features: when they live in the temporary file, give the pages back. */
void rp__trainer_release_features(const rp_trainer *trainer, uint32_t i);

/* Before the first image: hold at most `bytes` of patch features in memory, moving them to an
 * unlinked temporary file in spill_dir (NULL: $TMPDIR, else /tmp) past that (0: never). Training
 * reads the same values either way (common/feature_store.h). RP_E_STATE once images were added. */
int rp__trainer_set_memory_limit(rp_trainer *trainer, uint64_t bytes, const char *spill_dir, const char *fn);

#endif
