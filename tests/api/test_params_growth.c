/* The params structs can grow without an older library silently ignoring a newer caller's field.
 *
 * A program built against a newer header that appends one uint32_t to a params struct passes a
 * larger struct_size; this library (the "older" one for that program) must refuse the call with
 * RP_E_VERSION when the appended field is set, and accept it when it is zero. The reserved tail
 * fields (reserved0) make sure the appended field cannot hide in tail padding, where struct_size
 * would not change (tests/abi/struct_layout.c asserts no public struct has tail padding); a newer
 * library that gives reserved0 a meaning is refused the same way. */
#include <reconpatch/reconpatch.h>
#include <stddef.h>
#include <string.h>

#include "rp_test.h"

/* What a newer header's struct looks like: the same fields, then one more uint32_t. */
#define NEWER(T)          \
    struct {              \
        T base;           \
        uint32_t appended; \
    }

typedef NEWER(rp_bank_params) newer_bank_params;
typedef NEWER(rp_extractor_params) newer_extractor_params;
typedef NEWER(rp_scorer_params) newer_scorer_params;
typedef NEWER(rp_trainer_params) newer_trainer_params;
/* The appended field sits right after the old fields: no padding to hide it, struct_size grows. */
_Static_assert(offsetof(newer_bank_params, appended) == sizeof(rp_bank_params), "bank params tail");
_Static_assert(offsetof(newer_extractor_params, appended) == sizeof(rp_extractor_params), "extractor params tail");
_Static_assert(offsetof(newer_scorer_params, appended) == sizeof(rp_scorer_params), "scorer params tail");
_Static_assert(offsetof(newer_trainer_params, appended) == sizeof(rp_trainer_params), "trainer params tail");

START_TEST(bank_params__newer_callers_nonzero_field_is_refused)
{
    newer_bank_params big;
    memset(&big, 0, sizeof big);
    ck_assert_int_eq(rp_bank_params_init(&big.base, sizeof big.base), RP_OK);
    big.base.dim = 4;
    big.base.struct_size = sizeof big;
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create(&big.base, &bank), RP_OK); /* zero: the old behaviour */
    rp_bank_free(bank);
    big.appended = 1;
    ck_assert_int_eq(rp_bank_create(&big.base, &bank), RP_E_VERSION);
    ck_assert_ptr_null(bank);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_bank_create: params.struct_size 56 is larger"));
    float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    ck_assert_int_eq(rp_bank_create_frozen(v, 2, 4, &big.base, &bank), RP_E_VERSION);
}
END_TEST

START_TEST(extractor_params__newer_callers_nonzero_field_is_refused_before_loading)
{
    newer_extractor_params big;
    memset(&big, 0, sizeof big);
    ck_assert_int_eq(rp_extractor_params_init(&big.base, sizeof big.base), RP_OK);
    big.base.struct_size = sizeof big;
    big.base.weights_path = "/nonexistent/weights.safetensors";
    rp_extractor *e = NULL;
    /* zero: accepted, so the call goes on and fails on the missing file */
    ck_assert_int_eq(rp_extractor_create(&big.base, &e), RP_E_IO);
    big.appended = 3;
    ck_assert_int_eq(rp_extractor_create(&big.base, &e), RP_E_VERSION);
    ck_assert_ptr_null(e);
    big.appended = 0;
    big.base.reserved0 = 2;
    ck_assert_int_eq(rp_extractor_create(&big.base, &e), RP_E_VERSION);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_extractor_create: params.reserved0 is 2"));
}
END_TEST

START_TEST(scorer_params__newer_callers_nonzero_field_is_refused)
{
    float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(v, 2, 4, NULL, &bank), RP_OK);
    newer_scorer_params big;
    memset(&big, 0, sizeof big);
    ck_assert_int_eq(rp_scorer_params_init(&big.base, sizeof big.base), RP_OK);
    big.base.struct_size = sizeof big;
    big.base.grid_size = 1;
    big.base.input_size = 8;
    big.base.no_crop = 1;
    rp_scorer *s = NULL;
    ck_assert_msg(rp_scorer_create(NULL, NULL, bank, &big.base, &s) == RP_OK, "%s", rp_last_error_message());
    rp_scorer_free(s);
    big.appended = 1;
    ck_assert_int_eq(rp_scorer_create(NULL, NULL, bank, &big.base, &s), RP_E_VERSION);
    ck_assert_ptr_null(s);
    rp_bank_free(bank);
}
END_TEST

START_TEST(trainer_params__newer_callers_nonzero_field_is_refused)
{
    newer_trainer_params big;
    memset(&big, 0, sizeof big);
    ck_assert_int_eq(rp_trainer_params_init(&big.base, sizeof big.base), RP_OK);
    big.base.struct_size = sizeof big;
    rp_trainer *t = NULL;
    ck_assert_msg(rp_trainer_create(&big.base, &t) == RP_OK, "%s", rp_last_error_message());
    rp_trainer_free(t);
    big.appended = 1;
    ck_assert_int_eq(rp_trainer_create(&big.base, &t), RP_E_VERSION);
    ck_assert_ptr_null(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("params_growth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, bank_params__newer_callers_nonzero_field_is_refused);
    tcase_add_test(tc, extractor_params__newer_callers_nonzero_field_is_refused_before_loading);
    tcase_add_test(tc, scorer_params__newer_callers_nonzero_field_is_refused);
    tcase_add_test(tc, trainer_params__newer_callers_nonzero_field_is_refused);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
