/* Version of the library actually loaded; the numbers come from meson's project version. */
#include "common.h"

#ifndef RP_VERSION_STRING_BUILT
#error "meson passes RP_VERSION_STRING_BUILT"
#endif

const char *rp_version_string(void) { return RP_VERSION_STRING_BUILT; }

uint32_t rp_version_number(void) { return RP_VERSION_NUMBER; }
