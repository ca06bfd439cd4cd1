/* Weights handle: format detection, lookup, free, architecture inference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/weights.h"
#include "common/alloc.h"
#include "common/common.h"

const rp__tensor *rp__weights_find(const rp__weights *w, const char *name)
{
    if (!w || !name || !w->by_name_) return NULL;
    size_t lo = 0, hi = w->count; /* the answer, if any, is in by_name_[lo, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->by_name_[mid]->name, name);
        if (c == 0) return w->by_name_[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    const rp__tensor *ta = *(const rp__tensor *const *)a, *tb = *(const rp__tensor *const *)b;
    int c = strcmp(ta->name, tb->name);
    return c ? c : (ta > tb) - (ta < tb); /* equal names: in tensor order, so dup[0] < dup[1] */
}

int rp__weights_index(rp__weights *w, size_t dup[2])
{
    static const char *fn = "rp__weights_index";
    if (!w) return rp__fail(RP_E_INVALID_ARG, "%s: weights are NULL", fn);
    free(w->by_name_);
    w->by_name_ = NULL;
    const rp__tensor **order = rp__malloc((w->count ? w->count : 1) * sizeof *order);
    if (!order) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    for (size_t i = 0; i < w->count; i++) order[i] = &w->tensors[i];
    qsort(order, w->count, sizeof *order, by_name);
    for (size_t i = 1; i < w->count; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            if (dup) dup[0] = (size_t)(order[i - 1] - w->tensors), dup[1] = (size_t)(order[i] - w->tensors);
            int rc = rp__fail(RP_E_FORMAT, "%s: tensor '%s' appears twice", fn, order[i]->name);
            free(order);
            return rc;
        }
    w->by_name_ = order;
    return RP_OK;
}

size_t rp__weights_numel(const rp__tensor *t)
{
    size_t n = 1;
    for (int32_t d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

void rp__weights_free(rp__weights *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) free(w->tensors[i].name);
    free(w->tensors);
    free(w->storage_[0]);
    free(w->storage_[1]);
    free(w->by_name_);
    free(w);
}

int32_t rp__weights_infer_arch(const rp__weights *w)
{
    const rp__tensor *stem = rp__weights_find(w, "conv1.weight");
    const rp__tensor *l1 = rp__weights_find(w, "layer1.0.conv1.weight");
    if (!stem || !l1 || stem->ndim != 4 || l1->ndim != 4) return 0;
    if (stem->shape[0] != 64 || stem->shape[1] != 3 || l1->shape[1] != 64) return 0;
    if (l1->shape[0] == 64) return RP_ARCH_RESNET50;
    if (l1->shape[0] == 128) return RP_ARCH_WIDE_RESNET50_2;
    return 0;
}

/* safetensors starts with a little-endian u64 header length whose header begins with '{';
 * model.json starts (after optional whitespace or a UTF-8 BOM) with '{'. A plausible length
 * (< 2^40) has zero high bytes, which JSON text never contains, so the two cannot be confused;
 * a damaged safetensors file still goes to its loader, which says exactly what is wrong. */
int rp__weights_load(const char *path, rp__weights **out)
{
    if (out) *out = NULL;
    if (!path || !out) return rp__fail(RP_E_INVALID_ARG, "rp__weights_load: path or out is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return rp__fail(RP_E_IO, "rp__weights_load: cannot open '%s'", path);
    unsigned char head[64];
    size_t got = fread(head, 1, sizeof head, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) return rp__fail(RP_E_IO, "rp__weights_load: cannot read '%s'", path);
    if (got >= 8 && head[5] == 0 && head[6] == 0 && head[7] == 0) return rp__weights_load_safetensors(path, out);
    size_t i = 0;
    if (got >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) i = 3;
    while (i < got && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')) i++;
    if (i < got && head[i] == '{') return rp__weights_load_tfjs(path, out);
    return rp__fail(RP_E_FORMAT,
                    "rp__weights_load: '%s' (%zu bytes read) is neither safetensors nor a TF.js model.json",
                    path, got);
}
