/* Helpers shared by the Check suites. */
#ifndef RP_TEST_H
#define RP_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <reconpatch/extractor.h>

/* Exit code that meson counts as "skipped". */
#define RP_TEST_SKIP 77

/* ../shared/data, or NULL (with a message) when this checkout has none beside it. */
static inline const char *rp_test_data_dir(void)
{
    const char *d = getenv("RP_DATA_DIR");
    if (d && access(d, R_OK) == 0) return d;
    return NULL;
}

/* The cached Keras ResNet-50 model.json (`make weights`) written to buf, or NULL after printing why
 * the calling test skips. */
static inline const char *rp_test_weights_path(char *buf, size_t n)
{
    if (rp_default_weights_path(buf, n) == RP_OK) return buf;
    printf("skip: %s\n", rp_last_error_message());
    return NULL;
}

/* Source tree root (for committed goldens under tests/). */
static inline const char *rp_test_source_dir(void)
{
    const char *d = getenv("RP_SOURCE_DIR");
    return d ? d : ".";
}

/* Path buffer helper: snprintf into a static-per-call-site buffer is error-prone; callers pass one. */
static inline const char *rp_test_path(char *buf, size_t n, const char *a, const char *b)
{
    snprintf(buf, n, "%s/%s", a, b);
    return buf;
}

/* Run a suite and return the process exit code (0 ok, 1 failure). */
static inline int rp_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
