/* Finding and checking the backbone weights a model file refers to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/common.h"
#include "model/model_io.h"

char *rp__model_resolve_path(const char *recorded, const char *model_path)
{
    const char *slash = model_path ? strrchr(model_path, '/') : NULL;
    if (recorded[0] == '/' || !slash) return rp__strdup(recorded);
    size_t dir_len = (size_t)(slash - model_path) + 1; /* keeps the slash */
    size_t n = strlen(recorded);
    char *out = rp__malloc(dir_len + n + 1);
    if (!out) return NULL;
    memcpy(out, model_path, dir_len);
    memcpy(out + dir_len, recorded, n + 1);
    return out;
}

int rp__model_weights_checked(const char *path, const char *expected_sha256, const char *fn, rp__weights **out)
{
    *out = NULL;
    rp__weights *w = NULL;
    int rc = rp__weights_load(path, &w);
    if (rc) return rp__fail_relay(rc, "%s: backbone weights '%s'", fn, path);
    if (strcmp(w->sha256, expected_sha256) != 0) {
        rc = rp__fail(RP_E_FORMAT, "%s: backbone weights '%s' have sha256 %s but the model was built with %s: the "
                                   "file changed or is another one", fn, path, w->sha256, expected_sha256);
        rp__weights_free(w);
        return rc;
    }
    *out = w;
    return RP_OK;
}
