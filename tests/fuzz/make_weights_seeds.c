/* Writes seed corpora for the weights fuzz targets into OUT_DIR/<target>/ (folders created):
 *   weights_safetensors/  a 1/64-width random ResNet-50 in torchvision and in Keras layout (with
 *                         the reconpatch metadata), written by the library's own writer, and a
 *                         small hand-made file with F16, BF16, F64, misaligned F32 and an ignored
 *                         num_batches_tracked tensor;
 *   weights_tfjs/         fuzz_weights_tfjs inputs (framing in fuzz_weights_tfjs.c): the same
 *                         Keras network as a TF.js layers model.json (Keras names, HWIO kernels,
 *                         fc [in, out]) in two manifest groups over three shards, and a stem-only
 *                         model (valid JSON and shard, incomplete network).
 * fc is cut to 10 classes to keep the seeds small. Same bytes on every run. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <reconpatch/reconpatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backbone/weights.h"
#include "backbone/weights_memory.h"

static int write_file(const char *dir, const char *name, const void *a, size_t na, const void *b, size_t nb)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int rc = f && fwrite(a, 1, na, f) == na && (!nb || fwrite(b, 1, nb, f) == nb) ? 0 : -1;
    if (f && fclose(f) != 0) rc = -1;
    if (rc) fprintf(stderr, "cannot write %s\n", path);
    return rc;
}

static int make_dir(const char *root, const char *sub, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", root, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", path);
        return -1;
    }
    return 0;
}

static rp__weights *small_net(int32_t layout, uint64_t seed)
{
    rp__weights *w = NULL;
    if (rp__weights_random(RP_ARCH_RESNET50, layout, 64, seed, &w)) return NULL;
    for (size_t i = 0; i < w->count; i++)
        if (strncmp(w->tensors[i].name, "fc.", 3) == 0) w->tensors[i].shape[0] = 10; /* first 10 rows */
    return w;
}

static int safetensors_seed(const char *dir, const char *name, const rp__weights *w)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (rp__weights_to_safetensors(w, &bytes, &size)) return -1;
    rp__weights *back = NULL;
    int rc = rp__weights_load_safetensors_memory(bytes, size, name, &back);
    if (!rc) rc = rp__weights_check_resnet(back, 1);
    rp__weights_free(back);
    if (rc) fprintf(stderr, "%s does not load: %s\n", name, rp_last_error_message());
    if (!rc) rc = write_file(dir, name, bytes, size, NULL, 0);
    free(bytes);
    return rc;
}

/* A safetensors file from a JSON header and a data section, header length in front. */
static int raw_safetensors(const char *dir, const char *name, const char *header, const uint8_t *data, size_t n)
{
    uint8_t len[8];
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    size_t total = 8 + hl + n;
    uint8_t *buf = malloc(total);
    if (!buf) return -1;
    memcpy(buf, len, 8);
    memcpy(buf + 8, header, hl);
    memcpy(buf + 8 + hl, data, n);
    rp__weights *back = NULL;
    int rc = rp__weights_load_safetensors_memory(buf, total, name, &back);
    rp__weights_free(back);
    if (rc) fprintf(stderr, "%s does not load: %s\n", name, rp_last_error_message());
    if (!rc) rc = write_file(dir, name, buf, total, NULL, 0);
    free(buf);
    return rc;
}

/* torchvision name -> Keras "<layer>/<variable>"; *kind: 4 conv kernel, 2 fc kernel, 0 other. */
static int keras_name(const char *tv, char *out, size_t n, int *kind)
{
    static const char *const branch[] = {"2a", "2b", "2c"};
    int s, b, k;
    char leaf[32];
    *kind = 0;
    const char *bn_leaf = NULL;
    if (sscanf(tv, "layer%d.%d.conv%d.%31s", &s, &b, &k, leaf) == 4 ||
        sscanf(tv, "layer%d.%d.bn%d.%31s", &s, &b, &k, leaf) == 4) {
        int is_bn = strstr(tv, ".bn") != NULL;
        snprintf(out, n, "%s%d%c_branch%s/", is_bn ? "bn" : "res", s + 1, 'a' + b, branch[k - 1]);
        if (!is_bn) goto conv_leaf;
        goto bn;
    }
    if (sscanf(tv, "layer%d.%d.downsample.%d.%31s", &s, &b, &k, leaf) == 4) {
        snprintf(out, n, "%s%d%c_branch1/", k == 1 ? "bn" : "res", s + 1, 'a' + b);
        if (k == 0) goto conv_leaf;
        goto bn;
    }
    if (sscanf(tv, "conv1.%31s", leaf) == 1) {
        snprintf(out, n, "conv1/");
        goto conv_leaf;
    }
    if (sscanf(tv, "bn1.%31s", leaf) == 1) {
        snprintf(out, n, "bn_conv1/");
        goto bn;
    }
    if (sscanf(tv, "fc.%31s", leaf) == 1) {
        snprintf(out, n, "fc1000/");
        if (strcmp(leaf, "weight") == 0) {
            *kind = 2;
            strncat(out, "kernel", n - strlen(out) - 1);
        } else {
            strncat(out, leaf, n - strlen(out) - 1);
        }
        return 0;
    }
    return -1;
conv_leaf:
    if (strcmp(leaf, "weight") == 0) {
        *kind = 4;
        strncat(out, "kernel", n - strlen(out) - 1);
    } else {
        strncat(out, leaf, n - strlen(out) - 1);
    }
    return 0;
bn:
    if (strcmp(leaf, "weight") == 0) bn_leaf = "gamma";
    else if (strcmp(leaf, "bias") == 0) bn_leaf = "beta";
    else if (strcmp(leaf, "running_mean") == 0) bn_leaf = "moving_mean";
    else if (strcmp(leaf, "running_var") == 0) bn_leaf = "moving_variance";
    else return -1;
    strncat(out, bn_leaf, n - strlen(out) - 1);
    return 0;
}

/* Append tensor t in Keras order (HWIO / [in, out]) to data, its manifest entry to weights. */
static int add_keras(const rp__tensor *t, cJSON *weights, float *data)
{
    char name[96];
    int kind;
    if (keras_name(t->name, name, sizeof name, &kind)) return -1;
    const int64_t *sh = t->shape;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", name);
    cJSON *shape = cJSON_AddArrayToObject(j, "shape");
    cJSON_AddStringToObject(j, "dtype", "float32");
    cJSON_AddItemToArray(weights, j);
    if (kind == 4) {
        int64_t O = sh[0], I = sh[1], H = sh[2], W = sh[3];
        const double dims[] = {(double)H, (double)W, (double)I, (double)O};
        for (int d = 0; d < 4; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(dims[d]));
        for (int64_t h = 0; h < H; h++)
            for (int64_t x = 0; x < W; x++)
                for (int64_t c = 0; c < I; c++)
                    for (int64_t o = 0; o < O; o++) *data++ = t->data[((o * I + c) * H + h) * W + x];
    } else if (kind == 2) {
        int64_t O = sh[0], I = sh[1];
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)I));
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)O));
        for (int64_t c = 0; c < I; c++)
            for (int64_t o = 0; o < O; o++) *data++ = t->data[o * I + c];
    } else {
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)sh[0]));
        memcpy(data, t->data, (size_t)sh[0] * sizeof(float));
    }
    return 0;
}

static void put_u32(uint8_t *p, size_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* One fuzz_weights_tfjs input: json length, json, then each shard's length and bytes. */
static int tfjs_seed(const char *dir, const char *name, const char *json, const uint8_t *shard_data,
                     const size_t *shard_sizes, int n_shards)
{
    size_t total = 4 + strlen(json);
    for (int k = 0; k < n_shards; k++) total += 4 + shard_sizes[k];
    uint8_t *buf = malloc(total), *p = buf;
    if (!buf) return -1;
    put_u32(p, strlen(json));
    memcpy(p + 4, json, strlen(json));
    p += 4 + strlen(json);
    for (int k = 0; k < n_shards; k++) {
        put_u32(p, shard_sizes[k]);
        memcpy(p + 4, shard_data, shard_sizes[k]);
        shard_data += shard_sizes[k];
        p += 4 + shard_sizes[k];
    }
    int rc = write_file(dir, name, buf, total, NULL, 0);
    free(buf);
    return rc;
}

/* The Keras net as TF.js: group 1 = every conv/bn tensor (shards s0, s1: the bytes split in two),
 * group 2 = fc (shard s2). Or, stem_only, conv1 + bn_conv1 in one group and shard. */
static int tfjs_from_weights(const char *dir, const char *name, const rp__weights *w, int stem_only)
{
    size_t floats = 0;
    for (size_t i = 0; i < w->count; i++) floats += rp__weights_numel(&w->tensors[i]);
    float *data = malloc(floats * sizeof *data);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "layers-model");
    cJSON_AddStringToObject(root, "generatedBy", "make_weights_seeds");
    cJSON *manifest = cJSON_AddArrayToObject(root, "weightsManifest");
    cJSON *groups[2], *paths[2], *weights[2];
    for (int g = 0; g < (stem_only ? 1 : 2); g++) {
        groups[g] = cJSON_CreateObject();
        paths[g] = cJSON_AddArrayToObject(groups[g], "paths");
        weights[g] = cJSON_AddArrayToObject(groups[g], "weights");
        cJSON_AddItemToArray(manifest, groups[g]);
    }
    size_t group_floats[2] = {0, 0};
    float *at = data;
    int rc = data ? 0 : -1;
    for (int g = 0; !rc && g < 2; g++)
        for (size_t i = 0; !rc && i < w->count; i++) {
            const rp__tensor *t = &w->tensors[i];
            int is_fc = strncmp(t->name, "fc.", 3) == 0;
            int stem = strncmp(t->name, "conv1.", 6) == 0 || strncmp(t->name, "bn1.", 4) == 0;
            if (stem_only ? (g != 0 || !stem) : is_fc != (g == 1)) continue;
            rc = add_keras(t, weights[g], at);
            at += rp__weights_numel(t);
            group_floats[g] += rp__weights_numel(t);
        }
    size_t sizes[3];
    int n_shards;
    if (stem_only) {
        cJSON_AddItemToArray(paths[0], cJSON_CreateString("s0.bin"));
        sizes[0] = group_floats[0] * 4;
        n_shards = 1;
    } else {
        cJSON_AddItemToArray(paths[0], cJSON_CreateString("s0.bin"));
        cJSON_AddItemToArray(paths[0], cJSON_CreateString("s1.bin"));
        cJSON_AddItemToArray(paths[1], cJSON_CreateString("s2.bin"));
        sizes[0] = group_floats[0] / 2 * 4;
        sizes[1] = group_floats[0] * 4 - sizes[0];
        sizes[2] = group_floats[1] * 4;
        n_shards = 3;
    }
    char *json = rc ? NULL : cJSON_PrintUnformatted(root);
    if (json) { /* the seed must load: completely, or (stem only) up to the ResNet check */
        rp__tfjs_shard shards[3];
        static const char *const names[] = {"s0.bin", "s1.bin", "s2.bin"};
        const uint8_t *p = (const uint8_t *)data;
        for (int k = 0; k < n_shards; k++) {
            shards[k] = (rp__tfjs_shard){names[k], p, sizes[k]};
            p += sizes[k];
        }
        rp__weights *back = NULL;
        int lrc = rp__weights_load_tfjs_memory(name, json, strlen(json), shards, (size_t)n_shards, &back);
        rp__weights_free(back);
        if (lrc != (stem_only ? RP_E_FORMAT : RP_OK)) {
            fprintf(stderr, "%s does not load as expected: %s\n", name, rp_last_error_message());
            rc = -1;
        }
    }
    rc = json && !rc ? tfjs_seed(dir, name, json, (const uint8_t *)data, sizes, n_shards) : -1;
    cJSON_free(json);
    cJSON_Delete(root);
    free(data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    char dir[4096];
    int err = 0;
    rp__weights *tv = small_net(RP_LAYOUT_TORCHVISION, 1), *keras = small_net(RP_LAYOUT_KERAS, 2);
    if (!tv || !keras) {
        fprintf(stderr, "random weights: %s\n", rp_last_error_message());
        return 1;
    }
    err |= make_dir(argv[1], "weights_safetensors", dir, sizeof dir);
    err |= safetensors_seed(dir, "resnet50-d64-torchvision.safetensors", tv);
    err |= safetensors_seed(dir, "resnet50-d64-keras.safetensors", keras);
    {
        /* F16 [2] at 0, BF16 [2] at 4, F64 [1] at 8, F32 [1] at 16, num_batches_tracked I64 at 20 */
        static const uint8_t data[28] = {0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x40, 0, 0, 0, 0, 0, 0,
                                         0xf0, 0x3f, 0x00, 0x00, 0x80, 0x3f, 7, 0, 0, 0, 0, 0, 0, 0};
        err |= raw_safetensors(dir, "dtypes.safetensors",
                               "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                               "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[4,8]},"
                               "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                               "\"f\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[16,20]},"
                               "\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[1],"
                               "\"data_offsets\":[20,28]},"
                               "\"__metadata__\":{\"reconpatch.layout\":\"keras\",\"reconpatch.arch\":\"tiny\"}}",
                               data, sizeof data);
    }
    err |= make_dir(argv[1], "weights_tfjs", dir, sizeof dir);
    err |= tfjs_from_weights(dir, "resnet50-d64-keras.tfjs", keras, 0);
    err |= tfjs_from_weights(dir, "stem-only.tfjs", keras, 1);
    rp__weights_free(tv);
    rp__weights_free(keras);
    if (err) fprintf(stderr, "%s: writing the seeds failed\n", argv[0]);
    return err ? 1 : 0;
}
