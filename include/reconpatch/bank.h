/* libreconpatch: bank (declarations arrive with the module). */
#ifndef RECONPATCH_BANK_H
#define RECONPATCH_BANK_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
