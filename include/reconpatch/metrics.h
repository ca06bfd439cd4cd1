/* libreconpatch: evaluation metrics (declarations arrive with the module). */
#ifndef RECONPATCH_METRICS_H
#define RECONPATCH_METRICS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
