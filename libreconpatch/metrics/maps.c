/* Input checks shared by the pixel-level metrics. */
#include <math.h>

#include "common/common.h"
#include "metrics/metrics_internal.h"

int rp__metrics_check_maps(const float *const *maps, uint32_t count, size_t per_image, uint32_t width,
                           const char *fn)
{
    for (uint32_t m = 0; m < count; m++) {
        if (!maps[m]) return rp__fail(RP_E_INVALID_ARG, "%s: maps[%u] is NULL", fn, m);
        for (size_t p = 0; p < per_image; p++)
            if (isnan(maps[m][p]))
                return rp__fail(RP_E_INVALID_ARG, "%s: maps[%u] pixel (%zu, %zu) is NaN", fn, m, p % width,
                                p / width);
    }
    return RP_OK;
}
