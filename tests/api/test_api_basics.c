/* Public API conventions, through the public header and the shared library only. */
#include <reconpatch/reconpatch.h>
#include <pthread.h>
#include <stdint.h>

#include "rp_test.h"

START_TEST(version__matches_header_macros)
{
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", RP_VERSION_MAJOR, RP_VERSION_MINOR, RP_VERSION_PATCH);
    ck_assert_str_eq(rp_version_string(), expect);
    ck_assert_uint_eq(rp_version_number(), RP_VERSION_NUMBER);
}
END_TEST

START_TEST(error_names__cover_every_code)
{
    ck_assert_str_eq(rp_error_name(RP_OK), "RP_OK");
    ck_assert_str_eq(rp_error_name(RP_E_FORMAT), "RP_E_FORMAT");
    ck_assert_str_eq(rp_error_name(RP_E_INTERNAL), "RP_E_INTERNAL");
    ck_assert_str_eq(rp_error_name(12345), "RP_E_UNKNOWN");
    ck_assert_str_eq(rp_error_name(RP_E_DIVERGED), "RP_E_DIVERGED");
    for (int c = RP_E_DIVERGED; c < 0; c++) ck_assert_str_ne(rp_error_name(c), "RP_E_UNKNOWN");
}
END_TEST

START_TEST(last_error__set_by_failure_and_cleared_by_next_call)
{
    rp_image *img = (rp_image *)0x1;
    ck_assert_int_eq(rp_image_load_file(NULL, NULL, &img), RP_E_INVALID_ARG);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(rp_last_error_code(), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_image_load_file"));
    uint8_t px[4] = {1, 2, 3, 4};
    ck_assert_int_eq(rp_image_from_pixels(px, 2, 2, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    ck_assert_int_eq(rp_last_error_code(), RP_OK);
    ck_assert_str_eq(rp_last_error_message(), "");
    rp_image_free(img);
}
END_TEST

static void *thread_fail(void *arg)
{
    (void)arg;
    rp_image *img;
    rp_image_load_file("/nonexistent/x.png", NULL, &img);
    return (void *)(intptr_t)rp_last_error_code();
}

START_TEST(last_error__is_thread_local)
{
    uint8_t px[1] = {0};
    rp_image *img;
    ck_assert_int_eq(rp_image_from_pixels(px, 1, 1, 0, RP_PIXEL_GRAY8, &img), RP_OK);
    pthread_t t;
    pthread_create(&t, NULL, thread_fail, NULL);
    void *ret;
    pthread_join(t, &ret);
    ck_assert_int_eq((int)(intptr_t)ret, RP_E_IO);
    ck_assert_int_eq(rp_last_error_code(), RP_OK); /* this thread's state is untouched */
    rp_image_free(img);
}
END_TEST

START_TEST(params__reject_unknown_nonzero_tail)
{
    struct {
        rp_image_load_params p;
        uint64_t future_field;
    } big;
    ck_assert_int_eq(rp_image_load_params_init(&big.p, sizeof big.p), RP_OK);
    big.p.struct_size = sizeof big;
    big.future_field = 0;
    uint8_t png_magic_only[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    rp_image *img;
    /* a zero tail is accepted (the call then fails on the data, not on the params) */
    ck_assert_int_eq(rp_image_load_memory(png_magic_only, sizeof png_magic_only, &big.p, &img), RP_E_FORMAT);
    big.future_field = 7;
    ck_assert_int_eq(rp_image_load_memory(png_magic_only, sizeof png_magic_only, &big.p, &img), RP_E_VERSION);
    ck_assert_ptr_null(img);
}
END_TEST

static int log_calls;
static void count_log(int32_t level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    *(int *)ud += 1;
}

START_TEST(log_callback__receives_debug_messages)
{
    log_calls = 0;
    rp_set_log_callback(count_log, RP_LOG_DEBUG, &log_calls);
    rp_image *img;
    rp_image_load_file("/nonexistent/y.png", NULL, &img);
    rp_set_log_callback(NULL, 0, NULL);
    ck_assert_int_gt(log_calls, 0);
}
END_TEST

START_TEST(free__accepts_null)
{
    rp_image_free(NULL);
    rp_extractor_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_basics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version__matches_header_macros);
    tcase_add_test(tc, error_names__cover_every_code);
    tcase_add_test(tc, last_error__set_by_failure_and_cleared_by_next_call);
    tcase_add_test(tc, params__reject_unknown_nonzero_tail);
    tcase_add_test(tc, log_callback__receives_debug_messages);
    tcase_add_test(tc, free__accepts_null);
    suite_add_tcase(s, tc);
    /* Threads at once on one object: the case make check-tsan runs (CK_RUN_CASE=concurrency). */
    TCase *conc = tcase_create("concurrency");
    tcase_add_test(conc, last_error__is_thread_local);
    suite_add_tcase(s, conc);
    return rp_test_run(s);
}
