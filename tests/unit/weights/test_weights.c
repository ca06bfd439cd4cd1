/* Weight loaders (safetensors, TF.js), random weights, ResNet completeness check, SHA-256.
 * Fixtures and expected values come from tools/gen_weight_fixtures.py (numpy). */
#include <math.h>
#include <stdint.h>

#include "backbone/weights_memory.h"
#include "common/common.h"
#include "weights_test_util.h"

static void value_matches(const char *tensor, long index, double value, void *user)
{
    const rp__weights *w = user;
    const rp__tensor *t = rp__weights_find(w, tensor);
    ck_assert_msg(t != NULL, "tensor %s missing", tensor);
    ck_assert_int_lt(index, (long)rp__weights_numel(t));
    /* expected.txt holds float32 values printed exactly (repr of a double), so compare exactly */
    ck_assert_msg(t->data[index] == (float)value, "%s[%ld] = %.9g, expected %.9g", tensor, index, t->data[index],
                  value);
}

static rp__weights *load_fixture(const char *name)
{
    char path[1024];
    rp__weights *w = NULL;
    int rc = rp__weights_load(fixture(path, sizeof path, name), &w);
    ck_assert_msg(rc == RP_OK, "%s: %s", name, rp_last_error_message());
    ck_assert_ptr_nonnull(w);
    return w;
}

static void assert_sha(const rp__weights *w, const char *file)
{
    char want[80];
    ck_assert_int_eq(expected_lookup(file, "sha256", want, sizeof want), 0);
    ck_assert_str_eq(w->sha256, want);
}

/* Every tensor of a (except fc.*, whose class count differs) is bit-identical in b. */
static void assert_same_as_random(const rp__weights *file, const rp__weights *rnd)
{
    size_t compared = 0;
    for (size_t i = 0; i < file->count; i++) {
        const rp__tensor *t = &file->tensors[i];
        if (strncmp(t->name, "fc.", 3) == 0) continue;
        const rp__tensor *r = rp__weights_find(rnd, t->name);
        ck_assert_msg(r != NULL, "%s missing from random weights", t->name);
        ck_assert_msg(shapes_equal(t, r), "%s shape differs", t->name);
        ck_assert_msg(memcmp(t->data, r->data, rp__weights_numel(t) * sizeof(float)) == 0, "%s values differ",
                      t->name);
        compared++;
    }
    ck_assert_uint_eq(compared, file->count - 2);
}

START_TEST(safetensors_load__torchvision_fixture_equals_python_writer_and_random_generator)
{
    rp__weights *w = load_fixture("r50_tv_d64.safetensors");
    char count[32];
    ck_assert_int_eq(expected_lookup("r50_tv_d64.safetensors", "count", count, sizeof count), 0);
    ck_assert_uint_eq(w->count, strtoul(count, NULL, 10));
    ck_assert_int_eq(w->layout, RP_LAYOUT_TORCHVISION);
    ck_assert_int_eq(w->arch, 0); /* reduced width: not a full network */
    ck_assert_ptr_null(rp__weights_find(w, "conv1.bias"));
    const rp__tensor *c = rp__weights_find(w, "layer2.0.downsample.0.weight");
    ck_assert_int_eq(c->ndim, 4);
    ck_assert_int_eq(c->shape[0], 8);
    ck_assert_int_eq(c->shape[1], 4);
    ck_assert_int_eq(c->shape[2], 1);
    ck_assert_int_gt(expected_values("r50_tv_d64.safetensors", value_matches, w), 2);
    assert_sha(w, "r50_tv_d64.safetensors");
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_OK);

    rp__weights *r;
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 64, 11, &r), RP_OK);
    assert_same_as_random(w, r);
    rp__weights_free(r);
    rp__weights_free(w);
}
END_TEST

START_TEST(safetensors_load__keras_metadata_sets_layout_and_biases_load)
{
    rp__weights *w = load_fixture("r50_keras_d64.safetensors");
    ck_assert_int_eq(w->layout, RP_LAYOUT_KERAS);
    ck_assert_uint_eq(w->count, 320);
    ck_assert_ptr_nonnull(rp__weights_find(w, "layer1.0.downsample.0.bias"));
    ck_assert_int_gt(expected_values("r50_keras_d64.safetensors", value_matches, w), 2);
    assert_sha(w, "r50_keras_d64.safetensors");
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_OK);
    rp__weights *r;
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 64, 12, &r), RP_OK);
    assert_same_as_random(w, r);
    rp__weights_free(r);
    rp__weights_free(w);
}
END_TEST

START_TEST(safetensors_load__converts_f16_bf16_f64_misaligned_f32_and_skips_num_batches_tracked)
{
    rp__weights *w = load_fixture("dtypes.safetensors");
    ck_assert_uint_eq(w->count, 4);
    ck_assert_ptr_null(rp__weights_find(w, "bn1.num_batches_tracked"));
    ck_assert_int_eq(expected_values("dtypes.safetensors", value_matches, w), 5 + 6 + 3 + 4);
    rp__weights_free(w);
}
END_TEST

static const struct bad_case {
    const char *file;
    int code;
    const char *says;
} BAD_SAFETENSORS[] = {
    {"bad_truncated.safetensors", RP_E_FORMAT, "out of range"},
    {"bad_header_length.safetensors", RP_E_FORMAT, "header length"},
    {"bad_short_file.safetensors", RP_E_FORMAT, "neither safetensors"},
    {"bad_offsets_out_of_range.safetensors", RP_E_FORMAT, "out of range"},
    {"bad_overlap.safetensors", RP_E_FORMAT, "overlap"},
    {"bad_dtype_int.safetensors", RP_E_SHAPE, "dtype I32"},
    {"bad_shape_size.safetensors", RP_E_SHAPE, "needs"},
    {"bad_ndim5.safetensors", RP_E_SHAPE, "5 dimensions"},
    {"bad_duplicate_name.safetensors", RP_E_FORMAT, "appears twice"},
    {"bad_json.safetensors", RP_E_FORMAT, "not a JSON object"},
    {"bad_layout.safetensors", RP_E_FORMAT, "reconpatch.layout"},
    {"tfjs/model_missing_shard.json", RP_E_IO, "stem-shard2of2.bin' is missing"},
    {"tfjs/model_truncated_shard.json", RP_E_FORMAT, "stem-short.bin' truncated"},
    {"tfjs/model_wrong_dtype.json", RP_E_SHAPE, "'conv1/bias' has dtype 'int32'"},
    {"tfjs/model_wrong_shape.json", RP_E_SHAPE, "'conv1/kernel' has 3 dimensions, expected 4"},
    {"tfjs/model_missing_tensor.json", RP_E_FORMAT, "'fc.weight' missing"},
    {"tfjs/model_stem_only.json", RP_E_FORMAT, "'layer1.0.conv1.weight' missing"},
};

START_TEST(load__rejects_damaged_file_with_code_and_message)
{
    const struct bad_case *c = &BAD_SAFETENSORS[_i];
    char path[1024];
    rp__weights *w = (rp__weights *)0x1;
    int rc = rp__weights_load(fixture(path, sizeof path, c->file), &w);
    ck_assert_msg(rc == c->code, "%s: got %s (%s)", c->file, rp_error_name(rc), rp_last_error_message());
    ck_assert_ptr_null(w);
    ck_assert_int_eq(rp_last_error_code(), c->code);
    const char *msg = rp_last_error_message();
    ck_assert_msg(strstr(msg, "rp__weights_load") != NULL, "%s", msg);
    ck_assert_msg(strstr(msg, c->file) != NULL, "message does not name the file: %s", msg);
    ck_assert_msg(strstr(msg, c->says) != NULL, "message lacks '%s': %s", c->says, msg);
}
END_TEST

START_TEST(load__rejects_null_arguments_and_missing_file)
{
    rp__weights *w = (rp__weights *)0x1;
    ck_assert_int_eq(rp__weights_load(NULL, &w), RP_E_INVALID_ARG);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(rp__weights_load("x.safetensors", NULL), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__weights_load("/nonexistent/w.safetensors", &w), RP_E_IO);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "/nonexistent/w.safetensors"));
    rp__weights_free(NULL); /* no-op */
}
END_TEST

START_TEST(tfjs_load__maps_keras_names_and_transposes_like_numpy)
{
    rp__weights *tf = load_fixture("tfjs/model.json");
    rp__weights *st = load_fixture("r50_keras_d64.safetensors");
    ck_assert_int_eq(tf->layout, RP_LAYOUT_KERAS);
    ck_assert_int_eq(tf->arch, 0);
    ck_assert_uint_eq(tf->count, st->count);
    for (size_t i = 0; i < st->count; i++) {
        const rp__tensor *want = &st->tensors[i];
        const rp__tensor *got = rp__weights_find(tf, want->name);
        ck_assert_msg(got != NULL, "%s missing from the TF.js load", want->name);
        ck_assert_msg(shapes_equal(got, want), "%s shape differs", want->name);
        ck_assert_msg(memcmp(got->data, want->data, rp__weights_numel(want) * sizeof(float)) == 0,
                      "%s values differ", want->name);
    }
    /* fc [in, out] in Keras became [out, in] */
    const rp__tensor *fc = rp__weights_find(tf, "fc.weight");
    ck_assert_int_eq(fc->shape[0], 10);
    ck_assert_int_eq(fc->shape[1], 32);
    assert_sha(tf, "tfjs/model.json");
    rp__weights_free(st);
    rp__weights_free(tf);
}
END_TEST

static uint8_t *slurp(const char *name, size_t *size)
{
    char path[1024];
    FILE *f = fopen(fixture(path, sizeof path, name), "rb");
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

START_TEST(tfjs_load_memory__same_tensors_and_sha_as_files_and_same_errors)
{
    static const char *const names[] = {"group1-shard1of2.bin", "group1-shard2of2.bin", "group2-shard1of1.bin",
                                        "stem-short.bin"};
    char path[256];
    rp__tfjs_shard shards[4];
    uint8_t *bytes[4];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "tfjs/%s", names[i]);
        bytes[i] = slurp(path, &shards[i].size);
        shards[i].name = names[i];
        shards[i].data = bytes[i];
    }
    size_t json_size;
    uint8_t *json = slurp("tfjs/model.json", &json_size);
    rp__weights *file = load_fixture("tfjs/model.json"), *mem = NULL;
    ck_assert_int_eq(rp__weights_load_tfjs_memory("model.json", json, json_size, shards, 4, &mem), RP_OK);
    ck_assert_str_eq(mem->sha256, file->sha256);
    ck_assert_uint_eq(mem->count, file->count);
    for (size_t i = 0; i < file->count; i++) {
        const rp__tensor *want = &file->tensors[i], *got = rp__weights_find(mem, want->name);
        ck_assert_msg(got != NULL && shapes_equal(got, want), "%s", want->name);
        ck_assert_int_eq(memcmp(got->data, want->data, rp__weights_numel(want) * sizeof(float)), 0);
    }
    rp__weights_free(mem);
    /* a missing shard is named; a truncated one is reported as on disk */
    ck_assert_int_eq(rp__weights_load_tfjs_memory("model.json", json, json_size, shards, 2, &mem), RP_E_IO);
    ck_assert_ptr_null(mem);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "group2-shard1of1.bin' is missing"));
    free(json);
    json = slurp("tfjs/model_truncated_shard.json", &json_size);
    ck_assert_int_eq(rp__weights_load_tfjs_memory("m.json", json, json_size, shards, 4, &mem), RP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "stem-short.bin' truncated"));
    ck_assert_int_eq(rp__weights_load_tfjs_memory("m.json", json, json_size, NULL, 0, &mem), RP_E_IO);
    ck_assert_int_eq(rp__weights_load_tfjs_memory("m.json", NULL, 0, NULL, 0, &mem), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__weights_load_tfjs_memory("m.json", "{", 1, NULL, 0, &mem), RP_E_FORMAT);
    /* a group with weights but no shard; and shapes declaring 6 GB over a 4-byte shard: both
     * refused before any weight buffer is allocated */
    static const char no_shard[] = "{\"weightsManifest\":[{\"paths\":[],\"weights\":[{\"name\":\"conv1/bias\","
                                   "\"shape\":[1],\"dtype\":\"float32\"}]}]}";
    ck_assert_int_eq(rp__weights_load_tfjs_memory("m.json", no_shard, strlen(no_shard), NULL, 0, &mem), RP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "group 0 has no shard"));
    static const char huge[] = "{\"weightsManifest\":[{\"paths\":[\"a.bin\"],\"weights\":[{\"name\":\"conv1/kernel\","
                               "\"shape\":[40000,40000],\"dtype\":\"float32\"}]}]}";
    const rp__tfjs_shard tiny = {"a.bin", "abcd", 4};
    ck_assert_int_eq(rp__weights_load_tfjs_memory("m.json", huge, strlen(huge), &tiny, 1, &mem), RP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "shards hold 4 bytes but its weights need 6400000000"));
    /* two weights that map to one torchvision tensor: both named */
    static const char twice[] = "{\"weightsManifest\":[{\"paths\":[\"a.bin\"],\"weights\":["
                                "{\"name\":\"conv1/bias\",\"shape\":[1],\"dtype\":\"float32\"},"
                                "{\"name\":\"conv1/bias\",\"shape\":[1],\"dtype\":\"float32\"}]}]}";
    const rp__tfjs_shard eight = {"a.bin", "abcdefgh", 8};
    ck_assert_int_eq(rp__weights_load_tfjs_memory("m.json", twice, strlen(twice), &eight, 1, &mem), RP_E_FORMAT);
    ck_assert_ptr_null(mem);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "weights 'conv1/bias' and 'conv1/bias' both map to 'conv1.bias'"));
    free(json);
    for (int i = 0; i < 4; i++) free(bytes[i]);
    rp__weights_free(file);
}
END_TEST

START_TEST(random__same_seed_same_bytes_other_seed_differs)
{
    rp__weights *a, *b, *c;
    ck_assert_int_eq(rp__weights_random(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_TORCHVISION, 4, 42, &a), RP_OK);
    ck_assert_int_eq(rp__weights_random(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_TORCHVISION, 4, 42, &b), RP_OK);
    ck_assert_int_eq(rp__weights_random(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_TORCHVISION, 4, 43, &c), RP_OK);
    ck_assert_uint_eq(a->count, 267);
    size_t differing = 0;
    for (size_t i = 0; i < a->count; i++) {
        size_t bytes = rp__weights_numel(&a->tensors[i]) * sizeof(float);
        ck_assert_str_eq(a->tensors[i].name, b->tensors[i].name);
        ck_assert_int_eq(memcmp(a->tensors[i].data, b->tensors[i].data, bytes), 0);
        differing += memcmp(a->tensors[i].data, c->tensors[i].data, bytes) != 0;
    }
    ck_assert_uint_eq(differing, a->count);
    rp__weights_free(a);
    rp__weights_free(b);
    rp__weights_free(c);
}
END_TEST

START_TEST(random__full_size_shapes_arch_and_init_statistics)
{
    rp__weights *w;
    ck_assert_int_eq(rp__weights_random(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_TORCHVISION, 1, 1, &w), RP_OK);
    ck_assert_int_eq(w->arch, RP_ARCH_WIDE_RESNET50_2);
    ck_assert_int_eq(w->layout, RP_LAYOUT_TORCHVISION);
    ck_assert_str_eq(w->sha256, "");
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_OK);
    const rp__tensor *t = rp__weights_find(w, "layer1.0.conv1.weight");
    ck_assert_int_eq(t->shape[0], 128);
    ck_assert_int_eq(t->shape[1], 64);
    t = rp__weights_find(w, "fc.weight");
    ck_assert_int_eq(t->shape[0], 1000);
    ck_assert_int_eq(t->shape[1], 2048);
    /* Kaiming: std sqrt(2 / fan_in); this wide 3x3 conv has 512*9 inputs and 2.4M weights */
    t = rp__weights_find(w, "layer3.1.conv2.weight");
    double sum = 0, sq = 0, fan_in = 512.0 * 9;
    size_t n = rp__weights_numel(t);
    for (size_t i = 0; i < n; i++) {
        sum += t->data[i];
        sq += (double)t->data[i] * t->data[i];
        ck_assert(fabs(t->data[i]) <= sqrt(6.0 / fan_in) + 1e-7);
    }
    ck_assert_double_eq_tol(sum / n, 0.0, 1e-3);
    ck_assert_double_eq_tol(sqrt(sq / n), sqrt(2.0 / fan_in), 0.01 * sqrt(2.0 / fan_in));
    t = rp__weights_find(w, "layer4.2.bn3.running_var");
    for (size_t i = 0; i < rp__weights_numel(t); i++) ck_assert(t->data[i] >= 0.5f && t->data[i] <= 1.5f);
    rp__weights_free(w);

    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 1, 1, &w), RP_OK);
    ck_assert_int_eq(w->arch, RP_ARCH_RESNET50);
    ck_assert_uint_eq(w->count, 320);
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_OK);
    rp__weights_free(w);
    ck_assert_int_eq(rp__weights_random(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_TORCHVISION, 2, 1, &w), RP_OK);
    ck_assert_int_eq(w->arch, 0);
    rp__weights_free(w);
}
END_TEST

START_TEST(random__rejects_bad_arguments)
{
    rp__weights *w = (rp__weights *)0x1;
    ck_assert_int_eq(rp__weights_random(7, RP_LAYOUT_TORCHVISION, 1, 0, &w), RP_E_INVALID_ARG);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, 9, 1, 0, &w), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 3, 0, &w), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "width_divisor 3"));
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 0, 0, &w), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_KERAS, 1, 0, NULL), RP_E_INVALID_ARG);
}
END_TEST

START_TEST(index__finds_every_tensor_as_a_linear_search_does_and_names_a_duplicate)
{
    rp__weights *w;
    ck_assert_int_eq(rp__weights_random(RP_ARCH_WIDE_RESNET50_2, RP_LAYOUT_KERAS, 16, 9, &w), RP_OK);
    ck_assert_ptr_nonnull(w->by_name_);
    ck_assert_uint_gt(w->count, 300);
    for (size_t i = 0; i < w->count; i++) {
        char name[128];
        ck_assert_ptr_eq(rp__weights_find(w, w->tensors[i].name), &w->tensors[i]);
        /* names just before and after this one, and a prefix of it, are absent */
        snprintf(name, sizeof name, "%s~", w->tensors[i].name);
        ck_assert_ptr_null(rp__weights_find(w, name));
        snprintf(name, sizeof name, "%s", w->tensors[i].name);
        name[strlen(name) - 1]--;
        ck_assert_ptr_null(rp__weights_find(w, name));
        name[strlen(name) - 1] = '\0';
        ck_assert_ptr_null(rp__weights_find(w, name));
    }
    ck_assert_ptr_null(rp__weights_find(w, ""));
    ck_assert_ptr_null(rp__weights_find(w, NULL));
    /* a name given to two tensors: both indices, lower first, and the name in the message */
    char *keep = w->tensors[7].name;
    w->tensors[7].name = w->tensors[200].name;
    size_t dup[2] = {0, 0};
    ck_assert_int_eq(rp__weights_index(w, dup), RP_E_FORMAT);
    ck_assert_uint_eq(dup[0], 7);
    ck_assert_uint_eq(dup[1], 200);
    ck_assert_ptr_null(w->by_name_);
    char want[160];
    snprintf(want, sizeof want, "tensor '%s' appears twice", w->tensors[200].name);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), want));
    ck_assert_ptr_null(rp__weights_find(w, w->tensors[0].name)); /* a failed index finds nothing */
    w->tensors[7].name = keep;
    ck_assert_int_eq(rp__weights_index(w, NULL), RP_OK);
    ck_assert_ptr_eq(rp__weights_find(w, keep), &w->tensors[7]);
    ck_assert_int_eq(rp__weights_index(NULL, NULL), RP_E_INVALID_ARG);
    rp__weights_free(w);
}
END_TEST

START_TEST(check_resnet__names_missing_and_misshaped_tensors)
{
    rp__weights *w;
    ck_assert_int_eq(rp__weights_random(RP_ARCH_RESNET50, RP_LAYOUT_TORCHVISION, 16, 5, &w), RP_OK);
    rp__tensor *t = (rp__tensor *)rp__weights_find(w, "layer3.4.bn2.running_var");
    t->name[0] = 'X'; /* now absent under its real name; a renamed tensor needs a new index */
    ck_assert_int_eq(rp__weights_index(w, NULL), RP_OK);
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "'layer3.4.bn2.running_var' missing"));
    t->name[0] = 'l';
    ck_assert_int_eq(rp__weights_index(w, NULL), RP_OK);
    t = (rp__tensor *)rp__weights_find(w, "layer2.1.conv2.weight");
    t->shape[3] = 1; /* a 3x1 kernel */
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "layer2.1.conv2.weight"));
    t->shape[3] = 3;
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_OK);
    w->layout = RP_LAYOUT_KERAS; /* Keras layout needs conv biases */
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "'conv1.bias' missing"));
    rp__weights_free(w);
}
END_TEST

START_TEST(sha256__matches_fips_180_vectors_in_any_chunking)
{
    static const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char hex[65];
    rp__sha256 s;
    rp__weights_sha256_init(&s);
    ck_assert_int_eq(rp__weights_sha256_hex(&s, hex), RP_OK);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    rp__weights_sha256_init(&s);
    rp__weights_sha256_update(&s, "abc", 3);
    ck_assert_int_eq(rp__weights_sha256_hex(&s, hex), RP_OK);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    for (size_t cut = 0; cut <= strlen(msg); cut += 7) {
        rp__weights_sha256_init(&s);
        rp__weights_sha256_update(&s, msg, cut);
        rp__weights_sha256_update(&s, msg + cut, strlen(msg) - cut);
        ck_assert_int_eq(rp__weights_sha256_hex(&s, hex), RP_OK);
        ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    /* one million 'a' in uneven chunks crosses many block boundaries */
    static char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    rp__weights_sha256_init(&s);
    for (size_t done = 0, k = 1; done < 1000000; k = k % 997 + 1) {
        size_t n = 1000000 - done < k ? 1000000 - done : k;
        rp__weights_sha256_update(&s, chunk, n);
        done += n;
    }
    ck_assert_int_eq(rp__weights_sha256_hex(&s, hex), RP_OK);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256__a_discarded_or_finished_context_gives_an_error_not_a_digest)
{
    char hex[65] = "x";
    rp__sha256 s;
    rp__weights_sha256_init(&s);
    rp__weights_sha256_update(&s, "abc", 3);
    rp__weights_sha256_discard(&s);
    rp__weights_sha256_discard(&s); /* twice is harmless */
    rp__weights_sha256_update(&s, "abc", 3);
    ck_assert_int_eq(rp__weights_sha256_hex(&s, hex), RP_E_INTERNAL);
    ck_assert_str_eq(hex, "");
    rp__weights_sha256_init(&s);
    ck_assert_int_eq(rp__weights_sha256_hex(&s, hex), RP_OK);
    ck_assert_int_eq(rp__weights_sha256_hex(&s, hex), RP_E_INTERNAL); /* already finalised */
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "SHA-256"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, safetensors_load__torchvision_fixture_equals_python_writer_and_random_generator);
    tcase_add_test(tc, safetensors_load__keras_metadata_sets_layout_and_biases_load);
    tcase_add_test(tc, safetensors_load__converts_f16_bf16_f64_misaligned_f32_and_skips_num_batches_tracked);
    tcase_add_loop_test(tc, load__rejects_damaged_file_with_code_and_message, 0,
                        (int)(sizeof BAD_SAFETENSORS / sizeof BAD_SAFETENSORS[0]));
    tcase_add_test(tc, load__rejects_null_arguments_and_missing_file);
    tcase_add_test(tc, tfjs_load__maps_keras_names_and_transposes_like_numpy);
    tcase_add_test(tc, tfjs_load_memory__same_tensors_and_sha_as_files_and_same_errors);
    tcase_add_test(tc, random__same_seed_same_bytes_other_seed_differs);
    tcase_add_test(tc, random__full_size_shapes_arch_and_init_statistics);
    tcase_add_test(tc, random__rejects_bad_arguments);
    tcase_add_test(tc, index__finds_every_tensor_as_a_linear_search_does_and_names_a_duplicate);
    tcase_add_test(tc, check_resnet__names_missing_and_misshaped_tensors);
    tcase_add_test(tc, sha256__matches_fips_180_vectors_in_any_chunking);
    tcase_add_test(tc, sha256__a_discarded_or_finished_context_gives_an_error_not_a_digest);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
