/* libreconpatch: industrial visual anomaly detection (ReConPatch on PatchCore), in C.
 * The umbrella header: include this one. */
#ifndef RECONPATCH_H
#define RECONPATCH_H

#include "core.h"
#include "image.h"
#include "extractor.h"
#include "bank.h"
#include "scorer.h"
#include "trainer.h"
#include "metrics.h"
#include "model.h"

#endif
