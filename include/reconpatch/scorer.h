/* libreconpatch: scorer (declarations arrive with the module). */
#ifndef RECONPATCH_SCORER_H
#define RECONPATCH_SCORER_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
