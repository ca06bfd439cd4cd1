/* The image module's Check binary: one suite per test file. meson runs each suite as its own test
 * (CK_RUN_SUITE=<suite>) and the whole binary once more under valgrind. */
#include "image_test_util.h"

int main(void)
{
    const char *only = getenv("CK_RUN_SUITE");
    SRunner *sr = srunner_create(image_decode_suite());
    srunner_add_suite(sr, image_bad_input_suite());
    srunner_add_suite(sr, image_pixels_suite());
    srunner_add_suite(sr, image_preprocess_suite());
    srunner_add_suite(sr, image_png_write_suite());
    if (rp_test_data_dir()) {
        srunner_add_suite(sr, image_data_suite());
    } else if (only && !strcmp(only, "data")) {
        printf("skipped: no data directory (RP_DATA_DIR, ../shared/data)\n");
        srunner_free(sr);
        return RP_TEST_SKIP;
    } else {
        printf("note: suite 'data' not run, no data directory (RP_DATA_DIR, ../shared/data)\n");
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
