/* Helpers shared by the Check suites. */
#ifndef RP_TEST_H
#define RP_TEST_H

#include <check.h>
#include <dirent.h>
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

static inline int rp_test_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first `cap` PNG files of dir in sorted order, as malloc'd "dir/name" paths in paths[]
 * (the caller frees them); returns how many. A folder that cannot be read fails the test. */
static inline size_t rp_test_list_pngs(const char *dir, char **paths, size_t cap)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    char **names = NULL;
    size_t n = 0, room = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".png") != 0) continue;
        if (n == room) {
            room = room ? 2 * room : 256;
            names = realloc(names, room * sizeof *names);
            ck_assert_ptr_nonnull(names);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, rp_test_cmp_str);
    const size_t kept = n < cap ? n : cap;
    for (size_t i = 0; i < n; i++) {
        if (i < kept) {
            const size_t bytes = strlen(dir) + 1 + strlen(names[i]) + 1;
            paths[i] = malloc(bytes);
            ck_assert_ptr_nonnull(paths[i]);
            snprintf(paths[i], bytes, "%s/%s", dir, names[i]);
        }
        free(names[i]);
    }
    free(names);
    return kept;
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
