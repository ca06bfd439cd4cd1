/* Helpers shared by the image test files: reading committed goldens and manifests. */
#ifndef IMAGE_TEST_UTIL_H
#define IMAGE_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_test.h"

/* tests/data/images/<sub>/<name> */
static inline const char *img_golden_path(char *buf, size_t n, const char *sub, const char *name)
{
    snprintf(buf, n, "%s/tests/data/images/%s/%s", rp_test_source_dir(), sub, name);
    return buf;
}

/* Whole file into a malloc'd buffer (NULL if unreadable); *size gets its length. */
static inline uint8_t *img_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *size = (size_t)n;
    return buf;
}

static inline uint8_t *img_read_golden(const char *sub, const char *name, size_t *size)
{
    char path[1024];
    uint8_t *buf = img_read_file(img_golden_path(path, sizeof path, sub, name), size);
    ck_assert_msg(buf != NULL, "cannot read golden %s (run tools/gen_image_goldens.py)", path);
    return buf;
}

/* Find the manifest line whose first word is `key` in tests/data/images/<sub>/manifest.txt and
 * copy it to line. Returns 1 if found. */
static inline int img_manifest_find(const char *sub, const char *key, char *line, size_t n)
{
    char path[1024];
    FILE *f = fopen(img_golden_path(path, sizeof path, sub, "manifest.txt"), "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t klen = strlen(key);
    int found = 0;
    while (fgets(line, (int)n, f)) {
        if (line[0] != '#' && !strncmp(line, key, klen) && line[klen] == ' ') {
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

/* Number of non-comment lines of a manifest. */
static inline int img_manifest_count(const char *sub)
{
    char path[1024], line[512];
    FILE *f = fopen(img_golden_path(path, sizeof path, sub, "manifest.txt"), "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int count = 0;
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && line[0] != '\n') count++;
    fclose(f);
    return count;
}

/* A line of tests/data/images/keep_aspect/manifest.txt: the case, its source (a file beside the
 * manifest, or a path under the data directory), the source size, resize and crop, and the frame
 * and crop offsets torchvision used. */
typedef struct ka_case {
    char name[128], source[256];
    unsigned width, height, resize, crop, frame_w, frame_h, off_x, off_y;
} ka_case;

static inline int ka_parse(const char *line, ka_case *k)
{
    return sscanf(line, "%127s %255s %u %u %u %u %u %u %u %u", k->name, k->source, &k->width, &k->height,
                  &k->resize, &k->crop, &k->frame_w, &k->frame_h, &k->off_x, &k->off_y) == 10;
}

/* The Check suites of this binary (one file each). */
Suite *image_decode_suite(void);
Suite *image_bad_input_suite(void);
Suite *image_pixels_suite(void);
Suite *image_preprocess_suite(void);
Suite *image_png_write_suite(void);
Suite *image_data_suite(void); /* needs ../shared/data */

#endif
