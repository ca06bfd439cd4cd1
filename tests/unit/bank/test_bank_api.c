/* rp_bank states, shapes and argument checks. */
#include <math.h>
#include <reconpatch/bank.h>

#include "bank_test_data.h"
#include "rp_test.h"

static rp_bank *open_bank(uint32_t dim)
{
    rp_bank_params p;
    ck_assert_int_eq(rp_bank_params_init(&p, sizeof p), RP_OK);
    p.dim = dim;
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_OK);
    return bank;
}

START_TEST(bank_add__rejects_after_freeze)
{
    float *v = bank_test_vectors(30, 4, 1, 0);
    rp_bank *bank = open_bank(4);
    ck_assert_int_eq(rp_bank_add(bank, v, 30, 4), RP_OK);
    ck_assert_int_eq(rp_bank_freeze(bank, NULL, NULL), RP_OK);
    ck_assert_int_eq(rp_bank_add(bank, v, 1, 4), RP_E_STATE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_bank_add"));
    ck_assert_int_eq(rp_bank_freeze(bank, NULL, NULL), RP_E_STATE);
    ck_assert_uint_eq(rp_bank_size(bank), 3);
    rp_bank_free(bank);
    free(v);
}
END_TEST

START_TEST(bank_add__rejects_dim_mismatch)
{
    float v[8] = {0};
    rp_bank *bank = open_bank(4);
    ck_assert_int_eq(rp_bank_add(bank, v, 1, 8), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "dim 8 != bank dim 4"));
    ck_assert_uint_eq(rp_bank_size(bank), 0);
    rp_bank_free(bank);
}
END_TEST

START_TEST(bank_add__rejects_non_finite_and_keeps_bank_unchanged)
{
    float v[8] = {1, 2, 3, 4, 5, NAN, 7, 8};
    rp_bank *bank = open_bank(4);
    ck_assert_int_eq(rp_bank_add(bank, v, 1, 4), RP_OK);
    ck_assert_int_eq(rp_bank_add(bank, v, 2, 4), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "vector 1, element 1"));
    ck_assert_uint_eq(rp_bank_size(bank), 1);
    ck_assert_int_eq(rp_bank_add(bank, NULL, 0, 4), RP_OK); /* count 0 is a no-op */
    ck_assert_int_eq(rp_bank_add(bank, NULL, 2, 4), RP_E_INVALID_ARG);
    rp_bank_free(bank);
}
END_TEST

START_TEST(bank_add__many_small_adds_keep_every_vector_in_order)
{
    const uint32_t dim = 12;
    float *v = bank_test_vectors(37 * 500, dim, 2, 0);
    rp_bank *bank = open_bank(dim);
    for (int i = 0; i < 500; i++) ck_assert_int_eq(rp_bank_add(bank, v + (size_t)i * 37 * dim, 37, dim), RP_OK);
    ck_assert_uint_eq(rp_bank_size(bank), 37 * 500);
    float *back = malloc((size_t)37 * 500 * dim * sizeof(float));
    ck_assert_int_eq(rp_bank_get_vectors(bank, back, (size_t)37 * 500 * dim - 1), RP_E_SHAPE);
    ck_assert_int_eq(rp_bank_get_vectors(bank, back, (size_t)37 * 500 * dim), RP_OK);
    ck_assert_int_eq(memcmp(back, v, (size_t)37 * 500 * dim * sizeof(float)), 0);
    free(back);
    free(v);
    rp_bank_free(bank);
}
END_TEST

START_TEST(bank_search__rejects_before_freeze_and_bad_k)
{
    float v[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, d[4];
    uint64_t i[4];
    rp_bank *bank = open_bank(4);
    ck_assert_int_eq(rp_bank_add(bank, v, 3, 4), RP_OK);
    ck_assert_int_eq(rp_bank_search(bank, v, rp_bank_dim(bank), 1, 1, d, 1, i, 1), RP_E_STATE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "not frozen"));
    uint64_t sel[3];
    ck_assert_int_eq(rp_bank_get_selection(bank, sel, 3), RP_E_STATE);
    rp_bank_free(bank);

    ck_assert_int_eq(rp_bank_create_frozen(v, 3, 4, NULL, &bank), RP_OK);
    ck_assert_int_eq(rp_bank_search(bank, v, rp_bank_dim(bank), 1, 0, d, 0, i, 0), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_bank_search(bank, v, rp_bank_dim(bank), 1, 4, d, 4, i, 4), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "k 4"));
    ck_assert_int_eq(rp_bank_search(bank, NULL, rp_bank_dim(bank), 1, 1, d, 1, i, 1), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_bank_search(bank, v, rp_bank_dim(bank), 1, 3, d, 3, i, 3), RP_OK);
    ck_assert_uint_eq(i[0], 0);
    ck_assert_float_eq_tol(d[1], 8.0f, 1e-6); /* |(4,5,6,7) - (0,1,2,3)| = 8 */
    ck_assert_float_eq_tol(d[2], 16.0f, 1e-6);
    ck_assert_int_eq(rp_bank_get_selection(bank, sel, 3), RP_OK);
    ck_assert_uint_eq(sel[2], 2);
    rp_bank_free(bank);
}
END_TEST

/* Every buffer is checked against its size before anything is written, and a refused call
 * leaves the caller's outputs as they were. */
START_TEST(bank_search__checks_every_size_and_leaves_outputs_untouched_on_failure)
{
    float v[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, d[6];
    uint64_t i[6];
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(v, 3, 4, NULL, &bank), RP_OK);
    for (int j = 0; j < 6; j++) d[j] = -7.0f, i[j] = 99;
    /* 2 queries of dim 4 are 8 floats: 7 (over-read) and 12 (a wrong count) are refused */
    ck_assert_int_eq(rp_bank_search(bank, v, 7, 2, 3, d, 6, i, 6), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_bank_search: queries holds 7 floats, 2 queries x dim 4 need 8"));
    ck_assert_int_eq(rp_bank_search(bank, v, 12, 2, 3, d, 6, i, 6), RP_E_SHAPE);
    ck_assert_int_eq(rp_bank_search(bank, v, 8, 2, 3, d, 5, i, 6), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "distances_out holds 5 floats, 2 queries x k 3 need 6"));
    ck_assert_int_eq(rp_bank_search(bank, v, 8, 2, 3, d, 6, i, 5), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "indices_out holds 5 indices, 2 queries x k 3 need 6"));
    float bad_q[8] = {0, 1, 2, 3, 4, 5, NAN, 7};
    ck_assert_int_eq(rp_bank_search(bank, bad_q, 8, 2, 3, d, 6, i, 6), RP_E_INVALID_ARG);
    for (int j = 0; j < 6; j++) {
        ck_assert_float_eq(d[j], -7.0f);
        ck_assert_uint_eq(i[j], 99);
    }
    /* the exact sizes work; a NULL output needs no capacity */
    ck_assert_int_eq(rp_bank_search(bank, v, 8, 2, 3, d, 6, NULL, 0), RP_OK);
    ck_assert_float_eq_tol(d[1], 8.0f, 1e-6);
    ck_assert_float_eq_tol(d[3], 0.0f, 1e-6); /* query 1 is bank row 1 */
    rp_bank_free(bank);
}
END_TEST

/* NULL params: all defaults, and the first add sets the dim (a failed first add does not). */
START_TEST(bank_create__null_params_take_the_dim_of_the_first_add)
{
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create(NULL, &bank), RP_OK);
    ck_assert_uint_eq(rp_bank_dim(bank), 0);
    float v[6] = {0, 1, 2, 3, 4, NAN};
    ck_assert_int_eq(rp_bank_add(bank, v, 2, 3), RP_E_INVALID_ARG); /* non-finite: nothing set */
    ck_assert_uint_eq(rp_bank_dim(bank), 0);
    ck_assert_int_eq(rp_bank_add(bank, v, 1, 0), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_bank_add(bank, v, 1, 3), RP_OK);
    ck_assert_uint_eq(rp_bank_dim(bank), 3);
    ck_assert_int_eq(rp_bank_add(bank, v, 1, 2), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_bank_add: dim 2 != bank dim 3"));
    ck_assert_int_eq(rp_bank_freeze(bank, NULL, NULL), RP_OK);
    float d;
    uint64_t i;
    ck_assert_int_eq(rp_bank_search(bank, v, 3, 1, 1, &d, 1, &i, 1), RP_OK);
    ck_assert_float_eq(d, 0.0f);
    rp_bank_free(bank);
}
END_TEST

START_TEST(bank_create__checks_params)
{
    rp_bank *bank = (rp_bank *)0x1;
    rp_bank_params p;
    ck_assert_int_eq(rp_bank_params_init(&p, sizeof p), RP_OK);
    ck_assert_uint_eq(p.struct_size, sizeof p);
    p.dim = (1u << 20) + 1;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_E_INVALID_ARG);
    ck_assert_ptr_null(bank);
    p.dim = 8;
    p.coreset_ratio = 1.5;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "coreset_ratio 1.5"));
    p.coreset_ratio = NAN;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_E_INVALID_ARG);
    p.coreset_ratio = -0.1;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_bank_create(&p, NULL), RP_E_INVALID_ARG);
    p.coreset_ratio = 0;
    p.struct_size = 0;
    ck_assert_int_eq(rp_bank_create(&p, &bank), RP_E_INVALID_ARG);
}
END_TEST

START_TEST(bank_create_frozen__checks_shape_and_keeps_vectors)
{
    float *v = bank_test_vectors(10, 6, 3, 0);
    rp_bank_params p;
    rp_bank_params_init(&p, sizeof p);
    p.dim = 5;
    rp_bank *bank = (rp_bank *)0x1;
    ck_assert_int_eq(rp_bank_create_frozen(v, 10, 6, &p, &bank), RP_E_SHAPE);
    ck_assert_ptr_null(bank);
    ck_assert_int_eq(rp_bank_create_frozen(v, 0, 6, NULL, &bank), RP_E_INVALID_ARG);
    p.dim = 6;
    ck_assert_int_eq(rp_bank_create_frozen(v, 10, 6, &p, &bank), RP_OK);
    ck_assert_uint_eq(rp_bank_size(bank), 10);
    ck_assert_uint_eq(rp_bank_dim(bank), 6);
    float back[60];
    ck_assert_int_eq(rp_bank_get_vectors(bank, back, 60), RP_OK);
    ck_assert_int_eq(memcmp(back, v, sizeof back), 0);
    ck_assert_int_eq(rp_bank_add(bank, v, 1, 6), RP_E_STATE);
    rp_bank_free(bank);
    free(v);
}
END_TEST

START_TEST(bank_freeze__rejects_empty_bank)
{
    rp_bank *bank = open_bank(3);
    ck_assert_int_eq(rp_bank_freeze(bank, NULL, NULL), RP_E_STATE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "empty"));
    rp_bank_free(bank);
    rp_bank_free(NULL);
    ck_assert_uint_eq(rp_bank_size(NULL), 0);
    ck_assert_int_eq(rp_bank_is_frozen(NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bank_api");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, bank_add__rejects_after_freeze);
    tcase_add_test(tc, bank_add__rejects_dim_mismatch);
    tcase_add_test(tc, bank_add__rejects_non_finite_and_keeps_bank_unchanged);
    tcase_add_test(tc, bank_add__many_small_adds_keep_every_vector_in_order);
    tcase_add_test(tc, bank_search__rejects_before_freeze_and_bad_k);
    tcase_add_test(tc, bank_search__checks_every_size_and_leaves_outputs_untouched_on_failure);
    tcase_add_test(tc, bank_create__checks_params);
    tcase_add_test(tc, bank_create__null_params_take_the_dim_of_the_first_add);
    tcase_add_test(tc, bank_create_frozen__checks_shape_and_keeps_vectors);
    tcase_add_test(tc, bank_freeze__rejects_empty_bank);
    suite_add_tcase(s, tc);
    return rp_test_run(s);
}
